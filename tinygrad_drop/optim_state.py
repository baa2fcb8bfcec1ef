"""An optimizer's state dict in PyTorch's layout, and loading one back.

``pack_state``: ``{'state': {index: {name: value}}, 'param_groups': [{options..., 'params':
[indices]}]}``, parameters numbered over all groups in order, state arrays as host NumPy copies
and step counts as floats.

``load_state`` checks everything before changing anything (the group count and sizes, option
names and values, state indices, names, shapes and numbers), then restores the options (item
assignment, so the groups' device copies follow) and the state: each array moved to its
parameter's backend and dtype and written into the existing state array where there is one of
that shape and dtype (a step captured by ``td.jit`` keeps reading the same addresses).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

from . import backends
from .optim_groups import check_keys
from .serialization import host_array


def pack_state(optimizer: Any) -> dict[str, Any]:
    """``optimizer``'s state dict (see the module docstring)."""
    index: dict[int, int] = {}
    groups = []
    for group in optimizer.param_groups:
        numbers_ = []
        for p in group["params"]:
            numbers_.append(index.setdefault(id(p), len(index)))
        groups.append({**{k: v for k, v in group.items() if k != "params"},
                       "params": numbers_})
    state = {}
    for p in optimizer.params:
        entries = optimizer.state.get(p)
        if entries:
            state[index[id(p)]] = {name: _host(name, value) for name, value in entries.items()}
    return {"state": state, "param_groups": groups}


def _host(name: str, value: Any) -> Any:
    """A state value on the host: a step count as a float, an array as a NumPy copy."""
    if name == "step":  # a Python number, or a device count (the fused Adam's)
        return float(host_array(value))
    owner = backends.owner_of(value)
    return owner.to_numpy(value) if owner is not None else value


def load_state(optimizer: Any, state_dict: Mapping[str, Any]) -> None:
    """Load ``state_dict`` into ``optimizer`` (see the module docstring)."""
    name = type(optimizer).__name__
    if not isinstance(state_dict, Mapping) or set(state_dict) != {"state", "param_groups"}:
        keys = sorted(state_dict) if isinstance(state_dict, Mapping) else type(state_dict)
        raise ValueError(f"{name}.load_state_dict: expected a dict with exactly 'state' and "
                         f"'param_groups' (what state_dict() returns), got {keys}")
    saved_groups, saved_state = state_dict["param_groups"], state_dict["state"]
    groups = optimizer.param_groups
    if not isinstance(saved_groups, (list, tuple)) or len(saved_groups) != len(groups):
        count = len(saved_groups) if isinstance(saved_groups, (list, tuple)) else saved_groups
        raise ValueError(f"{name}.load_state_dict: the loaded state dict has {count} parameter "
                         f"groups, this optimizer {len(groups)}")
    params: dict[Any, Any] = {}  # saved index -> parameter
    options = []
    for i, (saved, group) in enumerate(zip(saved_groups, groups, strict=True)):
        where = f" (parameter group {i})"
        if not isinstance(saved, Mapping) or not isinstance(saved.get("params"), (list, tuple)):
            raise ValueError(f"{name}.load_state_dict: parameter group {i} is not a dict with "
                             "a 'params' list")
        if len(saved["params"]) != len(group["params"]):
            raise ValueError(f"{name}.load_state_dict: parameter group {i} has "
                             f"{len(saved['params'])} parameters in the loaded state dict, "
                             f"{len(group['params'])} in this optimizer")
        saved = _without_pytorch_defaults(name, saved, where)
        check_keys(f"{name}.load_state_dict", saved, optimizer._options(), where)
        missing = [k for k in optimizer._options() if k not in saved]
        if missing:
            raise ValueError(f"{name}.load_state_dict: parameter group {i} lacks the option "
                             f"{missing[0]!r}")
        values = {k: v for k, v in saved.items() if k != "params"}
        optimizer._check_options(values, where)
        options.append(values)
        for number, p in zip(saved["params"], group["params"], strict=True):
            params[number] = p
    if not isinstance(saved_state, Mapping):
        raise ValueError(f"{name}.load_state_dict: 'state' must be a dict of parameter index "
                         f"-> state, got {type(saved_state).__name__}")
    staged = {}
    for number, entries in saved_state.items():
        p = params.get(number)
        if p is None:
            raise ValueError(f"{name}.load_state_dict: the state refers to parameter "
                             f"{number!r}, which no parameter group lists")
        staged[p] = _staged(name, optimizer.STATE, number, entries, p)
    # checked: now change
    for group, values in zip(groups, options, strict=True):
        for key in [k for k in group if k != "params" and k not in values]:
            del group[key]
        for key, value in values.items():
            group[key] = value
    old = optimizer.state
    optimizer.state = {}
    for p, entries in staged.items():
        optimizer.state[p] = _placed(p, entries, old.get(p, {}))
        optimizer._placement[p] = (p._backend, p.data.dtype)


