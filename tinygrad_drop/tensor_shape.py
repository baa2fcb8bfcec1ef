"""Tensor methods that change shape or select elements: reshape, transpose, flatten, indexing."""

from __future__ import annotations

import math
from typing import Any

from .ops.shape import Index, Reshape, Transpose


class ShapeMethods:
    """Reshapes, axis permutations and indexing (mixed into ``Tensor``)."""

    __slots__ = ()

    def reshape(self, *shape: Any) -> Any:
        """Same data, new shape (``reshape(2, 3)`` or ``reshape((2, 3))``; one -1 allowed)."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return Reshape.apply(self, shape=tuple(shape))

    def transpose(self, *axes: Any) -> Any:
        """Permute the axes, NumPy-style: no argument reverses them, otherwise a full
        permutation (``transpose(1, 0, 2)``). Note: not PyTorch's two-axis swap."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        if not axes:
            axes = tuple(reversed(range(self.ndim)))
        return Transpose.apply(self, axes=tuple(axes))

    @property
    def T(self) -> Any:
        """The axes reversed (the matrix transpose for 2-D tensors)."""
        return self.transpose()

    def flatten(self, start_dim: int = 0) -> Any:
        """Merge the dims from ``start_dim`` on into one."""
        shape = self.shape
        if not -max(len(shape), 1) <= start_dim < max(len(shape), 1):
            raise ValueError(f"flatten: start_dim {start_dim} is out of range for shape {shape}")
        start = start_dim % max(len(shape), 1)
        return self.reshape(shape[:start] + (math.prod(shape[start:]),))

    def __getitem__(self, index: Any) -> Any:
        """``self[index]``: ints, slices, None, Ellipsis, and integer or boolean arrays (lists,
        NumPy arrays or Tensors of this backend), with NumPy's rules."""
        return Index.select(self, index)
