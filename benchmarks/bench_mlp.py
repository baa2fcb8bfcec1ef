"""The reference training step: MLP 784-256-256-10, ReLU, dropout 0.2/0.5, softmax cross-entropy,
SGD, float32; with and without batchnorm, batch 256 and 4096. Peers, timed in turn within each
repeat so that machine drift hits them alike: tinygrad_drop, the hand-written NumPy floor
(benchmarks/numpy_floor.py) and PyTorch CPU; ours and the floor run again in a child process
that never imports torch (allocation behaviour differs).

    python benchmarks/bench_mlp.py [--quick] [--json out.json]
    python benchmarks/bench_mlp.py --epoch      # seconds per epoch on Fashion-MNIST instead
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import report_peers  # noqa: E402
from numpy_floor import NumpyFloorMLP  # noqa: E402

CASES = [(256, False), (256, True), (4096, False), (4096, True)]


def batch(size: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((size, 784), dtype=np.float32), rng.integers(0, 10, size)


def ours_trainer(bn: bool, backend: str | None = None):
    """A fresh tinygrad_drop model and optimizer on ``backend``; returns step(x, y) on
    Tensors."""
    import tinygrad_drop.nn.functional as F
    from tinygrad_drop import manual_seed, models, optim

    manual_seed(0)
    # founding init: weights N(0, 0.01), zero biases
    model = models.mlp(batchnorm=bn, backend=backend)
    opt = optim.SGD(model.parameters(), lr=0.5)

    def step(x, y):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def torch_trainer(bn: bool, device: str = "cpu"):
    """The same model in PyTorch on ``device``, with the same initialisation; returns
    step(x, y)."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    norm = (lambda: [nn.BatchNorm1d(256)]) if bn else (lambda: [])
    model = nn.Sequential(nn.Linear(784, 256), *norm(), nn.ReLU(), nn.Dropout(0.2),
                          nn.Linear(256, 256), *norm(), nn.ReLU(), nn.Dropout(0.5),
                          nn.Linear(256, 10))
    for layer in model:
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.zeros_(layer.bias)
    model.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)

    def step(x, y):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def ours_step(size: int, bn: bool, backend: str | None = None):
    from tinygrad_drop import Tensor

    step = ours_trainer(bn, backend)
    x, y = (Tensor(a, backend=backend) for a in batch(size))
    return lambda: step(x, y)


def torch_step(size: int, bn: bool, device: str = "cpu"):
    import torch

    step = torch_trainer(bn, device)
    x, y = (torch.from_numpy(a).to(device) for a in batch(size))
    return lambda: step(x, y)


def floor_step(size: int, bn: bool):
    net = NumpyFloorMLP(size, bn)
    x, y = batch(size)
    return lambda: net.step(x, y)


def interleaved(peers: dict, repeats: int, seconds: float = 0.2,
                synchronize=lambda: None) -> dict[str, list[float]]:
    """Milliseconds per step for each peer; every repeat times each peer once, in turn.
    ``synchronize`` waits for queued device work (GPU peers): it brackets each timed run."""
    numbers = {}
    for name, step in peers.items():
        for _ in range(3):
            step()
        synchronize()
        start = time.perf_counter()
        step()
        synchronize()
        numbers[name] = max(1, int(seconds / max(time.perf_counter() - start, 1e-6)))
    times: dict[str, list[float]] = {name: [] for name in peers}
    for _ in range(repeats):
        for name, step in peers.items():
            synchronize()
            start = time.perf_counter()
            for _ in range(numbers[name]):
                step()
            synchronize()
            times[name].append((time.perf_counter() - start) / numbers[name] * 1e3)
    return times


def collect(quick: bool = False, with_torch: bool = True) -> list[dict]:
    """One row per (case, implementation): median and min-max milliseconds per step."""
    repeats = 3 if quick else 7
    rows = []
    try:
        import torch  # noqa: F401
        have_torch = with_torch
    except ImportError:
        have_torch = False
    for size, bn in CASES:
        peers = {"tinygrad_drop": ours_step(size, bn), "numpy floor": floor_step(size, bn)}
        if have_torch:
            peers["pytorch cpu"] = torch_step(size, bn)
        for name, times in interleaved(peers, repeats).items():
            rows.append(dict(benchmark="mlp step", case=f"batch {size}{' + bn' if bn else ''}",
                             impl=name, unit="ms", median=statistics.median(times),
                             min=min(times), max=max(times)))
    return rows


def collect_without_torch(quick: bool = False) -> list[dict]:
    """Ours and the floor, measured in a child process that never imports torch."""
    here = os.path.dirname(os.path.abspath(__file__))
    code = (f"import json, sys; sys.path.insert(0, {here!r}); import bench_mlp; "
            f"print(json.dumps(bench_mlp.collect({quick!r}, with_torch=False)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    rows = json.loads(out.strip().splitlines()[-1])
    for row in rows:
        row["impl"] += " (no torch)"
    return rows


def epoch_times(epochs: int) -> None:
    """Seconds per training epoch on Fashion-MNIST (random data when absent), both frameworks,
    the same shuffled batch order for each, epochs taken in turn."""
    from tinygrad_drop import Tensor, data

    try:
        x, y = data.fashion_mnist("train", download=False)
        source = "Fashion-MNIST"
    except FileNotFoundError:
        x, y = batch(60_000)
        source = "random data"
    order_rng = np.random.default_rng(0)
    orders = [order_rng.permutation(len(x)) for _ in range(epochs)]
    peers = {"tinygrad_drop": (Tensor, ours_trainer(False))}
    try:
        import torch
        peers["pytorch cpu"] = (torch.from_numpy, torch_trainer(False))
    except ImportError:
        pass
    results: dict[str, list[float]] = {name: [] for name in peers}
    for order in orders:
        for name, (wrap, step) in peers.items():
            start = time.perf_counter()
            for i in range(0, len(x), 256):
                rows = np.sort(order[i:i + 256])
                step(wrap(x[rows]), wrap(y[rows]))
            results[name].append(time.perf_counter() - start)
    report_peers(f"seconds per epoch, {source}, {len(x)} images, batch 256 ({epochs} epochs)",
                 results, "s")


def print_table(rows: list[dict]) -> None:
    """The step table with the ratios the targets are stated in."""
    print(f"{'case':16s} {'implementation':28s} {'median ms':>9s} {'min-max':>15s}")
    for r in rows:
        print(f"{r['case']:16s} {r['impl']:28s} {r['median']:9.3f} "
              f"{r['min']:7.3f}-{r['max']:<7.3f}")
    for case in dict.fromkeys(r["case"] for r in rows):
        by = {r["impl"]: r["median"] for r in rows if r["case"] == case}
        parts = [f"ours/floor {by['tinygrad_drop'] / by['numpy floor']:.2f}x"]
        if "pytorch cpu" in by:
            parts.append(f"ours/pytorch {by['tinygrad_drop'] / by['pytorch cpu']:.2f}x")
        if "tinygrad_drop (no torch)" in by:
            parts.append("no torch: ours/floor "
                         f"{by['tinygrad_drop (no torch)'] / by['numpy floor (no torch)']:.2f}x")
        print(f"  {case}: " + ", ".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--epoch", action="store_true", help="seconds per epoch instead")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    if args.epoch:
        epoch_times(args.epochs)
        return
    rows = collect(args.quick) + collect_without_torch(args.quick)
    print_table(rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
