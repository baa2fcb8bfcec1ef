"""The CuPy backend's fused layer kernels (``backends/cuda_fused_source.py``, called by
``backends/cupy_fused_kernels.py``), checked without a GPU.

The source is compiled with the host C++ compiler under the emulation of ``cuda_host.py``
(every thread of a block a host thread, ``__syncthreads`` a real barrier) and each kernel class
is compared with the portable kernels it replaces (``backends/kernels.py`` over NumPy), over
grids of 1 to 2000 blocks and blocks of 1 to 33 threads (odd ones too: the block sums take any
size), odd and empty sizes, NaN and infinities. Element-wise results are compared bit for bit.
Sums over a batch or a channel are a per-thread sum then a tree over the block, not NumPy's
order: those are compared to rounding (float64 1e-12, float32 1e-5 relative, a few ulps of the
values summed), and bit for bit on integer-valued data, whose sums are exact in any order.
NVRTC then compiles the exact source for real GPU architectures.
"""

import numpy as np
import pytest
from cuda_host import find_nvrtc, nvrtc_entries
from fused_host import compiled, device

import tinygrad_drop as td
from tinygrad_drop.backends import kernels as portable
from tinygrad_drop.backends import optim_kernels
from tinygrad_drop.backends.cuda_fused_source import FUSED_KERNEL_NAMES, fused_kernel_source
from tinygrad_drop.backends.cuda_source import CTYPES

pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning",
                                        "ignore:overflow encountered:RuntimeWarning")
NUMPY = td.backends.get("numpy")
TOLERANCE = {"float64": {"rtol": 1e-12, "atol": 1e-12}, "float32": {"rtol": 1e-5, "atol": 1e-5}}
# (blocks, threads): one block does everything; uneven grids; a block larger than the work;
# odd block sizes (the tree's halves are uneven); many blocks left idle
LAUNCHES = [(1, 1), (3, 1), (1, 5), (3, 7), (2, 32), (1, 33), (2000, 1)]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return compiled(str(tmp_path_factory.mktemp("fused_kernels")))


def data(shape, dtype, seed=0, special=False):
    """Normal values; with ``special`` NaN, infinities, signed zeros and a few exact ones
    spread among them."""
    values = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    if special and values.size:
        picks = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, -1.5, 2.5], dtype)
        flat = values.reshape(-1)
        count = min(picks.size, flat.size)
        flat[np.linspace(0, flat.size - 1, count).astype(int)] = picks[:count]
    return values


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
    assert a.tobytes() == b.tobytes(), f"differ at {np.flatnonzero(a != b)[:5]}"


# -- NVRTC -------------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", ["sm_75", "sm_90"])
@pytest.mark.parametrize("dtype", list(CTYPES))
def test_kernels_compile_with_nvrtc_without_warnings_or_local_memory(dtype, arch):
    library = find_nvrtc()
    if library is None:
        pytest.skip("no NVRTC library (pip install nvidia-cuda-nvrtc)")
    entries = nvrtc_entries(library, fused_kernel_source(dtype), arch)
    assert sorted(entries) == sorted(FUSED_KERNEL_NAMES)
    for name, body in entries.items():
        assert ".local" not in body, f"{name} spills to local memory"


def test_multiplies_next_to_adds_are_never_contracted_into_fma():
    library = find_nvrtc()
    if library is None:
        pytest.skip("no NVRTC library (pip install nvidia-cuda-nvrtc)")
    entries = nvrtc_entries(library, fused_kernel_source("float32"), "sm_90")
    for name in ("td_bn_forward", "td_bn_backward", "td_sgd_multi", "td_adadelta_multi",
                 "td_bias_add", "td_relu_forward"):
        assert "fma.rn.f32" not in entries[name], name


def test_source_exists_only_for_float_types():
    with pytest.raises(TypeError, match="fused layer kernels exist for float32, float64, not"):
        fused_kernel_source("int32")


# -- ReLU and the linear layer ---------------------------------------------------------------
@pytest.mark.parametrize("blocks,threads", LAUNCHES)
@pytest.mark.parametrize("size", [0, 1, 7, 1000])
@pytest.mark.parametrize("dtype", list(CTYPES))
def test_relu_output_and_mask_are_the_portable_ones_bit_for_bit(built, blocks, threads, size,
                                                                dtype):
    dev = device(built, blocks, threads)
    x = data((size,), dtype, special=True)
    out, mask = dev.kernels("activation").relu(x, True)
    ref_out, ref_mask = portable.ActivationKernels(NUMPY).relu(x, True)
    same_bits(out, ref_out)
    same_bits(mask, ref_mask)
    assert dev.launches == (["td_relu_forward"] if size else [])


