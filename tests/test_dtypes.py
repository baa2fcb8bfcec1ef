"""PyTorch's type promotion, table-driven: every pair of {bool, int32, int64, float32, float64}
tensors (with and without dimensions) and Python/NumPy scalars, through +, -, *, / and **,
in both orders, against torch; plus the dtype names ``td.float32`` and friends."""

import operator

import numpy as np
import pytest

import tinygrad_drop as td
from tinygrad_drop import dtypes

TENSOR_DTYPES = ("bool", "int32", "int64", "float32", "float64")
SCALARS = {"python int": 3, "python float": 0.5, "python bool": True,
           "numpy float64": np.float64(0.5), "numpy float32": np.float32(0.5),
           "numpy int64": np.int64(3), "numpy int32": np.int32(3)}
OPS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
       "truediv": operator.truediv, "pow": operator.pow}


def operands():
    """(label, ours, torch's) for each tensor kind and scalar."""
    torch = pytest.importorskip("torch")
    out = []
    for name in TENSOR_DTYPES:
        for shape in ((2,), ()):
            values = np.full(shape, 2).astype(name)
            label = f"{name}{list(shape)}"
            out.append((label, lambda b, v=values: td.tensor(v, backend=b),
                        lambda v=values: torch.from_numpy(np.array(v))))
    for label, value in SCALARS.items():
        out.append((label, lambda b, v=value: v, lambda v=value: v))
    return out


def outcome(fn):
    """The result's dtype name and values, or the exception type's name."""
    try:
        result = fn()
    except Exception as exc:  # both sides refusing alike (bool - bool) is agreement too
        return type(exc).__name__, None
    name = getattr(result, "dtype_name", None) or str(result.dtype).split(".")[-1]
    return name, np.asarray(result.numpy() if hasattr(result, "numpy") else result)


@pytest.mark.parametrize("op", sorted(OPS))
def test_binary_promotion_matches_torch_for_every_pair(op, backend):
    fn = OPS[op]
    kinds = operands()
    mismatches = []
    for label_a, ours_a, torch_a in kinds:
        for label_b, ours_b, torch_b in kinds:
            if label_a in SCALARS and label_b in SCALARS:
                continue  # two scalars: plain Python, no tensor involved
            want, want_values = outcome(lambda a=torch_a, b=torch_b: fn(a(), b()))
            got, got_values = outcome(lambda a=ours_a, b=ours_b: fn(a(backend), b(backend)))
            if want in ("RuntimeError", "NotImplementedError"):  # bool - x, int ** -int
                ok = got in ("TypeError", "ValueError", "RuntimeError")
            else:
                ok = got == want and np.allclose(got_values, want_values, rtol=1e-6)
            if not ok:
                mismatches.append(f"{label_a} {op} {label_b}: torch {want}, ours {got}")
    assert not mismatches, "\n".join(mismatches)


def test_numpy_bool_scalars_promote_like_python_bools(backend):
    """A deliberate difference: torch 2.13 turns ``np.True_`` into a float scalar, so
    ``int32 tensor + np.True_`` is float32 there; here a NumPy bool is a bool, as a Python
    bool is in both libraries (int32 + True is int32)."""
    x = td.tensor(np.array([1, 2], dtype=np.int32), backend=backend)
    assert (x + np.bool_(True)).dtype_name == "int32"
    assert (x + True).dtype_name == "int32"
    assert (x + np.bool_(True)).tolist() == [2, 3]


