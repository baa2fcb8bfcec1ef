"""The CuPy backend's fused layer families (``backends/cupy_fused_kernels.py``) run through the
real ops, autograd and optimizers on the CPU, without CuPy: the module is loaded against the
stand-in ``cupy`` over NumPy and serves a NumPy backend whose launches go to the host-compiled
CUDA source (``cuda_host.HostFusedBackend``). Checked: which kernel each op launches, the
launches of a founding MLP step (and with batch normalisation), results against the NumPy
backend, the device check of class targets, and in-place state. On a GPU,
``test_cupy_parity.py`` runs the real thing."""

import types

import numpy as np
import pytest
from fused_host import compiled, device
from op_counter import TALLY, CountingBackend

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from tinygrad_drop import Tensor, optim
from tinygrad_drop.backends.capture import CaptureError
from tinygrad_drop.ops.loss_targets import TargetOutOfRange
from tinygrad_drop.ops.norm import BatchNorm
from tinygrad_drop.optim import lr_scheduler

NUMPY = td.backends.get("numpy")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return compiled(str(tmp_path_factory.mktemp("fused_host")))


def mlp_params(backend, batchnorm=False, seed=0):
    """The founding MLP's parameters, 784-256-256-10 (small weights, as ``models.mlp``)."""
    rng = np.random.default_rng(seed)
    shapes = [(256, 784), (256,), (256, 256), (256,), (10, 256), (10,)]
    arrays = [rng.standard_normal(s) * 0.05 for s in shapes]
    if batchnorm:
        arrays += [np.ones(256), np.zeros(256), np.ones(256), np.zeros(256)]
    return [Tensor(a.astype(np.float32), backend=backend, requires_grad=True) for a in arrays]


def mlp_step(backend, params, opt, x, y, rates=(0.0, 0.0), running=None):
    """One training step of the founding MLP (dropout ``rates``; batch norm with ``running``
    statistics when given); the loss Tensor and the launches of each phase."""
    launches = backend.launches if hasattr(backend, "launches") else []
    phases = {}
    launches.clear()
    opt.zero_grad()
    h = Tensor(x, backend=backend)
    for layer, rate in enumerate(rates):
        h = F.linear(h, params[2 * layer], params[2 * layer + 1])
        if running is not None:
            h = F.batch_norm(h, *running[2 * layer:2 * layer + 2], params[6 + 2 * layer],
                             params[7 + 2 * layer], training=True)
        h = F.relu(h)
        if rate:
            h = F.dropout(h, rate, training=True)
    loss = F.cross_entropy(F.linear(h, params[4], params[5]), Tensor(y, backend=backend))
    phases["forward"] = list(launches)
    launches.clear()
    loss.backward()
    phases["backward"] = list(launches)
    launches.clear()
    opt.step()
    phases["step"] = list(launches)
    return loss, phases


def batch(rows=64, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((rows, 784)).astype(np.float32), rng.integers(0, 10, rows)


def test_founding_mlp_step_launches_one_fused_kernel_per_layer_and_matches_numpy(built):
    dev = device(built, blocks=4, threads=8)
    x, y = batch()
    results = []
    for backend in (dev, NUMPY):
        params = mlp_params(backend)
        opt = optim.SGD(params, lr=0.1, momentum=0.9)
        for _ in range(2):
            loss, phases = mlp_step(backend, params, opt, x, y)
        results.append((loss.item(), [p.numpy() for p in params], phases))
    (loss, values, phases), (ref_loss, ref_values, _) = results
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-5)
    for mine, theirs in zip(values, ref_values, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-6)
    assert phases == {
        "forward": ["td_bias_add", "td_relu_forward", "td_bias_add", "td_relu_forward",
                    "td_bias_add", "td_cross_entropy_forward"],
        "backward": ["td_cross_entropy_backward", "td_channel_sums", "td_channel_sums",
                     "td_channel_sums"],
        "step": ["td_sgd_multi"]}


