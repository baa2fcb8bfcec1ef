"""GPU benchmarks: the CuPy backend against PyTorch CUDA and the device's copy bandwidth.

- Dropout (p = 0.5, float32) on 4096x4096 and 16384x16384. Kernel level: our fused forward and
  backward (stored 1-byte mask, and mask regenerated from the seed) against PyTorch's
  ``native_dropout`` / ``native_dropout_backward``; framework level: ``F.dropout`` forward and
  forward+backward in each framework. Effective bandwidth counts the bytes each pass must
  move: forward reads x, writes y and a 1-byte mask (9 bytes/element), backward reads g and the
  mask and writes dx (9); with a regenerated mask, 8 both ways.
- "copy floor": the time a device-to-device copy (cudaMemcpy, read + write counted) would take
  to move the same bytes; the target is at least 70% of it.
- The reference MLP step (784-256-256-10, dropout 0.2/0.5, SGD) at batch 256 and 8192, with
  and without batchnorm, against PyTorch CUDA.
- The seed's CNN training step (bench_cnn.py's: conv 32, conv 64, max-pool, dropout, dense,
  Adadelta) at batch 128 against PyTorch CUDA eager, and the epoch it implies (469 steps of
  60 000 images; issue 15's target: no slower than PyTorch eager, 1.14 s on an H100).
- Whole-step capture (``bench_jit.py``): the founding MLP's epoch (234 steps of 256, data on
  the device) and its batch-8192 step, eager and under ``td.jit``, against PyTorch CUDA eager
  and with the step in a CUDA graph; kernels per step; issue 16's targets beside the ratios.

Peers are timed in turn within each repeat (wall clock, the device synchronised around each
run). Without CuPy or a GPU it prints why and exits 0.

    python benchmarks/bench_gpu.py [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_cnn  # noqa: E402
import bench_jit  # noqa: E402
import bench_mlp  # noqa: E402
from common import print_rows  # noqa: E402

DROPOUT_SIZES = [4096, 16384]
MLP_CASES = [(256, False), (8192, False), (256, True), (8192, True)]
P = 0.5
CNN_BATCH, CNN_EPOCH_STEPS = 128, 469  # 60 000 images in batches of 128


def skip_reason() -> str | None:
    """Why the GPU benchmarks cannot run here, or None."""
    import tinygrad_drop as td

    ok, reason = td.backends.is_available("cupy")
    return None if ok else reason


def torch_cuda():
    """PyTorch when it has CUDA here, else None (its peers are then left out)."""
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def synchronize() -> None:
    import cupy

    cupy.cuda.runtime.deviceSynchronize()  # waits for every stream: CuPy's and PyTorch's


def rows_from(times: dict[str, list[float]], benchmark: str, case: str) -> list[dict]:
    return [dict(benchmark=benchmark, case=case, impl=name, unit="ms",
                 median=statistics.median(t), min=min(t), max=max(t))
            for name, t in times.items()]


def copy_bandwidth(n: int, repeats: int) -> float:
    """Device-to-device copy bandwidth in bytes/ms (read + write counted) on n x n float32."""
    import cupy

    src, dst = cupy.ones((n, n), dtype=cupy.float32), cupy.empty((n, n), dtype=cupy.float32)
    times = bench_mlp.interleaved(
        {"copy": lambda: dst.data.copy_from_device_async(src.data, src.nbytes)},
        repeats, synchronize=synchronize)["copy"]
    return 2 * src.nbytes / statistics.median(times)


def dropout_peers(n: int, torch) -> tuple[dict, dict, dict, dict[str, int]]:
    """Kernel-level forward and backward peers and framework-level peers on n x n float32,
    and the bytes each pass must move."""
    import cupy

    import tinygrad_drop as td
    import tinygrad_drop.nn.functional as F

    be, keep = td.backends.get("cupy"), 1 - P
    kernels = be.kernels("dropout")
    x = cupy.random.default_rng(0).standard_normal((n, n), dtype=cupy.float32)
    g = cupy.ones_like(x)

    def ours_forward(regenerate):
        def run():
            be.regenerate_masks = regenerate
            return kernels.forward(x, keep, keep, be.generator)
        return run

    saved = {regenerate: ours_forward(regenerate)()[1] for regenerate in (False, True)}
    be.regenerate_masks = False
    forward = {"tinygrad_drop": ours_forward(False),
               "tinygrad_drop (regenerated mask)": ours_forward(True)}
    backward = {"tinygrad_drop": lambda: kernels.backward(g, saved[False], keep),
                "tinygrad_drop (regenerated mask)": lambda: kernels.backward(g, saved[True],
                                                                             keep)}
    X, G = td.Tensor(x, backend="cupy", requires_grad=True), td.Tensor(g, backend="cupy")

    def ours_forward_backward():
        X.grad = None
        F.dropout(X, P).backward(G)
    framework = {"tinygrad_drop F.dropout": lambda: F.dropout(X, P),
                 "tinygrad_drop F.dropout+backward": ours_forward_backward}
    if torch is not None:
        xt = torch.as_tensor(x, device="cuda")
        gt = torch.ones_like(xt)
        mask = torch.native_dropout(xt, P, True)[1]
        forward["pytorch cuda"] = lambda: torch.native_dropout(xt, P, True)
        backward["pytorch cuda"] = lambda: torch.ops.aten.native_dropout_backward(
            gt, mask, 1 / keep)
        Xt = xt.clone().requires_grad_(True)

        def torch_forward_backward():
            Xt.grad = None
            torch.nn.functional.dropout(Xt, P).backward(gt)
        framework["pytorch F.dropout"] = lambda: torch.nn.functional.dropout(Xt, P)
        framework["pytorch F.dropout+backward"] = torch_forward_backward
    elements = n * n
    moved = {"stored": 9 * elements, "regenerated": 8 * elements}
    return forward, backward, framework, moved


def collect_dropout(quick: bool) -> list[dict]:
    torch = torch_cuda()
    repeats = 3 if quick else 7
    rows = []
    for n in DROPOUT_SIZES:
        bandwidth = copy_bandwidth(n, repeats)
        forward, backward, framework, moved = dropout_peers(n, torch)
        for direction, peers in (("forward", forward), ("backward", backward)):
            case = f"{direction} {n}x{n} float32"
            new = rows_from(bench_mlp.interleaved(peers, repeats, synchronize=synchronize),
                            "gpu dropout", case)
            for row in new:
                row["bytes"] = moved["regenerated" if "regenerated" in row["impl"] else "stored"]
                row["gb_per_s"] = row["bytes"] / row["median"] / 1e6
            floor = moved["stored"] / bandwidth
            rows += new + [dict(benchmark="gpu dropout", case=case, impl="copy floor",
                                unit="ms", median=floor, min=floor, max=floor,
                                bytes=moved["stored"], gb_per_s=bandwidth / 1e6)]
        rows += rows_from(bench_mlp.interleaved(framework, repeats, synchronize=synchronize),
                          "gpu dropout", f"framework {n}x{n} float32")
    return rows


def collect_mlp(quick: bool) -> list[dict]:
    torch = torch_cuda()
    repeats = 3 if quick else 7
    rows = []
    for size, bn in MLP_CASES:
        peers = {"tinygrad_drop": bench_mlp.ours_step(size, bn, backend="cupy")}
        if torch is not None:
            peers["pytorch cuda"] = bench_mlp.torch_step(size, bn, device="cuda")
        rows += rows_from(bench_mlp.interleaved(peers, repeats, synchronize=synchronize),
                          "gpu mlp", f"step batch {size}{' + bn' if bn else ''}")
    return rows


def collect_cnn(quick: bool) -> list[dict]:
    """The seed CNN's step on the device (data already there), and the epoch it implies."""
    torch = torch_cuda()
    peers = {"tinygrad_drop": bench_cnn.ours_step(CNN_BATCH, backend="cupy")}
    if torch is not None:
        peers["pytorch cuda"] = bench_cnn.torch_step(CNN_BATCH, device="cuda")
    times = bench_mlp.interleaved(peers, 3 if quick else 7, synchronize=synchronize)
    rows = rows_from(times, "gpu cnn", f"seed CNN step batch {CNN_BATCH}")
    for name, t in times.items():
        epoch = [CNN_EPOCH_STEPS * ms / 1000 for ms in t]
        rows.append(dict(benchmark="gpu cnn", case=f"seed CNN epoch ({CNN_EPOCH_STEPS} steps)",
                         impl=name, unit="s", median=statistics.median(epoch), min=min(epoch),
                         max=max(epoch)))
    return rows


