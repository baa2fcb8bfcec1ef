"""The activation, loss and container modules against PyTorch: values and gradients in float64
and float32 (dtype included), printing, state_dict names, list editing, and errors."""

import inspect
import warnings

import numpy as np
import pytest
from conftest import host, tensor

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from tinygrad_drop import Tensor, nn

torch = pytest.importorskip("torch")

ACTIVATIONS = {
    "Tanh": lambda n: n.Tanh(),
    "GELU": lambda n: n.GELU(),
    "GELU-tanh": lambda n: n.GELU(approximate="tanh"),
    "SiLU": lambda n: n.SiLU(),
    "LeakyReLU": lambda n: n.LeakyReLU(),
    "LeakyReLU-0.2": lambda n: n.LeakyReLU(0.2),
    "ELU": lambda n: n.ELU(),
    "ELU-0.5": lambda n: n.ELU(alpha=0.5),
    "Softmax-1": lambda n: n.Softmax(dim=1),
    "Softmax--1": lambda n: n.Softmax(-1),
    "LogSoftmax-0": lambda n: n.LogSoftmax(dim=0),
    "LogSoftmax-2": lambda n: n.LogSoftmax(2),
    "Identity": lambda n: n.Identity(54, unused_argument=0.1),
    "ReLU": lambda n: n.ReLU(),
    "Sigmoid": lambda n: n.Sigmoid(),
}


@pytest.mark.parametrize("make", ACTIVATIONS.values(), ids=ACTIVATIONS.keys())
def test_activation_modules_match_pytorch_in_float64(make, backend, rng):
    x_np, g_np = rng.standard_normal((4, 5, 3)) * 3, rng.standard_normal((4, 5, 3))
    x, xt = tensor(x_np, backend, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    out, ref = make(nn)(x), make(torch.nn)(xt)
    assert out.dtype == "float64" and out.shape == tuple(ref.shape)
    np.testing.assert_allclose(host(out), ref.detach().numpy(), rtol=1e-12, atol=1e-14)
    out.backward(tensor(g_np, backend))
    ref.backward(torch.tensor(g_np))
    np.testing.assert_allclose(host(x.grad), xt.grad.numpy(), rtol=1e-10, atol=1e-13)
    np.testing.assert_array_equal(host(x), x_np)  # never in place


@pytest.mark.parametrize("make", ACTIVATIONS.values(), ids=ACTIVATIONS.keys())
def test_activation_modules_keep_float32_as_pytorch(make, backend, rng):
    x_np = (rng.standard_normal((6, 4, 2)) * 3).astype(np.float32)
    x = Tensor(x_np, backend=backend, requires_grad=True)
    out, ref = make(nn)(x), make(torch.nn)(torch.tensor(x_np))
    assert out.dtype == "float32" == str(ref.dtype).replace("torch.", "")
    np.testing.assert_allclose(host(out), ref.numpy(), rtol=2e-6, atol=2e-6)
    out.sum().backward()
    assert x.grad.dtype == "float32"


def test_inplace_is_accepted_and_the_input_left_unchanged(backend):
    x = tensor([-1.0, 2.0], backend)
    for module in (nn.ReLU(inplace=True), nn.SiLU(inplace=True), nn.ELU(inplace=True),
                   nn.LeakyReLU(0.5, inplace=True)):
        out = module(x)
        assert host(x).tolist() == [-1.0, 2.0] and host(out)[1] == pytest.approx(
            {"ReLU": 2.0, "SiLU": 2 / (1 + np.exp(-2)), "ELU": 2.0, "LeakyReLU": 2.0}[
                type(module).__name__])


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (2, 3, 2, 2)])
@pytest.mark.parametrize("name", ["Softmax", "LogSoftmax"])
def test_softmax_without_dim_takes_pytorchs_implicit_dim_and_warns(name, shape, rng):
    x_np = rng.standard_normal(shape)
    with pytest.warns(UserWarning, match="Implicit dimension choice for .*softmax"):
        out = getattr(nn, name)()(Tensor(x_np))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = getattr(torch.nn, name)()(torch.tensor(x_np))
    np.testing.assert_allclose(host(out), ref.numpy(), rtol=1e-12, atol=1e-14)


REPRS = [
    lambda n: n.Tanh(), lambda n: n.GELU(), lambda n: n.GELU("tanh"), lambda n: n.SiLU(),
    lambda n: n.SiLU(inplace=True), lambda n: n.LeakyReLU(), lambda n: n.LeakyReLU(0.2, True),
    lambda n: n.ELU(), lambda n: n.ELU(alpha=0.5), lambda n: n.Softmax(),
    lambda n: n.Softmax(dim=1), lambda n: n.LogSoftmax(-1), lambda n: n.Identity(),
    lambda n: n.ReLU(), lambda n: n.ReLU(inplace=True), lambda n: n.Sigmoid(),
    lambda n: n.CrossEntropyLoss(), lambda n: n.NLLLoss(), lambda n: n.BCELoss(),
    lambda n: n.BCEWithLogitsLoss(), lambda n: n.MSELoss(reduction="sum"),
    lambda n: n.Flatten(), lambda n: n.Flatten(0, 2), lambda n: n.Linear(3, 4),
    lambda n: n.Linear(3, 4, bias=False), lambda n: n.BatchNorm1d(4),
    lambda n: n.BatchNorm1d(4, momentum=None, affine=False), lambda n: n.BatchNorm1d(3, bias=False),
    lambda n: n.Sequential(n.Linear(2, 3), n.ModuleList([n.Linear(3, 3) for _ in range(3)]
                                                       + [n.ReLU(), n.ReLU(), n.Tanh()]),
                           n.Sequential(n.GELU()), n.ModuleList()),
]