def test_mlp_with_dropout_and_batch_norm_launches(built):
    dev = device(built, blocks=3, threads=4)
    x, y = batch(32)
    params = mlp_params(dev, batchnorm=True)
    running = [Tensor(np.zeros(256, np.float32), backend=dev),
               Tensor(np.ones(256, np.float32), backend=dev)] * 2
    running = [Tensor(r.numpy(), backend=dev) for r in running]  # four distinct buffers
    opt = optim.Adam(params, lr=1e-3)
    _, phases = mlp_step(dev, params, opt, x, y, rates=(0.2, 0.5), running=running)
    assert phases["forward"] == ["td_bias_add", "td_bn_forward", "td_relu_forward"] * 2 + [
        "td_bias_add", "td_cross_entropy_forward"]
    assert phases["backward"].count("td_bn_backward") == 2
    assert phases["step"] == ["td_adam_multi"]
    assert not np.array_equal(running[0].numpy(), np.zeros(256))  # updated


def test_batch_norm_op_in_place_writes_the_running_arrays_it_was_given(built):
    dev = device(built, blocks=2, threads=3)
    rng = np.random.default_rng(2)
    x = Tensor(rng.standard_normal((8, 3)), backend=dev, requires_grad=True)
    running_mean, running_var = np.zeros(3), np.ones(3)
    out, new_mean, new_var = BatchNorm.apply(x, training=True, momentum=0.1,
                                             running_mean=running_mean,
                                             running_var=running_var, in_place=True)
    assert new_mean.data is running_mean and new_var.data is running_var
    np.testing.assert_allclose(running_mean, 0.1 * x.numpy().mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(running_var, 0.9 + 0.1 * x.numpy().var(axis=0, ddof=1),
                               rtol=1e-12)
    out.sum().backward()
    assert dev.launches == ["td_bn_forward", "td_bn_backward"]
    np.testing.assert_allclose(x.grad.numpy(), 0, atol=1e-12)  # sum of a normalised batch


def test_a_bad_target_on_a_device_backend_is_left_out_and_raised_at_the_next_read(built):
    dev = device(built, blocks=2, threads=4, host_memory=False)
    logits = Tensor(np.random.default_rng(3).standard_normal((4, 5)), backend=dev,
                    requires_grad=True)
    loss = F.cross_entropy(logits, Tensor(np.array([1, 9, 0, 4]), backend=dev))
    assert dev.launches == ["td_cross_entropy_forward"]
    loss.backward()
    grad = dev.to_numpy(logits.grad.data)
    assert not grad[1].any() and grad[0].any()
    with pytest.raises(TargetOutOfRange, match="cross_entropy: target 9 is out of range for 5 "
                                               "classes"):
        loss.item()
    good = F.cross_entropy(logits, Tensor(np.array([1, 2, 0, 4]), backend=dev), reduction="sum")
    ref = F.cross_entropy(Tensor(logits.numpy()), Tensor(np.array([1, 2, 0, 4])),
                          reduction="sum")
    np.testing.assert_allclose(good.item(), ref.item(), rtol=1e-12)


def test_host_memory_backends_still_raise_a_bad_target_at_once(built):
    dev = device(built)
    logits = Tensor(np.zeros((2, 3)), backend=dev)
    with pytest.raises(TargetOutOfRange, match="target 3 is out of range for 3 classes"):
        F.cross_entropy(logits, Tensor(np.array([0, 3]), backend=dev))
    assert dev.launches == []


@pytest.mark.parametrize("make", [lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
                                  lambda p: optim.Adam(p, lr=0.01, weight_decay=0.1),
                                  lambda p: optim.Adadelta(p, lr=0.5)],
                         ids=["SGD", "Adam", "Adadelta"])
def test_optimizers_step_every_parameter_in_one_launch_with_state_kept_in_place(built, make):
    dev = device(built, blocks=3, threads=2)
    params = [Tensor(np.random.default_rng(i).standard_normal(s), backend=dev,
                     requires_grad=True) for i, s in enumerate([(5, 4), (4,), (3, 5), (3,)])]
    ref = [Tensor(p.numpy(), requires_grad=True) for p in params]
    opts = make(params), make(ref)
    identities = []
    for _ in range(3):
        for opt, ps in zip(opts, (params, ref), strict=True):
            opt.zero_grad()
            for i, p in enumerate(ps):
                (p * p * (i + 1)).sum().backward()
        dev.launches.clear()
        for opt in opts:
            opt.step()
        assert len(dev.launches) == 1 and dev.launches[0].endswith("_multi")
        identities.append([sorted((k, id(v)) for k, v in opts[0].state[p].items()
                                  if hasattr(v, "shape")) for p in params])
    assert identities[1] == identities[2]
    for mine, theirs in zip(params, ref, strict=True):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())  # the same formulas


