"""The CuPy backend's fast paths, by op family: dropout's fused Philox kernels (element-wise and
spatial), the stored-mask select of ReLU's backward, convolution and pooling in a
few launches a layer (``cuda_conv_source.py``), and a native scatter-add. Imported only where
CuPy runs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
from dataclasses import dataclass
from typing import Any

import cupy
import numpy as np  # typed scalars for kernel arguments

from .capture import CaptureError
from .cublas_direct import GEMMS, WORKSPACE_BYTES, DirectBlas, loaded_library
from .cuda_conv_source import CONV_KERNEL_NAMES
from .cuda_source import CTYPES
from .cupy_fused_kernels import fused_families
from .generator import keep_threshold
from .kernels import (
    ActivationKernels,
    ConvKernels,
    DropoutKernels,
    PoolKernels,
    ShapeKernels,
    weight_matrix,
    weight_shape,
)
from .matmul_kernels import MatmulKernels
from .philox import Draw, PhiloxStreamGenerator


@dataclass(frozen=True)
class RegeneratedMask:
    """What a dropout node saves when the backend regenerates masks: the Philox stream position
    and threshold (zero bytes per element)."""

    seed: int
    offset: int
    threshold: int
    shape: tuple[int, ...]
    position: Any = None  # in a captured step: the generator's device position ...
    delta: int | None = None  # ... and the draw's place in the step

    @property
    def draw(self) -> Draw:
        """The forward pass's draw, which backward redraws."""
        return Draw(self.seed, self.offset, self.position, self.delta)


@dataclass(frozen=True)
class RegeneratedChannelMask(RegeneratedMask):
    """A spatial dropout node's regenerated mask: ``shape`` is the saved mask's (N, C, 1, ...),
    whose N*C elements are the stream's (N, C) draw; the plane size comes from the gradient."""


def _stream_arguments(draw: Draw, backend: Any) -> tuple[str, tuple]:
    """The kernel name suffix and the (seed, offset) arguments of a Philox kernel for ``draw``:
    by value eagerly, ``_at`` (device position, delta) in a captured step. Drawing by value
    while the backend captures (a generator other than the backend's) would repeat one mask on
    every replay: an error."""
    if draw.position is not None:
        return "_at", (draw.position, np.uint64(draw.delta))
    if getattr(backend, "capturing", False):
        raise CaptureError(
            f"dropout inside td.jit on backend {backend.name!r} draws from a generator that is "
            "not the backend's: a captured step would replay the same mask every time. Use the "
            "backend's generator (td.manual_seed seeds it) inside a jitted function.")
    return "", (np.uint64(draw.seed), np.uint64(draw.offset))


def _fusable(x: Any) -> bool:
    return isinstance(x, cupy.ndarray) and x.dtype.name in CTYPES


def _vector(*arrays: Any) -> np.int32:
    """1 when every array starts on a 4-element boundary (the kernels' vector loads)."""
    return np.int32(all(a.data.ptr % (4 * a.itemsize) == 0 for a in arrays))


def masked_scale(backend: Any, x: Any, mask: Any, divisor: float) -> Any | None:
    """``x * mask / divisor`` for the boolean ``mask`` in one fused pass, the NumPy backend's
    arithmetic bit for bit (dropout: a dropped NaN or inf is NaN, a dropped negative -0, as
    PyTorch's): a mask of x's shape, or a per-channel mask (N, C, 1, ...) of ``x`` (N, C, *)
    (spatial dropout's); None where no kernel applies (dtype, mask type or shape): the caller
    falls back."""
    if not (_fusable(x) and mask.dtype == cupy.bool_):
        return None
    if mask.shape == x.shape:
        kernel, plane = "td_masked_scale", ()
    elif x.ndim > 2 and mask.shape == _channel_shape(x):
        kernel, plane = "td_channel_masked_scale", (np.uint64(_plane(x)),)
    else:
        return None
    return _apply_mask(backend, kernel, x, mask, (*plane, x.dtype.type(divisor)))


def masked_select(backend: Any, x: Any, mask: Any) -> Any | None:
    """``x`` where the boolean ``mask`` (of x's shape) is True, 0 elsewhere, even where ``x``
    is NaN or inf (ReLU's and clamp's backward, PyTorch's where), in one fused pass; None where
    the kernel does not apply: the caller falls back."""
    if not (_fusable(x) and mask.dtype == cupy.bool_ and mask.shape == x.shape):
        return None
    return _apply_mask(backend, "td_masked_select", x, mask, ())


