"""Module methods PyTorch users reach for: .to/.double/.float in place, apply, requires_grad_,
the traversals (names and order against PyTorch), zero_grad, and load_state_dict taking the
numbers from our Tensors, NumPy arrays and torch tensors (bug 3)."""

import numpy as np
import pytest
from conftest import host, tensor

import tinygrad_drop as td
from tinygrad_drop import Tensor, nn, optim


def other(backend):
    """Another backend that always runs: numpy, or strict for numpy itself."""
    return "numpy" if backend != "numpy" else "strict"


def small_model(backend, dtype="float64"):
    """Batchnorm first: a bias just before a batchnorm has a zero gradient, which Adam would
    turn into rounding noise."""
    return nn.Sequential(nn.BatchNorm1d(3, dtype=dtype, backend=backend),
                         nn.Linear(3, 4, dtype=dtype, backend=backend), nn.ReLU(),
                         nn.Linear(4, 2, dtype=dtype, backend=backend))


def tensors_of(model):
    return list(model.parameters()) + list(model.buffers())


def train_steps(model, opt, x, steps):
    for _ in range(steps):
        opt.zero_grad()
        (model(Tensor(x, backend=next(model.parameters()).backend)) ** 2).sum().backward()
        opt.step()


@pytest.mark.parametrize("make_opt", [lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
                                      lambda p: optim.Adam(p, lr=0.01)], ids=["sgd", "adam"])
def test_to_moves_in_place_and_an_optimizer_made_before_keeps_stepping(make_opt, backend, rng):
    x = rng.standard_normal((5, 3))
    td.manual_seed(0)
    reference = small_model(backend)
    moved = small_model(backend)
    moved.load_state_dict(reference.state_dict())
    ref_opt, opt = make_opt(reference.parameters()), make_opt(moved.parameters())
    params, buffers = list(moved.parameters()), list(moved.buffers())
    train_steps(reference, ref_opt, x, 2)
    train_steps(moved, opt, x, 1)  # the optimizer has state (momentum, Adam's moments) now
    target = other(backend)
    assert moved.to(target) is moved
    assert all(a is b for a, b in zip(moved.parameters(), params, strict=True))  # in place
    assert not any(a is b for a, b in zip(moved.buffers(), buffers, strict=True))  # new ones
    assert {t.backend for t in buffers} == {backend}  # as PyTorch: buffers are replaced
    assert {t.backend for t in tensors_of(moved)} == {target}
    assert all(p.grad.backend == target for p in moved.parameters())
    train_steps(moved, opt, x, 1)  # its state follows the parameters to the new backend
    for name, value in moved.state_dict().items():
        np.testing.assert_allclose(value, reference.state_dict()[name], rtol=1e-12, atol=1e-14)
    assert moved.to(backend) is moved and moved[1].weight.backend == backend


def test_to_refuses_an_unknown_backend_and_changes_nothing(backend):
    model = small_model(backend)
    with pytest.raises(ValueError, match="no_such_backend"):
        model.to("no_such_backend")
    assert {t.backend for t in tensors_of(model)} == {backend}


def test_double_float_and_to_dtype_cast_floating_tensors_only_as_pytorch(backend):
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    ours = nn.Sequential(nn.Linear(3, 4, backend=backend), nn.BatchNorm1d(4, backend=backend))
    ours(Tensor.randn(5, 3, backend=backend)).sum().backward()
    params = list(ours.parameters())
    for cast in ("double", "float", "double", "double"):
        ours_before, theirs_before = dict(ours.named_buffers()), dict(theirs.named_buffers())
        assert getattr(ours, cast)() is ours
        getattr(theirs, cast)()
        assert {k: str(v.dtype) for k, v in ours.state_dict().items()} == {
            k: str(v.dtype).replace("torch.", "") for k, v in theirs.state_dict().items()}
        # buffers that change are new tensors, the others (integers, or already cast) kept
        assert {k: v is ours_before[k] for k, v in ours.named_buffers()} == {
            k: v is theirs_before[k] for k, v in theirs.named_buffers()}
    assert ours[1].num_batches_tracked.dtype == td.int64  # integer buffers untouched
    assert ours[0].weight.grad.dtype == td.float64 and ours[0].weight.requires_grad
    assert ours.to(td.float32) is ours and ours[0].bias.dtype == td.float32
    assert ours.to(dtype="float64") is ours and ours[1].running_var.dtype == td.float64
    assert all(a is b for a, b in zip(ours.parameters(), params, strict=True))
    with pytest.raises(TypeError, match="Module.to only accepts floating-point dtypes, got "
                                        "dtype int64"):
        ours.to(td.int64)


