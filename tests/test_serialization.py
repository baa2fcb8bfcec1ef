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


def test_save_syncs_the_file_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    """A rename of a file whose data is still in the page cache can leave an empty file after
    a crash: the data must reach the disk first."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.fstat(fd).st_ino))
        return real_fsync(fd)

    def replace(source, target):
        events.append(("replace", os.stat(source).st_ino))
        return real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    td.save({"w": np.arange(3.0)}, tmp_path / "model.npz")
    written = os.stat(tmp_path / "model.npz").st_ino
    assert events == [("fsync", written), ("replace", written),
                      ("fsync", os.stat(tmp_path).st_ino)]
    assert td.load(tmp_path / "model.npz")["w"].tolist() == [0.0, 1.0, 2.0]


def disk_full_at_member(monkeypatch, number):
    """Make writing the ``number``-th archive member (from 1) fail as a full disk does."""
    real, calls = np.lib.format.write_array, []

    def write_array(*args, **kwargs):
        calls.append(1)
        if len(calls) == number:
            raise OSError("No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", write_array)


def test_a_failure_while_writing_leaves_no_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    td.save({"w": np.arange(3.0)}, path)
    original = path.read_bytes()
    disk_full_at_member(monkeypatch, 2)
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


def test_keys_round_trip_exactly_whatever_they_are(tmp_path):
    """Bug 5: NumPy's archive lookup turned "w.npy" into "w", returning the wrong array."""
    keys = ["w", "w.npy", "w.npy.npy", ".npy", "", "a/b/c", "/lead", "x/", "..", "arr_0",
            "ünïcödé ключ 重み 🙂", "tab\tand\nnewline", "back\\slash", "w.NPY", "w.npz"]
    state = {key: np.full((i + 1,), float(i)) for i, key in enumerate(keys)}
    path = tmp_path / "keys.npz"
    td.save(state, path)
    loaded = td.load(path)
    assert list(loaded) == keys
    for i, key in enumerate(keys):
        assert loaded[key].tolist() == [float(i)] * (i + 1), key
    assert np.load(path)["a/b/c"].tolist() == [5.0] * 6  # still an ordinary .npz for NumPy


def test_numpy_savez_files_load_with_numpys_keys_and_array_layouts(tmp_path):
    fortran = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    arrays = dict(fortran=fortran, big_endian=np.arange(3, dtype=">i4"), scalar=np.float32(2.5),
                  empty=np.zeros((0, 4)), flags=np.array([True, False]))
    np.savez(tmp_path / "numpy.npz", **arrays)
    np.savez_compressed(tmp_path / "compressed.npz", **arrays)
    for name in ("numpy.npz", "compressed.npz"):
        loaded = td.load(tmp_path / name)
        assert list(loaded) == list(arrays)
        for key, value in arrays.items():
            assert loaded[key].dtype == np.asarray(value).dtype
            np.testing.assert_array_equal(loaded[key], value)
        loaded["fortran"][0, 0] = 7.0  # writable, as numpy.load's arrays are


def test_keys_a_zip_member_cannot_be_named_by_go_in_the_structure_and_come_back(tmp_path):
    """Keys that no member name can hold (NUL, a lone surrogate, an int) were refused; such a
    dict is now saved as a structure, which numpy.load still opens."""
    state = {"ok": np.zeros(2), "a\x00b": np.ones(2), "\udcff": np.full(2, 2.0), 3: np.arange(2.0)}
    path = tmp_path / "model.npz"
    td.save(state, path)
    loaded = td.load(path)
    assert list(loaded) == list(state)
    for key, value in state.items():
        assert loaded[key].tolist() == value.tolist(), key
    assert len(np.load(path).files) == 5  # four arrays and the structure


def npz_with_header(path, header, data, name="w.npy"):
    """An archive whose one member has the given .npy header and raw data bytes."""
    import io
    import zipfile

    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(member, header)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(name, member.getvalue() + data)