def _apply_mask(backend: Any, kernel: str, x: Any, mask: Any, extra: tuple) -> Any:
    """One launch of the stored-mask ``kernel`` (x, mask, out, n, *``extra``, vector)."""
    x, mask = cupy.ascontiguousarray(x), cupy.ascontiguousarray(mask)
    out = cupy.empty_like(x)
    if x.size:
        backend.launch(x.dtype.name, kernel, x.size,
                       (x, mask, out, np.uint64(x.size), *extra, _vector(x)))
    return out


def _channel_shape(x: Any) -> tuple[int, ...]:
    """The shape (N, C, 1, ...) of a per-channel mask of ``x`` (N, C, *)."""
    return tuple(x.shape[:2]) + (1,) * (x.ndim - 2)


def _plane(x: Any) -> int:
    """Elements per (sample, channel) of ``x`` (N, C, *)."""
    return math.prod(x.shape[2:])


class CupyActivationKernels(ActivationKernels):
    """ReLU's backward through the fused stored-mask select."""

    def relu_backward(self, g: Any, positive: Any) -> Any:
        out = masked_select(self.backend, g, positive)
        return super().relu_backward(g, positive) if out is None else out


class CupyDropoutKernels(DropoutKernels):
    """One-pass Philox dropout, element-wise and spatial: forward writes the output, a 1-byte
    mask per element or per channel (or nothing, with ``backend.regenerate_masks``) and the kept
    count; backward reads or redraws the mask."""

    def forward(self, x: Any, keep: float, divisor: float,
                generator: Any) -> tuple[Any, Any, Any]:
        if not self._fuses(x, generator):  # e.g. a host PhiloxGenerator: the portable path
            return super().forward(x, keep, divisor, generator)
        return self._fused_forward(x, keep, divisor, generator, x.shape, RegeneratedMask,
                                   "td_dropout_forward", ())

    def channel_forward(self, x: Any, keep: float, divisor: float,
                        generator: Any) -> tuple[Any, Any, Any]:
        if not (self._fuses(x, generator) and x.size):  # no elements: the mask drawn alone
            return super().channel_forward(x, keep, divisor, generator)
        return self._fused_forward(x, keep, divisor, generator, _channel_shape(x),
                                   RegeneratedChannelMask, "td_dropout2d_forward",
                                   (np.uint64(_plane(x)),))

    @staticmethod
    def _fuses(x: Any, generator: Any) -> bool:
        """Whether the fused kernels draw this call: a device Philox generator, a float x."""
        on_device = isinstance(generator, PhiloxStreamGenerator) and generator.xp is cupy
        return on_device and _fusable(x)

    def _fused_forward(self, x: Any, keep: float, divisor: float, generator: Any,
                       mask_shape: tuple[int, ...], regenerated: type, kernel: str,
                       plane: tuple) -> tuple[Any, Any, Any]:
        """``forward`` in one launch of ``kernel`` (``plane``: its extra size argument, spatial
        dropout's), the mask of ``mask_shape`` stored or described by ``regenerated``; draws
        at the generator's next offset, advancing it by one as ``bernoulli_mask`` does."""
        x = cupy.ascontiguousarray(x)
        out = cupy.empty_like(x)
        kept = cupy.zeros((), dtype=cupy.uint64)
        threshold, draw = keep_threshold(keep), generator.take_draw()
        suffix, stream = _stream_arguments(draw, self.backend)
        if self.backend.regenerate_masks:
            mask, saved = None, regenerated(draw.seed, draw.offset, threshold, mask_shape,
                                            draw.position, draw.delta)
        else:
            mask = saved = cupy.empty(mask_shape, dtype=bool)
        if x.size:
            self.backend.launch(x.dtype.name, kernel + suffix, x.size, (
                x, out, np.uint64(0) if mask is None else mask, np.uint64(x.size), *plane,
                np.uint32(threshold), x.dtype.type(divisor), *stream, kept, _vector(x)))
        return out, saved, kept

    def backward(self, g: Any, saved: Any, divisor: float) -> Any:
        if not isinstance(saved, RegeneratedMask):
            return super().backward(g, saved, divisor)
        kernel, plane = "td_dropout_backward_regen", ()
        if isinstance(saved, RegeneratedChannelMask):
            kernel, plane = "td_dropout2d_backward_regen", (np.uint64(_plane(g)),)
        suffix, stream = _stream_arguments(saved.draw, self.backend)
        g = cupy.ascontiguousarray(g)
        dx = cupy.empty_like(g)
        if g.size:
            self.backend.launch(g.dtype.name, kernel + suffix, g.size, (
                g, dx, np.uint64(g.size), *plane, np.uint32(saved.threshold),
                g.dtype.type(divisor), *stream, _vector(g)))
        return dx

    def mask(self, saved: Any) -> Any:
        if not isinstance(saved, RegeneratedMask):
            return saved
        return self.drawn_mask(saved.shape, saved.threshold, saved.draw)

    def masked_scale(self, x: Any, mask: Any, divisor: float) -> Any:
        out = masked_scale(self.backend, x, mask, divisor)
        return super().masked_scale(x, mask, divisor) if out is None else out

    def keep_mask(self, shape: tuple[int, ...], threshold: int, seed: int, offset: int) -> Any:
        """The boolean mask of the Philox stream at (``seed``, ``offset``): word < threshold."""
        return self.drawn_mask(shape, threshold, Draw(seed, offset))

    def drawn_mask(self, shape: tuple[int, ...], threshold: int, draw: Draw) -> Any:
        """``keep_mask`` at ``draw`` (from the device position in a captured step)."""
        suffix, stream = _stream_arguments(draw, self.backend)
        mask = cupy.empty(shape, dtype=bool)
        if mask.size:
            self.backend.launch("float32", "td_keep_mask" + suffix, mask.size, (
                mask, np.uint64(mask.size), np.uint32(threshold), *stream))
        return mask

    def advance_position(self, position: Any, draws: int) -> None:
        """Add ``draws`` to the device offset ``position[1]`` (a captured step's last kernel)."""
        self.backend.launch("float32", "td_advance_offset", 1, (position, np.uint64(draws)))


