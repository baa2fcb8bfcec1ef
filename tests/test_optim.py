"""Optimizers reproduce PyTorch's parameters step for step (float64)."""

import numpy as np
import pytest
from conftest import host, tensor

from tinygrad_drop import nn, optim


def run_steps(make_ours, make_theirs, backend, rng, steps=5):
    torch = pytest.importorskip("torch")
    w0, x = rng.standard_normal((4, 3)), rng.standard_normal((6, 4))
    w, wt = tensor(w0, backend, requires_grad=True), torch.tensor(w0, requires_grad=True)
    xs, xt = tensor(x, backend), torch.tensor(x)
    ours, theirs = make_ours([w]), make_theirs(torch.optim, [wt])
    for _ in range(steps):
        ours.zero_grad()
        theirs.zero_grad()
        ((xs @ w).tanh() ** 2).sum().backward()
        ((xt @ wt).tanh() ** 2).sum().backward()
        ours.step()
        theirs.step()
    return host(w), wt.detach().numpy()


SGD_SETTINGS = [dict(lr=0.1), dict(lr=0.1, momentum=0.9),
                dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
                dict(lr=0.1, weight_decay=0.1)]


def settings_id(kw):
    return ",".join(f"{k}={v}" for k, v in kw.items())


@pytest.mark.parametrize("kw", SGD_SETTINGS, ids=settings_id)
def test_sgd_matches_pytorch_over_five_steps(kw, backend, rng):
    ours, theirs = run_steps(lambda p: optim.SGD(p, **kw), lambda o, p: o.SGD(p, **kw),
                             backend, rng)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kw", [dict(lr=0.01), dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6),
                                dict(lr=0.01, weight_decay=0.1)],
                         ids=settings_id)
def test_adam_matches_pytorch_over_five_steps(kw, backend, rng):
    ours, theirs = run_steps(lambda p: optim.Adam(p, **kw), lambda o, p: o.Adam(p, **kw),
                             backend, rng)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_sgd_step_by_hand(backend):
    w = tensor([1.0, -2.0], backend, requires_grad=True)
    opt = optim.SGD([w], lr=0.5, momentum=0.5)
    for _ in range(2):
        opt.zero_grad()
        (w * w).sum().backward()  # grad = 2w
        opt.step()
    # step 1: b = 2w0 = [2, -4], w1 = w0 - 0.5 b = [0, 0]; step 2: g = 0, b = 0.5 b, w2 = -0.5 b
    assert host(w).tolist() == [-0.5, 1.0]


