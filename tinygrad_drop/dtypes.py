"""Dtype names (``td.float32`` ...) and PyTorch's type promotion, decided here and nowhere else.

PyTorch promotes in three tiers of priority: tensors with dimensions, then 0-d tensors, then
scalars (Python numbers, and NumPy scalars, which we treat alike). Within a tier dtypes promote
by category (bool < integer < floating) and then width. A lower tier changes the result only
when its category is higher, and then a scalar brings the *default* dtype of its category
(float32, int64), not its own width: so ``float32 * 2.0`` and ``float32 * np.float64(2)`` stay
float32, ``int32 * 0.5`` is float32, and ``int32 + int64 0-d tensor`` stays int32.
"""

from __future__ import annotations

import builtins
import numbers
from typing import Any

from .backends import dtype_name

DEFAULT_FLOAT = "float32"
DEFAULT_INT = "int64"

_CATEGORY = {"bool": 0, "uint8": 1, "int8": 1, "int16": 1, "int32": 1, "int64": 1,
             "uint16": 1, "uint32": 1, "uint64": 1, "float32": 2, "float64": 2}
_BITS = {"bool": 1, "uint8": 8, "int8": 8, "int16": 16, "int32": 32, "int64": 64,
         "uint16": 16, "uint32": 32, "uint64": 64, "float32": 32, "float64": 64}


class DType(str):
    """A dtype name that compares equal to the same dtype in any backend's spelling
    (``t.dtype == td.float32`` holds for NumPy, CuPy and array-api-strict tensors)."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return str.__eq__(self, other)
        try:
            return str.__eq__(self, dtype_name(other))
        except Exception:  # not a dtype at all
            return False

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = str.__hash__

    def __repr__(self) -> str:
        return f"td.{str(self)}"

    @property
    def is_floating_point(self) -> bool:
        """Whether this is a floating-point dtype (as ``torch.dtype.is_floating_point``)."""
        return _CATEGORY.get(str(self)) == 2


bool_ = DType("bool")
int8, int16, int32, int64 = DType("int8"), DType("int16"), DType("int32"), DType("int64")
uint8 = DType("uint8")
float32, float64 = DType("float32"), DType("float64")
float, double, long, int = float32, float64, int64, int32  # noqa: A001 (PyTorch's aliases)


_BY_NAME = {str(d): d for d in (bool_, int8, int16, int32, int64, uint8, float32, float64)}


def of(name: str) -> DType:
    """The one ``DType`` object for a dtype name (so ``t.dtype is td.float32`` holds)."""
    found = _BY_NAME.get(name)
    if found is None:
        found = _BY_NAME[name] = DType(name)
    return found


_NATIVE_NAMES: dict[tuple[type, Any], str] = {}


def native_name(dtype: Any) -> str:
    """The canonical name of a backend's native dtype, remembered per library and dtype (it is
    asked on every op; NumPy's ``dtype.name`` alone costs microseconds)."""
    key = (type(dtype), dtype)  # never compares one library's dtype with another's
    name = _NATIVE_NAMES.get(key)
    if name is None:
        name = _NATIVE_NAMES[key] = dtype_name(dtype)
    return name


_NATIVE_CATEGORIES: dict[tuple[type, Any], int] = {}


def native_category(dtype: Any) -> int:
    """``category`` of a backend's native dtype, remembered (it is asked on every op)."""
    key = (type(dtype), dtype)  # never compares one library's dtype with another's
    kind = _NATIVE_CATEGORIES.get(key)
    if kind is None:
        kind = _NATIVE_CATEGORIES[key] = _CATEGORY[native_name(dtype)]
    return kind


def name_of(dtype: Any) -> str:
    """Canonical name of a dtype given as a name, ``td.float32``, a NumPy or backend dtype,
    or a Python type (``float`` -> float64, ``int`` -> int64, ``bool`` -> bool, as PyTorch
    reads them)."""
    return dtype_name(dtype)


def category(name: str) -> int:
    """0 for bool, 1 for integers, 2 for floating point."""
    return _CATEGORY[name]


def is_floating(name: str) -> bool:
    """Whether the dtype named ``name`` is floating point."""
    return _CATEGORY.get(name) == 2


def promote_types(a: str, b: str) -> str:
    """The dtype of ``a op b`` for two tensors of the same tier (category, then width; a mix of
    signed and unsigned integers widens as PyTorch does for uint8 and int8 -> int16)."""
    if a == b:
        return a
    ca, cb = _CATEGORY[a], _CATEGORY[b]
    if ca != cb:
        return a if ca > cb else b
    if ca == 1 and (a.startswith("u") != b.startswith("u")):
        signed, unsigned = (b, a) if a.startswith("u") else (a, b)
        width = max(_BITS[signed], 2 * _BITS[unsigned])
        return {8: "int8", 16: "int16", 32: "int32"}.get(width, "int64")
    return a if _BITS[a] >= _BITS[b] else b


def _scalar_dtype(value: Any) -> str:
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "bool"
    if isinstance(value, numbers.Integral):
        return DEFAULT_INT
    return DEFAULT_FLOAT


def is_scalar(value: Any) -> bool:
    """Python numbers and NumPy scalars: they take part in promotion only by category."""
    return isinstance(value, numbers.Number) or type(value).__name__ == "bool_"


def _combine(higher: str | None, lower: str | None) -> str | None:
    """PyTorch's combine_categories: a lower tier counts only when its category is higher."""
    if higher is None:
        return lower
    if lower is None or _CATEGORY[higher] >= _CATEGORY[lower]:
        return higher
    return promote_types(higher, lower)


def result_type(*operands: Any) -> str:
    """The dtype name PyTorch gives an elementwise op on ``operands``: tensors (anything with
    ``dtype_name`` and ``ndim``) and scalars."""
    tiers: list[str | None] = [None, None, None]  # dimensioned tensors, 0-d tensors, scalars
    for x in operands:
        if is_scalar(x):
            tier, name = 2, _scalar_dtype(x)
        else:
            tier, name = (0 if x.ndim else 1), x.dtype_name
        tiers[tier] = name if tiers[tier] is None else promote_types(tiers[tier], name)
    result = _combine(tiers[0], _combine(tiers[1], tiers[2]))
    if result is None:
        raise TypeError("result_type: no operands")
    return result


def scalar_as(value: Any, name: str) -> builtins.float | builtins.int | builtins.bool:
    """A scalar as the plain Python number of ``name``'s category, so it never widens an array
    of that dtype (NumPy and the Array API treat Python numbers as weakly typed)."""
    kind = _CATEGORY[name]
    if kind == 2:
        return builtins.float(value)
    if kind == 1:
        return builtins.int(value)
    return builtins.bool(value)

