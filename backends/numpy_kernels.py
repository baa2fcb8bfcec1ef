"""The NumPy backend's fast paths, by op family (the portable versions are in kernels.py).

Measured on the 2-core CPU these target: a boolean multiply is ~15x faster than ``np.where`` on
random masks, and column sums as a BLAS matrix-vector product are ~3x faster than NumPy's
axis-0 reduction (and ~9x faster over the axes (0, 2) of a (N, C, L) array).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .kernels import (
    ActivationKernels,
    DropoutKernels,
    Kernels,
    LinearKernels,
    NormKernels,
    ShapeKernels,
)


def masked_scale(x: np.ndarray, mask: np.ndarray, divisor: float = 1.0) -> np.ndarray:
    """``x / divisor`` where ``mask`` is True, 0 elsewhere."""
    out = np.multiply(x, mask)
    if divisor != 1:
        np.divide(out, divisor, out=out)  # in place: no second temporary
    return out


class ColumnSumKernels(Kernels):
    """Column sums of 2-D float arrays as ``ones @ x`` (BLAS), the ones cached by size."""

    def __init__(self, backend: Any) -> None:
        super().__init__(backend)
        self._ones: dict[tuple[int, Any], np.ndarray] = {}

    def column_sums(self, x: np.ndarray) -> np.ndarray:
        """Sums of the 2-D array ``x`` over axis 0."""
        if x.ndim != 2 or x.dtype.kind != "f":
            return np.sum(x, axis=0)
        key = (x.shape[0], x.dtype)
        ones = self._ones.get(key)
        if ones is None:
            ones = self._ones[key] = np.ones(x.shape[0], x.dtype)
        return ones @ x


class NumpyActivationKernels(ActivationKernels):
    """ReLU's backward as a boolean multiply."""

    def relu_backward(self, g: np.ndarray, positive: np.ndarray) -> np.ndarray:
        return np.multiply(g, positive)


class NumpyDropoutKernels(DropoutKernels):
    """Dropout's mask applied as a boolean multiply and an in-place divide."""

    def masked_scale(self, x: np.ndarray, mask: np.ndarray, divisor: float) -> np.ndarray:
        return masked_scale(x, mask, divisor)


class NumpyLinearKernels(ColumnSumKernels, LinearKernels):
    """The bias gradient as a BLAS matrix-vector product."""

    def bias_grad(self, g: np.ndarray) -> np.ndarray:
        return self.column_sums(g)


class NumpyNormKernels(ColumnSumKernels, NormKernels):
    """Per-channel sums as one BLAS product over the batch, then the spatial axes."""

    def channel_sums(self, x: np.ndarray) -> np.ndarray:
        if x.ndim == 2:
            return self.column_sums(x)
        per_position = self.column_sums(np.reshape(x, (x.shape[0], -1)))
        return np.sum(np.reshape(per_position, (x.shape[1], -1)), axis=1)


class NumpyShapeKernels(ShapeKernels):
    """Scatter-add in place with ``np.add.at``."""

    def scatter_add(self, target: np.ndarray, index: Any, values: Any) -> np.ndarray:
        np.add.at(target, index, values)
        return target


FAMILIES = {cls.family: cls for cls in (NumpyActivationKernels, NumpyDropoutKernels,
                                        NumpyLinearKernels, NumpyNormKernels, NumpyShapeKernels)}