@pytest.mark.parametrize("make", REPRS)
def test_modules_print_as_pytorchs(make):
    if "bias" not in inspect.signature(torch.nn.BatchNorm1d).parameters and "BatchNorm" in repr(
            make(nn)):
        pytest.skip("PyTorch before 2.13 prints batchnorm without bias=")
    assert repr(make(nn)) == repr(make(torch.nn))


LOSSES = {
    "ce": (lambda n, w: n.CrossEntropyLoss(), "classes"),
    "ce-weighted": (lambda n, w: n.CrossEntropyLoss(weight=w, ignore_index=1, reduction="mean",
                                                    label_smoothing=0.1), "classes"),
    "ce-sum": (lambda n, w: n.CrossEntropyLoss(w, reduction="sum", label_smoothing=0.2),
               "classes"),
    "ce-none": (lambda n, w: n.CrossEntropyLoss(reduction="none", ignore_index=0), "classes"),
    "ce-spatial": (lambda n, w: n.CrossEntropyLoss(weight=w), "spatial"),
    "ce-probabilities": (lambda n, w: n.CrossEntropyLoss(w, label_smoothing=0.1),
                         "probabilities"),
    "nll": (lambda n, w: n.NLLLoss(), "log_probabilities"),
    "nll-weighted": (lambda n, w: n.NLLLoss(weight=w, ignore_index=2), "log_probabilities"),
    "nll-none": (lambda n, w: n.NLLLoss(reduction="none"), "log_probabilities"),
    "bce": (lambda n, w: n.BCELoss(), "probabilities_binary"),
    "bce-weighted-sum": (lambda n, w: n.BCELoss(weight=w, reduction="sum"),
                         "probabilities_binary"),
    "bce-logits": (lambda n, w: n.BCEWithLogitsLoss(), "binary"),
    "bce-logits-pos-weight": (lambda n, w: n.BCEWithLogitsLoss(weight=w, pos_weight=w * 2),
                              "binary"),
    "bce-logits-none": (lambda n, w: n.BCEWithLogitsLoss(pos_weight=w, reduction="none"),
                        "binary"),
    "mse": (lambda n, w: n.MSELoss(), "regression"),
    "mse-sum": (lambda n, w: n.MSELoss(reduction="sum"), "regression"),
    "mse-none": (lambda n, w: n.MSELoss(reduction="none"), "regression"),
}


def loss_problem(kind, rng):
    """(input, target, whether the target is integer classes) for a problem of 6 samples and
    4 classes."""
    logits = rng.standard_normal((6, 4)) * 2
    classes = np.array([0, 1, 3, 2, 1, 3])
    probabilities = rng.dirichlet(np.ones(4), 6)
    if kind == "classes":
        return logits, classes
    if kind == "spatial":
        return rng.standard_normal((3, 4, 5)), rng.integers(0, 4, (3, 5))
    if kind == "probabilities":
        return logits, probabilities
    if kind == "log_probabilities":
        return logits - np.log(np.exp(logits).sum(1, keepdims=True)), classes
    if kind == "probabilities_binary":
        return 1 / (1 + np.exp(-logits)), rng.uniform(0, 1, (6, 4))
    if kind == "binary":
        return logits, rng.integers(0, 2, (6, 4)).astype(np.float64)
    return logits, rng.standard_normal((6, 4))


