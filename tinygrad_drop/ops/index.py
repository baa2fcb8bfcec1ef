"""Indexing ops: ``x[index]`` with PyTorch's rules, and ``gather``.

``x[index]`` runs in two steps, as PyTorch does. First the basic part: ints select (removing
their dim), slices narrow, None and Python bools add a dim. Then the advanced part: integer
arrays and boolean masks, broadcast together, pick elements of the dims they cover. Their
result dims go where the first of them was when they are adjacent in the result of the first
step (so ``x[0, :, [0, 1]]`` on a (2, 3, 4) tensor is (3, 2): the int is gone before the arrays
are placed), and first otherwise (``x[[0, 1], :, [0, 1]]``). Both steps use only what the Array
API standard has: basic indexing, ``permute_dims``, ``reshape`` and a 1-D ``take`` along one
axis of the covered dims flattened into one.
"""

from __future__ import annotations

import math
import numbers
import operator
from typing import Any

from ..autograd import Op, TensorBase
from ..backends import dtype_name
from .shape import inverse_permutation

_WHOLE = slice(None)


class Index(Op):
    """``a[index]``: ``index`` is the basic part (ints, slices with resolved bounds, None),
    ``arrays`` the advanced part, one ``(position, sizes, linear)`` per integer array or mask:
    the first dim it covers in the basic result, the sizes of the dims it covers, and the
    (bounds-checked) linear indices into those dims. Backward scatters the gradient back,
    adding where an index repeats."""

    name = "index"
    kernel_family = "shape"
    index: tuple[Any, ...]
    arrays: tuple[tuple[int, tuple[int, ...], Any], ...] = ()

    @classmethod
    def select(cls, x: TensorBase, index: Any) -> Any:
        """``x[index]`` as one node, with PyTorch's rules (see the module's docstring)."""
        try:
            basic, arrays = _parse(x, index)
        except (IndexError, TypeError, ValueError) as exc:
            raise type(exc)(f"{exc} (tensor of shape {tuple(x.data.shape)})") from None
        return cls.apply(x, index=basic, arrays=arrays)

    def forward(self, a: Any) -> Any:
        xp = self.backend.xp
        self.in_shape = a.shape
        trivial = all(part == _WHOLE for part in self.index)
        b = a if trivial else a[self.index + (Ellipsis,)]
        if not self.arrays:
            return b
        positions = [p for pos, sizes, _ in self.arrays for p in range(pos, pos + len(sizes))]
        linear = _linear_index(xp, self.arrays)
        self.perm = None
        if positions != list(range(positions[0], positions[0] + len(positions))):
            self.perm = tuple(positions) + tuple(d for d in range(b.ndim) if d not in positions)
            b = xp.permute_dims(b, self.perm)
            positions = list(range(len(positions)))
        k, m = positions[0], len(positions)
        self.k = k
        self.flat_shape = b.shape[:k] + (math.prod(b.shape[k:k + m]),) + b.shape[k + m:]
        self.permuted_shape = b.shape
        self.saved = xp.reshape(linear, (-1,))
        out = xp.take(xp.reshape(b, self.flat_shape), self.saved, axis=k)
        return xp.reshape(out, b.shape[:k] + tuple(linear.shape) + b.shape[k + m:])

    def backward(self, g: Any) -> tuple[Any]:
        xp = self.backend.xp
        if self.arrays:
            k, flat = self.k, self.flat_shape
            values = xp.reshape(g, flat[:k] + (self.saved.shape[0],) + flat[k + 1:])
            target = xp.zeros(flat, dtype=g.dtype)
            g = self.kernels.scatter_add(target, (_WHOLE,) * k + (self.saved,), values)
            g = xp.reshape(g, self.permuted_shape)
            if self.perm is not None:
                g = xp.permute_dims(g, inverse_permutation(self.perm))
        if all(part == _WHOLE for part in self.index):
            return (g,)
        # Basic indexing picks each element at most once; the Array API forbids None (new
        # dims) in __setitem__, so drop them from the index and their size-1 dims from g.
        grad = xp.zeros(self.in_shape, dtype=g.dtype)
        index = tuple(i for i in self.index if i is not None) + (Ellipsis,)
        grad[index] = xp.reshape(g, grad[index].shape)
        return (grad,)


