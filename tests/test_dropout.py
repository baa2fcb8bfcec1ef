"""Dropout done right: every claim of the founding material, on every backend.

Statistical tests state their confidence: bounds are 5 standard deviations, so each has a
false-failure probability below 6e-7.
"""

import math

import numpy as np
import pytest
from conftest import host, tensor
from special_values import check_certain_rates, check_like_torch, check_multiplied_by_mask

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from tinygrad_drop import Tensor, nn


def mask_of(y):
    """The boolean mask a training-mode dropout node saved, as a host array."""
    assert y.grad_fn is not None and y.grad_fn.name == "dropout"
    return td.backends.get(y.backend).to_numpy(y.grad_fn.mask())


# -- the node ---------------------------------------------------------------------------------
def test_dropout_is_one_graph_node_with_a_one_byte_boolean_mask(backend):
    x = Tensor.randn(64, 128, backend=backend, requires_grad=True)
    y = F.dropout(x, 0.3)
    node = y.grad_fn
    assert node.name == "dropout" and node.parents == (x,)
    assert node.attributes()["p"] == 0.3 and node.attributes()["mode"] == "inverted"
    assert node.attributes()["training"] is True
    mask = mask_of(y)
    assert mask.dtype == np.bool_ and mask.itemsize == 1 and mask.shape == x.shape
    dropped = node.attributes()["dropped"]
    assert dropped == pytest.approx(1 - mask.mean()) and 0.2 < dropped < 0.4


# -- the two conventions ----------------------------------------------------------------------
def test_keep_prob_is_the_other_spelling_of_p(backend):
    x = Tensor.randn(32, 32, backend=backend)
    td.manual_seed(3)
    by_rate = host(F.dropout(x, p=0.2))
    td.manual_seed(3)
    by_keep = host(F.dropout(x, keep_prob=0.8))
    np.testing.assert_array_equal(by_rate, by_keep)
    layer = nn.Dropout(keep_prob=0.8)
    assert layer.p == pytest.approx(0.2) and layer.keep_prob == 0.8


@pytest.mark.parametrize("call", [lambda x: F.dropout(x, p=0.2, keep_prob=0.8),
                                  lambda x: F.dropout(x, 0.5, keep_prob=0.5),
                                  lambda x: nn.Dropout(0.2, keep_prob=0.8)])
def test_giving_both_p_and_keep_prob_is_an_error(call, backend):
    with pytest.raises(ValueError, match="not both"):
        call(Tensor.ones(2, backend=backend))


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), float("inf")])
def test_p_outside_zero_one_is_a_value_error_showing_the_value(bad, backend):
    x = Tensor.ones(3, backend=backend)
    shown = repr(float(bad))
    with pytest.raises(ValueError, match=rf"p must be a probability in \[0, 1\], got {shown}"):
        F.dropout(x, bad)
    with pytest.raises(ValueError, match=rf"Dropout: p must .* got {shown}"):
        nn.Dropout(bad)
    with pytest.raises(ValueError, match=rf"keep_prob must .* got {shown}"):
        F.dropout(x, keep_prob=bad)
    with pytest.raises(ValueError, match="mode must be 'inverted' or 'vanilla', got 'scaled'"):
        F.dropout(x, 0.5, mode="scaled")


# -- the two modes ----------------------------------------------------------------------------
@pytest.mark.parametrize("p", [0.2, 0.5, 0.7])
def test_inverted_training_is_x_times_mask_over_keep_and_inference_is_identity(p, backend):
    x = Tensor.randn(50, 40, backend=backend, requires_grad=True)
    y = F.dropout(x, p)
    keep = np.float32(1 - p)
    expected = host(x) * mask_of(y) / keep
    np.testing.assert_array_equal(host(y), expected)
    assert F.dropout(x, p, training=False) is x