def test_relu_passes_nan_zeroes_negative_zero_and_masks_out_zero(built):
    dev = device(built)
    x = np.array([np.nan, -0.0, 0.0, -2.0, 3.0, np.inf, -np.inf], np.float32)
    out, mask = dev.kernels("activation").relu(x, True)
    assert np.isnan(out[0]) and mask.tolist() == [True, False, False, False, True, True, False]
    assert np.signbit(out[1:]).tolist() == [False] * 6  # -0 -> +0, as NumPy's maximum
    out2, none = dev.kernels("activation").relu(x.reshape(7, 1), False)
    assert none is None and out2.shape == (7, 1)
    same_bits(out2.reshape(-1), out)


@pytest.mark.parametrize("blocks,threads", LAUNCHES)
@pytest.mark.parametrize("shape", [(0, 5), (1, 1), (7, 13), (3, 4, 5)])
def test_bias_add_adds_in_place_bit_for_bit(built, blocks, threads, shape):
    dev = device(built, blocks, threads)
    for dtype in CTYPES:
        out, bias = data(shape, dtype, 1, special=True), data(shape[-1:], dtype, 2)
        expected = out + bias
        result = dev.kernels("linear").add_bias(out, bias)
        assert result is out
        same_bits(out, expected)


@pytest.mark.parametrize("blocks,threads", LAUNCHES)
@pytest.mark.parametrize("shape", [(0, 3), (1, 4), (37, 10), (256, 33)])
@pytest.mark.parametrize("dtype", list(CTYPES))
def test_bias_grad_is_the_column_sum(built, blocks, threads, shape, dtype):
    dev = device(built, blocks, threads)
    g = data(shape, dtype, 3)
    np.testing.assert_allclose(dev.kernels("linear").bias_grad(g), g.sum(axis=0),
                               **TOLERANCE[dtype])
    integers = np.random.default_rng(4).integers(-50, 50, shape).astype(dtype)
    same_bits(dev.kernels("linear").bias_grad(integers), integers.sum(axis=0))
    assert dev.launches == ["td_channel_sums"] * 2 if shape[1] else []


def test_sums_of_nan_and_inf_columns(built):
    dev = device(built, 3, 4)
    g = np.array([[np.nan, np.inf, 1.0], [1.0, 2.0, -np.inf], [0.0, np.inf, np.inf]])
    sums = dev.kernels("linear").bias_grad(g)
    assert np.isnan(sums[0]) and sums[1] == np.inf and np.isnan(sums[2])


# -- batch normalisation -------------------------------------------------------------------------
BN_SHAPES = [(2, 3), (5, 4, 7), (3, 2, 4, 5), (64, 1)]


def bn_args(shape, dtype, affine, seed, integers=False):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = (rng.integers(-8, 8, shape).astype(dtype) if integers
         else (rng.standard_normal(shape) * 3 + 1).astype(dtype))
    weight = rng.uniform(0.5, 2, c).astype(dtype) if affine else None
    bias = rng.standard_normal(c).astype(dtype) if affine else None
    mean = rng.standard_normal(c)
    running = ((np.round(mean) if integers else mean).astype(dtype),
               rng.uniform(0.5, 2, c).astype(dtype))
    return x, weight, bias, running


def bn_both(dev, args, batch_stats, update, in_place=False, need=(True, True, True), g=None):
    """Forward and backward through the fused and the portable kernels."""
    x, weight, bias, running = args
    results = []
    for kernels in (dev.kernels("norm"), portable.NormKernels(NUMPY)):
        run = tuple(a.copy() for a in running)
        out, saved, new = kernels.forward(x, weight, bias, run, batch_stats, update, 0.1, 1e-5,
                                          in_place)
        grads = kernels.backward(g if g is not None else np.ones_like(out), saved, weight, need)
        results.append((out, new, run, grads))
    return results


