"""GPU benchmark of whole-step capture (``td.jit``), run by ``bench_gpu.py``: the founding MLP
(784-256-256-10, dropout 0.2/0.5, SGD lr 0.5, cross-entropy) on CuPy against PyTorch CUDA.

- One epoch: 234 steps of 256 of 60 000 random images, the data already on the device (ours:
  ``DataLoader(x, y, 256, backend="cupy")`` cutting batches there; PyTorch: slices of device
  tensors, as the GPU profile of 2026-11-23 measured), eagerly and with the step captured
  (ours: ``td.jit``; PyTorch: ``torch.cuda.graph``, the inputs copied into static tensors).
- One step at batch 8192, the same four ways.
- Device operations per step (kernels, and copies/sets), counted by ``torch.profiler`` (CUPTI:
  it sees every kernel of the process, CuPy's and those a graph launches).

Targets (issue 16) printed beside the figures: eager epoch <= 0.5x PyTorch eager; jit epoch
<= 0.05 s; batch-8192 step <= 1.0x PyTorch.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

import bench_mlp
import numpy as np

ROWS, BATCH, BIG_BATCH = 60_000, 256, 8192
STEPS = ROWS // BATCH  # 234 full batches
BACKEND = "cupy"  # ours runs here (tests run this module on numpy)
OURS, OURS_JIT, TORCH, TORCH_GRAPH = ("tinygrad_drop", "tinygrad_drop jit", "pytorch cuda",
                                      "pytorch cuda graph")


def epoch_data() -> tuple[np.ndarray, np.ndarray]:
    """The epoch's inputs: ``ROWS`` random float32 images of 784 pixels and their labels 0-9
    (seeded, so every peer trains on the same data)."""
    rng = np.random.default_rng(0)
    return rng.random((ROWS, 784), dtype=np.float32), rng.integers(0, 10, ROWS)


def ours_epoch(jitted: bool) -> Callable[[], None]:
    """One epoch of ours, the data placed on the device once by the DataLoader."""
    from tinygrad_drop.data import DataLoader
    from tinygrad_drop.jit import jit

    loader = DataLoader(*epoch_data(), BATCH, shuffle=False, drop_last=True, backend=BACKEND)
    step = bench_mlp.ours_trainer(False, backend=BACKEND)
    step = jit(step) if jitted else step

    def epoch() -> None:
        for x, y in loader:
            step(x, y)
    return epoch


def ours_big_step(jitted: bool) -> Callable[[], None]:
    """One training step of ours at batch ``BIG_BATCH`` on tensors already on the device,
    eager or under ``td.jit``."""
    from tinygrad_drop import Tensor
    from tinygrad_drop.jit import jit

    step = bench_mlp.ours_trainer(False, backend=BACKEND)
    step = jit(step) if jitted else step
    x, y = (Tensor(a, backend=BACKEND) for a in bench_mlp.batch(BIG_BATCH))
    return lambda: step(x, y)


def torch_graphed(torch, step: Callable, x, y) -> Callable:
    """``step`` captured in a CUDA graph on static copies of ``x`` and ``y`` (warm-up on a side
    stream first, as PyTorch's documentation does); returns replay(x, y)."""
    sx, sy = x.clone(), y.clone()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            step(sx, sy)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step(sx, sy)

    def replay(x, y) -> None:
        sx.copy_(x)
        sy.copy_(y)
        graph.replay()
    return replay


def torch_epoch(torch, graphed: bool) -> Callable[[], None]:
    """One epoch of PyTorch on CUDA, batches sliced from tensors already on the device, eager or
    replayed from a CUDA graph."""
    x, y = epoch_data()
    xs, ys = torch.from_numpy(x).cuda(), torch.from_numpy(y).cuda()
    step = bench_mlp.torch_trainer(False, device="cuda")
    if graphed:
        step = torch_graphed(torch, step, xs[:BATCH], ys[:BATCH])

    def epoch() -> None:
        for i in range(STEPS):
            step(xs[i * BATCH:(i + 1) * BATCH], ys[i * BATCH:(i + 1) * BATCH])
    return epoch


def torch_big_step(torch, graphed: bool) -> Callable[[], None]:
    """One PyTorch CUDA training step at batch ``BIG_BATCH``, eager or replayed from a CUDA
    graph."""
    x, y = (torch.from_numpy(a).cuda() for a in bench_mlp.batch(BIG_BATCH))
    step = bench_mlp.torch_trainer(False, device="cuda")
    step = torch_graphed(torch, step, x, y) if graphed else step
    return lambda: step(x, y)


def peers(torch, ours: Callable, theirs: Callable) -> tuple[dict, dict[str, str]]:
    """The four peers (ours eager and jitted, PyTorch eager and graphed where it has CUDA),
    and for each peer that failed to build or warm up, why (it is then left out)."""
    makers = {OURS: lambda: ours(False), OURS_JIT: lambda: ours(True)}
    if torch is not None:
        makers[TORCH] = lambda: theirs(torch, False)
        makers[TORCH_GRAPH] = lambda: theirs(torch, True)
    built, failed = {}, {}
    for name, make in makers.items():
        try:
            run = make()
            run()
            run()  # a jitted step records on its second call
            built[name] = run
        except Exception as exc:  # reported beside the figures, the others still run
            failed[name] = f"{type(exc).__name__}: {exc}"
    return built, failed


def kernels_per_step(torch, step: Callable[[], None], steps: int) -> tuple[float, float]:
    """(kernels, other device operations) per call of ``step`` (which runs ``steps`` steps),
    as CUPTI sees them through ``torch.profiler``."""
    from torch.profiler import ProfilerActivity, profile

    step()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        step()
        torch.cuda.synchronize()
    events = [e for e in prof.events() if e.device_type.name == "CUDA"]
    copies = sum(e.name.lower().startswith(("memcpy", "memset")) for e in events)
    return (len(events) - copies) / steps, copies / steps


def collect(quick: bool, torch, synchronize: Callable[[], None]) -> tuple[list[dict], dict]:
    """Rows (epoch in s, 8192-step in ms) and notes: failures, kernel counts."""
    repeats = 3 if quick else 5
    rows, notes = [], {"failed": {}, "kernels": {}}
    for case, unit, ours, theirs, per in (
            (f"MLP epoch ({STEPS} steps of {BATCH})", "s", ours_epoch, torch_epoch, STEPS),
            (f"MLP step batch {BIG_BATCH}", "ms", ours_big_step, torch_big_step, 1)):
        built, failed = peers(torch, ours, theirs)
        notes["failed"].update({f"{case}: {name}": why for name, why in failed.items()})
        times = bench_mlp.interleaved(built, repeats, seconds=0.5, synchronize=synchronize)
        scale = 1e-3 if unit == "s" else 1.0
        rows += [dict(benchmark="gpu jit", case=case, impl=name, unit=unit,
                      median=statistics.median(t) * scale, min=min(t) * scale,
                      max=max(t) * scale) for name, t in times.items()]
        if torch is not None and per == STEPS:
            for name, run in built.items():
                notes["kernels"][name] = kernels_per_step(torch, run, per)
    return rows, notes


def print_summary(rows: list[dict], notes: dict) -> None:
    """Ratios against PyTorch with the issue's targets, kernel counts, and failures."""
    by = {(r["case"], r["impl"]): r["median"] for r in rows}
    epoch, big = f"MLP epoch ({STEPS} steps of {BATCH})", f"MLP step batch {BIG_BATCH}"

    def ratio(case: str, ours: str, theirs: str) -> str:
        if (case, ours) not in by or (case, theirs) not in by:
            return "n/a"
        return f"{by[case, ours] / by[case, theirs]:.2f}x"

    print(f"  epoch eager: ours/pytorch eager {ratio(epoch, OURS, TORCH)} (target <= 0.5x)")
    jit_epoch = by.get((epoch, OURS_JIT))
    shown = "n/a" if jit_epoch is None else f"{jit_epoch:.3f} s"
    print(f"  epoch jit: {shown} (target <= 0.05 s); ours jit/pytorch graph "
          f"{ratio(epoch, OURS_JIT, TORCH_GRAPH)}, ours jit/pytorch eager "
          f"{ratio(epoch, OURS_JIT, TORCH)}")
    print(f"  step batch {BIG_BATCH}: ours/pytorch eager {ratio(big, OURS, TORCH)}, ours jit/"
          f"pytorch eager {ratio(big, OURS_JIT, TORCH)} (target <= 1.0x), ours jit/pytorch "
          f"graph {ratio(big, OURS_JIT, TORCH_GRAPH)}")
    for name, (kernels, copies) in notes["kernels"].items():
        print(f"  per step at batch {BATCH}, {name}: {kernels:.1f} kernels, {copies:.1f} "
              "copies/sets (torch.profiler)")
    for what, why in notes["failed"].items():
        print(f"  FAILED {what}: {why}")
