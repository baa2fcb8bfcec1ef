"""What the CNN examples share: the data, the seed's CNN at any width, the seed's Adadelta, a
training run that measures train and test accuracy, and a plain-text table.

The network is always the seed's layout (``td.models.cnn``): 0 conv, 1 relu, 2 conv, 3 relu,
4 maxpool, 5 dropout, 6 flatten, 7 linear, 8 relu, 9 dropout, 10 linear. At the seed's widths
(32, 64 channels, 128 hidden units) it *is* ``td.models.cnn()``; narrower widths
(``td.models.cnn(widths=...)``) train several times faster on a CPU.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from statistics import fmean
from typing import Any

import tinygrad_drop as td
import tinygrad_drop.data  # noqa: F401  (the DataLoader)
import tinygrad_drop.nn.functional as F
from tinygrad_drop import experiment, models, nn, optim, training

SEED_WIDTHS = (32, 64, 128)  # conv1 channels, conv2 channels, hidden units of the dense layer
CONV_SLOT, HEAD_SLOT = 5, 9  # where td.models.cnn keeps its two dropout layers


def load(dataset: str, train_images: int, test_images: int | None = None) -> tuple[Any, ...]:
    """(x_train, y_train, x_test, y_test) as host arrays: the first ``train_images`` training
    images and the first ``test_images`` test images (None: all 10 000)."""
    x, y, x_test, y_test = experiment.load(dataset, train_images)
    return x, y, x_test[:test_images], y_test[:test_images]


def conv_net(widths: tuple[int, int, int] = SEED_WIDTHS, conv_dropout: float = 0.0,
             head_dropout: float = 0.0, *, spatial: bool = False) -> models.CNN:
    """The seed's CNN with ``widths`` = (conv1 channels, conv2 channels, hidden units):
    ``conv_dropout`` after the convolutional block (index 5, element-wise ``nn.Dropout``, or
    whole channels with ``nn.Dropout2d`` when ``spatial``), ``head_dropout`` between the two
    dense layers (index 9). A rate of 0 leaves ``nn.Identity`` in the slot, as models.cnn does."""
    model = models.cnn((conv_dropout, head_dropout), widths=widths)
    if spatial and conv_dropout:
        model[CONV_SLOT] = nn.Dropout2d(conv_dropout)
    return model


def adadelta(model: nn.Module, weight_decay: float = 0.0) -> optim.Adadelta:
    """The seed's optimizer: Keras's ``Adadelta()`` (lr 1.0, rho 0.95, eps 1e-7); a
    ``weight_decay`` adds L2's gradient ``weight_decay * w``."""
    return optim.Adadelta(model.parameters(), lr=1.0, rho=0.95, eps=1e-7,
                          weight_decay=weight_decay)


def train(model: nn.Module, optimizer: optim.Optimizer, arrays: tuple[Any, ...], epochs: int,
          *, batch_size: int = 128, seed: int = 0) -> dict[str, Any]:
    """Train with shuffled mini-batches (the order fixed by ``seed``), then measure the loss
    and accuracy in inference mode on the training images and on the test images. Returns
    those four figures, the per-epoch history of ``training.fit`` and the seconds taken."""
    x, y, x_test, y_test = arrays
    td.manual_seed(seed)  # the dropout masks
    loader = td.data.DataLoader(x, y, batch_size, shuffle=True, seed=seed)
    started = time.perf_counter()
    history = training.fit(model, optimizer, F.cross_entropy, loader, epochs)
    seconds = time.perf_counter() - started
    train_loss, train_accuracy = experiment.evaluate(model, x, y, chunk=256)
    test_loss, test_accuracy = experiment.evaluate(model, x_test, y_test, chunk=256)
    return {"train_loss": train_loss, "train_accuracy": train_accuracy,
            "test_loss": test_loss, "test_accuracy": test_accuracy,
            "history": history, "seconds": seconds}


def fresh_copy(model: nn.Module, state: dict[str, Any]) -> nn.Module:
    """``model`` with the weights of ``state`` (a state_dict): the same starting point for
    every run of a comparison."""
    model.load_state_dict(state)
    return model


def compare(variants: dict[str, Callable[[], nn.Module]], arrays: tuple[Any, ...],
            epochs: int, seeds: int = 1, **train_options: Any) -> dict[str, dict[str, list]]:
    """Train each variant (name -> a function building the model) once per seed 0, 1, ...;
    within a seed every variant starts from the same weights (the first variant's) and sees
    the same mini-batches. Returns name -> the per-seed train and test accuracies."""
    results: dict[str, dict[str, list]] = {name: {"train_accuracy": [], "test_accuracy": []}
                                           for name in variants}
    for seed in range(seeds):
        td.manual_seed(seed)
        initial = None
        for name, build in variants.items():
            model = build()
            initial = model.state_dict() if initial is None else initial
            model.load_state_dict(initial)
            run = train(model, adadelta(model), arrays, epochs, seed=seed, **train_options)
            for key in ("train_accuracy", "test_accuracy"):
                results[name][key].append(run[key])
    return results


def accuracy_table(results: dict[str, dict[str, list]], first_header: str) -> str:
    """The table of ``compare``'s results: mean train and test accuracy over the seeds, the
    lowest and highest test accuracy, the mean train-test gap, and the lowest and highest
    difference in test accuracy from the first row's run of the same seed (same initial
    weights and batches: paired, so the seeds' common luck cancels)."""
    baseline = next(iter(results.values()))["test_accuracy"]
    rows = []
    for name, runs in results.items():
        train_acc, test_acc = fmean(runs["train_accuracy"]), fmean(runs["test_accuracy"])
        paired = [a - b for a, b in zip(runs["test_accuracy"], baseline, strict=True)]
        rows.append([name, train_acc, test_acc, min(runs["test_accuracy"]),
                     max(runs["test_accuracy"]), train_acc - test_acc,
                     f"{min(paired):+.4f} {max(paired):+.4f}"])
    return table([first_header, "train acc", "test acc", "test min", "test max", "gap",
                  "vs row 1, per seed"], rows)


def widths_argument(text: str) -> tuple[int, int, int]:
    """argparse type for ``--widths 16,32,64``: conv1 channels, conv2 channels, hidden units."""
    values = tuple(int(v) for v in text.split(","))
    if len(values) != 3 or min(values) < 1:
        raise ValueError(f"widths: three positive integers, got {text!r}")
    return values  # type: ignore[return-value]


def comparison_parser(doc: str) -> argparse.ArgumentParser:
    """A command line with the flags every comparison script takes: --images, --epochs,
    --seeds, --widths, --test-images, --dataset (defaults: 1000, 30, 2, 16,32,64, all, and
    fashion-mnist)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--widths", type=widths_argument, default=(16, 32, 64))
    parser.add_argument("--test-images", type=int, default=None)
    parser.add_argument("--dataset", default="fashion-mnist")
    return parser


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """Rows under headers, columns right-aligned (the first left-aligned); floats to 4
    decimals."""
    cells = [headers] + [[f"{v:.4f}" if isinstance(v, float) else str(v) for v in row]
                         for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                               for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
                     for row in cells)
