"""Framework overhead per op: ``(a*b + c).relu().sum()`` and its backward on 4x4 tensors.

At this size the arithmetic is negligible, so the time is the cost of recording and walking the
graph. Prints microseconds per iteration (median and min-max over repeats) for tinygrad_drop and,
when installed, PyTorch CPU measured in the same run, and their ratio; then the cost per op of
recording (the forward alone, over its 4 ops) and of backward (the whole step less the forward,
over the same 4 ops).

    python benchmarks/bench_overhead.py [--repeats 7] [--number 2000]
"""

from __future__ import annotations

import argparse
import statistics
import timeit

import numpy as np
from common import report_peers

import tinygrad_drop as td

OPS = 4  # mul, add, relu, sum


def ours(backend: str, backward: bool = True):
    """The step on tinygrad_drop (without ``backward``: the forward alone)."""
    rng = np.random.default_rng(0)
    a, b, c = (td.Tensor(rng.standard_normal((4, 4)), dtype="float32", backend=backend,
                         requires_grad=True) for _ in range(3))

    def step():
        (a * b + c).relu().sum().backward()

    def forward():
        (a * b + c).relu().sum()
    return step if backward else forward


def pytorch(backward: bool = True):
    """The step on PyTorch CPU, one thread (without ``backward``: the forward alone)."""
    import torch

    torch.set_num_threads(1)
    a, b, c = (torch.randn(4, 4, requires_grad=True) for _ in range(3))

    def step():
        (a * b + c).relu().sum().backward()

    def forward():
        (a * b + c).relu().sum()
    return step if backward else forward


def measure(step, repeats: int, number: int) -> list[float]:
    """Microseconds per call, one figure per repeat."""
    step()
    return [t / number * 1e6 for t in timeit.repeat(step, repeat=repeats, number=number)]


def collect(quick: bool = False) -> list[dict]:
    """Rows for the runner: microseconds per (a*b + c).relu().sum() + backward, each peer."""
    repeats, number = (5, 1000) if quick else (9, 2000)
    peers = {"tinygrad_drop": ours("numpy")}
    try:
        peers["pytorch cpu"] = pytorch()
    except ImportError:
        pass
    times: dict[str, list[float]] = {name: [] for name in peers}
    for _ in range(repeats):  # peers in turn within each repeat: drift hits them alike
        for name, step in peers.items():
            times[name] += measure(step, 1, number)
    return [dict(benchmark="overhead", case="(a*b + c).relu().sum() + backward, 4x4",
                 impl=name, unit="us", median=statistics.median(t), min=min(t), max=max(t))
            for name, t in times.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--backend", default="numpy")
    args = parser.parse_args()
    makers = {f"tinygrad_drop ({args.backend})": lambda backward: ours(args.backend, backward)}
    try:
        import torch  # noqa: F401
        makers["pytorch cpu"] = pytorch
    except ImportError:
        print("(PyTorch not installed: no comparison)")
    steps = {name: measure(make(True), args.repeats, args.number)
             for name, make in makers.items()}
    report_peers("(a*b + c).relu().sum() + backward, 4x4", steps, "us")
    print(f"per op (median over {OPS} ops): record = forward / {OPS}, "
          f"backward = (step - forward) / {OPS}")
    for name, make in makers.items():
        forward = statistics.median(measure(make(False), args.repeats, args.number))
        step = statistics.median(steps[name])
        print(f"  {name:24s} record {forward / OPS:6.2f} us  backward "
              f"{(step - forward) / OPS:6.2f} us")


if __name__ == "__main__":
    main()
