"""Layers with parameters or state: Linear, Identity, Flatten, Dropout, Dropout2d, BatchNorm1d,
BatchNorm2d."""

from __future__ import annotations

import math
from typing import Any

from ..backends import Generator
from ..tensor_core import Tensor
from . import functional as F
from . import init
from .module import Module


class Linear(Module):
    """y = x W^T + b with W (out_features, in_features), initialised as PyTorch does:
    W ~ kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)), and b ~ the same."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 dtype: Any = None, backend: str | None = None) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = init.kaiming_uniform_(
            Tensor.zeros(out_features, in_features, dtype=dtype, backend=backend,
                         requires_grad=True), a=math.sqrt(5))
        self.bias = None
        if bias:
            bound = 1.0 / math.sqrt(in_features) if in_features else 0.0
            self.bias = init.uniform_(Tensor.zeros(out_features, dtype=dtype, backend=backend,
                                                   requires_grad=True), -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Identity(Module):
    """Returns its input unchanged; any constructor arguments are accepted and ignored (as
    torch.nn.Identity), so it can stand in for a layer being switched off."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x


class Flatten(Module):
    """Merge the dims ``start_dim`` (default 1, keeping the batch) to ``end_dim`` into one."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Dropout that follows the module's train/eval mode. Give the drop rate ``p`` (as
    torch.nn.Dropout) or the keep probability ``keep_prob`` (as tf.nn.dropout), not both;
    ``mode`` is 'inverted' (scale by 1/keep in training) or 'vanilla' (scale by keep at
    inference); masks come from ``generator`` (default: the backend's). The rate is held
    exactly as given, and setting ``p``, ``keep_prob`` or ``mode`` takes effect on the next
    call (``model[2].p = 0.0``). ``Dropout2d`` shares all this, with spatial dropout."""

    _function = staticmethod(F.dropout)

    def __init__(self, p: float = F.P_DEFAULT, *, keep_prob: float | None = None,
                 mode: str = "inverted", generator: Generator | None = None) -> None:
        super().__init__()
        F.dropout_rates(p, keep_prob, mode, where=self._where)  # both given, bad values
        self.mode = mode
        if keep_prob is None:
            self.p = p
        else:
            self.keep_prob = keep_prob
        self.generator = generator

    @property
    def p(self) -> float:
        """The drop rate: exactly as given, or 1 - keep_prob."""
        convention, value = self._rate
        return value if convention == "p" else 1.0 - value

    @p.setter
    def p(self, value: float) -> None:
        self._rate = ("p", F.dropout_rates(value, where=self._where)[0])

    @property
    def keep_prob(self) -> float:
        """The keep probability: exactly as given, or 1 - p."""
        convention, value = self._rate
        return value if convention == "keep_prob" else 1.0 - value

    @keep_prob.setter
    def keep_prob(self, value: float) -> None:
        self._rate = ("keep_prob", F.dropout_rates(keep_prob=value, where=self._where)[1])

    @property
    def mode(self) -> str:
        """'inverted' or 'vanilla'."""
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        F.dropout_rates(mode=value, where=self._where)
        self._mode = value

    @property
    def _where(self) -> str:
        return type(self).__name__

    def forward(self, x: Tensor) -> Tensor:
        convention, value = self._rate
        if convention == "p":
            return self._function(x, value, self.training, mode=self.mode,
                                  generator=self.generator)
        return self._function(x, training=self.training, keep_prob=value, mode=self.mode,
                              generator=self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p:g}, mode={self.mode!r}"


class Dropout2d(Dropout):
    """Spatial dropout (``F.dropout2d``) following the module's train/eval mode: each whole
    channel of (N, C, H, W) input is dropped with probability ``p`` (one draw per sample and
    channel). Conventions, modes, ``generator`` and settable ``p`` / ``keep_prob`` / ``mode``
    as ``Dropout`` (it is one, so ``nn.mc_predict`` samples it too)."""

    _function = staticmethod(F.dropout2d)


class _BatchNorm(Module):
    """Batch normalisation over the channels (axis 1), exactly as torch.nn.BatchNormNd; the
    subclasses say which input ranks they take (``ranks``, described by ``expected``).

    Training normalises with the batch mean and biased variance and updates
    ``running = (1 - momentum) * running + momentum * batch`` (unbiased variance);
    ``momentum=None`` uses the cumulative average. Inference uses the running statistics.
    ``bias=False`` (PyTorch 2.13's keyword) keeps the learned scale without the shift.
    Naming trap: PyTorch's momentum 0.1 is the weight of the *new* batch, so it equals Keras'
    ``momentum=0.9`` and Chainer's ``decay=0.9``, which weigh the *old* running value."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, *, bias: bool = True,
                 dtype: Any = None, backend: str | None = None) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        make = dict(dtype=dtype, backend=backend)
        self.weight = Tensor.ones(num_features, requires_grad=True, **make) if affine else None
        self.bias = (Tensor.zeros(num_features, requires_grad=True, **make)
                     if affine and bias else None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor.zeros(num_features, **make))
            self.register_buffer("running_var", Tensor.ones(num_features, **make))
            self.register_buffer("num_batches_tracked",
                                 Tensor(0, dtype="int64", backend=backend))

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in self.ranks:
            raise ValueError(f"{type(self).__name__}: expected input of shape {self.expected}, "
                             f"got {x.shape} ({x.ndim}-D input)")
        factor = self.momentum  # shown in the graph; only applied when updating statistics
        if self.training and self.track_running_stats:
            tracked = self.num_batches_tracked.data
            tracked[...] = tracked + 1  # in place: a step td.jit replays updates this array
            if factor is None:  # cumulative moving average
                factor = 1.0 / self.num_batches_tracked.item()
        use_batch = self.training or not self.track_running_stats
        running = (self.running_mean, self.running_var) if self.track_running_stats else (
            None, None)
        return F.batch_norm(x, *running, self.weight, self.bias, training=use_batch,
                            momentum=factor, eps=self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over (N, C) or (N, C, L) input, exactly as torch.nn.BatchNorm1d (see
    ``_BatchNorm``: momentum, running statistics, the naming trap)."""

    ranks, expected = (2, 3), "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) input over N, H and W per channel, exactly as
    torch.nn.BatchNorm2d (see ``_BatchNorm``); other ranks are a ValueError."""

    ranks, expected = (4,), "(N, C, H, W)"