def test_apply_visits_children_first_then_self_in_pytorchs_order():
    torch = pytest.importorskip("torch")

    def build(n):
        inner = n.Sequential(n.ReLU(), n.Tanh())
        return n.Sequential(n.Linear(2, 2), inner, n.ModuleList([n.Identity(), inner]),
                            n.Flatten())

    ours, theirs = [], []
    model = build(nn)
    assert model.apply(lambda m: ours.append(type(m).__name__)) is model
    build(torch.nn).apply(lambda m: theirs.append(type(m).__name__))
    assert ours == theirs and ours[-1] == "Sequential" and ours.count("Tanh") == 2


def test_apply_initialises_weights(backend):
    model = small_model(backend)

    def init(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)

    model.apply(init)
    assert not host(model[1].weight).any() and not host(model[3].weight).any()
    assert host(model[1].bias).any() and host(model[0].weight).all()


def test_requires_grad_freezes_and_the_optimizer_skips_frozen_parameters(backend, rng):
    model = small_model(backend)
    assert model[1].requires_grad_(False) is model[1]
    assert [p.requires_grad for p in model.parameters()] == [True, True, False, False, True,
                                                              True]
    frozen = host(model[1].weight).copy()
    opt = optim.SGD(model.parameters(), lr=0.1)  # frozen parameters are accepted, as PyTorch
    second = host(model[3].weight).copy()
    train_steps(model, opt, rng.standard_normal((5, 3)), 2)
    assert model[1].weight.grad is None and model[0].weight.grad is not None
    np.testing.assert_array_equal(host(model[1].weight), frozen)
    assert not np.array_equal(host(model[3].weight), second)
    model.requires_grad_()
    assert all(p.requires_grad for p in model.parameters())
    assert not any(p.requires_grad for p in model.requires_grad_(flag=False).parameters())


def shared_structure(n):
    """Nested containers, a batchnorm, and one Linear reachable under two names."""
    shared = n.Linear(2, 2)
    return n.Sequential(n.Linear(3, 2), n.ModuleList([n.BatchNorm1d(2), shared,
                                                      n.Sequential(n.Tanh(), shared)]),
                        n.Identity())


def test_traversals_have_pytorchs_names_and_order():
    torch = pytest.importorskip("torch")
    ours, theirs = shared_structure(nn), shared_structure(torch.nn)
    for method in ("named_modules", "named_parameters", "named_buffers", "named_children"):
        assert [n for n, _ in getattr(ours, method)()] == [
            n for n, _ in getattr(theirs, method)()], method
    assert [type(m).__name__ for m in ours.modules()] == [
        type(m).__name__ for m in theirs.modules()]
    assert [tuple(b.shape) for b in ours.buffers()] == [tuple(b.shape) for b in theirs.buffers()]
    assert list(ours.state_dict()) == list(theirs.state_dict())  # the shared one twice
    assert [n for n, _ in ours.named_parameters(remove_duplicate=False)] == [
        n for n, _ in theirs.named_parameters(remove_duplicate=False)]
    assert [n for n, _ in ours[1].named_buffers(prefix="x", recurse=True)] == [
        n for n, _ in theirs[1].named_buffers(prefix="x", recurse=True)]
    assert list(ours.parameters(recurse=False)) == [] and len(list(ours.parameters())) == 6


def test_a_model_with_a_shared_layer_loads_pytorchs_state():
    torch = pytest.importorskip("torch")
    theirs = shared_structure(torch.nn).double()
    ours = shared_structure(nn).double()
    assert ours.load_state_dict(theirs.state_dict()) == ([], [])
    shared = ours[1][1]
    np.testing.assert_array_equal(host(shared.weight), theirs[1][1].weight.detach().numpy())
    assert shared is ours[1][2][1]


