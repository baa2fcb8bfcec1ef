"""Spatial dropout (F.dropout2d, nn.Dropout2d): one draw per (sample, channel), on every backend.

Statistical tests state their confidence: bounds are 5 standard deviations, so each has a
false-failure probability below 6e-7.
"""

import math
import warnings

import numpy as np
import pytest
from conftest import host, tensor
from special_values import check_certain_rates, check_like_torch, check_multiplied_by_mask

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from tinygrad_drop import Tensor, nn
from tinygrad_drop.backends import philox


def channel_mask(y):
    """The (N, C) boolean keep-mask a training-mode dropout2d node saved, as a host array."""
    assert y.grad_fn is not None and y.grad_fn.name == "dropout2d"
    return td.backends.get(y.backend).to_numpy(y.grad_fn.mask())


# -- the node ---------------------------------------------------------------------------------
def test_one_node_whole_channels_and_a_one_byte_per_channel_mask(backend, rng):
    x = tensor(rng.uniform(1, 2, (8, 16, 5, 6)), backend, requires_grad=True)
    y = F.dropout2d(x, 0.3)
    node = y.grad_fn
    assert node.parents == (x,) and y.shape == x.shape
    attrs = node.attributes()
    assert attrs["p"] == 0.3 and attrs["mode"] == "inverted" and attrs["training"] is True
    mask = channel_mask(y)
    assert mask.dtype == np.bool_ and mask.shape == (8, 16) and mask.nbytes == 8 * 16
    assert node.saved.size == 8 * 16  # what backward keeps: N*C bytes
    out = host(y)
    np.testing.assert_array_equal(out, host(x) * mask[:, :, None, None] / 0.7)
    assert attrs["dropped"] == pytest.approx(1 - mask.mean())
    assert node.describe() == ["dropout2d", "p=0.3, inverted",
                               f"train: dropped {1 - mask.mean():.1%} of channels"]


def test_exact_values_from_a_fixed_seed_are_one_bernoulli_draw_per_channel(backend):
    # The mask is the generator's Bernoulli draw of shape (N, C), broadcast over H and W.
    x = Tensor.ones(4, 5, 3, 3, backend=backend, dtype="float64", requires_grad=True)
    y = F.dropout2d(x, 0.5, generator=td.generator(2024, backend=backend))
    be = td.backends.get(backend)
    mask = be.to_numpy(td.generator(2024, backend=backend).bernoulli_mask((4, 5), 0.5))
    assert 0 < mask.sum() < mask.size  # this seed keeps some channels and drops others
    np.testing.assert_array_equal(host(y), np.broadcast_to(2.0 * mask[:, :, None, None],
                                                           y.shape))
    y.backward(Tensor.ones(*y.shape, backend=backend, dtype="float64"))
    np.testing.assert_array_equal(host(x.grad), host(y))  # grad = mask / keep = y here


def test_the_draw_advances_the_generator_exactly_as_an_n_by_c_mask_does(backend):
    # dropout2d's draw is the generator's (N, C) draw: what follows it is the same either way
    x = Tensor.ones(3, 5, 4, 4, backend=backend, requires_grad=True)
    be = td.backends.get(backend)
    ours, theirs = td.generator(11, backend=backend), td.generator(11, backend=backend)
    mask = channel_mask(F.dropout2d(x, 0.5, generator=ours))
    np.testing.assert_array_equal(mask, be.to_numpy(theirs.bernoulli_mask((3, 5), 0.5)))
    np.testing.assert_array_equal(be.to_numpy(ours.bernoulli_mask((7, 9), 0.3)),
                                  be.to_numpy(theirs.bernoulli_mask((7, 9), 0.3)))