@pytest.mark.parametrize("p", [0.2, 0.5, 0.7])
def test_vanilla_training_is_x_times_mask_and_inference_scales_by_keep(p, backend):
    x = Tensor.randn(50, 40, backend=backend, requires_grad=True)
    y = F.dropout(x, p, mode="vanilla")
    np.testing.assert_array_equal(host(y), host(x) * mask_of(y))
    inference = F.dropout(x, p, training=False, mode="vanilla")
    np.testing.assert_array_equal(host(inference), host(x) * np.float32(1 - p))
    assert inference.grad_fn.attributes() == {"p": p, "mode": "vanilla", "training": False}
    inference.backward(Tensor.ones(50, 40, backend=backend))
    np.testing.assert_array_equal(host(x.grad), np.full((50, 40), np.float32(1 - p)))


@pytest.mark.parametrize("mode", ["inverted", "vanilla"])
def test_backward_is_exactly_grad_times_mask_over_keep(mode, backend, rng):
    p = 0.3
    x = Tensor(rng.standard_normal((40, 60)), dtype="float32", backend=backend,
               requires_grad=True)
    y = F.dropout(x, p, mode=mode)
    mask = mask_of(y)
    g = rng.standard_normal((40, 60)).astype(np.float32)
    y.backward(Tensor(g, backend=backend))
    expected = g * mask / np.float32(1 - p) if mode == "inverted" else g * mask
    np.testing.assert_array_equal(host(x.grad), expected)


@pytest.mark.parametrize("mode", ["inverted", "vanilla"])
def test_p_zero_is_the_identity_and_draws_no_random_numbers(mode, backend):
    x = Tensor.randn(10, backend=backend, requires_grad=True)
    td.manual_seed(9)
    assert F.dropout(x, 0.0, mode=mode) is x
    assert F.dropout(x, 0.0, training=False, mode=mode) is x
    after = host(Tensor.rand(5, backend=backend))
    td.manual_seed(9)
    np.testing.assert_array_equal(after, host(Tensor.rand(5, backend=backend)))


@pytest.mark.parametrize("mode", ["inverted", "vanilla"])
def test_p_one_gives_zeros_and_zero_gradients_never_nan(mode, backend):
    x = Tensor.randn(8, 4, backend=backend, requires_grad=True)
    y = F.dropout(x, 1.0, mode=mode)
    assert not np.isnan(host(y)).any() and np.all(host(y) == 0)
    y.sum().backward()
    assert np.all(host(x.grad) == 0) and not np.isnan(host(x.grad)).any()
    z = F.dropout(x, keep_prob=0.0, training=False, mode=mode)
    assert np.all(host(z) == 0) if mode == "vanilla" else z is x


@pytest.mark.parametrize("mode", ["inverted", "vanilla"])
def test_gradcheck_through_dropout_replays_the_mask(mode, backend, rng):
    x = tensor(rng.standard_normal((6, 7)), backend, requires_grad=True)
    w = tensor(rng.standard_normal((7, 3)), backend, requires_grad=True)
    assert td.gradcheck(lambda a, b: F.dropout(a @ b, 0.4, mode=mode).tanh(), [x, w])
    big = tensor(rng.standard_normal((30, 40)), backend, requires_grad=True)  # random directions
    assert td.gradcheck(lambda a: F.dropout(a, 0.5, mode=mode) * a, [big])


# -- train / eval -----------------------------------------------------------------------------
def test_dropout_module_follows_train_and_eval(backend):
    layer = nn.Dropout(0.5)
    x = Tensor.ones(1000, backend=backend)
    assert layer.training and set(np.unique(host(layer(x)))) == {0.0, 2.0}
    layer.eval()
    assert layer(x) is x
    layer.train()
    assert (host(layer(x)) == 0).any()
    vanilla = nn.Dropout(0.25, mode="vanilla").eval()
    np.testing.assert_array_equal(host(vanilla(x)), np.full(1000, 0.75, np.float32))


