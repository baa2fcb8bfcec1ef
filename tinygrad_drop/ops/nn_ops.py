"""Neural-network ops kept as single graph nodes with a hand-written backward."""

from __future__ import annotations

import math
from typing import Any

from ..autograd import Op


class Softmax(Op):
    """exp(x - max) / sum(exp(x - max)) along ``axis``; dx = s * (g - sum(g * s))."""

    name = "softmax"

    def attributes(self) -> dict[str, Any]:
        return {"axis": self.axis}

    def forward(self, x: Any) -> Any:
        xp = self.backend.xp
        e = xp.exp(x - xp.max(x, axis=self.axis, keepdims=True))
        out = e / xp.sum(e, axis=self.axis, keepdims=True)
        self.saved = out
        return out

    def backward(self, g: Any) -> tuple[Any]:
        s = self.saved
        return (s * (g - self.backend.xp.sum(g * s, axis=self.axis, keepdims=True)),)


class LogSoftmax(Op):
    """x - max - log(sum(exp(x - max))) along ``axis`` (finite for any finite x);
    dx = g - softmax * sum(g)."""

    name = "log_softmax"

    def attributes(self) -> dict[str, Any]:
        return {"axis": self.axis}

    def forward(self, x: Any) -> Any:
        xp = self.backend.xp
        shifted = x - xp.max(x, axis=self.axis, keepdims=True)
        out = shifted - xp.log(xp.sum(xp.exp(shifted), axis=self.axis, keepdims=True))
        self.saved = out
        return out

    def backward(self, g: Any) -> tuple[Any]:
        xp = self.backend.xp
        return (g - xp.exp(self.saved) * xp.sum(g, axis=self.axis, keepdims=True),)


class Dropout(Op):
    """Dropout as one graph node. Training: ``x * mask / keep`` (inverted) or ``x * mask``
    (vanilla), the mask drawn from ``generator`` with P(keep) = ``keep`` and saved as booleans
    (1 byte/element; the CuPy backend can instead redraw it from its seed in backward);
    backward is ``grad * mask / keep`` or ``grad * mask``. Inference (vanilla only; inverted
    inference is the identity and records no node): ``x * keep``. keep = 0 gives zeros and zero
    gradients (never 0/0)."""

    name = "dropout"

    def attributes(self) -> dict[str, Any]:
        attrs = {"p": self.p, "mode": self.mode, "training": self.training}
        if self.training:
            attrs["dropped"] = self.dropped_fraction()
        return attrs

    def dropped_fraction(self) -> float:
        """Fraction of elements this pass actually dropped."""
        return 1.0 - float(self.kept) / self.size if self.size else 0.0

    @property
    def divisor(self) -> float:
        return self.keep if self.mode == "inverted" else 1.0

    def forward(self, x: Any) -> Any:
        be = self.backend
        self.size = math.prod(x.shape)
        if not self.training:
            return x * self.keep
        if self.keep == 0.0:
            self.kept = 0
            return be.xp.zeros(x.shape, dtype=x.dtype)
        # kept stays on the device until it is shown
        out, self.saved, self.kept = be.dropout_forward(x, self.keep, self.divisor,
                                                        self.generator or be.generator)
        return out

    def backward(self, g: Any) -> tuple[Any]:
        if not self.training:
            return (g * self.keep,)
        if self.keep == 0.0:
            return (self.backend.xp.zeros(g.shape, dtype=g.dtype),)
        return (self.backend.dropout_backward(g, self.saved, self.divisor),)

    def mask(self) -> Any:
        """The boolean keep-mask of this training pass, as a backend array (until backward
        frees it)."""
        if not self.training or self.keep == 0.0:
            raise ValueError("dropout: only a training pass with p < 1 draws a mask")
        if self.saved is None:
            raise RuntimeError("dropout: the mask was freed by backward (use retain_graph=True)")
        return self.backend.dropout_mask(self.saved)


class Linear(Op):
    """x @ weight.T + bias with weight (out_features, in_features); x may have leading batch
    dims. Backward: dx = g @ W, dW = g^T x, db = sum of g over the batch dims."""

    name = "linear"

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
        out = xp.matmul(x, xp.matrix_transpose(weight))
        if bias is not None:
            out += bias  # in place: the matmul output is ours
        return out

    def backward(self, g: Any) -> tuple[Any, Any, Any]:
        xp = self.backend.xp
        x, weight = self.saved
        need_x, need_w, need_b = self.needs_input_grad
        g2 = xp.reshape(g, (-1, g.shape[-1]))
        gx = xp.matmul(g, weight) if need_x else None
        x2 = xp.reshape(x, (-1, x.shape[-1]))
        gw = xp.matmul(xp.matrix_transpose(g2), x2) if need_w else None
        gb = self.backend.sum_rows(g2) if need_b else None
        return gx, gw, gb


