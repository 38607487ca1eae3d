"""The paper's figures as steps that meet at files: inputs -> numbers file -> drawing, and the report.

Each figure ``<name>`` (:data:`~jetscale.paper.config.PAPER_FIGURES`) is made in two workflow rules:

* ``jetscale paper-numbers --figure <name>`` reads the files :func:`figure_inputs` names (sweep tables,
  spectra, and for figure 2 figure 1's numbers file) and writes ``<paper dir>/numbers/<name>.json``::

      {"figure": name, "title": str, "scale": str, "config": scale file,
       "sweeps": [...], "provenance": {sweep: {"table", "runs", "git_revisions", "warnings"}},
       "inputs": {label: {"path": str, "sha256": str}},    # every file read, as read
       "numbers": {...},   # every fitted value with its CI: what the report and the tests read
       "plot": {...}}      # what the drawing reads (fits with their bootstrap resamples, seed means)

* ``jetscale paper-figure numbers/<name>.json`` draws ``<name>.{png,pdf}`` from that file alone.

``jetscale paper-report`` writes ``report.md`` and ``numbers.json`` from the numbers files
(:mod:`jetscale.paper.report`). A figure has an analysis module in :mod:`jetscale.fit.paper` with
``analyse(...) -> {"numbers", "plot", "sweeps"}``, a drawing module in :mod:`jetscale.plots.paper` with
``draw(plot) -> Figure``, and a section in :mod:`jetscale.paper.sections` (``numbers -> markdown``).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from jetscale.paper.config import PAPER_FIGURES, PaperConfig, paper_dir, spectrum_path, sweep_name, table_path

MODULES = {  # figure -> (analysis in jetscale.fit.paper, drawing in jetscale.plots.paper)
    "fig1_data_scaling": ("data_scaling", "data_scaling"),
    "fig2_spectrum": ("spectrum_prediction", "spectrum"),
    "fig3_compute_optimal": ("compute_optimal", "compute_optimal"),
    "fig4_toy_phase": ("toy_regimes", "toy_phase"),
    "fig5_extrapolation": ("extrapolation", "extrapolation"),
}
TITLES = {
    "fig1_data_scaling": "Data scaling of jet taggers",
    "fig2_spectrum": "Covariance spectrum and the predicted data exponent",
    "fig3_compute_optimal": "Model scaling and compute-optimal frontier",
    "fig4_toy_phase": "Toy model phase diagram: simulation vs deterministic equivalent",
    "fig5_extrapolation": "Extrapolation check",
}
assert tuple(MODULES) == PAPER_FIGURES == tuple(TITLES)
OPTIONAL_INPUTS = {"spectrum:constituents"}
"""Inputs a figure draws without (``jetscale paper`` outside the workflow); the workflow always makes them."""


def figure_module(name: str, part: str = "analysis"):
    """The analysis (``jetscale.fit.paper.*``) or drawing (``jetscale.plots.paper.*``) module of figure ``name``."""
    if name not in MODULES:
        raise ValueError(f"unknown paper figure {name!r}; known: {list(MODULES)}")
    analysis, drawing = MODULES[name]
    return importlib.import_module(f"jetscale.fit.paper.{analysis}" if part == "analysis" else
                                   f"jetscale.plots.paper.{drawing}")


def numbers_path(results_dir: str | Path, scale: str, name: str) -> Path:
    """``<results>/paper/<scale>/numbers/<name>.json``."""
    return paper_dir(results_dir, scale) / "numbers" / f"{name}.json"


def figure_inputs(cfg: PaperConfig, results_dir: str | Path, name: str) -> dict[str, Path]:
    """The files figure ``name`` reads, by label (``table:<sweep>``, ``spectrum:<features>``, ``numbers:<figure>``);
    the workflow's ``paper_numbers`` rule takes its inputs from here."""
    def tables(sweeps) -> dict[str, Path]:
        return {f"table:{sweep_name(s)}": table_path(results_dir, s) for s in dict.fromkeys(sweeps)}

    classifiers = list(cfg.classifiers.values())
    if name == "fig1_data_scaling":
        return tables(classifiers)
    if name == "fig2_spectrum":
        bk = cfg.bk_spectrum
        return {"spectrum:efp": spectrum_path(results_dir, cfg.jets.dataset, "efp", cfg.efp_dmax, cfg.efp_beta),
                "spectrum:constituents": spectrum_path(results_dir, cfg.jets.dataset, "constituents"),
                **({} if bk is None else {"spectrum:bk": spectrum_path(results_dir, cfg.jets.dataset, "efp",
                                                                         bk["dmax"], bk["beta"], bk)}),
                "numbers:fig1_data_scaling": numbers_path(results_dir, cfg.scale, "fig1_data_scaling")}
    if name == "fig3_compute_optimal":
        return tables([cfg.width_sweep, cfg.isoflop_sweep])
    if name == "fig4_toy_phase":
        return tables([cfg.toy_sweep])
    if name == "fig5_extrapolation":
        return tables([*classifiers, cfg.width_sweep, cfg.isoflop_sweep])
    figure_module(name)  # raises for an unknown name
    raise AssertionError(name)


