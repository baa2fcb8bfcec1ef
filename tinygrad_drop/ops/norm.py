"""Batch normalisation over (N, C, *) as one graph node, pure: the updated running statistics
are outputs, never written into anything the op was handed."""

from __future__ import annotations

import math
from typing import Any

from ..autograd import Op, format_value


class BatchNorm(Op):
    """Batch normalisation over every axis but 1 of (N, C, *) input, PyTorch's semantics.

    Training (or no running statistics): normalise with the batch mean and biased variance.
    Given ``running_mean`` and ``running_var`` ((C,) arrays, only read), training also returns
    their update ``(1 - momentum) * running + momentum * batch`` (unbiased variance) as the extra
    outputs, None otherwise. Inference normalises with the running statistics. Saves the centred
    input and 1/std."""

    name = "batch_norm"
    style = "normalisation"
    kernel_family = "norm"
    extra_outputs = ("running_mean", "running_var")
    shown = ("momentum", "eps", "training")
    training: bool
    momentum: float = 0.1
    eps: float = 1e-5
    running_mean: Any = None
    running_var: Any = None

    def describe(self) -> list[str]:
        return [self.name, f"momentum={format_value(self.momentum)}, eps={format_value(self.eps)}",
                "train: batch statistics" if self.training else "eval: running stats"]

    def forward(self, x: Any, weight: Any = None, bias: Any = None) -> tuple[Any, Any, Any]:
        xp = self.backend.xp
        self._check(x, weight, bias)
        channels = x.shape[1]
        self.stat_shape = (1, channels) + (1,) * (x.ndim - 2)
        self.count = math.prod(x.shape) // channels if channels else 0
        self.use_batch = self.training or self.running_mean is None
        new_mean = new_var = None
        if self.use_batch:
            if self.count <= 1:
                raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                                 f"training, got input of shape {x.shape}")
            mean = self._channel_mean(x)
            centred = x - mean
            var = self._channel_mean(centred * centred)
            if self.training and self.running_mean is not None:
                new_mean, new_var = self._updated_running(mean, var)
        else:
            mean = xp.reshape(self.running_mean, self.stat_shape)
            var = xp.reshape(self.running_var, self.stat_shape)
            centred = x - mean
        inv_std = 1 / xp.sqrt(var + self.eps)
        # Saved: the centred input and 1/std (xhat = centred * inv_std, never materialised).
        self.saved = (centred, inv_std, weight)
        scale = inv_std * xp.reshape(weight, self.stat_shape) if weight is not None else inv_std
        out = centred * scale  # one pass for normalise-and-scale
        if bias is not None:
            out += xp.reshape(bias, self.stat_shape)  # in place: out is a fresh array
        return out, new_mean, new_var

    def _check(self, x: Any, weight: Any, bias: Any) -> None:
        if x.ndim < 2:
            raise ValueError(f"batch_norm: expected input of shape (N, C, *), got {x.shape}")
        if (self.running_mean is None) != (self.running_var is None):
            raise ValueError("batch_norm: give both running_mean and running_var, or neither")
        channels = x.shape[1]
        for name, array in (("running_mean", self.running_mean),
                            ("running_var", self.running_var), ("weight", weight),
                            ("bias", bias)):
            if array is not None and tuple(array.shape) != (channels,):
                raise ValueError(f"batch_norm: {name} has shape {tuple(array.shape)} but the "
                                 f"input {x.shape} has {channels} channels")

    def _channel_mean(self, a: Any) -> Any:
        """Mean over every axis but 1, kept as (1, C, 1, ...)."""
        return self.backend.xp.reshape(self.kernels.channel_sums(a), self.stat_shape) / self.count

    def _updated_running(self, batch_mean: Any, batch_var: Any) -> tuple[Any, Any]:
        xp, factor = self.backend.xp, self.momentum
        mean = xp.reshape(batch_mean, (-1,))
        var = xp.reshape(batch_var, (-1,)) * (self.count / (self.count - 1))  # unbiased
        if mean.dtype != self.running_mean.dtype:
            mean, var = (xp.astype(a, self.running_mean.dtype) for a in (mean, var))
        return ((1 - factor) * self.running_mean + factor * mean,
                (1 - factor) * self.running_var + factor * var)

    def backward(self, g: Any) -> tuple[Any, Any, Any]:
        # With c = x - mean, s = 1/std, a = w*s (per channel), S = sum(g), T = sum(g*c):
        # dW = s*T, db = S, and (training) dx = a*g - a*S/n - a*s**2*c*T/n, i.e.
        # dx = g*a + c*k1 + k0 with per-channel k1 = -a*s**2*T/n, k0 = -a*S/n: one product
        # pass for the sums, three for dx.
        xp = self.backend.xp
        centred, inv_std, weight = self.saved
        need_x, need_w, need_b = self.needs_input_grad
        sums = self.kernels.channel_sums
        g_sum = xp.reshape(sums(g), self.stat_shape)
        gc_sum = xp.reshape(sums(g * centred), self.stat_shape)
        gx = None
        if need_x:
            a = inv_std * xp.reshape(weight, self.stat_shape) if weight is not None else inv_std
            gx = g * a
            if self.use_batch:
                gx += centred * (-a * inv_std * inv_std * gc_sum / self.count)
                gx -= a * g_sum / self.count
        gw = xp.reshape(inv_std * gc_sum, (-1,)) if need_w else None
        gb = xp.reshape(g_sum, (-1,)) if need_b else None
        return gx, gw, gb
