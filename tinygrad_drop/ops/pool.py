"""2-D pooling over (N, C, H, W) or (C, H, W) input, one graph node each, PyTorch's semantics
(``ceil_mode=False``, dilation 1; average pooling counts the padding zeros, as PyTorch's default
``count_include_pad=True``).

The array work is the ``pool`` kernel family (``backends/kernels.py``): a loop over the kh*kw
kernel positions, each a strided slice of the whole batch, never over pixels or samples. Max
pooling records, per output element, the position in its window of the first maximal element
(1 byte for kernels up to 255 positions): backward sends the gradient there, as PyTorch does.
"""

from __future__ import annotations

import numbers
from typing import Any

from ..autograd import Op

Pair = tuple[int, int]


def _pair(value: Any, name: str, where: str) -> Pair:
    values = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(values) != 2 or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                   for v in values):
        raise TypeError(f"{where}: {name} must be an int or a pair of ints, got {value!r}")
    return int(values[0]), int(values[1])


def pool_params(kernel_size: Any, stride: Any, padding: Any, where: str) -> tuple[Pair, ...]:
    """``(kernel, stride, padding)`` as pairs, checked as PyTorch does: kernel > 0, stride > 0
    (None: the kernel), 0 <= padding <= kernel // 2."""
    kernel = _pair(kernel_size, "kernel_size", where)
    step = kernel if stride is None or stride == () else _pair(stride, "stride", where)
    pad = _pair(padding, "padding", where)
    if min(kernel) <= 0:
        raise ValueError(f"{where}: kernel_size must be positive, got {kernel_size!r}")
    if min(step) <= 0:
        raise ValueError(f"{where}: stride must be positive (not zero), got {stride!r}")
    if min(pad) < 0:
        raise ValueError(f"{where}: padding must be non-negative, got {padding!r}")
    if pad[0] > kernel[0] // 2 or pad[1] > kernel[1] // 2:
        raise ValueError(f"{where}: padding should be at most half of the kernel size, got "
                         f"padding={padding!r}, kernel_size={kernel_size!r}")
    return kernel, step, pad


class _Pool2d(Op):
    """Shared by the pools: shape checks, the batchless (C, H, W) form and the geometry."""

    kernel_family = "pool"
    kernel: Pair
    stride: Pair
    padding: Pair

    def describe(self) -> list[str]:
        kh, kw = self.kernel
        return [self.name, f"kernel={kh}x{kw}, stride={self.stride}, padding={self.padding}"]

    def _geometry(self, x: Any) -> tuple[Any, Pair]:
        """The input as (N, C, H, W) and the output's (OH, OW); errors name the bad value."""
        if x.ndim not in (3, 4):
            raise ValueError(f"expected 3-D (C, H, W) or 4-D (N, C, H, W) input, got "
                             f"{x.ndim}-D input of shape {tuple(x.shape)}")
        self.in_shape = tuple(x.shape)
        if x.ndim == 3:
            x = self.backend.xp.reshape(x, (1, *x.shape))
        self.shape4 = tuple(x.shape)
        out_hw = []
        for size, k, s, p in zip(x.shape[2:], self.kernel, self.stride, self.padding,
                                 strict=True):
            if k > size + 2 * p:
                raise ValueError(f"kernel_size {self.kernel} is larger than the padded input "
                                 f"{tuple(x.shape[2:])} + 2 * padding {self.padding}")
            out_hw.append((size + 2 * p - k) // s + 1)
        return x, (out_hw[0], out_hw[1])

    def _out(self, out: Any) -> Any:
        return self.backend.xp.reshape(out, out.shape[1:]) if len(self.in_shape) == 3 else out

    def _grad_in(self, g: Any) -> Any:
        return self.backend.xp.reshape(g, (1, *g.shape)) if len(self.in_shape) == 3 else g


class MaxPool2d(_Pool2d):
    """``out[n, c, i, j] = max`` of the kh x kw window at ``(i * sh - ph, j * sw - pw)`` of the
    input padded with -inf (a NaN in the window wins, as in PyTorch). Backward: the whole
    gradient goes to the window's first maximal element (row-major order), summed where
    windows overlap."""

    name = "max_pool2d"

    def forward(self, x: Any) -> Any:
        x4, out_hw = self._geometry(x)
        out, where = self.kernels.max_forward(x4, self.kernel, self.stride, self.padding, out_hw)
        self.saved = where
        return self._out(out)

    def backward(self, g: Any) -> tuple[Any]:
        grad = self.kernels.max_backward(self._grad_in(g), self.saved, self.shape4,
                                         self.kernel, self.stride, self.padding)
        return (self.backend.xp.reshape(grad, self.in_shape),)


class AvgPool2d(_Pool2d):
    """``out[n, c, i, j]`` = the mean of the kh x kw window of the zero-padded input, always
    divided by kh * kw (padding zeros counted, PyTorch's ``count_include_pad=True``).
    Backward: each window's gradient / (kh * kw) to every element of it."""

    name = "avg_pool2d"

    def forward(self, x: Any) -> Any:
        x4, out_hw = self._geometry(x)
        self.saved = None
        return self._out(self.kernels.avg_forward(x4, self.kernel, self.stride, self.padding,
                                                  out_hw))

    def backward(self, g: Any) -> tuple[Any]:
        grad = self.kernels.avg_backward(self._grad_in(g), self.shape4, self.kernel,
                                         self.stride, self.padding)
        return (self.backend.xp.reshape(grad, self.in_shape),)
