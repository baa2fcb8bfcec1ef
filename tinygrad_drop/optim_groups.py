"""Parameter groups of an optimizer, as PyTorch keeps them: ``param_groups`` is a list of dicts,
each with ``'params'`` (a list of Tensors) and every option of the optimizer, defaults filled in.

A group also keeps, per backend whose fused kernels read their options from device memory, a
small float64 device array of its options (``ParamGroup.device_options``). Assigning an option
(``group['lr'] = 0.01``, as the schedulers and PyTorch users do) writes that array at once, a
host-to-device write: a step captured by ``td.jit`` reads the new value on its next replay.
That holds where the fused kernels run (CuPy, float32/float64 contiguous parameters). The
portable kernels take the options as Python floats when the step runs: eager steps (and every
backend that cannot capture, where ``td.jit`` simply calls the function) always see the current
values, but a captured step of parameters the fused kernels do not take (float16, views) keeps
the values it was recorded with: make a new ``td.jit`` after changing an option there.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .backends.capture import CaptureError
from .tensor_core import Tensor

# Keys a group may hold besides the optimizer's options: PyTorch's own (the schedulers'
# ``initial_lr``, ``param_names``) and a label users commonly add.
EXTRA_KEYS = frozenset({"params", "initial_lr", "param_names", "name"})


class ParamGroup(dict):
    """One parameter group: PyTorch's dict (``'params'`` and the options). ``values_of(group)``
    gives the float options the fused kernels read, in their order; every device copy made by
    ``device_options`` is rewritten when an option is assigned."""

    def __init__(self, items: Mapping[str, Any],
                 values_of: Callable[[Mapping[str, Any]], tuple[float, ...]]) -> None:
        super().__init__(items)
        self._values_of = values_of
        self._device: dict[int, tuple[Any, Any]] = {}  # id(backend) -> (backend, array)
        self._written: tuple[float, ...] | None = None

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        if self._device and key != "params":
            values = self._values_of(self)
            if values != self._written:
                self._write(values)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (and deep-copied) as its items and ``values_of``: the device copies are made
        again on first use. Without this, unpickling sets the items before ``_device`` exists
        and fails."""
        return (type(self), (dict(self), self._values_of))

    def update(self, *args: Any, **kwargs: Any) -> None:
        """``dict.update`` through item assignment (so the device copies follow)."""
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def device_options(self, backend: Any) -> Any:
        """The float64 array on ``backend`` holding this group's kernel options, made on first
        use and the same array afterwards (a captured step reads its address). Options changed
        without item assignment (``dict.__setitem__``, ``setdefault``) are written here,
        outside a capture."""
        entry = self._device.get(id(backend))
        if entry is None:
            values = self._values_of(self)
            array = backend.asarray(list(values), dtype="float64")
            self._device[id(backend)] = (backend, array)
            self._written = values
            return array
        values = self._values_of(self)
        if values != self._written:
            if getattr(backend, "capturing", False):
                raise CaptureError(
                    "an optimizer option was changed without item assignment (e.g. "
                    "group.setdefault(...)) just before td.jit captured the step; assign it as "
                    "group['lr'] = value, which writes the device copy the step reads")
            self._write(values)
        return entry[1]

    def _write(self, values: tuple[float, ...]) -> None:
        for backend, array in self._device.values():
            array[...] = backend.asarray(list(values), dtype="float64")
        self._written = values


def check_number(optimizer: str, option: str, value: Any, where: str) -> None:
    """Refuse a non-number option (bools too) as a TypeError naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{optimizer}: {option}{where} must be a number, got {value!r}")


def check_nonnegative(optimizer: str, options: Mapping[str, Any], names: Iterable[str],
                      where: str) -> None:
    """Refuse a negative (or NaN) option as PyTorch does, naming it and its value."""
    for name in names:
        value = options[name]
        check_number(optimizer, name, value, where)
        if not value >= 0:
            raise ValueError(f"{optimizer}: {name}{where} must be >= 0, got {value!r}")


def parameter_lists(optimizer: str, params: Any) -> list[dict[str, Any]]:
    """``params`` (an iterable of Tensors, or of dicts with ``'params'``) as a list of group
    dicts, each ``'params'`` a list; refuses what PyTorch refuses."""
    if isinstance(params, Tensor):
        raise TypeError(f"{optimizer}: params must be an iterable of Tensors (e.g. "
                        "model.parameters() or [w, b]) or of dicts, got a single Tensor")
    if isinstance(params, (set, frozenset)):
        raise TypeError(f"{optimizer}: params must be an ordered iterable (a list), not a set: "
                        "a state dict refers to parameters by position")
    items = list(params)
    if not items:
        raise ValueError(f"{optimizer}: got an empty parameter list")
    kinds = {isinstance(item, Mapping) for item in items}
    if kinds == {False}:
        return [{"params": items}]
    if kinds == {True}:
        return [dict(item) for item in items]
    raise TypeError(f"{optimizer}: params mixes Tensors and dicts; give either Tensors (one "
                    "group) or dicts with 'params' (one per group)")


def group_params(optimizer: str, group: Mapping[str, Any], index: int) -> list[Tensor]:
    """The ``'params'`` of a group dict as a list (a single Tensor is one parameter)."""
    if "params" not in group:
        raise ValueError(f"{optimizer}: parameter group {index} has no 'params' key")
    params = group["params"]
    if isinstance(params, Tensor):
        return [params]
    if isinstance(params, (set, frozenset)):
        raise TypeError(f"{optimizer}: parameter group {index}'s params must be an ordered "
                        "iterable (a list), not a set")
    return list(params)


def check_params(optimizer: str, params: list[Any], seen: dict[int, int]) -> None:
    """Each parameter a leaf Tensor given once (``seen``: id -> global index, of earlier
    groups too; extended here)."""
    start = len(seen)
    for offset, p in enumerate(params):
        i = start + offset
        if not isinstance(p, Tensor):
            raise TypeError(f"{optimizer}: parameter {i} is a {type(p).__name__}, not a Tensor")
        if not p.is_leaf:
            raise ValueError(f"{optimizer}: parameter {i} is not a leaf tensor (it was computed "
                             "by an op); optimize the tensors it was computed from")
        if id(p) in seen:
            raise ValueError(f"{optimizer}: parameter {i} is the same tensor as parameter "
                             f"{seen[id(p)]}; each parameter must be given once (it would be "
                             "stepped twice per step)")
        seen[id(p)] = i


def check_keys(optimizer: str, group: Mapping[str, Any], options: Iterable[str],
               where: str) -> None:
    """Refuse a key that is no option of ``optimizer`` (PyTorch keeps it silently, so a
    misspelt ``'learning_rate'`` would train with the default)."""
    known = set(options)
    unknown = [key for key in group if key not in known and key not in EXTRA_KEYS]
    if unknown:
        raise ValueError(f"{optimizer}: unknown option {unknown[0]!r}{where} (its options: "
                         f"{', '.join(sorted(known))})")
