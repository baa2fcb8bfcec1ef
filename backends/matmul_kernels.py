"""The portable kernels of the matrix-product family: ``xp.matmul`` (NumPy's matmul rules).
A backend's own class (CuPy's: cuBLAS called directly, so products can be captured into a CUDA
graph) overrides ``matmul``."""

from __future__ import annotations

from typing import Any

from .kernel_family import Kernels


class MatmulKernels(Kernels):
    """Matrix products for the matmul op, linear and convolution."""

    family = "matmul"

    def matmul(self, a: Any, b: Any) -> Any:
        """``a @ b`` with NumPy's matmul rules (1-D operands, batched broadcasting); either
        operand may be a transposed view."""
        return self.xp.matmul(a, b)
