"""The base of every kernel family (``kernels.py`` says what families are): the kernels of one op
family on one backend."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:  # pragma: no cover
    from .base import Backend


class Kernels:
    """The kernels of one op family on one backend (``self.backend``, ``self.xp``)."""

    family: ClassVar[str] = ""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.xp = backend.xp
