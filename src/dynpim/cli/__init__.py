"""The ``dynpim`` command. Each sub-command lives in its own module of this package, which
exposes ``register(subparsers)``; that function adds its parser and sets ``func=run``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from dynpim import __version__

# Sub-command modules, in the order ``dynpim --help`` lists them.
COMMANDS: tuple[str, ...] = (
    "demo", "models", "train", "eval", "search", "table", "pim", "runtime", "report",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dynpim",
        description="Dynamic neural networks with run-time tuning of accuracy, power and latency "
        "on a SOT-MRAM processing-in-memory accelerator.",
    )
    parser.add_argument("--version", action="version", version=f"dynpim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"dynpim.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"dynpim {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
