"""Exchange with Python, NumPy and PyTorch: ``__array__``, DLPack both ways without copies,
``float/int/bool/format`` on one-element tensors, and construction from foreign arrays."""

import math

import numpy as np
import pytest

import tinygrad_drop as td


def test_numpy_asarray_gives_numbers_not_objects(backend):
    t = td.tensor([[1.0, 2.0], [3.0, 4.0]], backend=backend)
    host = np.asarray(t)
    assert host.dtype == np.float32 and host.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert np.array(t, dtype=np.float64).dtype == np.float64
    assert np.asarray(td.tensor([1, 2], backend=backend)).dtype == np.int64


def test_one_element_tensors_convert_to_python_numbers(backend):
    loss = td.tensor([2.71828], backend=backend)
    assert f"{loss:.3f}" == "2.718" and float(loss) == pytest.approx(2.71828, rel=1e-6)
    assert int(td.tensor(7.9, backend=backend)) == 7
    assert bool(td.tensor(0.0, backend=backend)) is False
    assert [10, 20, 30][td.tensor(1, backend=backend)] == 20  # __index__ on integer tensors
    with pytest.raises(TypeError, match="only integer tensors"):
        [1, 2][td.tensor(1.0, backend=backend)]
    two = td.tensor([1.0, 2.0], backend=backend)
    for convert in (float, int, bool):
        with pytest.raises(ValueError, match="only a tensor with one element"):
            convert(two)
    with pytest.raises(TypeError, match="only one-element tensors take a number format"):
        f"{two:.3f}"
    assert f"{two}" == str(two)


def test_len_and_iteration_walk_the_first_dimension(backend):
    x = td.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], requires_grad=True, backend=backend)
    rows = list(x)
    assert len(x) == 3 and [r.tolist() for r in rows] == [[1, 2], [3, 4], [5, 6]]
    (rows[0].sum() + 2 * rows[2].sum()).backward()  # iteration is differentiable
    assert x.grad.tolist() == [[1, 1], [0, 0], [2, 2]]


def test_torch_reads_our_tensors_without_a_copy():
    torch = pytest.importorskip("torch")
    t = td.tensor([1.0, 2.0, 3.0], backend="numpy")
    shared = torch.from_dlpack(t)
    shared[0] = 100.0  # the same memory: the write shows through
    assert t.tolist() == [100.0, 2.0, 3.0]
    assert torch.tensor(t).tolist() == [100.0, 2.0, 3.0]  # torch.tensor(t) works (a copy)
    assert torch.asarray(t).dtype == torch.float32


def test_from_dlpack_shares_a_torch_tensors_memory():
    torch = pytest.importorskip("torch")
    a = torch.arange(4, dtype=torch.float64)
    x = td.from_dlpack(a, backend="numpy")
    a[0] = -5.0
    assert x.tolist() == [-5.0, 1.0, 2.0, 3.0] and x.dtype == td.float64
    back = torch.from_dlpack(x)  # and the round trip is still the same memory
    back[3] = 42.0
    assert a.tolist() == [-5.0, 1.0, 2.0, 42.0]


def test_from_dlpack_round_trips_numpy(backend):
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    if backend == "cupy":  # GPU memory cannot alias a host array: the error says what to do
        with pytest.raises(TypeError, match=r"from_dlpack: backend 'cupy' cannot share the "
                                            r"memory of a ndarray on DLPack device \(1, 0\).*"
                                            r"td.tensor\(obj, backend='cupy'\)"):
            td.from_dlpack(a, backend=backend)
        assert td.tensor(a, backend=backend).tolist() == a.tolist()
        return
    x = td.from_dlpack(a, backend=backend)
    assert x.dtype == td.int32 and x.shape == (2, 3) and x.tolist() == a.tolist()
    with pytest.raises(TypeError, match="from_dlpack: list has no __dlpack__"):
        td.from_dlpack([1, 2])


def test_the_constructor_copies_foreign_arrays():
    torch = pytest.importorskip("torch")
    a = torch.tensor([1.5, 2.5], requires_grad=True)  # needs detaching: done for the user
    t = td.Tensor(a)
    with torch.no_grad():
        a[0] = 9.0
    assert t.tolist() == [1.5, 2.5] and t.dtype == td.float32
    assert td.tensor(torch.tensor([1, 2])).dtype == td.int64


def test_size_numel_dim_and_casts(backend):
    t = td.zeros(2, 3, 4, backend=backend)
    assert t.size() == (2, 3, 4) and t.size(1) == 3 and t.size(-1) == 4
    assert t.numel() == 24 and t.dim() == 3 and t.ndim == 3
    with pytest.raises(IndexError, match="size: dim 3 is out of range"):
        t.size(3)
    assert t.double().dtype == td.float64 and t.long().dtype == td.int64
    assert t.int().dtype == td.int32 and t.bool().dtype == td.bool
    assert t.double().float().dtype == td.float32
    assert t.to(td.float64).dtype == td.float64 and t.to(dtype="float64").dtype == td.float64
    assert td.tensor(3.0, backend=backend).size() == () and td.tensor(3.0).numel() == 1


def test_clone_has_its_own_memory_and_passes_the_gradient(backend):
    x = td.tensor([1.0, 2.0], requires_grad=True, backend=backend)
    y = x.clone()
    y.data[0] = 50.0
    assert x.tolist() == [1.0, 2.0] and y.tolist() == [50.0, 2.0]
    (x.clone() * 3.0).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_td_tensor_is_the_constructor_not_a_module():
    t = td.tensor([1, 2], dtype=td.float64, requires_grad=True)
    assert callable(td.tensor) and t.dtype == td.float64 and t.requires_grad
    assert td.tensor([1.0]).dtype == td.float32 and td.tensor(2).dtype == td.int64
    assert math.isclose(td.tensor([0.1]).item(), 0.1, rel_tol=1e-7)


def test_big_endian_arrays_become_native_tensors(backend):
    """A big-endian array (from a file written on another machine) is converted once: the
    tensor holds native-order data on every backend."""
    big = np.arange(3, dtype=">f4")
    t = td.Tensor(big, backend=backend)
    assert t.dtype == td.float32 and t.tolist() == [0.0, 1.0, 2.0]
    assert np.asarray(t).dtype.isnative and (t * 2.0).tolist() == [0.0, 2.0, 4.0]
