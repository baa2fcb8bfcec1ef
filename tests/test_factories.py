"""Factories with PyTorch's default dtypes: ``full``, ``eye``, ``arange``, ``*_like``, and the
``td.``-level names, against torch."""

import numpy as np
import pytest

import tinygrad_drop as td


@pytest.mark.parametrize(("make", "args", "kwargs"), [
    ("zeros", (2, 3), {}), ("ones", ((4,),), {}), ("full", ((2, 2), 1.5), {}),
    ("full", ((3,), 7), {}), ("full", ((2,), True), {}),
    ("full", ((3,), 2.0), {"dtype": "float64"}),
    ("eye", (3,), {}), ("eye", (2, 4), {}), ("arange", (5,), {}), ("arange", (1, 4), {}),
    ("arange", (0, 1, 0.25), {}), ("arange", (5, 0, -2), {}), ("arange", (0.5, 3), {}),
    ("arange", (4,), {"dtype": "float64"})])
def test_factories_match_torch(make, args, kwargs, backend):
    torch = pytest.importorskip("torch")
    ours = getattr(td, make)(*args, backend=backend, **kwargs)
    theirs = getattr(torch, make)(*args, **{k: getattr(torch, v) for k, v in kwargs.items()})
    assert ours.dtype_name == str(theirs.dtype).split(".")[-1]
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert getattr(td.Tensor, make)(*args, backend=backend, **kwargs).tolist() == ours.tolist()


def test_like_factories_copy_shape_dtype_and_backend(backend):
    t = td.tensor(np.zeros((2, 3), dtype=np.float64), backend=backend)
    for made in (td.zeros_like(t), td.ones_like(t), td.full_like(t, 3.0), td.rand_like(t),
                 td.randn_like(t)):
        assert made.shape == (2, 3) and made.dtype == td.float64 and made.backend == backend
    assert td.zeros_like(t).tolist() == [[0.0] * 3] * 2
    for like, make in ((td.rand_like, td.rand), (td.randn_like, td.randn)):
        td.manual_seed(7)
        drawn = like(t).tolist()
        td.manual_seed(7)
        assert drawn == make(2, 3, dtype=td.float64, backend=backend).tolist()
    assert td.ones_like(t).tolist() == [[1.0] * 3] * 2
    assert td.full_like(t, 3).tolist() == [[3.0] * 3] * 2
    assert td.zeros_like(t, dtype=td.int32).dtype == td.int32
    assert td.ones_like(t, requires_grad=True).requires_grad


def test_factory_errors_name_the_problem(backend):
    with pytest.raises(ValueError, match="arange: step must be nonzero"):
        td.arange(0, 3, 0, backend=backend)
    with pytest.raises(ValueError, match="full: shape must be non-negative integers"):
        td.full((2, -1), 0.0, backend=backend)
    with pytest.raises(TypeError, match="full: the fill value must be a real number"):
        td.full((2,), "a", backend=backend)
    with pytest.raises(TypeError, match="randn: needs a floating-point dtype"):
        td.randn(2, dtype=td.int64, backend=backend)
