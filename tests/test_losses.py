"""Losses beyond the op table: errors (shapes, dtypes, reductions, targets out of range named
by value), results that are NaN where PyTorch's are (every target ignored, empty batches),
dtypes, one_hot, mse_loss's broadcasting and the reductions against PyTorch."""

import math
import warnings

import numpy as np
import pytest
from conftest import host, tensor

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from tinygrad_drop.ops.loss_targets import TargetOutOfRange

LOSSES_WITH_REDUCTION = [
    lambda x, r: F.cross_entropy(x, [0, 1, 2], reduction=r),
    lambda x, r: F.nll_loss(x, [0, 1, 2], reduction=r),
    lambda x, r: F.binary_cross_entropy(x.sigmoid(), x.sigmoid(), reduction=r),
    lambda x, r: F.binary_cross_entropy_with_logits(x, x, reduction=r),
    lambda x, r: F.mse_loss(x, x, reduction=r),
]


@pytest.mark.parametrize("loss", LOSSES_WITH_REDUCTION)
def test_a_bad_reduction_is_a_value_error(backend, loss):
    x = td.Tensor.zeros(3, 4, backend=backend)
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        loss(x, "avg")


@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss])
def test_targets_out_of_range_are_named(backend, loss):
    name = loss.__name__
    x = td.Tensor.zeros(3, 4, backend=backend)
    # On a device backend the error comes at the next read (deferred_checks): read each loss.
    with pytest.raises(IndexError, match=f"{name}: target 7 is out of range for 4 classes"):
        loss(x, [0, 7, 1]).item()
    with pytest.raises(ValueError, match=f"{name}: target -2 is out of range"):
        loss(x, [0, -2, -100]).item()  # -100 (ignored) is fine, -2 is not
    with pytest.raises(TargetOutOfRange, match=r"target 4 .* \(ignore_index is 255\)"):
        loss(x, [255, 4, 1], ignore_index=255).item()
    with pytest.raises(ValueError, match="target -100 is out of range"):
        loss(x, [0, -100, 1], ignore_index=-1).item()
    # ignore_index outside [0, C) is skipped by the check; inside it simply counts for nothing.
    # Zero input: each kept row's loss is log 4 (cross-entropy) or 0 (nll_loss), the mean that
    # too, and the sum two rows' worth.
    row = math.log(4) if loss is F.cross_entropy else 0.0
    for target, ignore in (([255, 3, 1], 255), ([0, 3, 1], 3)):
        assert loss(x, target, ignore_index=ignore).item() == pytest.approx(row, rel=1e-6)
        assert loss(x, target, ignore_index=ignore, reduction="sum").item() == pytest.approx(
            2 * row, rel=1e-6)


@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss])
def test_class_loss_shape_and_dtype_errors(backend, loss):
    name = loss.__name__
    x = td.Tensor.zeros(3, 4, backend=backend)
    with pytest.raises(ValueError, match=rf"{name}: expected target \(3,\) .* got logits "
                                         r"\(3, 4\) and target \(2,\)"):
        loss(x, [0, 1])
    with pytest.raises(ValueError, match=r"expected target \(2, 5\)"):
        loss(td.Tensor.zeros(2, 4, 5, backend=backend), [[0, 1, 2], [0, 1, 2]])
    with pytest.raises(TypeError, match="integer class indices"):
        loss(x, td.Tensor([0.0, 1.0, 2.0], backend=backend))
    with pytest.raises(TypeError, match="input must be floating point, got dtype int64"):
        loss(td.Tensor([[1, 2], [3, 4]], backend=backend), [0, 1])
    with pytest.raises(ValueError, match=r"weight must hold one value per class, shape \(4,\), "
                                         r"got \(3,\)"):
        loss(x, [0, 1, 2], weight=tensor([1.0, 2.0, 3.0], backend))
    with pytest.raises(ValueError, match="0-d input"):
        loss(td.Tensor(1.0, backend=backend), 0)


def test_cross_entropy_option_errors(backend):
    x = td.Tensor.zeros(3, 4, backend=backend)
    with pytest.raises(ValueError, match="label_smoothing must be in \\[0, 1\\], got 1.5"):
        F.cross_entropy(x, [0, 1, 2], label_smoothing=1.5)
    with pytest.raises(ValueError, match="label_smoothing must be in \\[0, 1\\], got -0.1"):
        F.cross_entropy(x, [0, 1, 2], label_smoothing=-0.1)
    weight = tensor([1.0, 2.0, 3.0, 4.0], backend, requires_grad=True)
    with pytest.raises(RuntimeError, match="not differentiable with respect to weight"):
        F.cross_entropy(x, [0, 1, 2], weight=weight)
    with td.no_grad():  # as PyTorch, only a recorded call minds
        assert F.cross_entropy(x, [0, 1, 2], weight=weight).item() == pytest.approx(math.log(4))


