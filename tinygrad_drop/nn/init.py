"""Parameter initialisation in place (PyTorch's names and formulas), from the tensor's backend
generator so that ``td.manual_seed`` makes it reproducible."""

from __future__ import annotations

import math

from ..autograd import no_grad
from ..tensor_core import Tensor
from ._args import warn_at_caller


def _fan_in(tensor: Tensor) -> int:
    if tensor.ndim < 2:
        raise ValueError(f"fan_in needs a tensor with at least 2 dims, got shape {tensor.shape}")
    return tensor.shape[1] * math.prod(tensor.shape[2:])


@no_grad()
def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with samples from U[a, b)."""
    be = tensor._backend
    tensor.data = be.generator.uniform(tensor.shape, tensor.data.dtype) * (b - a) + a
    return tensor


@no_grad()
def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with samples from N(mean, std**2)."""
    be = tensor._backend
    tensor.data = be.generator.normal(tensor.shape, tensor.data.dtype) * std + mean
    return tensor


@no_grad()
def zeros_(tensor: Tensor) -> Tensor:
    """Fill with zeros."""
    tensor.data = tensor._backend.xp.zeros(tensor.shape, dtype=tensor.data.dtype)
    return tensor


def kaiming_uniform_(tensor: Tensor, a: float = 0.0) -> Tensor:
    """He initialisation for leaky-ReLU slope ``a`` (fan_in mode):
    U(-bound, bound) with bound = sqrt(6 / ((1 + a**2) * fan_in)). A tensor with no elements
    (``nn.Linear(0, 3)``'s weight) is left as it is, with PyTorch's warning."""
    if 0 in tensor.shape:
        warn_at_caller("Initializing zero-element tensors is a no-op")
        return tensor
    bound = math.sqrt(6.0 / ((1.0 + a * a) * _fan_in(tensor)))
    return uniform_(tensor, -bound, bound)
