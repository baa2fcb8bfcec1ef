"""`bench` says which peer is missing and why, once before the run and once after the table
(issue 17); with PyTorch installed it says nothing of the kind."""

import builtins
import json
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
ROW = dict(benchmark="mlp", case="batch 256", impl="tinygrad_drop", median=1.0, min=0.9,
           max=1.1, unit="ms")


@pytest.fixture
def runner(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import run
    monkeypatch.setattr(run, "collect", lambda quick: [dict(ROW)])  # no benchmark runs
    return run


def without_torch(monkeypatch):
    real_import = builtins.__import__

    def refuse_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError("No module named 'torch'", name="torch")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", refuse_torch)
    monkeypatch.delitem(sys.modules, "torch", raising=False)


LINE = ("bench: PyTorch rows and the targets against PyTorch left out: No module named "
        "'torch' (pip install torch to measure against it)")


def test_without_torch_the_missing_peer_is_named_with_the_reason(runner, monkeypatch,
                                                                  tmp_path, capsys):
    without_torch(monkeypatch)
    out_file = tmp_path / "results.json"
    monkeypatch.setattr(sys, "argv", ["run.py", "--json", str(out_file)])
    runner.main()
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [LINE]
    assert captured.out.splitlines().count(LINE) == 1 and "PyTorch 2" not in captured.out
    assert json.loads(out_file.read_text())["missing_peers"] == {
        "PyTorch": "No module named 'torch' (pip install torch to measure against it)"}


def test_with_torch_nothing_is_said_of_missing_peers(runner, monkeypatch, tmp_path, capsys):
    pytest.importorskip("torch")
    out_file = tmp_path / "results.json"
    monkeypatch.setattr(sys, "argv", ["run.py", "--json", str(out_file)])
    runner.main()
    captured = capsys.readouterr()
    assert "left out" not in captured.out + captured.err and "PyTorch" in captured.out
    assert json.loads(out_file.read_text())["missing_peers"] == {}
