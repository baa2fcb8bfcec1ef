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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="tinygrad-drop", description="tinygrad_drop: autograd with dropout done right")
    parser.add_argument("--version", action="version", version=f"tinygrad_drop {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="version, backends available here and why the others are not"
                   ).set_defaults(run=info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``tinygrad-drop``; returns the exit status."""
    args = build_parser().parse_args(argv)
    return args.run(args)
