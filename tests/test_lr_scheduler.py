"""optim.lr_scheduler against torch.optim.lr_scheduler: the learning rates of several groups
equal PyTorch's exactly over 40+ steps, whole trajectories equal PyTorch's parameters, and a
scheduler's state dict resumes the schedule."""

import math

import numpy as np
import pytest
from conftest import host, tensor

import tinygrad_drop as td
from tinygrad_drop import optim
from tinygrad_drop.optim import lr_scheduler

torch = pytest.importorskip("torch")


def warmup(epoch):
    return min(1.0, (epoch + 1) / 5) * 0.95 ** epoch


SCHEDULES = {  # name -> (ours, PyTorch's), called with the optimizer
    "StepLR": (lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
               lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5)),
    "CosineAnnealingLR": (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.001),
                          lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(
                              o, T_max=7, eta_min=0.001)),
    "CosineAnnealingLR-long": (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=30),
                               lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=30)),
    "LambdaLR": (lambda o: lr_scheduler.LambdaLR(o, warmup),
                 lambda o: torch.optim.lr_scheduler.LambdaLR(o, warmup)),
    "LambdaLR-per-group": (
        lambda o: lr_scheduler.LambdaLR(o, [warmup, lambda e: 1 / (1 + e)]),
        lambda o: torch.optim.lr_scheduler.LambdaLR(o, [warmup, lambda e: 1 / (1 + e)])),
}


def optimizers(backend, rng, make=optim.SGD, make_torch=torch.optim.SGD, **kw):
    """Ours and PyTorch's over the same two parameters in two groups (lr 0.1 and 0.03)."""
    arrays = [rng.standard_normal((3, 2)), rng.standard_normal(2)]
    ours = [tensor(a, backend, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    opt = make([{"params": ours[:1]}, {"params": ours[1:], "lr": 0.03}], lr=0.1, **kw)
    topt = make_torch([{"params": theirs[:1]}, {"params": theirs[1:], "lr": 0.03}], lr=0.1, **kw)
    return opt, topt, ours, theirs


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_learning_rates_equal_pytorchs_exactly_over_45_steps(name, rng):
    opt, topt, _, _ = optimizers("numpy", rng)
    ours, theirs = (make(o) for make, o in zip(SCHEDULES[name], (opt, topt), strict=True))
    assert ours.get_last_lr() == theirs.get_last_lr()
    for _ in range(45):
        opt.step()
        topt.step()
        ours.step()
        theirs.step()
        assert ours.get_last_lr() == theirs.get_last_lr(), ours.last_epoch
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in topt.param_groups]
    assert ours.last_epoch == theirs.last_epoch == 45
    assert ours.base_lrs == theirs.base_lrs == [0.1, 0.03]


def test_cosine_values_by_hand():
    """Half-way the lr is (base + eta_min) / 2; at T_max it is eta_min (to rounding)."""
    w = tensor([1.0], "numpy", requires_grad=True)
    opt = optim.SGD([w], lr=1.0)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.2)
    seen = [sched.get_last_lr()[0]]
    for _ in range(10):
        sched.step()
        seen.append(sched.get_last_lr()[0])
    assert seen[0] == 1.0 and math.isclose(seen[5], 0.6, rel_tol=1e-14)
    assert math.isclose(seen[10], 0.2, rel_tol=1e-14)