def test_per_layer_rates_drop_what_each_layer_asks(backend):
    model = nn.Sequential(nn.Linear(784, 256, backend=backend), nn.ReLU(), nn.Dropout(0.2),
                          nn.Linear(256, 256, backend=backend), nn.ReLU(), nn.Dropout(0.5),
                          nn.Linear(256, 10, backend=backend))
    x = Tensor.rand(512, 784, backend=backend)
    h1 = model[:3](x)
    h2 = model[3:6](h1)
    # 131 072 units per layer: sd of the dropped fraction <= 0.0014; bound 5 sd = 0.007
    assert abs(h1.grad_fn.dropped_fraction() - 0.2) < 0.007
    assert abs(h2.grad_fn.dropped_fraction() - 0.5) < 0.007
    assert model(x).shape == (512, 10)


def test_module_holds_exactly_the_rate_it_was_given_and_so_does_the_node(backend):
    x = Tensor.randn(40, 50, backend=backend, requires_grad=True)
    layer = nn.Dropout(0.3)
    assert layer.p == 0.3 and repr(layer.p) == "0.3"  # not 0.30000000000000004 (via 1 - 0.7)
    assert layer(x).grad_fn.attributes()["p"] == 0.3
    by_keep = nn.Dropout(keep_prob=0.7)
    assert by_keep.keep_prob == 0.7 and by_keep(x).grad_fn.keep == 0.7
    assert "p=0.3," in repr(layer)


def test_setting_p_keep_prob_or_mode_takes_effect_on_the_next_call(backend):
    x = Tensor.ones(1000, backend=backend, requires_grad=True)
    layer = nn.Dropout(0.5)
    layer.p = 0.0  # PyTorch users switch a layer off this way (model[2].p = 0.0)
    assert layer(x) is x and layer.keep_prob == 1.0
    layer.p = 1.0
    np.testing.assert_array_equal(host(layer(x)), np.zeros(1000, np.float32))
    layer.keep_prob = 0.25
    assert layer.p == 0.75 and set(np.unique(host(layer(x)))) == {0.0, 4.0}
    layer.mode = "vanilla"
    assert set(np.unique(host(layer(x)))) == {0.0, 1.0}
    layer.eval()
    np.testing.assert_array_equal(host(layer(x)), np.full(1000, 0.25, np.float32))
    with pytest.raises(ValueError, match=r"Dropout: p must be a probability in \[0, 1\], got 1.5"):
        layer.p = 1.5
    with pytest.raises(ValueError, match="Dropout: mode must be 'inverted' or 'vanilla'"):
        layer.mode = "scaled"
    assert layer.p == 0.75 and layer.mode == "vanilla"  # a refused value changes nothing


def test_module_draws_from_its_own_generator(backend):
    x = Tensor.ones(100, 100, backend=backend, requires_grad=True)
    layer = nn.Dropout(0.4, generator=td.generator(5, backend=backend))
    td.manual_seed(77)  # the global generator is not used
    expected = mask_of(F.dropout(x, 0.4, generator=td.generator(5, backend=backend)))
    np.testing.assert_array_equal(mask_of(layer(x)), expected)


# -- randomness -------------------------------------------------------------------------------
def test_same_seed_same_mask_next_call_new_mask(backend):
    x = Tensor.ones(200, 50, backend=backend, requires_grad=True)
    td.manual_seed(123)
    first, second = mask_of(F.dropout(x, 0.3)), mask_of(F.dropout(x, 0.3))
    td.manual_seed(123)
    np.testing.assert_array_equal(mask_of(F.dropout(x, 0.3)), first)
    assert (first != second).any()


def test_explicit_generator_overrides_the_global_one(backend):
    x = Tensor.ones(100, 100, backend=backend, requires_grad=True)
    a = mask_of(F.dropout(x, 0.4, generator=td.generator(5, backend=backend)))
    td.manual_seed(77)  # must not matter
    b = mask_of(F.dropout(x, 0.4, generator=td.generator(5, backend=backend)))
    np.testing.assert_array_equal(a, b)
    other = "strict" if backend != "strict" else "numpy"
    with pytest.raises(TypeError, match="generator of the input's backend"):
        F.dropout(x, 0.4, generator=td.generator(5, backend=other))


