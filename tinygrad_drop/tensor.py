"""Tensor: a backend array, its gradient and the op node that made it; operators and factories."""

from __future__ import annotations

import math
import numbers
import operator
import os
from collections.abc import Callable
from typing import Any

from . import backends as _backends
from .autograd import Op, TensorBase, run_backward
from .ops.activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .ops.elementwise import Abs, Add, Astype, Div, Exp, Log, Mul, Neg, Pow, Sqrt, Sub, ToBackend
from .ops.matmul import MatMul
from .ops.reduce import Max, Mean, Sum
from .ops.shape import Index, Reshape, Transpose
from .viz import save_graph

_DEFAULT_FLOAT = "float32"
GRAPH_ENV_VAR = "TINYGRAD_DROP_GRAPH"
_graph_saved = False  # TINYGRAD_DROP_GRAPH saves only the first backward of the process


def _shape_arg(shape: tuple[Any, ...], what: str) -> tuple[int, ...]:
    """Accept ``f(2, 3)`` and ``f((2, 3))`` alike."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    if not all(isinstance(n, numbers.Integral) and n >= 0 for n in shape):
        raise ValueError(f"{what}: shape must be non-negative integers, got {shape!r}")
    return tuple(int(n) for n in shape)


def _is_float(backend: Any, dtype: Any) -> bool:
    return backend.xp.isdtype(dtype, "real floating")


def _binary(op: type[Op], doc: str, reflected: bool = False) -> Callable[..., Tensor]:
    """An operator method applying ``op`` to (self, other), or (other, self) if reflected."""
    def method(self: Tensor, other: Any) -> Tensor:
        other = self._other(other)
        return op.apply(other, self) if reflected else op.apply(self, other)
    method.__doc__ = doc
    return method


def _unary(op: type[Op], doc: str) -> Callable[[Tensor], Tensor]:
    def method(self: Tensor) -> Tensor:
        return op.apply(self)
    method.__doc__ = doc
    return method


def _reduction(op: type[Op], doc: str) -> Callable[..., Tensor]:
    def method(self: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
        return op.apply(self, axis=axis, keepdims=keepdims)
    method.__doc__ = doc
    return method


def _comparison(fn: Callable[[Any, Any], Any]) -> Callable[[Tensor, Any], Tensor]:
    def method(self: Tensor, other: Any) -> Tensor:
        return self._compare(other, fn)
    method.__doc__ = f"Elementwise {fn.__name__} as a bool tensor (no gradient)."
    return method


def _factory(make: Callable[[Any, tuple[int, ...], Any], Any], doc: str,
             random: bool = False) -> classmethod:
    """A factory classmethod ``f(*shape, requires_grad=False, dtype=None, backend=None)``."""
    def factory(cls: type[Tensor], *shape: Any, requires_grad: bool = False, dtype: Any = None,
                backend: str | None = None) -> Tensor:
        be = _backends.get(backend)
        native = be.dtype(dtype or _DEFAULT_FLOAT)
        if random and not _is_float(be, native):
            raise TypeError(f"{factory.__name__}: needs a floating-point dtype, "
                            f"got {_backends.dtype_name(native)}")
        data = make(be, _shape_arg(shape, factory.__name__), native)
        return cls._wrap(data, be, False, None).requires_grad_(requires_grad)
    factory.__doc__ = doc
    factory.__name__ = doc.split("(")[0].split(".")[-1]
    return classmethod(factory)


class Tensor(TensorBase):
    """An n-dimensional array on a backend that records the ops applied to it for autograd.

    ``Tensor(data, requires_grad=False, dtype=None, backend=None)``: ``data`` is a scalar, nested
    list, NumPy array, backend array or Tensor (always copied). Python floats become float32 unless
    ``dtype`` says otherwise; arrays keep their dtype; integers stay integer.
    """

    __slots__ = ()
    __array_ufunc__ = None  # NumPy defers to our reflected operators: ndarray + Tensor -> Tensor

    def __init__(self, data: Any, *, requires_grad: bool = False, dtype: Any = None,
                 backend: str | None = None) -> None:
        if backend is None and isinstance(data, Tensor):
            be = data._backend
        else:
            be = _backends.get(backend)
        self.data = _to_native(be, data, dtype)
        self._backend = be
        self.grad: Tensor | None = None
        self.grad_fn: Op | None = None
        self.name: str | None = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------------------ attributes
    @property
    def shape(self) -> tuple[int, ...]:
        """The shape, as a tuple of ints."""
        return tuple(self.data.shape)

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return self.data.ndim

    @property
    def dtype(self) -> Any:
        """The backend's native dtype (e.g. ``numpy.dtype('float32')``)."""
        return self.data.dtype

    @property
    def dtype_name(self) -> str:
        """The dtype's canonical name, the same on every backend (e.g. ``'float32'``)."""
        return _backends.dtype_name(self.data.dtype)

    @property
    def backend(self) -> str:
        """The backend's name."""
        return self._backend.name

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded op (inputs, parameters)."""
        return self.grad_fn is None

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place (floating-point tensors only); returns self."""
        if requires_grad and not _is_float(self._backend, self.data.dtype):
            raise TypeError(f"only floating-point tensors can require gradients, got dtype "
                            f"{self.dtype_name}")
        self.requires_grad = requires_grad
        return self

    def numpy(self) -> Any:
        """A host NumPy copy of the data."""
        return self._backend.to_numpy(self.data)

    def item(self) -> Any:
        """The single element as a Python number."""
        if math.prod(self.data.shape) != 1:
            raise ValueError(f"item: only a tensor with one element converts to a Python number, "
                             f"got shape {self.shape}")
        return self.numpy().item()

    def tolist(self) -> Any:
        """The data as (nested) Python lists."""
        return self.numpy().tolist()

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __bool__(self) -> bool:
        return bool(self.item())

    def __repr__(self) -> str:
        extra = ", requires_grad=True" if self.requires_grad else ""
        body = str(self.numpy()).replace("\n", "\n       ")
        return f"Tensor({body}, dtype={self.dtype_name}, backend={self.backend!r}{extra})"

    # ------------------------------------------------------------------------ autograd
    def backward(self, grad: Any = None, *, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``. ``grad`` (same shape as self)
        is required unless self has one element; the graph is freed unless ``retain_graph``."""
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad: none of its inputs "
                               "had requires_grad=True, or it was computed under no_grad()")
        be = self._backend
        if grad is None:
            if math.prod(self.data.shape) != 1:
                raise RuntimeError(
                    f"backward: called without grad on a non-scalar tensor of shape {self.shape}; "
                    "reduce it first (e.g. loss.sum().backward()) or pass grad=, a tensor of "
                    "the same shape")
            g = be.xp.ones(self.data.shape, dtype=self.data.dtype)
        elif (isinstance(grad, Tensor) and grad._backend is be
              and grad.data.dtype == self.data.dtype):
            g = grad.data  # not copied: the engine never lets a leaf own the caller's array
        else:
            g = _to_native(be, grad, self.data.dtype)
        if grad is not None and g.shape != self.data.shape:
            raise ValueError(f"backward: grad has shape {tuple(g.shape)} but the tensor has "
                             f"shape {self.shape}")
        run_backward(self, g, retain_graph)
        if not _graph_saved and os.environ.get(GRAPH_ENV_VAR):
            _save_first_graph(self)

    def detach(self) -> Tensor:
        """The same data, cut from the graph (no grad)."""
        return Tensor._wrap(self.data, self._backend, False, None)

    def to(self, backend: str) -> Tensor:
        """This tensor on another backend (differentiable); self if already there."""
        target = _backends.get(backend)
        if target is self._backend:
            return self
        return ToBackend.apply(self, target=target)

    def astype(self, dtype: Any) -> Tensor:
        """This tensor cast to ``dtype`` (differentiable); self if it already has it."""
        native = self._backend.dtype(dtype)
        if native == self.data.dtype:
            return self
        return Astype.apply(self, dtype=native)

    # ------------------------------------------------------------------------ operators
    def _other(self, other: Any) -> Any:
        """Tensors and Python numbers pass as they are; anything else becomes a Tensor here."""
        if isinstance(other, (Tensor, numbers.Number)):
            return other
        return Tensor(other, backend=self._backend.name)

    __add__, __radd__ = _binary(Add, "self + other"), _binary(Add, "other + self", True)
    __sub__, __rsub__ = _binary(Sub, "self - other"), _binary(Sub, "other - self", True)
    __mul__, __rmul__ = _binary(Mul, "self * other"), _binary(Mul, "other * self", True)
    __truediv__ = _binary(Div, "self / other")
    __rtruediv__ = _binary(Div, "other / self", True)
    __matmul__ = _binary(MatMul, "self @ other (NumPy's matmul rules)")
    __rmatmul__ = _binary(MatMul, "other @ self", True)
    __neg__ = _unary(Neg, "-self")

    def __pow__(self, exponent: Any) -> Tensor:
        if not isinstance(exponent, numbers.Real):
            raise TypeError(f"pow: the exponent must be a Python number, got "
                            f"{type(exponent).__name__}")
        return Pow.apply(self, exponent=exponent)

    def _compare(self, other: Any, fn: Callable[[Any, Any], Any]) -> Tensor:
        other = self._other(other)
        if isinstance(other, Tensor):
            if other._backend is not self._backend:
                raise TypeError(f"comparison: cannot mix backends {self.backend!r} and "
                                f"{other.backend!r}; move one with .to()")
            other = other.data
        return Tensor._wrap(fn(self.data, other), self._backend, False, None)

    __lt__, __le__ = _comparison(operator.lt), _comparison(operator.le)
    __gt__, __ge__ = _comparison(operator.gt), _comparison(operator.ge)
    __eq__, __ne__ = _comparison(operator.eq), _comparison(operator.ne)  # type: ignore
    __hash__ = object.__hash__  # identity, as for PyTorch tensors

    # ------------------------------------------------------------------------ math
    sum = _reduction(Sum, "Sum over ``axis`` (None: all elements).")
    mean = _reduction(Mean, "Mean over ``axis`` (None: all elements).")
    max = _reduction(Max, "Maximum over ``axis``; tied maxima share the gradient equally.")
    abs = _unary(Abs, "Elementwise |x|; the gradient at 0 is 0.")
    exp = _unary(Exp, "Elementwise e**x.")
    log = _unary(Log, "Elementwise natural logarithm.")
    sqrt = _unary(Sqrt, "Elementwise square root.")
    relu = _unary(ReLU, "Elementwise max(x, 0); the gradient at x == 0 is 0.")
    sigmoid = _unary(Sigmoid, "Elementwise 1 / (1 + e**-x), overflow-free.")
    tanh = _unary(Tanh, "Elementwise hyperbolic tangent.")

    def softmax(self, axis: int = -1) -> Tensor:
        """exp(x) / sum(exp(x)) along ``axis``, computed stably."""
        return Softmax.apply(self, axis=axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        """x - logsumexp(x) along ``axis``, computed stably."""
        return LogSoftmax.apply(self, axis=axis)

    # ------------------------------------------------------------------------ shape
    def reshape(self, *shape: Any) -> Tensor:
        """Same data, new shape (``reshape(2, 3)`` or ``reshape((2, 3))``; one -1 allowed)."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return Reshape.apply(self, shape=tuple(shape))

    def transpose(self, *axes: Any) -> Tensor:
        """Permute the axes, NumPy-style: no argument reverses them, otherwise a full
        permutation (``transpose(1, 0, 2)``). Note: not PyTorch's two-axis swap."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        if not axes:
            axes = tuple(reversed(range(self.ndim)))
        return Transpose.apply(self, axes=tuple(axes))

    @property
    def T(self) -> Tensor:
        """The axes reversed (the matrix transpose for 2-D tensors)."""
        return self.transpose()

    def flatten(self, start_dim: int = 0) -> Tensor:
        """Merge the dims from ``start_dim`` on into one."""
        shape = self.shape
        if not -max(len(shape), 1) <= start_dim < max(len(shape), 1):
            raise ValueError(f"flatten: start_dim {start_dim} is out of range for shape {shape}")
        start = start_dim % max(len(shape), 1)
        return self.reshape(shape[:start] + (math.prod(shape[start:]),))

    def __getitem__(self, index: Any) -> Tensor:
        """``self[index]``: ints, slices, None, Ellipsis, and integer or boolean arrays (lists,
        NumPy arrays or Tensors of this backend), with NumPy's rules."""
        return Index.select(self, index)

    # ------------------------------------------------------------------------ factories
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
    def arange(cls, n: int, *, requires_grad: bool = False, dtype: Any = None,
               backend: str | None = None) -> Tensor:
        """0, 1, ..., n - 1 (int64 unless ``dtype``)."""
        be = _backends.get(backend)
        data = be.xp.arange(n, dtype=be.dtype(dtype or "int64"))
        return cls._wrap(data, be, False, None).requires_grad_(requires_grad)


def _save_first_graph(root: Tensor) -> None:
    """Draw the graph of the process's first backward to ``$TINYGRAD_DROP_GRAPH``."""
    global _graph_saved
    _graph_saved = True
    save_graph(root, os.environ[GRAPH_ENV_VAR], show_grads=True)


def _to_native(be: Any, data: Any, dtype: Any) -> Any:
    """A fresh native array of backend ``be`` from ``data`` (see ``Tensor``'s docstring)."""
    if isinstance(data, Tensor):
        data = data.data if data._backend is be else data._backend.to_numpy(data.data)
    from_python = not hasattr(data, "dtype")  # Python scalars and (nested) lists
    try:
        array = be.asarray(data, dtype)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"Tensor: cannot make a {be.name!r} array from "
                        f"{type(data).__name__} data: {exc}") from exc
    if _backends.dtype_name(array.dtype) not in _backends.DTYPE_NAMES:
        raise TypeError(f"Tensor: unsupported dtype {_backends.dtype_name(array.dtype)!r} from "
                        f"{type(data).__name__} data (supported: "
                        f"{', '.join(_backends.DTYPE_NAMES)})")
    if from_python:
        if dtype is None and _is_float(be, array.dtype):
            array = be.xp.astype(array, be.dtype(_DEFAULT_FLOAT))
    elif _backends.dtype_name(array.dtype) == _backends.dtype_name(data.dtype):
        array = be.xp.asarray(array, copy=True)  # never alias the caller's array
    return array