def test_a_header_declaring_a_huge_shape_is_a_load_error_not_a_memory_error(tmp_path):
    """Bug 8: numpy allocated the declared shape first and raised a raw MemoryError."""
    path = tmp_path / "huge.npz"
    npz_with_header(path, {"descr": "<f8", "fortran_order": False, "shape": (10**12, 10**6)},
                    b"\0" * 64)
    with pytest.raises(ValueError, match=r"load: '.*huge.npz' has an unreadable entry 'w': its "
                                         r"header declares shape \(1000000000000, 1000000\) of "
                                         r"float64 \(8000000000000000000 bytes\) but the member "
                                         r"holds 64 bytes"):
        td.load(path)
    npz_with_header(path, {"descr": "<f8", "fortran_order": False, "shape": (10,)}, b"\0" * 88)
    with pytest.raises(ValueError, match=r"shape \(10,\) of float64 \(80 bytes\) but the member "
                                         r"holds 88 bytes"):
        td.load(path)
    npz_with_header(path, {"descr": "<f8", "fortran_order": False, "shape": (2,)}, b"\0" * 16,
                    name="notes.txt")
    with pytest.raises(ValueError, match="member 'notes.txt' is not a .npy array"):
        td.load(path)


def test_a_pytorch_checkpoint_is_refused_with_how_to_convert_it(tmp_path, rng):
    """Bug 8: td.load returned {'…/data.pkl': b'…'} for a file written by torch.save."""
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.BatchNorm1d(4),
                                 torch.nn.ReLU(), torch.nn.Linear(4, 2))
    path = tmp_path / "model.pt"
    torch.save(theirs.state_dict(), path)
    with pytest.raises(ValueError, match=r"load: '.*model.pt' was written by torch.save \(a zip "
                                         r"holding the pickle 'model/data.pkl'\), which td.load "
                                         r"never unpickles; convert it once in PyTorch: "
                                         r"sd = torch.load\(path, weights_only=True\); "
                                         r"td.save\(\{k: v.numpy\(\) for k, v in sd.items\(\)\}"):
        td.load(path)
    sd = torch.load(path, weights_only=True)  # the advice, followed
    td.save({k: v.numpy() for k, v in sd.items()}, tmp_path / "model.npz")
    ours = model("numpy")
    ours.load_state_dict(td.load(tmp_path / "model.npz"))
    ours.eval()
    theirs.eval()
    x = rng.standard_normal((3, 5)).astype(np.float32)
    np.testing.assert_allclose(host(ours(Tensor(x, backend="numpy"))),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-6, atol=1e-6)
    torch.save(theirs.state_dict(), tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(ValueError, match="is a Python pickle .*which td.load never unpickles"):
        td.load(tmp_path / "legacy.pt")


def test_saving_a_module_saves_its_state_dict(backend, tmp_path):
    source = model(backend)
    source(Tensor.randn(8, 5, backend=backend))
    td.save(source, tmp_path / "module.npz")  # was: 'Sequential' object has no attribute 'items'
    loaded = td.load(tmp_path / "module.npz")
    assert list(loaded) == list(source.state_dict())
    for name, value in source.state_dict().items():
        np.testing.assert_array_equal(loaded[name], value)
    with pytest.raises(TypeError, match=r"save: cannot save a value of type set at the top "
                                        r"level: only dicts, lists, tuples, arrays"):
        td.save({1, 2}, tmp_path / "set.npz")
    assert not (tmp_path / "set.npz").exists()


def test_pytorch_modules_and_tensors_save_directly(tmp_path):
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    td.save(theirs, tmp_path / "torch_module.npz")
    td.save(dict(theirs.named_parameters()), tmp_path / "params.npz")  # require grad
    loaded = td.load(tmp_path / "torch_module.npz")
    assert list(loaded) == list(theirs.state_dict())
    for name, value in theirs.state_dict().items():
        np.testing.assert_array_equal(loaded[name], value.numpy())
    assert td.load(tmp_path / "params.npz")["0.weight"].tolist() == theirs[0].weight.tolist()
