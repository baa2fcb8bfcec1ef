"""Module state as PyTorch keeps it: assigning over parameters, buffers and children,
non-persistent buffers, load_state_dict's one error listing every problem, byte order of
loaded arrays, train()'s bool, zero_grad(set_to_none=False) in place."""

import numpy as np
import pytest
from conftest import host

import tinygrad_drop as td
from tinygrad_drop import Tensor, nn, optim
from tinygrad_drop.nn.modules import StateDictError

torch = pytest.importorskip("torch")


def test_a_tensor_assigned_over_a_parameter_stays_a_parameter(backend):
    """Bug: lin.weight = Tensor(...) made weight a plain attribute, lost from state_dict. We
    have no Parameter class, so the Tensor becomes the parameter (requiring grad as it does);
    PyTorch would insist on an nn.Parameter."""
    lin = nn.Linear(2, 2, backend=backend)
    lin.weight = Tensor(np.full((2, 2), 3.0, np.float32), backend=backend)
    assert [name for name, _ in lin.named_parameters()] == ["weight", "bias"]
    assert not lin.weight.requires_grad and list(lin.state_dict()) == ["weight", "bias"]
    assert lin.state_dict()["weight"].tolist() == [[3.0, 3.0], [3.0, 3.0]]
    lin.bias = None  # as PyTorch: the name stays registered, without a value
    theirs = torch.nn.Linear(2, 2)
    theirs.bias = None
    assert list(lin.state_dict()) == list(theirs.state_dict()) == ["weight"]
    assert "bias" in lin._parameters and lin.bias is None
    out = lin(Tensor(np.ones((1, 2), np.float32), backend=backend))
    assert host(out).tolist() == [[6.0, 6.0]]


@pytest.mark.parametrize("target, value, message", [
    ("weight", np.zeros((2, 2), np.float32),
     "cannot assign 'ndarray' object as parameter 'weight' (Tensor or None expected)"),
    ("weight", [[0.0, 0.0]], "cannot assign 'list' object as parameter 'weight'"),
    ("running_mean", np.zeros(2), "cannot assign 'ndarray' object as buffer 'running_mean' "
                                  "(Tensor or None expected)"),
    ("num_batches_tracked", 0, "cannot assign 'int' object as buffer 'num_batches_tracked'"),
])
def test_anything_but_a_tensor_over_a_parameter_or_buffer_is_pytorchs_type_error(target, value,
                                                                                  message):
    ours = nn.Linear(2, 2) if target == "weight" else nn.BatchNorm1d(2)
    theirs = torch.nn.Linear(2, 2) if target == "weight" else torch.nn.BatchNorm1d(2)
    with pytest.raises(TypeError, match="cannot assign"):
        setattr(theirs, target, value)
    before = list(ours.state_dict())
    with pytest.raises(TypeError) as error:
        setattr(ours, target, value)
    assert str(error.value) == message or str(error.value).startswith(message)
    assert list(ours.state_dict()) == before and isinstance(getattr(ours, target), Tensor)


def test_children_keep_their_slot_and_trainable_tensors_take_any_slot():
    def build(n):
        model = n.Sequential(n.Linear(2, 2), n.BatchNorm1d(2))
        model.head = n.Linear(2, 1)
        return model

    ours, theirs = build(nn), build(torch.nn)
    with pytest.raises(TypeError, match="cannot assign 'int' object as child module 'head' "
                                        r"\(Module or None expected\)"):
        ours.head = 3
    with pytest.raises(TypeError, match="cannot assign 'int' as child module 'head'"):
        theirs.head = 3
    ours.head, theirs.head = None, None
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours).splitlines()[-2].strip() == repr(theirs).splitlines()[-2].strip()
    # a trainable tensor (PyTorch: a Parameter) takes a buffer's or a child's name
    ours[1].running_mean = Tensor.zeros(2, requires_grad=True)
    theirs[1].running_mean = torch.nn.Parameter(torch.zeros(2))
    ours.head = Tensor.ones(3, requires_grad=True)
    theirs.head = torch.nn.Parameter(torch.ones(3))
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_replacing_a_child_or_a_parameter_keeps_its_place_as_pytorch():
    """A replaced child or parameter moved to the end, reordering state_dict."""
    def build(n):
        model = n.Sequential(n.Linear(2, 3), n.ReLU(), n.Linear(3, 1))
        model[0] = n.Linear(2, 3)
        model.add_module("1", n.Tanh())
        setattr(model, "0", n.Linear(2, 3))
        return model

    ours, theirs = build(nn), build(torch.nn)
    ours[0].weight = Tensor.zeros(3, 2, requires_grad=True)
    theirs[0].weight = torch.nn.Parameter(torch.zeros(3, 2))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == [
        "0.weight", "0.bias", "2.weight", "2.bias"]
    assert sizes(ours) == sizes(theirs)


def sizes(model):
    return [type(m).__name__ for m in model]


