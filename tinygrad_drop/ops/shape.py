"""Shape ops: reshape, transpose (permute) and indexing."""

from __future__ import annotations

import numbers
from typing import Any

from ..autograd import Op, TensorBase


class Reshape(Op):
    """View with a new shape (one dimension may be -1)."""

    name = "reshape"
    shape: tuple[int, ...]

    def forward(self, a: Any) -> Any:
        self.in_shape = a.shape
        try:
            return self.backend.xp.reshape(a, self.shape)
        except ValueError as exc:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {a.shape} "
                             f"({a.size} elements) to {self.shape}") from exc

    def backward(self, g: Any) -> tuple[Any]:
        return (self.backend.xp.reshape(g, self.in_shape),)


class Transpose(Op):
    """Permute the axes (``axes`` is a full permutation)."""

    name = "transpose"
    axes: tuple[int, ...]

    def forward(self, a: Any) -> Any:
        if sorted(self.axes) != list(range(a.ndim)):
            raise ValueError(f"transpose: axes {self.axes} are not a permutation of the "
                             f"{a.ndim} dims of a tensor of shape {a.shape}")
        return self.backend.xp.permute_dims(a, self.axes)

    def backward(self, g: Any) -> tuple[Any]:
        inverse = [0] * len(self.axes)
        for i, axis in enumerate(self.axes):
            inverse[axis] = i
        return (self.backend.xp.permute_dims(g, tuple(inverse)),)


class Index(Op):
    """``a[index]``: basic indexing (ints, slices, None, Ellipsis) and integer/boolean arrays.
    One 1-D integer array with every other axis whole (``a[idx]``, ``a[:, idx]``) is a
    ``take`` along ``take_axis``, the form the Array API standard has. Backward scatters the
    gradient back, adding where an integer index repeats."""

    name = "index"
    kernel_family = "shape"
    shown = ("index",)
    index: tuple[Any, ...]  # backend arrays for integer and boolean parts
    advanced: bool = False  # holds an integer array, whose repeats backward adds up
    take_axis: int | None = None

    @classmethod
    def select(cls, x: TensorBase, index: Any) -> Any:
        """``x[index]`` as one node: the index with Tensors and lists turned into backend
        arrays, padded with a trailing Ellipsis (the Array API wants every axis accounted
        for)."""
        be = x._backend
        parts = list(index) if isinstance(index, tuple) else [index]
        advanced, used = False, 0
        for i, part in enumerate(parts):
            if isinstance(part, TensorBase):
                if part._backend is not be:
                    raise TypeError(f"index: cannot index a {be.name!r} tensor with a "
                                    f"{part._backend.name!r} tensor")
                part = part.data
            elif isinstance(part, list) or (hasattr(part, "dtype")
                                            and not isinstance(part, numbers.Integral)):
                part = be.asarray(part)
            if be.is_array(part):
                if be.xp.isdtype(part.dtype, "bool"):
                    used += part.ndim
                else:
                    advanced, used = True, used + 1
            elif part is not None and part is not Ellipsis:
                used += 1
            parts[i] = part
        if used < x.data.ndim and not any(p is Ellipsis for p in parts):
            parts.append(Ellipsis)
        index = tuple(parts)
        return cls.apply(x, index=index, advanced=advanced,
                         take_axis=_take_axis(index) if advanced else None)

    def forward(self, a: Any) -> Any:
        self.in_shape = a.shape
        try:
            if self.take_axis is not None:
                return self.backend.xp.take(a, self.index[self.take_axis], axis=self.take_axis)
            return a[self.index]
        except IndexError as exc:
            raise IndexError(f"index: {exc} (tensor of shape {a.shape})") from exc

    def backward(self, g: Any) -> tuple[Any]:
        backend = self.backend
        grad = backend.xp.zeros(self.in_shape, dtype=g.dtype)
        if self.advanced:
            return (self.kernels.scatter_add(grad, self.index, g),)
        # Basic indexing selects each element at most once; the Array API forbids None (new
        # axes) in __setitem__, so drop them from the index and their size-1 axes from g.
        index = tuple(i for i in self.index if i is not None)
        grad[index] = backend.xp.reshape(g, grad[index].shape)
        return (grad,)


def _take_axis(index: tuple[Any, ...]) -> int | None:
    """The axis when ``index`` is one 1-D integer array among whole slices and a trailing
    Ellipsis (``a[idx]``, ``a[:, idx]``), else None."""
    arrays = [i for i, part in enumerate(index) if hasattr(part, "dtype")]
    if len(arrays) != 1 or index[arrays[0]].ndim != 1:
        return None
    axis = arrays[0]
    whole = slice(None)
    rest = index[:axis] + index[axis + 1:]
    if any(part is Ellipsis for part in index[:axis]):
        return None
    if all(part == whole or part is Ellipsis for part in rest):
        return axis
    return None
