"""Modules: parameters and buffers with names, train/eval modes, and the standard layers."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from .. import backends
from ..backends import Generator
from ..tensor_core import Tensor
from . import functional as F
from . import init


class Module:
    """Base class of layers and models. Tensors that require grad assigned as attributes are
    parameters, ``register_buffer`` adds state such as running statistics, and modules assigned
    as attributes are children; names follow PyTorch (``0.weight``, ``1.running_mean``)."""

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call "
                                 "super().__init__() before assigning attributes")
        if name in self._buffers and (value is None or isinstance(value, Tensor)):
            self._buffers[name] = value
            return
        for table in (self._parameters, self._buffers, self._modules, self.__dict__):
            table.pop(name, None)
        if isinstance(value, Module):
            self._add_module(name, value)
        elif isinstance(value, Tensor) and value.requires_grad:
            self._parameters[name] = value
            value.name = name
        else:
            object.__setattr__(self, name, value)

    def _add_module(self, name: str, module: Module) -> None:
        """Register a child and name its tensors by their path from here (``0.weight``), so
        graph drawings show where each parameter lives."""
        self._modules[name] = module
        for path, t in module._state_tensors().items():
            t.name = f"{name}.{path}"

    def __getattr__(self, name: str) -> Any:
        for table in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(table, {})
            if name in entries:
                return entries[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def register_buffer(self, name: str, tensor: Tensor | None) -> None:
        """Non-trainable state saved with the model (running statistics, counters)."""
        self._buffers[name] = tensor
        if tensor is not None:
            tensor.name = name

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; subclasses define it."""
        raise NotImplementedError(f"{type(self).__name__} defines no forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # -- traversal ----------------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every descendant, with dotted names ('' for self)."""
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = list(module._modules.items())
            for child_name, child in reversed(children):
                stack.append((f"{name}.{child_name}" if name else child_name, child))

    def modules(self) -> Iterator[Module]:
        """This module and every descendant."""
        return (module for _, module in self.named_modules())

    def children(self) -> Iterator[Module]:
        """The direct sub-modules."""
        return iter(self._modules.values())

    def named_parameters(self) -> Iterator[tuple[str, Tensor]]:
        """Every parameter with its dotted name, each tensor once."""
        return self._named("_parameters")

    def parameters(self) -> Iterator[Tensor]:
        """Every parameter, each tensor once."""
        return (p for _, p in self.named_parameters())

    def named_buffers(self) -> Iterator[tuple[str, Tensor]]:
        """Every buffer with its dotted name."""
        return self._named("_buffers")

    def _named(self, table: str) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        for prefix, module in self.named_modules():
            for name, t in getattr(module, table).items():
                if t is not None and id(t) not in seen:
                    seen.add(id(t))
                    yield (f"{prefix}.{name}" if prefix else name), t

    # -- state ----------------------------------------------------------------------------
    def _state_tensors(self) -> dict[str, Tensor]:
        """Parameters and buffers by name, each module's parameters then its buffers (the order
        of PyTorch's state_dict)."""
        state: dict[str, Tensor] = {}
        for prefix, module in self.named_modules():
            for table in (module._parameters, module._buffers):
                for name, t in table.items():
                    if t is not None:
                        state[f"{prefix}.{name}" if prefix else name] = t
        return state

    def state_dict(self) -> dict[str, Any]:
        """Name -> host NumPy copy of every parameter and buffer (running statistics included),
        with PyTorch's key names, e.g. ``0.weight``, ``1.running_mean``."""
        return {name: t.numpy() for name, t in self._state_tensors().items()}

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy ``state`` (name -> array: NumPy, a backend's, or a CPU torch tensor) into the
        parameters and buffers. Every name, shape and dtype is checked before anything changes;
        with ``strict`` a missing or unexpected key is an error too. Returns the missing and
        unexpected keys."""
        own = self._state_tensors()
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        where = f"load_state_dict for {type(self).__name__}"
        if strict and (missing or unexpected):
            raise KeyError(f"{where}: missing keys {missing}, unexpected keys {unexpected}")
        staged = []
        for name, t in own.items():
            if name not in state:
                continue
            value = state[name]
            shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
            if shape is None or dtype is None:
                raise TypeError(f"{where}: {name!r} is a {type(value).__name__}, not an array")
            if tuple(shape) != t.shape:
                raise ValueError(f"{where}: {name!r} has shape {tuple(shape)}, the model "
                                 f"expects {t.shape}")
            if backends.dtype_name(dtype) != t.dtype_name:
                raise TypeError(f"{where}: {name!r} has dtype {backends.dtype_name(dtype)}, "
                                f"the model expects {t.dtype_name}")
            staged.append((t, t._backend.xp.asarray(t._backend.asarray(value), copy=True)))
        for t, data in staged:  # nothing above changed the model; nothing here can fail
            t.data = data
        return IncompatibleKeys(missing, unexpected)

    # -- modes and gradients ------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout samples, batchnorm uses batch statistics) recursively."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Set inference mode recursively (the same as ``train(False)``)."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (sets ``.grad`` to None, as PyTorch does)."""
        for p in self.parameters():
            p.grad = None

    def extra_repr(self) -> str:
        """The arguments shown in this module's repr."""
        return ""

    def __repr__(self) -> str:
        lines = [f"  ({name}): " + repr(child).replace("\n", "\n  ")
                 for name, child in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + ("\n" + "\n".join(lines) + "\n)" if lines else ")")


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` did not match: keys the model has that the state lacked, and
    keys the state has that the model lacks."""

    missing_keys: list[str]
    unexpected_keys: list[str]


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


class ReLU(Module):
    """max(x, 0) elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return x.relu()


class Sigmoid(Module):
    """1 / (1 + exp(-x)) elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class Flatten(Module):
    """Merge the dims from ``start_dim`` (default 1, keeping the batch) on into one."""

    def __init__(self, start_dim: int = 1) -> None:
        super().__init__()
        self.start_dim = start_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}"


class Dropout(Module):
    """Dropout that follows the module's train/eval mode. Give the drop rate ``p`` (as
    torch.nn.Dropout) or the keep probability ``keep_prob`` (as tf.nn.dropout), not both;
    ``mode`` is 'inverted' (scale by 1/keep in training) or 'vanilla' (scale by keep at
    inference); masks come from ``generator`` (default: the backend's). The rate is held
    exactly as given, and setting ``p``, ``keep_prob`` or ``mode`` takes effect on the next
    call (``model[2].p = 0.0``)."""

    def __init__(self, p: float = F.P_DEFAULT, *, keep_prob: float | None = None,
                 mode: str = "inverted", generator: Generator | None = None) -> None:
        super().__init__()
        F.dropout_rates(p, keep_prob, mode, where="Dropout")  # both given, bad values
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
        self._rate = ("p", F.dropout_rates(value, where="Dropout")[0])

    @property
    def keep_prob(self) -> float:
        """The keep probability: exactly as given, or 1 - p."""
        convention, value = self._rate
        return value if convention == "keep_prob" else 1.0 - value

    @keep_prob.setter
    def keep_prob(self, value: float) -> None:
        self._rate = ("keep_prob", F.dropout_rates(keep_prob=value, where="Dropout")[1])

    @property
    def mode(self) -> str:
        """'inverted' or 'vanilla'."""
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        F.dropout_rates(mode=value, where="Dropout")
        self._mode = value

    def forward(self, x: Tensor) -> Tensor:
        convention, value = self._rate
        if convention == "p":
            return F.dropout(x, value, self.training, mode=self.mode, generator=self.generator)
        return F.dropout(x, training=self.training, keep_prob=value, mode=self.mode,
                         generator=self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p:g}, mode={self.mode!r}"


class BatchNorm1d(Module):
    """Batch normalisation over (N, C) or (N, C, L) input, exactly as torch.nn.BatchNorm1d.

    Training normalises with the batch mean and biased variance and updates
    ``running = (1 - momentum) * running + momentum * batch`` (unbiased variance);
    ``momentum=None`` uses the cumulative average. Inference uses the running statistics.
    Naming trap: PyTorch's momentum 0.1 is the weight of the *new* batch, so it equals Keras'
    ``momentum=0.9`` and Chainer's ``decay=0.9``, which weigh the *old* running value."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, *, dtype: Any = None,
                 backend: str | None = None) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        make = dict(dtype=dtype, backend=backend)
        self.weight = Tensor.ones(num_features, requires_grad=True, **make) if affine else None
        self.bias = Tensor.zeros(num_features, requires_grad=True, **make) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", Tensor.zeros(num_features, **make))
            self.register_buffer("running_var", Tensor.ones(num_features, **make))
            self.register_buffer("num_batches_tracked",
                                 Tensor(0, dtype="int64", backend=backend))

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in (2, 3):
            raise ValueError(f"BatchNorm1d: expected input of shape (N, C) or (N, C, L), got "
                             f"{x.shape}")
        factor = self.momentum  # shown in the graph; only applied when updating statistics
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data = self.num_batches_tracked.data + 1
            if factor is None:  # cumulative moving average
                factor = 1.0 / self.num_batches_tracked.item()
        use_batch = self.training or not self.track_running_stats
        running = (self.running_mean, self.running_var) if self.track_running_stats else (
            None, None)
        return F.batch_norm(x, *running, self.weight, self.bias, training=use_batch,
                            momentum=factor, eps=self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class Sequential(Module):
    """Modules applied in order; indexable (``model[0]``, ``model[1:]``) and iterable."""

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: argument {i} is a {type(module).__name__}, "
                                "not a Module")
            self._add_module(str(i), module)

    def forward(self, x: Any) -> Any:
        for module in self._modules.values():
            x = module(x)
        return x

    def __getitem__(self, index: int | slice) -> Module:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*modules[index])
        return modules[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())
