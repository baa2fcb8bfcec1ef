"""Run every benchmark, print one table and the targets, and write JSON.

    python -m benchmarks [--quick] [--json benchmarks/results.json]
    python benchmarks/run.py ...

Each figure is the median over repeats with its min-max; every comparison is a ratio of
figures measured in this run (peers timed in turn, so machine drift hits them alike).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_bn  # noqa: E402
import bench_cnn  # noqa: E402
import bench_dropout  # noqa: E402
import bench_gpu  # noqa: E402
import bench_memory  # noqa: E402
import bench_mlp  # noqa: E402
import bench_overhead  # noqa: E402
from common import missing_peer_lines, missing_peers, print_rows  # noqa: E402

# (what, numerator (case, impl), denominator (case, impl), at most)
TARGETS = [
    ("step vs NumPy floor, batch 256", ("batch 256", "tinygrad_drop"),
     ("batch 256", "numpy floor"), 1.2),
    ("step vs PyTorch, batch 256", ("batch 256", "tinygrad_drop"),
     ("batch 256", "pytorch cpu"), 0.65),
    ("step vs PyTorch, batch 256 + bn", ("batch 256 + bn", "tinygrad_drop"),
     ("batch 256 + bn", "pytorch cpu"), 0.7),
    ("step vs NumPy floor, no torch in the process", ("batch 256", "tinygrad_drop (no torch)"),
     ("batch 256", "numpy floor (no torch)"), 1.2),
    ("overhead snippet vs PyTorch", ("(a*b + c).relu().sum() + backward, 4x4", "tinygrad_drop"),
     ("(a*b + c).relu().sum() + backward, 4x4", "pytorch cpu"), 0.5),
    ("batchnorm fwd+bwd vs PyTorch", ("forward+backward 256x256, training", "tinygrad_drop"),
     ("forward+backward 256x256, training", "pytorch cpu"), 1.3),
    ("peak RSS vs PyTorch's process", ("peak RSS of a training process", "tinygrad_drop"),
     ("peak RSS of a training process", "pytorch cpu"), 0.3),
    ("dropout forward p=0.2 vs PyTorch", ("forward 256x4096 p=0.2", "tinygrad_drop"),
     ("forward 256x4096 p=0.2", "pytorch cpu"), 0.15),
    ("dropout forward p=0.2 vs bandwidth floor", ("forward 256x4096 p=0.2", "tinygrad_drop"),
     ("forward 256x4096", "bandwidth floor"), 8.0),
    ("dropout forward p=0.5 vs bandwidth floor", ("forward 256x4096 p=0.5", "tinygrad_drop"),
     ("forward 256x4096", "bandwidth floor"), 8.0),
    ("GPU MLP step vs PyTorch CUDA, batch 8192", ("step batch 8192", "tinygrad_drop"),
     ("step batch 8192", "pytorch cuda"), 1.3),
    ("cnn step vs PyTorch, batch 128", (bench_cnn.case(128), "tinygrad_drop"),
     (bench_cnn.case(128), "pytorch cpu"), 1.0),
]
for _size in bench_gpu.DROPOUT_SIZES:  # on the GPU only; skipped (no rows) elsewhere
    for _direction in ("forward", "backward"):
        _case = f"{_direction} {_size}x{_size} float32"
        TARGETS += [
            (f"GPU dropout {_direction} {_size}^2: >= 70% of copy bandwidth",
             (_case, "tinygrad_drop"), (_case, "copy floor"), round(1 / 0.7, 2)),
            (f"GPU dropout {_direction} {_size}^2 vs PyTorch CUDA",
             (_case, "tinygrad_drop"), (_case, "pytorch cuda"), 1.0)]


def collect(quick: bool) -> list[dict]:
    rows = []
    for module in (bench_mlp, bench_overhead, bench_bn, bench_dropout, bench_memory, bench_cnn,
                   bench_gpu):
        print(f"running {module.__name__} ...", file=sys.stderr, flush=True)
        rows += module.collect(quick)
        if module is bench_mlp:
            rows += bench_mlp.collect_without_torch(quick)
    return rows


def targets(rows: list[dict]) -> list[dict]:
    """Each target's ratio from this run's medians, and whether it was met."""
    value = {(r["case"], r["impl"]): r["median"] for r in rows}
    results = []
    for what, top, bottom, limit in TARGETS:
        if top in value and bottom in value:
            ratio = value[top] / value[bottom]
            results.append(dict(target=what, ratio=ratio, limit=limit, met=ratio <= limit))
    growth = next((r for r in rows if r["case"].startswith("RSS growth")), None)
    if growth:
        results.append(dict(target=growth["case"] + " (MB, at most 2)", ratio=growth["median"],
                            limit=2.0, met=growth["median"] <= 2.0))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and steps")
    parser.add_argument("--json", default=None, help="write the rows and targets here")
    args = parser.parse_args()
    missing = missing_peers()
    for line in missing_peer_lines(missing):  # said first, so a long run is not a surprise
        print(line, file=sys.stderr, flush=True)
    rows = collect(args.quick)
    import numpy
    machine = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
               f"Python {platform.python_version()}, NumPy {numpy.__version__}")
    try:
        import torch
        machine += f", PyTorch {torch.__version__}"
    except ImportError:
        pass
    print(f"\n{machine}\n")
    print_rows(rows)
    results = targets(rows)
    print(f"\n{'target':52s} {'this run':>9s} {'at most':>8s}")
    for t in results:
        print(f"{t['target']:52s} {t['ratio']:9.2f} {t['limit']:8.2f}  "
              f"{'met' if t['met'] else 'MISSED'}")
    if missing:  # and again after the table, where the rows would have been
        print("\n" + "\n".join(missing_peer_lines(missing)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "rows": rows, "targets": results,
                       "missing_peers": missing}, f, indent=1)
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
