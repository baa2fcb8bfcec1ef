"""The seed's CNN (Keras MNIST example: conv 32, conv 64, max-pool, dropout 0.25, dense 128,
dropout 0.5, dense 10) training step at batch 128 on random 28x28 images: forward,
cross-entropy, backward and an Adadelta step (rho=0.95, eps=1e-7, lr=1.0), float32. Ours and
PyTorch CPU (2 threads), timed in turn within each repeat so that machine drift hits them alike
(median of the repeats, min-max); then the memory of one step, each library in a fresh
process.

    python benchmarks/bench_cnn.py [--quick] [--batch 128] [--json out.json]

Memory: the process's peak RSS (imports, model, optimizer state and steps) as it runs by
default, and, in a second process for each library, the step's own peak above what stays
resident between steps: the RSS high-water mark reset before one step through
/proc/self/clear_refs, with glibc's mmap threshold fixed at 128 KiB and our backend's allocator
tuning off (TINYGRAD_DROP_MALLOC_TUNING=0), so that every freed array leaves the RSS in both
libraries instead of waiting in the heap for the next step. For ours also the NumPy arrays the
step allocates at its peak (tracemalloc), the same figure without the allocator's view.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

BATCH = 128
KERAS = dict(lr=1.0, rho=0.95, eps=1e-7)  # the seed's Adadelta settings


def case(size: int) -> str:
    return f"seed CNN step, batch {size}"


def batch(size: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((size, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, size)


def ours_step(size: int = BATCH, backend: str | None = None):
    """One training step of td.models.cnn() on a fixed batch (a closure)."""
    import tinygrad_drop.nn.functional as F
    from tinygrad_drop import Tensor, manual_seed, models, optim

    manual_seed(0)
    model = models.cnn(backend=backend)
    opt = optim.Adadelta(model.parameters(), **KERAS)
    x, y = (Tensor(a, backend=backend) for a in batch(size))

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def torch_cnn(rates: tuple[float, float] = (0.25, 0.5)):
    """The seed's CNN in torch.nn, layer for layer ``td.models.cnn(rates)``."""
    from torch import nn

    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Dropout(rates[0]), nn.Flatten(),
                         nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(rates[1]),
                         nn.Linear(128, 10))


def torch_step(size: int = BATCH, device: str = "cpu"):
    """The same network in torch.nn (PyTorch CPU with 2 threads, as the issue measured)."""
    import torch
    from torch import nn

    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = torch_cnn().to(device)
    opt = torch.optim.Adadelta(model.parameters(), **KERAS)
    x, y = (torch.from_numpy(a).to(device) for a in batch(size))

    def step():
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def interleaved(peers: dict, repeats: int, steps: int) -> dict[str, list[float]]:
    """Milliseconds per step for each peer, the peers timed in turn within each repeat. Each
    turn starts with one untimed step: the other library's threads (PyTorch's OpenMP pool,
    OpenBLAS's) keep spinning for a while after its last step and would be charged to this
    one (alternating single steps measured both at 2-5x their time here)."""
    times: dict[str, list[float]] = {name: [] for name in peers}
    for _ in range(repeats):
        for name, step in peers.items():
            step()
            start = time.perf_counter()
            for _ in range(steps):
                step()
            times[name].append((time.perf_counter() - start) / steps * 1e3)
    return times


MEMORY = """
import json, sys, tracemalloc
sys.path.insert(0, HERE)
import bench_cnn
def status(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(key)) / 1024
step = bench_cnn.PEER_step(SIZE)
for _ in range(2):
    step()
result = {"process_peak_mb": status("VmHWM")}
resident = status("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # resets VmHWM to the current RSS
step()
result["step_peak_mb"] = status("VmHWM") - resident
if "PEER" == "ours":
    tracemalloc.start()  # sees only what the step allocates (NumPy reports to it)
    step()
    result["step_arrays_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
print(json.dumps(result))
"""


def memory(peer: str, size: int, step_peak: bool) -> dict:
    """Run MEMORY for ``peer`` ('ours' or 'torch') in a fresh process; its figures in MB.
    ``step_peak``: with freed arrays returned to the OS (see the module's docstring)."""
    here = os.path.dirname(os.path.abspath(__file__))
    code = (MEMORY.replace("HERE", repr(here)).replace("PEER", peer)
            .replace("SIZE", str(size)))
    env = dict(os.environ)
    if step_peak:
        env.update(MALLOC_MMAP_THRESHOLD_="131072", TINYGRAD_DROP_MALLOC_TUNING="0")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def memory_rows(size: int, have_torch: bool) -> list[dict]:
    peers = {"tinygrad_drop": "ours", **({"pytorch cpu": "torch"} if have_torch else {})}
    figures = {}
    for impl, peer in peers.items():
        figures[impl] = {**memory(peer, size, step_peak=True),
                         "process_peak_mb": memory(peer, size, False)["process_peak_mb"]}
    rows = []
    for key, what in (("process_peak_mb", "process peak RSS"),
                      ("step_peak_mb", "step peak RSS over resident"),
                      ("step_arrays_mb", "step peak of NumPy arrays")):
        for impl, values in figures.items():
            if key in values:
                rows.append(dict(benchmark="cnn memory", case=f"CNN b{size}: {what}",
                                 impl=impl, unit="MB", median=values[key]))
    return rows


def collect(quick: bool = False, size: int = BATCH) -> list[dict]:
    """Rows for the runner: the step (median and min-max ms) of each peer, then memory."""
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    peers = {"tinygrad_drop": ours_step(size)}
    if have_torch:
        peers["pytorch cpu"] = torch_step(size)
    times = interleaved(peers, repeats=3 if quick else 7, steps=2 if quick else 4)
    rows = [dict(benchmark="cnn step", case=case(size), impl=name, unit="ms",
                 median=statistics.median(values), min=min(values), max=max(values))
            for name, values in times.items()]
    return rows + memory_rows(size, have_torch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    rows = collect(args.quick, args.batch)
    for r in rows:
        spread = f"{r['min']:8.2f}-{r['max']:<8.2f}" if "min" in r else " " * 17
        print(f"{r['case']:44s} {r['impl']:14s} {r['median']:9.2f} {spread} {r['unit']}")
    by = {(r["case"], r["impl"]): r["median"] for r in rows}
    for what in dict.fromkeys(r["case"] for r in rows):
        if (what, "pytorch cpu") in by:
            print(f"  {what}: ours/pytorch "
                  f"{by[what, 'tinygrad_drop'] / by[what, 'pytorch cpu']:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
