"""The examples learn what they claim; the command line reports versions and backends."""

import importlib.util
import math
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


# the console script of the environment running the tests (a venv's bin/ need not be on PATH)
SCRIPT = os.path.join(os.path.dirname(sys.executable), "tinygrad-drop")


@pytest.mark.parametrize("command", [[SCRIPT], [sys.executable, "-m", "tinygrad_drop"]])
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


REAL_FASHION = pathlib.Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture
def generated_fashion(tmp_path, monkeypatch):
    from idx_files import write_dataset
    write_dataset(tmp_path / "fashion-mnist", n_train=3000, n_test=300)
    monkeypatch.setenv("TINYGRAD_DROP_DATA", str(tmp_path))


def test_d2l_example_learns_from_scratch_and_concisely(generated_fashion, capsys):
    results = load_example("d2l_dropout_mlp").main(epochs=3)
    assert list(results) == ["from scratch", "nn.Sequential"]
    for accuracies in results.values():
        assert len(accuracies) == 3 and accuracies[-1] > 0.9  # the generated classes are easy
    assert "test accuracy per epoch" in capsys.readouterr().out


def test_keep_prob_example_shows_the_two_spellings_and_the_mix_up(capsys):
    fractions = list(load_example("keep_prob_vs_rate").main(n=200_000).values())
    sd = math.sqrt(0.16 / 200_000)
    assert abs(fractions[0] - 0.2) < 5 * sd and fractions[0] == fractions[1]
    assert abs(fractions[2] - 0.8) < 5 * sd
    assert "identical element by element: True" in capsys.readouterr().out


def test_overfitting_example_writes_both_curves(generated_fashion, tmp_path):
    picture = tmp_path / "curves.png"
    results = load_example("overfitting_curves").main(images=300, epochs=3, out=str(picture))
    assert [r["config"]["name"] for r in results] == ["no dropout", "dropout 0.2,0.5"]
    assert all(len(r["history"]) == 3 for r in results)
    pytest.importorskip("matplotlib")
    assert picture.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.skipif(not REAL_FASHION.is_dir(), reason="needs Debian's dataset-fashion-mnist")
def test_on_real_data_dropout_keeps_the_test_loss_from_running_away(monkeypatch):
    monkeypatch.delenv("TINYGRAD_DROP_DATA", raising=False)
    plain, dropout = load_example("overfitting_curves").main(out=None)
    assert plain["history"][-1]["train_accuracy"] > 0.97  # memorised its 1 000 images
    assert dropout["history"][-1]["test_loss"] < plain["history"][-1]["test_loss"]
    gap = [r["history"][-1]["train_accuracy"] - r["history"][-1]["test_accuracy"]
           for r in (plain, dropout)]
    assert gap[1] < gap[0]


def test_cli_gradcheck_passes_every_op_and_reports_a_broken_one(backend, capsys, monkeypatch):
    from tinygrad_drop import cli
    from tinygrad_drop.ops.activation import Sigmoid

    assert cli.main(["gradcheck", "--backend", backend]) == 0
    out = capsys.readouterr().out
    checked = cli.gradcheck_cases(backend)
    assert len(checked) >= 12 and "all gradients agree" in out
    assert [line[7:] for line in out.splitlines() if line.startswith("  ok   ")] == list(checked)
    monkeypatch.setattr(Sigmoid, "backward", lambda self, g: (g * 0.5,))
    assert cli.main(["gradcheck", "--backend", backend]) == 1
    out = capsys.readouterr().out
    assert "  FAIL sigmoid" in out and "1 op(s) disagree" in out


def test_cli_bench_needs_the_repository_benchmarks(tmp_path, monkeypatch, capsys):
    from tinygrad_drop import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli.os.path, "isfile", lambda path: False)
    assert cli.main(["bench", "--quick"]) == 1
    assert "run it from a clone" in capsys.readouterr().err


def test_gpu_benchmark_skips_cleanly_and_says_why_without_a_gpu():
    ok, reason = td.backends.is_available("cupy")
    if ok:
        pytest.skip("a GPU is present: bench_gpu runs for real (see the README's GPU figures)")
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_gpu.py")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout == ""
    assert result.stderr.strip() == f"bench_gpu: skipped: {reason}"


def test_gpu_cnn_benchmark_reports_the_step_and_the_epoch_it_implies(monkeypatch):
    """bench_gpu's CNN rows, run here with the NumPy backend standing in for CuPy and no
    PyTorch peer: one step row and an epoch row of 469 steps per repeat."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_cnn
        import bench_gpu
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    steps = []
    real_step = bench_cnn.ours_step
    monkeypatch.setattr(bench_cnn, "ours_step",
                        lambda size, backend: steps.append((size, backend))
                        or real_step(8, backend="numpy"))
    monkeypatch.setattr(bench_gpu, "torch_cuda", lambda: None)
    monkeypatch.setattr(bench_gpu, "synchronize", lambda: None)
    rows = bench_gpu.collect_cnn(quick=True)
    assert steps == [(128, "cupy")]
    step, epoch = rows
    assert step["impl"] == epoch["impl"] == "tinygrad_drop" and step["unit"] == "ms"
    assert epoch["unit"] == "s" and epoch["case"] == "seed CNN epoch (469 steps)"
    for key in ("median", "min", "max"):
        assert epoch[key] == pytest.approx(469 * step[key] / 1000)
