"""The registry of backends: names to factories, built-ins and entry points alike, each backend
made once; which ones run here and why the others do not; seeding every backend at once."""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata
from typing import Any

from .base import Backend, BackendUnavailableError
from .selection import ENV_VAR, default_name, named_by_environment

ENTRY_POINT_GROUP = "tinygrad_drop.backends"

_factories: dict[str, Callable[[], Backend]] = {}
_instances: dict[str, Backend] = {}
_failures: dict[str, str] = {}
_entry_points_loaded = False
_seed: int | None = None  # the last manual_seed, applied to backends created later
# PyTorch's device names, so ``t.to("cpu")`` and ``model.to("cuda")`` read as they do there.
DEVICE_ALIASES = {"cpu": "numpy", "cuda": "cupy"}


def register(name: str, factory: Callable[[], Backend], *, replace: bool = False) -> None:
    """Make a backend known under ``name``; ``factory()`` builds it or raises
    ``BackendUnavailableError`` saying why it cannot run here."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"backend name must be a non-empty string, got {name!r}")
    if name in _factories and not replace:
        raise ValueError(f"backend {name!r} is already registered (pass replace=True to override)")
    _factories[name] = factory
    _instances.pop(name, None)
    _failures.pop(name, None)


def _load_entry_points() -> None:
    """Register third-party backends advertised in the ``tinygrad_drop.backends`` group once."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in _factories:
            _factories[ep.name] = _entry_point_factory(ep)


def _entry_point_factory(ep: metadata.EntryPoint) -> Callable[[], Backend]:
    def build() -> Backend:
        try:
            target = ep.load()
        except Exception as exc:  # a broken plug-in must not break the other backends
            raise BackendUnavailableError(
                f"backend {ep.name!r} from entry point {ep.value!r} failed to load: {exc}") from exc
        return target()
    return build


def known() -> list[str]:
    """Every registered backend name, usable here or not."""
    _load_entry_points()
    return sorted(_factories)


def get(name: str | Backend | None = None) -> Backend:
    """The backend object for ``name`` (``None``: the default backend)."""
    if isinstance(name, Backend):
        return name
    if name is None:
        name = default_name()
    name = DEVICE_ALIASES.get(name, name)
    backend = _instances.get(name)
    if backend is not None:
        return backend
    _load_entry_points()
    if name not in _factories:
        source = f" (from ${ENV_VAR})" if named_by_environment(name) else ""
        raise ValueError(f"unknown backend {name!r}{source}; known backends: "
                         f"{', '.join(sorted(_factories))}")
    if name in _failures:
        raise BackendUnavailableError(_failures[name])
    try:
        backend = _factories[name]()
    except BackendUnavailableError as exc:
        _failures[name] = str(exc)
        raise
    if _seed is not None:
        backend.generator.manual_seed(_seed)
    _instances[name] = backend
    return backend


def is_available(name: str) -> tuple[bool, str | None]:
    """Whether backend ``name`` can run here, and if not, why (unknown names raise)."""
    try:
        get(name)
    except BackendUnavailableError as exc:
        return False, str(exc)
    return True, None


def available() -> list[str]:
    """Names of the backends that can run on this machine."""
    return [name for name in known() if is_available(name)[0]]


def unavailable() -> dict[str, str]:
    """Backends that are known but cannot run here, each with the reason."""
    reasons = {}
    for name in known():
        ok, reason = is_available(name)
        if not ok:
            reasons[name] = reason
    return reasons


def owner_of(array: Any) -> Backend | None:
    """The backend in use whose native arrays include ``array`` (None when none does): how
    host-side code (saving, data loading) copies a CuPy array, say, to NumPy."""
    for backend in list(_instances.values()):
        if backend.is_array(array):
            return backend
    return None


def manual_seed(seed: int) -> None:
    """Seed the default generator of every backend, now for those in use and on creation for
    the others (so seeding never imports CuPy just to seed it)."""
    global _seed
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative int, got {seed!r}")
    _seed = seed
    for backend in _instances.values():
        backend.generator.manual_seed(seed)
