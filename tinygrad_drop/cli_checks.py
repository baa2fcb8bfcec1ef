"""What the command line checks before any work starts: flag values, the backend, and that
every output location can be written. A complaint is one line naming the flag and the value;
the parser turns it into ``tinygrad-drop COMMAND: ...`` on stderr and exit status 2."""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import tempfile
from collections.abc import Callable

from . import backends, schedules


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage block): the program, the flag,
    what it must be and the value given."""

    def error(self, message: str) -> None:  # type: ignore[override]
        """Print ``message`` reworded as ``PROG: FLAG ...`` on stderr and exit with status 2."""
        print(f"{self.prog}: {reword(message)}", file=sys.stderr)
        sys.exit(2)


_ARGUMENT = re.compile(r"argument (\S+): (.*)", re.S)
_CHOICE = re.compile(r"invalid choice: (.*) \(choose from (.*)\)", re.S)


def reword(message: str) -> str:
    """argparse's ``argument --flag: text`` as ``--flag text``; its two unhelpful cases (a
    value that starts with '-', a bad choice) said plainly."""
    found = _ARGUMENT.fullmatch(message)
    if found is None:
        return message
    flag, text = found.group(1).split("/")[-1], found.group(2)
    if text == "expected one argument":
        return f"{flag} needs a value (one that starts with '-' is written {flag}=VALUE)"
    choice = _CHOICE.fullmatch(text)
    if choice is not None:
        return (f"{flag} must be one of {choice.group(2).replace(chr(39), '')}, got "
                f"{choice.group(1).strip(chr(39))}")
    return f"{flag} {text}"


def _number(kind: Callable[[str], float], what: str, ok: Callable[[float], bool]
            ) -> Callable[[str], float]:
    def convert(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or not ok(value):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value
    convert.__name__ = what  # argparse names the converter in some messages
    return convert


positive_int = _number(int, "a positive integer", lambda v: v > 0)
count = _number(int, "an integer >= 0", lambda v: v >= 0)
positive_float = _number(float, "a finite number > 0", lambda v: v > 0)
nonnegative_float = _number(float, "a finite number >= 0", lambda v: v >= 0)
fraction = _number(float, "a number in [0, 1)", lambda v: 0 <= v < 1)


def widths(text: str) -> tuple[int, ...]:
    """``256,256`` -> (256, 256): hidden layer widths, each a positive integer."""
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(
            f"must be positive integers separated by commas (e.g. 256,256), got {text}")
    return values


def rates(text: str) -> tuple[float, ...]:
    """``0.2,0.5`` -> (0.2, 0.5): drop rates, each in [0, 1)."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be drop rates in [0, 1) separated by commas (e.g. 0.2,0.5), got {text}"
        ) from None
    if not all(0.0 <= v < 1.0 for v in values):  # also refuses nan
        raise argparse.ArgumentTypeError(f"rates must be in [0, 1), got {text}")
    return values


def schedule(text: str) -> str:
    """A learning-rate schedule as ``schedules.parse`` reads it, kept as written."""
    try:
        schedules.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def backend_problem(name: str | None) -> str | None:
    """Why the backend ``name`` (None: the default, ``$TINYGRAD_DROP_BACKEND`` or numpy) cannot
    run here, or None when it can."""
    flag = "--backend" if name is not None else f"${backends.ENV_VAR}"
    name = name if name is not None else backends.default_name()
    try:
        ok, reason = backends.is_available(name)
    except ValueError:  # not a backend's name (nor an alias of one)
        return f"{flag} must be one of {', '.join(backends.known())}, got {name}"
    if ok:
        return None
    reason = (reason or "").removeprefix(f"backend {name!r} is not available: ")
    return f"{flag} {name} is not available here: {reason}"


def _can_create_in(folder: str) -> str | None:
    """Why a file cannot be created in the existing ``folder`` (tried for real: as root, or on a
    read-only or virtual file system, permission bits do not tell), or None."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def output_problem(flag: str, path: str | None, *, folder: bool = False) -> str | None:
    """Why ``path`` (a file to write, or with ``folder`` a folder to write into, made with its
    parents if missing) cannot be written, or None when it can."""
    if path is None:
        return None
    if path == "":
        return f"{flag} needs a path, got ''"
    target = os.path.abspath(path)
    if folder:
        if os.path.exists(target) and not os.path.isdir(target):
            return f"{flag} {path}: exists and is not a folder"
        existing = target
        while not os.path.exists(existing):
            existing = os.path.dirname(existing)
        if not os.path.isdir(existing):
            return f"{flag} {path}: {existing} is not a folder"
    else:
        if os.path.isdir(target):
            return f"{flag} {path}: is a folder, give a file name"
        existing = os.path.dirname(target)
        if not os.path.isdir(existing):
            return f"{flag} {path}: the folder {os.path.dirname(path) or existing} does not exist"
    why = _can_create_in(existing)
    return None if why is None else f"{flag} {path}: cannot write in {existing} ({why})"
