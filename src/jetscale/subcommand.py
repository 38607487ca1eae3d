"""Run one ``jetscale`` subcommand on its own, as ``python -m <module>`` entry points and tests do.

The module registers its subcommand (``register(subparsers)``) exactly as for the ``jetscale``
console script; input errors print one line naming the command and return 2, as there.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable


def run_alone(name: str, register: Callable, argv: list[str] | None = None,
              errors: tuple[type[BaseException], ...] = (ValueError, FileNotFoundError)) -> int:
    """``jetscale <name> ARGV`` with only that subcommand built (``argv`` None: ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(prog="jetscale")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([name, *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.func(args)
    except errors as err:
        print(f"jetscale {name}: error: {err}", file=sys.stderr)
        return 2