def _make_hint(cfg: PaperConfig) -> str:
    return f"`make paper SCALE={cfg.scale}` (or `snakemake paper --config paper_scale={cfg.scale}`)"


def read_inputs(cfg: PaperConfig, paths: dict[str, Path]) -> dict:
    """Every input by label: tables as DataFrames, JSON files as dicts. A missing file is an error naming the
    figure's input, the path and the command that makes it (None for a missing optional input)."""
    from jetscale.fit import load_table

    loaded = {}
    for label, path in paths.items():
        if label in OPTIONAL_INPUTS and not Path(path).is_file():
            loaded[label] = None
            continue
        if not Path(path).is_file():
            kind, name = label.split(":", 1)
            what = {"table": f"sweep {name!r} has no results table", "spectrum": f"no {name} covariance spectrum",
                    "numbers": f"no numbers file of {name}"}[kind]
            raise FileNotFoundError(f"paper scale {cfg.scale!r}: {what} {path}; make it with {_make_hint(cfg)}")
        loaded[label] = load_table(path) if label.startswith("table:") else json.loads(Path(path).read_text())
    return loaded


def sweep_tables(loaded: dict) -> dict:
    """``{sweep: table}`` of the loaded inputs."""
    return {label.split(":", 1)[1]: value for label, value in loaded.items() if label.startswith("table:")}


def measured_exponents(fig1_numbers: dict, reference: str = "efp_linear") -> dict:
    """Figure 1's fitted alphas in figure 2's form: the reference classifier's and the others'."""
    fits = fig1_numbers["classifiers"]
    reference = reference if reference in fits else next(iter(fits))

    def entry(model: str) -> dict:
        return {"model": model, "beta": fits[model]["alpha"], "ci95": fits[model]["ci95"]["alpha"]}

    return {**entry(reference), "others": [entry(m) for m in fits if m != reference]}


TOY_SETTINGS = {"alpha": ("data", "source", "alpha"), "r": ("data", "source", "r"),
                "latent_dim": ("data", "source", "latent_dim"), "noise": ("data", "source", "noise"), "ridge": ("ridge",)}
"""Where each toy setting of figure 4's theory sits in a run's resolved config (metrics.json "config")."""


def toy_settings(table, results_dir: str | Path, sweep: str) -> dict:
    """alpha, r, latent_dim, noise and ridge of the toy sweep, read from the resolved config every run saved in its
    ``metrics.json`` (``<results>/<sweep>/runs/<run_id>/``): the settings the runs were trained with, not today's
    config files. Runs that disagree on a setting are an error naming both."""
    settings, first = {}, None
    for run_id in table["run_id"]:
        path = Path(results_dir) / sweep / "runs" / str(run_id) / "metrics.json"
        try:
            config = json.loads(path.read_text())["config"]
        except (OSError, ValueError, KeyError) as err:
            raise ValueError(f"{path}: no resolved config of toy run {run_id!r} ({err}); rerun the sweep") from err
        values = {}
        for key, where in TOY_SETTINGS.items():
            node = config
            for part in where:
                node = node.get(part) if isinstance(node, dict) else None
            values[key] = 0.0 if node is None and key == "noise" else node
        missing = [k for k, v in values.items() if v is None]
        if missing:
            raise ValueError(f"{path}: the resolved config has no {missing} (is {sweep!r} a toy sweep?)")
        if first is None:
            settings, first = values, path
        elif values != settings:
            differ = {k: (settings[k], values[k]) for k in values if values[k] != settings[k]}
            raise ValueError(f"toy sweep {sweep!r}: runs were trained with different settings {differ} "
                             f"({first} vs {path}); figure 4 compares one setting with its theory")
    return {"alpha": float(settings["alpha"]), "r": float(settings["r"]), "latent_dim": int(settings["latent_dim"]),
            "noise": float(settings["noise"]), "ridge": float(settings["ridge"])}


