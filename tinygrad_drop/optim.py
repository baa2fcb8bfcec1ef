"""Optimizers with PyTorch's exact update formulas, parameter groups and state dicts. A step
updates every parameter and its state in place (the same arrays from one step to the next, as a
replayed CUDA graph needs), through the backend's ``optim`` kernels (``backends/optim_kernels.py``:
all of a group's parameters on a backend at once). Groups are in ``optim_groups.py``, state dicts
in ``optim_state.py``; the learning-rate schedulers are ``optim.lr_scheduler``
(``optim_lr_scheduler.py``)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Any

from . import backends
from ._grads import zero_grads
from .autograd import no_grad
from .optim_groups import (
    ParamGroup,
    check_keys,
    check_nonnegative,
    check_number,
    check_params,
    group_params,
    parameter_lists,
)
from .optim_state import load_state, pack_state
from .tensor_core import Tensor


class Optimizer:
    """Holds the parameter groups (``param_groups``: dicts of ``'params'`` and options) and
    the per-parameter ``state`` (keyed by parameter, as PyTorch's); ``step()`` updates
    ``p.data``. ``OPTIONS`` names a subclass's options (by default the keys of ``defaults``),
    ``STATE`` its per-parameter state. A subclass written as for PyTorch (``__init__`` passing
    ``defaults``, its own ``step()`` over ``param_groups``) works as it is."""

    OPTIONS: tuple[str, ...] = ()
    STATE: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Tensor] | Iterable[Mapping[str, Any]],
                 defaults: Mapping[str, Any]) -> None:
        self.defaults = dict(defaults)
        self._check_options(self.defaults, "")
        self.param_groups: list[ParamGroup] = []
        self.state: dict[Tensor, dict[str, Any]] = {}
        self._placement: dict[Tensor, tuple[Any, Any]] = {}
        for group in parameter_lists(type(self).__name__, params):
            self.add_param_group(group)

    @property
    def params(self) -> list[Tensor]:
        """Every parameter, group after group (the order state dicts number them in)."""
        return [p for group in self.param_groups for p in group["params"]]

    def __getattr__(self, name: str) -> Any:
        """An option (``opt.lr``) when every group has the same value: a convenience for
        one-group optimizers; ``param_groups`` holds each group's."""
        if name.startswith("_") or name in ("defaults", "param_groups") or \
                name not in self._options():
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        values = [group[name] for group in self.param_groups]
        if any(v != values[0] for v in values):
            raise AttributeError(f"{type(self).__name__}: the parameter groups have different "
                                 f"{name} values {values}; read param_groups[i][{name!r}]")
        return values[0]

    def __setattr__(self, name: str, value: Any) -> None:
        """``opt.lr = 0.01`` sets that option in every group (checked first), where PyTorch
        would make an attribute the step never reads."""
        groups = self.__dict__.get("param_groups")
        if groups is None or name.startswith("_") or name not in self._options():
            object.__setattr__(self, name, value)
            return
        for i, group in enumerate(groups):
            self._check_options({**group, name: value}, f" (parameter group {i})")
        for group in groups:
            group[name] = value

    def add_param_group(self, param_group: Mapping[str, Any]) -> None:
        """Add a group (a dict with ``'params'`` and any options; the others are the
        optimizer's defaults), as PyTorch's ``add_param_group``."""
        name, index = type(self).__name__, len(self.param_groups)
        if not isinstance(param_group, Mapping):
            raise TypeError(f"{name}: a parameter group must be a dict with 'params', got "
                            f"{type(param_group).__name__}")
        where = f" (parameter group {index})"
        params = group_params(name, param_group, index)
        check_keys(name, param_group, self._options(), where)
        check_params(name, params, {id(p): i for i, p in enumerate(self.params)})
        group = {"params": params, **{k: v for k, v in param_group.items() if k != "params"}}
        for option in self._options():
            group.setdefault(option, self.defaults[option])
        self._check_options(group, where)
        self.param_groups.append(ParamGroup(group, self._device_values))

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``.grad = None`` (PyTorch's default), or zeros in place with
        ``set_to_none=False``."""
        zero_grads(self.params, set_to_none)

    @no_grad()
    def step(self) -> None:
        """Update every parameter that has a gradient, in place: per group, the parameters of
        each backend together through its ``optim`` kernels (on CuPy one launch for up to 16
        of them, the group's options read from its device copy)."""
        for group in self.param_groups:
            found: dict[int, tuple[Any, list[Tensor], list[Any]]] = {}
            for p in group["params"]:
                grad = p.grad
                if grad is not None:
                    entry = found.get(id(p._backend))
                    if entry is None:
                        entry = found[id(p._backend)] = (p._backend, [], [])
                    entry[1].append(p)
                    entry[2].append(grad.data)
            for backend, params, grads in found.values():
                kernels = backend.kernels("optim")
                device = group.device_options(backend) if kernels.reads_device_options else None
                self._step_group(kernels, group, params, grads, device)

    def state_dict(self) -> dict[str, Any]:
        """PyTorch's layout: ``{'state': {index: {name: value}}, 'param_groups': [{options...,
        'params': [indices]}]}``, parameters numbered over all groups in order; state arrays
        are host NumPy copies, step counts floats."""
        return pack_state(self)

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore options and state saved by ``state_dict`` (checked first: nothing changes
        if any part is wrong), state moved to each parameter's backend and dtype and written
        into the existing state arrays where there are (a captured step keeps reading them)."""
        load_state(self, state_dict)

    def _state_of(self, p: Tensor) -> dict[str, Any]:
        """``p``'s state (made empty on first use), its arrays moved and cast to where ``p``
        is now (after ``model.to`` or ``model.double()``, which change parameters in place).
        Only updates that keep state call it, so plain SGD pays nothing per parameter."""
        state = self.state.get(p)
        if state is None:
            state = self.state[p] = {}
            self._placement[p] = (p._backend, p.data.dtype)
            return state
        be, dtype = self._placement[p]
        if be is not p._backend or dtype != p.data.dtype:
            be, dtype = self._placement[p] = (p._backend, p.data.dtype)
            for name, value in state.items():
                owner = backends.owner_of(value)
                if owner is not None:
                    if owner is not be:  # moved: through the host; only cast: on the device
                        value = be.asarray(owner.to_numpy(value))
                    state[name] = be.xp.astype(value, dtype)
        return state

    def _options(self) -> tuple[str, ...]:
        """The names of the options every group holds."""
        return type(self).OPTIONS or tuple(self.defaults)

    def _check_options(self, options: Mapping[str, Any], where: str) -> None:
        """Refuse bad option values (``where`` names the group, or is empty for defaults);
        a subclass that checks nothing keeps this."""

    @staticmethod
    def _device_values(group: Mapping[str, Any]) -> tuple[float, ...]:
        """The group's options the fused kernels read (``DEVICE_OPTIONS``' order)."""
        raise NotImplementedError

    def _step_group(self, kernels: Any, group: Mapping[str, Any], params: list[Tensor],
                    grads: list[Any], device: Any) -> None:
        """Update ``params`` (of one group and backend, whose optim ``kernels`` these are) in
        place from their gradient arrays ``grads``; ``device``: the options on the device."""
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent: g = grad + weight_decay * p; with momentum
    b = momentum * b + g (b = g on the first step), g = g + momentum * b (nesterov) or b;
    p = p - lr * g."""

    OPTIONS = ("lr", "momentum", "weight_decay", "nesterov")
    STATE = ("momentum_buffer",)

    def __init__(self, params: Iterable[Any], lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                      nesterov=nesterov))

    def _check_options(self, options: Mapping[str, Any], where: str) -> None:
        check_nonnegative("SGD", options, ("lr", "momentum", "weight_decay"), where)
        if options["nesterov"] and options["momentum"] <= 0:
            raise ValueError(f"SGD: nesterov momentum needs momentum > 0{where}, got "
                             f"momentum={options['momentum']!r}")

    @staticmethod
    def _device_values(group: Mapping[str, Any]) -> tuple[float, ...]:
        return (float(group["lr"]), float(group["momentum"]), float(group["weight_decay"]))

    def _step_group(self, kernels: Any, group: Mapping[str, Any], params: list[Tensor],
                    grads: list[Any], device: Any) -> None:
        momentum = group["momentum"]
        # plain SGD keeps no state: nothing made per parameter
        states = [self._state_of(p) for p in params] if momentum else [None] * len(params)
        kernels.sgd([p.data for p in params], grads, states, group["lr"], momentum,
                    group["weight_decay"], group["nesterov"], device_options=device)


class Adam(Optimizer):
    """Adam (Kingma & Ba) as torch.optim.Adam: g = grad + weight_decay * p (L2, not AdamW);
    m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
    p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)."""

    OPTIONS = ("lr", "betas", "eps", "weight_decay")
    STATE = ("step", "exp_avg", "exp_avg_sq")
    decoupled = False

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    def _check_options(self, options: Mapping[str, Any], where: str) -> None:
        name = type(self).__name__
        check_nonnegative(name, options, ("lr", "eps", "weight_decay"), where)
        betas = options["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{name}: betas{where} must be a pair (beta1, beta2), got "
                             f"{betas!r}")
        for i, beta in enumerate(betas):
            check_number(name, f"betas[{i}]", beta, where)
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{name}: betas[{i}]{where} must be in [0, 1), got {beta!r}")

    @staticmethod
    def _device_values(group: Mapping[str, Any]) -> tuple[float, ...]:
        b1, b2 = group["betas"]
        return (float(group["lr"]), float(b1), float(b2), float(group["eps"]),
                float(group["weight_decay"]))

    def _step_group(self, kernels: Any, group: Mapping[str, Any], params: list[Tensor],
                    grads: list[Any], device: Any) -> None:
        kernels.adam([p.data for p in params], grads, [self._state_of(p) for p in params],
                     group["lr"], tuple(group["betas"]), group["eps"], group["weight_decay"],
                     decoupled=self.decoupled, device_options=device)


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter) as torch.optim.AdamW: Adam whose weight decay is decoupled
    from the gradient: p = p * (1 - lr * weight_decay) first, then Adam's update without
    decay (the default weight_decay is 1e-2, PyTorch's)."""

    decoupled = True

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012) as torch.optim.Adadelta: g = grad + weight_decay * p;
    s = rho s + (1 - rho) g^2; delta = sqrt(a + eps) / sqrt(s + eps) * g;
    a = rho a + (1 - rho) delta^2; p = p - lr * delta (s and a start at zero, kept per
    parameter as ``square_avg`` and ``acc_delta``, with the ``step`` count).

    The defaults are PyTorch's (lr=1.0, rho=0.9, eps=1e-6), which are not Keras's: the seed's
    Keras MNIST CNN used ``Adadelta()`` with rho=0.95, eps=1e-7, lr=1.0 (Keras 2.3 and later
    changed the default lr to 0.001, a thousand times slower). To reproduce that program write
    ``Adadelta(params, lr=1.0, rho=0.95, eps=1e-7)``."""

    OPTIONS = ("lr", "rho", "eps", "weight_decay")
    STATE = ("step", "square_avg", "acc_delta")

    def __init__(self, params: Iterable[Any], lr: float = 1.0, rho: float = 0.9,
                 eps: float = 1e-6, weight_decay: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay))

    def _check_options(self, options: Mapping[str, Any], where: str) -> None:
        check_nonnegative("Adadelta", options, ("lr", "eps", "weight_decay"), where)
        rho = options["rho"]
        check_number("Adadelta", "rho", rho, where)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Adadelta: rho{where} must be in [0, 1], got {rho!r}")

    @staticmethod
    def _device_values(group: Mapping[str, Any]) -> tuple[float, ...]:
        return (float(group["lr"]), float(group["rho"]), float(group["eps"]),
                float(group["weight_decay"]))

    def _step_group(self, kernels: Any, group: Mapping[str, Any], params: list[Tensor],
                    grads: list[Any], device: Any) -> None:
        kernels.adadelta([p.data for p in params], grads, [self._state_of(p) for p in params],
                         group["lr"], group["rho"], group["eps"], group["weight_decay"],
                         device_options=device)


# ``optim.lr_scheduler`` as in PyTorch: an attribute, and importable by its dotted name.
from . import optim_lr_scheduler as lr_scheduler  # noqa: E402 (needs Optimizer defined)

sys.modules[__name__ + ".lr_scheduler"] = lr_scheduler
