"""The ``tinygrad-drop`` command line."""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from collections.abc import Sequence

from . import __version__, backends
from . import cli_checks as checks
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


def _config(args: argparse.Namespace, **changes: object) -> object:
    from .experiment import Config

    # The CNN's training accuracy is measured on 10 000 training images (its test set's size).
    fields = dict(model=args.model, train_eval_size=10_000 if args.model == "cnn" else None,
                  dataset=args.dataset, hidden=args.hidden,
                  dropout=args.dropout, mode=args.mode, batchnorm=args.bn, epochs=args.epochs,
                  lr=args.lr, optimizer=args.optimizer, schedule=args.schedule,
                  batch_size=args.batch_size, momentum=args.momentum,
                  weight_decay=args.weight_decay, l1=args.l1, early_stopping=args.early_stopping,
                  seed=args.seed, backend=args.backend, limit=args.limit)
    fields.update(changes)
    return Config(**fields)


# Flags left out take the model's defaults: the founding MLP's, or the seed's Keras CNN's.
DEFAULTS = {
    "mlp": dict(hidden=(256, 256), dropout=(0.2, 0.5), epochs=10, batch_size=256),
    "cnn": dict(hidden=(), dropout=(0.25, 0.5), epochs=12, batch_size=128),
}
# Each optimizer's learning rate (the model's own optimizer, the founding MLP's SGD or the
# seed's Adadelta, is experiment.DEFAULT_OPTIMIZER): the founding 0.5 for the MLP's SGD,
# PyTorch's defaults for Adam(W) and Adadelta (1.0, also the seed's); SGD has none in PyTorch,
# 0.01 is its MNIST example's.
LR = {("mlp", "sgd"): 0.5, ("cnn", "sgd"): 0.01, "adam": 1e-3, "adamw": 1e-3, "adadelta": 1.0}
OPTIMIZER_NAMES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "adadelta": "Adadelta"}


def _optimizer_text(args: argparse.Namespace) -> str:
    """The optimizer and its settings as the compare header and plot title show them."""
    text = f"{OPTIMIZER_NAMES[args.optimizer]} lr {args.lr:g}"
    if args.optimizer == "adadelta":
        text += ", rho 0.95, eps 1e-7"
    if args.momentum:
        text += f", momentum {args.momentum:g}"
    if args.optimizer == "adamw":
        text += f", weight decay {args.weight_decay:g}"
    return text + (f", schedule {args.schedule}" if args.schedule not in (None, "none") else "")


def _text(value: object) -> str:
    return ",".join(f"{v:g}" for v in value) if isinstance(value, tuple) else f"{value}"


def _resolve(args: argparse.Namespace) -> str | None:
    """Fill the flags left out with the model's defaults and check what the flags' own types
    cannot (the model's constraints, the backend, the output locations) before any work
    starts; returns the one-line complaint naming the flag and value, or None."""
    problem = checks.backend_problem(args.backend) if hasattr(args, "backend") else None
    for flag, path, folder in (("--save", getattr(args, "save", None), False),
                               ("--out", getattr(args, "out", None), False),
                               ("--json", getattr(args, "json", None), False),
                               ("--out-dir", getattr(args, "out_dir", None), True)):
        problem = problem or checks.output_problem(flag, path, folder=folder)
    if problem is None and args.command == "graph" and args.bn and not args.eval and (
            args.batch < 2):
        problem = (f"--batch must be at least 2 with --bn (batchnorm trains on a batch's "
                   f"statistics; or draw --eval), got {args.batch}")
    if problem or not hasattr(args, "model"):
        return problem
    hidden_given, dropout_given = args.hidden is not None, args.dropout is not None
    for key, value in DEFAULTS[args.model].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    from .experiment import DEFAULT_OPTIMIZER

    args.optimizer = args.optimizer or DEFAULT_OPTIMIZER[args.model]
    if args.lr is None:
        args.lr = LR.get(args.optimizer) or LR[args.model, args.optimizer]
    if args.weight_decay is None:  # AdamW decays by PyTorch's 1e-2 unless told otherwise
        args.weight_decay = 1e-2 if args.optimizer == "adamw" else 0.0
    if args.momentum and args.optimizer != "sgd":
        return (f"--momentum is for --optimizer sgd (this run uses {args.optimizer}), got "
                f"{args.momentum:g}")
    if args.model == "cnn":
        rules = [("--hidden", _text(args.hidden), not hidden_given,
                  "is for --model mlp (the cnn's layers are fixed)"),
                 ("--bn", "", not args.bn, "is for --model mlp (the cnn has no batchnorm)"),
                 ("--also", "bn", "bn" not in getattr(args, "also", ()),
                  "bn is for --model mlp (the cnn has no batchnorm)")]
        for flag, value, ok, why in rules:
            if not ok:
                return f"{flag} {why}" + (f", got {value}" if flag not in ("--bn", "--also")
                                          else "")
    bn_runs = args.bn or "bn" in getattr(args, "also", ())
    rows = args.limit * 9 // 10 if args.limit and args.early_stopping else args.limit
    if bn_runs and rows is not None and rows < args.batch_size:
        return (f"--limit {args.limit} leaves {rows} training rows, fewer than one batch of "
                f"--batch-size {args.batch_size}, which batchnorm needs (a short last batch "
                f"is dropped)")
    layers = 2 if args.model == "cnn" else len(args.hidden)
    if len(args.dropout) == 1:
        args.dropout = args.dropout * layers
    if len(args.dropout) != layers:
        where = "two (conv block, dense head)" if args.model == "cnn" else (
            f"{layers} (one per hidden layer)")
        if not dropout_given:
            return (f"--hidden {_text(args.hidden)} has {layers} layers: give --dropout one "
                    f"rate or {layers} (the default {_text(args.dropout)} is for "
                    f"{len(args.dropout)})")
        return f"--dropout needs one rate or {where}, got {_text(args.dropout)}"
    return None


