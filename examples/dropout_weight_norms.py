"""Does dropout shrink the weights' squared norm, as L2 does? Measured beside L2, from the same
initial weights.

Part 1, the seed's CNN (td.models.cnn; ``--widths`` makes it narrower): three runs from the
same initial weights on the same mini-batches of 128 from the first 1 000 Fashion-MNIST
training images for 15 epochs: no dropout, the seed's dropout (0.25 after the convolutions,
0.5 in the dense head), and L2 without dropout; once with the seed's Adadelta (lr 1.0, rho
0.95, eps 1e-7; L2 as ``weight_decay=1e-2``, which adds 1e-2 * w to every gradient) and once
with SGD (lr 0.05, momentum 0.9; L2 ``weight_decay=1e-3``). Printed: the sum of squared
weights of each layer (biases left out) and in total, before and after training, and the test
accuracy (all 10 000 test images). The two optimizers are both here because the answer
differs: Adadelta sizes every parameter's step by its own running gradient and update sizes.

Part 2, the setting where the claim comes from: a softmax regression (one nn.Linear(784, 10))
trained by full-batch gradient descent (SGD lr 0.5, 500 steps) on the same images, without
dropout, with nn.Dropout(0.5) on its input, and with L2 (weight_decay 1e-3). For a linear model,
dropout on the input is in expectation an L2 penalty weighted per input feature (Wager, Wang and
Liang, 2013), so there dropout shrinks the weights as L2 does.

    python examples/dropout_weight_norms.py [--images 1000] [--epochs 15]
                                            [--optimizers adadelta sgd] [--widths 32,64,128]
                                            [--linear-steps 500]
"""

import argparse
from typing import Any

from cnn_common import (
    SEED_WIDTHS,
    adadelta,
    conv_net,
    fresh_copy,
    load,
    table,
    train,
    widths_argument,
)

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from tinygrad_drop import Tensor, experiment, nn, optim


def squared_norms(model: nn.Module) -> dict[str, float]:
    """Sum of squared weights of every layer (its ``weight``; biases left out), and 'total'."""
    norms = {name.removesuffix(".weight"): (p * p).sum().item()
             for name, p in model.named_parameters() if name.endswith(".weight")}
    return {**norms, "total": sum(norms.values())}


def sgd(model: nn.Module, weight_decay: float = 0.0) -> optim.SGD:
    """SGD with lr 0.05 and momentum 0.9; ``weight_decay`` is L2's gradient."""
    return optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=weight_decay)


# optimizer name -> (make it for a model and a weight decay, the weight decay of the L2 run)
OPTIMIZERS = {"adadelta": (adadelta, 1e-2), "sgd": (sgd, 1e-3)}


def cnn_runs(arrays: tuple[Any, ...], epochs: int, optimizer: str,
             widths: tuple[int, int, int]) -> dict[str, dict[str, Any]]:
    """The CNN without dropout, with the seed's dropout and with L2, from the same weights,
    trained with ``optimizer`` (a key of OPTIMIZERS)."""
    make, weight_decay = OPTIMIZERS[optimizer]
    td.manual_seed(0)
    initial = conv_net(widths).state_dict()
    runs = {"initial weights": {"norms": squared_norms(fresh_copy(conv_net(widths), initial)),
                                "test_accuracy": None}}
    for name, rates, decay in (("no dropout", (0.0, 0.0), 0.0),
                               ("dropout 0.25, 0.5", (0.25, 0.5), 0.0),
                               (f"L2 (weight_decay {weight_decay:g})", (0.0, 0.0), weight_decay)):
        model = fresh_copy(conv_net(widths, *rates), initial)
        result = train(model, make(model, decay), arrays, epochs)
        runs[name] = {"norms": squared_norms(model), "test_accuracy": result["test_accuracy"]}
    return runs


def linear_runs(arrays: tuple[Any, ...], steps: int, lr: float, weight_decay: float
                ) -> dict[str, dict[str, Any]]:
    """Softmax regression by full-batch gradient descent: no dropout, dropout 0.5 on the input,
    L2; from the same weights."""
    x, y = Tensor(arrays[0]), Tensor(arrays[1])
    td.manual_seed(0)
    initial = nn.Linear(784, 10).state_dict()
    runs = {}
    for name, rate, decay in (("no dropout", 0.0, 0.0), ("dropout 0.5 on the input", 0.5, 0.0),
                              (f"L2 (weight_decay {weight_decay:g})", 0.0, weight_decay)):
        linear = fresh_copy(nn.Linear(784, 10), initial)
        model = nn.Sequential(nn.Dropout(rate) if rate else nn.Identity(), linear)
        opt = optim.SGD(model.parameters(), lr=lr, weight_decay=decay)
        model.train()
        for _ in range(steps):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
        accuracy = experiment.evaluate(model, arrays[2], arrays[3])[1]
        runs[name] = {"norms": {"weight": (linear.weight * linear.weight).sum().item()},
                      "test_accuracy": accuracy}
    return runs


def _print(title: str, runs: dict[str, dict[str, Any]]) -> None:
    layers = list(next(iter(runs.values()))["norms"])
    rows = [[name, *(run["norms"][layer] for layer in layers),
             "" if run["test_accuracy"] is None else run["test_accuracy"]]
            for name, run in runs.items()]
    print(title)
    print(table(["run", *(f"sum w^2 [{layer}]" if layer != "total" else "total"
                          for layer in layers), "test acc"], rows))


def main(images: int = 1000, epochs: int = 15, optimizers: tuple[str, ...] = ("adadelta", "sgd"),
         widths: tuple[int, int, int] = SEED_WIDTHS, linear_steps: int = 500,
         linear_lr: float = 0.5, linear_weight_decay: float = 1e-3,
         test_images: int | None = None, dataset: str = "fashion-mnist") -> dict[str, Any]:
    """Run both parts; print their tables; return {'cnn': {optimizer: runs}, 'linear': runs},
    each run name -> its squared norms per layer (and 'total') and test accuracy."""
    arrays = load(dataset, images, test_images)
    cnn = {name: cnn_runs(arrays, epochs, name, widths) for name in optimizers}
    results = {"cnn": cnn,
               "linear": linear_runs(arrays, linear_steps, linear_lr, linear_weight_decay)}
    print(f"{dataset}: {len(arrays[0])} training images, test on {len(arrays[2])} images")
    for name, runs in cnn.items():
        _print(f"CNN {widths}, {name}, {epochs} epochs, batch 128 (layer by index in "
               "td.models.cnn):", runs)
    _print(f"softmax regression, full-batch gradient descent, lr {linear_lr:g}, "
           f"{linear_steps} steps:", results["linear"])
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--optimizers", nargs="+", choices=sorted(OPTIMIZERS),
                        default=["adadelta", "sgd"])
    parser.add_argument("--widths", type=widths_argument, default=SEED_WIDTHS)
    parser.add_argument("--linear-steps", type=int, default=500)
    parser.add_argument("--linear-lr", type=float, default=0.5)
    parser.add_argument("--linear-weight-decay", type=float, default=1e-3)
    parser.add_argument("--test-images", type=int, default=None)
    parser.add_argument("--dataset", default="fashion-mnist")
    args = parser.parse_args()
    main(args.images, args.epochs, tuple(args.optimizers), args.widths, args.linear_steps,
         args.linear_lr, args.linear_weight_decay, args.test_images, args.dataset)
