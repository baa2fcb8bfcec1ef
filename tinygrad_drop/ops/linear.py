"""The linear layer as one graph node."""

from __future__ import annotations

from typing import Any

from ..autograd import Op


class Linear(Op):
    """x @ weight.T + bias with weight (out_features, in_features); x may have leading batch
    dims. Backward: dx = g @ W, dW = g^T x, db = sum of g over the batch dims."""

    name = "linear"
    kernel_family = "linear"

    def attributes(self) -> dict[str, Any]:
        return {"in_features": self.in_features, "out_features": self.out_features}

    def forward(self, x: Any, weight: Any, bias: Any = None) -> Any:
        xp = self.backend.xp
        if weight.ndim != 2 or x.ndim < 1 or x.shape[-1] != weight.shape[1]:
            raise ValueError(f"linear: input of shape {x.shape} does not fit weight of shape "
                             f"{weight.shape} (expected (..., {weight.shape[-1]}) input and "
                             "(out_features, in_features) weight)")
        if bias is not None and bias.shape != (weight.shape[0],):
            raise ValueError(f"linear: bias of shape {bias.shape} does not fit weight of shape "
                             f"{weight.shape}; expected ({weight.shape[0]},)")
        self.out_features, self.in_features = weight.shape
        self.saved = (x, weight)
        # the matmul family: on CuPy cuBLAS called directly, which a CUDA graph can capture
        out = self.backend.kernels("matmul").matmul(x, xp.matrix_transpose(weight))
        if bias is not None:
            out = self.kernels.add_bias(out, bias)  # in place: the matmul output is ours
        return out

    def backward(self, g: Any) -> tuple[Any, Any, Any]:
        xp, product = self.backend.xp, self.backend.kernels("matmul").matmul
        x, weight = self.saved
        need_x, need_w, need_b = self.needs_input_grad
        g2 = xp.reshape(g, (-1, g.shape[-1]))
        gx = product(g, weight) if need_x else None
        x2 = xp.reshape(x, (-1, x.shape[-1]))
        gw = product(xp.matrix_transpose(g2), x2) if need_w else None
        gb = self.kernels.bias_grad(g2) if need_b else None
        return gx, gw, gb
