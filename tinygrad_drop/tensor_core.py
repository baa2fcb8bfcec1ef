"""Tensor: a backend array, its gradient and the op node that made it, and its exchange with
Python, NumPy and other array libraries (``__array__``, DLPack, ``float(t)``).

The methods users call come in from mixins, one module per kind: ``tensor_math`` (operators,
elementwise math, activations), ``tensor_reduce`` (reductions), ``tensor_shape`` (reshapes and
indexing) and ``factories`` (``Tensor.zeros`` and friends).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from typing import Any

from . import backends as _backends
from . import dtypes
from .autograd import Op, TensorBase, run_backward
from .factories import FactoryMethods
from .ops.elementwise import Astype, Clone, ToBackend
from .tensor_inplace import InplaceMethods
from .tensor_math import MathMethods
from .tensor_reduce import ReduceMethods
from .tensor_shape import ShapeMethods
from .viz import save_graph

GRAPH_ENV_VAR = "TINYGRAD_DROP_GRAPH"
_first_backward = True  # TINYGRAD_DROP_GRAPH saves only the first backward of the process


class Tensor(MathMethods, InplaceMethods, ReduceMethods, ShapeMethods, FactoryMethods,
             TensorBase):
    """An n-dimensional array on a backend that records the ops applied to it for autograd.

    ``Tensor(data, requires_grad=False, dtype=None, backend=None)``: ``data`` is a scalar, nested
    list, NumPy array, backend array, Tensor, or anything with ``__dlpack__``/``__array__`` (a
    torch tensor, a JAX array), always copied. Python floats become float32 unless ``dtype``
    says otherwise; arrays keep their dtype; integers stay integer.
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
    def dtype(self) -> dtypes.DType:
        """The dtype, as ``td.float32`` and friends: it compares equal to the same dtype in any
        spelling (``'float32'``, ``numpy.float32``, a backend's dtype); ``.data.dtype`` is the
        backend's own."""
        return dtypes.of(dtypes.native_name(self.data.dtype))

    @property
    def dtype_name(self) -> str:
        """The dtype's canonical name, the same on every backend (e.g. ``'float32'``)."""
        return dtypes.native_name(self.data.dtype)

    @property
    def backend(self) -> str:
        """The backend's name."""
        return self._backend.name

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded op (inputs, parameters)."""
        return self.grad_fn is None

    def size(self, dim: int | None = None) -> Any:
        """The shape as a tuple, or the length of dimension ``dim`` (negative counts back)."""
        if dim is None:
            return self.shape
        if not -self.ndim <= dim < self.ndim:
            raise IndexError(f"size: dim {dim} is out of range for a tensor of shape "
                             f"{self.shape}")
        return self.shape[dim]

    def numel(self) -> int:
        """Number of elements."""
        return math.prod(self.data.shape)

    def dim(self) -> int:
        """Number of dimensions (PyTorch's name for ``ndim``)."""
        return self.data.ndim

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place (floating-point tensors only); returns self."""
        if requires_grad and not dtypes.is_floating(self.dtype_name):
            raise TypeError(f"only floating-point tensors can require gradients, got dtype "
                            f"{self.dtype_name}")
        self.requires_grad = requires_grad
        return self

    # ------------------------------------------------------------------------ conversions
    def numpy(self) -> Any:
        """A host NumPy copy of the data. Raises the first failed value check that ops made on
        this tensor's device since the last read (``backends.deferred_checks``)."""
        be = self._backend
        be.checks.report()
        return be.to_numpy(self.data)

    def item(self) -> Any:
        """The single element as a Python number."""
        self._one_element("item")
        return self.numpy().item()

    def _one_element(self, what: str) -> None:
        if math.prod(self.data.shape) != 1:
            raise ValueError(f"{what}: only a tensor with one element converts to a Python "
                             f"scalar, got shape {self.shape}")

    def tolist(self) -> Any:
        """The data as (nested) Python lists."""
        return self.numpy().tolist()

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        """The sub-tensors along the first dimension (differentiable, as in PyTorch)."""
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def __bool__(self) -> bool:
        self._one_element("bool")
        return bool(self.item())

    def __float__(self) -> float:
        self._one_element("float")
        return float(self.item())

    def __int__(self) -> int:
        self._one_element("int")
        return int(self.item())

    def __index__(self) -> int:
        if dtypes.category(self.dtype_name) != 1:
            raise TypeError(f"only integer tensors of a single element can be used as an index, "
                            f"got dtype {self.dtype_name}")
        return int(self)

    def __format__(self, spec: str) -> str:
        if math.prod(self.data.shape) == 1:
            return format(self.item(), spec)
        if spec:
            raise TypeError(f"unsupported format string {spec!r} for a tensor of shape "
                            f"{self.shape}: only one-element tensors take a number format")
        return str(self)

    def __repr__(self) -> str:
        extra = ", requires_grad=True" if self.requires_grad else ""
        body = str(self.numpy()).replace("\n", "\n       ")
        return f"Tensor({body}, dtype={self.dtype_name}, backend={self.backend!r}{extra})"

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> Any:
        """``np.asarray(t)``: a host NumPy array of the values (a copy; off the graph)."""
        if copy is False:
            raise ValueError("__array__: a tensor's values always reach NumPy as a copy "
                             "(copy=False cannot be honoured); use np.from_dlpack(t) to share "
                             "memory")
        array = self.numpy()
        return array if dtype is None else array.astype(dtype, copy=False)

    def __dlpack__(self, **kwargs: Any) -> Any:
        """Export the data without a copy (``torch.from_dlpack(t)``, ``np.from_dlpack(t)``)."""
        try:
            return self.data.__dlpack__(**kwargs)
        except TypeError:  # an array library that predates the newer keywords
            return self.data.__dlpack__(stream=kwargs.get("stream"))

    def __dlpack_device__(self) -> tuple[int, int]:
        """The (device type, device id) pair of the DLPack protocol."""
        return self.data.__dlpack_device__()

    # ------------------------------------------------------------------------ autograd
    def backward(self, grad: Any = None, *, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``. ``grad`` (same shape as self)
        is required unless self has one element; the graph is freed unless ``retain_graph``."""
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad: none of its inputs "
                               "had requires_grad=True, or it was computed under no_grad()")
        be, data = self._backend, self.data
        if grad is None:
            if not data.shape and be.host_memory:  # loss.backward(): 0.5 us less than ones()
                g = be.xp.asarray(1, dtype=data.dtype)
            elif math.prod(data.shape) == 1:
                g = be.xp.ones(data.shape, dtype=data.dtype)
            else:
                raise RuntimeError(
                    f"backward: called without grad on a non-scalar tensor of shape {self.shape}; "
                    "reduce it first (e.g. loss.sum().backward()) or pass grad=, a tensor of "
                    "the same shape")
        else:
            if (isinstance(grad, Tensor) and grad._backend is be
                    and grad.data.dtype == data.dtype):
                g = grad.data  # not copied: the engine never lets a leaf own the caller's array
            else:
                g = _to_native(be, grad, data.dtype)
            if g.shape != data.shape:
                raise ValueError(f"backward: grad has shape {tuple(g.shape)} but the tensor has "
                                 f"shape {self.shape}")
        run_backward(self, g, retain_graph)
        global _first_backward
        if _first_backward:  # the environment is read once, at the process's first backward
            _first_backward = False
            if os.environ.get(GRAPH_ENV_VAR):
                _save_first_graph(self)

    def detach(self) -> Tensor:
        """The same data, cut from the graph (no grad)."""
        return Tensor._wrap(self.data, self._backend, False, None)

    def clone(self) -> Tensor:
        """A copy with its own memory; differentiable (the gradient passes straight through)."""
        return Clone.apply(self)

    def to(self, backend: Any = None, dtype: Any = None) -> Tensor:
        """This tensor on another backend and/or with another dtype (differentiable); self if
        nothing changes. ``t.to('cupy')``, ``t.to(td.float64)``, ``t.to(other)`` (other's
        backend and dtype); PyTorch's ``'cpu'`` and ``'cuda'`` mean numpy and cupy."""
        if isinstance(backend, Tensor):
            backend, dtype = backend._backend, dtype or backend.dtype_name
        if dtype is None and _is_dtype(backend):
            backend, dtype = None, backend
        out = self
        if backend is not None:
            target = _backends.get(backend)
            if target is not self._backend:
                out = ToBackend.apply(self, target=target)
        return out if dtype is None else out.astype(dtype)

    def astype(self, dtype: Any) -> Tensor:
        """This tensor cast to ``dtype``; self if it already has it. Differentiable to a
        floating dtype; a cast to an integer or bool dtype ends the graph, as in PyTorch."""
        native = self._backend.dtype(dtype)
        if native == self.data.dtype:
            return self
        if not dtypes.is_floating(_backends.dtype_name(native)):
            data = self._backend.xp.astype(self.data, native)
            return Tensor._wrap(data, self._backend, False, None)
        return Astype.apply(self, dtype=native)

    def cpu(self) -> Tensor:
        """This tensor on the numpy backend (PyTorch's ``.cpu()``)."""
        return self.to("numpy")

    def cuda(self) -> Tensor:
        """This tensor on the cupy backend (PyTorch's ``.cuda()``)."""
        return self.to("cupy")

    def float(self) -> Tensor:
        """Cast to float32."""
        return self.astype("float32")

    def double(self) -> Tensor:
        """Cast to float64."""
        return self.astype("float64")

    def long(self) -> Tensor:
        """Cast to int64."""
        return self.astype("int64")

    def int(self) -> Tensor:
        """Cast to int32."""
        return self.astype("int32")

    def bool(self) -> Tensor:
        """Cast to bool."""
        return self.astype("bool")

    def is_floating_point(self) -> bool:
        """Whether the dtype is floating point."""
        return dtypes.is_floating(self.dtype_name)


def _is_dtype(spec: Any) -> bool:
    if spec is None or isinstance(spec, dtypes.DType):
        return isinstance(spec, dtypes.DType)
    try:
        return _backends.dtype_name(spec) in _backends.DTYPE_NAMES
    except Exception:
        return False


def _save_first_graph(root: Tensor) -> None:
    """Draw the graph of the process's first backward to ``$TINYGRAD_DROP_GRAPH``."""
    save_graph(root, os.environ[GRAPH_ENV_VAR], show_grads=True)


def _from_foreign(be: Any, data: Any) -> Any:
    """Another library's array as an array of ``be`` through DLPack where the device allows
    (no copy here; the caller copies), else the array itself, detached if it needs to be, for
    ``asarray`` to read through ``__array__``."""
    if not hasattr(data, "__dlpack__") or be.is_array(data) or hasattr(data, "__array_interface__"):
        return data
    if callable(getattr(data, "detach", None)):  # a torch tensor that requires grad refuses
        data = data.detach()
    try:
        return be.xp.from_dlpack(data)
    except Exception:  # another device (a CPU tensor for CuPy): asarray copies through the host
        return data


def _holds_float64_scalar(data: Any) -> bool:
    """Whether (nested) lists hold a NumPy float64 scalar: PyTorch then makes float64, as it
    does for the scalar alone (Python floats still give float32)."""
    if isinstance(data, (list, tuple)):
        return any(_holds_float64_scalar(item) for item in data)
    return type(data).__name__ == "float64"


def _to_native(be: Any, data: Any, dtype: Any) -> Any:
    """A fresh native array of backend ``be`` from ``data`` (see ``Tensor``'s docstring)."""
    fresh = False  # whether ``data`` is already a copy nobody else holds
    if isinstance(data, Tensor):
        fresh = data._backend is not be
        data = data.data if not fresh else data._backend.to_numpy(data.data)
    else:
        data = _from_foreign(be, data)
    from_python = not hasattr(data, "dtype")  # Python scalars and (nested) lists
    try:
        array = be.asarray(data, None if dtype is None else dtypes.name_of(dtype))
    except (TypeError, ValueError, RuntimeError) as exc:
        raise type(exc)(f"Tensor: cannot make a {be.name!r} array from "
                        f"{type(data).__name__} data: {exc}") from exc
    if _backends.dtype_name(array.dtype) not in _backends.DTYPE_NAMES:
        raise TypeError(f"Tensor: unsupported dtype {_backends.dtype_name(array.dtype)!r} from "
                        f"{type(data).__name__} data (supported: "
                        f"{', '.join(_backends.DTYPE_NAMES)})")
    if from_python:
        if (dtype is None and dtypes.is_floating(_backends.dtype_name(array.dtype))
                and not _holds_float64_scalar(data)):
            array = be.xp.astype(array, be.dtype(dtypes.DEFAULT_FLOAT))
    elif not fresh and _backends.dtype_name(array.dtype) == _backends.dtype_name(data.dtype):
        array = be.xp.asarray(array, copy=True)  # never alias the caller's array
    return array
