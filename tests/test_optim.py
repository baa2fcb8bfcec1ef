"""Optimizers reproduce PyTorch's parameters step for step (float64)."""

import numpy as np
import pytest
from conftest import host, tensor

from tinygrad_drop import optim


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
    with pytest.raises(TypeError, match="parameter 0 is not a Tensor that requires grad"):
        optim.SGD([tensor([1.0], backend)], lr=0.1)
    with pytest.raises(ValueError, match="lr must be >= 0, got -1"):
        optim.Adam([w], lr=-1)
    with pytest.raises(ValueError, match="nesterov momentum needs momentum > 0"):
        optim.SGD([w], lr=0.1, nesterov=True)