@pytest.mark.parametrize("make, kind", LOSSES.values(), ids=LOSSES.keys())
def test_loss_modules_match_pytorch(make, kind, backend, rng):
    x_np, target_np = loss_problem(kind, rng)
    w_np = rng.uniform(0.5, 2.0, 4)
    x, xt = tensor(x_np, backend, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    target = Tensor(target_np, backend=backend)
    ours = make(nn, tensor(w_np, backend))(x, target)
    theirs = make(torch.nn, torch.tensor(w_np))(xt, torch.tensor(target_np))
    assert ours.shape == tuple(theirs.shape) and ours.dtype == "float64"
    np.testing.assert_allclose(host(ours), theirs.detach().numpy(), rtol=1e-12, atol=1e-14)
    g_np = rng.standard_normal(ours.shape)
    ours.backward(tensor(g_np, backend))
    theirs.backward(torch.tensor(g_np))
    np.testing.assert_allclose(host(x.grad), xt.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_loss_weights_are_buffers_with_pytorchs_names_and_move_with_the_module(backend):
    w = tensor([1.0, 2.0, 3.0], backend)
    for make in (lambda n, w: n.CrossEntropyLoss(weight=w), lambda n, w: n.NLLLoss(w),
                 lambda n, w: n.BCELoss(w), lambda n, w: n.BCEWithLogitsLoss(pos_weight=w),
                 lambda n, w: n.BCEWithLogitsLoss(w, pos_weight=w), lambda n, w: n.MSELoss(),
                 lambda n, w: n.CrossEntropyLoss()):
        ours, theirs = make(nn, w), make(torch.nn, torch.tensor(host(w)))
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    loss = nn.CrossEntropyLoss(weight=w)
    other = "numpy" if backend != "numpy" else "strict"
    assert loss.to(other).weight.backend == other
    assert w.backend == backend and loss.weight is not w  # as PyTorch: the buffer is replaced
    assert loss(Tensor.zeros(2, 3, backend=other, dtype="float64"), [0, 2]).item() == (
        pytest.approx(np.log(3)))
    w32 = Tensor([1.0, 2.0, 3.0], backend=backend)
    loss = nn.CrossEntropyLoss(weight=w32)
    assert loss.double().weight.dtype == td.float64 and w32.dtype == td.float32  # was float64
    assert loss.float().weight.dtype == td.float32 and w32.dtype == td.float32


def test_loss_argument_errors():
    with pytest.raises(ValueError, match="CrossEntropyLoss: reduction must be 'mean', 'sum' or "
                                         "'none', got 'avg'"):
        nn.CrossEntropyLoss(reduction="avg")
    with pytest.raises(ValueError, match="MSELoss: reduction must be"):
        nn.MSELoss(reduction="elementwise_mean")
    with pytest.raises(TypeError, match=r"cannot assign 'list' object to buffer 'weight' "
                                        r"\(Tensor or None required\)"):
        nn.CrossEntropyLoss(weight=[1.0, 2.0])
    with pytest.raises(ValueError, match="label_smoothing must be in \\[0, 1\\], got 1.5"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match="GELU: approximate must be 'none' or 'tanh', got 'x'"):
        nn.GELU("x")


@pytest.mark.parametrize("size_average", [None, True, False])
@pytest.mark.parametrize("reduce", [None, True, False])
def test_deprecated_size_average_and_reduce_read_as_pytorch_reads_them(size_average, reduce):
    if size_average is None and reduce is None:
        assert nn.MSELoss().reduction == "mean"
        return
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        ours = nn.BCELoss(None, size_average, reduce)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch.nn.BCELoss(None, size_average, reduce)
    assert ours.reduction == theirs.reduction
    with pytest.warns(UserWarning):  # the positions of PyTorch's arguments, not just names
        assert nn.CrossEntropyLoss(None, size_average, 3, reduce).ignore_index == 3


def warning_lines(action):
    """(file, line) of every warning ``action`` raises."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        action()
    return [(w.filename, w.lineno) for w in caught]


def test_warnings_point_at_the_users_line():
    """nn.Softmax's implicit-dim warning and the size_average warning of a _WeightedLoss
    subclass pointed into the library (module.py, losses.py)."""
    x = Tensor([[1.0, 2.0]])
    here = __file__
    model = nn.Sequential(nn.Linear(2, 2), nn.Softmax())
    checks = [
        lambda: nn.Softmax()(x),
        lambda: nn.LogSoftmax()(x),
        lambda: model(x),
        lambda: F.softmax(x),
        lambda: nn.CrossEntropyLoss(size_average=False),
        lambda: nn.BCELoss(reduce=False),
        lambda: nn.MSELoss(size_average=True),
        lambda: F.mse_loss(Tensor([[1.0, 2.0]]), Tensor([1.0, 2.0])),
        lambda: nn.MSELoss()(Tensor([[1.0, 2.0]]), Tensor([1.0, 2.0])),
    ]
    for check in checks:
        line = check.__code__.co_firstlineno  # each lambda sits on its own line
        assert warning_lines(check) == [(here, line)]


@pytest.mark.parametrize("sizes", [(0, 3), (3, 0), (0, 0)])
def test_linear_with_no_inputs_or_outputs_works_with_pytorchs_warning(backend, sizes):
    """Bug: nn.Linear(0, 3) raised ZeroDivisionError in kaiming_uniform_."""
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        theirs = torch.nn.Linear(*sizes)
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        ours = nn.Linear(*sizes, backend=backend)
    assert ours.weight.shape == tuple(theirs.weight.shape) and ours.weight.requires_grad
    assert host(ours.bias).tolist() == theirs.bias.tolist()  # bound 0 without inputs
    x = np.ones((2, sizes[0]), np.float32)
    out = ours(Tensor(x, backend=backend))
    assert host(out).tolist() == theirs(torch.tensor(x)).tolist()
