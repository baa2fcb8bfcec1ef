"""Kernels: per op family, the array work a backend may do its own way, looked up by family
name (``backend.kernels("dropout")``). The classes here are the portable versions, written
against the Array API standard alone; a backend's own classes (fused CUDA kernels, BLAS
tricks) subclass them and override what they speed up. Ops call kernels and never ask which
backend they are on.

Adding a family: a subclass of ``Kernels`` (``kernel_family.py``) with a ``family`` name and
its methods, here or in a module of its own (``loss_kernels``, ``norm_kernels``,
``optim_kernels``), listed in ``PORTABLE``; backends add theirs to
``Backend.kernel_families``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np  # host fallback of scatter_add only: the Array API has no scatter

from .kernel_family import Kernels
from .loss_kernels import LossKernels
from .matmul_kernels import MatmulKernels
from .norm_kernels import NormKernels
from .optim_kernels import OptimKernels
from .reduce_kernels import ReduceKernels

if TYPE_CHECKING:  # pragma: no cover
    from .base import Backend
    from .generator import Generator


class ActivationKernels(Kernels):
    """Pointwise activations."""

    family = "activation"

    def relu(self, a: Any, need_mask: bool) -> tuple[Any, Any]:
        """``(max(a, 0), mask)``: NaN passes, -0 becomes +0 (NumPy's maximum); the mask
        (``out != 0``, what ``relu_backward`` takes: PyTorch's gradient is 0 at a == 0 and
        passes at NaN) only with ``need_mask``, else None."""
        out = self.xp.maximum(a, 0)
        return out, (out != 0 if need_mask else None)

    def relu_backward(self, g: Any, positive: Any) -> Any:
        """``g`` where the boolean mask ``positive`` is True, 0 elsewhere: the backward of ReLU
        (the mask: output != 0) and of clamp with number bounds (the mask: inside them)."""
        return self.xp.where(positive, g, 0)


class ConvKernels(Kernels):
    """Convolution as im2col and one matrix product per layer, NCHW (see ops/conv.py): columns
    (N, C*KH*KW, OH*OW), rows in the weight's (C, KH, KW) order, so that per group
    out = W (OC/groups, C/groups*KH*KW) @ columns. ``geometry`` is
    ``(kernel, stride, dilation, out_hw, groups)`` (pairs but groups)."""

    family = "conv"

    def pad(self, x: Any, padding: tuple[int, int]) -> Any:
        """``x`` (N, C, H, W) with ``padding`` zeros on each side of H and W."""
        xp, (ph, pw) = self.xp, padding
        n, c, h, w = x.shape
        out = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
        out[:, :, ph:ph + h, pw:pw + w] = x
        return out

    def forward(self, x: Any, weight: Any, bias: Any, geometry: tuple) -> Any:
        """The output (N, OC, OH, OW) of padded ``x`` (N, C, H, W): W @ columns + bias."""
        xp = self.xp
        kernel, stride, dilation, out_hw, groups = geometry
        n, oc = x.shape[0], weight.shape[0]
        cols = self.columns(x, kernel, stride, dilation, out_hw)
        out = xp.matmul(weight_matrix(xp, weight, groups),
                        xp.reshape(cols, (n, groups, -1, cols.shape[2])))  # (N, G, OC/G, L)
        out = xp.reshape(out, (n, oc, *out_hw))
        if bias is not None:
            out += xp.reshape(bias, (1, oc, 1, 1))  # in place: the product is ours
        return out

    def backward(self, g: Any, x: Any, weight: Any, geometry: tuple, shape: tuple[int, ...],
                 need_w: bool, need_x: bool) -> tuple[Any, Any]:
        """From the output gradient ``g`` (N, OC, OH, OW): the weight's gradient
        (sum over samples of g @ columns^T) and the gradient of the padded input (of ``shape``)
        = col2im(W^T @ g); None for what is not needed."""
        xp = self.xp
        kernel, stride, dilation, out_hw, groups = geometry
        n, oc = g.shape[0], g.shape[1]
        gg = xp.reshape(g, (n, groups, oc // groups, -1))
        gw = gx = None
        if need_w:
            cols = self.columns(x, kernel, stride, dilation, out_hw)
            cols = xp.reshape(cols, (n, groups, -1, cols.shape[2]))
            gw = xp.reshape(xp.sum(xp.matmul(gg, xp.matrix_transpose(cols)), axis=0),
                            weight_shape(shape[1], oc, kernel, groups))
        if need_x:
            gcols = xp.matmul(xp.matrix_transpose(weight_matrix(xp, weight, groups)), gg)
            gx = xp.zeros(shape, dtype=g.dtype)
            self.col2im(xp.reshape(gcols, (n, shape[1], *kernel, *out_hw)), gx, stride,
                        dilation)
        return gw, gx

    def columns(self, x: Any, kernel: tuple[int, int], stride: tuple[int, int],
                dilation: tuple[int, int], out_hw: tuple[int, int]) -> Any:
        """The im2col columns of padded ``x`` (N, C, H, W): (N, C*KH*KW, OH*OW) with
        ``[n, (c, i, j), (y, x)] = x[n, c, y*sh + i*dh, x*sw + j*dw]``. Portable version: the
        KH*KW strided slices of the input, stacked."""
        xp = self.xp
        parts = [x[:, :, tap_slice(i, dilation[0], stride[0], out_hw[0]),
                   tap_slice(j, dilation[1], stride[1], out_hw[1])]
                 for i in range(kernel[0]) for j in range(kernel[1])]
        n, c = x.shape[0], x.shape[1]
        return xp.reshape(xp.stack(parts, axis=2),
                          (n, c * kernel[0] * kernel[1], out_hw[0] * out_hw[1]))

    def col2im(self, cols: Any, out: Any, stride: tuple[int, int],
               dilation: tuple[int, int]) -> None:
        """The adjoint of ``columns``: (N, C, KH, KW, OH, OW) values added into ``out``
        (N, C, Hp, Wp), one strided add per kernel position."""
        kh, kw, oh, ow = cols.shape[2:]
        for i in range(kh):
            for j in range(kw):
                rows = tap_slice(i, dilation[0], stride[0], oh)
                across = tap_slice(j, dilation[1], stride[1], ow)
                out[:, :, rows, across] = out[:, :, rows, across] + cols[:, :, i, j, :, :]

    def bias_grad(self, g: Any) -> Any:
        """Sums of the output gradient ``g`` (N, OC, OH, OW) over all axes but 1."""
        return self.xp.sum(g, axis=(0, 2, 3))


def tap_slice(tap: int, dilation: int, stride: int, size: int) -> slice:
    """The input positions kernel tap ``tap`` meets along one axis, one per output."""
    return slice(tap * dilation, tap * dilation + stride * (size - 1) + 1, stride)


def weight_matrix(xp: Any, weight: Any, groups: int) -> Any:
    """(OC, C/groups, KH, KW) weights as (groups, OC/groups, C/groups*KH*KW)."""
    return xp.reshape(weight, (groups, weight.shape[0] // groups, -1))


def weight_shape(channels: int, out_channels: int, kernel: tuple[int, int],
                 groups: int) -> tuple[int, int, int, int]:
    """The weight's shape (OC, C/groups, KH, KW)."""
    return (out_channels, channels // groups, *kernel)


class DropoutKernels(Kernels):
    """Dropout in training mode: draw a mask, scale what it keeps; backward from what forward
    saved. Element-wise (``forward``: one draw per element) and spatial (``channel_forward``: one
    draw per (sample, channel) of (N, C, *) input, the mask being the generator's (N, C) draw);
    ``backward`` and ``mask`` serve both. The op asks only for 0 < keep < 1 (it settles keep = 0
    and 1 itself)."""

    family = "dropout"

    def forward(self, x: Any, keep: float, divisor: float,
                generator: Generator) -> tuple[Any, Any, Any]:
        """``(x * mask / divisor, saved, kept)``: the mask keeps each element with probability
        ``keep``; ``saved`` is what ``backward`` and ``mask`` need, ``kept`` the number of
        elements kept (a backend scalar: reading it waits for the device)."""
        mask = self.checked_mask(generator.bernoulli_mask(x.shape, keep), "dropout")
        return self.masked_scale(x, mask, divisor), mask, self.xp.count_nonzero(mask)

    def channel_forward(self, x: Any, keep: float, divisor: float,
                        generator: Generator) -> tuple[Any, Any, Any]:
        """Spatial dropout of ``x`` (N, C, *): ``(x * mask[n, c] / divisor, saved, kept)``, the
        (N, C) mask exactly ``generator.bernoulli_mask((N, C), keep)`` (the same draw, the
        generator advanced the same way); ``saved`` as in ``forward`` (here the mask shaped
        (N, C, 1, ...)), ``kept`` the number of channels kept (a backend scalar)."""
        channels = tuple(x.shape[:2])
        mask = self.checked_mask(generator.bernoulli_mask(channels, keep), "dropout2d")
        saved = self.xp.reshape(mask, channels + (1,) * (x.ndim - 2))
        return self.masked_scale(x, saved, divisor), saved, self.xp.count_nonzero(mask)

    def backward(self, g: Any, saved: Any, divisor: float) -> Any:
        """``g * mask / divisor`` from what ``forward`` or ``channel_forward`` saved."""
        return self.masked_scale(g, saved, divisor)

    def mask(self, saved: Any) -> Any:
        """The boolean keep-mask from what ``forward`` saved (of ``channel_forward``: shaped
        (N, C, 1, ...))."""
        return saved

    def masked_scale(self, x: Any, mask: Any, divisor: float) -> Any:
        """``x * mask / divisor`` for the boolean ``mask`` (of x's shape, or broadcast to it):
        ``x / divisor`` where it is True, ``x * 0`` elsewhere, as PyTorch's dropout multiplies
        (a dropped NaN or inf is NaN, a dropped negative -0); the NumPy backend's boolean
        multiply and divide bit for bit."""
        out = self.xp.where(mask, x, x * 0)
        return out / divisor if divisor != 1 else out

    def checked_mask(self, mask: Any, op: str) -> Any:
        """``mask`` when it is an array of this backend; else a TypeError naming ``op``: the
        generator belongs to another backend."""
        if not self.backend.is_array(mask):
            raise TypeError(f"{op}: the generator makes {type(mask).__name__} masks, not "
                            f"{self.backend.name!r} arrays; use a generator of the input's "
                            "backend")
        return mask


class LinearKernels(Kernels):
    """The linear layer's reductions."""

    family = "linear"

    def add_bias(self, out: Any, bias: Any) -> Any:
        """``out + bias`` for the product ``out`` (rows, out_features) the caller owns: added
        in place and returned."""
        out += bias
        return out

    def bias_grad(self, g: Any) -> Any:
        """Column sums of the 2-D output gradient ``g`` (rows, out_features): the bias
        gradient."""
        return self.xp.sum(g, axis=0)


class PoolKernels(Kernels):
    """2-D max and average pooling of (N, C, H, W) arrays: a loop over the kh*kw kernel
    positions, each one strided slice of the whole (padded) batch."""

    family = "pool"

    def padded(self, x: Any, padding: tuple[int, int], fill: float) -> Any:
        """``x`` with ``padding`` rows/columns of ``fill`` on each side of its last two axes."""
        ph, pw = padding
        if not ph and not pw:
            return x
        n, c, h, w = x.shape
        out = self.xp.full((n, c, h + 2 * ph, w + 2 * pw), fill, dtype=x.dtype)
        out[:, :, ph:ph + h, pw:pw + w] = x
        return out

    def padded_zeros(self, in_shape: tuple[int, ...], padding: tuple[int, int],
                     dtype: Any) -> Any:
        """Zeros of the padded input's shape: (N, C, H + 2*ph, W + 2*pw) for ``in_shape``
        (N, C, H, W), the gradient backward adds into before ``cropped``."""
        n, c, h, w = in_shape
        return self.xp.zeros((n, c, h + 2 * padding[0], w + 2 * padding[1]), dtype=dtype)

    @staticmethod
    def windows(kernel: tuple[int, int], stride: tuple[int, int],
                out_hw: tuple[int, int]) -> Any:
        """For each kernel position k = i * kw + j (row-major), the index of the (N, C, OH, OW)
        slice of the padded input that holds that element of every window."""
        (kh, kw), (sh, sw), (oh, ow) = kernel, stride, out_hw
        for i in range(kh):
            for j in range(kw):
                yield i * kw + j, (slice(None), slice(None),
                                   slice(i, i + sh * (oh - 1) + 1, sh),
                                   slice(j, j + sw * (ow - 1) + 1, sw))

    def max_forward(self, x: Any, kernel: tuple[int, int], stride: tuple[int, int],
                    padding: tuple[int, int], out_hw: tuple[int, int]) -> tuple[Any, Any]:
        """``(out, where)``: the window maxima of ``x`` padded with -inf, and per output element
        the kernel position (uint8, or int16 past 255 positions) of its first maximal element;
        a NaN wins over any number, as in PyTorch."""
        xp = self.xp
        index_dtype = xp.uint8 if kernel[0] * kernel[1] <= 256 else xp.int16
        padded = self.padded(x, padding, -float("inf"))
        best = where = None
        for k, window in self.windows(kernel, stride, out_hw):
            value = padded[window]
            if best is None:
                best = xp.asarray(value, copy=True)
                where = xp.zeros(best.shape, dtype=index_dtype)
                continue
            better = (value > best) | xp.isnan(value)
            best = xp.where(better, value, best)
            where = xp.where(better, xp.asarray(k, dtype=index_dtype), where)
        return best, where

    def max_backward(self, g: Any, where: Any, in_shape: tuple[int, ...],
                     kernel: tuple[int, int], stride: tuple[int, int],
                     padding: tuple[int, int]) -> Any:
        """The input gradient: each output's gradient added at its window's recorded maximum."""
        xp = self.xp
        grad = self.padded_zeros(in_shape, padding, g.dtype)
        disjoint = self.disjoint(kernel, stride)
        for k, window in self.windows(kernel, stride, g.shape[2:]):
            share = xp.where(where == k, g, xp.zeros((), dtype=g.dtype))
            grad[window] = share if disjoint else grad[window] + share
        return self.cropped(grad, padding)

    def avg_forward(self, x: Any, kernel: tuple[int, int], stride: tuple[int, int],
                    padding: tuple[int, int], out_hw: tuple[int, int]) -> Any:
        """The window means of ``x`` padded with zeros, each divided by kh * kw."""
        padded = self.padded(x, padding, 0.0)
        total = None
        for _, window in self.windows(kernel, stride, out_hw):
            total = (self.xp.asarray(padded[window], copy=True) if total is None
                     else total + padded[window])
        return total / (kernel[0] * kernel[1])

    def avg_backward(self, g: Any, in_shape: tuple[int, ...], kernel: tuple[int, int],
                     stride: tuple[int, int], padding: tuple[int, int]) -> Any:
        """The input gradient: each output's gradient / (kh * kw) to its whole window."""
        share = g / (kernel[0] * kernel[1])
        grad = self.padded_zeros(in_shape, padding, g.dtype)
        disjoint = self.disjoint(kernel, stride)
        for _, window in self.windows(kernel, stride, g.shape[2:]):
            grad[window] = share if disjoint else grad[window] + share
        return self.cropped(grad, padding)

    @staticmethod
    def disjoint(kernel: tuple[int, int], stride: tuple[int, int]) -> bool:
        """Whether no two windows overlap, so backward writes each slice instead of adding."""
        return stride[0] >= kernel[0] and stride[1] >= kernel[1]

    @staticmethod
    def cropped(grad: Any, padding: tuple[int, int]) -> Any:
        """The padded gradient without its padding."""
        ph, pw = padding
        h, w = grad.shape[2] - 2 * ph, grad.shape[3] - 2 * pw
        return grad[:, :, ph:ph + h, pw:pw + w]


class ShapeKernels(Kernels):
    """Indexing's scatter."""

    family = "shape"

    def scatter_add(self, target: Any, index: Any, values: Any) -> Any:
        """``target`` with ``values`` added at ``index``, adding again where an integer index
        repeats. Returns the result, which may be ``target`` updated in place or a new array.
        Portable version: through host memory (the Array API has no scatter)."""
        be = self.backend
        host = be.to_numpy(target)
        np.add.at(host, _host_index(be, index), be.to_numpy(values))
        return be.asarray(host)


def _host_index(backend: Backend, index: Any) -> Any:
    if isinstance(index, tuple):
        return tuple(_host_index(backend, part) for part in index)
    return backend.to_numpy(index) if backend.is_array(index) else index


PORTABLE: dict[str, type[Kernels]] = {cls.family: cls for cls in (
    ActivationKernels, ConvKernels, DropoutKernels, LinearKernels, LossKernels, MatmulKernels,
    NormKernels, OptimKernels, PoolKernels, ReduceKernels, ShapeKernels)}


def portable_kernels(family: str) -> type[Kernels]:
    """The portable kernel class of ``family``; an unknown family is a KeyError naming the
    known ones."""
    try:
        return PORTABLE[family]
    except KeyError:
        raise KeyError(f"no kernel family {family!r}; known: {', '.join(sorted(PORTABLE))}") \
            from None
