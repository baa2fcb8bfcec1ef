"""The functional API, ``F``: stateless layers and losses on Tensors (PyTorch's names)."""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

from ..autograd import is_grad_enabled
from ..backends import Generator
from ..functions import pad
from ..ops.activation import ELU, GELU, GELU_MODES, LeakyReLU, SiLU, Softplus
from ..ops.dropout import MODES as DROPOUT_MODES
from ..ops.dropout import Dropout
from ..ops.linear import Linear
from ..ops.loss import BinaryCrossEntropy, BinaryCrossEntropyWithLogits, CrossEntropy, NLLLoss
from ..ops.loss_targets import REDUCTIONS
from ..ops.norm import BatchNorm
from ..tensor_core import Tensor
from ..tensor_math import promote

__all__ = ["batch_norm", "binary_cross_entropy", "binary_cross_entropy_with_logits",
           "cross_entropy", "dropout", "elu", "gelu", "l1_penalty", "leaky_relu", "linear",
           "log_softmax", "mse_loss", "nll_loss", "one_hot", "pad", "relu", "sigmoid", "silu",
           "softmax", "softplus", "tanh"]


class _DefaultRate(float):
    """The default p = 0.5, told apart from an explicit 0.5 so that keep_prob alone is fine."""

    def __repr__(self) -> str:
        return "0.5"


P_DEFAULT = _DefaultRate(0.5)


