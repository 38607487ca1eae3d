"""``jetscale shower-generate``: Pythia 8 showers -> one HDF5 file of per-branching snapshots or hadron-level events.

    jetscale shower-generate --config configs/generator/shower/z_qq.yaml --events N --seed S --out FILE [--k-max K]

The config's ``level`` picks the file: ``parton`` (:mod:`jetscale.data.shower.snapshots`) or ``hadron``
(:mod:`jetscale.data.shower.hadron_file`); the same config, event count and seed give identical arrays.
"""

from __future__ import annotations

import argparse
import logging
import sys

from jetscale.paths import generator_path
from jetscale.subcommand import run_alone

DEFAULT_CONFIG = str(generator_path("z_qq", "shower"))


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--config", default=DEFAULT_CONFIG,
                        help="process config: a YAML file or a name in configs/generator/shower/ (default: %(default)s)")
    parser.add_argument("--events", type=int, required=True, help="events to generate")
    parser.add_argument("--seed", type=int, default=0, help="run seed >= 0 (default: %(default)s)")
    parser.add_argument("--out", required=True, help="output HDF5 file (written atomically)")
    parser.add_argument("--k-max", type=int, help="deepest snapshot stored (default: the config's k_max)")
    parser.add_argument("--log-interval", type=float, default=10.0, help="seconds between progress lines")
    parser.set_defaults(func=cmd_shower_generate)
    return parser


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``shower-generate`` subcommand to ``jetscale``'s subparsers."""
    return add_arguments(subparsers.add_parser(
        "shower-generate",
        help="Pythia 8 showers -> HDF5 parton snapshots after each branching, or hadron-level events",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter))


def cmd_shower_generate(args: argparse.Namespace) -> int:
    from jetscale.data.shower.generate import (
        generate_hadron_events,
        generate_snapshots,
        load_shower_config,
        process_config_path,
    )
    from jetscale.data.shower.hadron_file import write_hadrons
    from jetscale.data.shower.snapshots import write_snapshots

    if not logging.getLogger().handlers:
        logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                            format="%(asctime)s shower-generate %(message)s", datefmt="%H:%M:%S")
    config = load_shower_config(process_config_path(args.config), k_max=args.k_max)
    if config.level == "hadron":
        hadrons = generate_hadron_events(config, args.events, args.seed)
        path = write_hadrons(args.out, hadrons)
        print(f"wrote {path}: {hadrons.n_events} {config.name} hadron-level events, "
              f"{hadrons.multiplicity().mean():.1f} visible particles per event")
        return 0
    snapshots = generate_snapshots(config, args.events, args.seed, log_interval_s=args.log_interval)
    path = write_snapshots(args.out, snapshots)
    counts = snapshots.counts()
    print(f"wrote {path}: {snapshots.n_events} {config.name} events ({snapshots.n_dropped} dropped), "
          f"{counts[1]} at k = 1, {counts[config.k_max]} at k = {config.k_max}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``shower-generate`` alone (``argv`` without the subcommand name); errors print one line, return 2."""
    return run_alone("shower-generate", register, argv, errors=(ValueError, FileNotFoundError, RuntimeError))


if __name__ == "__main__":
    sys.exit(main())