@pytest.mark.parametrize("blocks,threads", [(1, 1), (2, 7), (3, 32), (2000, 1)])
@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("dtype", list(CTYPES))
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training_matches_the_portable_kernels(built, blocks, threads, shape, dtype,
                                                          affine):
    dev = device(built, blocks, threads)
    args = bn_args(shape, dtype, affine, 5)
    g = data(shape, dtype, 6)
    (out, new, _, grads), (ref_out, ref_new, _, ref_grads) = bn_both(dev, args, True, True, g=g)
    np.testing.assert_allclose(out, ref_out, **TOLERANCE[dtype])
    for mine, theirs in zip(new, ref_new, strict=True):
        np.testing.assert_allclose(mine, theirs, **TOLERANCE[dtype])
    for mine, theirs in zip(grads, ref_grads, strict=True):
        if theirs is None:
            assert mine is None
        else:
            # dx = g*a + c*k1 - k0 cancels: compare at the scale of its terms
            scale = np.abs(theirs).max() + np.abs(g).max()
            np.testing.assert_allclose(mine, theirs, rtol=0,
                                       atol=TOLERANCE[dtype]["rtol"] * 10 * scale)
    assert dev.launches == ["td_bn_forward", "td_bn_backward"]


@pytest.mark.parametrize("blocks,threads", [(1, 1), (3, 5), (2, 33)])
@pytest.mark.parametrize("dtype", list(CTYPES))
def test_batch_norm_on_exact_statistics_is_the_portable_result_bit_for_bit(built, blocks,
                                                                          threads, dtype):
    """Integer data (and running means), 4 values a channel: every sum is exact in any order,
    so the fused kernels must be the portable ones to the bit (the element-wise formulas in the
    same order)."""
    dev = device(built, blocks, threads)
    args = bn_args((2, 3, 2), dtype, True, 7, integers=True)
    g = np.random.default_rng(8).integers(-4, 4, (2, 3, 2)).astype(dtype)
    for batch_stats, update in [(True, True), (True, False), (False, False)]:
        (out, new, run, grads), (ref_out, ref_new, ref_run, ref_grads) = bn_both(
            dev, args, batch_stats, update, g=g)
        same_bits(out, ref_out)
        assert (new is None) == (ref_new is None) == (not update)
        for mine, theirs in zip((*(new or ()), *run, *grads),
                                (*(ref_new or ()), *ref_run, *ref_grads), strict=True):
            same_bits(mine, theirs)


@pytest.mark.parametrize("in_place", [False, True])
def test_batch_norm_running_update_in_place_or_new(built, in_place):
    dev = device(built, 2, 3)
    x, weight, bias, running = bn_args((4, 3, 5), "float64", True, 9)
    before = tuple(a.copy() for a in running)
    _, _, new = dev.kernels("norm").forward(x, weight, bias, running, True, True, 0.1, 1e-5,
                                            in_place)
    mean, var = x.mean(axis=(0, 2)), x.var(axis=(0, 2), ddof=1)
    np.testing.assert_allclose(new[0], 0.9 * before[0] + 0.1 * mean, rtol=1e-12)
    np.testing.assert_allclose(new[1], 0.9 * before[1] + 0.1 * var, rtol=1e-12)
    if in_place:
        assert new[0] is running[0] and new[1] is running[1]
    else:
        same_bits(running[0], before[0])
        same_bits(running[1], before[1])


def test_batch_norm_backward_makes_only_the_gradients_needed(built):
    dev = device(built, 2, 4)
    args = bn_args((6, 2, 3), "float32", True, 10)
    for need in [(True, False, False), (False, True, True), (False, False, True)]:
        (_, _, _, grads), (_, _, _, ref) = bn_both(dev, args, True, True, need=need)
        for mine, theirs, wanted in zip(grads, ref, need, strict=True):
            assert (mine is None) == (theirs is None) == (not wanted)
            if wanted:
                np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-5)


def test_batch_norm_nan_in_a_channel_stays_in_that_channel(built):
    dev = device(built, 2, 3)
    x, weight, bias, running = bn_args((4, 2, 3), "float64", True, 11)
    x[1, 0, 2] = np.nan
    out, _, new = dev.kernels("norm").forward(x, weight, bias, running, True, True, 0.1, 1e-5,
                                              False)
    assert np.isnan(out[:, 0]).all() and np.isfinite(out[:, 1]).all()
    assert np.isnan(new[0][0]) and np.isfinite(new[0][1])


# -- cross-entropy -------------------------------------------------------------------------------
def ce_both(dev, logits, target, reduction, ignore=None, record=False):
    """(loss, grad, record) from the fused and the portable kernels."""
    results = []
    for kernels in (dev.kernels("loss"), portable.LossKernels(NUMPY)):
        rec = np.zeros(2, np.int64) if record else None
        loss, saved = kernels.cross_entropy(logits, target, reduction, ignore, rec)
        g = np.ones_like(loss) * logits.dtype.type(0.75)
        grad = kernels.cross_entropy_backward(g, saved)
        results.append((loss, grad, rec))
    return results


