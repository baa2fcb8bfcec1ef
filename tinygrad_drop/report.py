"""Results of the founding experiment as a table, a JSON file and a picture of the curves."""

from __future__ import annotations

import json
import os
from typing import Any

from ._files import atomic_write
from .experiment import summary


def table(results: list[dict[str, Any]]) -> str:
    """One line per run: last and best test accuracy, the train-test gap, seconds per epoch."""
    lines = [f"{'run':22s} {'epochs':>6s} {'train acc':>9s} {'test acc':>8s} "
             f"{'best test (epoch)':>17s} {'gap':>6s} {'s/epoch':>7s}"]
    for row in (summary(r) for r in results):
        lines.append(f"{row['name']:22s} {row['epochs']:6d} {row['train_accuracy']:9.4f} "
                     f"{row['test_accuracy']:8.4f} {row['best_test_accuracy']:11.4f} "
                     f"({row['best_epoch']:2d})  {row['gap']:6.3f} {row['seconds_per_epoch']:7.2f}")
    return "\n".join(lines)


def write_json(results: list[dict[str, Any]], path: str | os.PathLike) -> None:
    """The configs, per-epoch histories and summaries (models left out)."""
    payload = [{"config": r["config"], "history": r["history"], "summary": summary(r)}
               for r in results]

    def write(temporary: str) -> None:
        with open(temporary, "w") as f:
            json.dump(payload, f, indent=1)
    atomic_write(path, write)


def comparison_title(results: list[dict[str, Any]], setup: str = "") -> str:
    """What a plot of ``results`` compares: ``setup`` (what every run shares) on one line, the
    runs' names joined by "vs" below, wrapped to stay within the figure."""
    lines = [""]
    for i, result in enumerate(results):  # break lines between runs, never inside a name
        piece = ("" if i == 0 else " vs ") + result["config"]["name"]
        if lines[-1] and len(lines[-1]) + len(piece) > 100:
            lines.append(piece.removeprefix(" "))
        else:
            lines[-1] += piece
    return "\n".join(([setup] if setup else []) + lines)


def curves_figure(results: list[dict[str, Any]], setup: str = "") -> Any:
    """The matplotlib figure of :func:`plot_curves` (needs matplotlib)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    handles = []
    for i, result in enumerate(results):
        history, colour = result["history"], f"C{i % 10}"
        epochs = [r["epoch"] for r in history]
        marker = dict(marker="o", markersize=3) if len(epochs) <= 20 else {}
        for ax, metric in zip(axes, ("accuracy", "loss"), strict=True):
            ax.plot(epochs, [r[f"train_{metric}"] for r in history], "--", color=colour,
                    linewidth=1.2)
            ax.plot(epochs, [r[f"test_{metric}"] for r in history], "-", color=colour,
                    linewidth=1.6, **marker)
        handles.append(Line2D([], [], color=colour, linewidth=2,
                              label=result["config"]["name"]))
    handles += [Line2D([], [], color="0.3", linestyle="-", label="test"),
                Line2D([], [], color="0.3", linestyle="--", label="train")]
    last_epoch = max((r["epoch"] for result in results for r in result["history"]), default=1)
    for ax, metric in zip(axes, ("accuracy", "loss"), strict=True):
        ax.set(xlabel="epoch", ylabel=metric, title=metric)
        # whole epochs only (no 1.5), even when a single epoch gives no range to divide
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10],
                                               min_n_ticks=1))
        if last_epoch <= 1:
            ax.set_xlim(0.5, 1.5)
        ax.grid(alpha=0.3)
    # beside the axes, never on the curves: one entry per run, then the two line styles
    fig.legend(handles=handles, loc="outside right center", fontsize=8, frameon=False)
    fig.suptitle(comparison_title(results, setup), fontsize=10)
    return fig


def plot_curves(results: list[dict[str, Any]], path: str | os.PathLike, title: str = ""
                ) -> bool:
    """Train (dashed) and test (solid) accuracy and loss per epoch, one colour per run, to a
    PNG at ``path``; titled with ``title`` (what the runs share: data, network, optimizer) and
    the runs compared. Returns False (and writes nothing) without matplotlib."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    import matplotlib.pyplot as plt

    fig = curves_figure(results, title)
    try:
        atomic_write(path, lambda temporary: fig.savefig(temporary, dpi=100, format="png"))
    finally:
        plt.close(fig)
    return True
