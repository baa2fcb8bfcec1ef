"""Whole-step capture: ``step = td.jit(fn)`` records the device work of a training step once and
replays it on later calls.

On a backend that can capture (``Backend.capture()`` returns a recorder, ``backends/capture.py``:
CuPy, as a CUDA graph) calls are keyed by their arguments: each Tensor argument by (shape, dtype,
backend) — and a Tensor that requires a gradient also by identity —, every other argument by
value (it must be hashable), through tuples, lists and dicts. For each key:

1. the first call runs ``fn`` as it is (warm-up: optimizer state, gradients and compiled kernels
   come into being, so that the captured call finds them);
2. the second copies each Tensor argument that needs no gradient into a static Tensor of its
   own, records ``fn`` run on those, and returns what ``fn`` returned;
3. later calls copy the arguments into the static Tensors, replay the recording and return the
   same objects as call 2, their values refreshed in place.

So a jitted function must do the same device work on every call with one key: its Tensor arguments
are data (copied in), its parameters and optimizer state are updated in place (the optimizers do; a
hand-written ``p -= lr * p.grad`` does not: a Tensor's in-place operators give it a new array,
``tensor_inplace.py``, which replays do not follow), and it reads nothing on the host (``.item()``
inside raises a ``CaptureError`` saying so). Dropout draws fresh masks on every replay, the same
stream as eager calls. An optimizer option changed between calls (a learning-rate scheduler,
``group['lr'] = x``) reaches the replays: CuPy's fused optimizer kernels read the options from
device memory, which the assignment rewrites (parameters those kernels do not take keep the recorded
options: make a new ``td.jit`` after changing one).

Where the backend cannot capture (``numpy``, ``strict``) ``fn`` simply runs: one code path for
users on every backend.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from . import backends as _backends
from .tensor_core import Tensor


def jit(fn: Callable[..., Any]) -> Jitted:
    """``fn`` captured after a warm-up call and replayed on later calls with arguments of the
    same key (see the module docstring); returns what ``fn`` returns."""
    return Jitted(fn)


class Jitted:
    """A function under ``jit``: ``fn`` itself, and per argument key its recorded step."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        if not callable(fn):
            raise TypeError(f"jit: expected a callable, got {type(fn).__name__}")
        self.fn = fn
        self.warmed: set[Any] = set()  # keys called once
        self.steps: dict[Any, Recorded] = {}  # keys recorded
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        tensors = _tensors((args, kwargs))
        backend = tensors[0]._backend if tensors else _backends.get()
        recorder = backend.capture()
        if recorder is None:
            return self.fn(*args, **kwargs)
        key = _key((args, kwargs))
        step = self.steps.get(key)
        if step is not None:
            return step.replay(tensors)
        if key not in self.warmed:
            self.warmed.add(key)
            return self.fn(*args, **kwargs)
        step = Recorded(self.fn, recorder, args, kwargs, tensors, backend)
        self.steps[key] = step
        return step.result

    def __repr__(self) -> str:
        return f"<td.jit of {getattr(self.fn, '__qualname__', self.fn)!r}>"


class Recorded:
    """One recorded call: the static Tensors its arguments are copied into (None where an
    argument, one that requires a gradient, is passed as it is), its result and its step."""

    def __init__(self, fn: Callable[..., Any], recorder: Any, args: tuple, kwargs: dict,
                 tensors: list[Tensor], backend: Any) -> None:
        self.statics = [None if t.requires_grad else Tensor(t) for t in tensors]
        # kept alive, never read: their ids are in the key, and a freed id could be reused
        self.held = [t for t in tensors if t.requires_grad]
        fresh = iter(self.statics)
        static_args, static_kwargs = _substitute((args, kwargs), fresh)
        self.checks = backend.checks
        checks_before = self.checks.requests
        self.result, self.step = recorder.record(lambda: fn(*static_args, **static_kwargs))
        # whether the step checks values on the device (class targets): each replay then
        # leaves a record for the next host read to report
        self.checking = self.checks.requests != checks_before

    def replay(self, tensors: list[Tensor]) -> Any:
        """Copy ``tensors`` into the static ones, replay, return the recorded result."""
        for static, tensor in zip(self.statics, tensors, strict=True):
            if static is not None:
                static.data[...] = tensor.data
        self.step.replay()
        if self.checking:
            self.checks.pending = True
        return self.result


def _tensors(obj: Any) -> list[Tensor]:
    """The Tensors in ``obj`` (through tuples, lists and dict values), in order."""
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [t for item in obj for t in _tensors(item)]
    if isinstance(obj, dict):
        return [t for item in obj.values() for t in _tensors(item)]
    return []


def _key(obj: Any) -> Any:
    """The hashable key of ``obj``: Tensors by (shape, dtype, backend[, identity if they require
    a gradient]), containers item by item, anything else by type and value."""
    if isinstance(obj, Tensor):
        return ("tensor", tuple(obj.shape), obj.dtype_name, obj._backend.name,
                id(obj) if obj.requires_grad else None)
    if isinstance(obj, (tuple, list)):
        return (type(obj).__name__, tuple(_key(item) for item in obj))
    if isinstance(obj, dict):
        return ("dict", tuple((name, _key(item)) for name, item in obj.items()))
    try:
        hash(obj)
    except TypeError:
        raise TypeError(f"jit: argument {obj!r} of type {type(obj).__name__} is neither a "
                        "Tensor nor hashable; other arguments are part of the call's key by "
                        "value (pass Tensors, numbers, strings, or tuples of them)") from None
    return (type(obj), obj)


def _substitute(obj: Any, fresh: Any) -> Any:
    """``obj`` with each Tensor replaced by the next item of ``fresh`` (kept where None)."""
    if isinstance(obj, Tensor):
        static = next(fresh)
        return obj if static is None else static
    if isinstance(obj, (tuple, list)):
        items = [_substitute(item, fresh) for item in obj]
        return type(obj)(*items) if hasattr(obj, "_fields") else type(obj)(items)
    if isinstance(obj, dict):
        return {name: _substitute(item, fresh) for name, item in obj.items()}
    return obj
