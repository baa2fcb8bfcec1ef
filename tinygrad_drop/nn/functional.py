"""The functional API, ``F``: stateless layers, activations and (from ``loss_functions``)
losses on Tensors, with PyTorch's names. ``inplace=True`` is accepted where PyTorch takes it,
for code written for PyTorch; the result is always a new tensor (the input is unchanged)."""

from __future__ import annotations

import math
import numbers
from typing import Any

from ..backends import Generator
from ..functions import pad
from ..ops.activation import ELU, GELU, GELU_MODES, LeakyReLU, SiLU, Softplus
from ..ops.conv import Conv2d, conv2d_params
from ..ops.dropout import MODES as DROPOUT_MODES
from ..ops.dropout import Dropout
from ..ops.dropout import Dropout2d as Dropout2dOp
from ..ops.linear import Linear
from ..ops.norm import BatchNorm
from ..ops.pool import AvgPool2d as AvgPool2dOp
from ..ops.pool import MaxPool2d as MaxPool2dOp
from ..ops.pool import pool_params
from ..tensor_core import Tensor
from ._args import check_floating, check_tensor, number, warn_at_caller
from .loss_functions import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse_loss,
    nll_loss,
    one_hot,
)

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


def dropout(x: Tensor, p: float = P_DEFAULT, training: bool = True, *,
            keep_prob: float | None = None, mode: str = "inverted",
            generator: Generator | None = None) -> Tensor:
    """Randomly zero elements with probability ``p`` (or keep them with ``keep_prob``).

    ``mode="inverted"``: training -> ``x * mask / keep``, inference -> ``x``.
    ``mode="vanilla"``: training -> ``x * mask``, inference -> ``x * keep``.
    ``p=0`` returns ``x`` and draws no random numbers; ``p=1`` returns zeros (never NaN). The
    mask comes from ``generator`` or the backend's generator (see ``td.manual_seed``)."""
    check_tensor(x, "dropout")
    p, keep = dropout_rates(p, keep_prob, mode)
    if Dropout.passes_through(keep, mode, training):
        return x
    return Dropout.apply(x, p=p, keep=keep, mode=mode, training=bool(training),
                         generator=generator)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias``, weight shaped (out_features, in_features); one graph node."""
    check_tensor(x, "linear")
    return Linear.apply(x, weight, bias)


def batch_norm(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation with PyTorch's semantics, over every axis but 1 of (N, C, *) input.
    Training uses the batch statistics (biased variance) and updates the running statistics in
    place with ``momentum`` (unbiased variance); inference uses the running statistics."""
    check_tensor(x, "batch_norm")
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: inference (training=False) needs running_mean and "
                         "running_var")
    # in place, as PyTorch: the same arrays every step, which a step captured by td.jit needs
    out, _, _ = BatchNorm.apply(
        x, weight, bias, training=bool(training), momentum=momentum, eps=eps, in_place=True,
        running_mean=None if running_mean is None else running_mean.data,
        running_var=None if running_var is None else running_var.data)
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


def relu(x: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0) elementwise (gradient 0 at 0, passed through at NaN, as PyTorch)."""
    check_tensor(x, "relu")
    return x.relu()


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x)) elementwise, overflow-free."""
    check_tensor(x, "sigmoid")
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    """tanh(x) elementwise (integers give float32)."""
    check_tensor(x, "tanh")
    return x.tanh()


def _softmax_dim(x: Tensor, dim: Any, axis: Any, where: str) -> Any:
    """``dim``, or without dim and axis PyTorch's legacy implicit choice (0 for 0-, 1- and 3-D
    input, else 1) with its deprecation warning, attributed to the caller's line (F or the
    nn.Softmax / nn.LogSoftmax modules alike)."""
    if dim is None and axis is None:
        dim = 0 if x.ndim in (0, 1, 3) else 1
        warn_at_caller(f"Implicit dimension choice for {where} has been deprecated. Change the "
                       "call to include dim=X as an argument.")
    return dim


def softmax(x: Tensor, dim: int | None = None, *, axis: int | None = None,
            dtype: Any = None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim`` (``axis=`` too), one stable node; ``dtype`` casts
    the input first. Without a dim, PyTorch's implicit one (0 for 0-, 1- and 3-D input, else
    1) with its deprecation warning."""
    check_tensor(x, "softmax")
    return x.softmax(_softmax_dim(x, dim, axis, "softmax"), axis=axis, dtype=dtype)


def log_softmax(x: Tensor, dim: int | None = None, *, axis: int | None = None,
                dtype: Any = None) -> Tensor:
    """x - logsumexp(x) along ``dim`` (``axis=`` too), one stable node; as ``softmax``."""
    check_tensor(x, "log_softmax")
    return x.log_softmax(_softmax_dim(x, dim, axis, "log_softmax"), axis=axis, dtype=dtype)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x), Phi the standard normal CDF: exact through erf (``approximate='none'``) or
    PyTorch's tanh approximation (``'tanh'``)."""
    check_floating(x, "gelu")
    if approximate not in GELU_MODES:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU.apply(x, approximate=approximate)