def _add_training_flags(p: argparse.ArgumentParser) -> None:
    mlp, cnn = DEFAULTS["mlp"], DEFAULTS["cnn"]
    p.add_argument("--model", default="mlp", choices=["mlp", "cnn"],
                   help="mlp: 784-256-256-10 with SGD (default); cnn: the seed's Keras CNN "
                        "(conv 32, conv 64, maxpool, dropout, dense 128, dropout) with "
                        "Adadelta lr 1.0, rho 0.95, eps 1e-7")
    p.add_argument("--dataset", default="fashion-mnist", choices=["fashion-mnist", "mnist"],
                   help="default: fashion-mnist")
    p.add_argument("--hidden", type=checks.widths, default=None, metavar="W1,W2,...",
                   help=f"mlp: hidden layer widths (default {_text(mlp['hidden'])})")
    p.add_argument("--dropout", type=checks.rates, default=None, metavar="P[,P2,...]",
                   help="drop rates in [0, 1): one for every layer (0.3 means 0.3 in each), "
                        "or one per layer; mlp: per hidden layer (default "
                        f"{_text(mlp['dropout'])}); cnn: conv block, dense head (default "
                        f"{_text(cnn['dropout'])})")
    p.add_argument("--mode", default="inverted", choices=["inverted", "vanilla"],
                   help="inverted (scale in training, default) or vanilla (scale at inference)")
    p.add_argument("--bn", action="store_true",
                   help="mlp: batchnorm after each hidden linear layer (a final short batch "
                        "is then dropped: batchnorm cannot train on one row)")
    p.add_argument("--epochs", type=checks.positive_int, default=None,
                   help=f"a positive integer (default: mlp {mlp['epochs']}, cnn {cnn['epochs']})")
    p.add_argument("--optimizer", default=None, choices=list(OPTIMIZER_NAMES),
                   help="default: mlp sgd, cnn adadelta (the seed's: rho 0.95, eps 1e-7, as "
                        "adadelta always is here); adam and adamw take PyTorch's betas, eps")
    p.add_argument("--lr", type=checks.positive_float, default=None,
                   help=f"learning rate > 0 (default: sgd {LR['mlp', 'sgd']:g} for the mlp, "
                        f"{LR['cnn', 'sgd']:g} for the cnn; adam and adamw {LR['adam']:g}; "
                        f"adadelta {LR['adadelta']:.1f})")
    p.add_argument("--schedule", type=checks.schedule, default=None, metavar="SCHEDULE",
                   help="learning-rate schedule, stepped after every epoch: none (default), "
                        "step:STEP_SIZE[:GAMMA] (StepLR, GAMMA default 0.1) or "
                        "cosine[:ETA_MIN] (CosineAnnealingLR over --epochs, ETA_MIN default 0)")
    p.add_argument("--batch-size", type=checks.positive_int, default=None,
                   help=f"a positive integer (default: mlp {mlp['batch_size']}, cnn "
                        f"{cnn['batch_size']})")
    p.add_argument("--momentum", type=checks.fraction, default=0.0,
                   help="SGD momentum in [0, 1) (default 0)")
    p.add_argument("--weight-decay", type=checks.nonnegative_float, default=None,
                   help="L2 regularisation >= 0 (AdamW: decoupled weight decay) (default 0; "
                        "adamw 0.01, as PyTorch)")
    p.add_argument("--l1", type=checks.nonnegative_float, default=0.0,
                   help="L1 regularisation strength >= 0 (default 0)")
    p.add_argument("--early-stopping", type=checks.count, default=0, metavar="PATIENCE",
                   help="stop after PATIENCE epochs without improvement on a held-out tenth "
                        "of the training set (default 0: off)")
    p.add_argument("--seed", type=checks.count, default=0, help="an integer >= 0 (default 0)")
    p.add_argument("--backend", default=None,
                   help=f"backend (default: ${backends.ENV_VAR}, else numpy)")
    p.add_argument("--limit", type=checks.positive_int, default=None, metavar="N",
                   help="train on the first N images only (default: all)")
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
        raise argparse.ArgumentTypeError(f"must be names from {', '.join(REGULARISERS)} "
                                         f"separated by commas, got {text}")
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
    network = "the seed's CNN" if args.model == "cnn" else (
        f"MLP 784-{'-'.join(map(str, args.hidden))}-10")
    optimizer = _optimizer_text(args)
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
    drew = report.plot_curves(results, png_path, f"{args.dataset}: {network}, {optimizer}, "
                                                 f"batch {args.batch_size}")
    print("\n" + report.table(results))
    print(f"\nwrote {json_path}" + (f" and {png_path}" if drew else
                                     " (no PNG: pip install matplotlib)"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="tinygrad-drop", description="tinygrad_drop: autograd with dropout done right")
    parser.add_argument("--version", action="version", version=f"tinygrad_drop {__version__}")
    # a subcommand's bad flag is one line (Parser.error); a missing subcommand shows the usage
    sub = parser.add_subparsers(dest="command", required=True, parser_class=checks.Parser)
    sub.add_parser("info", help="version, backends available here and why the others are not"
                   ).set_defaults(run=info)
    g = sub.add_parser("graph", help="draw the standard dropout MLP's computation graph")
    g.add_argument("--out", default="graph.svg",
                   help="file to write: .svg, .png, .pdf or .dot (default graph.svg)")
    g.add_argument("--bn", action="store_true", help="batchnorm after each hidden linear layer")
    g.add_argument("--eval", action="store_true", help="the inference graph (dropout inactive)")
    g.add_argument("--batch", type=checks.positive_int, default=8,
                   help="batch size of the drawn step (default 8; at least 2 with --bn)")
    g.add_argument("--rankdir", default="TB", choices=["TB", "LR"],
                   help="layout direction (default TB)")
    g.add_argument("--backend", default=None,
                   help=f"backend (default: ${backends.ENV_VAR}, else numpy)")
    g.add_argument("--seed", type=checks.count, default=0, help="an integer >= 0 (default 0)")
    g.set_defaults(run=graph)
    b = sub.add_parser("bench", help="run the benchmark suite against PyTorch and NumPy")
    b.add_argument("--quick", action="store_true", help="fewer repeats")
    b.add_argument("--json", metavar="FILE",
                   help="also write the results to this file (its folder must exist)")
    b.set_defaults(run=bench)
    gc = sub.add_parser("gradcheck", help="check every named op's gradient numerically")
    gc.add_argument("--backend", default=None,
                    help=f"backend (default: ${backends.ENV_VAR}, else numpy)")
    gc.add_argument("--seed", type=checks.count, default=0, help="an integer >= 0 (default 0)")
    gc.set_defaults(run=gradcheck_ops)
    t = sub.add_parser("train", help="train one MLP (or --model cnn) on Fashion-MNIST "
                                     "(or MNIST)")
    _add_training_flags(t)
    t.add_argument("--save", metavar="FILE.npz",
                   help="write the trained weights to this file (its folder must exist)")
    t.set_defaults(run=train)
    c = sub.add_parser("compare", help="the founding experiment: with vs without dropout, "
                                       "train and test curves")
    _add_training_flags(c)
    c.add_argument("--also", type=_regularisers, default=[],
                   help=f"more runs: comma-separated from {', '.join(REGULARISERS)}")
    c.add_argument("--out-dir", default="results",
                   help="where compare.png and compare.json go, made if missing "
                        "(default results)")
    c.set_defaults(run=compare)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``tinygrad-drop``; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help, --version, or a bad flag (already printed)
        return done.code if isinstance(done.code, int) else 2
    problem = _resolve(args)
    if problem is not None:  # as a bad flag's type: one line, exit status 2
        print(f"tinygrad-drop {args.command}: {problem}", file=sys.stderr)
        return 2
    try:
        return args.run(args)
    except OSError as exc:  # a file that failed late (a full disk, a folder removed)
        where = f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else exc
        print(f"tinygrad-drop {args.command}: {where}", file=sys.stderr)
        return 1
    except (ValueError, backends.BackendUnavailableError,
            GraphvizMissing) as exc:  # the user's to fix: a message, not a traceback
        print(f"tinygrad-drop {args.command}: {exc}", file=sys.stderr)
        return 1
