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


def plot_curves(results: list[dict[str, Any]], path: str | os.PathLike, title: str) -> bool:
    """Train (dashed) and test (solid) accuracy and loss per epoch, one colour per run; returns
    False (and writes nothing) without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, result in enumerate(results):
        history, name, colour = result["history"], result["config"]["name"], f"C{i}"
        epochs = [r["epoch"] for r in history]
        for ax, metric in zip(axes, ("accuracy", "loss"), strict=True):
            ax.plot(epochs, [r[f"train_{metric}"] for r in history], "--", color=colour,
                    label=f"{name} (train)")
            ax.plot(epochs, [r[f"test_{metric}"] for r in history], "-", color=colour,
                    marker="o", markersize=3, label=f"{name} (test)")
    for ax, metric in zip(axes, ("accuracy", "loss"), strict=True):
        ax.set(xlabel="epoch", ylabel=metric, title=f"{metric}: train dashed, test solid")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    atomic_write(path, lambda temporary: fig.savefig(temporary, dpi=110, format="png"))
    plt.close(fig)
    return True