def silu(x: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) elementwise (swish)."""
    check_floating(x, "silu")
    return SiLU.apply(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x where x > 0, negative_slope * x elsewhere (the gradient at 0 is negative_slope)."""
    check_floating(x, "leaky_relu")
    return LeakyReLU.apply(
        x, negative_slope=number(negative_slope, "negative_slope", "leaky_relu"))


def elu(x: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, alpha * (exp(x) - 1) elsewhere (the gradient at 0 is alpha)."""
    check_floating(x, "elu")
    return ELU.apply(x, alpha=number(alpha, "alpha", "elu"))


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta elementwise, and x where beta * x > threshold."""
    check_floating(x, "softplus")
    return Softplus.apply(x, beta=number(beta, "beta", "softplus"),
                          threshold=number(threshold, "threshold", "softplus"))


# -- pooling and spatial dropout (issue 15)

__all__ += ["avg_pool2d", "dropout2d", "max_pool2d"]

_DROPOUT2D_3D = ("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
                 "dropout behavior is desired - input is interpreted as shape (N, C, L), where C "
                 "is the channel dim. This behavior will change in a future release to interpret "
                 "the input as one without a batch dimension, i.e. shape (C, H, W). To maintain "
                 "the 1D channel-wise dropout behavior, please switch to using dropout1d instead.")


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """Max over each kh x kw window of (N, C, H, W) or (C, H, W) input, moved by ``stride``
    (default: the kernel) over the input padded with -inf by ``padding`` (at most half the
    kernel); out size ``(H + 2 * ph - kh) // sh + 1``. The gradient goes to the first maximal
    element of each window, as in PyTorch. One graph node."""
    check_floating(input, "max_pool2d")
    kernel, step, pad = pool_params(kernel_size, stride, padding, "max_pool2d")
    return MaxPool2dOp.apply(input, kernel=kernel, stride=step, padding=pad)


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """Mean over each kh x kw window, as ``max_pool2d`` but zero padding, counted in the mean
    (PyTorch's default ``count_include_pad=True``): every window is divided by kh * kw."""
    check_floating(input, "avg_pool2d")
    kernel, step, pad = pool_params(kernel_size, stride, padding, "avg_pool2d")
    return AvgPool2dOp.apply(input, kernel=kernel, stride=step, padding=pad)


def dropout2d(input: Tensor, p: float = P_DEFAULT, training: bool = True, *,
              keep_prob: float | None = None, mode: str = "inverted",
              generator: Generator | None = None) -> Tensor:
    """Spatial dropout: each whole channel ``input[n, c]`` of (N, C, H, W) input is zeroed with
    probability ``p`` (or kept with ``keep_prob``), one draw per (sample, channel); conventions,
    modes and the edge cases p = 0 (the input itself, no draw) and p = 1 (zeros) as
    ``dropout``. 3-D input is taken as (N, C, L) with PyTorch 2.13's warning."""
    check_tensor(input, "dropout2d")
    p, keep = dropout_rates(p, keep_prob, mode, where="dropout2d")
    if input.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected 4-D (N, C, H, W) or 3-D input, got "
                         f"{input.ndim}-D input of shape {input.shape}")
    if input.ndim == 3:
        warn_at_caller(_DROPOUT2D_3D)
    if Dropout2dOp.passes_through(keep, mode, training):
        return input
    return Dropout2dOp.apply(input, p=p, keep=keep, mode=mode, training=bool(training),
                             generator=generator)


# -- convolution --------------------------------------------------------------------------------
__all__ += ["conv2d"]


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D cross-correlation, PyTorch's ``conv2d``: ``input`` (N, C, H, W) (or unbatched
    (C, H, W)), ``weight`` (OC, C/groups, kH, kW), ``bias`` (OC,); ``stride``, ``padding``
    and ``dilation`` are ints or (h, w) pairs, ``padding`` also 'valid' or 'same'. The output
    is (N, OC, OH, OW) with OH = floor((H + 2*pH - dH*(kH-1) - 1) / sH) + 1 (and OW alike).
    One graph node (im2col and one matrix product; see ``ops/conv.py``)."""
    check_floating(input, "conv2d")
    check_tensor(weight, "conv2d")
    if bias is not None:
        check_tensor(bias, "conv2d")
    step, dil, before, after, groups = conv2d_params(tuple(weight.shape), stride, padding,
                                                     dilation, groups)
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    if before != after:  # 'same' with an even kernel: the extra zero goes after
        x = pad(x, (before[1], after[1], before[0], after[0]))
        before = (0, 0)
    out = Conv2d.apply(x, weight, bias, stride=step, padding=before, dilation=dil,
                       groups=groups)
    return out.squeeze(0) if unbatched else out
