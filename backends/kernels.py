"""Kernels: per op family, the array work a backend may do its own way, looked up by family
name (``backend.kernels("dropout")``). The classes here are the portable versions, written
against the Array API standard alone; a backend's own classes (fused CUDA kernels, BLAS
tricks) subclass them and override what they speed up. Ops call kernels and never ask which
backend they are on.

Adding a family: a subclass of ``Kernels`` here with a ``family`` name and its methods, listed
in ``PORTABLE``; backends add theirs to ``Backend.kernel_families``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np  # host fallback of scatter_add only: the Array API has no scatter

if TYPE_CHECKING:  # pragma: no cover
    from .base import Backend
    from .generator import Generator


class Kernels:
    """The kernels of one op family on one backend (``self.backend``, ``self.xp``)."""

    family: ClassVar[str] = ""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.xp = backend.xp


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


class LossKernels(Kernels):
    """Softmax cross-entropy in its common case: (rows, C) logits, integer class targets (rows,),
    no class weights or smoothing; reduction 'mean', 'sum' or 'none'."""

    family = "loss"

    def cross_entropy(self, logits: Any, target: Any, reduction: str, ignore_index: Any = None,
                      record: Any = None, site: int = -1) -> tuple[Any, Any]:
        """``(loss, saved)``: per row log(sum(exp(z))) - z[t] (computed from z - max(z)),
        their mean or sum over the rows counted, or the (rows,) losses ('none'). A row whose
        target is ``ignore_index`` (None: no row is) is not counted: loss 0, gradient 0, not
        in the mean's count. Without ``record`` every other target lies in [0, C) (the caller
        checked them). With ``record`` (an int64 array, on the device) a target outside
        [0, C) is not counted either and never read through, and ``record[:2]`` becomes
        ``[1, bad]`` if ``record[0]`` is 0, ``bad`` the lowest such target if it is negative,
        else the highest, for the caller to report at its next host read; with ``site`` >= 0
        also ``record[2] = site`` (a deferred check's record, ``deferred_checks``). The mean
        over no rows is NaN."""
        xp = self.xp
        rows, classes = logits.shape
        shifted = logits - xp.max(logits, axis=1, keepdims=True)
        log_norm = xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))
        counted = None if ignore_index is None else target != ignore_index
        if record is not None:
            in_range = (target >= 0) & (target < classes)
            bad = ~in_range if counted is None else counted & ~in_range
            self._record_bad(record, site, target, bad)
            counted = in_range if counted is None else counted & in_range
        t = target
        if counted is not None:
            t = xp.where(counted, target, xp.zeros((), dtype=target.dtype))
        picked = xp.take_along_axis(shifted, xp.reshape(t, (-1, 1)), axis=1)
        losses = xp.reshape(log_norm - picked, (-1,))
        count = None
        if counted is not None:
            losses = xp.where(counted, losses, xp.zeros((), dtype=losses.dtype))
            count = xp.sum(xp.astype(counted, logits.dtype))
        saved = (shifted - log_norm, t, counted, count, reduction)
        if reduction == "none":
            return losses, saved
        total = xp.sum(losses)
        return (_mean(xp, total, rows, count) if reduction == "mean" else total), saved

    def _record_bad(self, record: Any, site: int, target: Any, bad: Any) -> None:
        """``record`` = [1, the bad target to name: the lowest if it is negative, else the
        highest, ``site`` (if >= 0)] when ``bad`` holds a True and ``record[0]`` is 0;
        unchanged else."""
        xp = self.xp
        if not target.shape[0]:
            return
        lowest = xp.min(xp.where(bad, target, xp.iinfo(target.dtype).max))
        highest = xp.max(xp.where(bad, target, xp.iinfo(target.dtype).min))
        named = xp.where(lowest < 0, lowest, highest)
        fields = [xp.ones((), dtype=record.dtype), xp.astype(named, record.dtype)]
        if site >= 0:
            fields.append(xp.full((), site, dtype=record.dtype))
        part = slice(0, len(fields))
        first = xp.logical_and(record[0] == 0, xp.any(bad))
        record[part] = xp.where(first, xp.stack(fields), record[part])

    def cross_entropy_backward(self, g: Any, saved: Any) -> Any:
        """The (rows, C) logits' gradient from the loss's ``g`` and what ``cross_entropy``
        saved: (softmax(z) - onehot(t)) * g (/ the count for the mean), 0 on rows not
        counted."""
        xp = self.xp
        log_probs, t, counted, count, reduction = saved
        rows, classes = log_probs.shape
        probs = xp.exp(log_probs)
        onehot = xp.reshape(t, (-1, 1)) == xp.arange(classes, dtype=t.dtype)
        if reduction == "none":
            scale = xp.reshape(g, (-1, 1))
        elif reduction == "sum":
            scale = g
        elif count is None:
            scale = g / rows if rows else g
        else:
            empty = count == 0
            scale = xp.where(empty, 0.0, g / xp.where(empty, 1.0, count))
        grad = (probs - xp.astype(onehot, probs.dtype)) * scale
        if counted is not None:
            grad = xp.where(xp.reshape(counted, (-1, 1)), grad, xp.zeros((), dtype=grad.dtype))
        return grad


def _mean(xp: Any, total: Any, rows: int, count: Any) -> Any:
    """``total`` over ``count`` (None: ``rows``), NaN where that is 0 (without 0/0's warning)."""
    if count is None:
        return total / rows if rows else xp.full((), math.nan, dtype=total.dtype)
    empty = count == 0
    return xp.where(empty, math.nan, total / xp.where(empty, 1.0, count))


@dataclass(frozen=True)
class NormSaved:
    """What batch normalisation's forward keeps for backward (portable kernels): the centred
    input, 1/std as (1, C, 1, ...), whether the batch statistics normalised, the per-channel
    count and the statistics' shape."""

    centred: Any
    inv_std: Any
    batch_stats: bool
    count: int
    stat_shape: tuple[int, ...]


class NormKernels(Kernels):
    """Batch normalisation of (N, C, *) over every axis but 1 (ops/norm.py checks the
    arguments): forward, its saved state, backward."""

    family = "norm"

    def channel_sums(self, x: Any) -> Any:
        """Sums of ``x`` (N, C, *) over every axis but 1, shaped (C,)."""
        return self.xp.sum(x, axis=(0, *range(2, x.ndim)))

    def forward(self, x: Any, weight: Any, bias: Any, running: tuple[Any, Any] | None,
                batch_stats: bool, update: bool, momentum: float, eps: float,
                in_place: bool) -> tuple[Any, Any, tuple[Any, Any] | None]:
        """``(out, saved, new_running)``. With ``batch_stats`` normalise with the batch mean
        and biased variance, else with ``running`` (mean, var). With ``update`` (needs
        ``batch_stats`` and ``running``): ``new_running`` = ``(1 - momentum) * running +
        momentum * batch`` (unbiased variance), written into the running arrays with
        ``in_place`` (then returned as they are), new arrays otherwise; else None."""
        xp = self.xp
        channels = x.shape[1]
        stat_shape = (1, channels) + (1,) * (x.ndim - 2)
        count = math.prod(x.shape) // channels if channels else 0
        new_running = None
        if batch_stats:
            mean = xp.reshape(self.channel_sums(x), stat_shape) / count
            centred = x - mean
            var = xp.reshape(self.channel_sums(centred * centred), stat_shape) / count
            if update:
                new_running = self.updated_running(running, mean, var, count, momentum,
                                                   in_place)
        else:
            mean = xp.reshape(running[0], stat_shape)
            var = xp.reshape(running[1], stat_shape)
            centred = x - mean
        inv_std = 1 / xp.sqrt(var + eps)
        scale = inv_std * xp.reshape(weight, stat_shape) if weight is not None else inv_std
        out = centred * scale  # one pass for normalise-and-scale
        if bias is not None:
            out += xp.reshape(bias, stat_shape)  # in place: out is a fresh array
        return out, NormSaved(centred, inv_std, batch_stats, count, stat_shape), new_running

    def updated_running(self, running: tuple[Any, Any], batch_mean: Any, batch_var: Any,
                        count: int, momentum: float, in_place: bool) -> tuple[Any, Any]:
        """The running statistics moved ``momentum`` of the way to the batch's (the variance
        unbiased), cast to the running arrays' dtype; into them with ``in_place``."""
        xp = self.xp
        running_mean, running_var = running
        mean = xp.reshape(batch_mean, (-1,))
        var = xp.reshape(batch_var, (-1,)) * (count / (count - 1))  # unbiased
        if mean.dtype != running_mean.dtype:
            mean, var = (xp.astype(a, running_mean.dtype) for a in (mean, var))
        new = ((1 - momentum) * running_mean + momentum * mean,
               (1 - momentum) * running_var + momentum * var)
        if not in_place:
            return new
        running_mean[...], running_var[...] = new
        return running

    def backward(self, g: Any, saved: Any, weight: Any,
                 need: tuple[bool, bool, bool]) -> tuple[Any, Any, Any]:
        """The gradients of (input, weight, bias) from the output's ``g`` and what ``forward``
        saved; None for those not in ``need``."""
        # With c = x - mean, s = 1/std, a = w*s (per channel), S = sum(g), T = sum(g*c):
        # dW = s*T, db = S, and (batch statistics) dx = a*g - a*S/n - a*s**2*c*T/n, i.e.
        # dx = g*a + c*k1 + k0 with per-channel k1 = -a*s**2*T/n, k0 = -a*S/n: one product
        # pass for the sums, three for dx.
        xp = self.xp
        centred, inv_std, shape = saved.centred, saved.inv_std, saved.stat_shape
        need_x, need_w, need_b = need
        g_sum = xp.reshape(self.channel_sums(g), shape)
        gc_sum = xp.reshape(self.channel_sums(g * centred), shape)
        gx = None
        if need_x:
            a = inv_std * xp.reshape(weight, shape) if weight is not None else inv_std
            gx = g * a
            if saved.batch_stats:
                gx += centred * (-a * inv_std * inv_std * gc_sum / saved.count)
                gx -= a * g_sum / saved.count
        gw = xp.reshape(inv_std * gc_sum, (-1,)) if need_w else None
        gb = xp.reshape(g_sum, (-1,)) if need_b else None
        return gx, gw, gb


class OptimKernels(Kernels):
    """Optimizer steps over a list of parameters (``values``, updated in place), their
    gradients and their state dicts (made and then updated in place: every state array is the
    same array from one step to the next, as a replayed CUDA graph needs), PyTorch's formulas
    and operation order (tinygrad_drop/optim.py documents them). The portable versions update
    one parameter after another; a backend may update all at once."""

    family = "optim"

    def sgd(self, values: list[Any], grads: list[Any], states: list[dict[str, Any]],
            lr: float, momentum: float, weight_decay: float, nesterov: bool) -> None:
        """SGD with momentum (``momentum_buffer``, a copy of the first gradient), nesterov and
        weight decay; ``states`` is only read with momentum."""
        xp = self.xp
        for value, grad, state in zip(values, grads, states, strict=True):
            if weight_decay:
                grad = grad + weight_decay * value
            if momentum:
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = xp.asarray(grad, copy=True)  # not p.grad
                else:
                    buf *= momentum  # = momentum * buf + grad, rounded the same
                    buf += grad
                grad = grad + momentum * buf if nesterov else buf
            value -= lr * grad

    def adam(self, values: list[Any], grads: list[Any], states: list[dict[str, Any]],
             lr: float, betas: tuple[float, float], eps: float, weight_decay: float) -> None:
        """Adam (L2 weight decay): ``exp_avg``, ``exp_avg_sq`` and the ``step`` count."""
        xp = self.xp
        b1, b2 = betas
        for value, grad, state in zip(values, grads, states, strict=True):
            if weight_decay:
                grad = grad + weight_decay * value
            step = state["step"] = int(state.get("step", 0)) + 1
            m, v = state.get("exp_avg"), state.get("exp_avg_sq")
            if m is None:
                m = state["exp_avg"] = xp.zeros_like(value)
                v = state["exp_avg_sq"] = xp.zeros_like(value)
            change = grad - m  # m + (1 - b1) * (grad - m): PyTorch's lerp form
            change *= 1 - b1
            m += change
            square = grad * (1 - b2)  # b2 * v + (1 - b2) * grad * grad
            square *= grad
            v *= b2
            v += square
            denom = xp.sqrt(v) / math.sqrt(1 - b2 ** step) + eps
            value -= (lr / (1 - b1 ** step)) * (m / denom)

    def adadelta(self, values: list[Any], grads: list[Any], states: list[dict[str, Any]],
                 lr: float, rho: float, eps: float, weight_decay: float) -> None:
        """Adadelta: ``square_avg``, ``acc_delta`` and the ``step`` count."""
        xp = self.xp
        for value, grad, state in zip(values, grads, states, strict=True):
            if weight_decay:
                grad = grad + weight_decay * value
            square_avg = state.get("square_avg")
            if square_avg is None:
                square_avg = state["square_avg"] = xp.zeros_like(value)
                state["acc_delta"] = xp.zeros_like(value)
            acc_delta = state["acc_delta"]
            state["step"] = state.get("step", 0) + 1
            # Each temporary is made once and then worked on in place: a 9216x128 layer has no
            # array to spare (grad may be p.grad's array and is never written). Products in
            # PyTorch's order, (1 - rho) * g * g, so that float64 agrees to the last bits.
            scaled = grad * (1 - rho)
            scaled *= grad
            square_avg *= rho
            square_avg += scaled
            delta = xp.sqrt(acc_delta + eps)
            delta /= xp.sqrt(square_avg + eps)
            delta *= grad
            scaled = delta * (1 - rho)
            scaled *= delta
            acc_delta *= rho
            acc_delta += scaled
            if lr != 1.0:  # the seed's lr is 1: no multiply
                delta *= lr
            value -= delta


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
    ActivationKernels, ConvKernels, DropoutKernels, LinearKernels, LossKernels, NormKernels,
    OptimKernels, PoolKernels, ShapeKernels)}


def portable_kernels(family: str) -> type[Kernels]:
    """The portable kernel class of ``family``; an unknown family is a KeyError naming the
    known ones."""
    try:
        return PORTABLE[family]
    except KeyError:
        raise KeyError(f"no kernel family {family!r}; known: {', '.join(sorted(PORTABLE))}") \
            from None
