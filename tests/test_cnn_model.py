"""td.models.cnn is the seed's Keras CNN: a PyTorch state_dict of the same torch.nn network
loads into it and gives the same outputs and gradients (float64, 1e-10), and a training step
with Adadelta moves the parameters as PyTorch's does. Small batches only."""

import math

import numpy as np
import pytest
from conftest import host, tensor

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from tinygrad_drop import models, optim

NAMES = ["0.weight", "0.bias", "2.weight", "2.bias", "7.weight", "7.bias", "10.weight",
         "10.bias"]
SHAPES = [(32, 1, 3, 3), (32,), (64, 32, 3, 3), (64,), (128, 9216), (128,), (10, 128), (10,)]


def torch_cnn(dropout=(0.25, 0.5)):
    """The same network written with torch.nn, float64."""
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    torch.manual_seed(0)
    return tnn.Sequential(tnn.Conv2d(1, 32, 3), tnn.ReLU(), tnn.Conv2d(32, 64, 3), tnn.ReLU(),
                          tnn.MaxPool2d(2), tnn.Dropout(dropout[0]), tnn.Flatten(),
                          tnn.Linear(9216, 128), tnn.ReLU(), tnn.Dropout(dropout[1]),
                          tnn.Linear(128, 10)).double()


def loaded_pair(backend, dropout=(0.25, 0.5)):
    theirs = torch_cnn(dropout)
    ours = models.cnn(dropout, backend=backend).double()
    assert list(theirs.state_dict()) == NAMES  # (strict loading checks the names too)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def images(rng, n=2):
    return rng.standard_normal((n, 1, 28, 28))


@pytest.mark.parametrize("dropout", [(0.25, 0.5), (0.0, 0.0), (0.0, 0.5)])
def test_layers_and_state_dict_names_are_the_seed_networks(dropout):
    """A zero rate puts nn.Identity in the dropout's place, so the names never shift."""
    model = models.cnn(dropout)
    kinds = [type(m).__name__ for m in model]
    drops = ["Dropout" if rate else "Identity" for rate in dropout]
    assert kinds == ["Conv2d", "ReLU", "Conv2d", "ReLU", "MaxPool2d", drops[0], "Flatten",
                     "Linear", "ReLU", drops[1], "Linear"]
    state = model.state_dict()
    assert list(state) == NAMES
    assert [tuple(np.shape(v)) for v in state.values()] == SHAPES
    assert sum(p.numel() for p in model.parameters()) == 1_199_882  # Keras's summary
    assert all(p.dtype == "float32" for p in model.parameters())


def test_one_rate_for_both_and_the_mode_reach_the_dropout_layers():
    model = models.cnn(0.3, mode="vanilla")
    assert [(model[i].p, model[i].mode) for i in (5, 9)] == [(0.3, "vanilla")] * 2
    with pytest.raises(ValueError, match="cnn: dropout takes one rate or two"):
        models.cnn((0.1, 0.2, 0.3))
    with pytest.raises(ValueError):
        models.cnn((0.25, 1.5))


