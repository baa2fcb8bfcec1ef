"""Value checks made on the device and reported at the next read (backends/deferred_checks.py):
a bad class target on a device backend (strict stands in for one) harms nothing in the step
and is raised, naming it, at the next host read; on numpy it is raised at once."""

import subprocess
import sys

import numpy as np
import pytest

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F

pytest.importorskip("array_api_strict")


@pytest.fixture(autouse=True)
def clean_record():
    """No failure left over from another test (nor left to the next one)."""
    checks = td.backends.get("strict").checks
    try:
        checks.report()
    except IndexError:
        pass
    yield
    checks.pending = False
    if checks.record is not None:
        checks.record[...] = 0


def _logits(rows=4, classes=3, seed=0):
    data = np.random.default_rng(seed).standard_normal((rows, classes))
    return data, td.Tensor(data, dtype="float64", backend="strict", requires_grad=True)


def test_a_bad_target_is_masked_in_the_step_and_raised_at_the_next_read():
    data, logits = _logits()
    loss = F.cross_entropy(logits, td.Tensor([0, 7, 2, 1], backend="strict"))
    loss.backward()
    # the bad row counts for nothing: the loss is the mean over the three good rows, exactly
    good = data[[0, 2, 3]]
    log_probs = good - np.log(np.exp(good).sum(axis=1, keepdims=True))
    expected = -np.mean(log_probs[[0, 1, 2], [0, 2, 1]])
    grad = td.backends.get("strict").to_numpy(logits.grad.data)
    assert np.all(grad[1] == 0.0) and np.all(np.isfinite(grad))
    with pytest.raises(IndexError, match="cross_entropy: target 7 is out of range for 3 "
                                         "classes"):
        logits.grad.numpy()  # any tensor of the backend reports it
    assert loss.item() == pytest.approx(expected, rel=1e-12)  # reported once, then cleared


def test_the_first_failure_is_the_one_reported():
    _, logits = _logits()
    F.nll_loss(logits, td.Tensor([0, -3, 2, 1], backend="strict"))
    F.cross_entropy(logits, td.Tensor([0, 9, 2, 1], backend="strict"))
    with pytest.raises(IndexError, match="nll_loss: target -3 is out of range"):
        logits.numpy()
    logits.numpy()


def test_the_largest_bad_target_is_named_unless_one_is_negative():
    _, logits = _logits(rows=5)
    F.cross_entropy(logits, td.Tensor([0, 4, 255, 9, -100], backend="strict"))
    with pytest.raises(IndexError, match="target 255 is out of range"):
        logits.numpy()
    F.cross_entropy(logits, td.Tensor([0, 4, 255, -7, 1], backend="strict"))
    with pytest.raises(IndexError, match="target -7 is out of range"):
        logits.numpy()


def test_numpy_checks_at_once_and_records_nothing():
    logits = td.Tensor(np.zeros((2, 3)), backend="numpy")
    with pytest.raises(IndexError, match="target 5 is out of range"):
        F.cross_entropy(logits, [0, 5])
    assert td.backends.get("numpy").checks.record is None


def test_reading_costs_nothing_more_when_no_check_ran():
    checks = td.backends.get("strict").checks
    _, logits = _logits()
    F.cross_entropy(logits, td.Tensor([0, 1, 2, 1], backend="strict"))
    assert checks.pending
    logits.numpy()
    assert not checks.pending  # the record was read once; later reads skip it


def test_data_and_models_load_on_first_use_only():
    """``td.data`` and ``td.models`` work after ``import tinygrad_drop`` alone, which does not
    import them (nor the dataset and drawing code behind them)."""
    code = ("import sys, tinygrad_drop as td; "
            "print('tinygrad_drop.data' in sys.modules, 'tinygrad_drop.models' in sys.modules); "
            "print(callable(td.data.fashion_mnist), callable(td.models.mlp)); "
            "print('tinygrad_drop.data' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False", "True", "True", "True"]
    with pytest.raises(AttributeError, match="has no attribute 'nonsense'"):
        td.nonsense  # noqa: B018