@pytest.mark.parametrize("name", ["StepLR", "CosineAnnealingLR", "LambdaLR-per-group"])
@pytest.mark.parametrize("kind", ["SGD", "Adam", "AdamW", "Adadelta"])
def test_trajectories_with_a_schedule_equal_pytorchs(name, kind, backend, rng):
    kw = {"SGD": dict(momentum=0.9)}.get(kind, {})
    opt, topt, ours, theirs = optimizers(backend, rng, getattr(optim, kind),
                                         getattr(torch.optim, kind), **kw)
    sched, tsched = (make(o) for make, o in zip(SCHEDULES[name], (opt, topt), strict=True))
    x = rng.standard_normal((5, 3))
    xs, xt = tensor(x, backend), torch.tensor(x)
    for _ in range(12):
        for o, (w, b), inputs in ((opt, ours, xs), (topt, theirs, xt)):
            o.zero_grad()
            ((inputs @ w + b).tanh() ** 2).sum().backward()
            o.step()
        sched.step()
        tsched.step()
    for p, tp in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(host(p), tp.detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_a_resumed_schedule_continues_as_the_uninterrupted_one(name, rng):
    make = SCHEDULES[name][0]
    opt, _, _, _ = optimizers("numpy", rng)
    whole = make(opt)
    lrs = []
    for _ in range(20):
        whole.step()
        lrs.append(whole.get_last_lr())

    first_opt, _, _, _ = optimizers("numpy", rng)
    first = make(first_opt)
    for _ in range(8):
        first.step()
    saved, saved_opt = first.state_dict(), first_opt.state_dict()
    assert "optimizer" not in saved and saved["last_epoch"] == 8

    fresh_opt, _, _, _ = optimizers("numpy", rng)
    fresh = make(fresh_opt)  # PyTorch's order: the scheduler, then the loads
    fresh_opt.load_state_dict(saved_opt)
    fresh.load_state_dict(saved)
    resumed = []
    for _ in range(12):
        fresh.step()
        resumed.append(fresh.get_last_lr())
    assert resumed == lrs[8:]


def test_resuming_with_last_epoch_needs_initial_lr():
    w = tensor([1.0], "numpy", requires_grad=True)
    with pytest.raises(KeyError, match=r"'initial_lr' is not specified in param_groups\[0\]"):
        lr_scheduler.StepLR(optim.SGD([w], lr=0.1), step_size=2, last_epoch=4)
    opt = optim.SGD([w], lr=0.1)
    opt.param_groups[0]["initial_lr"] = 0.1
    sched = lr_scheduler.StepLR(opt, step_size=2, last_epoch=4)  # epoch 5: not a multiple
    assert sched.last_epoch == 5 and sched.get_last_lr() == [0.1]


def test_bad_arguments_are_refused():
    w = tensor([1.0], "numpy", requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    with pytest.raises(TypeError, match="StepLR: list is not an Optimizer"):
        lr_scheduler.StepLR([w], step_size=2)
    with pytest.raises(ValueError, match="StepLR: step_size must be a positive int, got 0"):
        lr_scheduler.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="CosineAnnealingLR: T_max must be a positive number"):
        lr_scheduler.CosineAnnealingLR(opt, T_max=-1)
    assert lr_scheduler.StepLR(opt, step_size=np.int64(2)).step_size == 2  # NumPy ints too
    with pytest.raises(ValueError, match=r"LambdaLR: expected 1 lr_lambdas \(one per parameter "
                                         r"group\), got 2"):
        lr_scheduler.LambdaLR(opt, [warmup, warmup])
    with pytest.raises(TypeError, match="LambdaLR: lr_lambda must be callable, got 0.5"):
        lr_scheduler.LambdaLR(opt, 0.5)


def test_reachable_as_pytorch_users_spell_it():
    from tinygrad_drop.optim.lr_scheduler import StepLR
    assert StepLR is td.optim.lr_scheduler.StepLR is lr_scheduler.StepLR


def test_lambda_state_dict_keeps_a_callable_objects_attributes_not_functions():
    class Decay:
        def __init__(self):
            self.rate = 0.5

        def __call__(self, epoch):
            return self.rate ** epoch

    w = tensor([1.0], "numpy", requires_grad=True)
    decay = Decay()
    sched = lr_scheduler.LambdaLR(optim.SGD([{"params": [w]}], lr=1.0), [decay])
    saved = sched.state_dict()
    assert saved["lr_lambdas"] == [{"rate": 0.5}]
    decay.rate = 0.9
    sched.load_state_dict(saved)
    assert decay.rate == 0.5
    plain = lr_scheduler.LambdaLR(optim.SGD([w], lr=1.0), warmup)
    assert plain.state_dict()["lr_lambdas"] == [None]