class CupyMatmulKernels(MatmulKernels):
    """Products with a 2-D float32 or float64 right operand (what linear, conv and most matmul
    calls are; the left operand may have batch dimensions) by cuBLAS called directly
    (``cublas_direct``): they can be captured into a CUDA graph. Others go to ``cupy.matmul``,
    which cannot be captured (a ``CaptureError`` then, saying so)."""

    def __init__(self, backend: Any) -> None:
        super().__init__(backend)
        self._blas: DirectBlas | None = None

    def matmul(self, a: Any, b: Any) -> Any:
        if not (isinstance(a, cupy.ndarray) and isinstance(b, cupy.ndarray) and b.ndim == 2
                and a.ndim >= 1 and a.dtype == b.dtype and a.dtype.name in GEMMS
                and a.shape[-1] == b.shape[0]):
            if getattr(self.backend, "capturing", False):
                raise CaptureError(
                    f"matmul of shapes {a.shape} and {b.shape}, dtypes {a.dtype} and {b.dtype} "
                    f"inside td.jit on backend {self.backend.name!r}: only products with a 2-D "
                    "float32 or float64 right operand of the left one's dtype are captured "
                    "(CuPy's matmul refuses stream capture); reshape or cast the operands, or "
                    "call the function without td.jit")
            return cupy.matmul(a, b)
        if a.ndim == 2:  # as it is: a transposed view is read transposed, not copied
            return self.blas().matmul(a, b)
        out = self.blas().matmul(cupy.reshape(a, (-1, a.shape[-1])), b)
        return cupy.reshape(out, (*a.shape[:-1], b.shape[1]))

    def blas(self) -> DirectBlas:
        """The cuBLAS caller on CuPy's handle for this device (made on first use)."""
        if self._blas is None:
            handle = cupy.cuda.device.get_cublas_handle()  # loads cuBLAS
            path = loaded_library("libcublas.so") or ctypes.util.find_library("cublas")
            if path is None:
                raise RuntimeError("backend 'cupy': cuBLAS is not among the loaded libraries")
            workspace = cupy.empty((WORKSPACE_BYTES,), dtype=cupy.uint8)
            self._blas = DirectBlas(ctypes.CDLL(path), handle, workspace, cupy,
                                    lambda: cupy.cuda.get_current_stream().ptr)
        return self._blas


def launches_conv_kernels(backend: Any) -> bool:
    """Whether ``backend.launch`` runs the kernels of ``cuda_conv_source``: the backend lists
    them in its ``kernel_names`` (a backend that does not takes the portable paths)."""
    return set(CONV_KERNEL_NAMES) <= set(getattr(backend, "kernel_names", ()))


