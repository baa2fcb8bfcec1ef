"""Kernels: per op family, the array work a backend may do its own way, looked up by family
name (``backend.kernels("dropout")``). The classes here are the portable versions, written
against the Array API standard alone; a backend's own classes (fused CUDA kernels, BLAS
tricks) subclass them and override what they speed up. Ops call kernels and never ask which
backend they are on.

Adding a family: a subclass of ``Kernels`` here with a ``family`` name and its methods, listed
in ``PORTABLE``; backends add theirs to ``Backend.kernel_families``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np  # host fallback of scatter_add only: the Array API has no scatter

if TYPE_CHECKING:  # pragma: no cover
    from .base import Backend
    from .generator import Generator


class Kernels:
    """The kernels of one op family on one backend (``self.backend``, ``self.xp``)."""

    family: ClassVar[str] = ""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.xp = backend.xp


class ActivationKernels(Kernels):
    """Pointwise activations."""

    family = "activation"

    def relu_backward(self, g: Any, positive: Any) -> Any:
        """``g`` where the boolean mask ``positive`` is True, 0 elsewhere: the backward of ReLU
        (the mask: output != 0) and of clamp with number bounds (the mask: inside them)."""
        return self.xp.where(positive, g, 0)


class DropoutKernels(Kernels):
    """Element-wise dropout in training mode: draw a mask, scale what it keeps; backward from
    what forward saved. The op asks only for 0 < keep < 1 (it settles keep = 0 and 1 itself)."""

    family = "dropout"

    def forward(self, x: Any, keep: float, divisor: float,
                generator: Generator) -> tuple[Any, Any, Any]:
        """``(x * mask / divisor, saved, kept)``: the mask keeps each element with probability
        ``keep``; ``saved`` is what ``backward`` and ``mask`` need, ``kept`` the number of
        elements kept (a backend scalar: reading it waits for the device)."""
        mask = generator.bernoulli_mask(x.shape, keep)
        if not self.backend.is_array(mask):
            raise TypeError(f"dropout: the generator makes {type(mask).__name__} masks, not "
                            f"{self.backend.name!r} arrays; use a generator of the input's "
                            "backend")
        return self.masked_scale(x, mask, divisor), mask, self.xp.count_nonzero(mask)

    def backward(self, g: Any, saved: Any, divisor: float) -> Any:
        """``g * mask / divisor`` from what ``forward`` saved."""
        return self.masked_scale(g, saved, divisor)

    def mask(self, saved: Any) -> Any:
        """The boolean keep-mask from what ``forward`` saved."""
        return saved

    def masked_scale(self, x: Any, mask: Any, divisor: float) -> Any:
        """``x / divisor`` where ``mask`` is True, 0 elsewhere."""
        out = self.xp.where(mask, x, 0)
        return out / divisor if divisor != 1 else out


class LinearKernels(Kernels):
    """The linear layer's reductions."""

    family = "linear"

    def bias_grad(self, g: Any) -> Any:
        """Column sums of the 2-D output gradient ``g`` (rows, out_features): the bias
        gradient."""
        return self.xp.sum(g, axis=0)


class NormKernels(Kernels):
    """Batch normalisation's per-channel reductions."""

    family = "norm"

    def channel_sums(self, x: Any) -> Any:
        """Sums of ``x`` (N, C, *) over every axis but 1, shaped (C,)."""
        return self.xp.sum(x, axis=(0, *range(2, x.ndim)))


class ShapeKernels(Kernels):
    """Indexing's scatter."""

    family = "shape"

    def scatter_add(self, target: Any, index: Any, values: Any) -> Any:
        """``target`` with ``values`` added at ``index``, adding again where an integer index
        repeats. Returns the result, which may be ``target`` updated in place or a new array.
        Portable version: through host memory (the Array API has no scatter)."""
        be = self.backend
        host = be.to_numpy(target)
        np.add.at(host, _host_index(be, index), be.to_numpy(values))
        return be.asarray(host)


def _host_index(backend: Backend, index: Any) -> Any:
    if isinstance(index, tuple):
        return tuple(_host_index(backend, part) for part in index)
    return backend.to_numpy(index) if backend.is_array(index) else index


PORTABLE: dict[str, type[Kernels]] = {cls.family: cls for cls in (
    ActivationKernels, DropoutKernels, LinearKernels, NormKernels, ShapeKernels)}


def portable_kernels(family: str) -> type[Kernels]:
    """The portable kernel class of ``family``; an unknown family is a KeyError naming the
    known ones."""
    try:
        return PORTABLE[family]
    except KeyError:
        raise KeyError(f"no kernel family {family!r}; known: {', '.join(sorted(PORTABLE))}") \
            from None