@pytest.mark.parametrize("blocks,threads", LAUNCHES)
@pytest.mark.parametrize("rows,classes", [(1, 1), (5, 10), (64, 3), (300, 17)])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("dtype", list(CTYPES))
def test_cross_entropy_matches_the_portable_kernels(built, blocks, threads, rows, classes,
                                                   reduction, dtype):
    dev = device(built, blocks, threads)
    logits = data((rows, classes), dtype, 12) * 4
    target = np.random.default_rng(13).integers(0, classes, rows)
    (loss, grad, _), (ref_loss, ref_grad, _) = ce_both(dev, logits, target, reduction)
    # exp and log are the C library's here, NumPy's own (SIMD) there: ulps apart in float32
    np.testing.assert_allclose(loss, ref_loss, **TOLERANCE[dtype])
    np.testing.assert_allclose(grad, ref_grad, **TOLERANCE[dtype])
    assert dev.launches == ["td_cross_entropy_forward", "td_cross_entropy_backward"]


@pytest.mark.parametrize("blocks,threads", [(1, 1), (3, 4), (2, 33)])
def test_cross_entropy_leaves_out_ignored_and_bad_targets_and_records_a_bad_one(built, blocks,
                                                                               threads):
    dev = device(built, blocks, threads)
    logits = data((6, 4), "float64", 14)
    target = np.array([1, -100, 3, 7, 0, -2])
    (loss, grad, rec), (ref_loss, ref_grad, ref_rec) = ce_both(dev, logits, target, "mean",
                                                               -100, record=True)
    kept = [0, 2, 4]
    by_hand = np.mean([np.log(np.exp(logits[r]).sum()) - logits[r, target[r]] for r in kept])
    np.testing.assert_allclose(loss, by_hand, rtol=1e-12)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-15)
    assert not grad[[1, 3, 5]].any() and grad[kept].any()
    assert rec.tolist() == ref_rec.tolist() == [1, -2]  # the lowest, being negative
    high = np.zeros(2, np.int64)
    dev.kernels("loss").cross_entropy(logits, np.array([1, 9, 3, 7, 0, 4]), "sum", -100, high)
    assert high.tolist() == [1, 9]  # none negative: the highest


def test_cross_entropy_record_keeps_an_earlier_failure_and_an_ignored_class_is_no_failure(built):
    dev = device(built, 2, 3)
    logits = data((4, 3), "float32", 15)
    record = np.array([1, 99], np.int64)  # an earlier failure, not yet reported
    dev.kernels("loss").cross_entropy(logits, np.array([0, 5, 1, 2]), "sum", -100, record)
    assert record.tolist() == [1, 99]
    clean = np.zeros(2, np.int64)
    loss, _ = dev.kernels("loss").cross_entropy(logits, np.array([0, 1, 1, 2]), "sum", 1, clean)
    assert clean.tolist() == [0, 0]
    ref, _ = portable.LossKernels(NUMPY).cross_entropy(logits, np.array([0, 1, 1, 2]), "sum", 1)
    np.testing.assert_allclose(loss, ref, rtol=1e-6)


def test_cross_entropy_of_no_counted_rows_is_nan_for_the_mean_with_zero_gradients(built):
    dev = device(built, 2, 2)
    for target in (np.zeros(0, np.int64), np.array([-100, -100])):
        logits = data((target.size, 3), "float64", 16)
        (loss, grad, _), (ref_loss, ref_grad, _) = ce_both(dev, logits, target, "mean", -100)
        assert np.isnan(loss) and np.isnan(ref_loss)
        assert grad.shape == ref_grad.shape and not grad.any() and not ref_grad.any()
        (loss, _, _), _ = ce_both(dev, logits, target, "sum", -100)
        assert loss == 0


def test_cross_entropy_of_nan_and_infinite_logits(built):
    dev = device(built, 2, 3)
    logits = np.array([[np.nan, 1.0, 2.0], [1.0, np.inf, 0.0], [1e308, -1e308, 0.0],
                       [0.0, 1.0, 2.0]])
    target = np.array([1, 1, 0, 2])
    (loss, grad, _), (ref_loss, ref_grad, _) = ce_both(dev, logits, target, "sum")
    assert np.isnan(loss) and np.isnan(ref_loss)
    np.testing.assert_array_equal(np.isnan(grad), np.isnan(ref_grad))
    finite = ~np.isnan(ref_grad)
    np.testing.assert_allclose(grad[finite], ref_grad[finite], rtol=1e-12, atol=1e-300)