def _sizes(*values: int) -> tuple[np.uint32, ...]:
    """Sizes and geometry as the kernels' ``unsigned int`` arguments."""
    return tuple(np.uint32(v) for v in values)


class CupyConvKernels(ConvKernels):
    """Convolution in five kernel launches forward and backward together, besides the products
    (the portable kernels launch dozens). Forward: ``td_im2col`` rows first (C*KH*KW, N,
    OH*OW), one product per group with the weight (a single 2-D product without groups: no
    broadcast copies, no sum over samples), ``td_swap01`` to (N, OC, OH, OW) adding the bias.
    Backward: ``td_swap01`` of the output gradient to (OC, N*OH*OW); the weight's gradient as
    one product with the rebuilt columns; the input's as ``td_col2im`` of W^T g (a gather onto
    zeros: no atomics, no zero fill). Padding is one ``td_pad``. ``columns`` and ``col2im``
    keep their portable layouts and sums bit for bit. Portable paths for other dtypes, host
    arrays, or a backend that does not launch these kernels. One-group products go through the
    backend's matmul kernels where it has them (CuPy's: cuBLAS called directly, so a conv
    layer can be captured by ``td.jit``), else ``cupy.matmul``."""

    def __init__(self, backend: Any) -> None:
        super().__init__(backend)
        self.fused = launches_conv_kernels(backend)
        has_products = "matmul" in getattr(backend, "kernel_families", {})
        self.product = backend.kernels("matmul").matmul if has_products else cupy.matmul

    def _fuses(self, *arrays: Any) -> bool:
        return self.fused and all(_fusable(a) for a in arrays if a is not None)

    def pad(self, x: Any, padding: tuple[int, int]) -> Any:
        if not self._fuses(x):
            return super().pad(x, padding)
        x = cupy.ascontiguousarray(x)
        n, c, h, w = x.shape
        out = cupy.empty((n, c, h + 2 * padding[0], w + 2 * padding[1]), dtype=x.dtype)
        if out.size:
            self.backend.launch(x.dtype.name, "td_pad", out.size, (
                x, out, np.uint64(n * c), *_sizes(h, w, *padding)))
        return out

    def forward(self, x: Any, weight: Any, bias: Any, geometry: tuple) -> Any:
        if not self._fuses(x, weight, bias):
            return super().forward(x, weight, bias, geometry)
        kernel, stride, dilation, out_hw, groups = geometry
        n, oc, positions = x.shape[0], weight.shape[0], out_hw[0] * out_hw[1]
        cols = self._columns(x, kernel, stride, dilation, out_hw, rows_outer=True)
        product = _grouped_matmul(self.product, weight_matrix(cupy, weight, groups),
                                  _by_group(cols, groups))  # (OC, N, L)
        out = cupy.empty((n, oc, *out_hw), dtype=x.dtype)
        self._swap01(product, bias, out, (oc, n, positions))
        return out

    def backward(self, g: Any, x: Any, weight: Any, geometry: tuple, shape: tuple[int, ...],
                 need_w: bool, need_x: bool) -> tuple[Any, Any]:
        if not self._fuses(g, x if need_w else None, weight if need_x else None):
            return super().backward(g, x, weight, geometry, shape, need_w, need_x)
        kernel, stride, dilation, out_hw, groups = geometry
        n, c, oc, positions = shape[0], shape[1], g.shape[1], out_hw[0] * out_hw[1]
        rows_g = cupy.empty((oc, n, positions), dtype=g.dtype)
        self._swap01(g, None, rows_g, (n, oc, positions))
        rows_g = _by_group(rows_g, groups)
        gw = gx = None
        if need_w:
            cols = self._columns(x, kernel, stride, dilation, out_hw, rows_outer=True)
            gw = _grouped_matmul(self.product, rows_g,
                                 cupy.swapaxes(_by_group(cols, groups), 1, 2))
            gw = cupy.reshape(gw, weight_shape(c, oc, kernel, groups))
        if need_x:
            gcols = _grouped_matmul(self.product,
                                    cupy.swapaxes(weight_matrix(cupy, weight, groups), 1, 2),
                                    rows_g)  # (C*KH*KW, N, L)
            gx = cupy.empty(shape, dtype=g.dtype)
            self._col2im(gcols, gx, kernel, stride, dilation, out_hw,
                         (positions, n * positions), accumulate=False)
        return gw, gx

    def columns(self, x: Any, kernel: tuple[int, int], stride: tuple[int, int],
                dilation: tuple[int, int], out_hw: tuple[int, int]) -> Any:
        if not self._fuses(x):
            return super().columns(x, kernel, stride, dilation, out_hw)
        return self._columns(x, kernel, stride, dilation, out_hw, rows_outer=False)

    def col2im(self, cols: Any, out: Any, stride: tuple[int, int],
               dilation: tuple[int, int]) -> None:
        if not (self._fuses(cols, out) and out.flags.c_contiguous and out.dtype == cols.dtype):
            return super().col2im(cols, out, stride, dilation)
        kernel, out_hw = tuple(cols.shape[2:4]), tuple(cols.shape[4:])
        positions = out_hw[0] * out_hw[1]
        self._col2im(cols, out, kernel, stride, dilation, out_hw,
                     (cols.shape[1] * kernel[0] * kernel[1] * positions, positions),
                     accumulate=True)
        return None

    def _columns(self, x: Any, kernel: tuple[int, int], stride: tuple[int, int],
                 dilation: tuple[int, int], out_hw: tuple[int, int], rows_outer: bool) -> Any:
        """One ``td_im2col`` launch: (N, C*KH*KW, L), or with ``rows_outer`` (C*KH*KW, N, L)."""
        x = cupy.ascontiguousarray(x)
        n, c, hp, wp = x.shape
        rows, positions = c * kernel[0] * kernel[1], out_hw[0] * out_hw[1]
        cols = cupy.empty((rows, n, positions) if rows_outer else (n, rows, positions),
                          dtype=x.dtype)
        if cols.size:
            self.backend.launch(x.dtype.name, "td_im2col", cols.size, (
                x, cols, np.uint64(n), *_sizes(c, hp, wp, *kernel, *stride, *dilation, *out_hw),
                np.int32(rows_outer)))
        return cols

    def _col2im(self, cols: Any, out: Any, kernel: tuple[int, int], stride: tuple[int, int],
                dilation: tuple[int, int], out_hw: tuple[int, int], strides: tuple[int, int],
                accumulate: bool) -> None:
        """One ``td_col2im`` launch into contiguous ``out`` (N, C, Hp, Wp) from ``cols``, whose
        (sample, row) strides once contiguous are ``strides`` (elements)."""
        n, c, hp, wp = out.shape
        if out.size:
            geometry = _sizes(c, hp, wp, *kernel, *stride, *dilation, *out_hw)
            self.backend.launch(out.dtype.name, "td_col2im", out.size, (
                cupy.ascontiguousarray(cols), out, np.uint64(n), *geometry,
                np.uint64(strides[0]), np.uint64(strides[1]), np.int32(accumulate)))

    def _swap01(self, src: Any, bias: Any, dst: Any, shape: tuple[int, int, int]) -> None:
        """``dst[b, a, l] = src[a, b, l] (+ bias[a])`` for ``src`` of ``shape`` (a, b, l) and
        contiguous ``dst``, in one ``td_swap01`` launch."""
        if dst.size:
            bias = np.uint64(0) if bias is None else cupy.ascontiguousarray(bias)  # 0: NULL
            self.backend.launch(dst.dtype.name, "td_swap01", dst.size, (
                cupy.ascontiguousarray(src), bias, dst, *(np.uint64(v) for v in shape)))