@pytest.mark.parametrize("method", ["exp", "log", "sqrt", "sigmoid", "tanh"])
@pytest.mark.parametrize("dtype", ["int32", "int64", "bool"])
def test_floating_functions_of_integers_give_the_default_float(method, dtype, backend):
    torch = pytest.importorskip("torch")
    values = np.array([1, 2, 4]).astype(dtype)
    ours = getattr(td.tensor(values, backend=backend), method)()
    theirs = getattr(torch.from_numpy(values), method)()
    assert ours.dtype_name == "float32" == str(theirs.dtype).split(".")[-1]
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_the_examples_from_the_issue(backend):
    """Each of these gave float64 before; PyTorch keeps float32."""
    x = td.tensor([1.0, 4.0], backend=backend)
    assert (x * np.float64(2)).dtype == td.float32
    assert (x / np.sqrt(64.0)).dtype == td.float32
    assert (td.tensor([1, 2], backend=backend) * 0.5).dtype == td.float32
    assert (x + td.tensor([1, 2], backend=backend)).dtype == td.float32
    assert (x + [1, 2]).dtype == td.float32
    assert (td.tensor(1, backend=backend) + 0.5).dtype == td.float32
    i32 = td.tensor([4, 9], dtype=td.int32, backend=backend)
    assert (i32 / i32).dtype == td.float32
    assert td.tensor(2, backend=backend).exp().dtype == td.float32
    assert (i32 ** 0.5).dtype == td.float32 and (i32 ** 0.5).tolist() == [2.0, 3.0]


def test_promotion_keeps_the_gradient_flowing_through_the_cast(backend):
    x = td.tensor([1.0, 2.0], dtype=td.float32, requires_grad=True, backend=backend)
    y = td.tensor([3.0, 5.0], dtype=td.float64, requires_grad=True, backend=backend)
    (x * y).sum().backward()
    assert x.grad.dtype == td.float32 and y.grad.dtype == td.float64
    assert x.grad.tolist() == [3.0, 5.0] and y.grad.tolist() == [1.0, 2.0]


def test_comparisons_promote_before_comparing(backend):
    i = td.tensor([0, 1, 2], backend=backend)
    assert (i < 0.5).tolist() == [True, False, False]
    assert (i == td.tensor([0.0, 1.5, 2.0], backend=backend)).tolist() == [True, False, True]


def test_dtype_names_compare_with_every_backends_dtype(backend):
    t = td.zeros(2, dtype=td.float64, backend=backend)
    assert t.dtype == td.float64 and t.dtype != td.float32
    assert td.float == td.float32 and td.double == td.float64 and td.long == td.int64
    assert td.int == td.int32 and td.bool == "bool"
    assert repr(td.float32) == "td.float32" and td.float32.is_floating_point
    assert not td.int64.is_floating_point
    assert td.ones(2, dtype=td.bool, backend=backend).dtype == td.bool


@pytest.mark.parametrize(("a", "b", "want"), [
    ("uint8", "int8", "int16"), ("uint8", "int16", "int16"), ("int32", "float32", "float32"),
    ("bool", "uint8", "uint8"), ("int64", "float32", "float32"), ("float32", "float64",
                                                                   "float64")])
def test_promote_types_of_two_tensors(a, b, want):
    assert dtypes.promote_types(a, b) == want == dtypes.promote_types(b, a)
    torch = pytest.importorskip("torch")
    assert str(torch.promote_types(getattr(torch, a), getattr(torch, b))).split(".")[-1] == want


def test_logical_and_bitwise_operators_match_torch(backend):
    torch = pytest.importorskip("torch")
    m = np.array([True, False, True, False])
    n = np.array([True, True, False, False])
    i = np.array([6, 3, 0, -1], dtype=np.int32)
    ours_m, ours_n, ours_i = (td.tensor(a, backend=backend) for a in (m, n, i))
    t_m, t_n, t_i = (torch.from_numpy(a) for a in (m, n, i))
    pairs = [(ours_m & ours_n, t_m & t_n), (ours_m | ours_n, t_m | t_n),
             (ours_m ^ ours_n, t_m ^ t_n), (~ours_m, ~t_m), (ours_i & 5, t_i & 5),
             (~ours_i, ~t_i), (ours_m + ours_n, t_m + t_n), (ours_m * ours_n, t_m * t_n),
             (ours_i.logical_not(), t_i.logical_not()), (True & ours_m, True & t_m)]
    for ours, theirs in pairs:
        assert ours.dtype_name == str(theirs.dtype).split(".")[-1]
        assert ours.tolist() == theirs.tolist()
    with pytest.raises(TypeError, match="invert: needs a bool or integer tensor"):
        ~td.tensor([1.0], backend=backend)
    with pytest.raises(TypeError, match="sub: subtraction with a bool tensor"):
        ours_m - ours_n
