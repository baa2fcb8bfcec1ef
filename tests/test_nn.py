"""Layers and modules: linear and batch norm against finite differences and PyTorch, module
bookkeeping (names, modes, gradients), initialisation statistics."""

import math

import numpy as np
import pytest
from conftest import host, tensor

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from tinygrad_drop import Tensor, nn


def test_linear_is_one_node_checked_by_gradcheck(backend, rng):
    x = tensor(rng.standard_normal((5, 4)), backend, requires_grad=True)
    w = tensor(rng.standard_normal((3, 4)), backend, requires_grad=True)
    b = tensor(rng.standard_normal(3), backend, requires_grad=True)
    y = F.linear(x, w, b)
    assert y.grad_fn.name == "linear" and y.grad_fn.attributes() == {
        "in_features": 4, "out_features": 3}
    assert td.gradcheck(F.linear, [x, w, b]) and td.gradcheck(F.linear, [x, w])
    x3 = tensor(rng.standard_normal((2, 5, 4)), backend, requires_grad=True)
    assert td.gradcheck(F.linear, [x3, w, b])


def test_linear_matches_pytorch(backend, rng):
    torch = pytest.importorskip("torch")
    arrays = [rng.standard_normal(s) for s in ((6, 4), (3, 4), (3,))]
    ours = [tensor(a, backend, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    g = rng.standard_normal((6, 3))
    out, ref = F.linear(*ours), torch.nn.functional.linear(*theirs)
    np.testing.assert_allclose(host(out), ref.detach().numpy(), rtol=1e-12)
    out.backward(tensor(g, backend))
    ref.backward(torch.tensor(g))
    for a, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(host(a.grad), t.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_linear_shape_errors_name_both_shapes(backend):
    with pytest.raises(ValueError, match=r"linear: input of shape \(2, 5\) does not fit weight "
                                         r"of shape \(3, 4\)"):
        F.linear(Tensor.zeros(2, 5, backend=backend), Tensor.zeros(3, 4, backend=backend))


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5), (3, 3, 2, 4)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck(shape, training, backend, rng):
    x = tensor(rng.standard_normal(shape), backend, requires_grad=True)
    w = tensor(rng.uniform(0.5, 2, 3), backend, requires_grad=True)
    b = tensor(rng.standard_normal(3), backend, requires_grad=True)
    rm, rv = tensor(rng.standard_normal(3), backend), tensor(rng.uniform(0.5, 2, 3), backend)
    assert td.gradcheck(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=training),
                        [x, w, b])


@pytest.mark.parametrize("shape", [(16, 5), (6, 5, 7)])
def test_batchnorm1d_matches_pytorch_in_training_and_inference(shape, backend, rng):
    torch = pytest.importorskip("torch")
    ours = nn.BatchNorm1d(5, dtype="float64", backend=backend)
    theirs = torch.nn.BatchNorm1d(5, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(rng.uniform(0.5, 2, 5)))
        theirs.bias.copy_(torch.tensor(rng.standard_normal(5)))
    ours.weight.data = td.backends.get(backend).asarray(theirs.weight.detach().numpy().copy())
    ours.bias.data = td.backends.get(backend).asarray(theirs.bias.detach().numpy().copy())
    for step in range(3):  # three training steps: outputs, grads and running statistics
        x_np = rng.standard_normal(shape) * 3 + step
        g_np = rng.standard_normal(shape)
        x, xt = tensor(x_np, backend, requires_grad=True), torch.tensor(x_np, requires_grad=True)
        out, ref = ours(x), theirs(xt)
        np.testing.assert_allclose(host(out), ref.detach().numpy(), rtol=1e-10, atol=1e-10)
        out.backward(tensor(g_np, backend))
        ref.backward(torch.tensor(g_np))
        np.testing.assert_allclose(host(x.grad), xt.grad.numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(host(ours.weight.grad), theirs.weight.grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(host(ours.bias.grad), theirs.bias.grad.numpy(), rtol=1e-10)
        ours.zero_grad()
        theirs.zero_grad()
    np.testing.assert_allclose(host(ours.running_mean), theirs.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(host(ours.running_var), theirs.running_var.numpy(), rtol=1e-12)
    assert ours.num_batches_tracked.item() == theirs.num_batches_tracked.item() == 3
    ours.eval()
    theirs.eval()
    x_np = rng.standard_normal(shape)
    np.testing.assert_allclose(host(ours(tensor(x_np, backend))),
                               theirs(torch.tensor(x_np)).detach().numpy(), rtol=1e-10,
                               atol=1e-12)


@pytest.mark.parametrize("shape", [(6, 4, 5, 3), (3, 4, 2, 3, 2)])
def test_functional_batch_norm_over_n_c_star_matches_pytorch(shape, backend, rng):
    torch = pytest.importorskip("torch")
    x_np, g_np = rng.standard_normal(shape) * 2 + 1, rng.standard_normal(shape)
    w_np, b_np = rng.uniform(0.5, 2, 4), rng.standard_normal(4)
    ours = [tensor(a, backend, requires_grad=True) for a in (x_np, w_np, b_np)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x_np, w_np, b_np)]
    stats = [tensor(np.zeros(4), backend), tensor(np.ones(4), backend)]
    ref_stats = [torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)]
    out = F.batch_norm(ours[0], *stats, ours[1], ours[2], training=True, momentum=0.3)
    ref = torch.nn.functional.batch_norm(theirs[0], *ref_stats, theirs[1], theirs[2],
                                         training=True, momentum=0.3)
    np.testing.assert_allclose(host(out), ref.detach().numpy(), rtol=1e-10, atol=1e-10)
    out.backward(tensor(g_np, backend))
    ref.backward(torch.tensor(g_np))
    for mine, reference in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(host(mine.grad), reference.grad.numpy(), rtol=1e-10,
                                   atol=1e-10)
    for mine, reference in zip(stats, ref_stats, strict=True):  # updated in place, as PyTorch
        np.testing.assert_allclose(host(mine), reference.numpy(), rtol=1e-12)
    inference = F.batch_norm(ours[0], *stats, ours[1], ours[2])
    ref_inference = torch.nn.functional.batch_norm(theirs[0], *ref_stats, theirs[1], theirs[2])
    np.testing.assert_allclose(host(inference), ref_inference.detach().numpy(), rtol=1e-10,
                               atol=1e-10)


def test_batch_norm_op_returns_new_running_statistics_and_writes_nothing(backend):
    from tinygrad_drop.ops.norm import BatchNorm

    x = tensor([[1.0], [3.0]], backend, requires_grad=True)  # mean 2, unbiased var 2
    running_mean, running_var = tensor([0.0], backend), tensor([1.0], backend)
    before = (running_mean.data, host(running_mean), host(running_var))
    out, new_mean, new_var = BatchNorm.apply(x, training=True, momentum=0.1,
                                             running_mean=running_mean.data,
                                             running_var=running_var.data)
    assert running_mean.data is before[0]
    np.testing.assert_array_equal(host(running_mean), before[1])
    np.testing.assert_array_equal(host(running_var), before[2])
    assert host(new_mean).tolist() == pytest.approx([0.2])
    assert host(new_var).tolist() == pytest.approx([0.9 + 0.2])
    assert not new_mean.requires_grad and out.grad_fn.name == "batch_norm"
    _, none_mean, none_var = BatchNorm.apply(x, training=False, running_mean=running_mean.data,
                                             running_var=running_var.data)
    assert none_mean is None and none_var is None  # inference updates nothing


def test_batchnorm1d_refuses_4d_input_that_functional_batch_norm_takes(backend):
    x = Tensor.randn(2, 3, 4, 4, backend=backend)
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected input of shape \(N, C\) or "
                                         r"\(N, C, L\), got \(2, 3, 4, 4\)"):
        nn.BatchNorm1d(3, backend=backend)(x)
    assert F.batch_norm(x, None, None, training=True).shape == (2, 3, 4, 4)


def test_batchnorm_running_statistics_by_hand(backend):
    bn = nn.BatchNorm1d(1, dtype="float64", backend=backend)
    bn(tensor([[1.0], [3.0]], backend))  # mean 2, biased var 1, unbiased var 2
    assert host(bn.running_mean).tolist() == pytest.approx([0.9 * 0 + 0.1 * 2])
    assert host(bn.running_var).tolist() == pytest.approx([0.9 * 1 + 0.1 * 2])
    cumulative = nn.BatchNorm1d(1, momentum=None, dtype="float64", backend=backend)
    cumulative(tensor([[1.0], [3.0]], backend))
    cumulative(tensor([[5.0], [9.0]], backend))  # means 2 and 7 -> cumulative average 4.5
    assert host(cumulative.running_mean).tolist() == pytest.approx([4.5])


def test_batchnorm_counts_batches_in_the_same_array(backend):
    """num_batches_tracked, like the running statistics, is updated in place: a step captured
    by td.jit replays its kernels on fixed arrays, so a counter rebound to a new array each step
    would stop counting after the capture."""
    bn = nn.BatchNorm1d(2, backend=backend)
    counter = bn.num_batches_tracked.data
    running = bn.running_mean.data, bn.running_var.data
    for _ in range(3):
        bn(tensor([[1.0, 2.0], [3.0, 5.0]], backend))
    assert bn.num_batches_tracked.data is counter and bn.num_batches_tracked.item() == 3
    assert bn.running_mean.data is running[0] and bn.running_var.data is running[1]


def test_batchnorm_training_batch_of_one_is_an_error(backend):
    with pytest.raises(ValueError, match=r"more than 1 value per channel when training.*\(1, 4\)"):
        nn.BatchNorm1d(4, backend=backend)(Tensor.ones(1, 4, backend=backend))
    bn = nn.BatchNorm1d(4, backend=backend).eval()
    assert bn(Tensor.ones(1, 4, backend=backend)).shape == (1, 4)  # inference is fine


def test_batchnorm_without_running_stats_always_uses_the_batch(backend):
    bn = nn.BatchNorm1d(2, track_running_stats=False, affine=False, backend=backend).eval()
    out = host(bn(Tensor([[1.0, 10.0], [3.0, 30.0]], backend=backend)))
    np.testing.assert_allclose(out, [[-1, -1], [1, 1]], rtol=1e-4)
    assert list(dict(bn.named_buffers())) == [] and list(bn.parameters()) == []


def test_module_names_modes_and_gradients(backend):
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 4, backend=backend),
                          nn.BatchNorm1d(4, backend=backend), nn.ReLU(), nn.Dropout(0.5),
                          nn.Linear(4, 2, bias=False, backend=backend))
    assert [n for n, _ in model.named_parameters()] == [
        "1.weight", "1.bias", "2.weight", "2.bias", "5.weight"]
    assert [n for n, _ in model.named_buffers()] == [
        "2.running_mean", "2.running_var", "2.num_batches_tracked"]
    assert len(model) == 6 and isinstance(model[1], nn.Linear) and len(model[1:3]) == 2
    assert [type(m).__name__ for m in model][:2] == ["Flatten", "Linear"]
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    out = model(Tensor.randn(8, 2, 3, backend=backend))
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    assert "Dropout(p=0.5, mode='inverted')" in repr(model)


