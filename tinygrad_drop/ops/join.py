"""Joining ops: concatenation and stacking, one graph node each (splitting is slices of the
``index`` family)."""

from __future__ import annotations

from typing import Any

from ..autograd import Op


def _along(dim: int, part: Any) -> tuple[Any, ...]:
    """An index taking ``part`` (an int or a slice) of dim ``dim`` and everything else."""
    return (slice(None),) * dim + (part, Ellipsis)


class Cat(Op):
    """Concatenate the inputs (one dtype, checked shapes) along ``dim`` (non-negative). As in
    PyTorch, a 1-D input of size 0 beside inputs of more dims is skipped (the legacy empty
    tensor). Backward hands each input its slice of the gradient."""

    name = "cat"
    dim: int

    def forward(self, *arrays: Any) -> Any:
        xp, dim = self.backend.xp, self.dim
        used = [a for a in arrays if not _legacy_empty(a, arrays)]
        first = used[0]
        for number, a in enumerate(arrays):
            if _legacy_empty(a, arrays):
                continue
            if a.ndim != first.ndim:
                raise ValueError(f"cat: tensors must have the same number of dimensions: got "
                                 f"{first.ndim} and {a.ndim} (tensor number {number})")
            for d, (n, m) in enumerate(zip(first.shape, a.shape, strict=True)):
                if d != dim and n != m:
                    raise ValueError(f"cat: sizes of tensors must match except in dimension "
                                     f"{dim}. Expected size {n} but got size {m} for tensor "
                                     f"number {number} in the list")
        self.sizes = [0 if _legacy_empty(a, arrays) else a.shape[dim] for a in arrays]
        self.shapes = [a.shape for a in arrays]
        return xp.concat(used, axis=dim)

    def backward(self, g: Any) -> tuple[Any, ...]:
        xp, grads, start = self.backend.xp, [], 0
        for size, shape, needed in zip(self.sizes, self.shapes, self.needs_input_grad,
                                       strict=True):
            if not needed:
                grads.append(None)
            elif size == 0:
                grads.append(xp.zeros(shape, dtype=g.dtype))
            else:
                grads.append(g[_along(self.dim, slice(start, start + size))])
            start += size
        return tuple(grads)


def _legacy_empty(a: Any, arrays: tuple[Any, ...]) -> bool:
    return tuple(a.shape) == (0,) and any(b.ndim != 1 for b in arrays)


class Stack(Op):
    """Stack inputs of one shape and dtype along a new dim ``dim`` (non-negative, at most
    their number of dims). Backward hands each input its slice of the gradient."""

    name = "stack"
    dim: int

    def forward(self, *arrays: Any) -> Any:
        for number, a in enumerate(arrays):
            if a.shape != arrays[0].shape:
                raise ValueError(f"stack: expects each tensor to be equal size, but got "
                                 f"{list(arrays[0].shape)} at entry 0 and {list(a.shape)} at "
                                 f"entry {number}")
        return self.backend.xp.stack(arrays, axis=self.dim)

    def backward(self, g: Any) -> tuple[Any, ...]:
        return tuple(g[_along(self.dim, i)] if needed else None
                     for i, needed in enumerate(self.needs_input_grad))
