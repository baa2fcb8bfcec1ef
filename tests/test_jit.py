"""``td.jit``: on backends that cannot capture (numpy, strict) the function simply runs, equal to
calling it; the capture logic (warm-up, static inputs, keys, the same result objects refreshed)
on a NumPy backend whose recorder replays by running the call again and writing its results
into the first call's arrays, as a CUDA graph writes the same addresses; and, where a GPU is
present, the real CUDA-graph capture on CuPy (skipped with the reason elsewhere)."""

import numpy as np
import pytest

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from tinygrad_drop import Tensor, models, optim
from tinygrad_drop.backends import philox
from tinygrad_drop.backends.capture import CaptureError
from tinygrad_drop.backends.numpy_backend import NumpyBackend
from tinygrad_drop.jit import _tensors, jit

BATCH, FEATURES, CLASSES = 16, 12, 5


def batches(count, batch=BATCH, seed=0):
    """``count`` (x, y) host batches: float32 features, int64 classes."""
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((batch, FEATURES)).astype(np.float32),
             rng.integers(0, CLASSES, batch)) for _ in range(count)]


def trainer(backend, optimizer="sgd", dropout=(0.0,)):
    """(model, optimizer, step): a small MLP and ``step(x, y) -> loss`` (forward, backward,
    optimizer step)."""
    td.manual_seed(0)
    model = models.mlp(FEATURES, (8,), CLASSES, dropout=dropout, backend=backend)
    params = list(model.parameters())
    opt = {"sgd": lambda: optim.SGD(params, lr=0.1, momentum=0.9),
           "adam": lambda: optim.Adam(params, lr=0.01),
           "adadelta": lambda: optim.Adadelta(params)}[optimizer]()
    return model, opt, training_step(model, opt)


def training_step(model, opt):
    """``step(x, y) -> loss``: forward, cross-entropy, backward, optimizer step."""
    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def on(backend, data):
    return [(Tensor(x, backend=backend), Tensor(y, backend=backend)) for x, y in data]


def weights(model):
    return [p.numpy() for p in model.parameters()]


