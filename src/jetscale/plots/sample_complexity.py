"""The random hierarchy model's collapse of sample complexities: ``jetscale sample-complexity`` (tables -> numbers file)
and ``jetscale sample-complexity-figure`` (numbers file -> ``collapse.{png,pdf}``).

Each table is one grammar's sweep (e.g. ``rhm-synonyms@m3``); its grammar is read from the ``rhm_rules.json`` its
runs saved, so the numbers never rest on a grammar the runs did not train on. The analysis is
:func:`jetscale.fit.sample_complexity.synonym_collapse`; docs/tasks.md#sample-complexity.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from jetscale.data.rhm import load_rules

GRAMMAR_KEYS = ("v", "m", "s", "L", "n_c")


def learning_curve(table_path: str | Path) -> dict:
    """One sweep's ``table.csv`` -> {grammar keys, n_samples, test_error, seed}; the grammar is the one every run
    saved beside its metrics (``runs/<run_id>/rhm_rules.json``), refused if missing or not the same for all."""
    from jetscale.data.rhm_dataset import RULES_FILE  # Lightning: not at CLI start
    from jetscale.fit.table import load_table, require_columns  # pandas: not at CLI start

    table_path = Path(table_path)
    table = load_table(table_path)
    require_columns(table, ["run_id", "n_samples", "seed", "test_error"], "an RHM sweep's learning curve")
    grammars = {}
    for run in table["run_id"]:
        rules = table_path.parent / "runs" / run / RULES_FILE
        if not rules.exists():
            raise ValueError(f"{table_path}: run {run} has no {RULES_FILE} ({rules}); is it an RHM sweep?")
        grammar = load_rules(rules)
        grammars[run] = tuple(getattr(grammar, key) for key in GRAMMAR_KEYS)
    if len(set(grammars.values())) != 1:
        raise ValueError(f"{table_path}: its runs trained on different grammars {sorted(set(grammars.values()))} "
                         f"({', '.join(GRAMMAR_KEYS)}); one table must hold one grammar")
    grammar = dict(zip(GRAMMAR_KEYS, next(iter(grammars.values()))))
    return {**grammar, "table": str(table_path), "n_samples": table["n_samples"].tolist(),
            "test_error": table["test_error"].tolist(), "seed": table["seed"].tolist()}


def plot_collapse(numbers: dict):
    """(a) test error vs P/(n_c·m^L) per grammar, (b) P* vs n_c·m^L with the fitted power and the law."""
    from jetscale.plots.style import colors, log_axes, panel_figure, panel_tag  # matplotlib: not at CLI start

    grammars, exponent, collapse = numbers["grammars"], numbers["exponent"], numbers["collapse"]
    palette = colors(len(grammars))
    fig, axes = panel_figure(2)
    left, right = axes[0], axes[1]
    for grammar, color in zip(grammars, palette):
        name = f"m = {grammar['m']} ($n_c m^L$ = {grammar['law']})"
        left.plot(grammar["x"], grammar["mean_error"], "o-", color=color, ms=3, label=name)
        left.fill_between(grammar["x"], grammar["min_error"], grammar["max_error"], color=color, alpha=0.2, lw=0)
        low, high = grammar["p_star_ci"]
        err = None if not np.isfinite(low) else [[grammar["p_star"] - low], [high - grammar["p_star"]]]
        right.errorbar([grammar["law"]], [grammar["p_star"]], yerr=err, fmt="o", color=color, label=name)
    thresholds = sorted({grammar["threshold"] for grammar in grammars})
    for threshold in thresholds:
        left.axhline(threshold, color="0.3", ls="--", lw=1)
    log_axes(left, x=True, y=False)
    left.set_xlabel("$P / (n_c m^L)$")
    left.set_ylabel("test error")
    left.legend(loc="upper right")
    panel_tag(left, "a", f"threshold ({numbers['threshold_rule']}): dashed")
    laws = np.array([grammar["law"] for grammar in grammars], dtype=float)
    grid = np.geomspace(laws.min() / 1.3, laws.max() * 1.3, 50)
    right.plot(grid, exponent["amplitude"] * grid ** exponent["b"], color="0.2",
               label=f"fit $\\propto (n_c m^L)^{{{exponent['b']:.2f} \\pm {exponent['half']:.2f}}}$")
    right.plot(grid, collapse["c"] * grid, color="0.5", ls=":", label=f"$P^* = {collapse['c']:.2f}\\, n_c m^L$")
    log_axes(right)
    right.set_xlabel("$n_c m^L$")
    right.set_ylabel("sample complexity $P^*$")
    right.legend(loc="upper left")
    panel_tag(right, "b", f"spread of $P^*/(n_c m^L)$: ×{collapse['spread']:.2f}")
    return fig


def collapse_figure(numbers_path: str | Path, out_dir: str | Path, name: str = "collapse") -> list[Path]:
    """Write ``<name>.png`` and ``<name>.pdf`` of the numbers file ``numbers_path`` in ``out_dir``."""
    from jetscale.plots.style import figure_style, save_figure

    numbers = json.loads(Path(numbers_path).read_text())
    with figure_style():  # the style must also be active when saving (bbox, dpi)
        return save_figure(plot_collapse(numbers), out_dir, name)


def cmd_collapse(args) -> int:
    from jetscale.fit.sample_complexity import synonym_collapse  # scipy: not at CLI start
    from jetscale.results import write_json_atomic

    numbers = synonym_collapse([learning_curve(path) for path in args.tables], chance_fraction=args.chance_fraction)
    write_json_atomic(args.out, {**numbers, "tables": [str(path) for path in args.tables]})
    exponent = numbers["exponent"]
    print(f"wrote {args.out}: P* = {numbers['collapse']['c']:.3g}·n_c·m^L (spread ×{numbers['collapse']['spread']:.2f}), "
          f"P* ∝ (n_c·m^L)^{exponent['b']:.3f} ± {exponent['half']:.3f}")
    return 0


def cmd_collapse_figure(args) -> int:
    for path in collapse_figure(args.numbers, args.out_dir):
        print(f"wrote {path}")
    return 0


def register(subparsers) -> None:
    """Add ``jetscale sample-complexity TABLE... --out FILE`` and ``jetscale sample-complexity-figure FILE --out-dir DIR``."""
    p = subparsers.add_parser("sample-complexity", help="RHM sample complexities of several grammars' sweeps and their "
                                                   "collapse in P / (n_c·m^L) -> numbers JSON")
    p.add_argument("tables", nargs="+", help="table.csv of each grammar's sweep (e.g. results/rhm-synonyms-m3/)")
    p.add_argument("--out", required=True, help="numbers file (JSON)")
    p.add_argument("--chance-fraction", type=float, default=None,
                   help="threshold = this fraction of the chance error 1 - 1/n_c (jetscale's earlier 0.5) instead "
                        "of the paper's test error 0.1")
    p.set_defaults(func=cmd_collapse)
    p = subparsers.add_parser("sample-complexity-figure", help="collapse.{png,pdf} of an `sample-complexity` numbers file")
    p.add_argument("numbers", help="numbers file of `jetscale sample-complexity`")
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_collapse_figure)
