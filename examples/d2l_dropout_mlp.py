"""Dropout from scratch, then concisely: the classic MLP 784-256-256-10 on Fashion-MNIST.

Part 1 writes the network by hand (weights ~ N(0, 0.01), F.dropout after each hidden layer
with 0.2 near the input and 0.5 deeper, active only while training). Part 2 builds the same
network with nn.Sequential. Both train with SGD (lr 0.5, batch 256) and report test accuracy.

    python examples/d2l_dropout_mlp.py [--epochs 10] [--limit N]
"""

import argparse

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from tinygrad_drop import Tensor, data, experiment, nn, optim


class ScratchMLP:
    """Parameters as plain tensors; dropout applied by hand, only in training."""

    def __init__(self, sizes=(784, 256, 256, 10), rates=(0.2, 0.5)):
        self.rates, self.training = rates, True
        self.params = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            w = nn.init.normal_(Tensor.zeros(fan_in, fan_out, requires_grad=True), std=0.01)
            self.params += [w, Tensor.zeros(fan_out, requires_grad=True)]

    def __call__(self, x):
        w1, b1, w2, b2, w3, b3 = self.params
        h1 = F.dropout((x @ w1 + b1).relu(), self.rates[0], self.training)
        h2 = F.dropout((h1 @ w2 + b2).relu(), self.rates[1], self.training)
        return h2 @ w3 + b3


def set_training(net, training):
    """nn.Module.train() switches every Dropout layer; the scratch net has a flag."""
    net.train(training) if isinstance(net, nn.Module) else setattr(net, "training", training)


def train(net, params, arrays, epochs):
    """Plain SGD; returns the test accuracy after each epoch."""
    x, y, x_test, y_test = arrays
    opt = optim.SGD(params, lr=0.5)
    loader = data.DataLoader(x, y, 256, seed=0)
    accuracies = []
    for _ in range(epochs):
        set_training(net, True)
        for xb, yb in loader:
            opt.zero_grad()
            F.cross_entropy(net(xb), yb).backward()
            opt.step()
        set_training(net, False)
        with td.no_grad():
            predicted = net(Tensor(x_test)).numpy().argmax(axis=1)
        accuracies.append(float((predicted == y_test).mean()))
    return accuracies


def main(epochs: int = 10, limit: int | None = None) -> dict[str, list[float]]:
    """Train both versions and print their test accuracy per epoch."""
    arrays = experiment.load("fashion-mnist", limit)
    td.manual_seed(0)
    scratch = ScratchMLP()
    results = {"from scratch": train(scratch, scratch.params, arrays, epochs)}
    td.manual_seed(0)
    concise = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.2),
                            nn.Linear(256, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 10))
    for layer in concise:
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, std=0.01)
    results["nn.Sequential"] = train(concise, list(concise.parameters()), arrays, epochs)
    for name, accuracies in results.items():
        print(f"{name:14s} test accuracy per epoch: {' '.join(f'{a:.3f}' for a in accuracies)}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    main(args.epochs, args.limit)
