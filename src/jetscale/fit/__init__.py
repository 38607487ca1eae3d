"""Scaling-law fitting for jetscale results tables.

Laws (:mod:`.laws`; N = ``n_params``, D = ``n_samples``, L = loss, default ``test_loss``)::

    data:   L = E + B * D**(-beta)
    params: L = E + A * N**(-alpha)
    joint:  L = E + A * N**(-alpha) + B * D**(-beta)

Method (:mod:`.huber`): Huber loss (delta = 1e-3) on log L with a log-sum-exp
parametrisation, L-BFGS-B from a grid of starts -- Besiroglu et al. 2024,
"Chinchilla Scaling: A replication attempt" (arXiv:2404.10102), following Hoffmann
et al. 2022. Row-bootstrap resamples (:mod:`.bootstrap`) are kept with the fit (:class:`LawFit`, whose JSON
form is a ``fits/<law>.json``); every 95 % interval and band is a percentile over them (:mod:`.intervals`).

Typical use::

    from jetscale.fit import load_table, fit_law, fit_rows
    result = fit_law(load_table("results/table.csv"), "joint", n_boot=1000, seed=0)   # JSON-able
    fit = fit_rows(rows, "data")          # LawFit: .band(...), .derived(fn), .to_json()
"""

from jetscale.fit.api import fit_groups, fit_law
from jetscale.fit.bootstrap import bootstrap_thetas
from jetscale.fit.intervals import LEVEL, percentile_band, percentile_ci
from jetscale.fit.lawfit import LawFit, fit_rows
from jetscale.fit.huber import (
    DELTA,
    GRID,
    REPLICATION_GRID,
    HuberFit,
    fit_huber,
    huber_loss,
    log_inputs,
    objective,
    start_grid,
    to_params,
    to_theta,
)
from jetscale.fit.laws import LAWS, N_PARAMS, N_SAMPLES, Law, Term, get_law, predict
from jetscale.fit.table import (
    LOSS_COL,
    FitInputError,
    apply_where,
    distinct,
    load_table,
    seed_stats,
    validate_for_law,
)

__all__ = [
    "DELTA",
    "GRID",
    "LAWS",
    "LEVEL",
    "LOSS_COL",
    "N_PARAMS",
    "N_SAMPLES",
    "REPLICATION_GRID",
    "FitInputError",
    "HuberFit",
    "Law",
    "LawFit",
    "Term",
    "apply_where",
    "bootstrap_thetas",
    "distinct",
    "fit_groups",
    "fit_huber",
    "fit_law",
    "fit_rows",
    "get_law",
    "huber_loss",
    "load_table",
    "log_inputs",
    "objective",
    "percentile_band",
    "percentile_ci",
    "predict",
    "seed_stats",
    "start_grid",
    "to_params",
    "to_theta",
    "validate_for_law",
]
