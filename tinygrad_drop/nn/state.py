"""Loading a state dict: every value checked against the model's tensor (name, shape, dtype)
and converted to its backend before any is assigned; every problem reported at once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from .. import backends
from ..serialization import host_array  # the host-side module, allowed to use NumPy
from ..tensor_core import Tensor


class StateDictError(RuntimeError, KeyError, ValueError, TypeError):
    """``load_state_dict`` refused a state dict; the message lists every problem, as
    PyTorch's RuntimeError does. Also a KeyError (missing or unexpected keys), ValueError
    (shapes) and TypeError (dtypes, values that are not arrays), so code that caught those
    keeps working."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""  # not KeyError's quoted repr


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` did not match: keys the model has that the state lacked, and
    keys the state has that the model lacks."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class _Mismatch(Exception):
    """One problem with one entry; collected into a StateDictError."""


def stage(owner: str, own: dict[str, Tensor], state_dict: Any,
          strict: bool) -> tuple[list[tuple[Tensor, Any]], IncompatibleKeys]:
    """The (tensor, new native array) pairs to assign and the unmatched keys, or a
    StateDictError listing every problem (nothing is assigned here)."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"load_state_dict for {owner}: expected a mapping of names to arrays "
                        f"(a state dict), got {type(state_dict).__name__}")
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    problems = []
    if strict and missing:
        problems.append(f"Missing key(s) in state_dict: {_quoted(missing)}.")
    if strict and unexpected:
        problems.append(f"Unexpected key(s) in state_dict: {_quoted(unexpected)}.")
    staged = []
    for name, t in own.items():
        if name in state_dict:
            try:
                staged.append((t, _staged_value(t, name, state_dict[name])))
            except _Mismatch as exc:
                problems.append(str(exc))
    if problems:
        raise StateDictError(f"Error(s) in loading state_dict for {owner}:\n\t"
                             + "\n\t".join(problems))
    return staged, IncompatibleKeys(missing, unexpected)


def _quoted(keys: list[str]) -> str:
    return ", ".join(f'"{k}"' for k in keys)


def _staged_value(t: Tensor, name: str, value: Any) -> Any:
    """``value`` checked against ``t`` (shape, dtype) and copied into a fresh native array of
    ``t``'s backend, in native byte order (a big-endian array read from a file included)."""
    be = t._backend
    if isinstance(value, Tensor):
        shape, dtype = value.shape, value.dtype_name
    else:
        shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
        if shape is None or dtype is None:
            raise _Mismatch(f"{name!r} is a {type(value).__name__}, not an array")
        dtype = backends.dtype_name(dtype)
    if tuple(shape) != t.shape:
        raise _Mismatch(f"{name!r} has shape {tuple(shape)}, the model expects {t.shape}")
    if dtype != t.dtype_name:
        raise _Mismatch(f"{name!r} has dtype {dtype}, the model expects {t.dtype_name}")
    native = be.dtype(t.dtype_name)
    if isinstance(value, Tensor) and value._backend is be:
        return be.xp.asarray(value.data, dtype=native, copy=True)
    try:
        host = host_array(value)
    except Exception as exc:
        raise _Mismatch(f"cannot read the numbers of {name!r} ({type(value).__name__}): "
                        f"{exc}") from exc
    if backends.dtype_name(host.dtype) != t.dtype_name or tuple(host.shape) != t.shape:
        raise _Mismatch(f"{name!r} ({type(value).__name__}) converts to an array of shape "
                        f"{tuple(host.shape)} and dtype {backends.dtype_name(host.dtype)}, not "
                        f"{t.shape} {t.dtype_name}")
    return be.xp.asarray(be.asarray(host), copy=True)
