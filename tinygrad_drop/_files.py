"""Atomic file writing: the data goes to a temporary file beside the target, which replaces
the target only when complete and on disk, so a failure (or a crash, or a power cut) leaves
either the old file or the new one, never a part of one."""

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
    newly created file would get. The file is flushed to disk (fsync) before it replaces
    ``path``, and the folder after, so the rename itself is durable. Returns ``path``. A
    failure to create, write or move the file raises ``OSError`` naming ``path`` (never the
    temporary name)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    suffix = os.path.splitext(path)[1]
    temporary = None
    try:
        fd, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=folder)
        os.close(fd)
        write(temporary)
        os.chmod(temporary, _default_mode())  # mkstemp makes it private (0600)
        with open(temporary, "r+b") as f:  # without it a crash can leave the new name empty
            os.fsync(f.fileno())
        os.replace(temporary, path)
        _sync_folder(folder)
    except OSError as exc:
        if exc.errno is None or (temporary is not None
                                 and exc.filename not in (None, temporary, folder)):
            raise  # a download's error, or about another file: its own words say more
        # the user knows the path they gave, not the temporary name beside it (OSError picks
        # the subclass from the errno: FileNotFoundError, PermissionError, ...)
        raise OSError(exc.errno, exc.strerror, path) from exc
    finally:
        if temporary is not None and os.path.exists(temporary):
            os.remove(temporary)
    return path


def _sync_folder(folder: str) -> None:
    """fsync a folder so a rename in it survives a crash; where folders cannot be opened or
    synced (Windows, some network file systems) the rename is left to the system."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
