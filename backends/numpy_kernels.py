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
    ConvKernels,
    DropoutKernels,
    Kernels,
    LinearKernels,
    NormKernels,
    PoolKernels,
    ReduceKernels,
    ShapeKernels,
    tap_slice,
    weight_matrix,
    weight_shape,
)


def masked_scale(x: np.ndarray, mask: np.ndarray, divisor: float = 1.0) -> np.ndarray:
    """``x * mask / divisor``, PyTorch's dropout arithmetic: ``x / divisor`` where ``mask`` is
    True, ``x * 0`` elsewhere (0, -0.0 for a negative x, NaN for NaN or inf)."""
    with np.errstate(invalid="ignore"):  # inf * 0 is NaN, as in PyTorch, which does not warn
        out = np.multiply(x, mask)
    if divisor != 1:
        np.divide(out, divisor, out=out)  # in place: no second temporary
    return out


def all_finite(a: np.ndarray) -> bool:
    """Whether ``a`` holds no NaN or inf. For contiguous float32/64 arrays by one BLAS dot
    product with itself (~2x faster than ``np.isfinite(a).all()``), confirmed element by
    element only when that sum is not finite (a NaN, an inf, or squares that overflow)."""
    if a.dtype in (np.float32, np.float64) and a.flags.c_contiguous and a.size:
        flat = a.reshape(-1)  # the method: np.reshape's wrapper costs ~0.5 us more
        with np.errstate(over="ignore", invalid="ignore"):  # an answer, not a warning
            if np.isfinite(np.dot(flat, flat)):
                return True
    return bool(np.isfinite(a).all())


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


class ZerosByDtype(dict):
    """A read-only 0-d zero per floating dtype, made on first use; None for other dtypes (a
    bool or integer zero would change the result's dtype where a Python 0 does not)."""

    def __missing__(self, dtype: Any) -> np.ndarray | None:
        zero = None
        if dtype.kind == "f":
            zero = np.zeros((), dtype)
            zero.flags.writeable = False
        self[dtype] = zero
        return zero


class NumpyActivationKernels(ActivationKernels):
    """ReLU against a cached 0-d zero of the array's dtype: NumPy then skips converting a
    Python 0 on every call (~0.25 us instead of ~0.5 us a ufunc on small arrays; the same loops
    run, so the values are the portable version's). ReLU's backward for large arrays as a
    boolean multiply where the gradient is finite."""

    # Up to this many elements ``where`` against the cached zero (~0.9 us at 16 elements,
    # ~3.1 us at 4096) beats the finiteness check plus multiply (~2.7 us and ~3.6 us), whose
    # fixed cost dominates there; the two meet near 8192 elements, and above, the multiply's
    # lower cost per element wins.
    SMALL = 4096

    def __init__(self, backend: Any) -> None:
        super().__init__(backend)
        self._zeros = ZerosByDtype()

    def relu(self, a: np.ndarray, need_mask: bool) -> tuple[np.ndarray, Any]:
        zero = self._zeros[a.dtype]
        if zero is None:
            return super().relu(a, need_mask)
        out = np.maximum(a, zero)
        return out, (np.not_equal(out, zero) if need_mask else None)

    def relu_backward(self, g: np.ndarray, positive: np.ndarray) -> np.ndarray:
        if g.size <= self.SMALL:  # the portable version, against a cached zero where it can
            zero = self._zeros[g.dtype]
            return np.where(positive, g, 0 if zero is None else zero)
        if not all_finite(g):  # g * False would be NaN for a NaN or inf g; PyTorch has 0
            return super().relu_backward(g, positive)
        return np.multiply(g, positive)