def test_non_persistent_buffers_move_but_are_not_saved(backend):
    def build(n, **kw):
        bn = n.BatchNorm1d(2, **kw)
        bn.register_buffer("scratch", (Tensor if n is nn else torch.tensor)([1.0, 2.0]),
                           persistent=False)
        return bn

    ours, theirs = build(nn, backend=backend), build(torch.nn)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert "scratch" not in ours.state_dict()
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert ours.load_state_dict(ours.state_dict()) == ([], [])
    assert ours.double().scratch.dtype == td.float64
    ours.register_buffer("scratch", Tensor([3.0]))  # persistent again
    assert ours.state_dict()["scratch"].tolist() == [3.0]
    del ours.scratch
    ours.register_buffer("scratch", Tensor([4.0]), persistent=False)
    ours.scratch = Tensor([5.0])  # assignment keeps it non-persistent
    assert "scratch" not in ours.state_dict() and ours.scratch.tolist() == [5.0]


def test_load_state_dict_lists_every_problem_in_one_error_and_changes_nothing(backend):
    """PyTorch raises one RuntimeError listing every problem; ours stopped at the first, as a
    KeyError, ValueError or TypeError. StateDictError is all four."""
    model = nn.Sequential(nn.Linear(3, 2, backend=backend), nn.BatchNorm1d(2, backend=backend))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    before = model.state_dict()
    state = dict(before)
    del state["1.running_var"]
    state["0.weight"] = np.zeros((3, 3), np.float32)
    state["0.bias"] = np.zeros(2, np.float64)
    state["extra"] = np.zeros(1)
    with pytest.raises(RuntimeError) as error:
        model.load_state_dict(state)
    with pytest.raises(RuntimeError) as their_error:
        theirs.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    lines = str(error.value).split("\n\t")
    their_lines = [line.strip() for line in str(their_error.value).split("\n\t")]
    assert lines[:3] == their_lines[:3] == [
        "Error(s) in loading state_dict for Sequential:",
        'Missing key(s) in state_dict: "1.running_var".',
        'Unexpected key(s) in state_dict: "extra".']
    assert lines[3:] == ["'0.weight' has shape (3, 3), the model expects (2, 3)",
                         "'0.bias' has dtype float64, the model expects float32"]
    assert isinstance(error.value, (StateDictError, KeyError, ValueError, TypeError))
    assert all(isinstance(error.value, kind) for kind in (KeyError, ValueError, TypeError))
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    with pytest.raises(StateDictError, match="'0.weight' has shape") as error:
        model.load_state_dict(state, strict=False)  # shapes are checked, as PyTorch's
    assert "Missing" not in str(error.value) and str(error.value).count("\n\t") == 2


def test_big_endian_arrays_load_in_native_byte_order(backend, tmp_path):
    """Bug: arrays read from a big-endian .npz stayed >f4 on numpy and were a raw TypeError
    on strict."""
    source = nn.Linear(3, 2, backend=backend)
    np.savez(tmp_path / "big.npz", **{k: v.astype(v.dtype.newbyteorder(">"))
                                      for k, v in source.state_dict().items()})
    loaded = td.load(tmp_path / "big.npz")
    assert loaded["weight"].dtype.str == ">f4"
    target = nn.Linear(3, 2, backend=backend)
    target.load_state_dict(loaded)
    assert target.weight.dtype == td.float32
    assert target.state_dict()["weight"].dtype.isnative
    x = Tensor.randn(4, 3, backend=backend)
    np.testing.assert_array_equal(host(target(x)), host(source(x)))
    target(x).sum().backward()
    optim.SGD(target.parameters(), lr=0.1).step()
    assert target.state_dict()["weight"].dtype == np.float32


def test_load_state_dict_writes_into_the_existing_arrays(backend):
    """As PyTorch's copy_: a step captured by td.jit replays its kernels on the parameters' and
    buffers' arrays, so a checkpoint loaded after the capture must land in those arrays."""
    source = nn.Sequential(nn.Linear(3, 2, backend=backend), nn.BatchNorm1d(2, backend=backend))
    source(Tensor.randn(4, 3, backend=backend))  # running statistics and count move
    target = nn.Sequential(nn.Linear(3, 2, backend=backend), nn.BatchNorm1d(2, backend=backend))
    arrays = {name: t.data for name, t in target._state_tensors().items()}
    target.load_state_dict(source.state_dict())
    for name, t in target._state_tensors().items():
        assert t.data is arrays[name], name
        np.testing.assert_array_equal(host(t), source.state_dict()[name])


def test_train_mode_must_be_a_bool_as_pytorch():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout())
    for mode in ("no", 1, None):
        with pytest.raises(ValueError, match="training mode is expected to be boolean"):
            torch.nn.Linear(1, 1).train(mode)
        with pytest.raises(ValueError, match="training mode is expected to be boolean, got"):
            model.train(mode)
    assert model.training and model[1].training
    assert not model.train(False)[1].training and model.train(True)[1].training


def test_zero_grad_without_none_zeros_the_same_array(backend):
    model = nn.Linear(3, 2, backend=backend)
    opt = optim.SGD(model.parameters(), lr=0.1)
    for zero in (lambda: opt.zero_grad(set_to_none=False),
                 lambda: model.zero_grad(set_to_none=False)):
        model(Tensor.randn(4, 3, backend=backend)).sum().backward()
        arrays = [p.grad.data for p in model.parameters()]
        zero()
        for p, array in zip(model.parameters(), arrays, strict=True):
            assert p.grad.data is array and not host(p.grad).any()
    model.weight.grad = Tensor(np.broadcast_to(np.float32(1.0), (2, 3)), backend=backend)
    model.zero_grad(set_to_none=False)  # a read-only array is replaced by zeros
    assert host(model.weight.grad).tolist() == [[0.0] * 3] * 2