GROUPED = {"SGD": lambda g: optim.SGD(g, lr=0.1, momentum=0.9, nesterov=True),
           "Adam": lambda g: optim.Adam(g, lr=0.01, weight_decay=0.1),
           "AdamW": lambda g: optim.AdamW(g, lr=0.01, weight_decay=0.1),
           "Adadelta": lambda g: optim.Adadelta(g, lr=0.5, weight_decay=0.01)}


def grouped_params(backend, dtype=np.float32):
    """Four parameters in two groups, the second with its own learning rate."""
    params = [Tensor(np.random.default_rng(i).standard_normal(s).astype(dtype), backend=backend,
                     requires_grad=True) for i, s in enumerate([(5, 4), (4,), (3, 5), (3,)])]
    return params, [{"params": params[:2]}, {"params": params[2:], "lr": 0.2}]


def backward(params):
    for i, p in enumerate(params):
        p.grad = None
        (p * p * (i + 1)).sum().backward()


@pytest.mark.parametrize("name", list(GROUPED))
def test_groups_launch_once_each_with_their_options_as_the_portable_path(built, name):
    dev = device(built, blocks=2, threads=3)
    params, groups = grouped_params(dev)
    ref, ref_groups = grouped_params(NUMPY)
    opt, ref_opt = GROUPED[name](groups), GROUPED[name](ref_groups)
    for _ in range(3):
        backward(params)
        backward(ref)
        dev.launches.clear()
        opt.step()
        ref_opt.step()
        assert len(dev.launches) == 2, dev.launches
    for mine, theirs in zip(params, ref, strict=True):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


@pytest.mark.parametrize("name", list(GROUPED))
def test_a_recorded_step_follows_the_schedule_through_device_memory(built, name):
    """What td.jit's CUDA graph does, on the host: the launches of one ``opt.step()`` are kept
    (kernel and arguments, arrays by address) and run again later without Python. Between
    replays a StepLR halves the learning rates. The replays must equal eager portable steps
    at the new rates, and differ from steps at the rate of the recording: a kernel argument
    holding the rate would be replayed as it was recorded."""
    dev = device(built, blocks=2, threads=2)
    params, groups = grouped_params(dev)
    opt = GROUPED[name](groups)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    backward(params)
    opt.step()  # warm-up: state and the groups' device options come into being
    sched.step()
    kept, launch = [], dev.launch
    dev.launch = lambda *args: kept.append(args)
    try:
        backward(params)  # the gradients the replays read (fixed addresses)
        opt.step()
    finally:
        dev.launch = launch
    assert [k[1] for k in kept] == [f"td_{name.lower().removesuffix('w')}_multi"] * 2
    for _ in range(3):
        for args in kept:
            launch(*args)
        sched.step()

    def eager(rates_change):
        ref, ref_groups = grouped_params(NUMPY)
        ref_opt = GROUPED[name](ref_groups)
        ref_sched = lr_scheduler.StepLR(ref_opt, step_size=1, gamma=0.5)
        backward(ref)
        ref_opt.step()
        ref_sched.step()
        backward(ref)
        for _ in range(3):
            ref_opt.step()
            if rates_change:
                ref_sched.step()
        return ref

    for mine, theirs in zip(params, eager(True), strict=True):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    baked = eager(False)
    assert not all(np.array_equal(m.numpy(), b.numpy()) for m, b in zip(params, baked,
                                                                         strict=True))


class LaunchRecorder:
    """A ``td.jit`` recorder as a CUDA graph is one (``backends/capture.py``): ``record`` keeps
    the launches the call makes instead of running them, then runs them once; a replay runs
    the kept launches again, their arguments as recorded, without calling Python."""

    def __init__(self, backend):
        self.backend, self.log = backend, []

    def record(self, call):
        kept, launch = [], self.backend.launch
        self.backend.launch, self.backend.capturing = (lambda *args: kept.append(args)), True
        try:
            result = call()
        finally:
            self.backend.launch, self.backend.capturing = launch, False
        self.log.append(("record", [k[1] for k in kept]))

        def replay():
            self.log.append("replay")
            for args in kept:
                launch(*args)

        replay()
        return result, types.SimpleNamespace(replay=replay)