# -- backends that cannot capture: fn runs as it is ------------------------------------------------
def test_jit_on_a_backend_that_cannot_capture_is_the_function(backend):
    data = batches(3) + batches(2, batch=7, seed=1)  # a new batch size midway
    model_a, _, step_a = trainer(backend)
    losses_a = [step_a(x, y).item() for x, y in on(backend, data)]
    model_b, _, step_b = trainer(backend)
    jitted = jit(step_b)
    losses_b = [jitted(x, y).item() for x, y in on(backend, data)]
    assert losses_a == losses_b
    for a, b in zip(weights(model_a), weights(model_b), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not jitted.steps and not jitted.warmed  # nothing keyed: no capture here


def test_jit_passes_other_arguments_and_keywords_and_returns_what_fn_returns(backend):
    def fn(x, scale, *, shift=0.0, pair=(1, 2)):
        return x * scale + shift, pair

    x = Tensor(np.arange(4.0), backend=backend)
    out, pair = jit(fn)(x, 2.0, shift=1.0, pair=(3, 4))
    np.testing.assert_array_equal(out.numpy(), [1.0, 3.0, 5.0, 7.0])
    assert pair == (3, 4)
    assert jit(fn).__name__ == "fn" and "fn" in repr(jit(fn))


def test_jit_needs_a_callable():
    with pytest.raises(TypeError, match="expected a callable"):
        jit(3)


# -- the capture logic, on a recorder that replays by calling again -------------------------------
class CallAgain:
    """A recorded step that replays by running the call again and writing the new results'
    arrays into the recorded ones (fixed output addresses, as a CUDA graph has)."""

    def __init__(self, call, result, log):
        self.call, self.result, self.log = call, result, log

    def replay(self):
        self.log.append("replay")
        for old, new in zip(_tensors(self.result), _tensors(self.call()), strict=True):
            if isinstance(old.data, np.ndarray):
                old.data[...] = new.data
            else:  # NumPy makes 0-d results scalars: nothing to write into
                old.data = new.data


class CallAgainRecorder:
    def __init__(self):
        self.log = []

    def record(self, call):
        self.log.append("record")
        result = call()
        return result, CallAgain(call, result, self.log)


class RecordingNumpy(NumpyBackend):
    """The NumPy backend with a recorder (the capture logic's test double)."""

    name = "numpy-recording"

    def __init__(self):
        super().__init__()
        self.recorder = CallAgainRecorder()

    def capture(self):
        return self.recorder


@pytest.fixture
def recording():
    return RecordingNumpy()


def test_warm_up_then_record_then_replay_train_as_eager_steps(recording):
    data = batches(6)
    model_a, _, step_a = trainer("numpy")
    eager = [step_a(x, y).item() for x, y in on("numpy", data)]
    model_b, _, step_b = trainer(recording)
    calls = []

    def counted(x, y):
        calls.append(1)
        return step_b(x, y)

    jitted = jit(counted)
    losses = []
    for x, y in on(recording, data):
        loss = jitted(x, y)
        losses.append(loss.item())
        if len(losses) >= 2:
            assert loss is jitted.steps[next(iter(jitted.steps))].result  # the same object
    assert recording.recorder.log == ["record"] + ["replay"] * 4
    assert len(calls) == 6  # warm-up, the recorded call, and four replays running it again
    assert losses == eager
    for a, b in zip(weights(model_a), weights(model_b), strict=True):
        np.testing.assert_array_equal(a, b)


def test_replays_read_the_new_arguments_through_static_copies(recording):
    seen = []

    def fn(x):
        seen.append(x)
        return x * 2.0

    jitted = jit(fn)
    inputs = [Tensor(np.full(3, float(i)), backend=recording) for i in range(4)]
    outs = [jitted(x).numpy().tolist() for x in inputs]
    assert outs == [[0.0] * 3, [2.0] * 3, [4.0] * 3, [6.0] * 3]
    assert seen[0] is inputs[0]  # warm-up: the argument itself
    static = seen[1]
    assert static is not inputs[1] and all(t is static for t in seen[2:])  # then one static copy
    assert inputs[1].numpy().tolist() == [1.0] * 3  # the caller's tensors are left alone


def test_a_new_shape_dtype_or_value_records_again(recording):
    jitted = jit(lambda x, k: x * k)
    calls = [(np.ones(3), 2), (np.ones(3), 2), (np.ones(3), 2), (np.ones(4), 2), (np.ones(4), 2),
             (np.ones(3, np.float32), 2), (np.ones(3, np.float32), 2), (np.ones(3), 3),
             (np.ones(3), 3), (np.ones(3), 2)]
    for x, k in calls:
        assert jitted(Tensor(x, backend=recording), k).numpy().tolist() == (x * k).tolist()
    assert len(jitted.steps) == 4 and len(jitted.warmed) == 4
    assert recording.recorder.log == ["record", "replay", "record", "record", "record",
                                      "replay"]


def test_tensors_that_require_grad_are_passed_as_they_are_and_keyed_by_identity(recording):
    w = Tensor(np.ones(3), requires_grad=True, backend=recording)
    other = Tensor(np.ones(3), requires_grad=True, backend=recording)
    seen = []

    def fn(p, x):
        seen.append(p)
        return (p * x).sum()

    jitted = jit(fn)
    x = Tensor(np.arange(3.0), backend=recording)
    for _ in range(3):
        jitted(w, x)
    jitted(other, x)
    assert all(p is w for p in seen[:3]) and seen[3] is other
    assert len(jitted.warmed) == 2 and len(jitted.steps) == 1


def test_containers_of_tensors_are_copied_and_rebuilt(recording):
    def fn(batch, extra):
        [(x, y)], z = batch, extra["z"]
        return x + y + z

    jitted = jit(fn)
    for i in range(3):
        x, y, z = (Tensor(np.full(2, float(i + j)), backend=recording) for j in range(3))
        assert jitted([(x, y)], {"z": z}).numpy().tolist() == [3.0 * i + 3.0] * 2


def test_an_unhashable_other_argument_is_a_clear_error(recording):
    x = Tensor(np.ones(2), backend=recording)
    with pytest.raises(TypeError, match="neither a Tensor nor hashable"):
        jit(lambda x, opts: x)(x, np.ones(2))


# -- the real thing, on a GPU ---------------------------------------------------------------------
@pytest.fixture
def gpu():
    """The CuPy backend (skips, saying why, where it cannot run)."""
    ok, reason = td.backends.is_available("cupy")
    if not ok:
        pytest.skip(reason)
    return td.backends.get("cupy")


def assert_close_normwise(a, b, rtol):
    assert np.linalg.norm(a - b) <= rtol * max(np.linalg.norm(b), 1e-30)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adadelta"])
def test_gpu_replayed_training_equals_eager_training_step_by_step(gpu, optimizer):
    data = batches(6)
    model_a, _, step_a = trainer("cupy", optimizer, dropout=(0.3,))
    eager = []
    for x, y in on("cupy", data):
        eager.append((step_a(x, y).item(), weights(model_a)))
    model_b, _, step_b = trainer("cupy", optimizer, dropout=(0.3,))  # re-seeds: same masks
    jitted = jit(step_b)
    for (x, y), (loss, expected) in zip(on("cupy", data), eager, strict=True):
        assert jitted(x, y).item() == pytest.approx(loss, rel=1e-5)
        for got, want in zip(weights(model_b), expected, strict=True):
            assert_close_normwise(got, want, 1e-5)  # float32: products may sum in another order
    assert len(jitted.steps) == 1


def test_gpu_replays_draw_fresh_masks_from_the_eager_stream(gpu):
    x = Tensor(np.ones((64, 33), np.float32), backend="cupy")
    jitted = jit(lambda t: F.dropout(t, 0.4) * 1.0)
    td.manual_seed(11)
    masks = [jitted(x).numpy() != 0 for _ in range(5)]
    expected = [philox.dropout_mask(11, offset, (64, 33), 0.6) for offset in range(6)]
    np.testing.assert_array_equal(masks, expected[:5])
    assert not np.array_equal(masks[2], masks[3])
    # an eager draw after the replays continues the stream
    np.testing.assert_array_equal(F.dropout(x, 0.4).numpy() != 0, expected[5])


def test_gpu_a_new_batch_size_records_again(gpu):
    _, _, step = trainer("cupy")
    jitted = jit(step)
    for x, y in on("cupy", batches(3) + batches(3, batch=9, seed=2)):
        assert np.isfinite(jitted(x, y).item())
    assert len(jitted.steps) == 2


def test_gpu_a_host_read_inside_is_a_clear_error(gpu):
    x = Tensor(np.ones(4, np.float32), backend="cupy")
    jitted = jit(lambda t: (t * 2).sum().item())
    jitted(x)  # the warm-up runs eagerly
    with pytest.raises(CaptureError, match="read it after the call"):
        jitted(x)
    assert not gpu.capturing


def test_gpu_founding_mlp_with_sgd_learns_under_jit(gpu):
    td.manual_seed(0)
    model = models.mlp(backend="cupy")
    opt = optim.SGD(model.parameters(), lr=0.5)
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((10, 784)).astype(np.float32)
    labels = rng.integers(0, 10, 256 * 20)
    images = centres[labels] + 0.5 * rng.standard_normal((labels.size, 784)).astype(np.float32)
    step = jit(training_step(model, opt))
    losses = [step(Tensor(images[i:i + 256], backend="cupy"),
                   Tensor(labels[i:i + 256], backend="cupy")).item()
              for i in range(0, labels.size, 256)]
    assert losses[-1] < 0.5 * losses[0]


def test_a_bad_target_in_a_replayed_step_is_reported_at_the_next_read(recording):
    """A recorded step that checks class targets on the device leaves each replay's record for
    the next host read (here the recorder replays by calling again; on CuPy the graph rewrites
    the record): a bad target in the fourth call, a replay, is raised when the loss is read."""
    recording.host_memory = False  # check as a device backend does

    class GraphLike(CallAgain):
        """Replays leave no Python-side trace, as a CUDA graph's: only the arrays change."""

        def replay(self):
            super().replay()
            recording.checks.pending = False

    class GraphLikeRecorder(CallAgainRecorder):
        def record(self, call):
            result, _ = super().record(call)
            return result, GraphLike(call, result, self.log)

    recording.recorder = GraphLikeRecorder()
    model, _, step = trainer(recording)
    jitted = jit(step)
    data = on(recording, batches(4))
    for x, y in data[:3]:
        jitted(x, y).item()
    x, y = data[3]
    y.data[2] = CLASSES + 4
    loss = jitted(x, y)
    assert recording.recorder.log == ["record", "replay", "replay"]
    with pytest.raises(IndexError, match=f"target {CLASSES + 4} is out of range for {CLASSES}"):
        loss.item()
    loss.item()  # reported once
