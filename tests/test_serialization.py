"""td.save / td.load: .npz written atomically, read without unpickling, clear errors."""

import os

import numpy as np
import pytest
from conftest import host

import tinygrad_drop as td
from tinygrad_drop import Tensor, nn
from tinygrad_drop.backends.numpy_backend import NumpyBackend


def model(backend):
    return nn.Sequential(nn.Linear(5, 4, backend=backend), nn.BatchNorm1d(4, backend=backend),
                         nn.ReLU(), nn.Linear(4, 2, backend=backend))


def test_round_trip_restores_the_model_exactly(backend, tmp_path):
    source, target = model(backend), model(backend)
    source(Tensor.randn(8, 5, backend=backend))  # running statistics move
    path = tmp_path / "model.npz"
    td.save(source.state_dict(), path)
    loaded = td.load(path)
    assert list(loaded) == list(source.state_dict())
    target.load_state_dict(loaded)
    source.eval()
    target.eval()
    x = Tensor.randn(3, 5, backend=backend)
    np.testing.assert_array_equal(host(source(x)), host(target(x)))


def test_save_accepts_tensors_and_keeps_dtypes(tmp_path):
    path = tmp_path / "state.npz"
    td.save({"w": Tensor([1.5, 2.5]), "count": np.int64(3), "file": np.ones(2)}, path)
    loaded = td.load(path)
    assert loaded["w"].dtype == np.float32 and loaded["w"].tolist() == [1.5, 2.5]
    assert loaded["count"].dtype == np.int64 and loaded["count"] == 3
    assert loaded["file"].tolist() == [1.0, 1.0]  # a key numpy.savez could not take


def test_a_failed_save_leaves_the_old_file_intact(tmp_path):
    path = tmp_path / "model.npz"
    td.save({"w": np.arange(3.0)}, path)
    original = path.read_bytes()
    with pytest.raises(TypeError, match="'bad' is not a numeric array"):
        td.save({"w": np.zeros(3), "bad": np.array([{"x": 1}], dtype=object)}, path)

    class Exploding:
        shape, dtype = (2,), np.dtype("float64")

        def __array__(self, dtype=None, copy=None):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        td.save({"w": np.zeros(3), "late": Exploding()}, path)
    assert path.read_bytes() == original
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]  # no temporary left behind


def test_a_failure_while_writing_leaves_no_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    td.save({"w": np.arange(3.0)}, path)
    original = path.read_bytes()
    real = np.lib.format.write_array
    calls = []

    def fail_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", fail_on_second)
    with pytest.raises(OSError, match="No space left"):
        td.save({"a": np.zeros(4), "b": np.zeros(4)}, path)
    assert path.read_bytes() == original and sorted(os.listdir(tmp_path)) == ["model.npz"]


def test_load_errors_say_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        td.load(tmp_path / "missing.npz")
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(ValueError, match="holds a single array, not a state dict"):
        td.load(tmp_path / "single.npy")
    (tmp_path / "garbage.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match="is not a readable .npz state dict"):
        td.load(tmp_path / "garbage.npz")
    truncated = tmp_path / "truncated.npz"
    td.save({"w": np.arange(1000.0)}, tmp_path / "full.npz")
    truncated.write_bytes((tmp_path / "full.npz").read_bytes()[:500])
    with pytest.raises(ValueError, match="truncated.npz"):
        td.load(truncated)


def test_load_never_unpickles(tmp_path):
    np.savez(tmp_path / "pickled.npz", payload=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(ValueError, match="unreadable entry.*allow_pickle=False"):
        td.load(tmp_path / "pickled.npz")


def test_saved_files_get_ordinary_permissions(tmp_path):
    mask = os.umask(0o022)
    try:
        td.save({"w": np.zeros(2)}, tmp_path / "model.npz")
        td.save_graph(Tensor([1.0], requires_grad=True) * 2, tmp_path / "graph.dot")
    finally:
        os.umask(mask)
    for name in ("model.npz", "graph.dot"):  # not mkstemp's private 0600
        assert os.stat(tmp_path / name).st_mode & 0o777 == 0o644


class BoxedArray:
    """An array type that, like CuPy's, refuses implicit conversion to NumPy."""

    def __init__(self, values):
        self.values = np.asarray(values)

    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed")


class BoxedBackend(NumpyBackend):
    name = "boxed"

    def is_array(self, obj):
        return isinstance(obj, BoxedArray)

    def to_numpy(self, array):
        return array.values.copy()


def test_save_and_the_data_loader_copy_another_backends_arrays_to_the_host(tmp_path, monkeypatch):
    from tinygrad_drop import data
    from tinygrad_drop.backends import registry

    monkeypatch.setattr(registry, "_instances", dict(registry._instances, boxed=BoxedBackend()))
    td.save({"w": BoxedArray([1.5, 2.5])}, tmp_path / "boxed.npz")
    assert td.load(tmp_path / "boxed.npz")["w"].tolist() == [1.5, 2.5]
    loader = data.DataLoader(BoxedArray(np.arange(6.0).reshape(3, 2)), BoxedArray([0, 1, 2]),
                             batch_size=3, shuffle=False, backend="numpy")
    (x, y), = list(loader)
    assert x.numpy().tolist() == [[0, 1], [2, 3], [4, 5]] and y.numpy().tolist() == [0, 1, 2]
