"""Losses as single graph nodes with hand-written backwards: softmax cross-entropy (fused and
stable, class indices or class probabilities), negative log-likelihood, binary cross-entropy
on probabilities and on logits. PyTorch's semantics throughout (``ignore_index``, class
``weight``, ``label_smoothing``, ``pos_weight``, reductions); shape and target checks are in
``loss_targets``."""

from __future__ import annotations

import math
from typing import Any

from ..autograd import Op
from ..dtypes import native_category
from .loss_targets import (
    check_class_input,
    class_target_shape,
    from_rows,
    kept_targets,
    mean_scale,
    out_of_range,
    reduce,
    to_rows,
)


class _ClassLoss(Op):
    """A loss over classes on axis 1 of (N, C, d1, ...) (axis 0 of (C,)); ``weight`` (C,) or
    None is a constant (PyTorch refuses its gradient)."""

    reduction: str = "mean"
    ignore_index: int = -100

    def prepare(self, x: Any, target: Any, weight: Any, probabilities: bool = False) -> Any:
        """Check the inputs; return ``x`` as rows (M, C). Sets ``self.kept``, the mask of the
        targets that count (None: all do)."""
        check_class_input(self.name, x, target, weight, probabilities)
        self.soft = probabilities
        self.kept = None if probabilities else kept_targets(
            self.name, self.backend, target, x.shape[0 if x.ndim == 1 else 1],
            self.ignore_index)
        return to_rows(self.backend.xp, x)

    def picked(self, log_probs: Any, target: Any, weight: Any) -> tuple[Any, ...]:
        """Per row: log p[t], its weight w[t] (0 where ignored; None: all 1), the kept rows
        (None: all) and the mean's divisor (None: the row count)."""
        xp = self.backend.xp
        t = xp.reshape(target, (-1,))
        keep = None if self.kept is None else xp.reshape(self.kept, (-1,))
        if keep is not None:
            t = xp.where(keep, t, 0)
        picked = xp.take_along_axis(log_probs, xp.reshape(t, (-1, 1)), axis=1)[:, 0]
        row_w = None if weight is None else xp.take(weight, t)
        if keep is not None:
            row_w = (xp.astype(keep, log_probs.dtype) if row_w is None
                     else xp.where(keep, row_w, 0.0))
        count = None if row_w is None else xp.sum(row_w)
        return t, picked, row_w, keep, count

    def onehot(self, t: Any, classes: int) -> Any:
        """Booleans (M, C): True at each row's class ``t``."""
        xp = self.backend.xp
        return xp.reshape(t, (-1, 1)) == xp.arange(classes, dtype=t.dtype)

    def finish(self, losses: Any, keep: Any, count: Any, out_shape: tuple[int, ...]) -> Any:
        """Zero the ignored rows, then reduce (the mean over ``count``) or reshape."""
        xp = self.backend.xp
        if keep is not None:
            losses = xp.where(keep, losses, 0.0)
        if self.reduction == "none":
            return xp.reshape(losses, out_shape)
        return reduce(xp, losses, self.reduction, count)

    def row_scale(self, g: Any, rows: int, count: Any) -> Any:
        """The output gradient per row, (M, 1) or a scalar."""
        xp = self.backend.xp
        if self.reduction == "none":
            return xp.reshape(g, (-1, 1))
        return mean_scale(xp, g, self.reduction, rows, count)