@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss])
def test_every_target_ignored_gives_nan_for_the_mean_and_zero_gradients(backend, loss):
    torch = pytest.importorskip("torch")
    data = np.random.default_rng(0).standard_normal((3, 4))
    for kw in ({}, {"weight": [1.0, 2.0, 3.0, 4.0]}):
        x = tensor(data, backend, requires_grad=True)
        weight = {k: tensor(v, backend) for k, v in kw.items()}
        mean = loss(x, [-100, -100, -100], **weight)
        assert math.isnan(mean.item())
        mean.backward()
        assert host(x.grad).tolist() == [[0.0] * 4] * 3
        assert loss(x, [-100] * 3, reduction="sum", **weight).item() == 0.0
        assert host(loss(x, [-100] * 3, reduction="none", **weight)).tolist() == [0.0] * 3
        theirs = getattr(torch.nn.functional, loss.__name__)(
            torch.tensor(data), torch.tensor([-100] * 3),
            **{k: torch.tensor(v, dtype=torch.float64) for k, v in kw.items()})
        assert math.isnan(theirs.item())


def test_empty_batches_give_nan_means_and_empty_none(backend):
    x = td.Tensor.zeros(0, 4, backend=backend, requires_grad=True)
    assert math.isnan(F.cross_entropy(x, td.Tensor.zeros(0, dtype="int64",
                                                         backend=backend)).item())
    assert math.isnan(F.cross_entropy(x, td.Tensor.zeros(0, 4, backend=backend)).item())
    assert F.cross_entropy(x, td.Tensor.zeros(0, dtype="int64", backend=backend),
                           reduction="none").shape == (0,)
    assert math.isnan(F.binary_cross_entropy(x, x).item())
    assert math.isnan(F.binary_cross_entropy_with_logits(x, x).item())
    assert F.nll_loss(x, td.Tensor.zeros(0, dtype="int64", backend=backend),
                      reduction="sum").item() == 0.0


@pytest.mark.parametrize("options", [
    {"label_smoothing": 0.1}, {"label_smoothing": 0.1, "reduction": "sum"},
    {"label_smoothing": 0.1, "reduction": "none"}, {"label_smoothing": 0.2, "ignore_index": 1},
    {"label_smoothing": 0.1, "weight": [1.0, 2.0, 3.0, 4.0]},
], ids=repr)
def test_empty_batches_backward_with_every_option(backend, options):
    """A differential tester's find: label smoothing's backward on N = 0 failed on strict
    (a slice of one row out of none). Values and gradients against torch."""
    torch = pytest.importorskip("torch")
    x = tensor(np.zeros((0, 4)), backend, requires_grad=True)
    xt = torch.zeros(0, 4, dtype=torch.float64, requires_grad=True)
    weight = options.get("weight")
    ours = F.cross_entropy(x, td.Tensor.zeros(0, dtype="int64", backend=backend),
                           **{**options, **({"weight": tensor(weight, backend)} if weight
                                            else {})})
    theirs = torch.nn.functional.cross_entropy(
        xt, torch.zeros(0, dtype=torch.int64),
        **{**options, **({"weight": torch.tensor(weight, dtype=torch.float64)} if weight
                       else {})})
    np.testing.assert_array_equal(host(ours), theirs.detach().numpy())
    (ours.sum() if ours.ndim else ours).backward()
    (theirs.sum() if theirs.ndim else theirs).backward()
    assert x.grad.shape == (0, 4) == tuple(xt.grad.shape)


