"""Tensor methods for arithmetic, comparisons, elementwise math and activations.

Every binary operator goes through ``promote``, which applies PyTorch's type promotion
(``dtypes.result_type``) once, before the op: ops themselves only ever see operands of one dtype.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from . import dtypes
from .autograd import Op, TensorBase
from .dtypes import native_category
from .ops.activation import Clamp, ClampTensor, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .ops.elementwise import Abs, Add, Div, Exp, Log, Mul, Neg, Pow, PowTensor, Remainder, Sqrt, Sub
from .ops.matmul import MatMul
from .ops.shape import normalize_dim


def promote(*operands: Any, floating: bool = False) -> tuple[list[Any], str]:
    """The operands of an elementwise op, ready for it: lists and arrays become Tensors on the
    first Tensor's backend; Tensors are cast (differentiably) to the promoted dtype; scalars
    become Python numbers of its category. ``floating`` asks for a floating-point result
    (true division, exp...), the default float where promotion gives an integer."""
    first = next(x for x in operands if isinstance(x, TensorBase))
    tensor_type = type(first)
    converted = [x if isinstance(x, TensorBase) or dtypes.is_scalar(x)
                 else tensor_type(x, backend=first.backend) for x in operands]
    name = dtypes.result_type(*converted)
    if floating and not dtypes.is_floating(name):
        name = dtypes.DEFAULT_FLOAT
    return [(x if x.dtype_name == name else x.astype(name)) if isinstance(x, TensorBase)
            else dtypes.scalar_as(x, name) for x in converted], name


def keeps_dtype(x: Any, other: Any, floating: bool = False) -> bool:
    """Whether ``x op other`` is sure to have ``x``'s dtype without promotion: a float tensor
    with a Python number or a same-backend tensor of its dtype; an integer tensor with a Python
    int (unless the op wants floats). The common cases skip ``promote`` (it costs microseconds
    per op)."""
    kind = native_category(x.data.dtype)
    other_type = type(other)
    if kind == 2:
        return (other_type is float or other_type is int
                or (isinstance(other, TensorBase) and other._backend is x._backend
                    and other.data.dtype == x.data.dtype))
    return kind == 1 and other_type is int and not floating


def _binary(op: type[Op], doc: str, reflected: bool = False,
            floating: bool = False) -> Callable[..., Any]:
    """An operator method applying ``op`` to (self, other), or (other, self) if reflected."""
    def method(self: Any, other: Any) -> Any:
        if isinstance(other, TensorBase):  # keeps_dtype's test for two tensors, inlined
            dtype = self.data.dtype
            if (other._backend is self._backend and other.data.dtype == dtype
                    and native_category(dtype) == 2):
                return op.apply_pair(other, self) if reflected else op.apply_pair(self, other)
        elif keeps_dtype(self, other, floating):
            return op.apply(other, self) if reflected else op.apply(self, other)
        (a, b), name = promote(other, self, floating=floating) if reflected else promote(
            self, other, floating=floating)
        if name == "bool" and op in _BOOL_FORMS:  # PyTorch: + is or, * is and (no gradient)
            return bool_form(_BOOL_FORMS[op], a, b)
        return op.apply(a, b)
    method.__doc__ = doc
    return method


_BOOL_FORMS = {Add: "logical_or", Mul: "logical_and"}


def bool_form(function: str, a: Any, b: Any) -> Any:
    """``xp.<function>(a, b)`` (a logical or bitwise function) of a Tensor and a Tensor or
    number of one dtype, as a Tensor off the graph (bools and integers have no gradient)."""
    tensor = a if isinstance(a, TensorBase) else b
    xp = tensor._backend.xp
    arrays = [x.data if isinstance(x, TensorBase) else xp.asarray(x, dtype=tensor.data.dtype)
              for x in (a, b)]
    return type(tensor)._wrap(getattr(xp, function)(*arrays), tensor._backend, False, None)


def as_floating(x: Any) -> Any:
    """``x`` if it is floating point, else ``x`` cast to the default float (float32): what
    PyTorch's floating functions (exp, softmax, logsumexp...) do to integer and bool input."""
    return x if native_category(x.data.dtype) == 2 else x.astype(dtypes.DEFAULT_FLOAT)