def test_module_attributes_are_registered_and_replaced():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.bias = None
            self.bias = Tensor.zeros(3, requires_grad=True)  # a parameter now
            self.head = nn.Linear(3, 1)

    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["bias", "head.weight", "head.bias"]
    assert net.bias.shape == (3,) and list(net.children()) == [net.head]


def test_linear_default_initialisation_bounds(backend):
    layer = nn.Linear(400, 300, backend=backend)
    w, b = host(layer.weight), host(layer.bias)
    bound = 1 / math.sqrt(400)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # uniform on [-bound, bound]: sd of the sample sd over 120 000 values is ~0.2% of bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    assert layer.weight.requires_grad and layer.weight.dtype_name == "float32"


def test_init_functions(backend):
    t = Tensor.zeros(200, 500, backend=backend)
    nn.init.normal_(t, mean=1.0, std=0.01)
    values = host(t)
    assert abs(values.mean() - 1.0) < 5 * 0.01 / math.sqrt(100_000)
    assert abs(values.std() - 0.01) < 0.0005
    nn.init.kaiming_uniform_(t, a=0)
    assert np.abs(host(t)).max() <= math.sqrt(6 / 500)
    nn.init.zeros_(t)
    assert not host(t).any()


def test_mse_loss(backend):
    a = tensor([1.0, 2.0, 3.0], backend, requires_grad=True)
    loss = F.mse_loss(a, tensor([1.0, 0.0, 0.0], backend))
    assert loss.item() == pytest.approx((0 + 4 + 9) / 3)
    loss.backward()
    assert host(a.grad).tolist() == pytest.approx([0.0, 4 / 3, 2.0])
    with pytest.raises(ValueError, match=r"mse_loss: input shape \(3,\) and target shape \(2,\)"):
        F.mse_loss(a, tensor([1.0, 2.0], backend))


