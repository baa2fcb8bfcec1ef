"""The capture benchmark (``benchmarks/bench_jit.py``, run by bench_gpu.py on a GPU), run here
on a small epoch with the NumPy backend standing in for CuPy (``td.jit`` then calls the step)
and no PyTorch CUDA peer: its rows, and the summary that states the targets."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def bench_jit(monkeypatch):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_jit
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    for name, value in (("ROWS", 1100), ("STEPS", 4), ("BIG_BATCH", 64), ("BACKEND", "numpy")):
        monkeypatch.setattr(bench_jit, name, value)
    return bench_jit


def test_rows_and_summary_on_a_stand_in_backend(bench_jit, capsys, monkeypatch):
    epochs = []
    real_epoch = bench_jit.ours_epoch

    def counted(jitted):
        run = real_epoch(jitted)
        return lambda: epochs.append(jitted) or run()

    monkeypatch.setattr(bench_jit, "ours_epoch", counted)
    rows, notes = bench_jit.collect(True, None, lambda: None)
    assert [(r["case"], r["impl"], r["unit"]) for r in rows] == [
        ("MLP epoch (4 steps of 256)", "tinygrad_drop", "s"),
        ("MLP epoch (4 steps of 256)", "tinygrad_drop jit", "s"),
        ("MLP step batch 64", "tinygrad_drop", "ms"),
        ("MLP step batch 64", "tinygrad_drop jit", "ms")]
    assert all(0 < r["min"] <= r["median"] <= r["max"] for r in rows)
    assert epochs.count(True) >= 2 + 3 + 3  # two warm-ups, three timing warm-ups, 3 repeats
    assert notes == {"failed": {}, "kernels": {}}
    bench_jit.print_summary(rows, notes)
    out = capsys.readouterr().out
    jit_epoch = rows[1]["median"]
    assert "ours/pytorch eager n/a (target <= 0.5x)" in out
    assert f"epoch jit: {jit_epoch:.3f} s (target <= 0.05 s)" in out


def test_a_peer_that_fails_is_reported_and_left_out(bench_jit, capsys):
    def broken(jitted):
        if jitted:
            raise RuntimeError("no capture here")
        return lambda: None

    built, failed = bench_jit.peers(None, broken, None)
    assert list(built) == ["tinygrad_drop"]
    assert failed == {"tinygrad_drop jit": "RuntimeError: no capture here"}
    bench_jit.print_summary([], {"failed": {"epoch: tinygrad_drop jit": "RuntimeError: x"},
                                 "kernels": {}})
    assert "FAILED epoch: tinygrad_drop jit: RuntimeError: x" in capsys.readouterr().out
