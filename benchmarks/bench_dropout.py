"""Dropout speed: forward and forward+backward, ms and GB/s, against the founding NumPy recipe,
PyTorch CPU (when installed) and the memory-bandwidth floor, all measured in this process.

GB/s counts the bytes of x read and of the output written (8 bytes per float32 element), so
every row is comparable with the floor ``np.multiply(x, 2.0, out=y)``. Figures are the median
over repeats (min-max beside it).

    python benchmarks/bench_dropout.py [--repeats 7] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import timeit
from collections.abc import Callable

import numpy as np

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F

SHAPES = [(256, 4096), (4096, 4096)]
RATES = [0.2, 0.5]


def timed(fn: Callable[[], object], repeats: int, budget_s: float = 0.25) -> list[float]:
    """Milliseconds per call over ``repeats`` repeats of about ``budget_s`` each."""
    fn()
    start = timeit.default_timer()
    fn()
    once = max(timeit.default_timer() - start, 1e-6)
    number = max(1, int(budget_s / once))
    return [t / number * 1e3 for t in timeit.repeat(fn, repeat=repeats, number=number)]


def ours(x_np: np.ndarray, p: float, backend: str) -> tuple[Callable, Callable, float]:
    x = td.Tensor(x_np, backend=backend, requires_grad=True)
    g = td.Tensor(np.ones_like(x_np), backend=backend)

    def forward():
        return F.dropout(x, p)

    def forward_backward():
        x.grad = None
        F.dropout(x, p).backward(g)

    mask = forward().grad_fn.saved
    saved = td.backends.get(backend).to_numpy(mask).itemsize
    return forward, forward_backward, saved


def founding_recipe(x: np.ndarray, p: float) -> tuple[Callable, Callable, float]:
    """The founding material's NumPy dropout: float64 uniforms compared with keep."""
    keep = 1.0 - p
    g = np.ones_like(x)

    def forward():
        mask = np.random.rand(*x.shape) < keep
        return mask * x / keep, mask

    def forward_backward():
        out, mask = forward()
        return g * mask / keep

    return forward, forward_backward, forward()[1].itemsize


def pytorch(x_np: np.ndarray, p: float) -> tuple[Callable, Callable, float]:
    import torch

    x = torch.from_numpy(x_np.copy()).requires_grad_(True)
    g = torch.ones_like(x)

    def forward():
        return torch.nn.functional.dropout(x, p, training=True)

    def forward_backward():
        x.grad = None
        forward().backward(g)

    saved = forward().grad_fn._saved_other.element_size()  # the float mask it multiplies by
    return forward, forward_backward, saved


def floor(x: np.ndarray) -> Callable:
    y = np.empty_like(x)
    return lambda: np.multiply(x, 2.0, out=y)


def collect(quick: bool = False) -> list[dict]:
    """Rows for the runner: dropout forward ms at 256x4096, p = 0.2 and 0.5, each peer, and
    the bandwidth floor."""
    x = np.random.default_rng(0).standard_normal((256, 4096), dtype=np.float32)
    repeats = 3 if quick else 7
    rows = [dict(benchmark="dropout", case="forward 256x4096", impl="bandwidth floor",
                 unit="ms", **_stats(timed(floor(x), repeats)))]
    for p in RATES:
        peers = {"tinygrad_drop": ours(x, p, "numpy")[0],
                 "founding NumPy recipe": founding_recipe(x, p)[0]}
        try:
            peers["pytorch cpu"] = pytorch(x, p)[0]
        except ImportError:
            pass
        for name, fwd in peers.items():
            rows.append(dict(benchmark="dropout", case=f"forward 256x4096 p={p}", impl=name,
                             unit="ms", **_stats(timed(fwd, repeats))))
    return rows


def _stats(times: list[float]) -> dict:
    return dict(median=statistics.median(times), min=min(times), max=max(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
        print("(PyTorch not installed: no PyTorch rows)")
    rows = []
    for shape in SHAPES:
        x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
        gigabytes = 2 * x.nbytes / 1e9
        floor_ms = statistics.median(timed(floor(x), args.repeats))
        for p in RATES:
            peers = {f"tinygrad_drop ({args.backend})": ours(x, p, args.backend),
                     "founding NumPy recipe": founding_recipe(x, p)}
            if have_torch:
                peers["pytorch cpu"] = pytorch(x, p)
            for name, (fwd, fwd_bwd, saved) in peers.items():
                f_ms, fb_ms = timed(fwd, args.repeats), timed(fwd_bwd, args.repeats)
                rows.append(dict(shape=list(shape), p=p, impl=name, forward_ms=f_ms,
                                 forward_backward_ms=fb_ms, saved_bytes_per_element=saved,
                                 floor_ms=floor_ms,
                                 forward_gb_s=gigabytes / (statistics.median(f_ms) / 1e3)))
    print_table(rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


def print_table(rows: list[dict]) -> None:
    """One line per (shape, p, implementation), then the ratios the targets are stated in."""
    def med(values: list[float]) -> float:
        return statistics.median(values)

    print(f"{'shape':>10s} {'p':>4s} {'implementation':24s} {'fwd ms':>8s} {'(min-max)':>15s} "
          f"{'fwd+bwd ms':>10s} {'fwd GB/s':>8s} {'mask B/el':>9s}")
    for r in rows:
        f = r["forward_ms"]
        print(f"{'x'.join(map(str, r['shape'])):>10s} {r['p']:4.1f} {r['impl']:24s} "
              f"{med(f):8.3f} {min(f):7.3f}-{max(f):<7.3f} {med(r['forward_backward_ms']):10.3f} "
              f"{r['forward_gb_s']:8.1f} {r['saved_bytes_per_element']:9g}")
    print("\nratios (forward, medians of this run):")
    groups: dict[tuple, dict] = {}
    for r in rows:
        groups.setdefault((tuple(r["shape"]), r["p"]), {})[r["impl"]] = r
    for (shape, p), impls in groups.items():
        ours_row = next(v for k, v in impls.items() if k.startswith("tinygrad_drop"))
        ours_ms, floor_ms = med(ours_row["forward_ms"]), ours_row["floor_ms"]
        parts = [f"floor {floor_ms:.3f} ms, ours/floor {ours_ms / floor_ms:.1f}x"]
        recipe = impls["founding NumPy recipe"]
        parts.append(f"recipe/ours {med(recipe['forward_ms']) / ours_ms:.1f}x")
        if "pytorch cpu" in impls:
            torch_row = impls["pytorch cpu"]
            parts.append(f"ours/pytorch {ours_ms / med(torch_row['forward_ms']):.2f}x")
            both = med(ours_row["forward_backward_ms"]) / med(torch_row["forward_backward_ms"])
            parts.append(f"fwd+bwd ours/pytorch {both:.2f}x")
        print(f"  {'x'.join(map(str, shape)):>10s} p={p}: " + ", ".join(parts))


if __name__ == "__main__":
    main()