def test_cross_entropy_errors_name_the_problem(backend):
    z = Tensor.zeros(3, 4, backend=backend)
    # read: on a device backend the error comes at the next read (docs/api.md)
    with pytest.raises(ValueError, match="target 4 is out of range for 4 classes"):
        F.cross_entropy(z, [0, 4, 1]).item()
    with pytest.raises(ValueError, match="target -1 is out of range"):
        F.cross_entropy(z, [0, -1, 1]).item()
    with pytest.raises(TypeError, match="integer class indices"):
        F.cross_entropy(z, Tensor([0.0, 1.0, 2.0], backend=backend))
    with pytest.raises(ValueError, match=r"logits \(3, 4\) and target \(2,\)"):
        F.cross_entropy(z, [0, 1])
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none'"):
        F.cross_entropy(z, [0, 1, 2], reduction="avg")


def test_l1_penalty_is_the_sum_of_absolute_weights(backend):
    a = tensor([[1.0, -2.0]], backend, requires_grad=True)
    b = tensor([-3.0, 0.0], backend, requires_grad=True)
    penalty = F.l1_penalty([a, b])
    assert penalty.item() == 6.0
    penalty.backward()
    assert host(a.grad).tolist() == [[1.0, -1.0]] and host(b.grad).tolist() == [-1.0, 0.0]