# -- statistics -------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [0.1, 0.2, 0.5, 0.8])
def test_drop_fraction_matches_p(p, backend):
    n = 1_000_000
    y = F.dropout(Tensor.ones(n, backend=backend), p)
    fraction = float((host(y) == 0).mean())
    assert abs(fraction - p) < 5 * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_inverted_dropout_preserves_the_mean(p, backend):
    n, value = 1_000_000, 3.0
    y = host(F.dropout(Tensor.ones(n, backend=backend, dtype="float64") * value, p))
    keep = 1 - p
    assert abs(y.mean() - value) < 5 * value * math.sqrt((1 - keep) / (keep * n))


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_vanilla_training_mean_equals_the_inference_output(p, backend, rng):
    x = tensor(rng.uniform(1, 2, 64), backend)
    samples = 4000
    total = sum(host(F.dropout(x, p, mode="vanilla")) for _ in range(samples))
    inference = host(F.dropout(x, p, training=False, mode="vanilla"))
    sd = host(x) * math.sqrt(p * (1 - p) / samples)  # per element
    assert np.all(np.abs(total / samples - inference) < 5 * sd)


def test_worked_example_2_4_6_8_with_keep_one_half(backend):
    x = tensor([2.0, 4.0, 6.0, 8.0], backend)
    samples = 20_000
    outputs = np.stack([host(F.dropout(x, keep_prob=0.5)) for _ in range(samples)])
    assert np.all((outputs == 0) | (outputs == 2 * host(x)))
    # mean of all outputs -> mean([2, 4, 6, 8]) = 5; sd = sqrt(sum(x^2) / (16 samples))
    assert abs(outputs.mean() - 5.0) < 5 * math.sqrt(120 / (16 * samples))


def test_arange_16_example_at_p_0_half_and_1(backend):
    X = Tensor.arange(16, backend=backend, dtype="float32").reshape(2, 8)
    np.testing.assert_array_equal(host(F.dropout(X, 0.0)), host(X))
    half = host(F.dropout(X, 0.5))
    assert np.all((half == 0) | (half == 2 * host(X)))
    assert (half[host(X) != 0] == 0).any() and (half != 0).any()
    np.testing.assert_array_equal(host(F.dropout(X, 1.0)), np.zeros((2, 8), np.float32))


def test_matches_pytorch_semantics(backend):
    torch = pytest.importorskip("torch")
    x_np = np.random.default_rng(0).standard_normal((300, 300)).astype(np.float32)
    x, xt = Tensor(x_np, backend=backend), torch.from_numpy(x_np)
    for p in (0.0, 1.0):
        np.testing.assert_array_equal(host(F.dropout(x, p)),
                                      torch.nn.functional.dropout(xt, p).numpy())
    np.testing.assert_array_equal(host(F.dropout(x, 0.3, training=False)),
                                  torch.nn.functional.dropout(xt, 0.3, training=False).numpy())
    ours = host(F.dropout(x, 0.3))
    theirs = torch.nn.functional.dropout(xt, 0.3).numpy()
    # Kept elements are x / 0.7 in both (PyTorch multiplies by 1/0.7: within 1 ulp).
    np.testing.assert_allclose(ours[ours != 0], x_np[ours != 0] / np.float32(0.7), rtol=0)
    np.testing.assert_allclose(theirs[theirs != 0], x_np[theirs != 0] / np.float32(0.7),
                               rtol=2e-7)


