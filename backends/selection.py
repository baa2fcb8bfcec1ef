"""Which backend is the default: ``$TINYGRAD_DROP_BACKEND``, or ``numpy`` when it is unset."""

from __future__ import annotations

import os

ENV_VAR = "TINYGRAD_DROP_BACKEND"
DEFAULT_BACKEND = "numpy"


def default_name() -> str:
    """The default backend's name: ``$TINYGRAD_DROP_BACKEND``, or ``numpy`` when unset."""
    return os.environ.get(ENV_VAR) or DEFAULT_BACKEND


def named_by_environment(name: str) -> bool:
    """Whether ``name`` is the one ``$TINYGRAD_DROP_BACKEND`` asks for (error messages say so)."""
    return name == os.environ.get(ENV_VAR)