# Options PyTorch's optimizers save that ours do not have, with the values under which they
# change nothing in the update (capturable and the implementation switches never do).
_PYTORCH_NEUTRAL: dict[str, tuple[Any, ...]] = {
    "dampening": (0,), "maximize": (False,), "amsgrad": (False,), "foreach": (None, False, True),
    "fused": (None, False), "differentiable": (False,), "capturable": (False, True)}
_DECOUPLED = {"Adam": False, "AdamW": True}  # decoupled_weight_decay: what each one does


def _without_pytorch_defaults(name: str, saved: Mapping[str, Any], where: str
                              ) -> Mapping[str, Any]:
    """A PyTorch parameter group with its PyTorch-only options left out where they hold
    values that change nothing here; one that would change the update (``amsgrad=True``,
    ``maximize=True``, a dampening) is refused, naming it, rather than silently ignored."""
    neutral = dict(_PYTORCH_NEUTRAL)
    if name in _DECOUPLED:
        neutral["decoupled_weight_decay"] = (_DECOUPLED[name],)
    kept = {}
    for key, value in saved.items():
        if key not in neutral:
            kept[key] = value
        elif not any(_same(value, v) for v in neutral[key]):
            raise ValueError(f"{name}.load_state_dict: PyTorch's option {key}={value!r}"
                             f"{where} is not supported here (only "
                             f"{' or '.join(repr(v) for v in neutral[key])}, which change "
                             "nothing); the update would differ")
    return kept


def _same(value: Any, neutral: Any) -> bool:
    """``value`` is ``neutral``: the same bool or None, or an equal number that is no bool."""
    if isinstance(neutral, bool) or neutral is None or isinstance(value, bool):
        return value is neutral
    return isinstance(value, numbers.Real) and value == neutral


def _staged(name: str, keys: tuple[str, ...], number: Any, entries: Any,
            p: Any) -> dict[str, Any]:
    """One parameter's saved state, checked, as host values (not yet on its backend)."""
    if not isinstance(entries, Mapping):
        raise ValueError(f"{name}.load_state_dict: the state of parameter {number} is not a "
                         f"dict (got {type(entries).__name__})")
    if keys and set(entries) != set(keys):  # a subclass without STATE: whatever it keeps
        raise ValueError(f"{name}.load_state_dict: the state of parameter {number} has "
                         f"{sorted(entries)}, expected {sorted(keys)}")
    staged: dict[str, Any] = {}
    for key, value in entries.items():
        if key == "step":
            step = float(host_array(value)) if hasattr(value, "shape") else value
            if isinstance(step, bool) or not isinstance(step, numbers.Real) or not (
                    step >= 0 and math.isfinite(step)):
                raise ValueError(f"{name}.load_state_dict: step of parameter {number} must be "
                                 f"a count >= 0, got {value!r}")
            staged[key] = int(step) if float(step).is_integer() else float(step)
            continue
        if not keys and not hasattr(value, "shape"):
            staged[key] = value
            continue
        array = host_array(value)
        if tuple(array.shape) != tuple(p.shape):
            raise ValueError(f"{name}.load_state_dict: {key} of parameter {number} has shape "
                             f"{tuple(array.shape)}, the parameter {tuple(p.shape)}")
        if array.dtype.kind != "f":
            raise ValueError(f"{name}.load_state_dict: {key} of parameter {number} has dtype "
                             f"{array.dtype}, not a float dtype")
        staged[key] = array
    return staged


def _placed(p: Any, entries: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """``entries`` on ``p``'s backend in its dtype, written into ``old``'s arrays where they
    fit (same backend, shape and dtype)."""
    backend, dtype = p._backend, p.data.dtype
    placed: dict[str, Any] = {}
    for key, value in entries.items():
        current = old.get(key)
        fits = (current is not None and backends.owner_of(current) is backend
                and current.shape == tuple(p.shape if key != "step" else ())
                and current.dtype == dtype)
        if key == "step" or not hasattr(value, "shape"):
            if fits:  # a device step count (the fused Adam's)
                current[...] = value
                value = current
            placed[key] = value
            continue
        device = backend.asarray(value, dtype=dtype)
        if fits:
            current[...] = device
            device = current
        placed[key] = device
    return placed
