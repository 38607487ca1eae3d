"""``jetscale paper``: figures 1-5, ``report.md`` and ``numbers.json`` of a paper scale from its sweeps' tables.

    jetscale paper --config small --results-dir results --out-dir results/paper/small

Reads ``<results>/<sweep>/table.csv`` of every sweep of the scale and the jet dataset's covariance
spectra (:mod:`jetscale.paper.config` conventions); run by the workflow's ``paper`` target
(``make paper SCALE=small``), which makes all of them first.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from jetscale.paper.config import PaperConfig, load_paper_config, paper_dir, spectrum_path, table_path

if TYPE_CHECKING:  # the heavy imports wait until the command runs: `jetscale --help` stays fast
    import pandas as pd

    from jetscale.paper.result import FigureResult


def _make_hint(cfg: PaperConfig) -> str:
    return f"`make paper SCALE={cfg.scale}` (or `snakemake paper --config paper_scale={cfg.scale}`)"


def read_tables(cfg: PaperConfig, results_dir: str | Path) -> dict[str, pd.DataFrame]:
    """Every sweep's results table; a missing one is an error naming the sweep, the path and the command."""
    from jetscale.fit import load_table

    tables = {}
    for sweep in cfg.sweeps():
        path = table_path(results_dir, sweep)
        if not path.is_file():
            raise FileNotFoundError(f"sweep {sweep!r} of paper scale {cfg.scale!r} has no results table {path}; "
                                    f"make it with {_make_hint(cfg)}")
        tables[sweep] = load_table(path)
    return tables


def read_spectrum(path: Path, cfg: PaperConfig, required: bool) -> dict | None:
    """A ``spectrum.json`` payload; None when it is missing and not ``required``."""
    if not path.is_file():
        if required:
            raise FileNotFoundError(f"no covariance spectrum {path} of dataset {cfg.jets.dataset!r}; "
                                    f"make it with {_make_hint(cfg)}")
        return None
    return json.loads(path.read_text())


def toy_settings(sweep_name: str) -> dict:
    """alpha, r, latent_dim, noise and ridge of the toy sweep (its largest point's composed config)."""
    from jetscale.paths import CONFIG_DIR
    from jetscale.sweep import compose_point, largest_point, load_sweep, sweep_path

    sweep = load_sweep(sweep_path(sweep_name, CONFIG_DIR))
    cfg = compose_point(sweep, largest_point(sweep))
    source = cfg.data.source
    return {"alpha": float(source.alpha), "r": float(source.r), "latent_dim": int(source.latent_dim),
            "noise": float(source.get("noise", 0.0)), "ridge": float(cfg.ridge)}


def measured_exponents(fig1: FigureResult, reference: str = "efp_linear") -> dict:
    """Figure 1's fitted alphas in figure 2's form: the reference classifier's and the others'."""
    fits = fig1.numbers["classifiers"]
    reference = reference if reference in fits else next(iter(fits))

    def entry(model: str) -> dict:
        return {"model": model, "beta": fits[model]["alpha"], "ci95": fits[model]["ci95"]["alpha"]}

    return {**entry(reference), "others": [entry(m) for m in fits if m != reference]}


def make_paper(cfg: PaperConfig, results_dir: str | Path, out_dir: str | Path) -> tuple[list[FigureResult], dict]:
    """Build the five figures of ``cfg``; returns them and the tables they read."""
    from jetscale.paper.compute_optimal import fig3_compute_optimal
    from jetscale.paper.data_scaling import fig1_data_scaling
    from jetscale.paper.extrapolation import fig5_extrapolation
    from jetscale.paper.spectrum_theory import spectrum_exponent_figure
    from jetscale.paper.toy_phase import toy_phase_figure

    tables = read_tables(cfg, results_dir)
    efp = read_spectrum(spectrum_path(results_dir, cfg.jets.dataset, "efp", cfg.efp_dmax, cfg.efp_beta), cfg, True)
    constituents = read_spectrum(spectrum_path(results_dir, cfg.jets.dataset, "constituents"), cfg, False)
    fit = {"n_boot": cfg.bootstrap, "seed": cfg.seed}
    sweeps = {"width_sweep": cfg.width_sweep, "isoflop_sweep": cfg.isoflop_sweep}

    fig1 = fig1_data_scaling(cfg.classifiers, tables, out_dir, **fit)
    measured = measured_exponents(fig1)
    t_values = fig1.numbers["classifiers"][measured["model"]]["T"]
    fig2 = spectrum_exponent_figure(efp, constituents, measured, (min(t_values), max(t_values)), out_dir, **fit)
    fig3 = fig3_compute_optimal(tables[cfg.width_sweep], tables[cfg.isoflop_sweep], out_dir, **sweeps, **fit)
    fig4 = toy_phase_figure(tables[cfg.toy_sweep], toy_settings(cfg.toy_sweep), out_dir, **fit)
    fig5 = fig5_extrapolation(cfg.classifiers, tables, out_dir, holdout=cfg.holdout, **sweeps, **fit)
    return [fig1, fig2, fig3, fig4, fig5], tables


def cmd_paper(args: argparse.Namespace) -> int:
    from jetscale.paper.report import write_report

    cfg = load_paper_config(args.config)
    out_dir = Path(args.out_dir) if args.out_dir else paper_dir(args.results_dir, cfg.scale)
    figures, tables = make_paper(cfg, args.results_dir, out_dir)
    write_report(figures, tables, out_dir, scale=cfg.scale, config=cfg.source)
    print(out_dir)
    return 0


def register(sub) -> None:
    p = sub.add_parser("paper", help="paper figures 1-5, report.md and numbers.json of a paper scale",
                       description="Figures 1-5 (PNG + PDF), report.md and numbers.json of a paper scale "
                                   "(configs/paper/<scale>.yaml) from its sweeps' results tables and the jet "
                                   "dataset's covariance spectra. Made by `make paper SCALE=<scale>`.")
    p.add_argument("--config", required=True, metavar="SCALE_OR_PATH",
                   help="paper scale name (configs/paper/<name>.yaml) or a path to a .yaml")
    p.add_argument("--results-dir", default="results",
                   help="where the sweeps' tables and the spectra are (default: results)")
    p.add_argument("--out-dir", help="where to write (default: <results-dir>/paper/<scale>)")
    p.set_defaults(func=cmd_paper)
