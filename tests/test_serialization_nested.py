"""td.save / td.load of nested structures (an optimizer's and a scheduler's state dicts beside a
model's): every supported type comes back as it was saved, flat state dicts keep their exact
files, a malformed structure member is a clear load error, and a resumed training run
continues exactly like an uninterrupted one."""

import hashlib
import io
import json
import math
import struct
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_serialization import disk_full_at_member

import tinygrad_drop as td
from tinygrad_drop import optim, serialization
from tinygrad_drop.nn import functional as F
from tinygrad_drop.optim import lr_scheduler

TREE_MEMBER = "__tinygrad_drop_tree__.json.npy"
DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64", "complex64", "complex128"]


def same(a, b):
    """``a`` and ``b`` equal with the same Python types all the way down, floats bit for bit
    (NaN, -0.0), arrays in dtype, shape and bits."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert list(a) == list(b)
        for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True):
            assert type(ka) is type(kb) and ka == kb
            same(va, vb)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            same(x, y)
    elif isinstance(a, float):
        assert struct.pack("<d", a) == struct.pack("<d", b)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    else:
        assert a == b


def round_trip(obj, path):
    td.save(obj, path)
    return td.load(path)


def test_every_supported_type_comes_back_as_it_was_saved(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {dtype: (rng.standard_normal((2, 3)) * 50).astype(dtype) for dtype in DTYPES}
    negative_nan = struct.unpack("<d", struct.pack("<Q", 0xFFF8_0000_0000_0001))[0]
    obj = {
        "floats": [0.0, -0.0, 1.5, -1e-310, 1e308, math.inf, -math.inf, math.nan, negative_nan,
                   0.1 + 0.2],
        "ints": [0, -1, 2**63, 2**70, -(2**70), 10**5000, True, False],
        "none": None, "text": "", "unicode ключ 🙂": "значение\x00\n\udcff",
        "a/b": {"c/d": "slash keys stay keys"}, "empty": {"dict": {}, "list": [], "tuple": ()},
        "mixed": {0: "int key", "0": "str key", -5: [], 2**80: (), "": None},
        "nested": ((1, [2.0, {3: (4,)}]),),
        "arrays": arrays, "same array twice": [arrays["float64"], arrays["float64"]],
        "scalar array": np.float32(2.5), "0-d": np.array(7, dtype=np.int16),
        "empty array": np.zeros((0, 3)), "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    }
    loaded = round_trip(obj, tmp_path / "all.npz")
    expected = dict(obj, **{"scalar array": np.array(2.5, dtype=np.float32),
                            "fortran": np.arange(6.0).reshape(2, 3)})
    same(expected, loaded)
    assert math.copysign(1.0, loaded["floats"][1]) == -1.0
    assert math.isnan(loaded["floats"][8]) and struct.pack("<d", loaded["floats"][8]) == \
        struct.pack("<Q", 0xFFF8_0000_0000_0001)
    assert loaded["arrays"]["float64"].flags.writeable


LEAVES = (st.none() | st.booleans() | st.integers() | st.integers(-2**200, 2**200)
          | st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True) | st.text()
          | st.builds(np.asarray, st.lists(st.floats(width=32), max_size=3)))
TREES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=4)
                     | st.lists(inner, max_size=4).map(tuple)
                     | st.dictionaries(st.text() | st.integers(), inner, max_size=4),
                     max_leaves=30)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(obj=TREES)
def test_random_structures_round_trip(tmp_path, obj):
    same(obj, round_trip(obj, tmp_path / "random.npz"))


@pytest.mark.parametrize("root", [[], (), {}, None, 3, -0.0, "text", [np.arange(3)],
                                  (np.float64(1.0), {1: 2}), np.arange(4.0)])
def test_any_supported_value_can_be_the_top_level(tmp_path, root):
    loaded = round_trip(root, tmp_path / "root.npz")
    if isinstance(root, tuple) and root:  # a NumPy scalar comes back as a 0-d array
        root = (np.asarray(root[0]), root[1])
    same(root, loaded)


def test_tensors_come_back_as_numpy_arrays_of_their_dtype(backend, tmp_path):
    weights = td.Tensor([[1.5, -2.0]], dtype="float64", backend=backend, requires_grad=True)
    counts = td.Tensor([1, 2, 3], dtype="int32", backend=backend)
    loaded = round_trip({"w": [weights, {"n": counts}], "epoch": 3}, tmp_path / "t.npz")
    same({"w": [np.array([[1.5, -2.0]]), {"n": np.array([1, 2, 3], dtype=np.int32)}],
          "epoch": 3}, loaded)


def test_numpy_load_still_opens_a_structure(tmp_path):
    path = tmp_path / "ckpt.npz"
    td.save({"model": {"w": np.arange(3.0)}, "epoch": 3}, path)
    with np.load(path) as archive:
        assert archive.files == ["__tinygrad_drop_tree__.json", "array0"]
        assert archive["array0"].tolist() == [0.0, 1.0, 2.0]
        document = json.loads(archive["__tinygrad_drop_tree__.json"].tobytes())
    assert document == {"format": "tinygrad_drop.tree", "version": "1", "root": {"dict": [
        ["model", {"dict": [["w", {"array": "array0"}]]}], ["epoch", {"int": "0x3"}]]}}


def test_an_optimizer_or_scheduler_given_itself_saves_its_state_dict(tmp_path):
    model = td.models.mlp(4, (3,), 2, (0.5,), backend="numpy")
    opt = optim.Adam([{"params": model[0].parameters()},
                      {"params": model[-1].parameters(), "lr": 0.5, "betas": (0.8, 0.9)}])
    schedulers = [lr_scheduler.CosineAnnealingLR(opt, T_max=4),
                  lr_scheduler.LambdaLR(opt, [lambda epoch: 0.9 ** epoch, lambda epoch: 1.0])]
    x = td.Tensor(np.ones((2, 4), dtype=np.float32))
    model(x).sum().backward()
    opt.step()
    for sched in schedulers:
        sched.step()
    same(opt.state_dict(), round_trip(opt, tmp_path / "opt.npz"))
    for sched in schedulers:
        same(sched.state_dict(), round_trip(sched, tmp_path / "sched.npz"))


# The flat file saved by the code before structures existed (commit 792ee22): the same bytes.
FLAT_SHA256 = "d196b426efb525b0ce845a22119a1b6f4424bdf3538baab9695038ab74025bef"
FLAT_MEMBERS = [("w.npy", 152), ("a/b.npy", 130), ("ключ.npy", 136), ("w.npy.npy", 128),
                ("t.npy", 144)]


def test_a_flat_state_dict_is_saved_byte_for_byte_as_before(tmp_path):
    state = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "a/b": np.array([True, False]),
             "ключ": np.int64(7), "w.npy": np.zeros((0, 2)),
             "t": td.Tensor([1.5, -2.0], dtype="float64")}
    path = tmp_path / "flat.npz"
    td.save(state, path)
    with zipfile.ZipFile(path) as archive:
        assert [(i.filename, i.file_size) for i in archive.infolist()] == FLAT_MEMBERS
    assert hashlib.sha256(path.read_bytes()).hexdigest() == FLAT_SHA256
    loaded = td.load(path)
    assert list(loaded) == list(state) and loaded["ключ"].shape == ()


def test_unsupported_values_and_keys_are_type_errors_naming_the_key_path(tmp_path):
    path = tmp_path / "ckpt.npz"
    td.save({"epoch": 1}, path)
    original = path.read_bytes()
    cases = [
        ({"optimizer": {"state": {0: {"seen": {1, 2}}}}}, TypeError,
         r"save: cannot save a value of type set at \['optimizer'\]\['state'\]\[0\]\['seen'\]: "
         r"only dicts, lists, tuples, arrays, Tensors, bool, int, float, str and None"),
        ({"a": [1, object()]}, TypeError, r"type object at \['a'\]\[1\]"),
        ({"a": b"bytes"}, TypeError, r"type bytes at \['a'\]"),
        ({"model": td.models.mlp(3, (2,), 2, (0.5,))}, TypeError,
         r"type Sequential at \['model'\]: .*; save its state_dict\(\) instead"),
        ({"a": {1.5: 2}}, TypeError, r"dict key 1.5 \(type float\) at \['a'\]: keys must be str "
                                     "or int"),
        ({"a": {True: 2}}, TypeError, r"dict key True \(type bool\)"),
        ({"a": [np.array([{"x": 1}], dtype=object)]}, TypeError,
         r"save: \['a'\]\[0\] is not a numeric array \(dtype object\)"),
    ]
    loop = [1]
    loop.append({"again": loop})
    deep = []
    for _ in range(101):
        deep = [deep]
    cases += [({"loop": loop}, ValueError, r"contains itself at \['loop'\]\[1\]\['again'\]"),
              (deep, ValueError, "nests deeper than 100 containers at " + r"\[0\]" * 100)]
    for obj, kind, message in cases:
        with pytest.raises(kind, match=message):
            td.save(obj, path)
    assert path.read_bytes() == original
    hundred = []
    for _ in range(99):
        hundred = [hundred]
    same(hundred, round_trip(hundred, tmp_path / "deep.npz"))


def test_a_failed_structured_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    td.save({"epoch": 1, "w": [np.zeros(2)]}, path)
    original = path.read_bytes()
    disk_full_at_member(monkeypatch, 3)
    with pytest.raises(OSError, match="No space left"):
        td.save({"epoch": 2, "w": [np.ones(2), np.ones(3)]}, path)
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.npz"]


def archive_with_tree(path, document, arrays=(), tree_array=None):
    """An archive whose structure member holds ``document`` (a JSON value, or raw bytes) and
    whose other members are ``arrays`` (name -> array)."""
    if tree_array is None:
        raw = document if isinstance(document, bytes) else json.dumps(document).encode()
        tree_array = np.frombuffer(raw, dtype=np.uint8)
    with zipfile.ZipFile(path, "w") as z:
        for name, array in [(TREE_MEMBER, tree_array), *dict(arrays).items()]:
            out = io.BytesIO()
            np.lib.format.write_array(out, array, allow_pickle=False)
            z.writestr(name, out.getvalue())
    return path


def doc(root):
    return {"format": "tinygrad_drop.tree", "version": "1", "root": root}


def nested_lists(depth):
    root = None
    for _ in range(depth):
        root = {"list": [root]}
    return root


ARRAY = {"array0.npy": np.arange(3.0)}


@pytest.mark.parametrize("document, arrays, message", [
    (b"{", (), "it is not valid JSON: Expecting property name"),
    (b"\xff\xfe", (), "it is not UTF-8 text"),
    (b"[" * 100_000 + b"]" * 100_000, (), "its JSON nests too deeply to read"),
    (doc(nested_lists(101)), (), "it nests deeper than 100 containers at " + r"\[0\]" * 100),
    (doc(3), (), r"it holds the bare JSON number '3' \(numbers are written as"),
    (doc({"list": [1.5]}), (), "it holds the bare JSON number '1.5'"),
    (b'{"format": "tinygrad_drop.tree", "version": "1", "root": NaN}', (),
     "it holds the bare JSON number 'NaN'"),
    ({"format": "other", "version": "1", "root": None}, (), "it is not a tinygrad_drop.tree "
                                                            "document"),
    ([None], (), "it is not a tinygrad_drop.tree document"),
    ({"format": "tinygrad_drop.tree", "version": "2", "root": None}, (),
     "it has version '2'; this td.load reads version 1"),
    (doc({"set": []}), (), "the top level is a node of unknown kind 'set'"),
    (doc({"list": [{"int": "0x1", "float": "0"}]}), (), r"\[0\] is .* not a value node"),
    (doc({"list": [["x"]]}), (), r"\[0\] is \[\"x\"\], not a value node"),
    (doc({"int": "12"}), (), "at the top level: '12' is not a hexadecimal int"),
    (doc({"int": ["0x1"]}), (),
     r"at the top level: an 'int' node holds \[\"0x1\"\], not a string"),
    (doc({"float": "3ff0"}), (),
     "at the top level: '3ff0' is not 16 hex digits of a float's bits"),
    (doc({"tuple": "ab"}), (), "at the top level: a 'tuple' node holds str, not a list"),
    (doc({"dict": [["a"]]}), (),
     r"at the top level: a dict entry is \[\"a\"\], not a \[key, value\] pair"),
    (doc({"dict": [[None, None]]}), (),
     "at the top level: the dict key null is neither a string nor an int"),
    (doc({"dict": [[{"int": "0x1"}, None], [{"int": "0x1"}, None]]}), (),
     "at the top level: the dict holds the key 1 twice"),
    (doc({"dict": [["w", {"array": "array0"}]]}), (),
     "it names the array member 'array0', which the archive lacks"),
    (doc({"list": [{"array": "array0"}, {"array": "array0"}]}), ARRAY,
     "it names the array member 'array0' twice"),
    (doc(None), ARRAY, "the archive's member 'array0.npy' is not in it"),
])
def test_a_malformed_structure_member_is_a_load_error(tmp_path, document, arrays, message):
    path = archive_with_tree(tmp_path / "bad.npz", document, arrays)
    with pytest.raises(ValueError, match=r"^load: '.*bad.npz' has a malformed structure member "
                                         r"'__tinygrad_drop_tree__.json.npy': " + message):
        td.load(path)


def test_a_structure_member_of_the_wrong_type_or_size_is_a_load_error(tmp_path, monkeypatch):
    prefix = r"^load: '.*bad.npz' has a malformed structure member '.*': "
    path = archive_with_tree(tmp_path / "bad.npz", None, tree_array=np.zeros((2, 2)))
    with pytest.raises(ValueError, match=prefix + r"it holds float64 of shape \(2, 2\), not 1-D "
                                                  "uint8 text"):
        td.load(path)
    monkeypatch.setattr(serialization, "MAX_TREE", 100)
    monkeypatch.setattr(serialization, "CHUNK", 16)  # the allowance for the .npy header
    path = archive_with_tree(tmp_path / "bad.npz", doc("x" * 200))
    with pytest.raises(ValueError, match=prefix + r"it declares 3\d\d bytes; a structure is "
                                                  "read up to 100 bytes"):
        td.load(path)
    path = archive_with_tree(tmp_path / "bad.npz", doc("x" * 10))
    monkeypatch.setattr(serialization, "CHUNK", 1 << 24)
    monkeypatch.setattr(serialization, "MAX_TREE", 50)
    with pytest.raises(ValueError, match=prefix + r"it holds \d+ bytes; a structure is read up "
                                                  "to 50 bytes"):
        td.load(path)


def test_a_hostile_huge_int_is_read_in_linear_time(tmp_path):
    """Decimal ints of over 4300 digits are refused by int(); the hexadecimal form has no such
    limit and no quadratic cost: a megabyte of digits reads at once."""
    path = archive_with_tree(tmp_path / "big.npz", doc({"int": "-0x" + "f" * 1_000_000}))
    assert td.load(path) == -(16 ** 1_000_000 - 1)


# --- resuming training ----------------------------------------------------------------------

OPTIMIZERS = {
    "sgd": lambda params: optim.SGD(params, lr=0.1, momentum=0.9),
    "adam": lambda params: optim.Adam(params, lr=0.01),
    "adamw": lambda params: optim.AdamW(params, lr=0.01, weight_decay=0.1),
    "adadelta": lambda params: optim.Adadelta(params, lr=1.0),
}


def training(backend, make_optimizer, seed):
    """A float64 MLP with dropout on, its optimizer and a StepLR, initialised from ``seed``."""
    td.manual_seed(seed)
    model = td.models.mlp(6, (8, 5), 3, (0.3, 0.5), init_std=None, backend=backend).double()
    model.train()
    opt = make_optimizer(model.parameters())
    return model, opt, lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)


def train_steps(backend, model, opt, sched, count):
    data = np.random.default_rng(7)
    for _ in range(count):
        x = td.Tensor(data.standard_normal((10, 6)), dtype="float64", backend=backend)
        y = td.Tensor(data.integers(0, 3, 10), dtype="int64", backend=backend)
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        sched.step()


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_a_resumed_run_continues_exactly_like_an_uninterrupted_one(backend, tmp_path, name):
    """3 steps, a checkpoint, 3 more steps in a fresh model, optimizer and scheduler equal 6
    uninterrupted steps bit for bit (the StepLR halves the rate across the resume). Dropout
    masks come from the backend's generator, which has no public way to save its position:
    both runs reseed it at step 3 (the checkpoint records the seed)."""
    make = OPTIMIZERS[name]
    model, opt, sched = training(backend, make, seed=0)
    train_steps(backend, model, opt, sched, 3)
    td.manual_seed(123)
    train_steps(backend, model, opt, sched, 3)
    expected = {k: v.copy() for k, v in model.state_dict().items()}

    model, opt, sched = training(backend, make, seed=0)
    train_steps(backend, model, opt, sched, 3)
    path = tmp_path / "ckpt.npz"
    td.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
             "scheduler": sched.state_dict(), "rng": {"seed": 123}, "epoch": 3}, path)
    saved_optimizer = opt.state_dict()
    del model, opt, sched

    ckpt = td.load(path)
    same(saved_optimizer, ckpt["optimizer"])  # steps stay floats, betas tuples, indices ints
    model, opt, sched = training(backend, make, seed=99)  # other initial weights
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    sched.load_state_dict(ckpt["scheduler"])
    assert sched.get_last_lr() == [group["lr"] for group in opt.param_groups]
    td.manual_seed(ckpt["rng"]["seed"])
    train_steps(backend, model, opt, sched, 3)
    resumed = model.state_dict()
    assert list(resumed) == list(expected)
    for key, value in expected.items():
        assert resumed[key].dtype == np.float64
        np.testing.assert_array_equal(resumed[key], value, err_msg=key)
        assert resumed[key].tobytes() == value.tobytes(), key

    model, opt, sched = training(backend, make, seed=0)  # without the reseed: not the same
    train_steps(backend, model, opt, sched, 6)
    assert any(not np.array_equal(model.state_dict()[k], v) for k, v in expected.items())


def test_the_numpy_generators_state_round_trips_so_masks_continue_without_a_reseed(tmp_path):
    """What a public ``td.get_rng_state()`` could return for the numpy backend: its bit
    generator's state (a dict of str keys, ints and a uint64 array) survives td.save, and the
    dropout masks drawn after restoring it equal those of the run that went on. Reaches into
    the generator's ``rng`` until such a function exists."""
    td.manual_seed(5)
    generator = td.backends.get("numpy").generator
    generator.bernoulli_mask((100,), 0.7)
    state = generator.rng.bit_generator.state
    loaded = round_trip({"rng": state}, tmp_path / "rng.npz")["rng"]
    same(state, loaded)
    expected = [generator.bernoulli_mask((50,), 0.7) for _ in range(3)]
    td.manual_seed(6)
    generator.rng.bit_generator.state = loaded
    np.testing.assert_array_equal([generator.bernoulli_mask((50,), 0.7) for _ in range(3)],
                                  expected)
