"""Argument checks shared by the functional API (``F``) and the modules, and warnings that
point at the user's line rather than into the library."""

from __future__ import annotations

import numbers
import os
import sys
import warnings
from typing import Any

from ..ops.loss_targets import REDUCTIONS
from ..tensor_core import Tensor

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def check_tensor(x: Any, where: str) -> None:
    """A TypeError naming ``where`` unless ``x`` is a Tensor."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{where}: expected a Tensor, got {type(x).__name__}")


def check_floating(x: Any, where: str) -> None:
    """As ``check_tensor``, and the tensor must hold floating-point numbers."""
    check_tensor(x, where)
    if not x.is_floating_point():
        raise TypeError(f"{where}: expected a floating-point tensor, got dtype "
                        f"{x.dtype_name} (cast it with .float())")


def number(value: Any, name: str, where: str) -> float:
    """A real number (not a bool) as a float, or a TypeError naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a number, got {value!r}")
    return float(value)


def check_reduction(reduction: Any, where: str) -> str:
    """``reduction`` if it is 'mean', 'sum' or 'none'; otherwise a ValueError naming ``where``."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"{where}: reduction must be 'mean', 'sum' or 'none', got "
                         f"{reduction!r}")
    return reduction


def warn_at_caller(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` attributed to the first frame outside tinygrad_drop: the user's line
    that called ``F.softmax``, ``nn.Softmax()(x)`` or ``nn.CrossEntropyLoss(...)``, however
    deep inside the library the warning is raised."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
