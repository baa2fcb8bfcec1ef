"""The comparison plot says what it compares, counts epochs in whole numbers and keeps its
legend off the curves (issue 17); checked on matplotlib's objects, not pixels."""

import pytest

from tinygrad_drop import report

matplotlib = pytest.importorskip("matplotlib")

NAMES = ["no dropout", "dropout 0.2,0.5", "L2 (weight decay 5e-4)", "L1 (1e-5)",
         "early stopping (3)", "dropout + batchnorm"]


def results(runs, epochs):
    """Synthetic histories: no training, the plot only reads the numbers."""
    return [{"config": {"name": NAMES[k]},
             "history": [{"epoch": e, "train_accuracy": 0.8 + 0.01 * e, "test_accuracy": 0.7,
                          "train_loss": 1.0 / e, "test_loss": 0.5 + 0.01 * e * k}
                         for e in range(1, epochs + 1)]}
            for k in range(runs)]


def test_the_title_names_what_is_shared_and_every_run_compared():
    assert report.comparison_title(results(2, 3), "fashion-mnist: MLP") == (
        "fashion-mnist: MLP\nno dropout vs dropout 0.2,0.5")
    title = report.comparison_title(results(6, 3), "setup")
    lines = title.split("\n")
    assert lines[0] == "setup" and all(len(line) <= 100 for line in lines)
    # lines break between runs, never inside a name
    assert " vs ".join(line.removeprefix("vs ") for line in lines[1:]) == " vs ".join(NAMES)
    fig = report.curves_figure(results(6, 3), "setup")
    assert fig._suptitle.get_text() == title
    matplotlib.pyplot.close(fig)


@pytest.mark.parametrize("epochs", [1, 2, 3, 10, 60])
def test_epoch_ticks_are_whole_numbers(epochs):
    fig = report.curves_figure(results(2, epochs))
    fig.canvas.draw()
    for ax in fig.axes:
        low, high = ax.get_xlim()
        shown = [(t, label.get_text()) for t, label in zip(ax.get_xticks(),
                                                            ax.get_xticklabels(), strict=True)
                 if low <= t <= high]
        assert shown and all(float(t).is_integer() and text == f"{t:.0f}"
                             for t, text in shown), shown
        if epochs == 2:
            assert [text for _, text in shown] == ["1", "2"]
    matplotlib.pyplot.close(fig)


@pytest.mark.parametrize("runs, epochs", [(2, 2), (6, 10), (6, 60)])
def test_the_legend_sits_beside_the_axes_with_one_entry_per_run(runs, epochs):
    fig = report.curves_figure(results(runs, epochs))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend = fig.legends[0]
    box = legend.get_window_extent(renderer)
    for ax in fig.axes:
        assert ax.get_legend() is None
        assert not box.overlaps(ax.get_window_extent(renderer))
        assert box.x0 >= ax.get_window_extent(renderer).x1  # to the right of both
    assert box.x1 <= fig.bbox.x1 + 1  # and inside the picture
    assert [t.get_text() for t in legend.get_texts()] == NAMES[:runs] + ["test", "train"]
    matplotlib.pyplot.close(fig)


def test_the_png_is_small(tmp_path):
    path = tmp_path / "compare.png"
    assert report.plot_curves(results(6, 60), path, "setup")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) < 250_000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1100, 420)
