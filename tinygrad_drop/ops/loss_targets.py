"""What the class-target losses (``loss.CrossEntropy``, ``loss.NLLLoss``) share: checking
shapes and targets, laying (N, C, d1, ...) out as rows of classes, and reductions. Helpers
only; the ops are in ``loss``."""

from __future__ import annotations

import math
from typing import Any

from ..backends import dtype_name
from ..dtypes import native_category

REDUCTIONS = ("mean", "sum", "none")


class TargetOutOfRange(ValueError, IndexError):
    """A class target outside [0, C) (PyTorch raises IndexError; a ValueError too, as the
    other bad-argument errors here)."""


def class_target_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The class-index target shape for input ``shape``: (C,) -> (), (N, C, d...) -> (N, d...)."""
    return () if len(shape) == 1 else (shape[0], *shape[2:])


def check_class_input(where: str, x: Any, target: Any, weight: Any,
                      probabilities: bool) -> None:
    """Shapes and dtypes of (input, target, weight) for a class loss, or the error naming
    them; ``probabilities``: the target holds class probabilities (the input's shape)."""
    if x.ndim == 0:
        raise ValueError(f"{where}: expected input (C,), (N, C) or (N, C, d1, ...), got a 0-d "
                         "input")
    if native_category(x.dtype) != 2:  # cached per dtype: xp.isdtype costs more per call
        raise TypeError(f"{where}: input must be floating point, got dtype {dtype_name(x.dtype)}")
    classes = x.shape[0 if x.ndim == 1 else 1]
    if weight is not None and tuple(weight.shape) != (classes,):
        raise ValueError(f"{where}: weight must hold one value per class, shape ({classes},), "
                         f"got {tuple(weight.shape)}")
    if probabilities:
        return
    expected = class_target_shape(x.shape)
    if not (target.shape == expected or (x.ndim == 1 and target.shape == (1,))):
        raise ValueError(f"{where}: expected target {expected} (class indices) for input "
                         f"{x.shape}, got logits {x.shape} and target {target.shape}")
    if native_category(target.dtype) != 1:
        raise TypeError(f"{where}: target must hold integer class indices (or class "
                        "probabilities of the input's shape), got dtype "
                        f"{dtype_name(target.dtype)}")


def read(value: Any) -> int:
    """A 0-d device array (integer or bool) as a host int: each call waits for the device."""
    return int(value)


def kept_targets(where: str, backend: Any, target: Any, classes: int,
                 ignore_index: int) -> Any:
    """Refuse a target outside [0, classes) other than ``ignore_index``, naming it; return the
    boolean mask of the targets that count, or None when all do.

    Where reading is free (``backend.host_memory``) the targets are checked at once: min and
    max, one read more when some target lies outside [0, classes) (an ignored one, or an
    error), two more to name the bad target. On a device nothing is read: the mask also
    leaves out the bad targets, so that they are never used as indices and add neither loss
    nor gradient, and the failure is recorded on the device and raised at the next host read
    (``backend.checks``)."""
    if not target.size:
        return None
    if not backend.host_memory:
        return _checked_on_device(where, backend, target, classes, ignore_index)
    if check_class_targets(where, backend.xp, target, classes, ignore_index):
        return target != ignore_index
    return None


def _checked_on_device(where: str, backend: Any, target: Any, classes: int,
                       ignore_index: int) -> Any:
    xp = backend.xp
    counted = target != ignore_index
    in_range = (target >= 0) & (target < classes)
    bad = counted & ~in_range
    # the value to name: the smallest bad target if one is negative, else the largest
    lowest = xp.min(xp.where(bad, target, classes))
    highest = xp.max(xp.where(bad, target, -1))
    backend.checks.require(xp.any(bad), xp.where(lowest < 0, lowest, highest),
                           ("class target", where, classes, ignore_index),
                           lambda value: out_of_range(where, value, classes, ignore_index))
    return counted & in_range


def out_of_range(where: str, bad: int, classes: int, ignore_index: int) -> TargetOutOfRange:
    """The error for class target ``bad``."""
    return TargetOutOfRange(f"{where}: target {bad} is out of range for {classes} classes"
                            + (f" (ignore_index is {ignore_index})"
                               if ignore_index != -100 else ""))


def check_class_targets(where: str, xp: Any, target: Any, classes: int,
                        ignore_index: int) -> bool:
    """Refuse a target outside [0, classes) other than ``ignore_index``, naming it; True when
    the targets equal to ``ignore_index`` must be masked out (perhaps none is). Reads from the
    device (``read``): min and max, one more when some target lies outside [0, classes) (an
    ignored one, or an error), two more to name the bad target."""
    if not target.size:
        return False
    lowest, highest = read(xp.min(target)), read(xp.max(target))
    ignorable = 0 <= ignore_index < classes
    if 0 <= lowest and highest < classes:
        # an ignore_index that is a class may be among the targets: mask rather than read
        return ignorable
    if not ignorable:
        keep = target != ignore_index
        if not read(xp.any(keep & ((target < 0) | (target >= classes)))):
            return True  # only ignored targets lie outside
        # ignored places filled with an extreme that cannot win: the kept min and max
        lowest = read(xp.min(xp.where(keep, target, highest)))
        highest = read(xp.max(xp.where(keep, target, lowest)))
    raise out_of_range(where, lowest if lowest < 0 else highest, classes, ignore_index)


def to_rows(xp: Any, x: Any) -> Any:
    """(C,) as (1, C); (N, C, d1, ...) as (N * d1 * ..., C), classes last."""
    if x.ndim == 2:
        return x
    if x.ndim == 1:
        return xp.reshape(x, (1, -1))
    if x.ndim > 2:
        x = xp.permute_dims(x, (0, *range(2, x.ndim), 1))
    return xp.reshape(x, (-1, x.shape[-1]))


def from_rows(xp: Any, rows: Any, shape: tuple[int, ...]) -> Any:
    """Undo ``to_rows``: rows (M, C) back to ``shape``."""
    if len(shape) == 2:
        return rows
    if len(shape) < 2:
        return xp.reshape(rows, shape)
    moved = xp.reshape(rows, (shape[0], *shape[2:], shape[1]))
    return xp.permute_dims(moved, (0, len(shape) - 1, *range(1, len(shape) - 1)))


def reduce(xp: Any, losses: Any, reduction: str, count: Any = None) -> Any:
    """'none': ``losses``; 'sum': their sum; 'mean': the sum over ``count`` (default: the
    number of losses), NaN where that is 0 (as PyTorch, and without a 0/0 warning)."""
    if reduction == "none":
        return losses
    total = xp.sum(losses)
    if reduction == "sum":
        return total
    if count is None:
        return total / losses.size if losses.size else xp.full((), math.nan, dtype=total.dtype)
    empty = count == 0
    return xp.where(empty, math.nan, total / xp.where(empty, 1.0, count))


def mean_scale(xp: Any, g: Any, reduction: str, size: int, count: Any = None) -> Any:
    """What the per-element gradient is multiplied by: ``g`` over ``count`` (default ``size``)
    for 'mean', 0 where nothing counts (the losses' gradients are all 0 there, as PyTorch)."""
    if reduction != "mean":
        return g
    if count is None:
        return g / size if size else g
    empty = count == 0
    return xp.where(empty, 0.0, g / xp.where(empty, 1.0, count))