@pytest.mark.parametrize("shape", [(6, 5, 3, 7), (4, 3, 1, 1), (5, 7, 9), (2, 3, 0, 4)])
def test_a_philox_generator_on_numpy_draws_the_philox_streams_n_by_c_mask(shape):
    # The CPU side of the CuPy backend's fused kernel: the same channels for the same seed
    x_host = np.random.default_rng(2).uniform(1, 2, shape)
    generator = philox.PhiloxGenerator(31)
    generator.bernoulli_mask((4,), 0.5)  # offset 1 for the call below
    x = Tensor(x_host, backend="numpy", requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # (N, C, L): PyTorch's 3-D warning
        y = F.dropout2d(x, 0.25, generator=generator)
    mask = philox.dropout_mask(31, 1, shape[:2], 0.75)
    np.testing.assert_array_equal(channel_mask(y), mask)
    assert generator.offset == 2
    kept = np.reshape(mask, shape[:2] + (1,) * (len(shape) - 2))
    np.testing.assert_array_equal(y.numpy(), np.where(kept, x_host / 0.75, 0))
    y.backward(Tensor.ones(*shape, backend="numpy", dtype="float64"))
    np.testing.assert_array_equal(x.grad.numpy(), np.broadcast_to(kept / 0.75, shape))


def test_a_generator_of_another_backend_is_a_type_error_naming_dropout2d():
    with pytest.raises(TypeError, match="dropout2d: the generator makes ndarray masks, not "
                                        "'strict' arrays"):
        F.dropout2d(Tensor.ones(2, 3, 4, 4, backend="strict"), 0.5,
                    generator=philox.PhiloxGenerator(0))


@pytest.mark.parametrize("mode", ["inverted", "vanilla"])
def test_backward_is_grad_times_channel_mask_over_divisor(mode, backend, rng):
    x = tensor(rng.standard_normal((3, 6, 4, 4)), backend, requires_grad=True)
    y = F.dropout2d(x, 0.4, mode=mode)
    mask = channel_mask(y)[:, :, None, None]
    upstream = rng.standard_normal(y.shape)
    y.backward(tensor(upstream, backend))
    divisor = 0.6 if mode == "inverted" else 1.0
    np.testing.assert_allclose(host(x.grad), upstream * mask / divisor, rtol=1e-15, atol=0)


@pytest.mark.parametrize("mode", ["inverted", "vanilla"])
def test_gradcheck_replays_the_mask(mode, backend, rng):
    x = tensor(rng.standard_normal((2, 5, 3, 3)), backend, requires_grad=True)
    assert td.gradcheck(lambda a: F.dropout2d(a, 0.5, mode=mode), [x])


# -- conventions, modes, edge cases -----------------------------------------------------------
def test_keep_prob_is_the_other_spelling_of_p(backend):
    x = Tensor.randn(6, 8, 2, 2, backend=backend)
    td.manual_seed(3)
    a = host(F.dropout2d(x, 0.25))
    td.manual_seed(3)
    b = host(F.dropout2d(x, keep_prob=0.75))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kwargs, match", [
    (dict(p=0.3, keep_prob=0.7), "not both"),
    (dict(p=1.5), r"dropout2d: p must be a probability in \[0, 1\], got 1.5"),
    (dict(keep_prob=-0.1), "keep_prob must be a probability"),
    (dict(mode="spatial"), "mode must be 'inverted' or 'vanilla', got 'spatial'"),
])
def test_bad_rates_and_modes_are_value_errors_naming_the_value(kwargs, match, backend):
    with pytest.raises(ValueError, match=match):
        F.dropout2d(Tensor.ones(2, 3, 4, 4, backend=backend), **kwargs)


@pytest.mark.parametrize("mode", ["inverted", "vanilla"])
def test_p_zero_returns_the_input_and_draws_nothing(mode, backend):
    x = Tensor.randn(2, 3, 4, 4, backend=backend, requires_grad=True)
    td.manual_seed(9)
    assert F.dropout2d(x, 0.0, mode=mode) is x
    after = host(F.dropout(Tensor.ones(50, backend=backend), 0.5))
    td.manual_seed(9)
    np.testing.assert_array_equal(host(F.dropout(Tensor.ones(50, backend=backend), 0.5)), after)


