"""Batchnorm forward + backward on a 256x256 float32 batch (training mode), tinygrad_drop vs
PyTorch CPU in the same run, microseconds per call.

    python benchmarks/bench_bn.py
"""

from __future__ import annotations

import statistics
import timeit

import numpy as np
from common import report_peers


def measure(step, number: int = 2000, repeats: int = 7) -> list[float]:
    step()
    return [t / number * 1e6 for t in timeit.repeat(step, number=number, repeat=repeats)]


def ours(x_np: np.ndarray, g_np: np.ndarray):
    from tinygrad_drop import Tensor, nn

    bn = nn.BatchNorm1d(x_np.shape[1])
    x, g = Tensor(x_np, requires_grad=True), Tensor(g_np)

    def step():
        x.grad = bn.weight.grad = bn.bias.grad = None
        bn(x).backward(g)
    return step


def pytorch(x_np: np.ndarray, g_np: np.ndarray):
    import torch

    bn = torch.nn.BatchNorm1d(x_np.shape[1])
    x, g = torch.from_numpy(x_np.copy()).requires_grad_(True), torch.from_numpy(g_np)

    def step():
        x.grad = bn.weight.grad = bn.bias.grad = None
        bn(x).backward(g)
    return step


def collect(quick: bool = False) -> list[dict]:
    """Rows for the runner: microseconds per batchnorm forward+backward, each peer."""
    rng = np.random.default_rng(0)
    x, g = (rng.standard_normal((256, 256), dtype=np.float32) for _ in range(2))
    peers = {"tinygrad_drop": ours(x, g)}
    try:
        peers["pytorch cpu"] = pytorch(x, g)
    except ImportError:
        pass
    times: dict[str, list[float]] = {name: [] for name in peers}
    for _ in range(5 if quick else 9):
        for name, step in peers.items():
            times[name] += measure(step, number=500, repeats=1)
    return [dict(benchmark="batchnorm", case="forward+backward 256x256, training",
                 impl=name, unit="us", median=statistics.median(t), min=min(t), max=max(t))
            for name, t in times.items()]


def main() -> dict[str, list[float]]:
    rng = np.random.default_rng(0)
    x, g = (rng.standard_normal((256, 256), dtype=np.float32) for _ in range(2))
    rows = {"tinygrad_drop (numpy)": measure(ours(x, g))}
    try:
        rows["pytorch cpu"] = measure(pytorch(x, g))
    except ImportError:
        print("(PyTorch not installed: no comparison)")
    report_peers("batchnorm forward+backward, 256x256 float32, training mode", rows, "us")
    return rows


if __name__ == "__main__":
    main()