def _linear_index(xp: Any, arrays: tuple[tuple[int, tuple[int, ...], Any], ...]) -> Any:
    """The advanced parts broadcast together and combined into one linear index over all
    the dims they cover (row-major, as ``reshape`` flattens them)."""
    parts = [linear for _, _, linear in arrays]
    if len(parts) > 1:
        try:
            parts = list(xp.broadcast_arrays(*parts))
        except ValueError:
            shapes = ", ".join(str(list(p.shape)) for p in parts)
            raise IndexError(f"index: shape mismatch: indexing tensors could not be broadcast "
                             f"together with shapes {shapes}") from None
    combined = None
    for part, (_, sizes, _) in zip(parts, arrays, strict=True):
        combined = part if combined is None else combined * math.prod(sizes) + part
    return combined


def as_index_part(x: TensorBase, part: Any) -> Any:
    """One element of an index as ints, slices, None, Ellipsis, bools or backend arrays
    (integer or boolean); 0-d integer arrays become ints and 0-d boolean ones bools."""
    be = x._backend
    if part is None or part is Ellipsis or isinstance(part, slice):
        return part
    if isinstance(part, bool) or type(part).__name__ == "bool_":
        return bool(part)
    if isinstance(part, numbers.Integral):
        return operator.index(part)
    if isinstance(part, TensorBase):
        if part._backend is not be:
            raise TypeError(f"index: cannot index a {be.name!r} tensor with a "
                            f"{part._backend.name!r} tensor")
        part = part.data
    elif isinstance(part, (list, tuple)) or hasattr(part, "dtype"):
        empty = isinstance(part, (list, tuple)) and len(part) == 0
        part = be.asarray(part, "int64" if empty else None)
    else:
        raise IndexError(f"index: only integers, slices (`:`), ellipsis (`...`), None and "
                         f"integer or boolean tensors are valid indices (got "
                         f"{type(part).__name__})")
    xp = be.xp
    if not (xp.isdtype(part.dtype, "integral") or xp.isdtype(part.dtype, "bool")):
        raise IndexError(f"index: tensors used as indices must be long, int, byte or bool "
                         f"tensors, got dtype {dtype_name(part.dtype)}")
    if part.ndim == 0:
        return bool(part) if xp.isdtype(part.dtype, "bool") else int(part)
    if part.dtype == xp.uint8:  # PyTorch reads byte tensors as masks
        part = xp.astype(part, xp.bool)
    return part


