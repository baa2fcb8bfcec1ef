"""Reductions: sum, mean, max. Each backward reshapes the gradient to the kept-dims shape and
broadcasts it back over the reduced axes."""

from __future__ import annotations

import math
from typing import Any

from ..autograd import Op


def normalize_axes(axis: Any, ndim: int, op: str) -> tuple[int, ...]:
    """``axis`` (None, int or tuple) as a sorted tuple of non-negative axes, validated."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not isinstance(a, int) or not -ndim <= a < max(ndim, 1):
            raise ValueError(f"{op}: axis {a!r} is out of range for a tensor with {ndim} dims")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(out))


class _Reduction(Op):
    """Shared bookkeeping: resolved axes and the shape with reduced axes kept as 1."""

    axis: Any = None  # None, an int or a tuple of ints
    keepdims: bool = False

    def _setup(self, a: Any) -> tuple[int, ...] | None:
        self.in_shape = a.shape
        if self.axis is None:  # the common loss.sum() / .mean(): no axis bookkeeping
            self.axes, self.kept_shape = tuple(range(a.ndim)), (1,) * a.ndim
            return None
        self.axes = normalize_axes(self.axis, a.ndim, self.name)
        self.kept_shape = tuple(1 if i in self.axes else n for i, n in enumerate(a.shape))
        return self.axes if a.ndim else None

    def _spread(self, g: Any) -> Any:
        # A fresh array rather than a broadcast view: one C-level copy, and a leaf can own it.
        xp = self.backend.xp
        out = xp.empty(self.in_shape, dtype=g.dtype)
        out[...] = xp.reshape(g, self.kept_shape)
        return out


class Sum(_Reduction):
    """Sum over ``axis`` (None: all)."""

    name = "sum"

    def forward(self, a: Any) -> Any:
        return self.backend.xp.sum(a, axis=self._setup(a), keepdims=self.keepdims)

    def backward(self, g: Any) -> tuple[Any]:
        return (self._spread(g),)


class Mean(_Reduction):
    """Mean over ``axis`` (None: all)."""

    name = "mean"

    def forward(self, a: Any) -> Any:
        axes = self._setup(a)
        self.count = math.prod(a.shape[i] for i in self.axes)
        return self.backend.xp.mean(a, axis=axes, keepdims=self.keepdims)

    def backward(self, g: Any) -> tuple[Any]:
        return (self._spread(g / self.count),)


class Max(_Reduction):
    """Maximum over ``axis``. Where several elements tie for the maximum the gradient is shared
    equally among them (as ``torch.amax`` and the full ``torch.max()`` do)."""

    name = "max"

    def forward(self, a: Any) -> Any:
        xp = self.backend.xp
        axes = self._setup(a)
        if a.size == 0:
            raise ValueError(f"max: cannot reduce an empty tensor of shape {a.shape}")
        out = xp.max(a, axis=axes, keepdims=True)
        self.saved = (a, out)
        return out if self.keepdims else xp.reshape(out, tuple(
            n for i, n in enumerate(a.shape) if i not in self.axes))

    def backward(self, g: Any) -> tuple[Any]:
        xp = self.backend.xp
        a, out = self.saved
        winners = xp.astype(a == out, g.dtype)
        share = xp.reshape(g, self.kept_shape) / xp.sum(winners, axis=self.axes, keepdims=True)
        return (winners * share,)