def test_optimizer_argument_errors(backend):
    w = tensor([1.0], backend, requires_grad=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="parameter 1 is a float, not a Tensor"):
        optim.SGD([w, 1.0], lr=0.1)
    with pytest.raises(TypeError, match="params must be an iterable of Tensors .* got a single "
                                        "Tensor"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="parameter 0 is not a leaf tensor"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.raises(ValueError, match="nesterov momentum needs momentum > 0"):
        optim.SGD([w], lr=0.1, nesterov=True)


BAD_OPTIONS = [
    (optim.SGD, dict(lr=-1), "SGD: lr must be >= 0, got -1"),
    (optim.SGD, dict(lr=0.1, momentum=-0.5), "SGD: momentum must be >= 0, got -0.5"),
    (optim.SGD, dict(lr=0.1, weight_decay=-1e-4), "SGD: weight_decay must be >= 0, got -0.0001"),
    (optim.SGD, dict(lr=float("nan")), "SGD: lr must be >= 0, got nan"),
    (optim.Adam, dict(lr=-1), "Adam: lr must be >= 0, got -1"),
    (optim.Adam, dict(eps=-1e-8), "Adam: eps must be >= 0, got -1e-08"),
    (optim.Adam, dict(weight_decay=-0.1), "Adam: weight_decay must be >= 0, got -0.1"),
    (optim.Adam, dict(betas=(1.0, 0.999)), r"Adam: betas\[0\] must be in \[0, 1\), got 1.0"),
    (optim.Adam, dict(betas=(0.9, -0.1)), r"Adam: betas\[1\] must be in \[0, 1\), got -0.1"),
    (optim.Adam, dict(betas=(0.9,)), r"Adam: betas must be a pair \(beta1, beta2\)"),
]


@pytest.mark.parametrize("make, kw, message", BAD_OPTIONS,
                         ids=[f"{m.__name__}-{settings_id(kw)}" for m, kw, _ in BAD_OPTIONS])
def test_invalid_options_are_refused_as_pytorch_refuses_them(make, kw, message):
    """Bug 11: negative momentum, weight_decay and eps used to be accepted."""
    torch = pytest.importorskip("torch")
    w = tensor([1.0], "numpy", requires_grad=True)
    with pytest.raises(ValueError, match=message):
        make([w], **kw)
    if "nan" not in message and len(kw.get("betas", (0, 0))) == 2:  # PyTorch refuses these
        # (a NaN lr is one PyTorch's SGD takes; we refuse it too)
        with pytest.raises(ValueError):
            getattr(torch.optim, make.__name__)([torch.zeros(1, requires_grad=True)], **kw)


@pytest.mark.parametrize("make", [lambda p: optim.SGD(p, lr=0.1), lambda p: optim.Adam(p)],
                         ids=["SGD", "Adam"])
def test_a_parameter_given_twice_is_refused(make, backend):
    """Bug 11: it used to be stepped twice per step, silently (PyTorch warns that this will
    become an error; we refuse now)."""
    w, b = (tensor([1.0, 2.0], backend, requires_grad=True) for _ in range(2))
    with pytest.raises(ValueError, match="parameter 2 is the same tensor as parameter 0; each "
                                         "parameter must be given once"):
        make([w, b, w])
    model = nn.Sequential(nn.Linear(2, 2, backend=backend), nn.Linear(2, 2, backend=backend))
    with pytest.raises(ValueError, match="parameter 4 is the same tensor as parameter 2"):
        make([*model.parameters(), *model[1].parameters()])
    shared = nn.Sequential(model[0], model[0])  # model.parameters() lists a shared layer once
    assert len(make(shared.parameters()).params) == 2


def test_zero_grad_to_none_or_zeros_in_place(backend):
    w = tensor([1.0, -2.0], backend, requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    grad = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is grad and host(grad).tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert w.grad is None


def test_state_follows_a_parameter_cast_after_stepping(backend):
    """A parameter cast in place after a step (as ``model.float()`` does): the momentum
    buffer is cast with it (else the float32 parameter would be updated with float64 math,
    which the strict backend refuses)."""
    w = tensor([1.0, -2.0], backend, requires_grad=True)
    opt = optim.SGD([w], lr=0.5, momentum=0.5)
    for step in range(2):
        opt.zero_grad()
        (w * w).sum().backward()  # grad = 2w, as test_sgd_step_by_hand
        opt.step()
        if step == 0:
            w.data = w._backend.xp.astype(w.data, w._backend.dtype("float32"))
    assert w.dtype == "float32" and host(w).tolist() == [-0.5, 1.0]
    assert opt.state[w]["momentum_buffer"].dtype == w.data.dtype


IN_PLACE = [lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
            lambda p: optim.Adam(p, lr=0.01, weight_decay=0.1),
            lambda p: optim.Adadelta(p, lr=0.5, weight_decay=0.01)]


@pytest.mark.parametrize("make", IN_PLACE, ids=["SGD", "Adam", "Adadelta"])
def test_parameters_and_state_arrays_keep_their_identity_across_steps(make, backend, rng):
    """Every step after the first updates the same arrays (a replayed CUDA graph reads and
    writes fixed addresses), and the values still follow PyTorch's."""
    torch = pytest.importorskip("torch")
    w0, x = rng.standard_normal((4, 3)), rng.standard_normal((6, 4))
    w, wt = tensor(w0, backend, requires_grad=True), torch.tensor(w0, requires_grad=True)
    ours = make([w])
    theirs = {"SGD": lambda: torch.optim.SGD([wt], lr=0.1, momentum=0.9, nesterov=True,
                                             weight_decay=0.01),
              "Adam": lambda: torch.optim.Adam([wt], lr=0.01, weight_decay=0.1),
              "Adadelta": lambda: torch.optim.Adadelta([wt], lr=0.5, weight_decay=0.01),
              }[type(ours).__name__]()
    identities = []
    for _ in range(4):
        for opt, param, inputs in ((ours, w, tensor(x, backend)), (theirs, wt, torch.tensor(x))):
            opt.zero_grad()
            ((inputs @ param).tanh() ** 2).sum().backward()
            opt.step()
        arrays = {name: value for name, value in ours.state[w].items()
                  if hasattr(value, "shape")}
        assert arrays, "no state arrays"
        identities.append((id(w.data), {name: id(value) for name, value in arrays.items()}))
    assert identities[1] == identities[2] == identities[3]
    np.testing.assert_allclose(host(w), wt.detach().numpy(), rtol=1e-12, atol=1e-12)
