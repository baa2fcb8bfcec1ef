"""The ``tinygrad-drop`` command line."""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from collections.abc import Sequence

from . import __version__, backends
from .viz import GraphvizMissing


def info(_args: argparse.Namespace) -> int:
    """Print the version, the default backend, and which backends run here (and why not)."""
    print(f"tinygrad_drop {__version__} (Python {platform.python_version()}, "
          f"{platform.system()} {platform.machine()})")
    default = backends.default_name()
    print(f"default backend: {default} (set ${backends.ENV_VAR} to change it)")
    print("backends:")
    missing = backends.unavailable()
    for name in backends.known():
        if name in missing:
            print(f"  {name:8s} unavailable: {missing[name]}")
        else:
            be = backends.get(name)
            print(f"  {name:8s} available   ({be.describe()})")
    return 0


def graph(args: argparse.Namespace) -> int:
    """Draw one training (or inference) step of the standard dropout MLP."""
    from . import Tensor, manual_seed, models, save_graph
    from .nn import functional as F

    manual_seed(args.seed)
    model = models.mlp(batchnorm=args.bn, backend=args.backend)
    x = Tensor.rand(args.batch, 784, backend=args.backend)
    x.name = "images"
    labels = Tensor([i % 10 for i in range(args.batch)], backend=args.backend)
    labels.name = "labels"
    if args.eval:
        model.eval()
    loss = F.cross_entropy(model(x), labels)
    loss.backward()
    save_graph(loss, args.out, show_grads=True, rankdir=args.rankdir)
    mode = "inference" if args.eval else "training"
    print(f"wrote the {mode} graph of 784-256-256-10"
          f"{' with batchnorm' if args.bn else ''} to {args.out}")
    return 0


def gradcheck_cases(backend: str | None) -> dict[str, tuple[object, list[object]]]:
    """What ``tinygrad-drop gradcheck`` checks: name -> (function, float64 inputs) for every
    named op, on ``backend``."""
    from . import Tensor
    from .nn import functional as F

    def t(*shape: int) -> Tensor:
        return Tensor.randn(*shape, dtype="float64", backend=backend, requires_grad=True)

    stats = (Tensor.zeros(4, dtype="float64", backend=backend),
             Tensor.ones(4, dtype="float64", backend=backend))
    labels = Tensor([0, 2, 1, 3, 3], backend=backend)
    return {
        "linear": (F.linear, [t(5, 3), t(4, 3), t(4)]),
        "relu": (lambda x: F.relu(x * x + 0.1), [t(3, 4)]),
        "sigmoid": (F.sigmoid, [t(3, 4)]),
        "dropout (inverted)": (lambda x: F.dropout(x, 0.3), [t(6, 5)]),
        "dropout (vanilla)": (lambda x: F.dropout(x, 0.3, mode="vanilla"), [t(6, 5)]),
        "dropout (vanilla, eval)": (lambda x: F.dropout(x, 0.3, False, mode="vanilla"),
                                    [t(6, 5)]),
        "batch_norm (train)": (lambda x, w, b: F.batch_norm(x, None, None, w, b, True),
                               [t(6, 4), t(4), t(4)]),
        "batch_norm (eval)": (lambda x, w, b: F.batch_norm(x, *stats, w, b),
                              [t(6, 4), t(4), t(4)]),
        "cross_entropy": (lambda z: F.cross_entropy(z, labels), [t(5, 4)]),
        "softmax": (lambda x: x.softmax(), [t(3, 5)]),
        "matmul + sum + mean + max": (lambda a, b: (a @ b).amax(1).sum() + (a @ b).mean(),
                                      [t(3, 4), t(4, 5)]),
        "large input (random directions)": (lambda x: F.dropout(x, 0.5).tanh(), [t(40, 30)]),
    }


def gradcheck_ops(args: argparse.Namespace) -> int:
    """Check every named op's gradient against finite differences on one backend."""
    from . import gradcheck, manual_seed

    manual_seed(args.seed)
    backend = backends.get(args.backend)
    failures = 0
    print(f"gradcheck on backend {backend.name!r} (float64 central differences)")
    for name, (fn, inputs) in gradcheck_cases(backend.name).items():
        ok = gradcheck(fn, inputs, raise_exception=False)
        failures += not ok
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    print("all gradients agree" if not failures else f"{failures} op(s) disagree")
    return 1 if failures else 0


