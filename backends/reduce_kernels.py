"""The portable kernels of the reduction family: ``xp.sum``. The NumPy backend's own class
calls the array's method instead of NumPy's function, half the cost on the small arrays where
per-op overhead is all there is."""

from __future__ import annotations

from typing import Any

from .kernel_family import Kernels


class ReduceKernels(Kernels):
    """Reductions for the reduction ops."""

    family = "reduce"

    def sum(self, a: Any, axis: Any = None, keepdims: bool = False) -> Any:
        """The sum of ``a`` over ``axis`` (None: every element), keeping the reduced dims as
        1s with ``keepdims``."""
        return self.xp.sum(a, axis=axis, keepdims=keepdims)
