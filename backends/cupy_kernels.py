"""The CuPy backend's fast paths, by op family: dropout's fused Philox kernels (element-wise and
spatial), the stored-mask scale they share with ReLU's backward, and a native scatter-add.
Imported only where CuPy runs.
"""

from __future__ import annotations

import math
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


@dataclass(frozen=True)
class RegeneratedChannelMask(RegeneratedMask):
    """A spatial dropout node's regenerated mask: ``shape`` is the saved mask's (N, C, 1, ...),
    whose N*C elements are the stream's (N, C) draw; the plane size comes from the gradient."""


def _fusable(x: Any) -> bool:
    return isinstance(x, cupy.ndarray) and x.dtype.name in CTYPES


def _vector(*arrays: Any) -> np.int32:
    """1 when every array starts on a 4-element boundary (the kernels' vector loads)."""
    return np.int32(all(a.data.ptr % (4 * a.itemsize) == 0 for a in arrays))


def masked_scale(backend: Any, x: Any, mask: Any, divisor: float) -> Any | None:
    """``x / divisor`` where the boolean ``mask`` is True, 0 elsewhere, in one fused pass: a
    mask of x's shape, or a per-channel mask (N, C, 1, ...) of ``x`` (N, C, *) (spatial
    dropout's); None where no kernel applies (dtype, mask type or shape): the caller falls
    back."""
    if not (_fusable(x) and mask.dtype == cupy.bool_):
        return None
    if mask.shape == x.shape:
        kernel, plane = "td_masked_scale", ()
    elif x.ndim > 2 and mask.shape == _channel_shape(x):
        kernel, plane = "td_channel_masked_scale", (np.uint64(_plane(x)),)
    else:
        return None
    x, mask = cupy.ascontiguousarray(x), cupy.ascontiguousarray(mask)
    out = cupy.empty_like(x)
    if x.size:
        backend.launch(x.dtype.name, kernel, x.size, (
            x, mask, out, np.uint64(x.size), *plane, x.dtype.type(divisor), _vector(x)))
    return out


def _channel_shape(x: Any) -> tuple[int, ...]:
    """The shape (N, C, 1, ...) of a per-channel mask of ``x`` (N, C, *)."""
    return tuple(x.shape[:2]) + (1,) * (x.ndim - 2)


def _plane(x: Any) -> int:
    """Elements per (sample, channel) of ``x`` (N, C, *)."""
    return math.prod(x.shape[2:])


class CupyActivationKernels(ActivationKernels):
    """ReLU's backward through the fused stored-mask kernel."""

    def relu_backward(self, g: Any, positive: Any) -> Any:
        out = masked_scale(self.backend, g, positive, 1.0)
        return super().relu_backward(g, positive) if out is None else out


class CupyDropoutKernels(DropoutKernels):
    """One-pass Philox dropout, element-wise and spatial: forward writes the output, a 1-byte
    mask per element or per channel (or nothing, with ``backend.regenerate_masks``) and the kept
    count; backward reads or redraws the mask."""

    def forward(self, x: Any, keep: float, divisor: float,
                generator: Any) -> tuple[Any, Any, Any]:
        if not self._fuses(x, generator):  # e.g. a host PhiloxGenerator: the portable path
            return super().forward(x, keep, divisor, generator)
        return self._fused_forward(x, keep, divisor, generator, x.shape, RegeneratedMask,
                                   "td_dropout_forward", ())

    def channel_forward(self, x: Any, keep: float, divisor: float,
                        generator: Any) -> tuple[Any, Any, Any]:
        if not (self._fuses(x, generator) and x.size):  # no elements: the mask drawn alone
            return super().channel_forward(x, keep, divisor, generator)
        return self._fused_forward(x, keep, divisor, generator, _channel_shape(x),
                                   RegeneratedChannelMask, "td_dropout2d_forward",
                                   (np.uint64(_plane(x)),))

    @staticmethod
    def _fuses(x: Any, generator: Any) -> bool:
        """Whether the fused kernels draw this call: a device Philox generator, a float x."""
        on_device = isinstance(generator, PhiloxStreamGenerator) and generator.xp is cupy
        return on_device and _fusable(x)

    def _fused_forward(self, x: Any, keep: float, divisor: float, generator: Any,
                       mask_shape: tuple[int, ...], regenerated: type, kernel: str,
                       plane: tuple) -> tuple[Any, Any, Any]:
        """``forward`` in one launch of ``kernel`` (``plane``: its extra size argument, spatial
        dropout's), the mask of ``mask_shape`` stored or described by ``regenerated``; draws
        at the generator's next offset, advancing it by one as ``bernoulli_mask`` does."""
        x = cupy.ascontiguousarray(x)
        out = cupy.empty_like(x)
        kept = cupy.zeros((), dtype=cupy.uint64)
        threshold, offset = keep_threshold(keep), generator.take_offset()
        if self.backend.regenerate_masks:
            mask, saved = None, regenerated(generator.seed, offset, threshold, mask_shape)
        else:
            mask = saved = cupy.empty(mask_shape, dtype=bool)
        if x.size:
            self.backend.launch(x.dtype.name, kernel, x.size, (
                x, out, np.uint64(0) if mask is None else mask, np.uint64(x.size), *plane,
                np.uint32(threshold), x.dtype.type(divisor), np.uint64(generator.seed),
                np.uint64(offset), kept, _vector(x)))
        return out, saved, kept

    def backward(self, g: Any, saved: Any, divisor: float) -> Any:
        if not isinstance(saved, RegeneratedMask):
            return super().backward(g, saved, divisor)
        kernel, plane = "td_dropout_backward_regen", ()
        if isinstance(saved, RegeneratedChannelMask):
            kernel, plane = "td_dropout2d_backward_regen", (np.uint64(_plane(g)),)
        g = cupy.ascontiguousarray(g)
        dx = cupy.empty_like(g)
        if g.size:
            self.backend.launch(g.dtype.name, kernel, g.size, (
                g, dx, np.uint64(g.size), *plane, np.uint32(saved.threshold),
                g.dtype.type(divisor), np.uint64(saved.seed), np.uint64(saved.offset),
                _vector(g)))
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