def bench(args: argparse.Namespace) -> int:
    """Run the repository's benchmark suite (benchmarks/run.py), passing the options on."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    runner = next((path for path in (os.path.join(os.getcwd(), "benchmarks", "run.py"),
                                     os.path.join(here, "benchmarks", "run.py"))
                   if os.path.isfile(path)), None)
    if runner is None:
        raise FileNotFoundError("bench: the benchmarks live in the repository's benchmarks/ "
                                "folder, which this installation lacks; run it from a clone")
    extra = (["--quick"] if args.quick else []) + (["--json", args.json] if args.json else [])
    return subprocess.run([sys.executable, runner, *extra], check=False).returncode


def _rates(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(","))


def _config(args: argparse.Namespace, **changes: object) -> object:
    from .experiment import Config

    # The CNN's training accuracy is measured on 10 000 training images (its test set's size).
    fields = dict(model=args.model, train_eval_size=10_000 if args.model == "cnn" else None,
                  dataset=args.dataset, hidden=args.hidden,
                  dropout=args.dropout, mode=args.mode, batchnorm=args.bn, epochs=args.epochs,
                  lr=args.lr, batch_size=args.batch_size, momentum=args.momentum,
                  weight_decay=args.weight_decay, l1=args.l1, early_stopping=args.early_stopping,
                  seed=args.seed, backend=args.backend, limit=args.limit)
    fields.update(changes)
    return Config(**fields)


# Flags left out take the model's defaults: the founding MLP's, or the seed's Keras CNN's.
DEFAULTS = {
    "mlp": dict(hidden=(256, 256), dropout=(0.2, 0.5), epochs=10, lr=0.5, batch_size=256),
    "cnn": dict(hidden=(), dropout=(0.25, 0.5), epochs=12, lr=1.0, batch_size=128),
}


def _text(value: object) -> str:
    return ",".join(f"{v:g}" for v in value) if isinstance(value, tuple) else f"{value}"


def _writable(path: str | None) -> bool:
    """Whether ``path`` (a file to write, its folders possibly absent) can be created."""
    folder = os.path.dirname(os.path.abspath(path)) if path else None
    while folder and not os.path.exists(folder):
        folder = os.path.dirname(folder)
    return not folder or (os.path.isdir(folder) and os.access(folder, os.W_OK))


def _resolve(args: argparse.Namespace) -> str | None:
    """Fill the flags left out with the model's defaults and check every value before any
    training starts; returns the one-line complaint naming the flag and value, or None."""
    hidden_given = args.hidden is not None
    for key, value in DEFAULTS[args.model].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    checks = [("--epochs", args.epochs, args.epochs > 0, "must be positive"),
              ("--batch-size", args.batch_size, args.batch_size > 0, "must be positive"),
              ("--lr", args.lr, args.lr > 0, "must be positive"),
              ("--limit", args.limit, args.limit is None or args.limit > 0, "must be positive"),
              ("--momentum", args.momentum, args.momentum >= 0, "must be >= 0"),
              ("--weight-decay", args.weight_decay, args.weight_decay >= 0, "must be >= 0"),
              ("--l1", args.l1, args.l1 >= 0, "must be >= 0"),
              ("--early-stopping", args.early_stopping, args.early_stopping >= 0,
               "must be >= 0"),
              ("--dropout", _text(args.dropout), all(0.0 <= p < 1.0 for p in args.dropout),
               "each rate must be in [0, 1)"),
              ("--save", getattr(args, "save", None), _writable(getattr(args, "save", None)),
               "not writable"),
              ("--out-dir", getattr(args, "out_dir", None),
               _writable(getattr(args, "out_dir", None) and os.path.join(args.out_dir, "x")),
               "not writable")]
    if args.model == "cnn":
        checks += [("--hidden", _text(args.hidden), not hidden_given,
                    "the cnn's layers are fixed (--model mlp has hidden layers)"),
                   ("--bn", "", not args.bn, "the cnn has no batchnorm (--model mlp)"),
                   ("--also", "bn", "bn" not in getattr(args, "also", ()),
                    "the cnn has no batchnorm (--model mlp)"),
                   ("--momentum", args.momentum, not args.momentum,
                    "the cnn trains with Adadelta, which has no momentum")]
    for flag, value, ok, why in checks:
        if not ok:
            return f"{flag}{' ' if value != '' else ''}{value}: {why}"
    layers = 2 if args.model == "cnn" else len(args.hidden)
    if len(args.dropout) == 1:
        args.dropout = args.dropout * layers
    if len(args.dropout) != layers:
        where = "two (conv block, dense head)" if args.model == "cnn" else (
            f"{layers} (one per hidden layer)")
        return f"--dropout {_text(args.dropout)}: give one rate or {where}"
    return None


def _add_training_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="mlp", choices=["mlp", "cnn"],
                   help="mlp: 784-256-256-10 with SGD (default); cnn: the seed's Keras CNN "
                        "(conv 32, conv 64, maxpool, dropout, dense 128, dropout) with "
                        "Adadelta lr 1.0, rho 0.95, eps 1e-7")
    p.add_argument("--dataset", default="fashion-mnist", choices=["fashion-mnist", "mnist"])
    p.add_argument("--hidden", type=lambda t: tuple(int(v) for v in t.split(",")),
                   default=None, help="mlp: hidden layer widths (default 256,256)")
    p.add_argument("--dropout", type=_rates, default=None,
                   help="drop rates: one for every layer, or one per layer; mlp: per hidden "
                        "layer (default 0.2,0.5); cnn: conv block, dense head (default 0.25,0.5)")
    p.add_argument("--mode", default="inverted", choices=["inverted", "vanilla"])
    p.add_argument("--bn", action="store_true",
                   help="mlp: batchnorm after each hidden linear layer")
    p.add_argument("--epochs", type=int, default=None, help="default: mlp 10, cnn 12")
    p.add_argument("--lr", type=float, default=None,
                   help="default: mlp 0.5 (SGD), cnn 1.0 (Adadelta)")
    p.add_argument("--batch-size", type=int, default=None, help="default: mlp 256, cnn 128")
    p.add_argument("--momentum", type=float, default=0.0, help="mlp: SGD momentum")
    p.add_argument("--weight-decay", type=float, default=0.0, help="L2 regularisation")
    p.add_argument("--l1", type=float, default=0.0, help="L1 regularisation strength")
    p.add_argument("--early-stopping", type=int, default=0, metavar="PATIENCE",
                   help="stop after PATIENCE epochs without validation improvement (0: off)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", default=None, help="backend (default: $TINYGRAD_DROP_BACKEND)")
    p.add_argument("--limit", type=int, default=None, help="train on the first N images only")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def train(args: argparse.Namespace) -> int:
    """Train one model, printing loss and train/test accuracy per epoch."""
    from . import experiment, serialization

    config = _config(args, name="model")
    arrays = experiment.load(config.dataset, config.limit)
    result = experiment.run(config, arrays, progress=not args.no_progress)
    for r in result["history"]:
        print(f"epoch {r['epoch']:3d}  loss {r['train_loss']:.4f}  train acc "
              f"{r['train_accuracy']:.4f}  test acc {r['test_accuracy']:.4f}  "
              f"({r['seconds']:.2f} s)")
    if args.save:
        serialization.save(result["model"].state_dict(), args.save)
        print(f"saved the weights to {args.save}")
    return 0


REGULARISERS = {
    "l2": dict(name="L2 (weight decay 5e-4)", dropout=(0.0, 0.0), weight_decay=5e-4),
    "l1": dict(name="L1 (1e-5)", dropout=(0.0, 0.0), l1=1e-5),
    "early": dict(name="early stopping (3)", dropout=(0.0, 0.0), early_stopping=3),
    "bn": dict(name="dropout + batchnorm", batchnorm=True),
}


def _regularisers(text: str) -> list[str]:
    keys = [v for v in text.split(",") if v]
    unknown = [k for k in keys if k not in REGULARISERS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {', '.join(unknown)}; choose from "
                                         f"{', '.join(REGULARISERS)}")
    return keys


def compare(args: argparse.Namespace) -> int:
    """Train the same architecture without and with dropout (and other regularisers), then
    write the curves (PNG), the numbers (JSON) and print a summary table."""
    from . import experiment, report

    runs = [_config(args, name="no dropout", dropout=tuple(0.0 for _ in args.dropout)),
            _config(args, name=f"dropout {','.join(f'{p:g}' for p in args.dropout)}")]
    for key in args.also:
        runs.append(_config(args, **REGULARISERS[key]))
    arrays = experiment.load(args.dataset, args.limit)
    if args.model == "cnn":
        network, optimizer = "the seed's CNN", f"Adadelta lr {args.lr:g}, rho 0.95, eps 1e-7"
    else:
        network, optimizer = f"MLP 784-{'-'.join(map(str, args.hidden))}-10", f"SGD lr {args.lr}"
    print(f"{args.dataset}: {len(arrays[0])} training and {len(arrays[2])} test images; "
          f"{network}, {optimizer}, batch {args.batch_size}, {args.epochs} epochs")
    results = []
    for config in runs:
        results.append(experiment.run(config, arrays, progress=not args.no_progress))
        print(report.table(results[-1:]).splitlines()[1], flush=True)
    os.makedirs(args.out_dir, exist_ok=True)
    json_path = os.path.join(args.out_dir, "compare.json")
    png_path = os.path.join(args.out_dir, "compare.png")
    report.write_json(results, json_path)
    title = f"{args.dataset}: {network}, with and without dropout"
    drew = report.plot_curves(results, png_path, title)
    print("\n" + report.table(results))
    print(f"\nwrote {json_path}" + (f" and {png_path}" if drew else
                                     " (no PNG: pip install matplotlib)"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="tinygrad-drop", description="tinygrad_drop: autograd with dropout done right")
    parser.add_argument("--version", action="version", version=f"tinygrad_drop {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="version, backends available here and why the others are not"
                   ).set_defaults(run=info)
    g = sub.add_parser("graph", help="draw the standard dropout MLP's computation graph")
    g.add_argument("--out", default="graph.svg", help="file to write: .svg, .png, .pdf or .dot")
    g.add_argument("--bn", action="store_true", help="batchnorm after each hidden linear layer")
    g.add_argument("--eval", action="store_true", help="the inference graph (dropout inactive)")
    g.add_argument("--batch", type=int, default=8, help="batch size of the drawn step")
    g.add_argument("--rankdir", default="TB", choices=["TB", "LR"], help="layout direction")
    g.add_argument("--backend", default=None, help="backend (default: $TINYGRAD_DROP_BACKEND)")
    g.add_argument("--seed", type=int, default=0)
    g.set_defaults(run=graph)
    b = sub.add_parser("bench", help="run the benchmark suite against PyTorch and NumPy")
    b.add_argument("--quick", action="store_true", help="fewer repeats")
    b.add_argument("--json", help="also write the results to this file")
    b.set_defaults(run=bench)
    gc = sub.add_parser("gradcheck", help="check every named op's gradient numerically")
    gc.add_argument("--backend", default=None, help="backend (default: $TINYGRAD_DROP_BACKEND)")
    gc.add_argument("--seed", type=int, default=0)
    gc.set_defaults(run=gradcheck_ops)
    t = sub.add_parser("train", help="train one MLP (or --model cnn) on Fashion-MNIST "
                                     "(or MNIST)")
    _add_training_flags(t)
    t.add_argument("--save", help="write the trained weights to this .npz file")
    t.set_defaults(run=train)
    c = sub.add_parser("compare", help="the founding experiment: with vs without dropout, "
                                       "train and test curves")
    _add_training_flags(c)
    c.add_argument("--also", type=_regularisers, default=[],
                   help=f"more runs: comma-separated from {', '.join(REGULARISERS)}")
    c.add_argument("--out-dir", default="results", help="where compare.png and .json go")
    c.set_defaults(run=compare)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``tinygrad-drop``; returns the exit status."""
    args = build_parser().parse_args(argv)
    problem = _resolve(args) if hasattr(args, "model") else None
    if problem is not None:  # as argparse does with a bad flag: one line, exit status 2
        print(f"tinygrad-drop {args.command}: {problem}", file=sys.stderr)
        return 2
    try:
        return args.run(args)
    except (FileNotFoundError, ValueError, backends.BackendUnavailableError,
            GraphvizMissing) as exc:  # the user's to fix: a message, not a traceback
        print(f"tinygrad-drop: {exc}", file=sys.stderr)
        return 1
