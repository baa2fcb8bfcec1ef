"""Loss modules: the module forms of the ``F`` losses, with PyTorch's arguments (positions
included), class weights kept as buffers (so they appear in ``state_dict`` and move with
``.to``) and PyTorch's translation of the deprecated ``size_average``/``reduce``."""

from __future__ import annotations

from typing import Any

from ..tensor_core import Tensor
from . import functional as F
from ._args import check_reduction, warn_at_caller
from .module import Module


def legacy_reduction(size_average: bool | None, reduce: bool | None) -> str:
    """PyTorch's reading of the deprecated flags (both default True): mean, sum or none, with
    its deprecation warning."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    reduction = ("mean" if size_average else "sum") if reduce else "none"
    warn_at_caller("size_average and reduce args will be deprecated, please use "
                   f"reduction='{reduction}' instead.")
    return reduction


class _Loss(Module):
    """A loss: ``reduction`` is 'mean', 'sum' or 'none' (checked when the loss is made)."""

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__()
        if size_average is not None or reduce is not None:
            reduction = legacy_reduction(size_average, reduce)
        self.reduction = check_reduction(reduction, type(self).__name__)


class _WeightedLoss(_Loss):
    """A loss with optional per-class weights, held as the buffer ``weight``."""

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy of logits (N, C) or (N, C, d1, ...) against class indices or class
    probabilities: ``F.cross_entropy`` with per-class ``weight``, ``ignore_index`` (targets
    skipped, and left out of the weighted mean) and ``label_smoothing`` in [0, 1]."""

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None,
                 ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got "
                             f"{label_smoothing!r}")
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities (N, C) or (N, C, d1, ...) at the target
    classes: -weight[t] * input[n, t], with ``ignore_index`` targets skipped; the mean divides
    by the sum of the weights used."""

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None,
                 ignore_index: int = -100, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities p against targets y in [0, 1]:
    -weight * (y log p + (1 - y) log(1 - p)), logs clamped at -100 as PyTorch."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, weight=self.weight,
                                      reduction=self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Binary cross-entropy on logits x, computed stably:
    -weight * (pos_weight * y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))); ``pos_weight``
    (one per class, broadcast along the last dim) is held as a buffer beside ``weight``."""

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean",
                 pos_weight: Tensor | None = None) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class MSELoss(_Loss):
    """Squared error (input - target)^2, averaged ('mean'), summed ('sum') or elementwise
    ('none'); the shapes must match."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)
