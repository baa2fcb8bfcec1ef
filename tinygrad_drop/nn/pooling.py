"""Pooling layers: nn.MaxPool2d and nn.AvgPool2d, PyTorch's names, arguments and reprs."""

from __future__ import annotations

from typing import Any

from ..ops.pool import pool_params
from ..tensor_core import Tensor
from . import functional as F
from .module import Module


class _Pool2d(Module):
    """Holds ``kernel_size``, ``stride`` (default: the kernel) and ``padding`` as given, checked
    when the layer is made."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        pool_params(kernel_size, stride, padding, type(self).__name__)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding


class MaxPool2d(_Pool2d):
    """``F.max_pool2d`` as a layer: max over kh x kw windows of (N, C, H, W) or (C, H, W)
    input, padded with -inf; ``ceil_mode`` and ``dilation`` are PyTorch's defaults only."""

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                "dilation=1, ceil_mode=False")


class AvgPool2d(_Pool2d):
    """``F.avg_pool2d`` as a layer: mean over kh x kw windows, the zero padding counted
    (PyTorch's default ``count_include_pad=True``)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
