"""The seed's CNN trained in PyTorch exactly as ``tinygrad-drop compare --model cnn`` trains it,
for the accuracy comparison of issue 15: the same images (the first ``--limit`` training images
of Fashion-MNIST), the same batches in the same order (our DataLoader, seed 0), the same initial
weights (``td.models.cnn()`` after ``td.manual_seed(0)``, loaded into ``torch.nn``), Adadelta with
the seed's lr 1.0, rho 0.95, eps 1e-7, batch 128, 12 epochs; only the dropout masks come from
PyTorch's generator. Measured after every epoch as the CLI measures: accuracy on the first
10 000 training images and on the 10 000 test images, in inference mode.

    python benchmarks/cnn_accuracy.py [--epochs 12] [--limit N] [--ours out/compare.json]
                                      [--json torch_cnn.json]

With ``--ours`` (the JSON ``compare --model cnn`` wrote) it prints both libraries' last-epoch
accuracies per run and their differences in points.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_cnn  # noqa: E402

RUNS = (("no dropout", (0.0, 0.0)), ("dropout 0.25,0.5", (0.25, 0.5)))
SEED, BATCH, TRAIN_EVAL = 0, 128, 10_000
ADADELTA = bench_cnn.KERAS  # the seed's Adadelta settings


def torch_cnn(rates: tuple[float, float]):
    """torch.nn's copy of ``td.models.cnn(rates)``, starting from its initial weights."""
    import torch

    import tinygrad_drop as td
    from tinygrad_drop import models

    td.manual_seed(SEED)  # what experiment.run does before it builds the model
    ours = models.cnn(rates)
    net = bench_cnn.torch_cnn(rates)
    net.load_state_dict({k: torch.from_numpy(np.array(v))
                         for k, v in ours.state_dict().items()})
    return net


def accuracy(net, x: np.ndarray, y: np.ndarray) -> float:
    """Inference-mode accuracy, in batches of the training batch size."""
    import torch

    net.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(x), BATCH):
            logits = net(torch.from_numpy(x[start:start + BATCH]).reshape(-1, 1, 28, 28))
            correct += int((logits.argmax(1).numpy() == y[start:start + BATCH]).sum())
    return correct / len(x)


def train(name: str, rates: tuple[float, float], arrays: tuple, epochs: int) -> dict:
    """One run: per-epoch train and test accuracy and seconds of training."""
    import torch

    from tinygrad_drop.data import DataLoader

    x, y, x_test, y_test = arrays
    torch.manual_seed(SEED)
    net = torch_cnn(rates)
    opt = torch.optim.Adadelta(net.parameters(), **ADADELTA)
    loader = DataLoader(x, y, BATCH, shuffle=True, seed=SEED)  # the CLI's batch order
    history = []
    for epoch in range(1, epochs + 1):
        net.train()
        started = time.perf_counter()
        for xb, yb in loader:
            xb = torch.from_numpy(xb.numpy()).reshape(-1, 1, 28, 28)
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(xb), torch.from_numpy(yb.numpy())).backward()
            opt.step()
        seconds = time.perf_counter() - started
        record = {"epoch": epoch, "seconds": seconds,
                  "train_accuracy": accuracy(net, x[:TRAIN_EVAL], y[:TRAIN_EVAL]),
                  "test_accuracy": accuracy(net, x_test, y_test)}
        print(f"pytorch {name:18s} {epoch:3d}  train {record['train_accuracy']:.4f}  "
              f"test {record['test_accuracy']:.4f}  {seconds:6.1f} s", flush=True)
        history.append(record)
    return {"name": name, "history": history}


def compare(torch_runs: list[dict], ours_path: str) -> None:
    """Last-epoch accuracies of both libraries per run, and the differences in points."""
    with open(ours_path) as f:
        ours = {r["config"]["name"]: r["history"][-1] for r in json.load(f)}
    print(f"\n{'run':18s} {'test acc: ours':>15s} {'pytorch':>8s} {'diff (pts)':>10s}"
          f" {'train acc: ours':>16s} {'pytorch':>8s}")
    for run in torch_runs:
        mine, theirs = ours.get(run["name"]), run["history"][-1]
        if mine is None:
            print(f"{run['name']:18s} (not in {ours_path})")
            continue
        diff = 100 * (mine["test_accuracy"] - theirs["test_accuracy"])
        print(f"{run['name']:18s} {mine['test_accuracy']:15.4f} {theirs['test_accuracy']:8.4f}"
              f" {diff:+10.2f} {mine['train_accuracy']:16.4f} {theirs['train_accuracy']:8.4f}")


def main(argv: list[str] | None = None) -> list[dict]:
    """Train both runs in PyTorch; print per-epoch figures and, given ``--ours``, the
    comparison."""
    import torch

    from tinygrad_drop import experiment

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ours", help="compare.json written by compare --model cnn")
    parser.add_argument("--json", help="write the PyTorch runs here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    arrays = experiment.load(args.dataset, args.limit)
    print(f"pytorch {torch.__version__}, {args.threads} threads; {len(arrays[0])} training "
          f"images, batch {BATCH}, Adadelta {ADADELTA}, {args.epochs} epochs", flush=True)
    runs = [train(name, rates, arrays, args.epochs) for name, rates in RUNS]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(runs, f, indent=1)
    if args.ours:
        compare(runs, args.ours)
    return runs


if __name__ == "__main__":
    main()
