"""Seconds per training epoch of the founding setup (MLP 784-256-256-10, ReLU, dropout 0.2/0.5,
softmax cross-entropy, SGD lr 0.5, batch 256, float32, Fashion-MNIST's 60 000 images or random
data of the same shape) for tinygrad_drop and, when installed, PyTorch CPU, in the same run.

    python benchmarks/bench_mlp.py [--epochs 3] [--bn] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np


def training_data(synthetic: bool) -> tuple[np.ndarray, np.ndarray, str]:
    if not synthetic:
        try:
            from tinygrad_drop import data
            x, y = data.fashion_mnist("train", download=False)
            return x, y, "Fashion-MNIST"
        except FileNotFoundError:
            pass
    rng = np.random.default_rng(0)
    return (rng.random((60_000, 784), dtype=np.float32), rng.integers(0, 10, 60_000),
            "random data")


def ours(x: np.ndarray, y: np.ndarray, epochs: int, bn: bool) -> list[float]:
    import tinygrad_drop as td
    import tinygrad_drop.nn.functional as F
    from tinygrad_drop import data, models, optim

    td.manual_seed(0)
    model = models.mlp(batchnorm=bn)
    opt = optim.SGD(model.parameters(), lr=0.5)
    loader = data.DataLoader(x, y, 256, shuffle=True, seed=0)
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        for xb, yb in loader:
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
        times.append(time.perf_counter() - start)
    return times


def pytorch(x: np.ndarray, y: np.ndarray, epochs: int, bn: bool) -> list[float]:
    import torch
    from torch import nn

    torch.manual_seed(0)
    layers = [nn.Linear(784, 256)] + ([nn.BatchNorm1d(256)] if bn else []) + [
        nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 256)] + (
        [nn.BatchNorm1d(256)] if bn else []) + [nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 10)]
    model = nn.Sequential(*layers)
    for layer in model:
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.zeros_(layer.bias)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    rng = np.random.default_rng(0)
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        order = rng.permutation(len(x))
        for i in range(0, len(x), 256):
            rows = torch.from_numpy(np.sort(order[i:i + 256]))
            opt.zero_grad()
            nn.functional.cross_entropy(model(xt[rows]), yt[rows]).backward()
            opt.step()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--bn", action="store_true", help="batchnorm after each hidden layer")
    parser.add_argument("--synthetic", action="store_true", help="random data, even if the "
                        "real data is present")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    x, y, source = training_data(args.synthetic)
    rows = {"tinygrad_drop (numpy)": ours(x, y, args.epochs, args.bn)}
    try:
        rows["pytorch cpu"] = pytorch(x, y, args.epochs, args.bn)
    except ImportError:
        print("(PyTorch not installed: no comparison)")
    print(f"seconds per epoch, {source}, {len(x)} images, batch 256"
          f"{', batchnorm' if args.bn else ''} ({args.epochs} epochs)")
    for name, times in rows.items():
        print(f"  {name:24s} median {statistics.median(times):6.3f} s  "
              f"(min {min(times):.3f}, max {max(times):.3f})")
    if len(rows) == 2:
        ours_s, torch_s = (statistics.median(t) for t in rows.values())
        print(f"  ratio tinygrad_drop / pytorch: {ours_s / torch_s:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"source": source, "bn": args.bn, "seconds": rows}, f, indent=1)


if __name__ == "__main__":
    main()