def _parse(x: TensorBase, index: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The basic part and the advanced parts of ``x[index]`` (see ``Index``)."""
    xp, shape = x._backend.xp, tuple(x.data.shape)
    parts = [as_index_part(x, p) for p in (index if isinstance(index, tuple) else (index,))]
    consumed = sum(p.ndim if hasattr(p, "dtype") and xp.isdtype(p.dtype, "bool") else 1
                   for p in parts if p is not None and p is not Ellipsis
                   and not isinstance(p, bool))
    ellipses = sum(p is Ellipsis for p in parts)
    if ellipses > 1:
        raise IndexError("index: an index can only have a single ellipsis ('...')")
    if consumed > len(shape):
        raise IndexError(f"index: too many indices for tensor of dimension {len(shape)}")
    fill = [_WHOLE] * (len(shape) - consumed)
    if ellipses:
        at = next(i for i, p in enumerate(parts) if p is Ellipsis)
        parts[at:at + 1] = fill
    else:
        parts += fill
    basic: list[Any] = []
    arrays: list[tuple[int, tuple[int, ...], Any]] = []
    checks: list[tuple[Any, int, int, str]] = []  # integer arrays: bounds checked together
    dim = pos = 0  # the next dim of x, and of the basic result
    for part in parts:
        if part is None:
            basic.append(None)
            pos += 1
        elif isinstance(part, bool):
            basic.append(None)
            arrays.append((pos, (1,), xp.zeros((1 if part else 0,), dtype=xp.int64)))
            pos += 1
        elif isinstance(part, int):
            size = shape[dim]
            if not -size <= part < size:
                raise IndexError(f"index: index {part} is out of bounds for dimension {dim} "
                                 f"with size {size}")
            basic.append(part % size)
            dim += 1
        elif isinstance(part, slice):
            basic.append(_resolve_slice(part, shape[dim]))
            dim, pos = dim + 1, pos + 1
        elif xp.isdtype(part.dtype, "bool"):
            sizes = shape[dim:dim + part.ndim]
            if tuple(part.shape) != sizes:
                raise IndexError(f"index: the shape of the mask {list(part.shape)} at index "
                                 f"{dim} does not match the shape of the indexed tensor "
                                 f"{list(shape)} at index {dim}")
            linear = xp.nonzero(xp.reshape(part, (-1,)))[0]
            basic += [_WHOLE] * part.ndim
            arrays.append((pos, sizes, linear))
            dim, pos = dim + part.ndim, pos + part.ndim
        else:
            part = xp.astype(part, xp.int64) if part.dtype != xp.int64 else part
            size = shape[dim]
            checks.append((part, -size, size, f"index: dimension {dim}"))
            # negative entries count from the end
            arrays.append((pos, (size,), xp.where(part < 0, part + size, part)))
            basic.append(_WHOLE)
            dim, pos = dim + 1, pos + 1
    _check_bounds(xp, checks)
    return tuple(basic), tuple(arrays)


def _resolve_slice(part: slice, size: int) -> slice:
    """``part`` with its bounds clamped into [0, size] (the Array API leaves out-of-range
    bounds unspecified); PyTorch refuses steps below 1."""
    if part.step is not None and operator.index(part.step) <= 0:
        raise ValueError(f"index: slice step must be greater than zero, got {part.step}")
    start, stop, step = part.indices(size)
    if start == 0 and stop == size and step == 1:
        return _WHOLE
    return slice(start, max(stop, start), step)


def _check_bounds(xp: Any, checks: list[tuple[Any, int, int, str]]) -> None:
    """PyTorch's IndexError when an entry of some ``index`` is outside its [low, size), for
    each ``(index, low, size, "op: dimension d")``; one read from the device for them all."""
    outside = None
    for index, low, size, _ in checks:
        if index.size:
            some = xp.any((index < low) | (index >= size))
            outside = some if outside is None else outside | some
    if outside is None or not bool(outside):
        return
    for index, low, size, where in checks:  # an error: find and name the value
        if index.size and bool(xp.any((index < low) | (index >= size))):
            bad = int(xp.max(index)) if bool(xp.any(index >= size)) else int(xp.min(index))
            what, dim = where.split(": ")
            raise IndexError(f"{what}: index {bad} is out of bounds for {dim} with size {size}")


class Gather(Op):
    """``out[i][j][k] = a[index[i][j][k]][j][k]`` along ``dim`` (non-negative): ``index`` (an
    integer array with ``a``'s number of dims, no larger than ``a`` outside ``dim``, entries in
    [0, size of ``dim``)) gives the output's shape. Backward adds the gradient back at the
    gathered positions (repeats add up)."""

    name = "gather"
    kernel_family = "shape"
    dim: int

    def forward(self, a: Any, index: Any) -> Any:
        xp, dim = self.backend.xp, self.dim
        if index.ndim != a.ndim:
            raise ValueError(f"gather: index tensor must have the same number of dimensions as "
                             f"input tensor (index shape {tuple(index.shape)}, input shape "
                             f"{tuple(a.shape)})")
        if any(i > n for d, (i, n) in enumerate(zip(index.shape, a.shape, strict=True))
               if d != dim):
            raise ValueError(f"gather: size does not match: expected index {list(index.shape)} "
                             f"to be no larger than self {list(a.shape)} apart from dimension "
                             f"{dim}")
        _check_bounds(xp, [(index, 0, a.shape[dim], f"gather: dimension {dim}")])
        self.in_shape = a.shape
        self.saved = index
        part = a[tuple(_WHOLE if d == dim else slice(0, i) for d, i in enumerate(index.shape))]
        return xp.take_along_axis(part, index, axis=dim)

    def backward(self, g: Any) -> tuple[Any, None]:
        xp, shape = self.backend.xp, self.in_shape
        linear = None
        for d in range(len(shape)):
            if d == self.dim:
                coord = xp.astype(self.saved, xp.int64)
            else:
                coord = xp.reshape(xp.arange(self.saved.shape[d], dtype=xp.int64),
                                   tuple(-1 if e == d else 1 for e in range(len(shape))))
            linear = coord if linear is None else linear * shape[d] + coord
        linear = xp.reshape(xp.broadcast_to(linear, self.saved.shape), (-1,))
        target = xp.zeros((math.prod(shape),), dtype=g.dtype)
        grad = self.kernels.scatter_add(target, linear, xp.reshape(g, (-1,)))
        return xp.reshape(grad, shape), None
