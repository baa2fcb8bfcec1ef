"""Shape ops: reshape, permute (transpose), expand and constant padding. Indexing is in
``index``, joining in ``join``."""

from __future__ import annotations

import operator
from typing import Any

from ..autograd import Op


class DimOutOfRange(IndexError, ValueError):
    """A dim outside [-ndim, ndim - 1]: PyTorch's IndexError (a ValueError too)."""


class RepeatedDim(RuntimeError, ValueError):
    """A dim named twice in one list of dims: PyTorch's RuntimeError (a ValueError too)."""


def normalize_dim(dim: Any, ndim: int, where: str) -> int:
    """``dim`` in ``range(ndim)``: any int-like (``operator.index``: NumPy integers, a 0-d
    integer tensor) counting from the end when negative; a 0-d tensor takes 0 and -1, as in
    PyTorch. A bool or a float is a TypeError, out of range PyTorch's IndexError. The one
    rule for a single dim everywhere (shape ops, reductions, softmax, cat, gather...)."""
    try:
        if isinstance(dim, bool):
            raise TypeError
        dim = operator.index(dim)
    except TypeError:
        raise TypeError(f"{where}: dim must be an int, got {type(dim).__name__} {dim!r}"
                        ) from None
    size = max(ndim, 1)
    if not -size <= dim < size:
        raise DimOutOfRange(f"{where}: dimension out of range (expected to be in range of "
                            f"[{-size}, {size - 1}], but got {dim})")
    return dim % size


def normalize_dims(dims: Any, ndim: int, where: str) -> tuple[int, ...]:
    """``dims`` (one dim, or a tuple or list of them), each by ``normalize_dim``, in the order
    given; a dim named twice is PyTorch's RuntimeError."""
    given = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    out = tuple(normalize_dim(d, ndim, where) for d in given)
    if len(set(out)) != len(out):
        twice = next(d for d in out if out.count(d) > 1)
        raise RepeatedDim(f"{where}: repeated axis: dim {twice} appears multiple times in the "
                          f"list of dims {list(given)}")
    return out


def inverse_permutation(dims: tuple[int, ...]) -> tuple[int, ...]:
    """The permutation that undoes ``permute_dims(a, dims)``."""
    inverse = [0] * len(dims)
    for i, dim in enumerate(dims):
        inverse[dim] = i
    return tuple(inverse)


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


class Permute(Op):
    """Reorder the dimensions: output dim i is input dim ``dims[i]`` (a full permutation of
    non-negative dims; ``Tensor.permute``/``transpose`` normalise them)."""

    name = "permute"
    dims: tuple[int, ...]

    def forward(self, a: Any) -> Any:
        if sorted(self.dims) != list(range(a.ndim)):
            raise ValueError(f"permute: dims {self.dims} are not a permutation of the "
                             f"{a.ndim} dims of a tensor of shape {a.shape}")
        return self.backend.xp.permute_dims(a, self.dims)

    def backward(self, g: Any) -> tuple[Any]:
        return (self.backend.xp.permute_dims(g, inverse_permutation(self.dims)),)


class Expand(Op):
    """Broadcast to ``shape`` (sizes already resolved: no -1) without copying; the gradient
    sums back over the new and the stretched dims (the engine's unbroadcast)."""

    name = "expand"
    shape: tuple[int, ...]

    def forward(self, a: Any) -> Any:
        return self.backend.xp.broadcast_to(a, self.shape)

    def backward(self, g: Any) -> tuple[Any]:
        return (g,)


class Pad(Op):
    """Constant padding: ``pads`` is one (before, after) pair per dim, in dim order (negative
    entries crop); the padding holds ``value`` (already of the input's kind). Backward
    takes the gradient of the kept part and gives 0 to what was cropped."""

    name = "pad"
    pads: tuple[tuple[int, int], ...]
    value: float | int | bool = 0

    def forward(self, a: Any) -> Any:
        xp = self.backend.xp
        # The input's part that survives (negative pads crop it) and where it lands.
        self.kept = tuple(slice(max(-lo, 0), n - max(-hi, 0))
                          for (lo, hi), n in zip(self.pads, a.shape, strict=True))
        self.at = tuple(slice(max(lo, 0), max(lo, 0) + k.stop - k.start)
                        for (lo, _), k in zip(self.pads, self.kept, strict=True))
        self.in_shape = a.shape
        shape = tuple(n + lo + hi for (lo, hi), n in zip(self.pads, a.shape, strict=True))
        for n, k, dim_pads in zip(a.shape, shape, self.pads, strict=True):
            if k < 0 or k - max(dim_pads[0], 0) - max(dim_pads[1], 0) < 0:
                raise ValueError(f"pad: padding {dim_pads} of a dim of size {n} leaves a "
                                 f"negative size (input shape {a.shape})")
        out = xp.full(shape, self.value, dtype=a.dtype)
        if all(s.stop > s.start for s in self.at):
            out[self.at] = a[self.kept]
        return out

    def backward(self, g: Any) -> tuple[Any]:
        xp = self.backend.xp
        grad = xp.zeros(self.in_shape, dtype=g.dtype)
        if all(s.stop > s.start for s in self.kept):
            grad[self.kept] = g[self.at]
        return (grad,)