def test_cross_entropy_none_reduction_and_other_dtypes_take_the_portable_path(built):
    dev = device(built)
    logits, target = data((3, 4), "float64", 17), np.array([0, 1, 3])
    losses, _ = dev.kernels("loss").cross_entropy(logits, target, "none")
    assert losses.shape == (3,) and dev.launches == []
    same_bits(losses, portable.LossKernels(NUMPY).cross_entropy(logits, target, "none")[0])
    for z, t in ((logits.astype(np.float16), target), (logits, target.astype(np.int32))):
        loss, _ = dev.kernels("loss").cross_entropy(z, t, "sum")
        same_bits(loss, portable.LossKernels(NUMPY).cross_entropy(z, t, "sum")[0])
    assert dev.launches == []


# -- optimizers ----------------------------------------------------------------------------------
SHAPES = [(4, 3), (0,), (1,), (7,), (33, 5)]


def params(dtype, shapes=SHAPES, seed=18):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def optimizer_steps(kernels, method, dtype, steps, shapes=SHAPES, **hyper):
    """Parameters and states after ``steps`` steps of ``method``, the gradients a fixed draw
    per step; and the state arrays' identities after each step."""
    values = params(dtype, shapes)
    states = [{} for _ in values]
    identities = []
    for step in range(steps):
        grads = params(dtype, shapes, seed=100 + step)
        getattr(kernels, method)(values, grads, states, **hyper)
        identities.append([{k: id(v) for k, v in s.items() if hasattr(v, "shape")}
                           for s in states])
    return values, states, identities


