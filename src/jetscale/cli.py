"""``jetscale``: one console script, thin subcommands over the library.

    jetscale train [HYDRA_OVERRIDES ...]       one sweep point -> <run_dir>/metrics.json
    jetscale train-packed --run-dir D ... [HYDRA_OVERRIDES ...]  many small points in one process
    jetscale train-bundle --run-dir D ... [HYDRA_OVERRIDES ...]  K points in one scheduler job (per GPU, or packed)
    jetscale pbs submit|status|cancel          PBS Pro commands of profiles/polaris, profiles/aurora
    jetscale resume --profile P [-- SNAKEMAKE_ARGS]  unlock a stale lock, rerun only unfinished points
    jetscale sync-wandb [RESULTS_DIR ...]      upload offline W&B runs (login node, after wandb login)
    jetscale theory --alpha ... --ridge ...    deterministic-equivalent test error (JSON)
    jetscale aggregate --sweep S --runs-dir D --out T.csv  a sweep's metrics files -> results table
    jetscale fit --table T.csv --law joint --out fit.json
    jetscale merge-fits FIT.json... --out fits.json
    jetscale figures --table T.csv --fits fits.json --out-dir DIR
    jetscale sweep NAME                        validate a sweep and list its points
    jetscale manifest DIR                      checksum a jet dataset's shards into manifest.json
    jetscale generate [--shard I] ...          Pythia 8 + anti-kT top/QCD jets -> HDF5 shards (MPI-aware)
    jetscale import-data --format ... --input F  Top Quark Tagging / JetNet files -> shards
    jetscale features --shard F                EFPs of one shard, cached next to it
    jetscale spectrum --dataset DIR ...        data-covariance eigen-spectrum and its power law (MPI-aware)
    jetscale shower-generate --config C --events N --out F.h5   parton states after each shower branching k
    jetscale shower-spectrum --snapshots F.h5 --out-dir DIR      EFP spectra per k, raw and RAMBO-whitened
    jetscale spectrum-figure DIR/spectrum.json  spectrum.{png,pdf} of a jet or shower spectrum
    jetscale sample-complexity T.csv... --out F.json  RHM sample complexities of several grammars and their collapse
    jetscale sample-complexity-figure F.json --out-dir DIR  collapse.{png,pdf} of those numbers
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from jetscale.paper.cli import register as register_paper
from jetscale.paper.cost import register as register_paper_cost
from jetscale.plots.sample_complexity import register as register_sample_complexity


def _print_json(payload: dict) -> None:
    json.dump(payload, sys.stdout, indent=2)
    sys.stdout.write("\n")


def cmd_train(args: argparse.Namespace) -> int:
    import jetscale.train
    from jetscale.train import main as hydra_main

    # argv[0] is a runnable file: Lightning's local DDP restarts `python argv[0] argv[1:]` for each extra rank.
    sys.argv = [jetscale.train.__file__, *args.overrides]
    hydra_main()
    return 0


def cmd_train_packed(args: argparse.Namespace) -> int:
    import logging

    from jetscale.packed import train_run_dirs

    logging.basicConfig(level=logging.INFO, format="[%(asctime)s][%(name)s][%(levelname)s] - %(message)s")
    train_run_dirs(args.run_dir, args.overrides)
    return 0


def cmd_theory(args: argparse.Namespace) -> int:
    from jetscale.theory import classify_regime, rf_test_error

    theory = rf_test_error(args.alpha, args.r, args.features, args.samples, args.ridge, args.latent_dim, args.noise)
    payload = {"inputs": {k: getattr(args, k) for k in ("alpha", "r", "features", "samples", "ridge", "latent_dim", "noise")}}
    payload.update(theory.as_dict())
    if args.features < args.samples and args.ridge > 0 and args.features > 1 and args.alpha > 1:
        ridge_exponent = -math.log(args.ridge) / math.log(args.features)  # λ = N^(-l)
        regime = classify_regime(args.alpha, args.r, ridge_exponent, args.noise, args.features, args.samples)
        payload.update(regime=regime.name, ridge_exponent=ridge_exponent,
                       n_exponent=regime.n_exponent, p_exponent=regime.p_exponent)
    else:
        payload.update(regime=None, regime_note="the regime table holds for 1 < N < P, ridge > 0, alpha > 1")
    _print_json(payload)
    return 0


def cmd_aggregate(args: argparse.Namespace) -> int:
    from jetscale.aggregate import build_table, print_progress, sweep_metrics, table_of, write_table
    from jetscale.sweep import load_sweep

    if bool(args.metrics) == bool(args.sweep):
        raise ValueError("give either metrics files or --sweep (with --runs-dir), not both or neither")
    if args.sweep:
        if not args.runs_dir:
            raise ValueError("--sweep needs --runs-dir (results/<sweep>/runs)")
        sweep = load_sweep(args.sweep, check_config=False)
        table = table_of(sweep_metrics(sweep, args.runs_dir, progress=print_progress))
    else:
        table = build_table(args.metrics)
    write_table(table, args.out)
    print(f"wrote {len(table)} runs to {args.out}")
    return 0


def _parse_where(items: list[str]) -> dict:
    where = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--where expects COLUMN=VALUE, got {item!r}")
        try:
            where[key] = json.loads(value)
        except json.JSONDecodeError:
            where[key] = value
    return where


def cmd_fit(args: argparse.Namespace) -> int:
    from jetscale.fit import fit_groups, fit_law, load_table
    from jetscale.results import write_json_atomic

    table = load_table(args.table)
    options = dict(loss_col=args.loss_col, n_boot=args.bootstrap, seed=args.seed, where=_parse_where(args.where))
    if args.group_by:
        result = fit_groups(table, args.law, args.group_by, **options)
    else:
        result = fit_law(table, args.law, **options)
    write_json_atomic(args.out, result)
    print(f"wrote {args.law} fit of {args.table} to {args.out}")
    return 0


def cmd_merge_fits(args: argparse.Namespace) -> int:
    from jetscale.results import write_json_atomic

    merged = {}
    for path in args.fits:
        fit = json.loads(Path(path).read_text())
        merged[fit["law"]] = fit
    write_json_atomic(args.out, merged)
    print(f"merged {sorted(merged)} into {args.out}")
    return 0


def cmd_figures(args: argparse.Namespace) -> int:
    import pandas as pd

    from jetscale.plots.sweep import sweep_figures

    table = pd.read_csv(args.table)
    fits = json.loads(Path(args.fits).read_text()) if args.fits else {}
    for path in sweep_figures(table, fits, args.out_dir, loss_col=args.loss_col):
        print(f"wrote {path}")
    return 0


def cmd_spectrum_figure(args: argparse.Namespace) -> int:
    from jetscale.plots.spectrum import draw_spectrum_file

    for path in draw_spectrum_file(args.spectrum, args.out_dir):
        print(f"wrote {path}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from jetscale.sweep import load_sweep, run_id

    sweep = load_sweep(args.name)
    points = sweep.points()
    print(f"sweep {sweep.name} ({sweep.ref}): {len(points)} points, axes {list(sweep.axes)}")
    for point in points:
        print(run_id(point))
    return 0


def cmd_manifest(args: argparse.Namespace) -> int:
    from jetscale.data.shards import load_manifest, write_manifest

    path = write_manifest(args.directory, dataset=args.dataset)
    manifest = load_manifest(args.directory)
    print(f"wrote {path}: {len(manifest['shards'])} shards, {manifest['total_jets']} jets")
    return 0


def register_jet_commands(sub) -> None:
    """generate, import-data, features, spectrum, shower-generate, shower-spectrum: each module owns its arguments."""
    from jetscale.data.generate.cli import register as register_generate
    from jetscale.data.readers.convert import register as register_import
    from jetscale.data.shower.cli import register as register_shower_generate
    from jetscale.features.efp import register as register_features
    from jetscale.features.shower_spectrum import register as register_shower_spectrum
    from jetscale.features.spectrum import register as register_spectrum

    for register in (register_generate, register_import, register_features, register_spectrum,
                     register_shower_generate, register_shower_spectrum):
        register(sub)


def register_cluster_commands(sub) -> None:
    """train-bundle (and the other commands for running sweeps on clusters): each module owns its arguments."""
    from jetscale.cluster.bundle import register as register_bundle
    from jetscale.cluster.pbs import register as register_pbs
    from jetscale.cluster.resume import register as register_resume
    from jetscale.cluster.status import register as register_status
    from jetscale.wandb_sync import register as register_sync_wandb

    for register in (register_bundle, register_pbs, register_resume, register_status, register_sync_wandb):
        register(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jetscale", description="Neural scaling laws for jet physics.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train one sweep point (Hydra overrides follow; jetscale train --help lists them)",
                       add_help=False)
    p.add_argument("overrides", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "train-packed", help="train many small points of one architecture in one process (a vectorised ensemble)",
        description="Train several sweep points that differ only in seed and n_samples as one vectorised "
                    "ensemble (jetscale.packed), writing <run_dir>/metrics.json per point as `jetscale train` "
                    "would. Each point's own overrides are read from its run dir's name, a sweep run id such as "
                    "'n_samples=64__seed=0'; the overrides after the options apply to every point. It trains on "
                    "the one device trainer.accelerator names (gpu: cuda:0), under trainer.precision (32-true or "
                    "bf16-mixed). Points whose metrics.json exists are skipped. Example: jetscale train-packed "
                    "--run-dir runs/n_samples=64__seed=0 --run-dir runs/n_samples=128__seed=1 task=toy_sgd "
                    "width=16 data.batch_size=32")
    p.add_argument("--run-dir", action="append", required=True, metavar="DIR",
                   help="a point's run dir, named by its run id KEY=VALUE,... (repeat: one per point)")
    p.add_argument("overrides", nargs="*", metavar="HYDRA_OVERRIDES", help="Hydra overrides common to all points")
    p.set_defaults(func=cmd_train_packed)

    p = sub.add_parser("theory", help="deterministic-equivalent test error of the toy model")
    p.add_argument("--alpha", type=float, required=True, help="spectral decay: λ_k = k^-alpha")
    p.add_argument("--r", type=float, required=True, help="source exponent")
    p.add_argument("--features", type=int, required=True, help="width N")
    p.add_argument("--samples", type=int, required=True, help="training samples P")
    p.add_argument("--ridge", type=float, required=True, help="ridge λ")
    p.add_argument("--latent-dim", type=int, required=True, help="latent dimension M")
    p.add_argument("--noise", type=float, default=0.0, help="label-noise variance σ²")
    p.set_defaults(func=cmd_theory)

    p = sub.add_parser(
        "aggregate", help="metrics.json files -> table.csv",
        description="Collect metrics files into one table. With --sweep, every point of the sweep is read from "
                    "RUNS_DIR/<run id>/metrics.json and must have been trained with the overrides the sweep sets now "
                    "(the workflow's form: no per-point arguments); otherwise the files given are read as they are.")
    p.add_argument("metrics", nargs="*", help="metrics files (by hand; the workflow uses --sweep)")
    p.add_argument("--sweep", help="sweep name (configs/sweep/<name>.yaml) or path to its .yaml; <sweep>@<scale> for a scale")
    p.add_argument("--runs-dir", help="the sweep's run dirs, e.g. results/<sweep>/runs")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_aggregate)

    p = sub.add_parser("fit", help="fit a scaling law to a results table")
    p.add_argument("--table", required=True)
    p.add_argument("--law", required=True, choices=["data", "params", "joint"])
    p.add_argument("--loss-col", default="test_loss")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the 95%% CIs (0: none)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--where", action="append", default=[], metavar="COLUMN=VALUE", help="fit only these rows")
    p.add_argument("--group-by", help="one fit per value of this column")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("merge-fits", help="per-law fit files -> one fits.json keyed by law")
    p.add_argument("fits", nargs="*", help="per-law fit files (none: an empty fits.json, a sweep without laws)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_merge_fits)

    p = sub.add_parser("figures", help="sweep figures (PNG + PDF)")
    p.add_argument("--table", required=True)
    p.add_argument("--fits")
    p.add_argument("--loss-col", default="test_loss")
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_figures)

    p = sub.add_parser("spectrum-figure", help="spectrum.{png,pdf} of a jet or shower spectrum.json")
    p.add_argument("spectrum", help="spectrum.json of `jetscale spectrum` or `jetscale shower-spectrum`")
    p.add_argument("--out-dir", help="where to write (default: beside the spectrum.json)")
    p.set_defaults(func=cmd_spectrum_figure)

    p = sub.add_parser("manifest", help="checksum the shards of a jet dataset into manifest.json")
    p.add_argument("directory")
    p.add_argument("--dataset", help="dataset name (default: the directory name)")
    p.set_defaults(func=cmd_manifest)

    register_jet_commands(sub)
    register_cluster_commands(sub)
    register_paper(sub)
    register_paper_cost(sub)
    register_sample_complexity(sub)

    p = sub.add_parser("sweep", help="validate a sweep config and list its points")
    p.add_argument("name", help="sweep name (configs/sweep/<name>.yaml) or a path to a .yaml; <sweep>@<scale> for a scale (paper-pfn@small)")
    p.set_defaults(func=cmd_sweep)
    return parser


def main(argv: list[str] | None = None) -> int:
    from jetscale.log_noise import quiet_harmless
    from jetscale.redaction import guard_output

    guard_output()  # no secret of the environment in anything printed or logged from here on
    quiet_harmless()
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["train"]:  # everything after it is Hydra's, --help included (argparse would claim it)
        return cmd_train(argparse.Namespace(overrides=argv[1:]))
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, RuntimeError) as err:  # input or run errors: one clear line
        print(f"jetscale {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
