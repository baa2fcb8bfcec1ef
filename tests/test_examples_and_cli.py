"""The examples learn what they claim; the command line reports versions and backends."""

import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest

import tinygrad_drop as td

ROOT = pathlib.Path(__file__).resolve().parent.parent


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_mlp_learns_the_spirals_on_the_chosen_backend(backend, monkeypatch, capsys):
    monkeypatch.setenv("TINYGRAD_DROP_BACKEND", backend)
    accuracy = load_example("tiny_mlp").main(epochs=600)
    assert accuracy >= 0.95
    assert f"backend: {backend}" in capsys.readouterr().out


@pytest.mark.parametrize("command", [["tinygrad-drop"], [sys.executable, "-m", "tinygrad_drop"]])
def test_info_lists_version_and_backends_with_reasons(command):
    env = dict(os.environ, TINYGRAD_DROP_BACKEND="strict")
    result = subprocess.run([*command, "info"], capture_output=True, text=True, env=env,
                            check=True)
    out = result.stdout
    assert f"tinygrad_drop {td.__version__}" in out and "default backend: strict" in out
    assert "numpy    available" in out and "strict   available" in out
    for name, reason in td.backends.unavailable().items():
        assert f"{name:8s} unavailable: {reason}" in out


def test_cli_without_a_command_shows_usage():
    result = subprocess.run([sys.executable, "-m", "tinygrad_drop"], capture_output=True,
                            text=True)
    assert result.returncode == 2 and "usage: tinygrad-drop" in result.stderr


def test_readme_ten_line_example_runs(capsys):
    text = (ROOT / "README.md").read_text()
    block = text.split("## Ten lines", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert len(block.strip().splitlines()) <= 10
    exec(compile(block, "README.md", "exec"), {})
    printed = capsys.readouterr().out.split()
    assert float(printed[0]) >= 0.0 and printed[1:3] == ["(2,", "3)"]


def test_vanilla_and_inverted_keep_train_and_inference_means_together(backend, monkeypatch):
    monkeypatch.setenv("TINYGRAD_DROP_BACKEND", backend)
    results = load_example("vanilla_vs_inverted").main(samples=50_000, epochs=3)
    for mode in ("inverted", "vanilla"):
        train_mean, inference_mean = results[mode]
        assert abs(inference_mean / train_mean - 1) < 0.05, mode
    train_mean, unscaled = results["vanilla, no inference scaling"]
    assert unscaled / train_mean > 1.2


def test_mc_dropout_spread_grows_away_from_the_data(backend, monkeypatch, tmp_path):
    monkeypatch.setenv("TINYGRAD_DROP_BACKEND", backend)
    picture = tmp_path / "mc.png"
    spread = load_example("mc_dropout").main(out=str(picture))
    data, gap, beyond = spread.values()
    assert data < gap and data < beyond
    pytest.importorskip("matplotlib")
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
