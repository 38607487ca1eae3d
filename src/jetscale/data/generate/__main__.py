"""``python -m jetscale.data.generate [ARGS]``: ``jetscale generate`` without the console script
(what ``mpiexec -n K python -m jetscale.data.generate ...`` runs)."""

from __future__ import annotations

import argparse
import sys

from jetscale.data.generate.cli import add_arguments


def main(argv: list[str] | None = None) -> int:
    parser = add_arguments(argparse.ArgumentParser(prog="python -m jetscale.data.generate",
                                                   description=sys.modules["jetscale.data.generate.cli"].__doc__,
                                                   formatter_class=argparse.RawDescriptionHelpFormatter))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, RuntimeError) as err:  # one clear line, no traceback
        print(f"jetscale generate: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
