"""The CuPy backend's fused layer kernels (CUDA source in ``cuda_fused_source.py``): ReLU's
output and mask in one launch, the linear layer's bias add and bias gradient, batch
normalisation forward and backward in one launch each, cross-entropy's common case in one
launch each way, and optimizer steps over every parameter in one launch. Each class overrides
the portable kernels (``kernels.py``) where the arrays fit (float32/float64 CuPy arrays of one
dtype) and falls back to them elsewhere. Imported only where CuPy runs (or its stand-in,
``tests/cuda_host.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cupy
import numpy as np  # typed scalars and the optimizers' address table

from .cuda_fused_source import FUSED_KERNEL_NAMES, SLOTS
from .cuda_source import CTYPES
from .kernels import ActivationKernels, LinearKernels
from .loss_kernels import LossKernels
from .norm_kernels import NormKernels, NormSaved
from .optim_kernels import OptimKernels

PER_BLOCK = 1024  # elements per block the backend's launch assumes (256 threads x 4)
NULL = np.uint64(0)
NO_TARGET = np.iinfo(np.int64).min  # ignore_index of a call that ignores nothing (checked targets)
FIELDS = ("param", "grad", "a", "b", "c", "size")  # ``tdf_slots``, in its order
SLOT_TABLE = np.dtype([(name, np.uint64, (SLOTS,)) for name in FIELDS])


class SlotTable:
    """The ``tdf_slots`` argument of one optimizer launch, filled in Python lists (cheap per
    slot) and made a NumPy structure once (``value``)."""

    def __init__(self) -> None:
        self.fields = {name: [0] * SLOTS for name in FIELDS}

    def fill(self, slot: int, value: Any, grad: Any, *states: Any) -> None:
        """Slot ``slot``: the parameter, its gradient, its size and up to three state arrays
        (the kernel's a, b, c)."""
        fields = self.fields
        fields["param"][slot], fields["grad"][slot] = address(value), address(grad)
        fields["size"][slot] = value.size
        for name, array in zip(("a", "b", "c"), states, strict=False):
            fields[name][slot] = address(array)

    def value(self) -> np.ndarray:
        """The table as a one-element structured NumPy array: what CuPy passes by value."""
        words = [word for name in FIELDS for word in self.fields[name]]
        return np.array(words, dtype=np.uint64).view(SLOT_TABLE)


def address(array: Any) -> int:
    """The device address of a CuPy array's first element."""
    return array.data.ptr


def _fusable(*arrays: Any) -> bool:
    """Whether the kernels take these arrays (None skipped): CuPy arrays of one float dtype."""
    present = [a for a in arrays if a is not None]
    return (all(isinstance(a, cupy.ndarray) for a in present)
            and present[0].dtype.name in CTYPES
            and all(a.dtype == present[0].dtype for a in present))


def _or_null(array: Any) -> Any:
    """A kernel's optional array argument: the array, or a NULL pointer."""
    return NULL if array is None else array


def _per_channel(channels: int) -> int:
    """The element count to launch for one block per channel (at most the backend's cap)."""
    return channels * PER_BLOCK


class _Fused:
    """A fused family's common part: ``fused`` says whether the backend launches the kernels
    of ``cuda_fused_source`` (it lists them in its ``kernel_names``; a backend that does not
    takes the portable paths)."""

    def __init__(self, backend: Any) -> None:
        super().__init__(backend)
        self.fused = set(FUSED_KERNEL_NAMES) <= set(getattr(backend, "kernel_names", ()))

    def _fuses(self, *arrays: Any) -> bool:
        return self.fused and _fusable(*arrays)

    def _launch(self, dtype: Any, kernel: str, n: int, args: tuple) -> None:
        self.backend.launch(dtype.name, kernel, n, args)


class FusedReluKernels(_Fused, ActivationKernels):
    """ReLU's output and its backward mask in one ``td_relu_forward`` launch (the portable
    kernels: maximum, then a compare)."""

    def relu(self, a: Any, need_mask: bool) -> tuple[Any, Any]:
        if not self._fuses(a):
            return super().relu(a, need_mask)
        a = cupy.ascontiguousarray(a)
        out = cupy.empty(a.shape, dtype=a.dtype)
        mask = cupy.empty(a.shape, dtype=cupy.bool_) if need_mask else None
        if a.size:
            self._launch(a.dtype, "td_relu_forward", a.size,
                         (a, out, _or_null(mask), np.uint64(a.size)))
        return out, mask


class CupyLinearKernels(_Fused, LinearKernels):
    """The bias added into the product in place (``td_bias_add``) and the bias gradient's
    column sums (``td_channel_sums``, one block per column)."""

    def add_bias(self, out: Any, bias: Any) -> Any:
        if not (self._fuses(out, bias) and out.flags.c_contiguous and out.ndim >= 1):
            return super().add_bias(out, bias)
        cols = out.shape[-1]
        if out.size:
            self._launch(out.dtype, "td_bias_add", out.size, (
                out, cupy.ascontiguousarray(bias), np.uint64(out.size // cols),
                np.uint64(cols)))
        return out

    def bias_grad(self, g: Any) -> Any:
        if not (self._fuses(g) and g.ndim == 2):
            return super().bias_grad(g)
        return _channel_sums(self, g, g.shape[0], g.shape[1], 1)


def _channel_sums(kernels: _Fused, x: Any, outer: int, channels: int, inner: int) -> Any:
    """Per channel of ``x`` as (outer, channels, inner): its sum, (channels,)."""
    out = cupy.empty((channels,), dtype=x.dtype)
    if channels:
        kernels._launch(x.dtype, "td_channel_sums", _per_channel(channels), (
            cupy.ascontiguousarray(x), out, np.uint64(outer), np.uint64(channels),
            np.uint64(inner)))
    return out


@dataclass(frozen=True)
class FusedNormSaved:
    """What the fused batch-norm forward keeps for backward: the (contiguous) input, the
    per-channel mean and 1/std it normalised with, whether those were the batch's, and the
    input as (outer, channels, inner)."""

    x: Any
    mean: Any
    inv_std: Any
    batch_stats: bool
    layout: tuple[int, int, int]


def _layout(x: Any) -> tuple[int, int, int]:
    """``x`` (N, C, *) as (N, C, elements per sample and channel)."""
    return x.shape[0], x.shape[1], math.prod(x.shape[2:])


class CupyNormKernels(_Fused, NormKernels):
    """Batch normalisation in one launch forward (statistics, running update, output) and one
    backward (both sums, all three gradients): one block per channel."""

    def channel_sums(self, x: Any) -> Any:
        if not self._fuses(x):
            return super().channel_sums(x)
        return _channel_sums(self, x, *_layout(x))

    def forward(self, x: Any, weight: Any, bias: Any, running: tuple[Any, Any] | None,
                batch_stats: bool, update: bool, momentum: float, eps: float,
                in_place: bool) -> tuple[Any, Any, tuple[Any, Any] | None]:
        running_mean, running_var = running if running is not None else (None, None)
        if not (self._fuses(x, weight, bias, running_mean, running_var) and x.shape[1]):
            return super().forward(x, weight, bias, running, batch_stats, update, momentum,
                                   eps, in_place)
        x = cupy.ascontiguousarray(x)
        outer, channels, inner = _layout(x)
        out = cupy.empty(x.shape, dtype=x.dtype)
        mean, inv_std = (cupy.empty((channels,), dtype=x.dtype) for _ in range(2))
        new = None
        if update:
            new = running if in_place else tuple(cupy.empty((channels,), dtype=x.dtype)
                                                 for _ in range(2))
        read = running if (update or not batch_stats) else (None, None)
        written = new if new is not None else (None, None)
        self._launch(x.dtype, "td_bn_forward", _per_channel(channels), (
            x, out, mean, inv_std, _or_null(weight), _or_null(bias),
            *(_or_null(a) for a in read), *(_or_null(a) for a in written),
            np.uint64(outer), np.uint64(channels), np.uint64(inner), x.dtype.type(eps),
            np.float64(momentum), np.int32(batch_stats)))
        return out, FusedNormSaved(x, mean, inv_std, batch_stats, (outer, channels, inner)), new

    def backward(self, g: Any, saved: Any, weight: Any,
                 need: tuple[bool, bool, bool]) -> tuple[Any, Any, Any]:
        if not (isinstance(saved, FusedNormSaved) and _fusable(g, saved.x)):
            return super().backward(g, self._portable_saved(saved), weight, need)
        x = saved.x
        outer, channels, inner = saved.layout
        gx = cupy.empty(x.shape, dtype=x.dtype) if need[0] else None
        gw, gb = (cupy.empty((channels,), dtype=x.dtype) if wanted else None
                  for wanted in need[1:])
        self._launch(x.dtype, "td_bn_backward", _per_channel(channels), (
            cupy.ascontiguousarray(g), x, saved.mean, saved.inv_std, _or_null(weight),
            _or_null(gx), _or_null(gw), _or_null(gb), np.uint64(outer), np.uint64(channels),
            np.uint64(inner), np.int32(saved.batch_stats)))
        return gx, gw, gb

    def _portable_saved(self, saved: Any) -> Any:
        """The portable kernels' saved state from the fused one (a gradient of another dtype)."""
        if not isinstance(saved, FusedNormSaved):
            return saved
        shape = (1, saved.layout[1]) + (1,) * (saved.x.ndim - 2)
        mean, inv_std = (cupy.reshape(a, shape) for a in (saved.mean, saved.inv_std))
        return NormSaved(saved.x - mean, inv_std, saved.batch_stats,
                         saved.layout[0] * saved.layout[2], shape)


@dataclass(frozen=True)
class FusedCrossEntropySaved:
    """What the fused cross-entropy keeps: logits, targets, per row (max, log-sum-exp), the
    number of rows counted, the ignored target and whether the loss is their mean."""

    logits: Any
    target: Any
    stats: Any
    count: Any
    ignore: np.int64
    mean: bool


class CupyLossKernels(_Fused, LossKernels):
    """Cross-entropy's common case in one launch forward (``td_cross_entropy_forward``: one
    block sums the batch, leaves out ignored and bad targets and records a bad one) and one
    backward; 'none' reduction takes the portable path."""

    def cross_entropy(self, logits: Any, target: Any, reduction: str, ignore_index: Any = None,
                      record: Any = None, site: int = -1) -> tuple[Any, Any]:
        fits = (reduction != "none" and self._fuses(logits) and logits.ndim == 2
                and logits.shape[1] > 0 and isinstance(target, cupy.ndarray)
                and target.dtype == np.int64
                and (record is None or (isinstance(record, cupy.ndarray)
                                        and record.dtype == np.int64)))
        if not fits:
            return super().cross_entropy(logits, target, reduction, ignore_index, record, site)
        z, t = cupy.ascontiguousarray(logits), cupy.ascontiguousarray(target)
        rows, classes = z.shape
        loss, count = (cupy.empty((), dtype=z.dtype) for _ in range(2))
        stats = cupy.empty((rows, 2), dtype=z.dtype)
        ignore = np.int64(NO_TARGET if ignore_index is None else ignore_index)
        mean = reduction == "mean"
        self._launch(z.dtype, "td_cross_entropy_forward", 1, (  # 1: one block
            z, t, loss, stats, count, _or_null(record), np.int64(site), ignore, np.uint64(rows),
            np.uint64(classes), np.int32(mean)))
        return loss, FusedCrossEntropySaved(z, t, stats, count, ignore, mean)

    def cross_entropy_backward(self, g: Any, saved: Any) -> Any:
        if not isinstance(saved, FusedCrossEntropySaved):
            return super().cross_entropy_backward(g, saved)
        z = saved.logits
        grad = cupy.empty(z.shape, dtype=z.dtype)
        if z.size:
            g = cupy.ascontiguousarray(g if g.dtype == z.dtype else g.astype(z.dtype))
            self._launch(z.dtype, "td_cross_entropy_backward", z.size, (
                z, saved.target, saved.stats, g, saved.count, grad, saved.ignore,
                np.uint64(z.shape[0]), np.uint64(z.shape[1]), np.int32(saved.mean)))
        return grad


class CupyOptimKernels(_Fused, OptimKernels):
    """Optimizer steps in one launch per 16 parameters of a dtype (``td_sgd_multi``,
    ``td_adam_multi``, ``td_adadelta_multi``), their addresses passed by value in the launch:
    nothing is copied to the device, and a captured CUDA graph keeps them. The float options
    are read from ``device_options`` (a float64 device array the optimizer keeps per parameter
    group and rewrites when an option changes, so a captured graph follows a schedule; made
    here from the Python floats when not given). State arrays are made once (zeros, or for
    SGD's momentum an empty buffer the first step fills) and updated in place; Adam's step
    counts are device scalars of the parameter's dtype (as PyTorch's ``capturable`` Adam)
    advanced by the kernel. Parameters that do not fit (another dtype, host arrays, not
    contiguous) take the portable path, which reads the Python floats."""

    def __init__(self, backend: Any) -> None:
        super().__init__(backend)
        self._ticket: Any = None  # Adam's finished-blocks counter, left at 0 by each launch

    @property
    def reads_device_options(self) -> bool:  # type: ignore[override]
        """Whether the kernels read the options from a device array (where they are fused)."""
        return self.fused

    def sgd(self, values: list[Any], grads: list[Any], states: list[dict[str, Any]],
            lr: float, momentum: float, weight_decay: float, nesterov: bool,
            device_options: Any = None) -> None:
        def launch(dtype: Any, chunk: list[int]) -> None:
            table, first = SlotTable(), 0
            for slot, i in enumerate(chunk):
                buffers = ()
                if momentum:
                    buf = states[i].get("momentum_buffer")
                    if buf is None:  # the first step copies the gradient into it
                        buf = states[i]["momentum_buffer"] = cupy.empty_like(values[i])
                        first |= 1 << slot
                    buffers = (buf,)
                table.fill(slot, values[i], grads[i], *buffers)
            self._launch(dtype, "td_sgd_multi", self._elements(values, chunk), (
                table.value(), np.uint32(len(chunk)), np.uint32(first), options,
                np.int32(nesterov)))

        options = self._options(device_options, (lr, momentum, weight_decay))
        rest = self._each_chunk(values, grads, states, launch, momentum)
        super().sgd(*self._pick(rest, values, grads, states), lr, momentum, weight_decay,
                    nesterov)

    def adam(self, values: list[Any], grads: list[Any], states: list[dict[str, Any]],
             lr: float, betas: tuple[float, float], eps: float, weight_decay: float,
             decoupled: bool = False, device_options: Any = None) -> None:
        def launch(dtype: Any, chunk: list[int]) -> None:
            table = SlotTable()
            for slot, i in enumerate(chunk):
                state = states[i]
                moments = self._zero_states(state, values[i], ("exp_avg", "exp_avg_sq"))
                state["step"] = self._device_step(state.get("step", 0), dtype)
                table.fill(slot, values[i], grads[i], *moments, state["step"])
            self._launch(dtype, "td_adam_multi", self._elements(values, chunk), (
                table.value(), np.uint32(len(chunk)), options, np.int32(decoupled),
                self._adam_ticket()))

        options = self._options(device_options, (lr, *betas, eps, weight_decay))
        rest = self._each_chunk(values, grads, states, launch, True)
        super().adam(*self._pick(rest, values, grads, states), lr, betas, eps, weight_decay,
                     decoupled)

    def adadelta(self, values: list[Any], grads: list[Any], states: list[dict[str, Any]],
                 lr: float, rho: float, eps: float, weight_decay: float,
                 device_options: Any = None) -> None:
        def launch(dtype: Any, chunk: list[int]) -> None:
            table = SlotTable()
            for slot, i in enumerate(chunk):
                state = states[i]
                averages = self._zero_states(state, values[i], ("square_avg", "acc_delta"))
                state["step"] = state.get("step", 0) + 1  # not in the formula: a host count
                table.fill(slot, values[i], grads[i], *averages)
            self._launch(dtype, "td_adadelta_multi", self._elements(values, chunk), (
                table.value(), np.uint32(len(chunk)), options))

        options = self._options(device_options, (lr, rho, eps, weight_decay))
        rest = self._each_chunk(values, grads, states, launch, True)
        super().adadelta(*self._pick(rest, values, grads, states), lr, rho, eps, weight_decay)

    def _options(self, device_options: Any, values: tuple[float, ...]) -> Any:
        """The options array a launch reads: the optimizer's, or one made from ``values``
        (a call from outside an optimizer; a captured graph would keep these values). Made
        only where the kernels run fused."""
        if device_options is not None or not self.fused:
            return device_options
        return cupy.asarray(np.array(values, dtype=np.float64))

    def _each_chunk(self, values: list[Any], grads: list[Any], states: list[Any],
                    launch: Any, stateful: Any) -> list[int]:
        """Call ``launch(dtype, indices)`` for each run of up to ``SLOTS`` fusable parameters
        of one dtype; return the indices of the others (for the portable path)."""
        by_dtype: dict[str, list[int]] = {}
        rest = []
        for i, (value, grad) in enumerate(zip(values, grads, strict=True)):
            fits = (self._fuses(value, grad) and value.flags.c_contiguous
                    and grad.flags.c_contiguous
                    and not (stateful and self._foreign_state(states[i])))
            if fits:
                by_dtype.setdefault(value.dtype.name, []).append(i)
            else:
                rest.append(i)
        for indices in by_dtype.values():
            dtype = values[indices[0]].dtype
            for start in range(0, len(indices), SLOTS):
                launch(dtype, indices[start:start + SLOTS])
        return rest

    @staticmethod
    def _foreign_state(state: dict[str, Any]) -> bool:
        """Whether a parameter's state holds arrays the kernels cannot update in place (not
        CuPy, or not contiguous): it stays on the portable path."""
        return any(hasattr(v, "shape") and not (isinstance(v, cupy.ndarray)
                                                and v.flags.c_contiguous)
                   for v in state.values())

    @staticmethod
    def _pick(indices: list[int], *lists: list[Any]) -> tuple[list[Any], ...]:
        return tuple([items[i] for i in indices] for items in lists)

    @staticmethod
    def _zero_states(state: dict[str, Any], value: Any, names: tuple[str, str]) -> tuple:
        """The state arrays ``names`` of a parameter ``value``, made as zeros on first use."""
        if state.get(names[0]) is None:
            for name in names:
                state[name] = cupy.zeros(value.shape, dtype=value.dtype)
        return tuple(state[name] for name in names)

    @staticmethod
    def _elements(values: list[Any], chunk: list[int]) -> int:
        return max(1, sum(values[i].size for i in chunk))

    @staticmethod
    def _device_step(step: Any, dtype: Any) -> Any:
        """Adam's step count as a device scalar of ``dtype`` (made once from a host count)."""
        if isinstance(step, cupy.ndarray) and step.dtype == dtype and step.flags.c_contiguous:
            return step
        count = cupy.zeros((), dtype=dtype)
        count[...] = float(step)
        return count

    def _adam_ticket(self) -> Any:
        if self._ticket is None:
            self._ticket = cupy.zeros((1,), dtype=np.uint32)
        return self._ticket


def fused_families(activation: type[ActivationKernels]) -> dict[str, type]:
    """The CuPy backend's fused families; its activation family is ``activation`` (the CuPy
    class with the fused ReLU backward) with the fused ReLU forward added."""
    fused_activation = type("CupyActivationKernels", (FusedReluKernels, activation),
                            {"__doc__": f"{FusedReluKernels.__doc__} {activation.__doc__}"})
    return {cls.family: cls for cls in (fused_activation, CupyLinearKernels, CupyNormKernels,
                                        CupyLossKernels, CupyOptimKernels)}
