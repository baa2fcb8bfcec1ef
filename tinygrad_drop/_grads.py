"""Forgetting gradients, shared by ``Module.zero_grad`` and ``Optimizer.zero_grad``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def zero_grads(params: Iterable[Any], set_to_none: bool = True) -> None:
    """Set each parameter's ``.grad`` to None, or (``set_to_none=False``) fill it with zeros
    in place: a leaf's gradient owns its memory, so nothing else sees the write."""
    for p in params:
        grad = p.grad
        if grad is None:
            continue
        if set_to_none:
            p.grad = None
            continue
        try:
            grad.data[...] = 0  # Array API item assignment: numpy, cupy and strict alike
        except (TypeError, ValueError):  # a read-only array the user assigned as .grad
            grad.data = grad._backend.xp.zeros_like(grad.data)
