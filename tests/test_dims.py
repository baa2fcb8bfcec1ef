"""One rule for dims everywhere (``ops.shape.normalize_dim`` and ``normalize_dims``), as
PyTorch's: any int-like (NumPy integers included) counting from the end when negative; bools
and floats refused with TypeError; out of range PyTorch's IndexError naming the range; a dim
named twice PyTorch's RuntimeError. Every method that takes a dim is checked against torch."""

import numpy as np
import pytest

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F

torch = pytest.importorskip("torch")

DATA = np.arange(24.0).reshape(2, 3, 4) % 7 - 3.0
INDEX = np.zeros((2, 3, 4), dtype=np.int64)


def _values(out):
    """The value (or the values of a (values, indices) pair, or of split's pieces)."""
    if isinstance(out, tuple) and not hasattr(out, "values"):
        return [_values(o) for o in out]
    out = out[0] if isinstance(out, tuple) else out
    return out.detach().numpy() if isinstance(out, torch.Tensor) else out.numpy()


def _method(name):
    return lambda x, d, lib: getattr(x, name)(d)


# name -> fn(x, dim, lib) where lib is td or torch; each takes one dim
ONE_DIM = {name: _method(name) for name in (
    "sum", "mean", "prod", "var", "std", "logsumexp", "max", "min", "amax", "amin", "argmax",
    "argmin", "softmax", "log_softmax", "unsqueeze", "flatten")}
ONE_DIM |= {
    "any": lambda x, d, lib: (x > 0).any(d),
    "all": lambda x, d, lib: (x > -3).all(d),
    "F.softmax": lambda x, d, lib: (F if lib is td else torch.nn.functional).softmax(x, d),
    "squeeze": lambda x, d, lib: x[:1].squeeze(d),
    "transpose": lambda x, d, lib: x.transpose(d, 0),
    "gather": lambda x, d, lib: x.gather(d, torch.tensor(INDEX) if lib is torch
                                         else td.tensor(INDEX, backend=x.backend)),
    "cat": lambda x, d, lib: lib.cat([x, x], d),
    "stack": lambda x, d, lib: lib.stack([x, x], d),
    "split": lambda x, d, lib: x.split(1, d),
    "chunk": lambda x, d, lib: x.chunk(2, d),
    "permute": lambda x, d, lib: x.permute(d, *[k for k in range(3) if k != int(d) % 3]),
}


@pytest.mark.parametrize("name", sorted(ONE_DIM))
@pytest.mark.parametrize("dim", [1, -1, np.int64(1), np.int32(-2), np.int8(0)], ids=repr)
def test_every_dim_argument_takes_int_likes_as_torch(backend, name, dim):
    fn = ONE_DIM[name]
    want = _values(fn(torch.tensor(DATA), dim, torch))
    got = _values(fn(td.tensor(DATA, backend=backend), dim, td))
    if isinstance(want, list):
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-12)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(set(ONE_DIM) - {"var", "std"}))  # var(True): unbiased
@pytest.mark.parametrize("dim", [True, 1.0, np.float64(1.0), np.bool_(True)], ids=repr)
def test_bools_and_floats_are_type_errors(backend, name, dim):
    fn = ONE_DIM[name]
    with pytest.raises(TypeError):
        fn(torch.tensor(DATA), dim, torch)
    with pytest.raises(TypeError, match="dim must be an int"):
        fn(td.tensor(DATA, backend=backend), dim, td)


@pytest.mark.parametrize("name", sorted(set(ONE_DIM) - {"permute"}))
@pytest.mark.parametrize("dim", [3, -4, np.int64(7)], ids=repr)
def test_out_of_range_is_pytorchs_index_error_naming_the_range(backend, name, dim):
    fn = ONE_DIM[name]
    # unsqueeze and stack make a new dim, so 3 is in range there: 4 is not
    dim = dim + 1 if name in ("unsqueeze", "stack") and dim > 0 else dim
    dim = dim - 1 if name in ("unsqueeze", "stack") and dim < 0 else dim
    lo, hi = (-4, 3) if name in ("unsqueeze", "stack") else (-3, 2)
    with pytest.raises(IndexError):
        fn(torch.tensor(DATA), dim, torch)
    message = rf"dimension out of range \(expected to be in range of \[{lo}, {hi}\], but got "
    with pytest.raises(IndexError, match=message + str(int(dim))):
        fn(td.tensor(DATA, backend=backend), dim, td)


@pytest.mark.parametrize("call", [
    lambda x: x.sum((np.int64(0), -1)), lambda x: x.amax([np.int32(2), 0]),
    lambda x: x.var((0, np.int64(1))), lambda x: x.permute((np.int64(2), 0, 1)),
    lambda x: x[:1].squeeze((np.int64(0), 1)), lambda x: x.any((0, np.int64(-1))),
])
def test_tuples_of_dims_take_int_likes(backend, call):
    want = call(torch.tensor(DATA)).detach().numpy()
    np.testing.assert_allclose(call(td.tensor(DATA, backend=backend)).numpy(), want)


@pytest.mark.parametrize("call", [
    lambda x: x.sum((0, 0)), lambda x: x.amax((1, -2)), lambda x: x.mean([2, -1]),
    lambda x: x.squeeze((0, -3)), lambda x: x.permute(1, 1, 0),
])
def test_a_dim_named_twice_is_a_runtime_error(backend, call):
    with pytest.raises(RuntimeError):
        call(torch.tensor(DATA))
    with pytest.raises(RuntimeError, match="appears multiple times in the list of dims"):
        call(td.tensor(DATA, backend=backend))


def test_a_zero_d_tensor_takes_dims_0_and_minus_1(backend):
    x, xt = td.tensor(2.5, backend=backend), torch.tensor(2.5)
    for d in (0, -1, np.int64(-1)):
        assert x.sum(d).item() == xt.sum(d).item()
        assert x.softmax(d).item() == xt.softmax(d).item()
        assert x.unsqueeze(d).shape == tuple(xt.unsqueeze(d).shape)
        assert x.max(d).values.item() == xt.max(d).values.item()
    with pytest.raises(IndexError, match=r"in range of \[-1, 0\], but got 1"):
        x.sum(1)
