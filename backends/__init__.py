"""Pluggable array backends for tinygrad_drop (installed as ``tinygrad_drop.backends``).

``available()`` lists what runs here, ``get(name)`` returns a backend, ``register(name, factory)``
adds one; third-party packages can also advertise a factory in the entry-point group
``tinygrad_drop.backends``. The default is ``$TINYGRAD_DROP_BACKEND`` (``numpy`` when unset).

Modules: ``base`` (the Backend interface), ``registry``, ``selection`` (the environment
variable), ``generator``, ``kernels`` (the portable kernels by op family), one module per
backend with its kernels beside it, ``philox`` (the GPU's random stream on the host).
"""

from .base import DTYPE_NAMES, Backend, BackendUnavailableError, dtype_name
from .generator import Generator
from .kernels import Kernels
from .registry import (
    ENTRY_POINT_GROUP,
    available,
    get,
    is_available,
    known,
    manual_seed,
    owner_of,
    register,
    unavailable,
)
from .selection import DEFAULT_BACKEND, ENV_VAR, default_name


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

__all__ = ["Backend", "BackendUnavailableError", "Generator", "Kernels", "available",
           "default_name", "dtype_name", "get", "is_available", "known", "manual_seed",
           "owner_of", "register", "unavailable",
           "DEFAULT_BACKEND", "DTYPE_NAMES", "ENTRY_POINT_GROUP", "ENV_VAR"]
