"""The founding experiment's networks (the MLP and the seed's Keras CNN), shared by the command
line, examples and benchmarks."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from . import nn


def mlp(inputs: int = 784, hidden: Sequence[int] = (256, 256), classes: int = 10,
        dropout: Sequence[float] = (0.2, 0.5), *, mode: str = "inverted",
        batchnorm: bool = False, init_std: float | None = 0.01,
        backend: str | None = None) -> nn.Sequential:
    """784-256-256-10 MLP: Linear (-> BatchNorm1d) -> ReLU -> Dropout per hidden layer, then a
    linear head. ``dropout`` gives each hidden layer's rate (0 leaves the layer out); weights
    ~ N(0, init_std) with zero biases as in the founding material (None: PyTorch's default)."""
    if len(dropout) != len(hidden):
        raise ValueError(f"mlp: {len(hidden)} hidden layers but {len(dropout)} dropout rates")
    layers: list[nn.Module] = []
    width = inputs
    for size, rate in zip(hidden, dropout, strict=True):
        layers.append(nn.Linear(width, size, backend=backend))
        if batchnorm:
            layers.append(nn.BatchNorm1d(size, backend=backend))
        layers.append(nn.ReLU())
        if rate:
            layers.append(nn.Dropout(rate, mode=mode))
        width = size
    layers.append(nn.Linear(width, classes, backend=backend))
    model = nn.Sequential(*layers)
    if init_std is not None:
        for layer in model:
            if isinstance(layer, nn.Linear):
                nn.init.normal_(layer.weight, std=init_std)
                nn.init.zeros_(layer.bias)
    return model


class CNN(nn.Sequential):
    """The seed's CNN as a Sequential (children and state_dict names as the same
    ``torch.nn.Sequential``: ``0.weight``, ``2.weight``, ``7.weight``, ``10.weight``) that also
    takes flat images: an input of shape (N, 784) is viewed as (N, 1, 28, 28), so the MLP's
    data pipeline feeds it unchanged. Any other shape goes to the first Conv2d as it is."""

    def forward(self, x: Any) -> Any:
        if x.ndim == 2 and x.shape[1] == 28 * 28:
            x = x.reshape(x.shape[0], 1, 28, 28)
        return super().forward(x)


def cnn(dropout: float | Sequence[float] = (0.25, 0.5), *, mode: str = "inverted",
        widths: Sequence[int] = (32, 64, 128), backend: str | None = None) -> CNN:
    """The seed's Keras MNIST CNN, (N, 1, 28, 28) (or flat (N, 784)) -> (N, 10) logits:

    ====  ==========================  ==================
    0     Conv2d(1, 32, 3)            -> (N, 32, 26, 26)
    1     ReLU
    2     Conv2d(32, 64, 3)           -> (N, 64, 24, 24)
    3     ReLU
    4     MaxPool2d(2)                -> (N, 64, 12, 12)
    5     Dropout(dropout[0])
    6     Flatten                     -> (N, 9216)
    7     Linear(9216, 128)
    8     ReLU
    9     Dropout(dropout[1])
    10    Linear(128, 10)             (softmax is in the loss: F.cross_entropy)
    ====  ==========================  ==================

    ``dropout`` is one rate for both dropout layers or a pair; a rate of 0 puts ``nn.Identity``
    in that place (not nothing, as ``mlp`` does) so the indices, and with them the state_dict
    names, stay those of the seed's network whatever the rates. ``mode`` is the dropout
    convention ('inverted' or 'vanilla'). ``widths`` (conv1 channels, conv2 channels, hidden
    units; the seed's 32, 64, 128 above) builds the same layout narrower or wider. Weights
    have PyTorch's default initialisation (Keras used Glorot uniform and zero biases). Train it
    as the seed did with
    ``optim.Adadelta(model.parameters(), lr=1.0, rho=0.95, eps=1e-7)`` and batch 128."""
    rates = (dropout, dropout) if isinstance(dropout, numbers.Real) else tuple(dropout)
    if len(rates) != 2:
        raise ValueError(f"cnn: dropout takes one rate or two (after the convolutions, before "
                         f"the last layer), got {len(rates)}: {dropout!r}")

    def drop(rate: float) -> nn.Module:
        return nn.Dropout(rate, mode=mode) if rate else nn.Identity()

    c1, c2, hidden = widths
    return CNN(nn.Conv2d(1, c1, 3, backend=backend), nn.ReLU(),
               nn.Conv2d(c1, c2, 3, backend=backend), nn.ReLU(),
               nn.MaxPool2d(2), drop(rates[0]), nn.Flatten(),
               nn.Linear(c2 * 12 * 12, hidden, backend=backend), nn.ReLU(), drop(rates[1]),
               nn.Linear(hidden, 10, backend=backend))
