"""Tensor methods that change shape or select elements, with PyTorch's semantics: reshape/view,
transpose (a two-dim swap) and permute, flatten, squeeze/unsqueeze, expand, gather,
masked_fill, split/chunk and indexing. Negative dims count from the end everywhere."""

from __future__ import annotations

import math
import operator
from typing import Any

from . import dtypes
from .autograd import TensorBase
from .ops.index import Gather, Index
from .ops.select import MaskedFill
from .ops.shape import Expand, Permute, Reshape, normalize_dim, normalize_dims


def _unpacked(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """``f(2, 3)`` or ``f((2, 3))`` (a list or torch.Size too): the tuple (2, 3)."""
    if len(args) == 1 and not isinstance(args[0], int) and hasattr(args[0], "__len__"):
        return tuple(args[0])
    return args


def sizes_arg(sizes: tuple[Any, ...], where: str) -> tuple[int, ...]:
    """``f(2, 3)`` or ``f((2, 3))`` (a list or torch.Size too) as a tuple of ints."""
    sizes = _unpacked(sizes)
    try:
        return tuple(operator.index(n) for n in sizes)
    except TypeError:
        raise TypeError(f"{where}: sizes must be ints, got {sizes!r}") from None


class ShapeMethods:
    """Reshapes, dim permutations, broadcasting, selection and indexing (mixed into
    ``Tensor``)."""

    __slots__ = ()

    def reshape(self, *shape: Any) -> Any:
        """Same data, new shape (``reshape(2, 3)`` or ``reshape((2, 3))``; one -1 allowed)."""
        return Reshape.apply(self, shape=sizes_arg(shape, "reshape"))

    def view(self, *shape: Any) -> Any:
        """``reshape`` under PyTorch's name. Unlike PyTorch, it never refuses a
        non-contiguous tensor: it copies where a view is impossible (backends do not expose
        strides)."""
        return Reshape.apply(self, shape=sizes_arg(shape, "view"))

    def permute(self, *dims: Any) -> Any:
        """Reorder the dims: output dim i is input dim ``dims[i]`` (a full permutation,
        ``permute(2, 0, 1)`` or ``permute((2, 0, 1))``; negative dims allowed)."""
        dims = _unpacked(dims)
        if len(dims) != self.ndim:
            raise ValueError(f"permute: the number of dims of the tensor ({self.ndim}, shape "
                             f"{self.shape}) does not match the length of the desired ordering "
                             f"of dims {dims}")
        return Permute.apply(self, dims=normalize_dims(dims, self.ndim, "permute"))

    def transpose(self, dim0: int, dim1: int) -> Any:
        """Swap dims ``dim0`` and ``dim1`` (PyTorch's transpose; ``permute`` takes a full
        permutation)."""
        d0 = normalize_dim(dim0, self.ndim, "transpose")
        d1 = normalize_dim(dim1, self.ndim, "transpose")
        dims = list(range(self.ndim))
        if self.ndim:
            dims[d0], dims[d1] = dims[d1], dims[d0]
        return Permute.apply(self, dims=tuple(dims))

    @property
    def T(self) -> Any:
        """The dims reversed: the matrix transpose of a 2-D tensor (a 0-d or 1-D tensor is
        unchanged)."""
        return Permute.apply(self, dims=tuple(reversed(range(self.ndim))))

    @property
    def mT(self) -> Any:
        """The last two dims swapped: the transpose of each matrix in a batch (at least 2-D)."""
        if self.ndim < 2:
            raise ValueError(f"mT: only supported on matrices or batches of matrices, got a "
                             f"{self.ndim}-D tensor of shape {self.shape}")
        return self.transpose(-2, -1)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Any:
        """Merge dims ``start_dim`` to ``end_dim`` (both included) into one; a 0-d tensor
        becomes shape (1,)."""
        shape = self.shape
        start = normalize_dim(start_dim, self.ndim, "flatten")
        end = normalize_dim(end_dim, self.ndim, "flatten")
        if start > end:
            raise ValueError(f"flatten: start_dim cannot come after end_dim (start_dim "
                             f"{start_dim}, end_dim {end_dim}, shape {shape})")
        if not shape:
            return self.reshape(1)
        return self.reshape(shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:])

    def squeeze(self, dim: Any = None) -> Any:
        """Drop size-1 dims: all of them, or those of ``dim`` (an int or a tuple) that have
        size 1 (others are left alone, as in PyTorch)."""
        if dim is None:
            dims = set(range(self.ndim))
        else:
            dims = set(normalize_dims(dim, self.ndim, "squeeze"))
        return self.reshape(tuple(n for d, n in enumerate(self.shape)
                                  if not (d in dims and n == 1)))

    def unsqueeze(self, dim: int) -> Any:
        """Insert a size-1 dim at ``dim`` (in ``[-ndim - 1, ndim]``)."""
        d = normalize_dim(dim, self.ndim + 1, "unsqueeze")
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def expand(self, *sizes: Any) -> Any:
        """Broadcast to ``sizes`` without copying: -1 keeps a dim's size, new dims go in
        front, only size-1 dims stretch. The gradient sums back."""
        sizes = sizes_arg(sizes, "expand")
        shape, extra = self.shape, len(sizes) - self.ndim
        if extra < 0:
            raise ValueError(f"expand: the number of sizes provided ({len(sizes)}) must be "
                             f"greater or equal to the number of dims in the tensor "
                             f"({self.ndim}, shape {shape})")
        target = []
        for d, n in enumerate(sizes):
            if d < extra:
                if n < 0:
                    raise ValueError(f"expand: the expanded size of the tensor ({n}) isn't "
                                     f"allowed in a leading, non-existing dimension {d}")
                target.append(n)
                continue
            old = shape[d - extra]
            if n == -1:
                n = old
            elif n != old and old != 1 or n < 0:
                raise ValueError(f"expand: the expanded size of the tensor ({n}) must match "
                                 f"the existing size ({old}) at non-singleton dimension {d}. "
                                 f"Target sizes: {list(sizes)}. Tensor sizes: {list(shape)}")
            target.append(n)
        return Expand.apply(self, shape=tuple(target))

    def gather(self, dim: int, index: Any) -> Any:
        """``out[i][j][k] = self[index[i][j][k]][j][k]`` for ``dim=0`` (and so on for other
        dims): ``index`` is an integer tensor with as many dims as self, no larger than self
        outside ``dim``, whose shape the output takes. Backward adds the gradient back at the
        gathered places (repeats add up)."""
        if not isinstance(index, TensorBase):
            raise TypeError(f"gather: index must be a Tensor, got {type(index).__name__}")
        if dtypes.category(index.dtype_name) != 1:
            raise TypeError(f"gather: expected an integer index (int32 or int64), got dtype "
                            f"{index.dtype_name}")
        d = normalize_dim(dim, self.ndim, "gather")
        if self.ndim == 0 and index.ndim == 0:
            return Gather.apply(self.reshape(1), index.reshape(1), dim=0).reshape(())
        return Gather.apply(self, index, dim=d)

    def masked_fill(self, mask: Any, value: Any) -> Any:
        """``value`` (a number or a 0-d tensor, converted to self's dtype) where the bool
        ``mask`` holds, self elsewhere (the two broadcast). The gradient is 0 where filled."""
        if not isinstance(mask, TensorBase) or mask.dtype_name != "bool":
            what = mask.dtype_name if isinstance(mask, TensorBase) else type(mask).__name__
            raise TypeError(f"masked_fill: only supports boolean masks, but got mask with "
                            f"dtype {what}")
        if isinstance(value, TensorBase):
            if value.ndim:
                raise ValueError(f"masked_fill: only supports a 0-dimensional value tensor, "
                                 f"but got tensor with {value.ndim} dimension(s)")
            value = value.astype(self.dtype_name)
        elif dtypes.is_scalar(value):
            value = type(self)(dtypes.scalar_as(value, self.dtype_name), dtype=self.dtype_name,
                               backend=self.backend)
        else:
            raise TypeError(f"masked_fill: value must be a number or a 0-d tensor, got "
                            f"{type(value).__name__}")
        return MaskedFill.apply(self, mask, value)

    def split(self, split_size_or_sections: Any, dim: int = 0) -> tuple[Any, ...]:
        """Pieces along ``dim``: of ``split_size`` each (the last may be smaller), or of the
        sizes in a list that sums to the dim's size. Each piece is a differentiable slice."""
        if self.ndim == 0:
            raise ValueError("split: expects at least a 1-dimensional tensor")
        d = normalize_dim(dim, self.ndim, "split")
        size = self.shape[d]
        if isinstance(split_size_or_sections, (list, tuple)):
            sizes = [operator.index(n) for n in split_size_or_sections]
            if any(n < 0 for n in sizes):
                raise ValueError(f"split: split sizes must be non-negative, got {sizes}")
            if sum(sizes) != size:
                raise ValueError(f"split: split sizes must sum exactly to {size} (the size "
                                 f"of dim {d} of shape {self.shape}), but got {sizes}")
        else:
            step = operator.index(split_size_or_sections)
            if step < 0 or (step == 0 and size != 0):
                raise ValueError(f"split: split_size must be positive (0 only for a dim of "
                                 f"size 0), got {step} for a dim of size {size}")
            sizes = [min(step, size - s) for s in range(0, size, step)] if size else [0]
        return self._pieces(d, sizes)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Any, ...]:
        """``chunks`` pieces along ``dim`` of ceil(size / chunks) each, as in PyTorch (so
        there may be fewer pieces, the last smaller)."""
        if self.ndim == 0:
            raise ValueError("chunk: expects at least a 1-dimensional tensor")
        if operator.index(chunks) <= 0:
            raise ValueError(f"chunk: expects `chunks` to be greater than 0, got: {chunks}")
        d = normalize_dim(dim, self.ndim, "chunk")
        size = self.shape[d]
        if size == 0:
            return self._pieces(d, [0] * chunks)
        return self.split(-(-size // chunks), d)

    def _pieces(self, dim: int, sizes: list[int]) -> tuple[Any, ...]:
        starts = [sum(sizes[:i]) for i in range(len(sizes))]
        return tuple(self[(slice(None),) * dim + (slice(s, s + n),)]
                     for s, n in zip(starts, sizes, strict=True))

    def __getitem__(self, index: Any) -> Any:
        """``self[index]`` with PyTorch's rules: ints, slices (positive steps), None,
        Ellipsis, bools, and integer or boolean arrays (lists, NumPy arrays or Tensors of this
        backend). Ints select before arrays are placed, so ``x[0, :, [0, 1]]`` of a (2, 3, 4)
        tensor is (3, 2); arrays separated by a slice or None put their dims first."""
        return Index.select(self, index)
