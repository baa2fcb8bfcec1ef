"""Tensor factories: ``Tensor.zeros(2, 3)`` and ``td.zeros(2, 3)``, ``td.full``, ``td.eye``,
``td.arange``, random tensors and the ``*_like`` forms, with PyTorch's default dtypes (float32 for
floats, int64 for integers)."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

from . import backends as _backends
from . import dtypes


def _shape_arg(shape: tuple[Any, ...], what: str) -> tuple[int, ...]:
    """Accept ``f(2, 3)`` and ``f((2, 3))`` alike."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    if not all(isinstance(n, numbers.Integral) and n >= 0 for n in shape):
        raise ValueError(f"{what}: shape must be non-negative integers, got {shape!r}")
    return tuple(int(n) for n in shape)


def _finish(cls: Any, data: Any, be: Any, requires_grad: bool) -> Any:
    return cls._wrap(data, be, False, None).requires_grad_(requires_grad)


def _factory(make: Callable[[Any, tuple[int, ...], Any], Any], doc: str,
             random: bool = False) -> classmethod:
    """A factory classmethod ``f(*shape, requires_grad=False, dtype=None, backend=None)``."""
    def factory(cls: Any, *shape: Any, requires_grad: bool = False, dtype: Any = None,
                backend: str | None = None) -> Any:
        be = _backends.get(backend)
        native = be.dtype(dtype or dtypes.DEFAULT_FLOAT)
        if random and not dtypes.is_floating(_backends.dtype_name(native)):
            raise TypeError(f"{factory.__name__}: needs a floating-point dtype, "
                            f"got {_backends.dtype_name(native)}")
        return _finish(cls, make(be, _shape_arg(shape, factory.__name__), native), be,
                       requires_grad)
    factory.__doc__ = doc
    factory.__name__ = doc.split("(")[0].split(".")[-1]
    return classmethod(factory)


def _value_dtype(value: Any, dtype: Any) -> str:
    """The dtype a fill value gets: ``dtype`` if given, else PyTorch's default for its kind."""
    if dtype is not None:
        return dtypes.name_of(dtype)
    if not dtypes.is_scalar(value) or isinstance(value, complex):
        raise TypeError(f"full: the fill value must be a real number or bool, got {value!r}")
    return dtypes.result_type(value)


class FactoryMethods:
    """``Tensor.zeros`` and friends (mixed into ``Tensor`` as classmethods)."""

    __slots__ = ()

    zeros = _factory(lambda be, shape, dt: be.xp.zeros(shape, dtype=dt),
                     "Tensor.zeros(*shape): zeros (float32 unless ``dtype``).")
    ones = _factory(lambda be, shape, dt: be.xp.ones(shape, dtype=dt),
                    "Tensor.ones(*shape): ones (float32 unless ``dtype``).")
    rand = _factory(lambda be, shape, dt: be.generator.uniform(shape, dt),
                    "Tensor.rand(*shape): U[0, 1) samples from the backend's generator "
                    "(float32 unless ``dtype``).", random=True)
    randn = _factory(lambda be, shape, dt: be.generator.normal(shape, dt),
                     "Tensor.randn(*shape): N(0, 1) samples from the backend's generator "
                     "(float32 unless ``dtype``).", random=True)

    @classmethod
    def full(cls, shape: Any, fill_value: Any, *, requires_grad: bool = False,
             dtype: Any = None, backend: str | None = None) -> Any:
        """A tensor of ``shape`` filled with ``fill_value`` (float32 for a float, int64 for an
        int, bool for a bool, unless ``dtype``)."""
        be = _backends.get(backend)
        shape = _shape_arg(shape if isinstance(shape, (tuple, list)) else (shape,), "full")
        name = _value_dtype(fill_value, dtype)
        data = be.xp.full(shape, dtypes.scalar_as(fill_value, name), dtype=be.dtype(name))
        return _finish(cls, data, be, requires_grad)

    @classmethod
    def eye(cls, n: int, m: int | None = None, *, requires_grad: bool = False,
            dtype: Any = None, backend: str | None = None) -> Any:
        """The ``n`` x ``m`` identity matrix (``m`` defaults to ``n``; float32 unless
        ``dtype``)."""
        be = _backends.get(backend)
        rows, cols = _shape_arg((n, n if m is None else m), "eye")
        data = be.xp.eye(rows, cols, dtype=be.dtype(dtype or dtypes.DEFAULT_FLOAT))
        return _finish(cls, data, be, requires_grad)

    @classmethod
    def arange(cls, start: Any, end: Any = None, step: Any = 1, *, requires_grad: bool = False,
               dtype: Any = None, backend: str | None = None) -> Any:
        """``start, start + step, ...`` up to (not including) ``end``; ``arange(n)`` counts
        from 0. int64 when every argument is an integer, float32 otherwise, unless ``dtype``."""
        if end is None:
            start, end = 0, start
        if step == 0:
            raise ValueError("arange: step must be nonzero")
        be = _backends.get(backend)
        name = dtypes.name_of(dtype) if dtype is not None else dtypes.result_type(start, end,
                                                                                   step)
        if name == "bool":
            name = dtypes.DEFAULT_INT
        if dtypes.is_floating(name):  # start + i * step in float64, then rounded once
            data = be.xp.astype(be.xp.arange(start, end, step, dtype=be.dtype("float64")),
                                be.dtype(name))
        else:
            data = be.xp.arange(start, end, step, dtype=be.dtype(name))
        return _finish(cls, data, be, requires_grad)