def collect(quick: bool = False) -> tuple[list[dict], dict]:
    """Every GPU row, and the notes of the capture benchmark (kernel counts, failures); none
    (and a note on stderr) where the GPU benchmarks cannot run."""
    reason = skip_reason()
    if reason:
        print(f"bench_gpu: skipped: {reason}", file=sys.stderr)
        return [], {}
    jit_rows, jit_notes = bench_jit.collect(quick, torch_cuda(), synchronize)
    return (collect_dropout(quick) + collect_mlp(quick) + collect_cnn(quick) + jit_rows,
            jit_notes)


def device_name() -> str:
    import cupy

    props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    name = props["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def print_table(rows: list[dict]) -> None:
    """The rows, then per case the share of copy bandwidth and the ratio to PyTorch."""
    print_rows(rows)
    for case in dict.fromkeys(r["case"] for r in rows):
        by = {r["impl"]: r for r in rows if r["case"] == case}
        ours = by.get("tinygrad_drop") or by.get("tinygrad_drop F.dropout")
        peer = by.get("pytorch cuda") or by.get("pytorch F.dropout")
        parts = []
        if ours and "copy floor" in by:
            parts.append(f"{by['copy floor']['median'] / ours['median']:.0%} of copy bandwidth")
        if ours and peer:
            parts.append(f"ours/pytorch {ours['median'] / peer['median']:.2f}x")
        if parts:
            print(f"  {case}: " + ", ".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    rows, jit_notes = collect(args.quick)
    if not rows:
        return
    torch = torch_cuda()
    print(f"{device_name()}, PyTorch {torch.__version__ if torch else 'with CUDA: not found'}")
    print_table(rows)
    bench_jit.print_summary([r for r in rows if r["benchmark"] == "gpu jit"], jit_notes)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": device_name(), "rows": rows, "jit": jit_notes}, f, indent=1)


if __name__ == "__main__":
    main()
