"""Overfitting, and what dropout does about it: train and test curves side by side.

With only 1 000 training images and 60 epochs the plain MLP memorises its training set (train
accuracy -> 1.0) while its test loss climbs; with dropout 0.2/0.5 the train and test curves
stay closer and the test loss stays lower, though the test accuracy is no better (README).
Writes the curves to a PNG (needs matplotlib).

    python examples/overfitting_curves.py [--images 1000] [--epochs 60] [--out overfitting.png]
"""

import argparse

from tinygrad_drop import experiment, report


def main(images: int = 1000, epochs: int = 60, out: str | None = "overfitting.png",
         dataset: str = "fashion-mnist") -> list[dict]:
    """Train with and without dropout; print the table, draw the curves, return the results."""
    arrays = experiment.load(dataset, images)
    setup = dict(dataset=dataset, limit=images, epochs=epochs, batch_size=64, lr=0.05,
                 momentum=0.9, init_std=None)  # PyTorch's default initialisation
    results = [experiment.run(experiment.Config(name=name, dropout=rates, **setup), arrays)
               for name, rates in (("no dropout", (0.0, 0.0)), ("dropout 0.2,0.5", (0.2, 0.5)))]
    print(report.table(results))
    for result in results:
        last = result["history"][-1]
        print(f"{result['config']['name']:16s} final test loss {last['test_loss']:.3f}")
    if out and report.plot_curves(results, out, f"{dataset}, {images} training images: "
                                                "overfitting with and without dropout"):
        print(f"saved {out}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--out", default="overfitting.png")
    args = parser.parse_args()
    main(args.images, args.epochs, args.out)
