"""How many times per call the ops that a training step uses read a value back from the device
(DESIGN: a training step reads nothing back: the class losses check their targets on the
device and report a bad one at the next read, backends/deferred_checks.py). Counted on the
strict backend by wrapping every way its arrays reach the host: bool(), int(), float(),
operator.index(), complex(), np.asarray()."""

import numpy as np
import pytest

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from tinygrad_drop.backends.kernels import ShapeKernels
from tinygrad_drop.backends.strict_backend import StrictArray

pytest.importorskip("array_api_strict")

_HOST_READS = ("__bool__", "__int__", "__float__", "__index__", "__complex__", "__array__")


@pytest.fixture
def reads(monkeypatch):
    """A list that gets one entry per device-to-host read of a strict array. The portable
    scatter_add kernel (gather's and indexing's backward) is left out: it goes through host
    memory by design, the Array API having no scatter, and device backends replace it."""
    seen, paused = [], []
    for name in _HOST_READS:
        original = getattr(StrictArray, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            if not paused:
                seen.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(StrictArray, name, counted)
    scatter_add = ShapeKernels.scatter_add

    def host_scatter_add(self, *args):
        paused.append(True)
        try:
            return scatter_add(self, *args)
        finally:
            paused.pop()

    monkeypatch.setattr(ShapeKernels, "scatter_add", host_scatter_add)
    return seen


def _leaf(shape, seed=0):
    data = np.random.default_rng(seed).standard_normal(shape)
    return td.Tensor(data, dtype="float32", backend="strict", requires_grad=True)


def _ints(values):
    return td.Tensor(np.asarray(values, dtype=np.int64), backend="strict")


def _count(reads, fn):
    """(reads in forward, reads in backward) of ``fn()``'s loss."""
    del reads[:]
    loss = fn()
    forward = len(reads)
    del reads[:]
    loss.backward()
    return forward, len(reads)


TARGETS = [0, 3, 9, 2, 0, 5, 7, 1]

CLASS_LOSSES = {
    "cross_entropy": lambda x, t, **kw: F.cross_entropy(x, t, **kw),
    "nll_loss": lambda x, t, **kw: F.nll_loss(x.log_softmax(1), t, **kw),
}


@pytest.mark.parametrize("name", sorted(CLASS_LOSSES))
@pytest.mark.parametrize("options", [
    {}, {"ignore_index": 0}, {"ignore_index": 9}, {"reduction": "sum"},
    {"reduction": "none"}, {"ignore_index": 4},
], ids=repr)
def test_class_losses_read_nothing(reads, name, options):
    x, t = _leaf((8, 10)), _ints(TARGETS)
    loss = CLASS_LOSSES[name]

    def call():
        out = loss(x, t, **options)
        return out if out.ndim == 0 else out.sum()

    assert _count(reads, call) == (0, 0), reads


def test_cross_entropy_options_read_nothing(reads):
    x, t = _leaf((8, 10)), _ints(TARGETS)
    w = td.Tensor(np.linspace(0.5, 2.0, 10), dtype="float32", backend="strict")
    assert _count(reads, lambda: F.cross_entropy(x, t, label_smoothing=0.1)) == (0, 0)
    assert _count(reads, lambda: F.cross_entropy(x, t, weight=w)) == (0, 0)
    x3, t3 = _leaf((2, 10, 3)), _ints([[0, 1, 2], [3, 4, 0]])
    assert _count(reads, lambda: F.cross_entropy(x3, t3)) == (0, 0)


def test_ignored_and_bad_targets_read_nothing_until_the_next_read(reads):
    """-100 among the targets (padding) and even a bad target cost no read in the step; the
    bad one is raised at the next read, which is one read of the check's record."""
    x, t = _leaf((8, 10)), _ints([0, 3, -100, 2, -100, 5, 7, 1])
    assert _count(reads, lambda: F.cross_entropy(x, t)) == (0, 0)
    every = _ints([-100] * 8)
    assert _count(reads, lambda: F.nll_loss(x, every)) == (0, 0)
    bad = _ints([0, 3, 12, 2, -100, 5, 7, 1])
    assert _count(reads, lambda: F.cross_entropy(x, bad)) == (0, 0)
    with pytest.raises(IndexError, match="cross_entropy: target 12 is out of range"):
        x.numpy()


def test_binary_cross_entropy_reads_once(reads):
    x = _leaf((4, 5))
    y = td.Tensor(np.random.default_rng(1).uniform(size=(4, 5)), dtype="float32",
                  backend="strict")
    assert _count(reads, lambda: F.binary_cross_entropy(x.sigmoid(), y)) == (1, 0)
    assert _count(reads, lambda: F.binary_cross_entropy_with_logits(x, y)) == (0, 0)


def test_gather_and_integer_array_indexing_read_once(reads):
    x = _leaf((4, 5))
    index = _ints([[0, 4], [1, 1], [3, 2], [0, 0]])
    assert _count(reads, lambda: x.gather(1, index).sum()) == (1, 0)
    rows, cols = _ints([0, 3, -1]), _ints([4, 0, 2])
    assert _count(reads, lambda: x[rows].sum()) == (1, 0)
    assert _count(reads, lambda: x[rows, cols].sum()) == (1, 0)
    assert _count(reads, lambda: x[rows, 1:].sum()) == (1, 0)


def test_a_founding_step_reads_nothing(reads):
    """Linear, relu, dropout, cross-entropy, backward: no read."""
    td.manual_seed(0)
    w1, w2 = _leaf((16, 10)), _leaf((10, 16), seed=1)
    x = td.Tensor(np.random.default_rng(2).standard_normal((8, 10)), dtype="float32",
                  backend="strict")
    t = _ints(TARGETS)

    def step():
        h = F.dropout(F.relu(F.linear(x, w1)), 0.5)
        return F.cross_entropy(F.linear(h, w2), t)

    assert _count(reads, step) == (0, 0), reads


OPTIMIZERS = {
    "sgd": lambda params: td.optim.SGD(params, lr=0.1),
    "sgd momentum nesterov decay": lambda params: td.optim.SGD(
        params, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4),
    "adam": lambda params: td.optim.Adam(params, lr=1e-3, weight_decay=1e-4),
    "adadelta": lambda params: td.optim.Adadelta(params, lr=1.0, rho=0.95, eps=1e-7),
}


def _founding_model(batchnorm=False):
    td.manual_seed(0)
    return td.models.mlp(10, (16, 12), 10, (0.2, 0.5), batchnorm=batchnorm, backend="strict")


@pytest.mark.parametrize("batchnorm", [False, True], ids=["plain", "batchnorm"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_whole_training_steps_read_nothing(reads, name, batchnorm):
    """The issue-16 promise: zero_grad, forward, loss, backward and optimizer step of the
    founding MLP (relu, dropout, optionally batchnorm) read nothing back from the device, step
    after step (the optimizers' state is made on the first step)."""
    model = _founding_model(batchnorm)
    optimizer = OPTIMIZERS[name](model.parameters())
    x = td.Tensor(np.random.default_rng(2).standard_normal((8, 10)), dtype="float32",
                  backend="strict")
    t = _ints(TARGETS)
    for _ in range(3):
        del reads[:]
        optimizer.zero_grad()
        F.cross_entropy(model(x), t).backward()
        optimizer.step()
        assert reads == [], (name, reads)


@pytest.mark.parametrize("batches", [1, 5])
def test_an_epoch_of_fit_reads_twice_whatever_its_length(reads, batches):
    """fit sums the epoch's losses on the device and reads the sum once, after the deferred
    target checks' record: two reads per epoch, not one per batch (and the batches are cut on
    the device: the DataLoader copies each epoch's order there once)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8 * batches, 10)).astype(np.float32)
    y = rng.integers(0, 10, 8 * batches)
    loader = td.data.DataLoader(x, y, 8, seed=0, backend="strict")
    model = _founding_model()
    optimizer = td.optim.SGD(model.parameters(), lr=0.1)
    del reads[:]
    history = td.training.fit(model, optimizer, F.cross_entropy, loader, 2)
    assert len(reads) == 4, reads
    assert all(np.isfinite(record["train_loss"]) for record in history)
