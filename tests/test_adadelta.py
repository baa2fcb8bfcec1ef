"""optim.Adadelta reproduces torch.optim.Adadelta step for step (float64, 1e-12)."""

import math

import numpy as np
import pytest
from conftest import host, tensor

from tinygrad_drop import optim

SETTINGS = [dict(), dict(weight_decay=0.1), dict(lr=1.0, rho=0.95, eps=1e-7),
            dict(lr=0.5, rho=0.95, eps=1e-7, weight_decay=0.01), dict(lr=0.1, rho=0.0),
            dict(rho=1.0)]


def settings_id(kw):
    return ",".join(f"{k}={v}" for k, v in kw.items()) or "defaults"


def run_steps(kw, backend, rng, steps=6):
    """Both optimizers on the same two parameters (a matrix and a bias) of a small loss."""
    torch = pytest.importorskip("torch")
    w0, b0, x = rng.standard_normal((4, 3)), rng.standard_normal(3), rng.standard_normal((6, 4))
    ours = [tensor(a, backend, requires_grad=True) for a in (w0, b0)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (w0, b0)]
    xs, xt = tensor(x, backend), torch.tensor(x)
    opt, topt = optim.Adadelta(ours, **kw), torch.optim.Adadelta(theirs, **kw)
    for _ in range(steps):
        opt.zero_grad()
        topt.zero_grad()
        ((xs @ ours[0] + ours[1]).tanh() ** 2).sum().backward()
        ((xt @ theirs[0] + theirs[1]).tanh() ** 2).sum().backward()
        opt.step()
        topt.step()
    return opt, topt, ours, theirs


@pytest.mark.parametrize("kw", SETTINGS, ids=settings_id)
def test_adadelta_matches_pytorch_over_six_steps(kw, backend, rng):
    opt, topt, ours, theirs = run_steps(kw, backend, rng)
    for p, tp in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(host(p), tp.detach().numpy(), rtol=1e-12, atol=1e-12)
        state, tstate = opt.state[p], topt.state[tp]
        assert state["step"] == int(tstate["step"]) == 6
        for name in ("square_avg", "acc_delta"):  # PyTorch's state names and values
            np.testing.assert_allclose(np.asarray(p._backend.to_numpy(state[name])),
                                       tstate[name].numpy(), rtol=1e-12, atol=1e-12)


def test_first_step_by_hand(backend):
    """From zero state: s = (1 - rho) g^2, delta = sqrt(eps) / sqrt(s + eps) * g, p -= lr delta."""
    w = tensor([1.0, -2.0], backend, requires_grad=True)
    opt = optim.Adadelta([w], lr=1.0, rho=0.95, eps=1e-7)
    (w * w).sum().backward()  # grad = 2w
    opt.step()
    expected = [v - math.sqrt(1e-7) / math.sqrt(0.05 * (2 * v) ** 2 + 1e-7) * 2 * v
                for v in (1.0, -2.0)]
    np.testing.assert_allclose(host(w), expected, rtol=1e-15)


def test_defaults_are_pytorchs_not_keras():
    """The defaults trap: PyTorch's rho=0.9, eps=1e-6, lr=1.0; the seed's Keras program used
    rho=0.95, eps=1e-7 (and lr=1.0, which later Keras versions changed to 0.001)."""
    torch = pytest.importorskip("torch")
    opt = optim.Adadelta([tensor([1.0], "numpy", requires_grad=True)])
    defaults = torch.optim.Adadelta([torch.zeros(1, requires_grad=True)]).defaults
    assert (opt.lr, opt.rho, opt.eps, opt.weight_decay) == (1.0, 0.9, 1e-6, 0.0)
    assert (defaults["lr"], defaults["rho"], defaults["eps"], defaults["weight_decay"]) == (
        1.0, 0.9, 1e-6, 0.0)


def test_float32_parameters_stay_float32(backend, rng):
    """State is made in the parameter's dtype; a float32 step stays float32 (strict refuses
    mixed float widths) and agrees with PyTorch's float32 step."""
    torch = pytest.importorskip("torch")
    w0 = rng.standard_normal((5, 3)).astype(np.float32)
    w = tensor(w0, backend, dtype="float32", requires_grad=True)
    wt = torch.tensor(w0, requires_grad=True)
    opt, topt = optim.Adadelta([w], rho=0.95, eps=1e-7), torch.optim.Adadelta([wt], rho=0.95,
                                                                              eps=1e-7)
    for _ in range(3):
        opt.zero_grad()
        topt.zero_grad()
        (w * w * w).sum().backward()
        (wt * wt * wt).sum().backward()
        opt.step()
        topt.step()
    assert w.dtype == "float32" and opt.state[w]["square_avg"].dtype == w.data.dtype
    np.testing.assert_allclose(host(w), wt.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_gradient_array_is_not_written(backend):
    """The update works in place on its own state and the parameter, never on p.grad."""
    w = tensor([1.0, -2.0], backend, requires_grad=True)
    opt = optim.Adadelta([w])
    (w * w).sum().backward()
    before = host(w.grad).copy()
    opt.step()
    np.testing.assert_array_equal(host(w.grad), before)


def test_parameters_without_gradient_are_left_alone(backend):
    w, unused = (tensor([1.0, -2.0], backend, requires_grad=True) for _ in range(2))
    opt = optim.Adadelta([w, unused])
    (w * w).sum().backward()
    opt.step()
    assert host(unused).tolist() == [1.0, -2.0] and unused not in opt.state


BAD = [(dict(lr=-1.0), "Adadelta: lr must be >= 0, got -1.0"),
       (dict(eps=-1e-6), "Adadelta: eps must be >= 0, got -1e-06"),
       (dict(weight_decay=-0.1), "Adadelta: weight_decay must be >= 0, got -0.1"),
       (dict(rho=1.5), r"Adadelta: rho must be in \[0, 1\], got 1.5"),
       (dict(rho=-0.1), r"Adadelta: rho must be in \[0, 1\], got -0.1")]


@pytest.mark.parametrize("kw, message", BAD, ids=[settings_id(kw) for kw, _ in BAD])
def test_invalid_options_are_refused_as_pytorch_refuses_them(kw, message):
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match=message):
        optim.Adadelta([tensor([1.0], "numpy", requires_grad=True)], **kw)
    with pytest.raises(ValueError):
        torch.optim.Adadelta([torch.zeros(1, requires_grad=True)], **kw)


def test_state_follows_a_parameter_cast_after_stepping(backend):
    """After ``model.float()`` between steps the state is cast with the parameter."""
    w = tensor([1.0, -2.0], backend, requires_grad=True)
    opt = optim.Adadelta([w])
    for step in range(2):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
        if step == 0:
            w.data = w._backend.xp.astype(w.data, w._backend.dtype("float32"))
    assert w.dtype == "float32"
    assert all(opt.state[w][k].dtype == w.data.dtype for k in ("square_avg", "acc_delta"))


def test_zero_dim_parameter_matches_pytorch(backend):
    """A 0-d parameter (a learned scale): NumPy's 0-d arithmetic gives scalars, not arrays."""
    torch = pytest.importorskip("torch")
    w = tensor(1.5, backend, requires_grad=True)
    wt = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    opt, topt = optim.Adadelta([w], lr=0.5), torch.optim.Adadelta([wt], lr=0.5)
    for _ in range(3):
        opt.zero_grad()
        topt.zero_grad()
        (w * w * w).backward()
        (wt * wt * wt).backward()
        opt.step()
        topt.step()
    assert w.shape == ()
    np.testing.assert_allclose(host(w), wt.item(), rtol=1e-12)