OPTIMIZERS = [
    ("sgd", dict(lr=0.1, momentum=0.0, weight_decay=0.0, nesterov=False)),
    ("sgd", dict(lr=0.1, momentum=0.9, weight_decay=0.0, nesterov=False)),
    ("sgd", dict(lr=0.05, momentum=0.9, weight_decay=0.01, nesterov=True)),
    ("adam", dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)),
    ("adam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("adam", dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, decoupled=True)),
    ("adam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.3, decoupled=True)),
    ("adadelta", dict(lr=1.0, rho=0.95, eps=1e-7, weight_decay=0.0)),
    ("adadelta", dict(lr=0.5, rho=0.9, eps=1e-6, weight_decay=0.01)),
]


@pytest.mark.parametrize("blocks,threads", [(1, 1), (3, 5), (2000, 1)])
@pytest.mark.parametrize("method,hyper", OPTIMIZERS, ids=lambda v: str(v))
@pytest.mark.parametrize("dtype", list(CTYPES))
def test_optimizer_steps_are_the_portable_ones_bit_for_bit(built, blocks, threads, method,
                                                           hyper, dtype):
    dev = device(built, blocks, threads)
    values, states, identities = optimizer_steps(dev.kernels("optim"), method, dtype, 3,
                                                 **hyper)
    ref_values, ref_states, _ = optimizer_steps(portable.OptimKernels(NUMPY), method, dtype, 3,
                                                **hyper)
    for mine, theirs in zip(values, ref_values, strict=True):
        same_bits(mine, theirs)
    for mine, theirs in zip(states, ref_states, strict=True):
        assert mine.keys() == theirs.keys()
        for key in theirs:
            if key == "step":
                assert float(np.asarray(mine[key]).reshape(())) == theirs[key] == 3
            else:
                same_bits(mine[key], theirs[key])
    assert identities[1] == identities[2], "state arrays were replaced"
    assert dev.launches == [f"td_{method}_multi"] * 3


@pytest.mark.parametrize("method,hyper", OPTIMIZERS, ids=lambda v: str(v))
def test_optimizer_options_are_read_from_the_device_array(built, method, hyper):
    """Given ``device_options`` (the optimizer's per-group array), the kernels take every
    float option from it, not from the Python floats of the call (which a captured graph
    would replay unchanged): here the floats are other values, and the result is the
    portable step at the array's values."""
    dev = device(built, 3, 2)
    kernels = dev.kernels("optim")
    assert kernels.reads_device_options
    changed = {k: (tuple(b / 2 for b in v) if k == "betas" else v / 2 if k in
                   ("lr", "momentum", "weight_decay", "eps", "rho") else v)
               for k, v in hyper.items()}
    names = optim_kernels.DEVICE_OPTIONS[method]
    flat = {**changed, **dict(zip(("beta1", "beta2"), changed.get("betas", ()), strict=False))}
    options = np.array([flat[n] for n in names], dtype=np.float64)
    values = params("float64")
    states = [{} for _ in values]
    ref_values = params("float64")
    ref_states = [{} for _ in values]
    for step in range(2):
        grads = params("float64", seed=100 + step)
        getattr(kernels, method)(values, grads, states, **hyper, device_options=options)
        getattr(portable.OptimKernels(NUMPY), method)(ref_values, grads, ref_states, **changed)
    for mine, theirs in zip(values, ref_values, strict=True):
        same_bits(mine, theirs)


def test_more_than_sixteen_parameters_take_one_launch_per_sixteen(built):
    dev = device(built, 2, 3)
    shapes = [(i % 5 + 1,) for i in range(35)]
    values, _, _ = optimizer_steps(dev.kernels("optim"), "adam", "float32", 2, shapes,
                                   lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    ref, _, _ = optimizer_steps(portable.OptimKernels(NUMPY), "adam", "float32", 2, shapes,
                                lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    for mine, theirs in zip(values, ref, strict=True):
        same_bits(mine, theirs)
    assert dev.launches == ["td_adam_multi"] * 6


def test_adam_counts_steps_on_the_device_once_per_launch_whatever_the_grid(built):
    """Every block reads the step count before the last one to finish advances it."""
    for blocks, threads in [(1, 1), (7, 3), (64, 2)]:
        dev = device(built, blocks, threads)
        _, states, _ = optimizer_steps(dev.kernels("optim"), "adam", "float64", 4,
                                       lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
        for state in states:
            assert state["step"].dtype == np.float64 and float(state["step"]) == 4
        assert dev.kernels("optim")._ticket.tolist() == [0]


def test_mixed_dtypes_launch_per_dtype_and_others_take_the_portable_path(built):
    dev = device(built)
    values = [np.ones(3, np.float32), np.ones(2, np.float64), np.ones(4, np.float16),
              np.ones((3, 3))[:, 0]]
    grads = [np.full(v.shape, 0.5, v.dtype) for v in values]
    dev.kernels("optim").sgd(values, grads, [None] * 4, 0.1, 0.0, 0.0, False)
    assert sorted(dev.launches) == ["td_sgd_multi", "td_sgd_multi"]
    for value in values:
        # 1 - 0.1 * 0.5 in each dtype: within two of its units of rounding (float16 holds 0.9502)
        np.testing.assert_allclose(value, 0.95, rtol=2 * np.finfo(value.dtype).eps, atol=0)


def test_cross_entropy_writes_a_deferred_checks_record_with_its_site(built):
    """The record of ``deferred_checks`` ([failed, value, site]): a kernel given its site
    writes all three, as ``DeferredChecks.require`` would."""
    dev = device(built, 2, 5)
    logits, target = data((5, 3), "float64", 19), np.array([0, -7, 2, 3, 1])
    for kernels in (dev.kernels("loss"), portable.LossKernels(NUMPY)):
        record = np.zeros(3, np.int64)
        kernels.cross_entropy(logits, target, "mean", -100, record, site=4)
        assert record.tolist() == [1, -7, 4]
        kernels.cross_entropy(logits, np.array([0, 9, 2, 3, 1]), "mean", -100, record, site=2)
        assert record.tolist() == [1, -7, 4]  # the first failure is kept


def test_the_gpu_block_size_of_256_threads(built):
    """The CuPy backend launches 256 threads a block: the block sums at that size."""
    dev = device(built, 3, 256)
    g = data((300, 7), "float64", 20)
    np.testing.assert_allclose(dev.kernels("linear").bias_grad(g), g.sum(axis=0), rtol=1e-12)
    args = bn_args((70, 5, 3), "float64", True, 21)
    (out, new, _, grads), (ref_out, ref_new, _, ref_grads) = bn_both(dev, args, True, True)
    for mine, theirs in zip((out, *new, *grads[1:]), (ref_out, *ref_new, *ref_grads[1:]),
                            strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-11, atol=1e-11)
    logits, target = data((600, 9), "float64", 22), np.random.default_rng(23).integers(0, 9, 600)
    (loss, grad, _), (ref_loss, ref_grad, _) = ce_both(dev, logits, target, "mean")
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-15)