class BatchNorm(Op):
    """Batch normalisation over every axis but 1 (inputs (N, C) or (N, C, L)), PyTorch's
    semantics. Training: normalise with the batch mean and biased variance, and update the
    running statistics (given as Tensors) with the unbiased one:
    ``running = (1 - momentum) * running + momentum * batch``. Inference: normalise with the
    running statistics. Saves the normalised input and 1/std."""

    name = "batch_norm"

    def attributes(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "eps": self.eps, "training": self.training}

    def forward(self, x: Any, weight: Any = None, bias: Any = None) -> Any:
        xp = self.backend.xp
        if x.ndim not in (2, 3):
            raise ValueError(f"batch_norm: expected input of shape (N, C) or (N, C, L), "
                             f"got {x.shape}")
        channels = x.shape[1]
        for name, t in (("running_mean", self.running_mean), ("running_var", self.running_var),
                        ("weight", weight), ("bias", bias)):
            shape = t.shape if t is not None else None
            if shape is not None and tuple(shape) != (channels,):
                raise ValueError(f"batch_norm: {name} has shape {tuple(shape)} but the input "
                                 f"{x.shape} has {channels} channels")
        self.axes = (0,) if x.ndim == 2 else (0, 2)
        stat_shape = (1, channels) if x.ndim == 2 else (1, channels, 1)
        count = x.shape[0] * (1 if x.ndim == 2 else x.shape[2])
        use_batch = self.training or self.running_mean is None
        self.stat_shape, self.count = stat_shape, count
        if use_batch:
            if count <= 1:
                raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                                 f"training, got input of shape {x.shape}")
            mean = self._batch_mean(x)
            centred = x - mean
            var = self._batch_mean(centred * centred)
            if self.training and self.running_mean is not None:
                self._update_running(xp.reshape(mean, (channels,)),
                                     xp.reshape(var, (channels,)) * (count / (count - 1)))
        else:
            mean = xp.reshape(self.running_mean.data, stat_shape)
            var = xp.reshape(self.running_var.data, stat_shape)
            centred = x - mean
        inv_std = 1 / xp.sqrt(var + self.eps)
        self.use_batch = use_batch
        # Saved: the centred input and 1/std (xhat = centred * inv_std, never materialised).
        self.saved = (centred, inv_std, weight)
        scale = inv_std * xp.reshape(weight, stat_shape) if weight is not None else inv_std
        out = centred * scale  # one pass for normalise-and-scale
        if bias is not None:
            out += xp.reshape(bias, stat_shape)  # in place: out is a fresh array
        return out

    def _batch_mean(self, a: Any) -> Any:
        """Mean over every axis but 1, kept as (1, C[, 1]); 2-D input as a matrix product."""
        if a.ndim == 2:
            return self.backend.xp.reshape(self.backend.sum_rows(a), self.stat_shape) / self.count
        return self.backend.xp.mean(a, axis=self.axes, keepdims=True)

    def _update_running(self, batch_mean: Any, unbiased_var: Any) -> None:
        factor = self.momentum
        for stat, batch in ((self.running_mean, batch_mean), (self.running_var, unbiased_var)):
            stat.data = (1 - factor) * stat.data + factor * self.backend.xp.astype(
                batch, stat.data.dtype)

    def backward(self, g: Any) -> tuple[Any, Any, Any]:
        # With c = x - mean, s = 1/std, a = w*s (per channel), S = sum(g), T = sum(g*c):
        # dW = s*T, db = S, and (training) dx = a*g - a*S/n - a*s**2*c*T/n, i.e.
        # dx = g*a + c*k1 + k0 with per-channel k1 = -a*s**2*T/n, k0 = -a*S/n: one product
        # pass for the sums, three for dx.
        xp = self.backend.xp
        centred, inv_std, weight = self.saved
        need_x, need_w, need_b = self.needs_input_grad
        sums = self.backend.sum_rows if g.ndim == 2 else (lambda t: xp.sum(t, axis=self.axes))
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


class CrossEntropy(Op):
    """Fused log-softmax + negative log-likelihood of integer class targets; logits (N, C) or
    (C,). loss_i = logsumexp(z_i) - z_i[t_i], computed from z - max(z) so any finite logits give
    finite results. Backward: (softmax(z) - onehot(t)) * g, over N for the mean."""

    name = "cross_entropy"

    def attributes(self) -> dict[str, Any]:
        return {"reduction": self.reduction}

    def forward(self, logits: Any, target: Any) -> Any:
        xp = self.backend.xp
        single = logits.ndim == 1
        if single:
            logits, target = logits[None, :], xp.reshape(target, (1,))
        if logits.ndim != 2 or target.shape != (logits.shape[0],):
            raise ValueError(f"cross_entropy: expected logits (N, C) and target (N,), got "
                             f"logits {logits.shape} and target {target.shape}")
        if not xp.isdtype(target.dtype, "integral"):
            raise TypeError(f"cross_entropy: target must hold integer class indices, got dtype "
                            f"{target.dtype}")
        classes = logits.shape[1]
        if target.shape[0]:  # each int() waits for the device: two, not five
            lowest, highest = int(xp.min(target)), int(xp.max(target))
            if lowest < 0 or highest >= classes:
                bad = lowest if lowest < 0 else highest
                raise ValueError(f"cross_entropy: target {bad} is out of range for {classes} "
                                 "classes")
        shifted = logits - xp.max(logits, axis=1, keepdims=True)
        log_norm = xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))
        picked = xp.take_along_axis(shifted, xp.reshape(target, (-1, 1)), axis=1)
        losses = xp.reshape(log_norm - picked, (-1,))
        self.saved = (shifted - log_norm, target, single)
        if self.reduction == "mean":
            return xp.mean(losses)
        if self.reduction == "sum":
            return xp.sum(losses)
        return losses[0] if single else losses

    def backward(self, g: Any) -> tuple[Any, None]:
        xp = self.backend.xp
        log_probs, target, single = self.saved
        n, classes = log_probs.shape
        onehot = xp.reshape(target, (-1, 1)) == xp.reshape(
            xp.arange(classes, dtype=target.dtype), (1, -1))
        grad = xp.exp(log_probs) - xp.astype(onehot, log_probs.dtype)
        if self.reduction == "mean":
            grad = grad * (g / n)
        elif self.reduction == "sum":
            grad = grad * g
        else:
            grad = grad * xp.reshape(g, (-1, 1))
        return (grad[0] if single else grad), None