def _probability(value: Any, name: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a number in [0, 1], got {value!r}")
    value = float(value)
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{where}: {name} must be a probability in [0, 1], got {value!r}")
    return value


def dropout_rates(p: Any = P_DEFAULT, keep_prob: Any = None, mode: str = "inverted",
                  where: str = "dropout") -> tuple[float, float]:
    """Validate either convention (drop rate ``p`` as torch.nn.Dropout / tf.layers.dropout, or
    ``keep_prob`` as tf.nn.dropout) and the mode; returns ``(p, keep)``, the one given exactly
    and the other its complement."""
    if mode not in DROPOUT_MODES:
        raise ValueError(f"{where}: mode must be 'inverted' or 'vanilla', got {mode!r}")
    if keep_prob is not None:
        if p is not P_DEFAULT:
            raise ValueError(f"{where}: give the drop rate p or the keep probability keep_prob, "
                             f"not both (got p={p!r}, keep_prob={keep_prob!r})")
        keep = _probability(keep_prob, "keep_prob", where)
        return 1.0 - keep, keep
    rate = _probability(p, "p", where)
    return rate, 1.0 - rate


def _check_tensor(x: Any, where: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{where}: expected a Tensor, got {type(x).__name__}")


def dropout(x: Tensor, p: float = P_DEFAULT, training: bool = True, *,
            keep_prob: float | None = None, mode: str = "inverted",
            generator: Generator | None = None) -> Tensor:
    """Randomly zero elements with probability ``p`` (or keep them with ``keep_prob``).

    ``mode="inverted"``: training -> ``x * mask / keep``, inference -> ``x``.
    ``mode="vanilla"``: training -> ``x * mask``, inference -> ``x * keep``.
    ``p=0`` returns ``x`` and draws no random numbers; ``p=1`` returns zeros (never NaN). The
    mask comes from ``generator`` or the backend's generator (see ``td.manual_seed``)."""
    _check_tensor(x, "dropout")
    p, keep = dropout_rates(p, keep_prob, mode)
    if Dropout.passes_through(keep, mode, training):
        return x
    return Dropout.apply(x, p=p, keep=keep, mode=mode, training=bool(training),
                         generator=generator)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias``, weight shaped (out_features, in_features); one graph node."""
    _check_tensor(x, "linear")
    return Linear.apply(x, weight, bias)


def batch_norm(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation with PyTorch's semantics, over every axis but 1 of (N, C, *) input.
    Training uses the batch statistics (biased variance) and updates the running statistics in
    place with ``momentum`` (unbiased variance); inference uses the running statistics."""
    _check_tensor(x, "batch_norm")
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: inference (training=False) needs running_mean and "
                         "running_var")
    out, new_mean, new_var = BatchNorm.apply(
        x, weight, bias, training=bool(training), momentum=momentum, eps=eps,
        running_mean=None if running_mean is None else running_mean.data,
        running_var=None if running_var is None else running_var.data)
    if new_mean is not None:  # the op is pure: the update is assigned here
        running_mean.data, running_var.data = new_mean.data, new_var.data
    return out


def l1_penalty(params: Any) -> Tensor:
    """Sum of |w| over every parameter: add ``lam * l1_penalty(model.parameters())`` to a loss
    for L1 regularisation (L2 is the optimizers' ``weight_decay``)."""
    params = list(params)
    if not params:
        raise ValueError("l1_penalty: got no parameters")
    total = params[0].abs().sum()
    for p in params[1:]:
        total = total + p.abs().sum()
    return total


# -- activations (elementwise ones keep the input's float dtype; PyTorch refuses integers)


def _no_inplace(inplace: bool, where: str) -> None:
    if inplace:
        raise ValueError(f"{where}: inplace=True is not supported (tensors here are never "
                         "changed in place); use the returned tensor")


def _floating(x: Any, where: str) -> None:
    _check_tensor(x, where)
    if not x.is_floating_point():
        raise TypeError(f"{where}: expected a floating-point tensor, got dtype "
                        f"{x.dtype_name} (cast it with .float())")


def _number(value: Any, name: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a number, got {value!r}")
    return float(value)


def relu(x: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0) elementwise (gradient 0 at 0, passed through at NaN, as PyTorch)."""
    _check_tensor(x, "relu")
    _no_inplace(inplace, "relu")
    return x.relu()


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x)) elementwise, overflow-free."""
    _check_tensor(x, "sigmoid")
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    """tanh(x) elementwise (integers give float32)."""
    _check_tensor(x, "tanh")
    return x.tanh()


def _softmax_dim(x: Tensor, dim: Any, axis: Any, where: str) -> Any:
    if dim is None and axis is None:  # PyTorch's legacy implicit choice, with its warning
        dim = 0 if x.ndim in (0, 1, 3) else 1
        warnings.warn(f"Implicit dimension choice for {where} has been deprecated. Change the "
                      "call to include dim=X as an argument.", UserWarning, stacklevel=3)
    return dim


def softmax(x: Tensor, dim: int | None = None, *, axis: int | None = None,
            dtype: Any = None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim`` (``axis=`` too), one stable node; ``dtype`` casts
    the input first. Without a dim, PyTorch's implicit one (0 for 0-, 1- and 3-D input, else
    1) with its deprecation warning."""
    _check_tensor(x, "softmax")
    return x.softmax(_softmax_dim(x, dim, axis, "softmax"), axis=axis, dtype=dtype)


def log_softmax(x: Tensor, dim: int | None = None, *, axis: int | None = None,
                dtype: Any = None) -> Tensor:
    """x - logsumexp(x) along ``dim`` (``axis=`` too), one stable node; as ``softmax``."""
    _check_tensor(x, "log_softmax")
    return x.log_softmax(_softmax_dim(x, dim, axis, "log_softmax"), axis=axis, dtype=dtype)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x), Phi the standard normal CDF: exact through erf (``approximate='none'``) or
    PyTorch's tanh approximation (``'tanh'``)."""
    _floating(x, "gelu")
    if approximate not in GELU_MODES:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU.apply(x, approximate=approximate)


def silu(x: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) elementwise (swish)."""
    _floating(x, "silu")
    _no_inplace(inplace, "silu")
    return SiLU.apply(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x where x > 0, negative_slope * x elsewhere (the gradient at 0 is negative_slope)."""
    _floating(x, "leaky_relu")
    _no_inplace(inplace, "leaky_relu")
    return LeakyReLU.apply(
        x, negative_slope=_number(negative_slope, "negative_slope", "leaky_relu"))


def elu(x: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, alpha * (exp(x) - 1) elsewhere (the gradient at 0 is alpha)."""
    _floating(x, "elu")
    _no_inplace(inplace, "elu")
    return ELU.apply(x, alpha=_number(alpha, "alpha", "elu"))


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta elementwise, and x where beta * x > threshold."""
    _floating(x, "softplus")
    return Softplus.apply(x, beta=_number(beta, "beta", "softplus"),
                          threshold=_number(threshold, "threshold", "softplus"))


# -- losses


def _reduction(reduction: Any, where: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{where}: reduction must be 'mean', 'sum' or 'none', got "
                         f"{reduction!r}")
    return reduction


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
    _check_tensor(x, where)
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
    where = "cross_entropy"
    _reduction(reduction, where)
    smoothing = _number(label_smoothing, "label_smoothing", where)
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
    _reduction(reduction, "nll_loss")
    input, target, weight = _class_loss_inputs(input, target, weight, "nll_loss")
    return NLLLoss.apply(input, target, weight, reduction=reduction,
                         ignore_index=int(ignore_index))


def _binary_inputs(x: Tensor, target: Any, where: str) -> tuple[Tensor, Tensor]:
    _check_tensor(x, where)
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
    _reduction(reduction, where)
    x, y = _binary_inputs(input, target, where)
    return BinaryCrossEntropy.apply(x, y, _elementwise_weight(weight, x, "weight", where),
                                    reduction=reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Any, weight: Any = None,
                                     reduction: str = "mean", pos_weight: Any = None) -> Tensor:
    """Binary cross-entropy of sigmoid(input) computed stably from the logits; ``pos_weight``
    (broadcasting over the last axis) weighs the positive term, ``weight`` every element."""
    where = "binary_cross_entropy_with_logits"
    _reduction(reduction, where)
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
    _check_tensor(input, "mse_loss")
    _reduction(reduction, "mse_loss")
    target = _as_tensor(target, input)
    if target.shape != input.shape:
        if _broadcast_shape(input.shape, target.shape) is None:
            raise ValueError(f"mse_loss: input shape {input.shape} and target shape "
                             f"{target.shape} differ and do not broadcast")
        warnings.warn(f"mse_loss: using a target size {target.shape} that is different to the "
                      f"input size {input.shape}; this will likely lead to incorrect results "
                      "due to broadcasting. Please ensure they have the same size.",
                      UserWarning, stacklevel=2)
    diff = input - target
    squared = diff * diff
    return squared if reduction == "none" else (squared.sum() if reduction == "sum"
                                                else squared.mean())


def one_hot(t: Tensor, num_classes: int = -1) -> Tensor:
    """int64 tensor of shape (*t.shape, num_classes): 1 where the last index equals t's
    value. ``num_classes=-1`` takes max(t) + 1 (reading it from the device). No gradient."""
    _check_tensor(t, "one_hot")
    xp = t._backend.xp
    if not xp.isdtype(t.data.dtype, "integral"):
        raise TypeError(f"one_hot: expected integer class values, got dtype {t.dtype_name}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < -1:
        raise ValueError(f"one_hot: num_classes must be -1 or a non-negative int, got "
                         f"{num_classes!r}")
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
