"""Vanilla vs inverted dropout keep training and inference on the same scale; vanilla dropout
without its inference-time scaling does not.

A 3-layer network (10 -> 64 -> 64 -> 1, ReLU, dropout 0.5 after each hidden layer) is trained
with each mode on 1 000 000 random inputs to fit a random teacher. Then the mean output over
the inputs is measured with dropout sampling (training mode) and in inference mode.

    python examples/vanilla_vs_inverted.py [--samples 1000000] [--epochs 2]
"""

import argparse

import numpy as np

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from tinygrad_drop import Tensor, nn, optim


def network(mode: str, p: float = 0.5) -> nn.Sequential:
    """The founding 3-layer network with dropout in the given mode."""
    return nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Dropout(p, mode=mode),
                         nn.Linear(64, 64), nn.ReLU(), nn.Dropout(p, mode=mode),
                         nn.Linear(64, 1))


def teacher_data(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (n, 10)).astype(np.float32)
    y = 1.0 + np.tanh(x @ rng.normal(size=10))[:, None]
    return x, y.astype(np.float32)


def train(model: nn.Module, x: np.ndarray, y: np.ndarray, epochs: int, batch: int = 1000) -> None:
    opt = optim.Adam(model.parameters(), lr=3e-3)
    order_rng = np.random.default_rng(1)
    model.train()
    for _ in range(epochs):
        for rows in np.array_split(order_rng.permutation(len(x)), len(x) // batch):
            opt.zero_grad()
            F.mse_loss(model(Tensor(x[rows])), Tensor(y[rows])).backward()
            opt.step()


@td.no_grad()
def output_mean(model: nn.Module, x: np.ndarray, training: bool) -> float:
    """Mean network output over every input, with dropout sampling or in inference mode."""
    model.train(training)
    return sum(model(Tensor(chunk)).sum().item() for chunk in np.array_split(x, 10)) / len(x)


def main(samples: int = 1_000_000, epochs: int = 2) -> dict[str, tuple[float, float]]:
    """Train both modes and print train-mode vs inference-mode output means."""
    td.manual_seed(0)
    x, y = teacher_data(samples)
    results = {}
    for mode in ("inverted", "vanilla"):
        model = network(mode)
        train(model, x, y, epochs)
        results[mode] = (output_mean(model, x, True), output_mean(model, x, False))
        if mode == "vanilla":  # the mistake: drop at training time, forget to scale at inference
            for layer in model.modules():
                if isinstance(layer, nn.Dropout):
                    layer.mode = "inverted"  # inverted inference is the identity
            results["vanilla, no inference scaling"] = (results["vanilla"][0],
                                                        output_mean(model, x, False))
    print(f"{samples} inputs, target mean {y.mean():.4f}")
    print(f"{'model':32s} {'train-mode mean':>16s} {'inference mean':>15s} {'ratio':>7s}")
    for name, (train_mean, inference_mean) in results.items():
        print(f"{name:32s} {train_mean:16.4f} {inference_mean:15.4f} "
              f"{inference_mean / train_mean:7.3f}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    main(args.samples, args.epochs)
