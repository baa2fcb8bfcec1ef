"""The functional losses of ``F`` (PyTorch's names and semantics) and ``one_hot``; each
loss is one graph node with a hand-written backward (``ops.loss``). ``F`` re-exports them."""

from __future__ import annotations

import numbers
from typing import Any

from ..autograd import is_grad_enabled
from ..ops.loss import BinaryCrossEntropy, BinaryCrossEntropyWithLogits, CrossEntropy, NLLLoss
from ..ops.loss_targets import REDUCTIONS
from ..tensor_core import Tensor
from ..tensor_math import promote
from ._args import check_reduction, check_tensor, number, warn_at_caller

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
           "mse_loss", "nll_loss", "one_hot"]


def _as_tensor(value: Any, like: Tensor) -> Any:
    return value if value is None or isinstance(value, Tensor) else Tensor(
        value, backend=like.backend)


def _constant(value: Any, like: Tensor, name: str, where: str) -> Tensor | None:
    """A weight-like argument: a Tensor of ``like``'s dtype, or None. PyTorch refuses its
    gradient, so one that requires grad (while recording) is refused here too."""
    value = _as_tensor(value, like)
    if value is None:
        return None
    if value.requires_grad and is_grad_enabled():
        raise RuntimeError(f"{where}: not differentiable with respect to {name}; pass "
                           f"{name}.detach()")
    return value if value.dtype_name == like.dtype_name else value.astype(like.dtype_name)


def _class_loss_inputs(x: Tensor, target: Any, weight: Any,
                       where: str) -> tuple[Tensor, Tensor, Tensor | None]:
    check_tensor(x, where)
    # class-probability targets keep their dtype: as in PyTorch, float32 logits' log-softmax
    # times float64 probabilities is a float64 loss
    return x, _as_tensor(target, x), _constant(weight, x, "weight", where)


def cross_entropy(logits: Tensor, target: Any, weight: Any = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy as PyTorch's, fused into one stable node. ``logits`` (N, C),
    (C,) or (N, C, d1, ...); ``target`` integer class indices (N,), () or (N, d1, ...), or
    class probabilities of the logits' shape. ``weight`` (C,) weighs the classes (the mean is
    over the targets' weights); targets equal to ``ignore_index`` count for nothing (all
    ignored: the mean is NaN); ``label_smoothing`` e mixes e / C of the uniform
    distribution into the target. ``reduction``: 'mean', 'sum' or 'none'."""
    if (type(logits) is Tensor and type(target) is Tensor and weight is None
            and type(ignore_index) is int and label_smoothing.__class__ is float
            and label_smoothing == 0.0 and reduction in REDUCTIONS):
        # the common call, with every option at a default or checked here: straight to the op
        return CrossEntropy.apply(logits, target, None, reduction=reduction,
                                  ignore_index=ignore_index, label_smoothing=0.0)
    where = "cross_entropy"
    check_reduction(reduction, where)
    smoothing = number(label_smoothing, "label_smoothing", where)
    if not 0.0 <= smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                         f"{label_smoothing!r}")
    logits, target, weight = _class_loss_inputs(logits, target, weight, where)
    return CrossEntropy.apply(logits, target, weight, reduction=reduction,
                              ignore_index=int(ignore_index), label_smoothing=smoothing)


def nll_loss(input: Tensor, target: Any, weight: Any = None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices: ``input`` log-probabilities (N, C), (C,) or
    (N, C, d1, ...), ``target`` (N,), () or (N, d1, ...); loss -weight[t] * input[t], the mean
    over the kept targets' weights; ``ignore_index`` as ``cross_entropy``."""
    check_reduction(reduction, "nll_loss")
    input, target, weight = _class_loss_inputs(input, target, weight, "nll_loss")
    return NLLLoss.apply(input, target, weight, reduction=reduction,
                         ignore_index=int(ignore_index))


def _binary_inputs(x: Tensor, target: Any, where: str) -> tuple[Tensor, Tensor]:
    check_tensor(x, where)
    target = _as_tensor(target, x)
    if target.shape != x.shape:
        raise ValueError(f"{where}: target shape {target.shape} must be the input's shape "
                         f"{x.shape}")
    (x, target), _ = promote(x, target, floating=True)
    return x, target