@pytest.mark.parametrize("name", list(GROUPED))
def test_td_jit_replays_of_an_optimizer_step_follow_a_schedule(built, name):
    """td.jit itself (warm-up, recording, replays) over the recorder above: the steps after
    the recorded one run no Python, so the learning rates the scheduler sets between calls
    reach them only through the groups' device options. Equal bit for bit to eager NumPy
    steps with the same schedule."""
    dev = device(built, blocks=2, threads=2)
    recorder = LaunchRecorder(dev)
    dev.capture = lambda: recorder
    params, groups = grouped_params(dev)
    opt = GROUPED[name](groups)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    calls = []

    def step(marker):
        calls.append(1)
        opt.step()
        return marker

    jitted = td.jit(step)
    marker = Tensor(np.zeros(1, np.float32), backend=dev)
    backward(params)  # the same gradients every step (the arrays a replay reads)
    for _ in range(5):
        jitted(marker)
        sched.step()
    kernel = f"td_{name.lower().removesuffix('w')}_multi"
    assert recorder.log == [("record", [kernel] * 2)] + ["replay"] * 4 and len(calls) == 2

    ref, ref_groups = grouped_params(NUMPY)
    ref_opt = GROUPED[name](ref_groups)
    ref_sched = lr_scheduler.StepLR(ref_opt, step_size=1, gamma=0.5)
    backward(ref)
    for _ in range(5):
        ref_opt.step()
        ref_sched.step()
    for mine, theirs in zip(params, ref, strict=True):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def test_a_groups_device_options_follow_update_and_refuse_a_stale_capture(built):
    dev = device(built)
    params, groups = grouped_params(dev)
    opt = optim.SGD(groups, lr=0.1, weight_decay=0.01)
    backward(params)
    opt.step()
    group = opt.param_groups[0]
    array = group.device_options(dev)
    assert array.tolist() == [0.1, 0.0, 0.01]
    group.update(lr=0.3, momentum=0.0)
    assert array.tolist() == [0.3, 0.0, 0.01]
    dict.__setitem__(group, "lr", 0.4)  # behind the group's back: found at the next step
    dev.capturing = True
    with pytest.raises(CaptureError, match="changed without item assignment"):
        opt.step()
    dev.capturing = False
    opt.step()
    assert group.device_options(dev) is array and array.tolist() == [0.4, 0.0, 0.01]


@pytest.mark.parametrize("batchnorm", [False, True])
def test_founding_mlp_step_asks_for_less_than_half_the_device_work(built, batchnorm):
    """The array operations and launches (``op_counter``: each a kernel on CuPy) of a founding
    MLP step with dropout 0.2/0.5, on a device-like backend: the fused families against the
    portable ones. At this writing 31 against 81 (34 against 155 with batch norm)."""
    counts = {}
    for fused in (False, True):
        dev = CountingBackend(*built, fused=fused)
        params = mlp_params(dev, batchnorm=batchnorm)
        running = ([Tensor(np.full(256, float(i % 2), np.float32), backend=dev)
                    for i in range(4)] if batchnorm else None)
        opt = optim.SGD(params, lr=0.1)
        x, y = batch(16)
        for _ in range(2):  # the second step: every state made
            TALLY.count = 0
            mlp_step(dev, params, opt, x, y, rates=(0.2, 0.5), running=running)
        counts[fused] = TALLY.count
    assert 2 * counts[True] < counts[False], counts


def test_a_backend_that_does_not_launch_the_fused_kernels_takes_the_portable_paths(built):
    dev = device(built)
    dev.kernel_names = ()
    x, y = batch(8)
    params = mlp_params(dev, batchnorm=True)
    running = [Tensor(np.full(256, float(i % 2), np.float32), backend=dev) for i in range(4)]
    loss, phases = mlp_step(dev, params, optim.Adam(params), x, y, running=running)
    assert phases == {"forward": [], "backward": [], "step": []}
    ref = mlp_params(NUMPY, batchnorm=True)
    ref_running = [Tensor(np.full(256, float(i % 2), np.float32)) for i in range(4)]
    ref_loss, _ = mlp_step(NUMPY, ref, optim.Adam(ref), x, y, running=ref_running)
    assert loss.item() == ref_loss.item()