def _tensor_class() -> Any:
    from .tensor_core import Tensor
    return Tensor


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False,
           backend: str | None = None) -> Any:
    """``td.tensor(data)``: PyTorch's spelling of ``Tensor(data, ...)`` (always a copy)."""
    return _tensor_class()(data, dtype=dtype, requires_grad=requires_grad, backend=backend)


def _level(name: str) -> Callable[..., Any]:
    def function(*args: Any, **kwargs: Any) -> Any:
        return getattr(_tensor_class(), name)(*args, **kwargs)
    function.__name__ = name
    function.__doc__ = f"``td.{name}(...)``: the same as ``Tensor.{name}(...)``."
    return function


zeros, ones, full, eye, arange, rand, randn = (
    _level(n) for n in ("zeros", "ones", "full", "eye", "arange", "rand", "randn"))


def _like(name: str, make: Callable[..., Any]) -> Callable[..., Any]:
    def function(t: Any, *args: Any, dtype: Any = None, requires_grad: bool = False,
                 backend: str | None = None) -> Any:
        return make(t.shape, *args, dtype=dtype or t.dtype_name, requires_grad=requires_grad,
                    backend=backend or t.backend)
    function.__name__ = name
    function.__doc__ = (f"``td.{name}(t)``: like ``t`` (shape, dtype and backend, unless "
                        "given).")
    return function


zeros_like = _like("zeros_like", lambda shape, **kw: _tensor_class().zeros(shape, **kw))
ones_like = _like("ones_like", lambda shape, **kw: _tensor_class().ones(shape, **kw))
full_like = _like("full_like", lambda shape, value, **kw: _tensor_class().full(shape, value,
                                                                                **kw))
rand_like = _like("rand_like", lambda shape, **kw: _tensor_class().rand(shape, **kw))
randn_like = _like("randn_like", lambda shape, **kw: _tensor_class().randn(shape, **kw))


def from_dlpack(obj: Any, backend: str | None = None) -> Any:
    """A Tensor sharing ``obj``'s memory through DLPack (a torch tensor, a JAX, CuPy or NumPy
    array), on ``backend`` (default: the default backend). Where the device does not allow
    sharing (a GPU array on a CPU backend), the error says which backend to use."""
    be = _backends.get(backend)
    if not hasattr(obj, "__dlpack__"):
        raise TypeError(f"from_dlpack: {type(obj).__name__} has no __dlpack__ method")
    try:
        data = be.xp.from_dlpack(obj)
    except Exception as exc:  # another device, an unsupported dtype, a refusing exporter
        device = obj.__dlpack_device__() if hasattr(obj, "__dlpack_device__") else "?"
        raise type(exc)(f"from_dlpack: backend {be.name!r} cannot share the memory of a "
                        f"{type(obj).__name__} on DLPack device {device} ({exc}); pass the "
                        "backend of that device (a CUDA array: 'cupy', a CPU one: 'numpy'), "
                        f"or copy it with td.tensor(obj, backend={be.name!r})") from exc
    name = _backends.dtype_name(data.dtype)
    if name not in _backends.DTYPE_NAMES:
        raise TypeError(f"from_dlpack: unsupported dtype {name!r} (supported: "
                        f"{', '.join(_backends.DTYPE_NAMES)})")
    return _tensor_class()._wrap(data, be, False, None)
