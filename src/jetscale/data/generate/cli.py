"""``jetscale generate``: Pythia 8 top/QCD jets into HDF5 shards, parallel over MPI ranks.

    jetscale generate [--config configs/generator/jets_pythia.yaml] [--shards 0-3 | --shard I]
                      [--jets-per-shard N] [--out DIR] [--seed S] [--no-manifest] [--skip-existing]
                      [KEY=VALUE ...]              # generator settings, e.g. mpi=true jet_r=1.0
    mpiexec -n K python -m jetscale.data.generate --shards 0-99    # rank r makes shards r, r+K, ...

Without MPI the process makes every selected shard itself (one Snakemake job per
shard: ``--shard i --no-manifest``, then one manifest at the end).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from jetscale.data.generate.settings import DEFAULT_CONFIG


def parse_shards(text: str) -> list[int]:
    """``"3"`` -> [3]; ``"0-3"`` -> [0, 1, 2, 3] (inclusive); ``"0,4,7-8"`` -> [0, 4, 7, 8]."""
    shards: list[int] = []
    try:
        for part in text.split(","):
            first, _, last = part.partition("-")
            shards.extend(range(int(first), int(last or first) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shards {text!r}: expected I, A-B or a comma list of those") from None
    if not shards or min(shards) < 0 or len(set(shards)) != len(shards):
        raise argparse.ArgumentTypeError(f"--shards {text!r}: need distinct non-negative shard indices")
    return shards


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="generator YAML (default: %(default)s)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--shards", type=parse_shards, help="shard indices: A-B (inclusive) or a comma list; "
                       "default 0..n_shards-1")
    which.add_argument("--shard", type=int, help="one shard index")
    parser.add_argument("--jets-per-shard", type=int, help="override generator.jets_per_shard")
    parser.add_argument("--seed", type=int, help="override generator.base_seed")
    parser.add_argument("--out", help="dataset directory for the shards and manifest "
                        "(default: <generator.output_root>/<dataset>)")
    parser.add_argument("--no-manifest", action="store_true",
                        help="do not write manifest.json (when several independent jobs share a directory)")
    parser.add_argument("--skip-existing", action="store_true",
                        help="keep shards that already exist with the same settings (resume)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="generator settings (Hydra style, 'generator.' optional), e.g. mpi=true")
    parser.set_defaults(func=cmd_generate)
    return parser


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``generate`` subcommand to ``jetscale``'s subparsers."""
    return add_arguments(subparsers.add_parser(
        "generate", help="Pythia 8 top/QCD jets -> HDF5 shards (MPI-parallel)", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter))


def cmd_generate(args: argparse.Namespace) -> int:
    from jetscale.parallel import current_ranks
    from jetscale.data.generate.run import generate
    from jetscale.data.generate.settings import load_config

    overrides = list(args.overrides)
    if args.jets_per_shard is not None:
        overrides.append(f"generator.jets_per_shard={args.jets_per_shard}")
    if args.seed is not None:
        overrides.append(f"generator.base_seed={args.seed}")
    config = load_config(args.config, overrides)
    gen = config.generator
    if args.shard is not None:
        shards = [args.shard]
    else:
        shards = args.shards or list(range(gen.n_shards))
    if min(shards) < 0:
        raise ValueError(f"shard indices must be >= 0, got {shards}")
    out_dir = Path(args.out) if args.out else Path(gen.output_root) / config.dataset
    ranks = current_ranks()
    _setup_logging(ranks.rank, ranks.size)
    written = generate(config, shards, out_dir, ranks, manifest=not args.no_manifest,
                       skip_existing=args.skip_existing)
    print(f"rank {ranks.rank}/{ranks.size}: wrote {len(written)} shards to {out_dir}")
    return 0


def _setup_logging(rank: int, size: int) -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                            format=f"%(asctime)s generate[{rank}/{size}] %(message)s", datefmt="%H:%M:%S")
