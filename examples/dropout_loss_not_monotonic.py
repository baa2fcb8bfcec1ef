"""With dropout the training loss no longer falls step after step: the step-to-step increases,
counted with and without dropout.

Part 1, one fixed batch (the clean case): the seed's CNN (td.models.cnn; ``--widths`` makes it
narrower) trained by plain gradient descent (SGD, lr 0.01, no momentum) on one fixed batch, the
first 256 Fashion-MNIST training images, for 60 steps, from the same initial weights, without
dropout and with the seed's dropout (0.25, 0.5). Without dropout every step is a small step
down the same loss, so the loss falls at every step (for a small enough lr: at lr 0.02 the
seed's CNN reaches gradient descent's edge of stability after about 50 steps and oscillates
even without dropout). With dropout each step's loss is computed through fresh masks, a
different function at every step, and it rises again and again. Counted: increases of the loss
each step trains on (dropout on), and of the same batch's loss in inference mode (dropout off)
after each step.

Part 2, the seed's training (mini-batches): Adadelta (lr 1.0, rho 0.95, eps 1e-7), shuffled
batches of 128 from the first 1 024 training images, 8 epochs, with and without dropout.
Counted: increases of the per-step mini-batch loss (every step sees other images, so it rises
often in both runs) and of the per-epoch loss on all those training images in inference mode.

Hence the seed's advice: check that training works with dropout switched off first (its loss
falls), then switch dropout on.

    python examples/dropout_loss_not_monotonic.py [--batch 256] [--steps 60] [--lr 0.01]
                                                  [--images 1024] [--epochs 8]
                                                  [--widths 32,64,128]
"""

import argparse
from typing import Any

from cnn_common import SEED_WIDTHS, adadelta, conv_net, fresh_copy, load, table, widths_argument

import tinygrad_drop as td
import tinygrad_drop.data  # noqa: F401  (the DataLoader)
import tinygrad_drop.nn.functional as F
from tinygrad_drop import Tensor, experiment, optim, training

RUNS = (("no dropout", (0.0, 0.0)), ("dropout 0.25, 0.5", (0.25, 0.5)))


def increases(losses: list[float]) -> int:
    """How many times a loss is higher than the one before it."""
    return sum(later > earlier for earlier, later in zip(losses, losses[1:], strict=False))


def fixed_batch(x: Any, y: Any, steps: int, lr: float, widths: tuple[int, int, int]
                ) -> dict[str, dict[str, list[float]]]:
    """Gradient descent on one batch, without and with dropout, from the same weights: each
    step's training loss (dropout on) and the batch's inference-mode loss after the step."""
    xb, yb = Tensor(x), Tensor(y)
    td.manual_seed(0)
    initial = conv_net(widths).state_dict()
    runs = {}
    for name, rates in RUNS:
        model = fresh_copy(conv_net(widths, *rates), initial)
        opt = optim.SGD(model.parameters(), lr=lr)
        trained_on, inference = [], []
        for _ in range(steps):
            model.train()
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            trained_on.append(loss.item())
            inference.append(experiment.evaluate(model, x, y, chunk=256)[0])
        runs[name] = {"training loss": trained_on, "inference loss": inference}
    return runs


def mini_batches(arrays: tuple[Any, ...], epochs: int, widths: tuple[int, int, int]
                 ) -> dict[str, dict[str, list[float]]]:
    """The seed's Adadelta on shuffled batches of 128, without and with dropout, from the same
    weights and batches: every step's mini-batch loss and each epoch's inference-mode loss on
    all the training images."""
    td.manual_seed(1)
    initial = conv_net(widths).state_dict()
    return {name: _seed_training(fresh_copy(conv_net(widths, *rates), initial), arrays, epochs)
            for name, rates in RUNS}


def _seed_training(model: Any, arrays: tuple[Any, ...], epochs: int) -> dict[str, list[float]]:
    x, y = arrays[0], arrays[1]
    steps: list[float] = []
    epoch_losses: list[float] = []

    def loss_fn(logits: Tensor, labels: Tensor) -> Tensor:
        loss = F.cross_entropy(logits, labels)
        steps.append(loss.item())
        return loss

    def measure(record: dict[str, float]) -> None:
        epoch_losses.append(experiment.evaluate(model, x, y, chunk=256)[0])

    td.manual_seed(1)
    loader = td.data.DataLoader(x, y, 128, shuffle=True, seed=1)
    training.fit(model, adadelta(model), loss_fn, loader, epochs, on_epoch=measure)
    return {"step loss": steps, "epoch inference loss": epoch_losses}


def _rows(runs: dict[str, dict[str, list[float]]]) -> list[list[Any]]:
    return [[name, *(f"{increases(series)} of {len(series) - 1}" for series in run.values()),
             *(series[-1] for series in run.values())] for name, run in runs.items()]


def main(batch: int = 256, steps: int = 60, lr: float = 0.01, images: int = 1024,
         epochs: int = 8, widths: tuple[int, int, int] = SEED_WIDTHS,
         dataset: str = "fashion-mnist") -> dict[str, dict[str, dict[str, list[float]]]]:
    """Run both parts; print the counts of increases; return {'fixed batch': ...,
    'mini-batches': ...}, each run name -> its loss series."""
    arrays = load(dataset, max(batch, images), 0)
    results = {"fixed batch": fixed_batch(arrays[0][:batch], arrays[1][:batch], steps, lr,
                                          widths),
               "mini-batches": mini_batches((arrays[0][:images], arrays[1][:images]), epochs,
                                            widths)}
    print(f"{dataset}, CNN {widths}")
    print(f"one fixed batch of {batch} images, gradient descent lr {lr:g}, {steps} steps:")
    print(table(["run", "increases: training loss", "inference loss", "last training loss",
                 "last inference loss"], _rows(results["fixed batch"])))
    print(f"mini-batches of 128 from {images} images, Adadelta, {epochs} epochs:")
    print(table(["run", "increases: step loss", "epoch inference loss", "last step loss",
                 "last epoch inference loss"], _rows(results["mini-batches"])))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--widths", type=widths_argument, default=SEED_WIDTHS)
    parser.add_argument("--dataset", default="fashion-mnist")
    args = parser.parse_args()
    main(args.batch, args.steps, args.lr, args.images, args.epochs, args.widths, args.dataset)
