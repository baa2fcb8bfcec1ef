"""The portable kernels of batch normalisation (the ``norm`` family), in Array-API operations: the
per-channel sums, forward with the running statistics' update, backward. The CuPy backend does
each direction in one launch (``cupy_fused_kernels``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .kernel_family import Kernels


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
