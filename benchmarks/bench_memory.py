"""Memory: peak RSS of a training process (ours vs PyTorch's, each in a fresh process), the
bytes a dropout node keeps per element, and RSS over 2 000 training steps (must not grow).

    python benchmarks/bench_memory.py [--steps 2000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

OURS = """
import json, resource, numpy as np
import tinygrad_drop as td, tinygrad_drop.nn.functional as F
from tinygrad_drop import Tensor, models, optim
def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20
def peak_mb():  # VmHWM: this process's own peak (ru_maxrss can carry the forking parent's)
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM")) / 1024
model = models.mlp(); opt = optim.SGD(model.parameters(), lr=0.5)
rng = np.random.default_rng(0)
x = Tensor(rng.random((256, 784), dtype=np.float32)); y = Tensor(rng.integers(0, 10, 256))
samples = {}
for step in range(1, STEPS + 1):
    opt.zero_grad(); F.cross_entropy(model(x), y).backward(); opt.step()
    if step in (100, STEPS):
        samples[step] = rss_mb()
mask = F.dropout(Tensor.ones(256, 256, requires_grad=True), 0.5).grad_fn.saved
print(json.dumps({"peak_mb": peak_mb(),
                  "rss_100": samples[100], "rss_last": samples[STEPS],
                  "mask_bytes_per_element": mask.nbytes / mask.size}))
"""

TORCH = """
import json, torch
from torch import nn
def peak_mb():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM")) / 1024
model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 256),
                      nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.5)
x = torch.rand(256, 784); y = torch.randint(0, 10, (256,))
for _ in range(STEPS):
    opt.zero_grad(); nn.functional.cross_entropy(model(x), y).backward(); opt.step()
saved = nn.functional.dropout(torch.ones(256, 256, requires_grad=True), 0.5).grad_fn
mask = saved._saved_other
print(json.dumps({"peak_mb": peak_mb(), "mask_bytes_per_element": mask.element_size()}))
"""


def run(script: str, steps: int) -> dict:
    out = subprocess.run([sys.executable, "-c", script.replace("STEPS", str(steps))],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def collect(quick: bool = False, steps: int | None = None) -> list[dict]:
    """Rows for the runner: peak RSS (MB), mask bytes per element, RSS growth (MB)."""
    steps = steps or (300 if quick else 2000)
    ours = run(OURS, steps)
    rows = [dict(benchmark="memory", case="peak RSS of a training process", impl="tinygrad_drop",
                 unit="MB", median=ours["peak_mb"]),
            dict(benchmark="memory", case="dropout mask kept per element", impl="tinygrad_drop",
                 unit="bytes", median=ours["mask_bytes_per_element"]),
            dict(benchmark="memory", case=f"RSS growth, steps 100 -> {steps}",
                 impl="tinygrad_drop", unit="MB", median=ours["rss_last"] - ours["rss_100"])]
    try:
        import torch  # noqa: F401
    except ImportError:
        return rows
    theirs = run(TORCH, 20)
    rows.insert(1, dict(benchmark="memory", case="peak RSS of a training process",
                        impl="pytorch cpu", unit="MB", median=theirs["peak_mb"]))
    rows.insert(3, dict(benchmark="memory", case="dropout mask kept per element",
                        impl="pytorch cpu", unit="bytes",
                        median=theirs["mask_bytes_per_element"]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    for row in collect(steps=args.steps):
        print(f"{row['case']:36s} {row['impl']:16s} {row['median']:9.2f} {row['unit']}")


if __name__ == "__main__":
    main()
