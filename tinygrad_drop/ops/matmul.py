"""Matrix product with NumPy's ``matmul`` rules (1-D operands, batched broadcasting)."""

from __future__ import annotations

from typing import Any

from ..autograd import Op


class MatMul(Op):
    """a @ b. Backward: dA = dC @ B^T and dB = A^T @ dC on operands promoted to 2-D; batch
    dimensions are summed back by the engine."""

    name = "matmul"
    kernel_family = "matmul"  # on CuPy cuBLAS called directly, which a CUDA graph can capture

    def forward(self, a: Any, b: Any) -> Any:
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: operands must have at least 1 dim, got shapes "
                             f"{a.shape} and {b.shape}")
        k_a, k_b = a.shape[-1], b.shape[0] if b.ndim == 1 else b.shape[-2]
        if k_a != k_b:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align "
                             f"({k_a} != {k_b})")
        self.saved = (a, b)
        return self.kernels.matmul(a, b)

    def backward(self, g: Any) -> tuple[Any, Any]:
        xp, product = self.backend.xp, self.kernels.matmul
        a, b = self.saved
        need_a, need_b = self.needs_input_grad
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if a.ndim == 1:
            g = xp.expand_dims(g, axis=-1 if b.ndim == 1 else -2)
        if b.ndim == 1:
            g = xp.expand_dims(g, axis=-1)
        ga = gb = None
        if need_a:
            ga = product(g, xp.matrix_transpose(b2))
            ga = ga[..., 0, :] if a.ndim == 1 else ga
        if need_b:
            gb = product(xp.matrix_transpose(a2), g)
            gb = gb[..., 0] if b.ndim == 1 else gb
        return ga, gb