def test_zero_grad_to_none_or_zeros_in_place(backend):
    model = small_model(backend)
    model(Tensor.randn(4, 3, backend=backend, dtype="float64")).sum().backward()
    grad = model[0].weight.grad
    model.zero_grad(set_to_none=False)
    assert model[0].weight.grad is grad and not host(grad).any()
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_load_state_dict_takes_the_numbers_of_our_tensors(backend):
    """Bug 3: Tensor values used to become object arrays of 0-d Tensors, silently."""
    source, target = small_model(backend), small_model(backend)
    source(Tensor.randn(6, 3, backend=backend, dtype="float64"))  # running statistics move
    source.eval()
    target.eval()
    x = Tensor.randn(3, 3, backend=backend, dtype="float64")
    for make in (lambda v: Tensor(v, backend=backend), lambda v: Tensor(v, backend=other(backend)),
                 np.asarray):
        target.load_state_dict({k: make(v) for k, v in source.state_dict().items()})
        for name, t in target._state_tensors().items():
            assert t.dtype == source._state_tensors()[name].dtype and t.backend == backend
            np.testing.assert_array_equal(host(t), source.state_dict()[name])
        np.testing.assert_array_equal(host(target(x)), host(source(x)))
    weights = source[1].weight
    target.load_state_dict(dict(source._state_tensors()))
    weights.data = weights.data * 2  # loaded values are copies, never shared with the source
    np.testing.assert_array_equal(host(target[1].weight) * 2, host(weights))


def test_load_state_dict_refuses_bad_tensors_and_object_arrays_and_changes_nothing(backend):
    model = small_model(backend)
    before = model.state_dict()
    good = {k: Tensor(v, backend=backend) for k, v in before.items()}
    objects = np.empty(4, dtype=object)
    objects[:] = [Tensor(1.0)] * 4
    cases = [({**good, "3.weight": Tensor.zeros(2, 5, dtype="float64")}, ValueError,
              r"'3.weight' has shape \(2, 5\), the model expects \(2, 4\)"),
             ({**good, "1.bias": Tensor.zeros(4, dtype="float32")}, TypeError,
              "'1.bias' has dtype float32, the model expects float64"),
             ({**good, "0.running_mean": objects[:3]}, TypeError,
              "'0.running_mean' has dtype object, the model expects float64"),
             ([("0.weight", np.zeros((4, 3)))], TypeError, "expected a mapping of names")]
    for state, error, message in cases:
        if isinstance(state, dict):
            state["1.weight"] = Tensor.ones(4, 3, dtype="float64")  # good, before the bad one
        with pytest.raises(error, match=message):
            model.load_state_dict(state)
        for name, value in model.state_dict().items():
            np.testing.assert_array_equal(value, before[name])


def test_pytorch_parameters_that_require_grad_load_directly(backend, rng):
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    state = dict(theirs.named_parameters())  # requires_grad=True: no __array__ until detached
    assert all(v.requires_grad for v in state.values())
    ours = nn.Sequential(nn.Linear(3, 4, backend=backend), nn.ReLU(),
                         nn.Linear(4, 2, backend=backend))
    ours.load_state_dict(state)
    for name, value in ours.state_dict().items():
        np.testing.assert_array_equal(value, state[name].detach().numpy())
    with pytest.raises(TypeError, match="'0.bias' has dtype float64, the model expects float32"):
        ours.load_state_dict({**state, "0.bias": torch.zeros(4, dtype=torch.float64)})


def test_pytorch_state_dict_gives_the_same_outputs_and_gradients(backend, rng):
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.BatchNorm1d(8),
                                 torch.nn.ReLU(), torch.nn.Linear(8, 3)).double()
    theirs(torch.tensor(rng.standard_normal((16, 5))))  # running statistics of their own
    ours = nn.Sequential(nn.Linear(5, 8, dtype="float64", backend=backend),
                         nn.BatchNorm1d(8, dtype="float64", backend=backend), nn.ReLU(),
                         nn.Linear(8, 3, dtype="float64", backend=backend))
    ours.load_state_dict(theirs.state_dict())
    x_np, g_np = rng.standard_normal((7, 5)), rng.standard_normal((7, 3))
    for training in (True, False):
        ours.train(training)
        theirs.train(training)
        out, ref = ours(tensor(x_np, backend)), theirs(torch.tensor(x_np))
        np.testing.assert_allclose(host(out), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
        out.backward(tensor(g_np, backend))
        ref.backward(torch.tensor(g_np))
        for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(),
                                     strict=True):
            if training and name == "0.bias":
                # a bias just before a batchnorm has a zero gradient in exact arithmetic: both
                # libraries give rounding noise, to be compared with the weight's gradient
                scale = np.linalg.norm(host(ours[0].weight.grad))
                assert scale > 1e-3
                assert np.abs(host(p.grad)).max() < 1e-12 * scale
                assert np.abs(q.grad.numpy()).max() < 1e-12 * scale
                continue
            np.testing.assert_allclose(host(p.grad), q.grad.numpy(), rtol=1e-10, atol=1e-12,
                                       err_msg=name)
        ours.zero_grad()
        theirs.zero_grad()
