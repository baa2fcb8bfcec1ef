"""On a GPU (CuPy; skipped elsewhere, saying why): a training step captured by ``td.jit`` as a
CUDA graph follows a learning-rate schedule set between calls, through the parameter groups'
device options, as eager steps do. The host emulation of the same mechanism is checked without
a GPU in ``test_cupy_fused_host.py``."""

import numpy as np
import pytest
from test_jit import training_step

import tinygrad_drop as td
from tinygrad_drop import Tensor, models, optim
from tinygrad_drop.optim import lr_scheduler

MAKERS = {"sgd": lambda g: optim.SGD(g, lr=0.1, momentum=0.9),
          "adam": lambda g: optim.Adam(g, lr=0.01),
          "adamw": lambda g: optim.AdamW(g, lr=0.01, weight_decay=0.1),
          "adadelta": lambda g: optim.Adadelta(g, lr=1.0)}


CUPY, WHY_NOT = td.backends.is_available("cupy")
pytestmark = pytest.mark.skipif(not CUPY, reason=str(WHY_NOT))


def run(name, jitted, schedule=True, steps=6, backend="cupy"):
    """The weights after ``steps`` steps of a small MLP in two groups (the output layer at a
    quarter of the rate), StepLR halving the rates after every step."""
    td.manual_seed(0)
    model = models.mlp(20, (16,), 5, dropout=(0.0,), backend=backend)
    params = list(model.parameters())
    opt = MAKERS[name]([{"params": params[:2]}, {"params": params[2:], "lr": 0.025}])
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)

    step = training_step(model, opt)
    call = td.jit(step) if jitted else step
    rng = np.random.default_rng(1)
    for _ in range(steps):
        x = Tensor(rng.standard_normal((32, 20)).astype(np.float32), backend=backend)
        y = Tensor(rng.integers(0, 5, 32), backend=backend)
        call(x, y)
        if schedule:
            sched.step()
    return [p.numpy() for p in params], call


@pytest.mark.parametrize("name", list(MAKERS))
def test_gpu_a_captured_step_follows_the_schedule_as_eager_steps(name):
    eager, _ = run(name, jitted=False)
    captured, jitted = run(name, jitted=True)
    unscheduled, _ = run(name, jitted=True, schedule=False)
    assert len(jitted.steps) == 1
    for got, want in zip(captured, eager, strict=True):
        # float32: a captured product may sum in another order
        assert np.linalg.norm(got - want) <= 1e-5 * np.linalg.norm(want)
    assert any(np.linalg.norm(u - w) > 1e-3 * np.linalg.norm(w)
               for u, w in zip(unscheduled, eager, strict=True))
