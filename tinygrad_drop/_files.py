"""Atomic file writing: the data goes to a temporary file beside the target, which replaces
the target only when complete, so a failure leaves any old file intact."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable


def _default_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> str:
    """Call ``write(temporary_path)``, then move the result to ``path`` with the permissions a
    newly created file would get. Returns ``path`` as a string."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    suffix = os.path.splitext(path)[1]
    fd, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=folder)
    os.close(fd)
    try:
        write(temporary)
        os.chmod(temporary, _default_mode())  # mkstemp makes it private (0600)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path