def check_bk_options(cfg: PaperConfig, payload: dict | None) -> None:
    """Refuse a B&K-convention spectrum file whose ``options`` are not the scale file's ``bk_spectrum``."""
    if payload is None:
        return
    wanted = {k: v for k, v in cfg.bk_spectrum.items() if k != "beta"}
    found = {k: (payload.get("options") or {}).get(k) for k in wanted}
    if found != wanted:
        raise ValueError(f"{payload.get('source')}: figure 2's spectrum in B&K's convention was made with {found}, "
                         f"{cfg.source} asks for bk_spectrum {wanted}; remake it with {_make_hint(cfg)}")


def analyse(cfg: PaperConfig, name: str, loaded: dict, results_dir: str | Path) -> dict:
    """``{"numbers", "plot", "sweeps"}`` of figure ``name`` from its loaded inputs."""
    module = figure_module(name)
    tables = sweep_tables(loaded)
    fit = {"n_boot": cfg.bootstrap, "seed": cfg.seed}
    sweeps = {"width_sweep": sweep_name(cfg.width_sweep), "isoflop_sweep": sweep_name(cfg.isoflop_sweep)}
    classifiers = {model: sweep_name(s) for model, s in cfg.classifiers.items()}
    if name == "fig1_data_scaling":
        return module.analyse(classifiers, tables, **fit)
    if name == "fig2_spectrum":
        fig1 = loaded["numbers:fig1_data_scaling"]["numbers"]
        measured = measured_exponents(fig1)
        t_values = fig1["classifiers"][measured["model"]]["T"]
        check_bk_options(cfg, loaded.get("spectrum:bk"))
        return module.analyse(loaded["spectrum:efp"], loaded["spectrum:constituents"], measured,
                              (min(t_values), max(t_values)), bk_spectrum=loaded.get("spectrum:bk"), **fit)
    if name == "fig3_compute_optimal":
        return module.analyse(tables[sweeps["width_sweep"]], tables[sweeps["isoflop_sweep"]], **sweeps, **fit)
    if name == "fig4_toy_phase":
        toy = sweep_name(cfg.toy_sweep)
        return module.analyse(tables[toy], toy_settings(tables[toy], results_dir, toy), sweep=toy, **fit)
    return module.analyse(classifiers, tables, holdout=cfg.holdout, **sweeps, **fit)


def numbers_file(cfg: PaperConfig, results_dir: str | Path, name: str) -> dict:
    """The numbers file of figure ``name`` (module docstring), JSON-safe."""
    from jetscale.data.shards import sha256_file
    from jetscale.paper.report import json_safe, sweep_provenance

    paths = figure_inputs(cfg, results_dir, name)
    loaded = read_inputs(cfg, paths)
    result = analyse(cfg, name, loaded, results_dir)
    tables = sweep_tables(loaded)
    return json_safe({
        "figure": name, "title": TITLES[name], "scale": cfg.scale, "config": cfg.source,
        "sweeps": result["sweeps"], "provenance": sweep_provenance({s: tables[s] for s in result["sweeps"] if s in tables}),
        "inputs": {label: None if loaded[label] is None else {"path": str(path), "sha256": sha256_file(path)}
                   for label, path in paths.items()},
        "numbers": result["numbers"], "plot": result["plot"],
    })


def read_numbers_file(path: str | Path) -> dict:
    """A numbers file; an error names the path when it is not one."""
    try:
        payload = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: not a readable paper numbers file ({err})") from err
    missing = [key for key in ("figure", "title", "numbers", "plot") if key not in payload]
    if missing:
        raise ValueError(f"{path}: not a paper numbers file (no {missing}); make it with `jetscale paper-numbers`")
    return payload


def draw_figure(payload: dict, out_dir: str | Path) -> list[Path]:
    """``<figure>.{png,pdf}`` in ``out_dir`` from a numbers file's payload."""
    from jetscale.plots.style import figure_style, save_figure

    module = figure_module(payload["figure"], "drawing")
    with figure_style():  # the style must also be active when saving (bbox, dpi)
        return save_figure(module.draw(payload["plot"]), out_dir, payload["figure"])