def torch_twin(torch, dtype):
    """The same architecture in PyTorch: 3 linear layers, batchnorm and dropout."""
    return torch.nn.Sequential(
        torch.nn.Linear(12, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(), torch.nn.Dropout(0.0),
        torch.nn.Linear(16, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(), torch.nn.Dropout(0.0),
        torch.nn.Linear(16, 3)).to(dtype)


def our_twin(backend, dtype="float64"):
    return nn.Sequential(
        nn.Linear(12, 16, dtype=dtype, backend=backend), nn.BatchNorm1d(16, dtype=dtype,
                                                                        backend=backend),
        nn.ReLU(), nn.Dropout(0.0),
        nn.Linear(16, 16, dtype=dtype, backend=backend), nn.BatchNorm1d(16, dtype=dtype,
                                                                        backend=backend),
        nn.ReLU(), nn.Dropout(0.0), nn.Linear(16, 3, dtype=dtype, backend=backend))


def test_state_dict_has_pytorchs_keys_in_pytorchs_order(backend):
    torch = pytest.importorskip("torch")
    ours = our_twin(backend).state_dict()
    theirs = torch_twin(torch, torch.float64).state_dict()
    assert list(ours) == list(theirs)
    assert all(isinstance(v, np.ndarray) for v in ours.values())
    assert ours["1.num_batches_tracked"].dtype == np.int64


def test_pytorch_state_dict_loads_and_gives_the_same_outputs(backend, rng):
    torch = pytest.importorskip("torch")
    theirs = torch_twin(torch, torch.float64)
    x_np = rng.standard_normal((32, 12))
    theirs(torch.tensor(x_np))  # give the running statistics values of their own
    ours = our_twin(backend)
    assert ours.load_state_dict(theirs.state_dict()) == ([], [])
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(host(ours(tensor(x_np, backend))),
                               theirs(torch.tensor(x_np)).detach().numpy(), rtol=1e-12,
                               atol=1e-12)


def test_load_state_dict_validates_everything_before_changing_anything(backend):
    model = our_twin(backend)
    before = model.state_dict()
    good = {k: v.copy() for k, v in before.items()}
    cases = [
        ({**good, "4.weight": np.zeros((16, 15))}, ValueError,
         r"'4.weight' has shape \(16, 15\), the model expects \(16, 16\)"),
        ({**good, "8.bias": np.zeros(3, np.float32)}, TypeError,
         "'8.bias' has dtype float32, the model expects float64"),
        ({k: v for k, v in good.items() if k != "5.running_var"}, KeyError,
         'Missing key\\(s\\) in state_dict: "5.running_var".'),
        ({**good, "9.weight": np.zeros(3)}, KeyError,
         'Unexpected key\\(s\\) in state_dict: "9.weight".'),
        ({**good, "0.bias": [0.0] * 16}, TypeError, "'0.bias' is a list, not an array"),
    ]
    for i, (state, error, message) in enumerate(cases):
        if i == 0:  # make the bad entry come after good ones, which must not be applied
            state["0.weight"] = np.full((16, 12), 7.0)
        with pytest.raises(error, match=message):
            model.load_state_dict(state)
        for name, value in model.state_dict().items():
            np.testing.assert_array_equal(value, before[name])


def test_load_state_dict_non_strict_reports_the_differences(backend):
    model = our_twin(backend)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("8.")}
    state["extra"] = np.zeros(1)
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["8.weight", "8.bias"] and result.unexpected_keys == ["extra"]


def test_activation_and_flatten_modules_and_functions(backend):
    x = tensor([[-2.0, 0.0], [1.0, 3.0]], backend)
    relu = [[0.0, 0.0], [1.0, 3.0]]
    sigmoid = (1 / (1 + np.exp(-host(x)))).tolist()
    assert host(nn.ReLU()(x)).tolist() == relu and host(F.relu(x)).tolist() == relu
    np.testing.assert_allclose(host(nn.Sigmoid()(x)), sigmoid, rtol=1e-15)
    np.testing.assert_allclose(host(F.sigmoid(x)), sigmoid, rtol=1e-15)
    assert nn.Flatten()(Tensor.zeros(2, 3, 4, backend=backend)).shape == (2, 12)
    assert nn.Flatten(0)(Tensor.zeros(2, 3, backend=backend)).shape == (6,)
    with pytest.raises(TypeError, match="relu: expected a Tensor, got list"):
        F.relu([1.0])
