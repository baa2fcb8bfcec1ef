"""The founding experiment's network, shared by the command line, examples and benchmarks."""

from __future__ import annotations

from collections.abc import Sequence

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
