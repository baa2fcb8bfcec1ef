"""Monte Carlo dropout: a network's uncertainty grows away from its training data.

An MLP with dropout learns y = x/2 + sin(x) from noisy samples in [-3, -1] and [1, 3] only. At
test time ``nn.mc_predict`` keeps dropout sampling and averages 100 passes: the spread (std) is
smallest where there was data, larger in the gap and largest beyond the data. (A ReLU network's
dropout spread grows with its activations: where the fitted curve goes flat, so does the
spread.) With matplotlib installed the curves are saved as a picture.

    python examples/mc_dropout.py [--out mc_dropout.png]
"""

import argparse

import numpy as np

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from tinygrad_drop import Tensor, nn, optim


def toy_data(rng: np.random.Generator, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    x = np.concatenate([rng.uniform(-3, -1, n // 2), rng.uniform(1, 3, n - n // 2)])
    y = x / 2 + np.sin(x) + rng.normal(0, 0.1, n)
    return x[:, None].astype(np.float32), y[:, None].astype(np.float32)


def main(steps: int = 1500, out: str | None = None) -> dict[str, float]:
    """Train, predict with MC dropout, print the spread by region and return it."""
    td.manual_seed(0)
    x, y = toy_data(np.random.default_rng(0))
    model = nn.Sequential(nn.Linear(1, 128), nn.ReLU(), nn.Dropout(0.3),
                          nn.Linear(128, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 1))
    opt = optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        opt.zero_grad()
        F.mse_loss(model(Tensor(x)), Tensor(y)).backward()
        opt.step()
    grid = np.linspace(-6, 6, 241, dtype=np.float32)[:, None]
    mean, std = (t.numpy()[:, 0] for t in nn.mc_predict(model, Tensor(grid), samples=100))
    g = np.abs(grid[:, 0])
    regions = {"with data (1 <= |x| <= 3)": (g >= 1) & (g <= 3), "gap (|x| < 0.5)": g < 0.5,
               "beyond (|x| >= 5)": g >= 5}
    spread = {name: float(std[where].mean()) for name, where in regions.items()}
    for name, value in spread.items():
        print(f"mean predictive std {name:26s} {value:.3f}")
    if out:
        plot(x, y, grid[:, 0], mean, std, out)
    return spread


def plot(x, y, grid, mean, std, out: str) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no picture (pip install matplotlib)")
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.fill_between(grid, mean - 2 * std, mean + 2 * std, alpha=0.3, label="mean ± 2 std")
    ax.plot(grid, mean, label="MC dropout mean (100 samples)")
    ax.plot(grid, grid / 2 + np.sin(grid), "k--", lw=1, label="x/2 + sin(x)")
    ax.scatter(x[:, 0], y[:, 0], s=4, c="k", label="training data")
    ax.set(xlabel="x", ylabel="y", title="Monte Carlo dropout uncertainty")
    ax.legend(loc="upper left", fontsize=8)
    fig.savefig(out, dpi=120, bbox_inches="tight")
    print(f"saved {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--out", default="mc_dropout.png", help="picture to write")
    args = parser.parse_args()
    main(args.steps, args.out)
