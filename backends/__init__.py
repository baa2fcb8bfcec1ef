"""Pluggable array backends for tinygrad_drop (installed as ``tinygrad_drop.backends``).

``available()`` lists what runs here, ``get(name)`` returns a backend, ``register(name, factory)``
adds one; third-party packages can also advertise a factory in the entry-point group
``tinygrad_drop.backends``. The default is ``$TINYGRAD_DROP_BACKEND`` (``numpy`` when unset).
"""

from .base import (
    DEFAULT_BACKEND,
    DTYPE_NAMES,
    ENTRY_POINT_GROUP,
    ENV_VAR,
    Backend,
    BackendUnavailableError,
    Generator,
    available,
    default_name,
    dtype_name,
    get,
    is_available,
    known,
    manual_seed,
    owner_of,
    register,
    unavailable,
)


def _numpy():
    from .numpy_backend import NumpyBackend
    return NumpyBackend()


def _strict():
    from .strict_backend import StrictBackend
    return StrictBackend()


def _cupy():
    from .cupy_backend import CupyBackend
    return CupyBackend()


register("numpy", _numpy)
register("strict", _strict)
register("cupy", _cupy)

__all__ = ["Backend", "BackendUnavailableError", "Generator", "available", "default_name",
           "dtype_name", "get", "is_available", "known", "manual_seed", "owner_of", "register",
           "unavailable",
           "DEFAULT_BACKEND", "DTYPE_NAMES", "ENTRY_POINT_GROUP", "ENV_VAR"]
