"""Paper scales (``configs/paper/<scale>.yaml``): which sweeps and which jet dataset make the paper figures.

A scale file (its schema: ``workflow/schemas/paper.schema.yaml``) names everything the ``paper`` target runs
and reads::

    scale: small                        # must equal the file name; outputs go to results/paper/<scale>/
    description: ...
    jets:                               # the jet dataset every jet sweep of this scale trains on
      config: jets_pythia               #   generator settings (configs/generator/<config>.yaml)
      dataset: toptag-pythia-small      #   dataset name: data/jets/<dataset>/
      n_shards: 8
      jets_per_shard: 2500
    efp: {dmax: 5, beta: 1}             # EFP features of the spectrum (and of the EFP sweeps)
    bk_spectrum:                        # optional: a second EFP spectrum in Batson & Kahn's Fig. 4 convention
      {dmax: 6, beta: 1, centring: second-moment, classes: per-class, scale: raw}   # (docs/spectrum.md#conventions)
    sweeps:                             # sweeps with `scales:`; this file's scale picks scales.<scale>:
      classifiers:                      # figure 1, in legend order: model name -> data-scaling sweep
        efp_linear: paper-efp-linear    #   paper-efp-linear@small -> results/paper-efp-linear-small/
        ...
      width: paper-pfn-width            # figure 3, loss vs width at fixed data
      isoflop: paper-isoflop            # figure 3, IsoFLOP curves
      toy: paper-toy                    # figure 4, toy-model phase diagram
    fit: {bootstrap: 200, seed: 0}      # bootstrap resamples of every fit in the paper
    extrapolation: {holdout: 1}         # figure 5: the largest `holdout` sizes of each sweep are held out

The path conventions (:func:`table_path`, :func:`spectrum_path`, :func:`paper_dir`) are the
contract between the workflow's ``paper`` rule and ``jetscale paper``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jetscale.paths import CONFIG_DIR
from jetscale.sweep import SCALE_MARK, scaled_name, split_ref
from jetscale.yamlfile import YAMLFileError, read_validated

SPECTRUM_FEATURES = ("efp", "constituents")
PAPER_FIGURES = ("fig1_data_scaling", "fig2_spectrum", "fig3_compute_optimal", "fig4_toy_phase", "fig5_extrapolation")
"""File stems of the paper figures (each written as .png and .pdf) in :func:`paper_dir`."""


class PaperConfigError(ValueError):
    """A paper scale file that cannot be used."""


@dataclass(frozen=True)
class JetsSettings:
    config: str
    dataset: str
    n_shards: int
    jets_per_shard: int


@dataclass(frozen=True)
class PaperConfig:
    scale: str
    description: str
    jets: JetsSettings
    efp_dmax: int
    efp_beta: float
    bk_spectrum: dict | None  # {dmax, beta, centring, classes, scale}: figure 2's B&K-convention spectrum, or None
    classifiers: dict[str, str]  # model name -> sweep at this scale (<name or path>@<scale>; figure-1 order)
    width_sweep: str
    isoflop_sweep: str
    toy_sweep: str
    bootstrap: int
    seed: int
    holdout: int
    source: str

    def sweeps(self) -> list[str]:
        """Every sweep the paper needs, without repeats, in a stable order."""
        names = [*self.classifiers.values(), self.width_sweep, self.isoflop_sweep, self.toy_sweep]
        return list(dict.fromkeys(names))

    def jet_sweeps(self) -> list[str]:
        """The sweeps that train on this scale's jet dataset."""
        return [name for name in self.sweeps() if name != self.toy_sweep]


def paper_config_path(name: str | Path, configs_dir: str | Path = CONFIG_DIR) -> Path:
    """``small`` -> ``configs/paper/small.yaml``; a path ending in .yaml is used as given."""
    name = str(name)
    if name.endswith((".yaml", ".yml")):
        return Path(name)
    return Path(configs_dir) / "paper" / f"{name}.yaml"