class NumpyConvKernels(ColumnSumKernels, ConvKernels):
    """im2col as one copy of a strided window view, col2im as in-place strided adds, both over
    blocks of samples whose columns (~``BLOCK_BYTES``) stay in cache while the product that
    makes or consumes them runs: the columns never exist whole, and backward rebuilds them
    from the saved input. Products write straight into the NCHW output and input gradient (no
    transposes). On the seed CNN's second layer (batch 128, 32 -> 64 channels, 26x26, float32,
    2 cores) forward+backward took 95 ms with whole-batch columns (85 MB) and 68 ms in blocks
    of 2 samples, of which ~43 ms are the three products. Stride 1 builds flat columns over the
    input's width instead (``_flat_columns``): ~7% less for that layer's forward+backward."""

    BLOCK_BYTES = 3 << 19

    def _blocks(self, n: int, sample_bytes: int) -> range:
        """Starts of the sample blocks: as many samples as keep a block's columns near
        ``BLOCK_BYTES``, at least one."""
        return range(0, n, max(1, self.BLOCK_BYTES // max(sample_bytes, 1)))

    def forward(self, x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
                geometry: tuple) -> np.ndarray:
        kernel, stride, dilation, (oh, ow), groups = geometry
        n, oc = x.shape[0], weight.shape[0]
        wmat = weight_matrix(np, weight, groups)
        out = np.empty((n, oc, oh, ow), dtype=x.dtype)
        grouped = np.reshape(out, (n, groups, oc // groups, oh * ow))
        blocks = self._blocks(n, weight[0].size * groups * oh * ow * x.itemsize)
        if stride == (1, 1):
            with np.errstate(invalid="ignore"):  # inf weights meet the dropped zero columns
                return self._flat_forward(x, wmat, bias, geometry, out, blocks)
        for start in blocks:
            stop = start + blocks.step
            cols = self.columns(x[start:stop], kernel, stride, dilation, (oh, ow))
            np.matmul(wmat, np.reshape(cols, (cols.shape[0], groups, -1, oh * ow)),
                      out=grouped[start:stop])
            if bias is not None:  # while the block is in cache
                block = out[start:stop]
                np.add(block, np.reshape(bias, (1, oc, 1, 1)), out=block)
        return out

    def backward(self, g: np.ndarray, x: np.ndarray | None, weight: np.ndarray | None,
                 geometry: tuple, shape: tuple[int, ...], need_w: bool,
                 need_x: bool) -> tuple[np.ndarray | None, np.ndarray | None]:
        # The flat (stride-1) products also multiply wrap-around values by zeros, harmless
        # unless those values are inf or NaN (0 * inf = NaN where PyTorch has a finite
        # gradient): a non-finite weight or weight gradient takes the exact columns instead.
        flat = geometry[1] == (1, 1) and (weight is None or all_finite(weight))
        with np.errstate(invalid="ignore"):  # PyTorch does not warn about NaN either
            gw, gx = self._backward(g, x, weight, geometry, shape, need_w, need_x, flat)
        if flat and gw is not None and not all_finite(gw):
            gw, _ = self._backward(g, x, weight, geometry, shape, True, False, False)
        return gw, gx

    def _backward(self, g: np.ndarray, x: np.ndarray | None, weight: np.ndarray | None,
                  geometry: tuple, shape: tuple[int, ...], need_w: bool, need_x: bool,
                  flat: bool) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Backward over flat (stride 1) or exact columns, in blocks of samples."""
        kernel, stride, dilation, out_hw, groups = geometry
        n, c = shape[:2]
        oc, per, taps = g.shape[1], out_hw[0] * out_hw[1], c * kernel[0] * kernel[1]
        gw = np.zeros((groups, oc // groups, taps // groups), g.dtype) if need_w else None
        blocks = self._blocks(n, taps * per * g.itemsize)
        gx = (np.empty if flat else np.zeros)(shape, g.dtype) if need_x else None
        if need_x:
            wmat_t = np.swapaxes(weight_matrix(np, weight, groups), 1, 2)
        if flat:
            spread = _FlatCol2im(shape, out_hw, kernel, dilation, oc, blocks.step, g.dtype)
            per = out_hw[0] * shape[3]  # the flat columns run over the input's width
            buffer = np.zeros((min(blocks.step, n), taps, per), g.dtype) if need_w else None
        else:
            buffer = None
        for start in blocks:
            stop = start + blocks.step
            if flat:  # the output gradient padded with zero columns to the input's width
                gg = np.reshape(spread.pad(g[start:stop]), (-1, groups, oc // groups, per))
            else:
                gg = np.reshape(g[start:stop], (-1, groups, oc // groups, per))
            if need_w:
                cols = self.columns(x[start:stop], kernel, stride, dilation, out_hw, buffer)
                cols = np.reshape(cols, (cols.shape[0], groups, -1, per))
                gw += np.sum(np.matmul(gg, np.swapaxes(cols, 2, 3)), axis=0)
            if flat and need_x:
                spread(gg.shape[0], wmat_t, groups, gx[start:stop])
            elif need_x:
                gcols = np.matmul(wmat_t, gg)  # (b, G, C/G*KH*KW, L)
                self.col2im(np.reshape(gcols, (gg.shape[0], c, *kernel, *out_hw)),
                            gx[start:stop], stride, dilation)
        if gw is not None:
            gw = np.reshape(gw, weight_shape(c, oc, kernel, groups))
        return gw, gx

    def _flat_forward(self, x: np.ndarray, wmat: np.ndarray, bias: np.ndarray | None,
                      geometry: tuple, out: np.ndarray, blocks: range) -> np.ndarray:
        """Stride-1 forward over flat columns (see ``_flat_columns``): the product runs over
        the input's width and the block's output keeps its first OW columns."""
        kernel, _, dilation, (oh, ow), groups = geometry
        n, c, _, wd = x.shape
        oc = out.shape[1]
        block = min(blocks.step, n)
        buffer = np.zeros((block, c * kernel[0] * kernel[1], oh * wd), x.dtype)
        wide = np.empty((block, oc, oh, wd), x.dtype)
        for start in blocks:
            stop = min(start + blocks.step, n)
            b = stop - start
            cols = self.columns(x[start:stop], kernel, (1, 1), dilation, (oh, ow), buffer)
            np.matmul(wmat, np.reshape(cols, (b, groups, -1, oh * wd)),
                      out=np.reshape(wide[:b], (b, groups, oc // groups, oh * wd)))
            if bias is None:
                out[start:stop] = wide[:b, :, :, :ow]
            else:  # the bias added in the copy out of the wide block
                np.add(wide[:b, :, :, :ow], np.reshape(bias, (1, oc, 1, 1)), out=out[start:stop])
        return out

    def columns(self, x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
                dilation: tuple[int, int], out_hw: tuple[int, int],
                buffer: np.ndarray | None = None) -> np.ndarray:
        """The columns (N, C*KH*KW, OH*OW) of ``x``; with ``buffer`` (stride 1 only) the flat
        columns (N, C*KH*KW, OH*W) written into it (see ``_flat_columns``)."""
        if buffer is not None:
            return _flat_columns(x, kernel, dilation, out_hw, buffer)
        span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True))
        windows = np.lib.stride_tricks.sliding_window_view(x, span, axis=(2, 3))
        windows = windows[:, :, :stride[0] * (out_hw[0] - 1) + 1:stride[0],
                          :stride[1] * (out_hw[1] - 1) + 1:stride[1],
                          ::dilation[0], ::dilation[1]]  # (N, C, OH, OW, KH, KW)
        cols = np.ascontiguousarray(np.transpose(windows, (0, 1, 4, 5, 2, 3)))
        return np.reshape(cols, (x.shape[0], -1, out_hw[0] * out_hw[1]))

    def col2im(self, cols: np.ndarray, out: np.ndarray, stride: tuple[int, int],
               dilation: tuple[int, int]) -> None:
        kh, kw, oh, ow = cols.shape[2:]
        for i in range(kh):
            for j in range(kw):
                view = out[:, :, tap_slice(i, dilation[0], stride[0], oh),
                           tap_slice(j, dilation[1], stride[1], ow)]
                np.add(view, cols[:, :, i, j], out=view)  # in place, no temporary

    def bias_grad(self, g: np.ndarray) -> np.ndarray:
        n, oc = g.shape[:2]
        if g.flags.c_contiguous:  # per-(sample, channel) sums by BLAS, then the batch
            per_map = self.column_sums(np.reshape(g, (n * oc, -1)).T)
            return np.sum(np.reshape(per_map, (n, oc)), axis=0)
        return np.sum(g, axis=(0, 2, 3))


def _flat_columns(x: np.ndarray, kernel: tuple[int, int], dilation: tuple[int, int],
                  out_hw: tuple[int, int], buffer: np.ndarray) -> np.ndarray:
    """Stride-1 columns over the input's width W: row (c, i, j) of sample n is the flat input
    ``x[n, c].ravel()[i*dh*W + j*dw:][:(OH-1)*W + OW]``, one contiguous copy per kernel tap
    (~2.5 against ~6 ms for the seed CNN's second layer); columns OW..W-1 of each output row
    are wrap-around values (and zeros at the end), dropped by the caller. ``buffer``
    (block, C*KH*KW, OH*W) is zeroed once by the caller; returns its first len(x) samples."""
    b, c, hp, wp = x.shape
    (kh, kw), (dh, dw), (oh, ow) = kernel, dilation, out_hw
    length, flat = (oh - 1) * wp + ow, np.reshape(x, (b, c, hp * wp))
    taps = np.reshape(buffer[:b], (b, c, kh * kw, oh * wp))
    for i in range(kh):
        for j in range(kw):
            offset = i * dh * wp + j * dw
            taps[:, :, i * kw + j, :length] = flat[:, :, offset:offset + length]
    return buffer[:b]


class _FlatCol2im:
    """The input gradient of a stride-1 convolution for blocks of samples, col2im without 2-D
    strided adds: the output gradient padded with zero columns to the input's width Wp makes
    every kernel tap's shift one flat offset (i*dh*Wp + j*dw), so each tap is one contiguous
    add (the zero columns land on the wrap-around). 25 against 30 ms on the seed CNN's second
    layer. Buffers are made once per backward."""

    def __init__(self, shape: tuple[int, ...], out_hw: tuple[int, int], kernel: tuple[int, int],
                 dilation: tuple[int, int], out_channels: int, block: int, dtype: Any) -> None:
        _, c, self.hp, self.wp = shape
        self.out_hw, self.kernel, self.dilation = out_hw, kernel, dilation
        self.padded = np.zeros((block, out_channels, out_hw[0], self.wp), dtype)
        slack = (kernel[1] - 1) * dilation[1]  # the last row's zero columns run past the end
        self.sums = np.empty((block, c, self.hp * self.wp + slack), dtype)

    def pad(self, g: np.ndarray) -> np.ndarray:
        """The block ``g`` (b, OC, OH, OW) padded with zero columns to (b, OC, OH, Wp)."""
        padded = self.padded[:g.shape[0]]
        padded[..., :self.out_hw[1]] = g
        return padded

    def __call__(self, b: int, wmat_t: np.ndarray, groups: int, out: np.ndarray) -> None:
        """Write the input gradient of the last block given to ``pad`` (``b`` samples) into
        ``out``."""
        (oh, _), (kh, kw), (dh, dw), wp = self.out_hw, self.kernel, self.dilation, self.wp
        padded, sums, oc = self.padded[:b], self.sums[:b], self.padded.shape[1]
        gcols = np.matmul(wmat_t, np.reshape(padded, (b, groups, oc // groups, oh * wp)))
        gcols = np.reshape(gcols, (b, out.shape[1], kh * kw, oh * wp))
        sums[...] = 0
        for i in range(kh):
            for j in range(kw):
                offset = i * dh * wp + j * dw
                view = sums[:, :, offset:offset + oh * wp]
                np.add(view, gcols[:, :, i * kw + j], out=view)
        out[...] = np.reshape(sums[:, :, :self.hp * wp], out.shape)


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


class NumpyPoolKernels(PoolKernels):
    """Max pooling with in-place ufuncs: the maxima by ``np.maximum(..., out=)``, then the first
    maximal position by comparing each kernel position with them; backward multiplies into
    (non-overlapping windows) or adds onto strided views of the gradient."""

    def max_forward(self, x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
                    padding: tuple[int, int], out_hw: tuple[int, int]) -> tuple[Any, Any]:
        positions = kernel[0] * kernel[1]
        if positions > 255:  # the uint8 trick below needs K - k to fit a byte
            return super().max_forward(x, kernel, stride, padding, out_hw)
        padded = self.padded(x, padding, -np.inf)
        views = [padded[window] for _, window in self.windows(kernel, stride, out_hw)]
        best = views[0].copy()
        for view in views[1:]:
            np.maximum(best, view, out=best)
        if np.isnan(best).any():  # NaN wins in its own window: the portable rule places it
            return super().max_forward(x, kernel, stride, padding, out_hw)
        # The first maximal position is K - max_k (K - k) * [view_k == best]: byte arithmetic
        # in place, ~3x faster than masked assignment (np.copyto(where=)).
        first = np.zeros(best.shape, np.uint8)
        equal = np.empty(best.shape, bool)
        weighted = equal.view(np.uint8)
        for k, view in enumerate(views):
            np.equal(view, best, out=equal)
            np.multiply(weighted, np.uint8(positions - k), out=weighted)
            np.maximum(first, weighted, out=first)
        np.subtract(np.uint8(positions), first, out=first)
        return best, first

    def max_backward(self, g: np.ndarray, where: np.ndarray, in_shape: tuple[int, ...],
                     kernel: tuple[int, int], stride: tuple[int, int],
                     padding: tuple[int, int]) -> np.ndarray:
        if not all_finite(g):  # g * False would be NaN where PyTorch has 0
            return super().max_backward(g, where, in_shape, kernel, stride, padding)
        grad = self.padded_zeros(in_shape, padding, g.dtype)
        disjoint = self.disjoint(kernel, stride)
        chosen = np.empty(where.shape, bool)
        for k, window in self.windows(kernel, stride, g.shape[2:]):
            np.equal(where, k, out=chosen)
            if disjoint:  # each input element is in one window at most: write, not add
                np.multiply(g, chosen, out=grad[window])
            else:
                grad[window] += g * chosen
        return self.cropped(grad, padding)


class NumpyReduceKernels(ReduceKernels):
    """Sums by the array's method: NumPy's function wraps it at twice the cost on small arrays
    (1.6 against 0.8 us); the same loops run, so the values are the portable version's."""

    def sum(self, a: np.ndarray, axis: Any = None, keepdims: bool = False) -> Any:
        if axis is None and not keepdims:
            return a.sum()
        return a.sum(axis=axis, keepdims=keepdims)


class NumpyShapeKernels(ShapeKernels):
    """Scatter-add in place with ``np.add.at``."""

    def scatter_add(self, target: np.ndarray, index: Any, values: Any) -> np.ndarray:
        np.add.at(target, index, values)
        return target


FAMILIES = {cls.family: cls for cls in (NumpyActivationKernels, NumpyConvKernels,
                                        NumpyDropoutKernels,
                                        NumpyLinearKernels, NumpyNormKernels, NumpyPoolKernels,
                                        NumpyReduceKernels, NumpyShapeKernels)}