def _grouped_matmul(product: Any, a: Any, b: Any) -> Any:
    """``a @ b`` over their leading group axis. One group (the usual case) is one 2-D
    ``product``, which cuBLAS reads transposed operands for as they are; CuPy's batched product
    would copy them (and a broadcast operand) first."""
    if a.shape[0] == 1:
        return cupy.reshape(product(a[0], b[0]), (1, a.shape[1], b.shape[2]))
    return cupy.matmul(a, b)


def _by_group(rows: Any, groups: int) -> Any:
    """Rows-first ``rows`` (R, N, L) as (groups, R/groups, N*L): a view."""
    return cupy.reshape(rows, (groups, rows.shape[0] // groups, rows.shape[1] * rows.shape[2]))


class CupyPoolKernels(PoolKernels):
    """Max and average pooling, forward and backward, one launch each (the portable kernels
    loop over the kh*kw kernel positions with several launches each); the padding is virtual
    (no padded copy), backward a gather (no zero fill, no atomics). Values, positions and
    gradients are the portable ones bit for bit. Portable paths for other dtypes, host arrays,
    max pooling over more than 256 positions, or a backend that does not launch these
    kernels."""

    def __init__(self, backend: Any) -> None:
        super().__init__(backend)
        self.fused = launches_conv_kernels(backend)

    def _fuses(self, x: Any, kernel: tuple[int, int] = (1, 1)) -> bool:
        """Whether the kernels take ``x``; with ``kernel``, whether its positions fit the
        1-byte index max pooling records."""
        return self.fused and _fusable(x) and kernel[0] * kernel[1] <= 256

    def max_forward(self, x: Any, kernel: tuple[int, int], stride: tuple[int, int],
                    padding: tuple[int, int], out_hw: tuple[int, int]) -> tuple[Any, Any]:
        if not self._fuses(x, kernel):
            return super().max_forward(x, kernel, stride, padding, out_hw)
        x = cupy.ascontiguousarray(x)
        out = cupy.empty((*x.shape[:2], *out_hw), dtype=x.dtype)
        where = cupy.empty(out.shape, dtype=cupy.uint8)
        if out.size:
            self.backend.launch(x.dtype.name, "td_max_pool_forward", out.size, (
                x, out, where, *_pool_geometry(x.shape, kernel, stride, padding, out_hw),
                x.dtype.type(-np.inf)))
        return out, where

    def max_backward(self, g: Any, where: Any, in_shape: tuple[int, ...],
                     kernel: tuple[int, int], stride: tuple[int, int],
                     padding: tuple[int, int]) -> Any:
        if not (self._fuses(g, kernel) and where.dtype == cupy.uint8):
            return super().max_backward(g, where, in_shape, kernel, stride, padding)
        dx = cupy.empty(in_shape, dtype=g.dtype)
        if dx.size:
            self.backend.launch(g.dtype.name, "td_max_pool_backward", dx.size, (
                cupy.ascontiguousarray(g), cupy.ascontiguousarray(where), dx,
                *_pool_geometry(in_shape, kernel, stride, padding, g.shape[2:]),
                np.int32(self.disjoint(kernel, stride))))
        return dx

    def avg_forward(self, x: Any, kernel: tuple[int, int], stride: tuple[int, int],
                    padding: tuple[int, int], out_hw: tuple[int, int]) -> Any:
        if not self._fuses(x):
            return super().avg_forward(x, kernel, stride, padding, out_hw)
        x = cupy.ascontiguousarray(x)
        out = cupy.empty((*x.shape[:2], *out_hw), dtype=x.dtype)
        if out.size:
            self.backend.launch(x.dtype.name, "td_avg_pool_forward", out.size, (
                x, out, *_pool_geometry(x.shape, kernel, stride, padding, out_hw)))
        return out

    def avg_backward(self, g: Any, in_shape: tuple[int, ...], kernel: tuple[int, int],
                     stride: tuple[int, int], padding: tuple[int, int]) -> Any:
        if not self._fuses(g):
            return super().avg_backward(g, in_shape, kernel, stride, padding)
        dx = cupy.empty(in_shape, dtype=g.dtype)
        if dx.size:
            self.backend.launch(g.dtype.name, "td_avg_pool_backward", dx.size, (
                cupy.ascontiguousarray(g), dx,
                *_pool_geometry(in_shape, kernel, stride, padding, g.shape[2:]),
                np.int32(self.disjoint(kernel, stride))))
        return dx


def _pool_geometry(shape: tuple[int, ...], kernel: tuple[int, int], stride: tuple[int, int],
                   padding: tuple[int, int], out_hw: tuple[int, ...]) -> tuple:
    """The pool kernels' shared arguments for input ``shape`` (N, C, H, W): planes, H, W,
    kernel, stride, padding, output size."""
    n, c, h, w = shape
    return (np.uint64(n * c), *_sizes(h, w, *kernel, *stride, *padding, *out_hw))


class CupyShapeKernels(ShapeKernels):
    """Scatter-add in place with ``cupy.add.at``."""

    def scatter_add(self, target: Any, index: Any, values: Any) -> Any:
        cupy.add.at(target, index, values)
        return target


FAMILIES = {**{cls.family: cls for cls in (CupyActivationKernels, CupyConvKernels,
                                           CupyDropoutKernels, CupyMatmulKernels,
                                           CupyPoolKernels, CupyShapeKernels)},
            **fused_families(CupyActivationKernels)}
