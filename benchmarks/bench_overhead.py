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


def in_turn(peers: dict[str, object], repeats: int, number: int) -> dict[str, list[float]]:
    """Microseconds per call of each peer, ``repeats`` figures each, the peers measured in turn
    within each repeat so that machine drift hits them alike."""
    for step in peers.values():
        step()
    times: dict[str, list[float]] = {name: [] for name in peers}
    for _ in range(repeats):
        for name, step in peers.items():
            times[name].append(timeit.timeit(step, number=number) / number * 1e6)
    return times


def collect(quick: bool = False) -> list[dict]:
    """Rows for the runner: microseconds per (a*b + c).relu().sum() + backward, each peer."""
    repeats, number = (5, 1000) if quick else (9, 2000)
    peers = {"tinygrad_drop": ours("numpy")}
    try:
        peers["pytorch cpu"] = pytorch()
    except ImportError:
        pass
    return [dict(benchmark="overhead", case="(a*b + c).relu().sum() + backward, 4x4",
                 impl=name, unit="us", median=statistics.median(t), min=min(t), max=max(t))
            for name, t in in_turn(peers, repeats, number).items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--backend", default="numpy")
    args = parser.parse_args()
    ours_name = f"tinygrad_drop ({args.backend})"
    steps, forwards = {ours_name: ours(args.backend)}, {ours_name: ours(args.backend, False)}
    try:
        steps["pytorch cpu"], forwards["pytorch cpu"] = pytorch(), pytorch(False)
    except ImportError:
        print("(PyTorch not installed: no comparison)")
    step_times = in_turn(steps, args.repeats, args.number)
    report_peers("(a*b + c).relu().sum() + backward, 4x4", step_times, "us")
    forward_times = in_turn(forwards, args.repeats, args.number)
    print(f"per op (medians, {OPS} ops): record = forward / {OPS}, "
          f"backward = (step - forward) / {OPS}")
    for name, times in forward_times.items():
        forward, step = statistics.median(times), statistics.median(step_times[name])
        print(f"  {name:24s} record {forward / OPS:6.2f} us  backward "
              f"{(step - forward) / OPS:6.2f} us")


if __name__ == "__main__":
    main()
