"""Shared by the benchmark scripts: printing peers measured in the same run."""

from __future__ import annotations

import statistics


def report_peers(title: str, times: dict[str, list[float]], unit: str) -> None:
    """Median and min-max of each peer, then ours over PyTorch when both were measured."""
    print(title)
    for name, values in times.items():
        print(f"  {name:24s} median {statistics.median(values):9.3f} {unit}  "
              f"(min {min(values):.3f}, max {max(values):.3f})")
    medians = {name: statistics.median(values) for name, values in times.items()}
    ours = next((v for k, v in medians.items() if k.startswith("tinygrad_drop")), None)
    if ours is not None and "pytorch cpu" in medians:
        print(f"  ratio tinygrad_drop / pytorch: {ours / medians['pytorch cpu']:.2f}x")
