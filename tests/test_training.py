"""The training loop: early stopping, L1, and step-for-step agreement with PyTorch."""

import numpy as np
import pytest
from conftest import tensor
from test_nn import our_twin, torch_twin

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from tinygrad_drop import Tensor, nn, optim
from tinygrad_drop.training import EarlyStopping, fit


def test_early_stopping_counts_epochs_without_improvement():
    model = nn.Linear(2, 1)
    stopper = EarlyStopping(patience=2, min_delta=0.01)
    losses = [1.0, 0.8, 0.795, 0.9, 0.7]  # 0.795 is not better by more than 0.01
    stops = [stopper.step(model, loss, epoch) for epoch, loss in enumerate(losses, 1)]
    assert stops == [False, False, False, True, False]
    assert stopper.best == 0.7 and stopper.best_epoch == 5
    with pytest.raises(ValueError, match="patience must be a positive int"):
        EarlyStopping(patience=0)


def overfitting_problem(backend):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 10))
    y = x[:, 0] + rng.normal(0, 1.0, 40)  # mostly noise: a wide net overfits quickly
    xv = rng.standard_normal((200, 10))
    yv = xv[:, 0] + rng.normal(0, 1.0, 200)

    def as_pair(a, b):
        return tensor(a, backend, dtype="float32"), tensor(b[:, None], backend, dtype="float32")
    return [as_pair(x, y)], as_pair(xv, yv)


def test_fit_stops_early_and_restores_the_best_weights(backend):
    td.manual_seed(0)
    batches, validation = overfitting_problem(backend)
    model = nn.Sequential(nn.Linear(10, 256, backend=backend), nn.ReLU(),
                          nn.Linear(256, 1, backend=backend))
    stopper = EarlyStopping(patience=5)
    history = fit(model, optim.Adam(model.parameters(), lr=0.01), F.mse_loss, batches, 500,
                  validation=validation, early_stopping=stopper)
    assert len(history) < 500 and len(history) == stopper.best_epoch + 5
    model.eval()
    with td.no_grad():
        restored = F.mse_loss(model(validation[0]), validation[1]).item()
    assert restored == pytest.approx(stopper.best, rel=1e-6)
    assert restored < history[-1]["val_loss"]
    with pytest.raises(ValueError, match="early_stopping needs validation"):
        fit(model, optim.SGD(model.parameters(), lr=0.1), F.mse_loss, batches, 1,
            early_stopping=EarlyStopping())


def test_fit_with_l1_adds_lr_times_l1_times_sign_of_each_weight(backend):
    batches, _ = overfitting_problem(backend)
    start = nn.Linear(10, 1, backend=backend).state_dict()
    after = {}
    for l1 in (0.0, 0.05):
        model = nn.Linear(10, 1, backend=backend)
        model.load_state_dict(start)
        fit(model, optim.SGD(model.parameters(), lr=0.1), F.mse_loss, batches, 1, l1=l1)
        after[l1] = model.state_dict()
    for name in ("weight", "bias"):  # one SGD step: the L1 term moves w by -lr * l1 * sign(w)
        np.testing.assert_allclose(after[0.05][name] - after[0.0][name],
                                   -0.1 * 0.05 * np.sign(start[name]), rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("make_opt", [
    lambda o, p: o.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-3),
    lambda o, p: o.Adam(p, lr=0.01)], ids=["sgd", "adam"])
def test_mlp_with_batchnorm_and_dropout_trains_like_pytorch(make_opt, backend, rng):
    torch = pytest.importorskip("torch")
    theirs = torch_twin(torch, torch.float64)
    ours = our_twin(backend)
    ours.load_state_dict(theirs.state_dict())  # the same starting weights
    opt_ours, opt_theirs = make_opt(optim, ours.parameters()), make_opt(torch.optim,
                                                                       theirs.parameters())
    for _ in range(5):
        x = rng.standard_normal((24, 12))
        y = rng.integers(0, 3, 24)
        opt_ours.zero_grad()
        opt_theirs.zero_grad()
        F.cross_entropy(ours(tensor(x, backend)), Tensor(y, backend=backend)).backward()
        torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y)).backward()
        opt_ours.step()
        opt_theirs.step()
    # 1e-8, not 1e-12: a bias feeding batchnorm has a true gradient of 0, so both frameworks
    # see rounding noise (~1e-17) there, which Adam's normalisation amplifies to ~1e-10.
    theirs_state = theirs.state_dict()
    for name, value in ours.state_dict().items():
        np.testing.assert_allclose(value, theirs_state[name].numpy(), rtol=1e-8, atol=1e-8,
                                   err_msg=name)


class RowCounter(nn.Module):
    """``inner`` that records how many rows each forward call saw."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.seen = inner, []

    def forward(self, x):
        self.seen.append(len(x))
        return self.inner(x)


@pytest.mark.parametrize("size", [1, 64, 200, 1000])
def test_fit_evaluates_validation_in_slices_to_the_same_mean_loss(size, backend):
    """Validation in slices of eval_batch_size rows (the last one shorter for 64) gives the
    whole set's mean loss, and every slice has at most that many rows."""
    batches, validation = overfitting_problem(backend)
    model = RowCounter(nn.Sequential(nn.Linear(10, 8, backend=backend), nn.ReLU(),
                                     nn.Linear(8, 1, backend=backend)))
    whole = fit(model, optim.SGD(model.parameters(), lr=0.0), F.mse_loss, batches, 1,
                validation=validation)[0]["val_loss"]
    assert model.seen == [40, 200]  # one training batch, then the validation set at once
    model.seen.clear()
    record = fit(model, optim.SGD(model.parameters(), lr=0.0), F.mse_loss, batches, 1,
                 validation=validation, eval_batch_size=size)[0]
    assert record["val_loss"] == pytest.approx(whole, rel=1e-6)
    slices = model.seen[1:]
    assert max(slices) == min(size, 200) and sum(slices) == 200
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match=f"eval_batch_size.*{bad!r}"):
            fit(model, optim.SGD(model.parameters(), lr=0.0), F.mse_loss, batches, 1,
                validation=validation, eval_batch_size=bad)


def test_fit_captures_each_batch_shape_once_and_trains_as_eager():
    """fit runs its step under td.jit: on a backend that can capture, each batch shape is warmed
    up, recorded once and replayed (the short last batch is a shape of its own), and training
    equals uncaptured training exactly. The recorder is test_jit's, which replays by running
    the call again and writing into the recorded arrays, as a CUDA graph writes its addresses."""
    from test_jit import RecordingNumpy

    from tinygrad_drop import data, models, optim

    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((37, 6)).astype(np.float32), rng.integers(0, 3, 37)

    def train(backend, capture):
        td.manual_seed(0)
        model = models.mlp(6, (8,), 3, dropout=(0.3,), backend=backend)
        optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        loader = data.DataLoader(x, y, 8, seed=1, backend=backend)
        history = td.training.fit(model, optimizer, F.cross_entropy, loader, 2,
                                  capture=capture)
        return history, [p.numpy() for p in model.parameters()]

    recording = RecordingNumpy()
    captured, weights = train(recording, True)
    eager, eager_weights = train("numpy", False)
    assert recording.recorder.log == ["record", "replay", "replay"] + ["replay"] * 4 + ["record"]
    assert [r["train_loss"] for r in captured] == [r["train_loss"] for r in eager]
    for a, b in zip(weights, eager_weights, strict=True):
        np.testing.assert_array_equal(a, b)
