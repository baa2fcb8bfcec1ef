"""Shared by the benchmark scripts: printing peers measured in the same run."""

from __future__ import annotations

import statistics


def missing_peers() -> dict[str, str]:
    """The peers this run cannot measure, each with the reason: PyTorch's rows (and the
    targets against them) need ``import torch`` to work."""
    try:
        import torch  # noqa: F401
    except ImportError as exc:  # not installed, or installed but broken: say which
        return {"PyTorch": f"{exc} (pip install torch to measure against it)"}
    return {}


def missing_peer_lines(missing: dict[str, str]) -> list[str]:
    """One line per missing peer, saying that its rows are left out and why."""
    return [f"bench: {peer} rows and the targets against {peer} left out: {why}"
            for peer, why in missing.items()]


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


def print_rows(rows: list[dict]) -> None:
    """One line per row: benchmark, case, implementation, median, min-max, unit (and the
    effective bandwidth where a row has one)."""
    print(f"{'benchmark':11s} {'case':40s} {'implementation':34s} {'median':>9s} "
          f"{'min-max':>17s} unit")
    for r in rows:
        spread = f"{r['min']:.3g}-{r['max']:.3g}" if "min" in r else ""
        rate = f"  {r['gb_per_s']:.0f} GB/s" if "gb_per_s" in r else ""
        print(f"{r['benchmark']:11s} {r['case']:40s} {r['impl']:34s} {r['median']:9.3g} "
              f"{spread:>17s} {r['unit']}{rate}")