def _elementwise_weight(value: Any, x: Tensor, name: str, where: str) -> Tensor | None:
    """A constant weight that broadcasts to ``x``'s shape (PyTorch refuses one that would
    make the loss larger than the input)."""
    value = _constant(value, x, name, where)
    if value is not None and _broadcast_shape(x.shape, value.shape) != x.shape:
        raise ValueError(f"{where}: {name} shape {value.shape} does not broadcast to the "
                         f"input's shape {x.shape}")
    return value


def binary_cross_entropy(input: Tensor, target: Any, weight: Any = None,
                         reduction: str = "mean") -> Tensor:
    """-weight * (y log x + (1 - y) log(1 - x)) for probabilities x in [0, 1] (anything else
    is an error) and targets y of x's shape, each log clamped at -100 as PyTorch's."""
    where = "binary_cross_entropy"
    check_reduction(reduction, where)
    x, y = _binary_inputs(input, target, where)
    return BinaryCrossEntropy.apply(x, y, _elementwise_weight(weight, x, "weight", where),
                                    reduction=reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Any, weight: Any = None,
                                     reduction: str = "mean", pos_weight: Any = None) -> Tensor:
    """Binary cross-entropy of sigmoid(input) computed stably from the logits; ``pos_weight``
    (broadcasting over the last axis) weighs the positive term, ``weight`` every element."""
    where = "binary_cross_entropy_with_logits"
    check_reduction(reduction, where)
    x, y = _binary_inputs(input, target, where)
    return BinaryCrossEntropyWithLogits.apply(
        x, y, _elementwise_weight(weight, x, "weight", where),
        _elementwise_weight(pos_weight, x, "pos_weight", where), reduction=reduction)


def _broadcast_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    """NumPy's broadcast of two shapes, or None where they do not broadcast."""
    out = []
    for m, n in zip(((1,) * (len(b) - len(a))) + a, ((1,) * (len(a) - len(b))) + b,
                    strict=True):
        if m != n and 1 not in (m, n):
            return None
        out.append(n if m == 1 else m)
    return tuple(out)


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """(input - target)**2, averaged ('mean'), summed or elementwise ('none'). As PyTorch,
    shapes that differ but broadcast are used broadcast, with a warning."""
    check_tensor(input, "mse_loss")
    check_reduction(reduction, "mse_loss")
    target = _as_tensor(target, input)
    if target.shape != input.shape:
        if _broadcast_shape(input.shape, target.shape) is None:
            raise ValueError(f"mse_loss: input shape {input.shape} and target shape "
                             f"{target.shape} differ and do not broadcast")
        warn_at_caller(f"mse_loss: using a target size {target.shape} that is different to the "
                       f"input size {input.shape}; this will likely lead to incorrect results "
                       "due to broadcasting. Please ensure they have the same size.")
    diff = input - target
    squared = diff * diff
    return squared if reduction == "none" else (squared.sum() if reduction == "sum"
                                                else squared.mean())


def one_hot(t: Tensor, num_classes: int = -1) -> Tensor:
    """int64 tensor of shape (*t.shape, num_classes): 1 where the last index equals t's
    value. ``num_classes=-1`` takes max(t) + 1 (reading it from the device). No gradient."""
    check_tensor(t, "one_hot")
    xp = t._backend.xp
    if not xp.isdtype(t.data.dtype, "integral"):
        raise TypeError(f"one_hot: expected integer class values, got dtype {t.dtype_name}")
    if (isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral)
            or num_classes < -1):
        raise ValueError(f"one_hot: num_classes must be -1 or a non-negative int, got "
                         f"{num_classes!r}")
    num_classes = int(num_classes)  # NumPy's integers too
    if t.numel():
        lowest, highest = int(xp.min(t.data)), int(xp.max(t.data))
        if lowest < 0:
            raise ValueError(f"one_hot: class values must be non-negative, got {lowest}")
        if num_classes == -1:
            num_classes = highest + 1
        elif highest >= num_classes:
            raise ValueError(f"one_hot: class value {highest} is not smaller than num_classes "
                             f"{num_classes}")
    elif num_classes == -1:
        raise ValueError("one_hot: cannot infer the number of classes from an empty tensor; "
                         "give num_classes")
    classes = xp.arange(num_classes, dtype=t.data.dtype)
    hot = xp.astype(xp.expand_dims(t.data, axis=-1) == classes, xp.int64)
    return Tensor._wrap(hot, t._backend, False, None)