def test_class_probability_targets_promote_as_pytorch(backend):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    z, p = rng.standard_normal((3, 4)).astype(np.float32), rng.random((3, 4))
    logits = td.Tensor(z, backend=backend, requires_grad=True)
    out = F.cross_entropy(logits, td.Tensor(p, backend=backend, dtype="float64"))
    zt = torch.tensor(z, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(zt, torch.tensor(p))
    assert out.dtype_name == "float64" == str(ref.dtype).split(".")[-1]
    assert out.item() == pytest.approx(ref.item(), rel=1e-6)  # a float32 log-softmax each
    out.backward()
    ref.backward()
    assert logits.grad.dtype_name == "float32"
    # (softmax - p) / 3, entries ~0.1: a few float32 roundings (2**-24 each) apart, normwise
    error = np.linalg.norm(host(logits.grad) - zt.grad.numpy())
    assert error <= 1e-6 * np.linalg.norm(zt.grad.numpy())


def test_losses_keep_float32(backend):
    x = td.Tensor([[0.2, 0.7], [0.4, 0.1]], backend=backend)
    for out in (F.cross_entropy(x, [0, 1]), F.nll_loss(x, [0, 1]), F.mse_loss(x, x),
                F.binary_cross_entropy(x, x), F.binary_cross_entropy_with_logits(x, x),
                F.cross_entropy(x, x, label_smoothing=0.1)):
        assert out.dtype_name == "float32"


def test_a_label_list_as_target_and_int32_labels(backend):
    x = tensor([[0.0, math.log(3.0)], [math.log(3.0), 0.0]], backend)
    want = -math.log(0.75)
    assert F.cross_entropy(x, [1, 0]).item() == pytest.approx(want, rel=1e-15)
    labels = td.Tensor([1, 0], backend=backend, dtype="int32")  # PyTorch wants int64 only
    assert F.cross_entropy(x, labels).item() == pytest.approx(want, rel=1e-15)


def test_binary_cross_entropy_errors(backend):
    x = tensor([0.5, 1.25], backend)
    with pytest.raises(ValueError, match="binary_cross_entropy: input must hold probabilities "
                                         r"in \[0, 1\], got 1.25"):
        F.binary_cross_entropy(x, tensor([0.0, 1.0], backend))
    with pytest.raises(ValueError, match="got nan"):
        F.binary_cross_entropy(tensor([0.5, math.nan], backend), tensor([0.0, 1.0], backend))
    with pytest.raises(RuntimeError, match=r"in \[0, 1\], got -0.5"):  # PyTorch's type
        F.binary_cross_entropy(tensor([-0.5, 0.5, 1.0], backend), tensor([0.0, 1.0, 1.0], backend))
    assert F.binary_cross_entropy(tensor([0.0, 1.0], backend), tensor([0.0, 1.0], backend)
                                  ).item() == 0.0  # both ends are probabilities
    for loss in (F.binary_cross_entropy, F.binary_cross_entropy_with_logits):
        with pytest.raises(ValueError, match=rf"{loss.__name__}: target shape \(3,\) must be the "
                                             r"input's shape \(2,\)"):
            loss(tensor([0.5, 0.5], backend), tensor([0.0, 1.0, 1.0], backend))
    with pytest.raises(ValueError, match=r"pos_weight shape \(2, 2\) does not broadcast to "
                                         r"the input's shape \(2,\)"):
        F.binary_cross_entropy_with_logits(tensor([0.5, 0.5], backend),
                                           tensor([0.0, 1.0], backend),
                                           pos_weight=tensor([[1.0, 2.0], [1.0, 2.0]], backend))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: weight shape \(3,\)"):
        F.binary_cross_entropy(tensor([0.5, 0.5], backend), tensor([0.0, 1.0], backend),
                               weight=tensor([1.0, 2.0, 3.0], backend))
    pos = tensor([2.0, 2.0], backend, requires_grad=True)
    with pytest.raises(RuntimeError, match="not differentiable with respect to pos_weight"):
        F.binary_cross_entropy_with_logits(tensor([0.5, 0.5], backend),
                                           tensor([0.0, 1.0], backend), pos_weight=pos)


def test_binary_cross_entropy_with_logits_is_stable_where_the_naive_form_is_not(backend):
    z = tensor([800.0, -800.0], backend, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(z, tensor([0.0, 1.0], backend), reduction="none")
    assert host(loss).tolist() == [800.0, 800.0]
    loss.sum().backward()
    assert host(z.grad).tolist() == [1.0, -1.0]


def test_mse_loss_broadcasts_with_pytorchs_warning(backend):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal(3), rng.standard_normal((2, 3))
    x = tensor(a, backend, requires_grad=True)
    with pytest.warns(UserWarning, match=r"target size \(2, 3\) that is different to the input "
                                         r"size \(3,\)"):
        out = F.mse_loss(x, tensor(b, backend), reduction="none")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xt = torch.tensor(a, requires_grad=True)
        ref = torch.nn.functional.mse_loss(xt, torch.tensor(b), reduction="none")
    assert out.shape == (2, 3)
    np.testing.assert_allclose(host(out), ref.detach().numpy(), rtol=1e-12)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(host(x.grad), xt.grad.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match=r"mse_loss: input shape \(3,\) and target shape \(2,\) "
                                         "differ and do not broadcast"):
        F.mse_loss(x, tensor([1.0, 2.0], backend))


def test_one_hot(backend):
    torch = pytest.importorskip("torch")
    labels = [[0, 2], [1, 3]]
    for classes in (-1, 5):
        out = F.one_hot(td.Tensor(labels, backend=backend), classes)
        ref = torch.nn.functional.one_hot(torch.tensor(labels), classes)
        assert out.dtype_name == "int64" and not out.requires_grad
        assert host(out).tolist() == ref.tolist()
    assert F.one_hot(td.Tensor(2, backend=backend), 3).tolist() == [0, 0, 1]
    empty = td.Tensor.zeros(0, dtype="int64", backend=backend)
    assert F.one_hot(empty, 3).shape == (0, 3)
    with pytest.raises(ValueError, match="cannot infer the number of classes from an empty"):
        F.one_hot(empty)
    with pytest.raises(ValueError, match="class values must be non-negative, got -1"):
        F.one_hot(td.Tensor([0, -1], backend=backend))
    with pytest.raises(ValueError, match="class value 3 is not smaller than num_classes 3"):
        F.one_hot(td.Tensor([0, 3], backend=backend), 3)
    with pytest.raises(TypeError, match="one_hot: expected integer class values, got dtype "
                                        "float32"):
        F.one_hot(td.Tensor([0.0, 1.0], backend=backend))
    for classes in (np.int64(4), np.int32(4), np.uint8(4)):  # NumPy's integers, as PyTorch
        assert host(F.one_hot(td.Tensor([1, 3], backend=backend), classes)).tolist() == (
            torch.nn.functional.one_hot(torch.tensor([1, 3]), int(classes)).tolist())
    for bad in (True, 2.0, np.float64(3.0), -2):
        with pytest.raises(ValueError, match="num_classes must be -1 or a non-negative int"):
            F.one_hot(td.Tensor([0, 1], backend=backend), bad)


def test_class_targets_are_read_only_where_reading_is_free(backend, monkeypatch):
    """On the host (numpy) the founding MLP's (N, C) integer case reads min and max, as
    PyTorch's CPU check does; so does ignore_index inside [0, C) (masked without asking whether
    it occurs); a target outside [0, C) (ignored) adds one. On a device backend nothing is read
    (the check is deferred: deferred_checks). tests/test_device_reads.py counts every read on
    strict, these through ``read`` on every backend."""
    from tinygrad_drop.ops import loss_targets

    reads = []
    monkeypatch.setattr(loss_targets, "read", lambda value: reads.append(value) or int(value))
    x = td.Tensor.zeros(4, 3, backend=backend)
    on_host = td.backends.get(backend).host_memory
    for target, kw, expected in (([0, 1, 2, 1], {}, 2), ([0, 1, 2, 1], {"ignore_index": 1}, 2),
                                 ([0, 2, 2, 2], {"ignore_index": 1}, 2),
                                 ([0, -100, 2, 1], {}, 3)):
        reads.clear()
        F.cross_entropy(x, target, **kw)
        assert len(reads) == (expected if on_host else 0), (target, kw)


def test_the_common_cross_entropy_call_agrees_with_the_general_one(backend, rng):
    """F.cross_entropy sends the plain call (Tensors, no weight, int ignore_index, no
    smoothing) straight to the op; spelled any other way it goes through every check."""
    logits = tensor(rng.standard_normal((5, 4)), backend, requires_grad=True)
    target = td.Tensor([0, 3, 1, 1, 2], backend=backend)
    for reduction in ("mean", "sum", "none"):
        fast = F.cross_entropy(logits, target, reduction=reduction)
        general = F.cross_entropy(logits, [0, 3, 1, 1, 2], ignore_index=np.int64(-100),
                                  reduction=reduction, label_smoothing=0)
        np.testing.assert_array_equal(host(fast), host(general))
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none'"):
        F.cross_entropy(logits, target, reduction="avg")
    with pytest.raises(TypeError, match="label_smoothing must be a number, got True"):
        F.cross_entropy(logits, target, label_smoothing=True)