@pytest.mark.parametrize("mode", ["inverted", "vanilla"])
def test_p_one_gives_zeros_and_zero_gradients_never_nan(mode, backend):
    x = Tensor.randn(2, 3, 4, 4, backend=backend, requires_grad=True)
    y = F.dropout2d(x, 1.0, mode=mode)
    y.sum().backward()
    assert not host(y).any() and not np.isnan(host(y)).any()
    assert not host(x.grad).any() and not np.isnan(host(x.grad)).any()
    assert y.grad_fn.attributes()["dropped"] == 1.0


def test_inference_inverted_is_identity_and_vanilla_scales_by_keep(backend, rng):
    x = tensor(rng.standard_normal((2, 3, 2, 2)), backend, requires_grad=True)
    assert F.dropout2d(x, 0.4, training=False) is x
    y = F.dropout2d(x, 0.4, training=False, mode="vanilla")
    np.testing.assert_allclose(host(y), host(x) * 0.6, rtol=1e-15)
    assert "eval" in y.grad_fn.describe()[-1]


def test_vanilla_training_keeps_channels_unscaled(backend, rng):
    x = tensor(rng.uniform(1, 2, (4, 8, 3, 3)), backend, requires_grad=True)
    y = F.dropout2d(x, 0.5, mode="vanilla")
    np.testing.assert_array_equal(host(y), host(x) * channel_mask(y)[:, :, None, None])


