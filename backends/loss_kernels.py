"""The portable kernels of the class losses' common case (the ``loss`` family): softmax
cross-entropy of (rows, C) logits against integer class targets, in Array-API operations; the
CuPy backend fuses each direction into one launch (``cupy_fused_kernels``)."""

from __future__ import annotations

import math
from typing import Any

from .kernel_family import Kernels


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
