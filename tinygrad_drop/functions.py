"""Package-level functions with PyTorch's names and semantics: ``td.cat``, ``td.stack``,
``td.split``, ``td.chunk``, ``td.where``, ``td.maximum``, ``td.minimum``, and ``pad`` (which
``nn.functional`` exposes as ``F.pad``). Dtypes promote across inputs as PyTorch's do
(``tensor_math.promote``)."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

from . import dtypes
from .ops.join import Cat, Stack
from .ops.select import Maximum, Minimum, Where
from .ops.shape import Pad, normalize_dim
from .tensor_core import Tensor
from .tensor_math import bool_form, promote


def _tensor_list(tensors: Any, where: str) -> list[Tensor]:
    if isinstance(tensors, Tensor) or not isinstance(tensors, Sequence):
        raise TypeError(f"{where}: expected a list or tuple of Tensors, got "
                        f"{type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"{where}: expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{where}: expected Tensors, got {type(t).__name__} at position {i}")
    return list(tensors)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Concatenate along an existing dim; dtypes promote across the inputs (int32 with
    float32 gives float32). One graph node; each input's gradient is its slice."""
    tensors = _tensor_list(tensors, "cat")
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise ValueError(f"cat: zero-dimensional tensor (at position {i}) cannot be "
                             "concatenated")
    ref = next((t for t in tensors if t.shape != (0,)), tensors[0])
    d = normalize_dim(dim, ref.ndim, "cat")
    converted, _ = promote(*tensors)
    return Cat.apply(*converted, dim=d)


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors of one shape along a new dim ``dim`` (in ``[-ndim - 1, ndim]``); dtypes
    promote as in ``cat``. One graph node."""
    tensors = _tensor_list(tensors, "stack")
    d = normalize_dim(dim, tensors[0].ndim + 1, "stack")
    converted, _ = promote(*tensors)
    return Stack.apply(*converted, dim=d)


def split(tensor: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """``tensor.split(split_size_or_sections, dim)``: pieces of one size, or of the listed
    sizes, along ``dim``."""
    return tensor.split(split_size_or_sections, dim)


def chunk(tensor: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """``tensor.chunk(chunks, dim)``: up to ``chunks`` pieces of ceil(size / chunks)."""
    return tensor.chunk(chunks, dim)


def where(condition: Tensor, x: Any, y: Any) -> Tensor:
    """``x`` where the bool ``condition`` holds, else ``y``; ``x``/``y`` are Tensors or
    numbers, promoted together as PyTorch does (two floats give float32); all broadcast. The
    gradient flows to the chosen input."""
    if not isinstance(condition, Tensor) or condition.dtype_name != "bool":
        what = condition.dtype_name if isinstance(condition, Tensor) else \
            type(condition).__name__
        raise TypeError(f"where: expected condition to be a boolean tensor, but got {what}")
    if not (isinstance(x, Tensor) or isinstance(y, Tensor)):
        # promote needs a tensor: the first number as a 0-d one of its category's default
        # dtype (a NumPy scalar as the Python number, which Tensor reads so) keeps its say
        x = Tensor(x.item() if hasattr(x, "item") else x, backend=condition.backend)
    (a, b), _ = promote(x, y)
    return Where.apply(condition, a, b)


def _extremum(op: type, a: Any, b: Any) -> Tensor:
    for which, v in (("input", a), ("other", b)):
        if not isinstance(v, Tensor):
            raise TypeError(f"{op.name}: argument {which!r} must be a Tensor, not "
                            f"{type(v).__name__} (for a number use clamp)")
    (a, b), name = promote(a, b)
    if name == "bool" and a._backend is b._backend:
        # PyTorch: the max of bools is their or, the min their and (bools have no gradient;
        # the Array API's maximum refuses them)
        return bool_form("logical_or" if op is Maximum else "logical_and", a, b)
    return op.apply(a, b)


def maximum(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002 (PyTorch's name)
    """Elementwise max of two tensors (broadcasting, dtypes promoted; NaN propagates; of two
    bool tensors, their or). Ties split the gradient half and half, as in PyTorch."""
    return _extremum(Maximum, input, other)


def minimum(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002 (PyTorch's name)
    """Elementwise min of two tensors (broadcasting, dtypes promoted; NaN propagates; of two
    bool tensors, their and). Ties split the gradient half and half, as in PyTorch."""
    return _extremum(Minimum, input, other)


def pad(x: Tensor, pad: Sequence[int], value: Any = 0.0) -> Tensor:
    """``torch.nn.functional.pad`` in constant mode: ``pad`` is (left, right) pairs starting
    from the LAST dim, ``(l, r)`` pads the last dim, ``(l, r, t, b)`` the last two; negative
    entries crop. The padding holds ``value`` converted to x's dtype. One graph node."""
    try:
        pads = [operator.index(p) for p in pad]
    except TypeError:
        raise TypeError(f"pad: pad must be a tuple of ints, got {tuple(pad)!r}") from None
    if len(pads) % 2:
        raise ValueError(f"pad: padding length must be divisible by 2, got {tuple(pads)}")
    if len(pads) // 2 > x.ndim:
        raise ValueError(f"pad: padding length should be less than or equal to two times the "
                         f"input dimension but got padding length {len(pads)} and input of "
                         f"dimension {x.ndim}")
    pairs = [(0, 0)] * x.ndim
    for i in range(len(pads) // 2):
        pairs[x.ndim - 1 - i] = (pads[2 * i], pads[2 * i + 1])
    if isinstance(value, Tensor):
        value = value.item()
    return Pad.apply(x, pads=tuple(pairs), value=dtypes.scalar_as(value, x.dtype_name))