class CrossEntropy(_ClassLoss):
    """Fused log-softmax and negative log-likelihood. Logits (N, C, d1, ...) or (C,); target
    integer class indices (N, d1, ...) or (), or class probabilities of the logits' shape.
    With weight w, smoothing e and log-probabilities l: loss = -(1 - e) w[t] l[t] -
    (e / C) sum_c w[c] l[c] per kept position, the mean over sum w[t] of the kept ones (class
    indices) or over N * d1 * ... (probabilities, each smoothed to (1 - e) p + e / C, loss
    -sum_c w[c] p[c] l[c]). Computed from z - max(z): any finite logits give finite results.
    Backward: softmax(z) * sum(coefficients) - coefficients, for each position."""

    name = "cross_entropy"
    label_smoothing: float = 0.0

    kernel_family = "loss"

    def forward(self, logits: Any, target: Any, weight: Any = None) -> Any:
        xp = self.backend.xp
        probabilities = (target.shape == logits.shape
                         and native_category(target.dtype) == 2)
        self.plain = not (probabilities or weight is not None or self.label_smoothing)
        if self.plain:
            return self.plain_forward(logits, target)
        z = self.prepare(logits, target, weight, probabilities)
        shifted = z - xp.max(z, axis=1, keepdims=True)
        log_probs = shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))
        if probabilities:
            return self.soft_forward(log_probs, target, weight, logits.shape)
        t, picked, row_w, keep, count = self.picked(log_probs, target, weight)
        losses = -picked if row_w is None else -(picked * row_w)
        e = self.label_smoothing
        if e:
            spread = log_probs if weight is None else log_probs * weight
            losses = (1 - e) * losses - (e / z.shape[1]) * xp.sum(spread, axis=1)
        self.saved = (log_probs, t, weight, row_w, keep, count, logits.shape)
        return self.finish(losses, keep, count, class_target_shape(logits.shape))

    def plain_forward(self, logits: Any, target: Any) -> Any:
        """The common case, class indices without weights or smoothing: the backend's
        ``loss`` kernels (on CuPy one launch each way). Where reading is free the targets are
        checked at once; on a device the kernel leaves bad ones out and records one, raised at
        the next host read."""
        xp, where = self.backend.xp, self.name
        check_class_input(where, logits, target, None, False)
        self.soft = False
        classes = logits.shape[0 if logits.ndim == 1 else 1]
        ignore, ignore_index, record, site = self.ignore_index, self.ignore_index, None, -1
        if self.backend.host_memory:
            if kept_targets(where, self.backend, target, classes, ignore_index) is None:
                ignore = None  # every target counts: nothing to mask
        elif target.size:  # the kernel writes a bad target into the deferred checks' record
            record, site = self.backend.checks.slot(
                ("class target", where, classes, ignore_index),
                lambda value: out_of_range(where, value, classes, ignore_index))
        loss, saved = self.kernels.cross_entropy(to_rows(xp, logits), xp.reshape(target, (-1,)),
                                                 self.reduction, ignore, record, site)
        self.saved = (saved, logits.shape)
        if self.reduction == "none":
            return xp.reshape(loss, class_target_shape(logits.shape))
        return loss

    def soft_forward(self, log_probs: Any, target: Any, weight: Any,
                     shape: tuple[int, ...]) -> Any:
        """The loss against class probabilities ``target`` (the logits' ``shape``)."""
        xp = self.backend.xp
        p = to_rows(xp, target)
        e = self.label_smoothing
        if e:
            p = p * (1 - e) + e / log_probs.shape[1]
        wp = p if weight is None else p * weight
        losses = -xp.sum(log_probs * wp, axis=1)
        self.saved = (log_probs, wp, weight, None, None, None, shape)
        return self.finish(losses, None, None, class_target_shape(shape))

    def backward(self, g: Any) -> tuple[Any, Any, None]:
        xp = self.backend.xp
        if self.plain:
            saved, shape = self.saved
            return from_rows(xp, self.kernels.cross_entropy_backward(g, saved), shape), None, None
        log_probs, t, weight, row_w, keep, count, shape = self.saved
        rows, classes = log_probs.shape
        scale = self.row_scale(g, rows, count)
        probs = xp.exp(log_probs)
        grad_target = None
        if self.soft:  # class probabilities: t holds them, weighted
            grad = (probs * xp.sum(t, axis=1, keepdims=True) - t) * scale
            if self.needs_input_grad[1]:
                spread = -log_probs if weight is None else -(log_probs * weight)
                grad_target = from_rows(xp, spread * ((1 - self.label_smoothing) * scale),
                                        shape)
        else:
            grad = self.weighted_grad(probs, t, weight, row_w, keep) * scale
        grad_logits = from_rows(xp, grad, shape) if self.needs_input_grad[0] else None
        return grad_logits, grad_target, None

    def weighted_grad(self, probs: Any, t: Any, weight: Any, row_w: Any, keep: Any) -> Any:
        """d(loss of each row)/d(logits), rows of (M, C), with weights, smoothing, ignores."""
        xp = self.backend.xp
        classes = probs.shape[1]
        e = self.label_smoothing
        onehot = xp.astype(self.onehot(t, classes), probs.dtype)
        picked_w = onehot if row_w is None else onehot * xp.reshape(row_w, (-1, 1))
        coefficients = (1 - e) * picked_w
        if e:
            # a number or (C,): a row of ones sliced from probs would fail with no rows
            spread = e / classes if weight is None else (e / classes) * weight
            if keep is not None:
                spread = spread * xp.astype(xp.reshape(keep, (-1, 1)), probs.dtype)
            coefficients = coefficients + spread
        return probs * xp.sum(coefficients, axis=1, keepdims=True) - coefficients


class NLLLoss(_ClassLoss):
    """Negative log-likelihood of class indices: input log-probabilities (N, C, d1, ...) or
    (C,), target (N, d1, ...) or (); loss = -w[t] * input[t] per kept position, the mean over
    the kept positions' sum of w[t]. Backward: -w[t] at each target class, 0 elsewhere."""

    name = "nll_loss"

    def forward(self, log_probs: Any, target: Any, weight: Any = None) -> Any:
        x = self.prepare(log_probs, target, weight)
        t, picked, row_w, keep, count = self.picked(x, target, weight)
        self.saved = (t, row_w, count, log_probs.shape, x.shape[1])
        losses = -picked if row_w is None else -(picked * row_w)
        return self.finish(losses, keep, count, class_target_shape(log_probs.shape))

    def backward(self, g: Any) -> tuple[Any, None, None]:
        xp = self.backend.xp
        t, row_w, count, shape, classes = self.saved
        onehot = xp.astype(self.onehot(t, classes), g.dtype)
        if row_w is not None:
            onehot = onehot * xp.reshape(row_w, (-1, 1))
        grad = -onehot * self.row_scale(g, onehot.shape[0], count)
        return from_rows(xp, grad, shape), None, None


