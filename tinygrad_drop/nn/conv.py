"""The convolutional layer."""

from __future__ import annotations

import math
from typing import Any

from ..ops.conv import pair
from ..tensor_core import Tensor
from . import functional as F
from . import init
from .module import Module


class Conv2d(Module):
    """2-D convolution over (N, C, H, W) input, as torch.nn.Conv2d: weight
    (out_channels, in_channels / groups, kH, kW) ~ kaiming_uniform(a=sqrt(5)), i.e.
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in_channels / groups * kH * kW, and bias
    (out_channels,) ~ the same; ``kernel_size``, ``stride``, ``padding`` and ``dilation`` are
    ints or (h, w) pairs (``padding`` also 'valid' or 'same'). state_dict: ``weight``,
    ``bias``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True, *,
                 dtype: Any = None, backend: str | None = None) -> None:
        super().__init__()
        where = "Conv2d"
        if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
            raise ValueError(f"{where}: groups must be a positive integer, got {groups!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{where}: groups={groups} must divide in_channels "
                             f"({in_channels}) and out_channels ({out_channels})")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = pair(kernel_size, "kernel_size", where, minimum=1)
        self.stride = pair(stride, "stride", where, minimum=1)
        self.padding = padding if isinstance(padding, str) else pair(padding, "padding", where)
        if isinstance(padding, str) and padding not in ("valid", "same"):
            raise ValueError(f"{where}: padding must be 'valid', 'same', an int or a pair of "
                             f"ints, got {padding!r}")
        if padding == "same" and self.stride != (1, 1):
            raise ValueError(f"{where}: padding='same' is not supported for strided "
                             f"convolutions (stride={stride!r})")
        self.dilation = pair(dilation, "dilation", where, minimum=1)
        self.weight = init.kaiming_uniform_(
            Tensor.zeros(out_channels, in_channels // groups, *self.kernel_size, dtype=dtype,
                         backend=backend, requires_grad=True), a=math.sqrt(5))
        self.bias = None
        if bias:
            fan_in = in_channels // groups * math.prod(self.kernel_size)
            bound = 1.0 / math.sqrt(fan_in) if fan_in else 0.0
            self.bias = init.uniform_(Tensor.zeros(out_channels, dtype=dtype, backend=backend,
                                                   requires_grad=True), -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)

    def extra_repr(self) -> str:
        # torch's: only what differs from the defaults after the kernel and stride
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text
