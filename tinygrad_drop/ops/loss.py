"""Losses as single graph nodes: softmax cross-entropy, fused and stable."""

from __future__ import annotations

from typing import Any

from ..autograd import Op


class CrossEntropy(Op):
    """Fused log-softmax + negative log-likelihood of integer class targets; logits (N, C) or
    (C,). loss_i = logsumexp(z_i) - z_i[t_i], computed from z - max(z) so any finite logits give
    finite results. Backward: (softmax(z) - onehot(t)) * g, over N for the mean."""

    name = "cross_entropy"
    reduction: str = "mean"

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
