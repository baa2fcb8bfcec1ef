"""The CuPy recorder of ``td.jit`` (``backends/cupy_graph.py``) on the CPU: the module runs
against a stand-in ``cupy`` whose stream capture keeps the launches of the host-emulated
kernels (``HostGraphBackend``) and whose graph runs them again, so the recorder's own logic is
checked: the first run after recording, the generator's bookkeeping around replays (fresh
masks, the eager stream's), the deferred checks, one memory pool per step, and how a failing
call ends the capture."""

import contextlib
import importlib.util
import sys
import types

import numpy as np
import pytest
from cuda_host import HostDeviceArray, compile_or_skip, host_cupy, load_cupy_kernels
from cuda_host_capture import POSITION_HOST_LAUNCHERS, HostGraphBackend
from test_jit_philox import StandInGenerator

from tinygrad_drop.backends import philox
from tinygrad_drop.backends.capture import CaptureError
from tinygrad_drop.backends.cuda_source import kernel_source

SEED = 77


@pytest.fixture(scope="module")
def libraries(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("cupy_graph_host"))
    return {"float32": compile_or_skip(kernel_source("float32"), workdir, "float32",
                                       POSITION_HOST_LAUNCHERS)}


class StandInStream:
    """A CuPy stream whose capture is the backend's launch recording."""

    def __init__(self, backend):
        self.backend, self.capturing, self.end_error = backend, False, None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def begin_capture(self):
        assert not self.capturing
        self.capturing = True
        self.backend.begin_capture()

    def end_capture(self):
        assert self.capturing
        self.capturing = False
        recording = self.backend.end_capture()
        if self.end_error is not None:  # an invalidated capture ends with an error
            raise self.end_error
        return types.SimpleNamespace(launch=lambda: self.backend.replay(recording))


class Device(HostGraphBackend):
    """What the recorder asks of the CuPy backend, launches emulated on the host."""

    def __init__(self, module, libraries):
        super().__init__(module.cupy, libraries, blocks=2)
        self.dropout = module.CupyDropoutKernels(self)
        self.generator = StandInGenerator(SEED, self.dropout)
        self.checks = types.SimpleNamespace(pending=False)
        self.allocators = []

    def kernels(self, family):
        assert family == "dropout"
        return self.dropout


@pytest.fixture
def recorder(libraries):
    fake = host_cupy()
    kernels = load_cupy_kernels(fake, "tinygrad_drop.backends._cupy_kernels_graph_host")
    device = Device(kernels, libraries)

    @contextlib.contextmanager
    def using_allocator(malloc):
        device.allocators.append(malloc)
        yield

    fake.cuda = types.SimpleNamespace(Stream=lambda non_blocking: StandInStream(device),
                                      MemoryPool=lambda: types.SimpleNamespace(malloc=object()),
                                      using_allocator=using_allocator)
    spec = importlib.util.spec_from_file_location(
        "tinygrad_drop.backends._cupy_graph_host",
        importlib.util.find_spec("tinygrad_drop.backends.cupy_graph").origin)
    module = importlib.util.module_from_spec(spec)
    saved = sys.modules.get("cupy")
    sys.modules["cupy"] = fake  # what ``import cupy`` in the module finds
    try:
        spec.loader.exec_module(module)
    finally:
        if saved is None:
            del sys.modules["cupy"]
        else:
            sys.modules["cupy"] = saved
    return module.CupyRecorder(device), device


def ones(n):
    x = HostDeviceArray.__new__(HostDeviceArray, (n,), np.float32)
    x[...] = 1.0
    return x


def two_draws(device):
    x = ones(50)
    return [device.dropout.forward(x, 0.5, 0.5, device.generator)[0] for _ in range(2)]


def kept(outs):
    return [np.asarray(out) != 0 for out in outs]


def expected(*offsets):
    return [philox.dropout_mask(SEED, offset, (50,), 0.5) for offset in offsets]


def test_recorded_step_runs_once_then_replays_draw_the_eager_stream(recorder):
    rec, device = recorder
    generator = device.generator
    generator.take_draw()  # an eager draw first: offset 1
    outs, step = rec.record(lambda: two_draws(device))
    np.testing.assert_equal(kept(outs), expected(1, 2))  # run once after recording
    assert (step.draws, generator.offset, device.capturing) == (2, 3, False)
    assert [launch[1] for launch in device.recorded][-1] == "td_advance_offset"
    step.replay()
    np.testing.assert_equal(kept(outs), expected(3, 4))
    generator.take_draw()  # eager, offset 5: the next replay moves the device position first
    step.replay()
    np.testing.assert_equal(kept(outs), expected(6, 7))
    assert generator.offset == 8 and generator.device_position().tolist() == [SEED, 8]


def test_each_step_records_in_a_pool_of_its_own(recorder):
    rec, device = recorder
    _, first = rec.record(lambda: two_draws(device))
    _, second = rec.record(lambda: two_draws(device))
    assert first.pool is not second.pool
    assert device.allocators == [first.pool.malloc, second.pool.malloc]


def test_deferred_checks_made_in_the_step_are_pending_after_each_replay(recorder):
    rec, device = recorder

    def checking():
        device.checks.pending = True  # as an op's device check does
        return two_draws(device)

    _, step = rec.record(checking)
    device.checks.pending = False  # a host read reported them
    step.replay()
    assert device.checks.pending
    _, quiet = rec.record(lambda: two_draws(device))
    device.checks.pending = False
    quiet.replay()
    assert not device.checks.pending


def test_a_failing_call_ends_the_capture_and_leaves_the_generator_as_it_was(recorder):
    rec, device = recorder

    def failing():
        two_draws(device)
        raise ValueError("a shape error of the user's")

    with pytest.raises(ValueError, match="shape error"):
        rec.record(failing)
    assert not rec.stream.capturing and not device.capturing
    assert device.generator.offset == 0 and device.generator.capture_start is None


@pytest.mark.parametrize("end_error", [None, RuntimeError("cudaErrorStreamCaptureInvalidated")])
def test_a_refusal_to_capture_is_explained(recorder, end_error):
    rec, device = recorder
    rec.stream.end_error = end_error
    refusal = NotImplementedError("calling cuBLAS API during stream capture is currently "
                                  "unsupported")

    def refused():
        raise refusal

    with pytest.raises(CaptureError, match="could not capture .* no host reads") as info:
        rec.record(refused)
    assert info.value.__cause__ is refusal
    assert not rec.stream.capturing and not device.capturing


def test_our_own_capture_errors_pass_as_they_are(recorder):
    rec, _ = recorder
    error = CaptureError("read it after the call")

    def reading():
        raise error

    with pytest.raises(CaptureError) as info:
        rec.record(reading)
    assert info.value is error
