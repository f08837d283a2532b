"""The ``dynpim`` command. Each sub-command lives in its own module of this package, which
exposes ``register(subparsers)``; that function adds its parser and sets ``func=run``. A
sub-command module parses its options into a stage's options, calls one stage
(``dynpim.stages``) and prints; it imports no other sub-command module (shared argparse helpers
live here).

One error path: a user error (:class:`~dynpim.errors.DynpimError`, and the ``ValueError`` /
``OSError`` the library raises for bad input) prints one line on stderr and exits with 2; any
other exception prints one line naming it and "run with --debug for the traceback" and exits
with 1; ``--debug`` (anywhere on the command line) lets the traceback through instead.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from dynpim import __version__
from dynpim.errors import DynpimError

# Sub-command modules, in the order ``dynpim --help`` lists them.
COMMANDS: tuple[str, ...] = (
    "demo", "models", "train", "eval", "export", "search", "latency", "table", "pim", "runtime",
    "report",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dynpim",
        description="Dynamic neural networks with run-time tuning of accuracy, power and latency "
        "on a SOT-MRAM processing-in-memory accelerator.",
    )
    parser.add_argument("--version", action="version", version=f"dynpim {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of an error (may also follow the "
                        "sub-command)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"dynpim.cli.{name}").register(sub)
    return parser


def widths_list(text: str) -> tuple[float, ...]:
    """``"0.25,0.5,1"`` -> ``(0.25, 0.5, 1.0)`` (argparse type; shared by train and eval)."""
    try:
        out = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") \
            from None
    if not out or not all(0 < w <= 1 for w in out):
        raise argparse.ArgumentTypeError(f"widths must be numbers in (0, 1], got {text!r}")
    return out


def int_list(what: str) -> Callable[[str], list[int]]:
    """An argparse type for ``"1,2,4"`` -> ``[1, 2, 4]``: at least one int, an error naming
    ``what`` (e.g. "thread count") otherwise."""
    def parse(text: str) -> list[int]:
        try:
            out = [int(v) for v in text.split(",") if v.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated ints, got {text!r}") \
                from None
        if not out:
            raise argparse.ArgumentTypeError(f"expected at least one {what}")
        return out

    return parse


USER_ERRORS: tuple[type[BaseException], ...] = (DynpimError, ValueError, OSError)


def one_line(e: BaseException) -> str:
    """The message of ``e`` on one line (OSErrors as "reason: path")."""
    if isinstance(e, OSError) and not isinstance(e, DynpimError) and e.strerror:
        msg = f"{e.strerror}: {e.filename}" if e.filename else e.strerror
    else:
        msg = str(e) or type(e).__name__
    return " ".join(part.strip() for part in msg.splitlines() if part.strip())


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    name = " ".join(filter(None, (args.command, getattr(args, "runtime_command", None))))
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"dynpim {name}: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as e:
        if debug:
            raise
        print(f"dynpim {name}: error: {one_line(e)}", file=sys.stderr)
        return 2
    except Exception as e:
        if debug:
            raise
        print(f"dynpim {name}: internal error: {type(e).__name__}: {one_line(e)} (run with "
              f"--debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