def load_paper_config(name: str | Path, configs_dir: str | Path = CONFIG_DIR) -> PaperConfig:
    """Read a paper scale file and check it against ``workflow/schemas/paper.schema.yaml``; every error names
    the file and the key."""
    path = paper_config_path(name, configs_dir)
    source = str(path)
    if not path.is_file():
        known = sorted(p.stem for p in (Path(configs_dir) / "paper").glob("*.yaml"))
        raise PaperConfigError(f"no paper scale {name!r}: {source} does not exist; known scales: {known}")
    try:
        raw = read_validated(path, "paper")
    except YAMLFileError as bad:
        raise PaperConfigError(str(bad)) from None
    scale, jets, sweeps = raw["scale"], raw["jets"], raw["sweeps"]
    if scale != path.stem:
        raise PaperConfigError(f"{source}: scale {scale!r} must equal the file name {path.stem!r}")

    def at_scale(entry: str) -> str:
        return f"{entry}{SCALE_MARK}{scale}"

    fit, extrapolation = raw.get("fit") or {}, raw.get("extrapolation") or {}
    return PaperConfig(
        scale=scale,
        description=raw.get("description", ""),
        jets=JetsSettings(**jets),
        efp_dmax=raw["efp"]["dmax"],
        efp_beta=float(raw["efp"]["beta"]),
        bk_spectrum=None if raw.get("bk_spectrum") is None else {**raw["bk_spectrum"],
                                                                 "beta": float(raw["bk_spectrum"]["beta"])},
        classifiers={model: at_scale(entry) for model, entry in sweeps["classifiers"].items()},
        width_sweep=at_scale(sweeps["width"]),
        isoflop_sweep=at_scale(sweeps["isoflop"]),
        toy_sweep=at_scale(sweeps["toy"]),
        bootstrap=fit.get("bootstrap", 200),
        seed=fit.get("seed", 0),
        holdout=extrapolation.get("holdout", 1),
        source=source,
    )


# ------------------------------------------------------------------ path conventions

def sweep_name(ref: str) -> str:
    """The effective name of a sweep reference (its results directory): ``paper-pfn@small`` and
    ``.../paper-pfn.yaml@small`` -> ``paper-pfn-small``; ``toy-demo`` -> ``toy-demo`` (a paper sweep's
    ``name:`` must equal its file name; the workflow checks it)."""
    name, scale = split_ref(ref)
    return scaled_name(Path(name).stem if name.endswith((".yaml", ".yml")) else name, scale)


def table_path(results_dir: str | Path, sweep: str) -> Path:
    """The results table of a sweep (written by the workflow's aggregate rule); ``sweep`` as in
    :func:`sweep_name`."""
    return Path(results_dir) / sweep_name(sweep) / "table.csv"


def efp_tag(dmax: int, beta: float) -> str:
    """Name of an EFP feature set, as in cache files and spectrum directories: ``efp-d5-b1``."""
    return f"efp-d{dmax}-b{beta:g}"


def convention_tag(centring: str, classes: str, scale: str) -> str:
    """Name of a spectrum convention other than the default, in spectrum directories: ``second-moment-per-class-raw``."""
    return f"{centring}-{classes}-{scale}"


def spectrum_path(results_dir: str | Path, dataset: str, features: str, dmax: int = 5, beta: float = 1.0,
                  convention: dict | None = None) -> Path:
    """``spectrum.json`` of a dataset's EFPs (``<results>/<dataset>/spectrum/efp-d5-b1/``) or
    constituents (``<results>/<dataset>/spectrum/constituents/``); EFPs in another ``convention`` (``centring``,
    ``classes``, ``scale``) get their own: ``.../efp-d6-b1-second-moment-per-class-raw/``."""
    if features not in SPECTRUM_FEATURES:
        raise ValueError(f"unknown spectrum features {features!r}; known: {SPECTRUM_FEATURES}")
    tag = efp_tag(dmax, beta) if features == "efp" else "constituents"
    if convention is not None:
        if features != "efp":
            raise ValueError("spectrum conventions have their own directories for EFP spectra only")
        tag += "-" + convention_tag(convention["centring"], convention["classes"], convention["scale"])
    return Path(results_dir) / dataset / "spectrum" / tag / "spectrum.json"


def paper_dir(results_dir: str | Path, scale: str) -> Path:
    """Where the figures and report of a scale go: ``<results>/paper/<scale>/``."""
    return Path(results_dir) / "paper" / scale