def _floating_unary(op: type[Op], doc: str) -> Callable[[Any], Any]:
    """A method for a floating-point function: integer and bool tensors are cast to the default
    float first, as PyTorch does (``Tensor([2]).exp()`` is float32)."""
    def method(self: Any) -> Any:
        return op.apply_one(as_floating(self))
    method.__doc__ = doc
    return method


_ORDERINGS = (operator.lt, operator.le, operator.gt, operator.ge)


def _comparison(fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def method(self: Any, other: Any) -> Any:
        a, b = (self, other) if keeps_dtype(self, other) else promote(self, other)[0]
        if isinstance(b, TensorBase):
            if b._backend is not a._backend:
                raise TypeError(f"comparison: cannot mix backends {a.backend!r} and "
                                f"{b.backend!r}; move one with .to()")
            b = b.data
        data = a.data
        if fn in _ORDERINGS and native_category(data.dtype) == 0:  # False < True, as ints
            xp = a._backend.xp
            data = xp.astype(data, xp.int8)
            b = xp.astype(b, xp.int8) if a._backend.is_array(b) else int(b)
        return type(self)._wrap(fn(data, b), a._backend, False, None)
    method.__doc__ = f"Elementwise {fn.__name__} as a bool tensor (no gradient)."
    return method


def _bitwise(function: str, reflected: bool = False) -> Callable[..., Any]:
    """``&``, ``|``, ``^`` on bool and integer tensors (no gradient), promoted as PyTorch."""
    def method(self: Any, other: Any) -> Any:
        (a, b), name = promote(other, self) if reflected else promote(self, other)
        if dtypes.is_floating(name):
            raise TypeError(f"{function}: needs bool or integer tensors, got dtype {name}")
        return bool_form(function, a, b)
    method.__doc__ = f"Elementwise {function} of bool or integer tensors (no gradient)."
    return method


def _subtract(a: Any, b: Any) -> Any:
    if isinstance(a, TensorBase) and keeps_dtype(a, b):
        return Sub.apply(a, b)
    if isinstance(b, TensorBase) and keeps_dtype(b, a):
        return Sub.apply(a, b)
    if any((x.dtype_name if isinstance(x, TensorBase) else dtypes.result_type(x)) == "bool"
           for x in (a, b) if isinstance(x, TensorBase) or dtypes.is_scalar(x)):
        raise TypeError("sub: subtraction with a bool tensor is not supported; use ^ "
                        "(logical xor) or cast with .int() first")
    (a, b), _ = promote(a, b)
    return Sub.apply(a, b)


def _floor_divide(a: Any, b: Any) -> Any:
    (a, b), _ = promote(a, b)
    tensor = a if isinstance(a, TensorBase) else b
    xp = tensor._backend.xp
    arrays = [x.data if isinstance(x, TensorBase) else x for x in (a, b)]
    return type(tensor)._wrap(xp.floor_divide(*arrays), tensor._backend, False, None)


def dim_arg(dim: Any, axis: Any, default: Any, where: str) -> Any:
    """PyTorch's ``dim=`` or NumPy's ``axis=`` (not both); ``default`` when neither is given."""
    if dim is not None and axis is not None:
        raise TypeError(f"{where}: give dim or axis, not both (got dim={dim!r}, axis={axis!r})")
    return default if dim is None and axis is None else (axis if dim is None else dim)


class MathMethods:
    """Operators, elementwise math and activations (mixed into ``Tensor``)."""

    __slots__ = ()

    __add__, __radd__ = _binary(Add, "self + other"), _binary(Add, "other + self", True)
    def __sub__(self, other: Any) -> Any:
        """self - other (bool tensors refused, as in PyTorch: use ^ or logical_xor)."""
        return _subtract(self, other)

    def __rsub__(self, other: Any) -> Any:
        """other - self."""
        return _subtract(other, self)

    __mul__, __rmul__ = _binary(Mul, "self * other"), _binary(Mul, "other * self", True)
    __truediv__ = _binary(Div, "self / other (true division: integers give float32)",
                          floating=True)
    __rtruediv__ = _binary(Div, "other / self", True, floating=True)
    __matmul__ = _binary(MatMul, "self @ other (NumPy's matmul rules)")
    __rmatmul__ = _binary(MatMul, "other @ self", True)

    def __neg__(self) -> Any:
        if self.dtype_name == "bool":
            raise TypeError("neg: negating a bool tensor is not supported; use ~t or "
                            "logical_not")
        return Neg.apply_one(self)

    def __pow__(self, exponent: Any) -> Any:
        """``self ** exponent``: a number or a Tensor (broadcasting)."""
        if dtypes.is_scalar(exponent):
            if keeps_dtype(self, exponent):  # the common case: no promotion to do
                base, power = self, exponent
            else:
                (base, power), name = promote(self, exponent)
                if name == "bool":  # x ** True is x, x ** False is all True (no gradient)
                    return base.clone() if power else base == base
            if power < 0 and native_category(base.data.dtype) == 1:
                raise ValueError(f"pow: integers to negative integer powers are not allowed "
                                 f"(dtype {base.dtype_name}, exponent {exponent!r})")
            return Pow.apply(base, exponent=power)
        (base, power), name = promote(self, exponent)
        if name == "bool":
            raise TypeError("pow: a bool tensor to a bool tensor power is not supported")
        return PowTensor.apply(base, power)

    def __rpow__(self, base: Any) -> Any:
        """``base ** self`` for a number ``base``."""
        (b, power), name = promote(base, self)
        if name == "bool":
            raise TypeError("pow: a bool to a bool tensor power is not supported")
        return PowTensor.apply(b, power)

    __and__, __rand__ = _bitwise("bitwise_and"), _bitwise("bitwise_and", True)
    __or__, __ror__ = _bitwise("bitwise_or"), _bitwise("bitwise_or", True)
    __xor__, __rxor__ = _bitwise("bitwise_xor"), _bitwise("bitwise_xor", True)

    def __invert__(self) -> Any:
        """``~t``: logical not of a bool tensor, bitwise not of an integer one."""
        if dtypes.is_floating(self.dtype_name):
            raise TypeError(f"invert: needs a bool or integer tensor, got dtype "
                            f"{self.dtype_name}")
        return type(self)._wrap(self._backend.xp.bitwise_invert(self.data), self._backend,
                                False, None)

    def logical_not(self) -> Any:
        """Elementwise not, as a bool tensor (no gradient)."""
        return type(self)._wrap(self._backend.xp.logical_not(self.data != 0)
                                if self.dtype_name != "bool" else
                                self._backend.xp.logical_not(self.data), self._backend, False,
                                None)

    __mod__ = _binary(Remainder, "self % other (the sign of other, as Python and PyTorch)")
    __rmod__ = _binary(Remainder, "other % self", True)

    def __floordiv__(self, other: Any) -> Any:
        """``self // other``: floor of the quotient, in the promoted dtype (no gradient, as
        PyTorch's floor_divide)."""
        return _floor_divide(self, other)

    def __rfloordiv__(self, other: Any) -> Any:
        """``other // self``."""
        return _floor_divide(other, self)

    # PyTorch's method spellings of the operators
    def add(self, other: Any, *, alpha: Any = 1) -> Any:
        """``self + alpha * other``."""
        return self + (other if alpha == 1 else other * alpha)

    def sub(self, other: Any, *, alpha: Any = 1) -> Any:
        """``self - alpha * other``."""
        return self - (other if alpha == 1 else other * alpha)

    def mul(self, other: Any) -> Any:
        """``self * other``."""
        return self * other

    def div(self, other: Any) -> Any:
        """``self / other`` (true division)."""
        return self / other

    def pow(self, exponent: Any) -> Any:
        """``self ** exponent``."""
        return self ** exponent

    def matmul(self, other: Any) -> Any:
        """``self @ other``."""
        return self @ other

    def neg(self) -> Any:
        """``-self``."""
        return -self

    def remainder(self, other: Any) -> Any:
        """``self % other``."""
        return self % other

    def floor_divide(self, other: Any) -> Any:
        """``self // other``."""
        return self // other

    def square(self) -> Any:
        """``self * self``."""
        return self * self

    def reciprocal(self) -> Any:
        """``1 / self`` (integers give float32)."""
        return 1.0 / self

    def __abs__(self) -> Any:
        return self.abs()

    __lt__, __le__ = _comparison(operator.lt), _comparison(operator.le)
    __gt__, __ge__ = _comparison(operator.gt), _comparison(operator.ge)
    __eq__, __ne__ = _comparison(operator.eq), _comparison(operator.ne)  # type: ignore
    __hash__ = object.__hash__  # identity, as for PyTorch tensors

    def abs(self) -> Any:
        """Elementwise |x|; the gradient at 0 is 0."""
        return Abs.apply_one(self)

    exp = _floating_unary(Exp, "Elementwise e**x.")
    log = _floating_unary(Log, "Elementwise natural logarithm.")
    sqrt = _floating_unary(Sqrt, "Elementwise square root.")
    sigmoid = _floating_unary(Sigmoid, "Elementwise 1 / (1 + e**-x), overflow-free.")
    tanh = _floating_unary(Tanh, "Elementwise hyperbolic tangent.")

    def relu(self) -> Any:
        """Elementwise max(x, 0); the gradient at x == 0 is 0, and NaN passes through."""
        return ReLU.apply_one(self)

    def softmax(self, dim: int | None = None, *, axis: int | None = None,
                dtype: Any = None) -> Any:
        """exp(x) / sum(exp(x)) along ``dim`` (default -1), computed stably; ``dtype`` casts
        first (integers become float32)."""
        x, axis = _normalising(self, dim, axis, dtype, "softmax")
        return Softmax.apply(x, axis=axis)

    def log_softmax(self, dim: int | None = None, *, axis: int | None = None,
                    dtype: Any = None) -> Any:
        """x - logsumexp(x) along ``dim`` (default -1), computed stably; ``dtype`` as softmax."""
        x, axis = _normalising(self, dim, axis, dtype, "log_softmax")
        return LogSoftmax.apply(x, axis=axis)

    def clamp(self, min: Any = None, max: Any = None) -> Any:
        """min(max(x, min), max) elementwise, PyTorch's ``clamp``: bounds are both numbers or
        both Tensors (broadcasting), either may be None (not both); min > max gives max; the
        result dtype is the promotion of x and the bounds. The gradient passes to x where
        min <= x <= max (bounds included), to a Tensor bound where it is the result."""
        if min is None and max is None:
            raise TypeError("clamp: at least one of min and max must not be None")
        if (min is not None and max is not None
                and isinstance(min, TensorBase) != isinstance(max, TensorBase)):
            raise TypeError(f"clamp: min and max must both be numbers or both Tensors (as in "
                            f"PyTorch), got {type(min).__name__} and {type(max).__name__}")
        bounds = [b for b in (min, max) if b is not None]
        (x, *promoted), _ = promote(self, *bounds)
        low = promoted.pop(0) if min is not None else None
        high = promoted.pop(0) if max is not None else None
        if isinstance(low, TensorBase) or isinstance(high, TensorBase):
            return ClampTensor.apply(x, low, high)
        return Clamp.apply(x, min=low, max=high)

    clip = clamp

    def clamp_min(self, min: Any) -> Any:
        """``clamp(min=min)``."""
        return self.clamp(min=min)

    def clamp_max(self, max: Any) -> Any:
        """``clamp(max=max)``."""
        return self.clamp(max=max)


def _normalising(x: Any, dim: Any, axis: Any, dtype: Any, where: str) -> tuple[Any, int]:
    """softmax's input, cast to ``dtype`` or to float32 from an integer dtype, and its axis."""
    x = x.astype(dtype) if dtype is not None else as_floating(x)
    return x, normalize_dim(dim_arg(dim, axis, -1, where), x.ndim, where)