class NotProbability(RuntimeError, ValueError):
    """binary_cross_entropy's input outside [0, 1]: PyTorch's RuntimeError (a ValueError too,
    as the other bad-argument errors here)."""


_BCE_EPS = 9.999999960041972e-13  # PyTorch's EPSILON: 1e-12 as a C float


def _logs(xp: Any, x: Any) -> tuple[Any, Any]:
    """log(x) and log1p(-x) (PyTorch's form of log(1 - x)), -inf at x = 0 and at x = 1
    respectively without log(0)'s warning."""
    inside_low, inside_high = x > 0, x < 1
    safe_low, safe_high = xp.where(inside_low, x, 0.5), xp.where(inside_high, x, 0.5)
    return (xp.where(inside_low, xp.log(safe_low), -math.inf),
            xp.where(inside_high, xp.log1p(-safe_high), -math.inf))


class BinaryCrossEntropy(Op):
    """-w (y log x + (1 - y) log(1 - x)) elementwise, each log clamped at -100 (PyTorch's), x
    in [0, 1]; the target y has x's shape, w broadcasts. d/dx = w (x - y) / max(x (1 - x),
    1e-12); d/dy = w (log(1 - x) - log x)."""

    name = "binary_cross_entropy"
    reduction: str = "mean"

    def forward(self, x: Any, y: Any, weight: Any = None) -> Any:
        xp = self.backend.xp
        # As PyTorch, a probability outside [0, 1] (or NaN) is an error: one read from the
        # device, two more to name the value only when there is one.
        if x.size and bool(xp.any(~((x >= 0) & (x <= 1)))):
            lowest, highest = float(xp.min(x)), float(xp.max(x))
            bad = highest if not highest <= 1 else lowest
            raise NotProbability(f"{self.name}: input must hold probabilities in [0, 1], got "
                                 f"{bad!r}")
        log_x, log_1mx = _logs(xp, x)
        losses = (y - 1) * xp.maximum(log_1mx, -100.0) - y * xp.maximum(log_x, -100.0)
        if weight is not None:
            losses = losses * weight
        self.saved = (x, y, weight, log_x, log_1mx, losses.size)
        return reduce(xp, losses, self.reduction)

    def backward(self, g: Any) -> tuple[Any, Any, None]:
        xp = self.backend.xp
        x, y, weight, log_x, log_1mx, size = self.saved
        scale = _element_scale(xp, g, self.reduction, size, weight)
        need_x, need_y = self.needs_input_grad[:2]
        gx = scale * (x - y) / xp.maximum((1 - x) * x, _BCE_EPS) if need_x else None
        gy = scale * (log_1mx - log_x) if need_y else None
        return gx, gy, None


def _element_scale(xp: Any, g: Any, reduction: str, size: int, weight: Any) -> Any:
    """The upstream gradient of an element-wise loss, per element: ``g`` spread by the
    reduction, times the element weights if any (both binary cross-entropies use it)."""
    scale = mean_scale(xp, g, reduction, size)
    return scale if weight is None else scale * weight


class BinaryCrossEntropyWithLogits(Op):
    """Binary cross-entropy on logits z, stable for any z: with log_sigmoid(z) = min(z, 0) -
    log1p(exp(-|z|)), loss = w ((1 - y) z - (1 + (pos_weight - 1) y) log_sigmoid(z)).
    d/dz = w ((pos_weight y + 1 - y) sigmoid(z) - pos_weight y); d/dy = w (log_sigmoid(-z) -
    pos_weight log_sigmoid(z)), -w z without pos_weight."""

    name = "binary_cross_entropy_with_logits"
    reduction: str = "mean"

    def forward(self, z: Any, y: Any, weight: Any = None, pos_weight: Any = None) -> Any:
        xp = self.backend.xp
        softplus_neg = xp.log1p(xp.exp(-xp.abs(z)))  # log(1 + exp(-|z|))
        log_sig = xp.minimum(z, 0.0) - softplus_neg
        factor = log_sig if pos_weight is None else ((pos_weight - 1) * y + 1) * log_sig
        losses = (1 - y) * z - factor
        if weight is not None:
            losses = losses * weight
        self.saved = (z, y, weight, pos_weight, log_sig, losses.size)
        return reduce(xp, losses, self.reduction)

    def backward(self, g: Any) -> tuple[Any, Any, None, None]:
        xp = self.backend.xp
        z, y, weight, pos_weight, log_sig, size = self.saved
        scale = _element_scale(xp, g, self.reduction, size, weight)
        need_z, need_y = self.needs_input_grad[:2]
        gz = gy = None
        if need_z:
            s = xp.exp(log_sig)  # sigmoid(z), from what forward computed
            if pos_weight is None:
                gz = scale * (s - y)
            else:
                py = pos_weight * y
                gz = scale * ((py + 1 - y) * s - py)
        if need_y:
            # log_sigmoid(-z) = log_sigmoid(z) - z
            gy = scale * (-z if pos_weight is None else (log_sig - z) - pos_weight * log_sig)
        return gz, gy, None, None
