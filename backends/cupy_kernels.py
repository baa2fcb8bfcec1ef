"""The CuPy backend's fast paths, by op family: dropout's fused Philox kernels, the stored-mask
scale they share with ReLU's backward, and a native scatter-add. Imported only where CuPy runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cupy
import numpy as np  # typed scalars for kernel arguments

from .cuda_source import CTYPES
from .generator import keep_threshold
from .kernels import ActivationKernels, DropoutKernels, ShapeKernels
from .philox import PhiloxStreamGenerator


@dataclass(frozen=True)
class RegeneratedMask:
    """What a dropout node saves when the backend regenerates masks: the Philox stream position
    and threshold (zero bytes per element)."""

    seed: int
    offset: int
    threshold: int
    shape: tuple[int, ...]


def _fusable(x: Any) -> bool:
    return isinstance(x, cupy.ndarray) and x.dtype.name in CTYPES


def _vector(*arrays: Any) -> np.int32:
    """1 when every array starts on a 4-element boundary (the kernels' vector loads)."""
    return np.int32(all(a.data.ptr % (4 * a.itemsize) == 0 for a in arrays))


def masked_scale(backend: Any, x: Any, mask: Any, divisor: float) -> Any | None:
    """``x / divisor`` where the boolean ``mask`` is True, 0 elsewhere, in one fused pass; None
    where the kernel does not apply (dtype, mask type or shape), so the caller falls back."""
    if not (_fusable(x) and mask.dtype == cupy.bool_ and mask.shape == x.shape):
        return None
    x, mask = cupy.ascontiguousarray(x), cupy.ascontiguousarray(mask)
    out = cupy.empty_like(x)
    if x.size:
        backend.launch(x.dtype.name, "td_masked_scale", x.size, (
            x, mask, out, np.uint64(x.size), x.dtype.type(divisor), _vector(x)))
    return out


class CupyActivationKernels(ActivationKernels):
    """ReLU's backward through the fused stored-mask kernel."""

    def relu_backward(self, g: Any, positive: Any) -> Any:
        out = masked_scale(self.backend, g, positive, 1.0)
        return super().relu_backward(g, positive) if out is None else out


class CupyDropoutKernels(DropoutKernels):
    """One-pass Philox dropout: forward writes the output, a 1-byte mask (or nothing, with
    ``backend.regenerate_masks``) and the kept count; backward reads or redraws the mask."""

    def forward(self, x: Any, keep: float, divisor: float,
                generator: Any) -> tuple[Any, Any, Any]:
        on_device = isinstance(generator, PhiloxStreamGenerator) and generator.xp is cupy
        if not (on_device and _fusable(x)):  # e.g. a host PhiloxGenerator: the portable path
            return super().forward(x, keep, divisor, generator)
        x = cupy.ascontiguousarray(x)
        out = cupy.empty_like(x)
        kept = cupy.zeros((), dtype=cupy.uint64)
        threshold, offset = keep_threshold(keep), generator.take_offset()
        if self.backend.regenerate_masks:
            mask, saved = None, RegeneratedMask(generator.seed, offset, threshold, x.shape)
        else:
            mask = saved = cupy.empty(x.shape, dtype=bool)
        if x.size:
            self.backend.launch(x.dtype.name, "td_dropout_forward", x.size, (
                x, out, np.uint64(0) if mask is None else mask, np.uint64(x.size),
                np.uint32(threshold), x.dtype.type(divisor), np.uint64(generator.seed),
                np.uint64(offset), kept, _vector(x)))
        return out, saved, kept

    def backward(self, g: Any, saved: Any, divisor: float) -> Any:
        if not isinstance(saved, RegeneratedMask):
            return super().backward(g, saved, divisor)
        g = cupy.ascontiguousarray(g)
        dx = cupy.empty_like(g)
        if g.size:
            self.backend.launch(g.dtype.name, "td_dropout_backward_regen", g.size, (
                g, dx, np.uint64(g.size), np.uint32(saved.threshold), g.dtype.type(divisor),
                np.uint64(saved.seed), np.uint64(saved.offset), _vector(g)))
        return dx

    def mask(self, saved: Any) -> Any:
        if not isinstance(saved, RegeneratedMask):
            return saved
        return self.keep_mask(saved.shape, saved.threshold, saved.seed, saved.offset)

    def masked_scale(self, x: Any, mask: Any, divisor: float) -> Any:
        out = masked_scale(self.backend, x, mask, divisor)
        return super().masked_scale(x, mask, divisor) if out is None else out

    def keep_mask(self, shape: tuple[int, ...], threshold: int, seed: int, offset: int) -> Any:
        """The boolean mask of the Philox stream at (``seed``, ``offset``): word < threshold."""
        mask = cupy.empty(shape, dtype=bool)
        if mask.size:
            self.backend.launch("float32", "td_keep_mask", mask.size, (
                mask, np.uint64(mask.size), np.uint32(threshold), np.uint64(seed),
                np.uint64(offset)))
        return mask


class CupyShapeKernels(ShapeKernels):
    """Scatter-add in place with ``cupy.add.at``."""

    def scatter_add(self, target: Any, index: Any, values: Any) -> Any:
        cupy.add.at(target, index, values)
        return target


FAMILIES = {cls.family: cls for cls in (CupyActivationKernels, CupyDropoutKernels,
                                        CupyShapeKernels)}