# -- NaN, inf and signed zeros: dropout2d multiplies by the channel mask, as PyTorch's does ------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode", ["inverted", "vanilla"])
def test_nan_inf_and_negatives_are_multiplied_by_the_channel_mask_forward_and_backward(
        mode, dtype, backend):
    # in a dropped channel a NaN or inf gives NaN (0 * inf), a negative -0.0, in both directions
    check_multiplied_by_mask(lambda x: F.dropout2d(x, 0.5, mode=mode),
                             lambda y: channel_mask(y)[:, :, None, None], backend, (4, 6, 5, 4),
                             dtype, 0.5 if mode == "inverted" else 1.0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nan_inf_and_signed_zeros_equal_pytorchs_dropout2d_under_its_own_mask(dtype, backend):
    pytest.importorskip("torch")
    check_like_torch("dropout2d", channel_mask, backend, (4, 6, 5, 4), dtype, 0.4)


@pytest.mark.parametrize("mode", ["inverted", "vanilla"])
def test_p_one_gives_zeros_even_for_nan_and_inf_and_p_zero_passes_them_through(mode, backend):
    # p = 1 is zeros by design (PyTorch gives NaN for NaN there); p = 0 is the identity
    check_certain_rates(lambda x, p: F.dropout2d(x, p, mode=mode), backend, (2, 3, 4, 4))


def test_3d_input_is_n_c_l_with_pytorchs_warning(backend):
    torch = pytest.importorskip("torch")
    x = Tensor.ones(6, 7, 5, backend=backend, requires_grad=True)
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d") as ours:
        y = F.dropout2d(x, 0.5)
    assert ours[0].filename == __file__  # attributed to the caller's line
    assert channel_mask(y).shape == (6, 7)  # one draw per (dim 0, dim 1), as PyTorch
    out = host(y)
    assert ((out == 0).all(axis=2) | (out == 2).all(axis=2)).all()
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        torch.nn.functional.dropout2d(torch.ones(6, 7, 5), 0.5)
    assert str(theirs[0].message) == str(ours[0].message)


@pytest.mark.parametrize("shape", [(5,), (4, 3), (2, 3, 4, 4, 4)])
def test_other_ranks_are_a_value_error_naming_the_shape(shape, backend):
    x = Tensor.ones(*shape, backend=backend)
    with pytest.raises(ValueError, match=rf"dropout2d: expected 4-D .*got {len(shape)}-D input "
                                         rf"of shape {re_shape(shape)}"):
        F.dropout2d(x, 0.5)


def re_shape(shape):
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


def test_float32_stays_float32(backend):
    y = F.dropout2d(Tensor.ones(4, 4, 2, 2, backend=backend, dtype="float32"), 0.5)
    assert y.dtype_name == "float32"


# -- statistics -------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_fraction_of_channels_dropped_matches_p(p, backend):
    n, c = 500, 400  # 200 000 independent channel draws
    y = host(F.dropout2d(Tensor.ones(n, c, 2, 2, backend=backend), p))
    dropped = (y == 0).all(axis=(2, 3))
    assert ((y == 0).any(axis=(2, 3)) == dropped).all()  # whole channels only
    assert abs(dropped.mean() - p) < 5 * math.sqrt(p * (1 - p) / (n * c))


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_inverted_mode_preserves_the_mean(p, backend):
    n, c, value = 500, 400, 3.0
    y = host(F.dropout2d(Tensor.ones(n, c, 2, 2, backend=backend, dtype="float64") * value, p))
    keep = 1 - p
    # per channel: value / keep with probability keep, else 0; the mean over n*c channels
    assert abs(y.mean() - value) < 5 * value * math.sqrt((1 - keep) / (keep * n * c))


# -- the module -------------------------------------------------------------------------------
def test_module_follows_train_and_eval_and_shares_dropouts_rate_properties(backend):
    layer = nn.Dropout2d(0.3)
    assert repr(layer) == "Dropout2d(p=0.3, mode='inverted')" and layer.p == 0.3
    x = Tensor.ones(8, 16, 2, 2, backend=backend, requires_grad=True)
    assert layer(x).grad_fn.name == "dropout2d"
    layer.eval()
    assert layer(x) is x
    layer.train()
    layer.p = 0.0
    assert layer(x) is x
    layer.keep_prob = 0.0
    assert not host(layer(x)).any()
    layer.mode = "vanilla"
    assert layer.mode == "vanilla" and layer.p == 1.0
    with pytest.raises(ValueError, match="Dropout2d: p must be a probability"):
        layer.p = 2.0
    with pytest.raises(ValueError, match="Dropout2d: give the drop rate p or the keep"):
        nn.Dropout2d(0.2, keep_prob=0.8)
    assert nn.Dropout2d(keep_prob=0.9).keep_prob == 0.9


def test_module_draws_from_its_own_generator(backend):
    x = Tensor.ones(20, 30, 2, 2, backend=backend, requires_grad=True)
    layer = nn.Dropout2d(0.4, generator=td.generator(5, backend=backend))
    td.manual_seed(77)
    expected = channel_mask(F.dropout2d(x, 0.4, generator=td.generator(5, backend=backend)))
    np.testing.assert_array_equal(channel_mask(layer(x)), expected)


def test_mc_predict_samples_spatial_dropout(backend):
    model = nn.Sequential(nn.Dropout2d(0.5), nn.Flatten())
    x = Tensor.ones(3, 40, 2, 2, backend=backend)
    mean, std = nn.mc_predict(model, x, samples=20)
    # each sample keeps (2.0) or drops (0.0) a channel whole: kept in k of the 20 samples, the
    # channel's 4 elements all have mean 2k/20 and population std sqrt(mean * (2 - mean))
    mean, std = host(mean).reshape(3, 40, 4), host(std).reshape(3, 40, 4)
    np.testing.assert_array_equal(mean, np.broadcast_to(mean[..., :1], mean.shape))
    np.testing.assert_allclose(mean * 10, np.round(mean * 10), rtol=0, atol=1e-5)
    np.testing.assert_allclose(std, np.sqrt(mean * (2 - mean)), rtol=1e-5, atol=1e-6)
    assert std.max() > 0 and model.training
