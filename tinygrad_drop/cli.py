"""The ``tinygrad-drop`` command line."""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Sequence

from . import __version__, backends


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
            print(f"  {name:8s} available   ({_describe(be)})")
    return 0


def _describe(be: backends.Backend) -> str:
    module = be.xp.__name__.split(".")[0]
    version = getattr(sys.modules.get(module), "__version__", "?")
    device = ""
    if be.name == "cupy":
        props = be.xp.cuda.runtime.getDeviceProperties(0)
        device = f", device 0: {props['name'].decode()}"
    return f"{module} {version}{device}"


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``tinygrad-drop``; returns the exit status."""
    args = build_parser().parse_args(argv)
    return args.run(args)