def test_pytorch_default_initialisation_bounds():
    """Conv2d and Linear as PyTorch: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    td.manual_seed(0)
    for name, value in models.cnn().state_dict().items():
        layer = int(name.split(".")[0])
        fan_in = {0: 9, 2: 32 * 9, 7: 9216, 10: 128}[layer]
        bound = 1 / math.sqrt(fan_in)
        a = np.asarray(value)
        assert np.abs(a).max() <= bound and np.abs(a).max() > 0.8 * bound, name
        if a.size > 1000:
            assert abs(a.std() - bound / math.sqrt(3)) < 0.05 * bound, name


def test_eval_outputs_and_gradients_match_pytorch(backend, rng):
    torch = pytest.importorskip("torch")
    ours, theirs = loaded_pair(backend)
    ours.eval()
    theirs.eval()
    x0, w0 = images(rng), rng.standard_normal((2, 10))
    x = tensor(x0, backend, requires_grad=True)
    xt = torch.tensor(x0, requires_grad=True)
    out, out_t = ours(x), theirs(xt)
    assert out.shape == (2, 10)
    np.testing.assert_allclose(host(out), out_t.detach().numpy(), rtol=1e-10, atol=1e-10)
    (out * tensor(w0, backend)).sum().backward()
    (out_t * torch.tensor(w0)).sum().backward()
    np.testing.assert_allclose(host(x.grad), xt.grad.numpy(), rtol=1e-10, atol=1e-10)
    for (name, p), tp in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        np.testing.assert_allclose(host(p.grad), tp.grad.numpy(), rtol=1e-10, atol=1e-10,
                                   err_msg=name)


def test_training_steps_without_dropout_match_pytorch(backend, rng):
    """Train mode with both rates 0: two full steps (cross_entropy, backward, Adadelta with
    the seed's Keras settings) leave the same parameters as PyTorch's."""
    torch = pytest.importorskip("torch")
    ours, theirs = loaded_pair(backend, (0.0, 0.0))
    settings = dict(lr=1.0, rho=0.95, eps=1e-7)
    opt, topt = optim.Adadelta(ours.parameters(), **settings), torch.optim.Adadelta(
        theirs.parameters(), **settings)
    x0, y0 = images(rng, 3), np.array([3, 0, 7])
    x, y = tensor(x0, backend), td.Tensor(y0, backend=backend)
    xt, yt = torch.tensor(x0), torch.tensor(y0)
    for _ in range(2):
        opt.zero_grad()
        topt.zero_grad()
        loss, loss_t = F.cross_entropy(ours(x), y), torch.nn.functional.cross_entropy(
            theirs(xt), yt)
        np.testing.assert_allclose(host(loss), loss_t.item(), rtol=1e-10)
        loss.backward()
        loss_t.backward()
        opt.step()
        topt.step()
    for (name, p), tp in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        np.testing.assert_allclose(host(p), tp.detach().numpy(), rtol=1e-10, atol=1e-10,
                                   err_msg=name)


def test_flat_images_are_viewed_as_one_channel_28x28(rng):
    """(N, 784), as the MLP's data pipeline gives them, is (N, 1, 28, 28); the gradient comes
    back in the flat shape."""
    model = models.cnn(backend="numpy").double().eval()
    x0 = images(rng)
    flat = tensor(x0.reshape(2, 784), "numpy", requires_grad=True)
    out = model(flat)
    square = tensor(x0, "numpy", requires_grad=True)
    out_square = model(square)
    np.testing.assert_array_equal(host(out), host(out_square))
    out.sum().backward()
    out_square.sum().backward()
    np.testing.assert_array_equal(host(flat.grad), host(square.grad).reshape(2, 784))


def test_dropout_is_active_in_training_only(rng):
    model = models.cnn(backend="numpy").double()
    x = tensor(images(rng), "numpy")
    td.manual_seed(1)
    a, b = host(model(x)), host(model(x))
    assert not np.array_equal(a, b)  # fresh masks per call
    model.eval()
    np.testing.assert_array_equal(host(model(x)), host(model(x)))


def test_readme_cnn_program_runs(monkeypatch, rng):
    """The README's tinygrad_drop half of the side-by-side runs (one epoch of 200 images)."""
    from pathlib import Path

    from tinygrad_drop import data

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = text.split("## The seed's CNN", 1)[1].split("# tinygrad_drop\n", 1)[1]
    block = block.split("```", 1)[0]
    assert "range(12)" in block
    x = rng.random((200, 784), dtype=np.float32)
    y = rng.integers(0, 10, 200)
    monkeypatch.setattr(data, "mnist", lambda split: (x, y))
    scope = {}
    exec(compile(block.replace("range(12)", "range(1)"), "README.md", "exec"), scope)
    assert scope["opt"].state and all(np.isfinite(host(p)).all()
                                      for p in scope["model"].parameters())