# -- NaN, inf and signed zeros: dropout multiplies by the mask, as PyTorch's does ---------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode", ["inverted", "vanilla"])
def test_nan_inf_and_negatives_are_multiplied_by_the_mask_forward_and_backward(mode, dtype,
                                                                                backend):
    # a dropped NaN or inf gives NaN (0 * inf), a dropped negative -0.0, in both directions
    check_multiplied_by_mask(lambda x: F.dropout(x, 0.5, mode=mode), mask_of, backend,
                             (30, 42), dtype, 0.5 if mode == "inverted" else 1.0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nan_inf_and_signed_zeros_equal_pytorchs_dropout_under_its_own_mask(dtype, backend):
    pytest.importorskip("torch")
    check_like_torch("dropout", mask_of, backend, (30, 42), dtype, 0.4)


@pytest.mark.parametrize("mode", ["inverted", "vanilla"])
def test_p_one_gives_zeros_even_for_nan_and_inf_and_p_zero_passes_them_through(mode, backend):
    # p = 1 is zeros by design (PyTorch gives NaN for NaN there); p = 0 is the identity
    check_certain_rates(lambda x, p: F.dropout(x, p, mode=mode), backend, (6, 7))


# -- Monte Carlo dropout ----------------------------------------------------------------------
def mc_model(backend):
    return nn.Sequential(nn.Linear(8, 32, backend=backend), nn.BatchNorm1d(32, backend=backend),
                         nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 4, backend=backend))


def test_mc_predict_samples_dropout_only_and_restores_modes(backend):
    model = mc_model(backend)
    x = Tensor.randn(16, 8, backend=backend)
    model(x)  # one training step's statistics
    bn = model[1]
    before = [host(bn.running_mean), host(bn.running_var), bn.num_batches_tracked.item()]
    mean, std = nn.mc_predict(model, x, samples=50)
    assert mean.shape == std.shape == (16, 4) and not mean.requires_grad
    assert (host(std) > 0).all()
    after = [host(bn.running_mean), host(bn.running_var), bn.num_batches_tracked.item()]
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(before[1], after[1])
    assert before[2] == after[2]
    assert all(m.training for m in model.modules())  # train mode restored
    model.eval()
    nn.mc_predict(model, x, samples=2)
    assert not any(m.training for m in model.modules())  # eval mode restored


def test_mc_predict_without_dropout_has_zero_spread_and_mean_near_inference(backend):
    model = mc_model(backend).eval()
    x = Tensor.randn(16, 8, backend=backend)
    plain = nn.Sequential(*[m for m in model if not isinstance(m, nn.Dropout)])
    mean, std = nn.mc_predict(plain, x, samples=3)
    np.testing.assert_array_equal(host(std), 0)
    np.testing.assert_allclose(host(mean), host(plain(x)), rtol=1e-6)
    mc_mean, _ = nn.mc_predict(model, x, samples=2000)
    # inverted dropout keeps the mean of the pre-activations; the linear head keeps it exactly
    assert np.abs(host(mc_mean) - host(model(x))).max() < 0.1


def test_mc_predict_records_no_graph_and_rejects_bad_samples(backend):
    model = mc_model(backend)
    x = Tensor.randn(4, 8, backend=backend, requires_grad=True)
    mean, _ = nn.mc_predict(model, x, samples=2)
    assert mean.grad_fn is None and td.is_grad_enabled()
    with pytest.raises(ValueError, match="samples must be a positive int, got 0"):
        nn.mc_predict(model, x, samples=0)


@pytest.mark.parametrize("keep", [0.0, 1.0])
def test_the_op_applied_directly_settles_certain_keep_without_drawing(keep, backend):
    from tinygrad_drop.ops.dropout import Dropout

    x = Tensor.randn(30, 20, backend=backend, requires_grad=True)
    td.manual_seed(4)
    y = Dropout.apply(x, p=1.0 - keep, keep=keep, mode="inverted", training=True)
    after = host(Tensor.rand(5, backend=backend))
    td.manual_seed(4)
    np.testing.assert_array_equal(after, host(Tensor.rand(5, backend=backend)))  # no draw
    np.testing.assert_array_equal(host(y), host(x) * keep)
    assert y.data is not x.data and y.grad_fn.dropped_fraction() == 1.0 - keep
    y.sum().backward()
    np.testing.assert_array_equal(host(x.grad), np.full((30, 20), keep, np.float32))
    with pytest.raises(ValueError, match="only a training pass with 0 < p < 1 draws a mask"):
        y.grad_fn.mask()
