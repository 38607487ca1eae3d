"""The report's text: one section per paper figure, written from the figure's numbers (``numbers`` of its
numbers file) and nothing else. ``SECTIONS`` maps a figure to its section."""

from __future__ import annotations

from jetscale.fit.paper.data_scaling import MAPPING_NOTE, PAPER_LAW
from jetscale.fit.paper.extrapolation import POINT_COLUMNS
from jetscale.formatting import fmt, fmt_ci, md_table
from jetscale.plots.paper.extrapolation import case_label
from jetscale.plots.paper.toy_phase import AXES
from jetscale.plots.spectrum import ci_text
from jetscale.plots.style import model_label


def _chain(entries: list[dict], flags: list[bool], text) -> str:
    out = text(entries[0])
    for entry, flag in zip(entries[1:], flags):
        out += (" < " if flag else " ≲ ") + text(entry)
    return out


def ordering_markdown(order: dict) -> str:
    where = (f"at T = {order['at_T']:g} training jets (the largest T common to all classifiers)" if order["common_T"]
             else "at each classifier's own largest T (the sweeps share no T)")
    by_loss = _chain(order["by_loss"], order["resolved"],
                     lambda e: f"{model_label(e['model'])} {fmt(e['mean'], 4)} ± {fmt(e['std'], 2)}")
    by_c = _chain(order["by_C"], order["C_separated"],
                  lambda e: f"{model_label(e['model'])} {fmt_ci(e['C'], e['ci95'])}")
    return (f"**Ordering** (best first; '<' resolved, '≲' not resolved). By test BCE {where}, seed mean ± seed "
            f"std: {by_loss} ('<': the difference exceeds twice its standard error). "
            f"By fitted asymptote C [95 % CI]: {by_c} ('<': disjoint intervals).")


def table_markdown(numbers: dict) -> str:
    rows = []
    for model, n in numbers.items():
        width = "all" if n["width"] is None else f"{n['width']:g}"
        size = ", ".join(f"{p:,}" for p in n["n_params"])  # a model without a width knob (EFP linear) has one size
        t = f"{min(n['T']):g}–{max(n['T']):g}"
        rows.append([model_label(model), f"`{n['sweep']}`", width, size, n["n_runs"], t, fmt_ci(n["A"], n["ci95"]["A"]),
                     fmt_ci(n["alpha"], n["ci95"]["alpha"]), fmt_ci(n["C"], n["ci95"]["C"])])
    return md_table(["classifier", "sweep", "width", "parameters", "runs", "T range", "A [95 % CI]", "α [95 % CI]",
                     "C [nats/jet, 95 % CI]"], rows)


def data_scaling(numbers: dict) -> str:
    """Figure 1's section of the report."""
    several = [m for m, n in numbers["classifiers"].items() if "per_width" in n]
    width_note = (f" Sweeps with several widths ({', '.join(map(model_label, several))}) are fitted per width; "
                  "the largest width is shown and tabulated." if several else "")
    return "\n\n".join([
        f"Test BCE against training jets T, fitted per classifier with {PAPER_LAW} (Huber fit on every run, "
        f"seeds not averaged; {numbers['n_boot']} bootstrap resamples of the runs). {MAPPING_NOTE}{width_note}",
        table_markdown(numbers["classifiers"]),
        ordering_markdown(numbers["ordering"]),
        *(f"> **Warning**: {w}" for w in numbers["warnings"]),
    ])


def _fmt(value, ci=None) -> str:
    if value is None:
        return "n/a"
    return ci_text(value, ci) if ci is not None else f"{value:.3g}"


def bk_lines(bk: dict | None, theory: dict | None) -> list[str]:
    """Figure 2's lines on the spectrum in Batson & Kahn's convention and which spectrum the prediction uses."""
    theory = theory or {}
    used = (f"The prediction uses the theory's convention: {theory.get('centring', 'covariance')} (centred), "
            f"{theory.get('scale', 'standardised')}, {theory.get('classes', 'pooled')}, EFPs d <= {theory.get('dmax')}.")
    if bk is None:
        return [used + " No spectrum in Batson & Kahn's convention is configured (bk_spectrum)."]
    options = bk["options"] or {}
    centring = ("uncentred second moment (1/T) sum x x^T (the d = 0 EFP dropped)"
                if options.get("centring") == "second-moment" else "centred covariance")
    scale = (next(iter(bk["classes"].values()), {}).get("convention") or options).get("scale")  # of the entries shown
    lines = [f"Batson & Kahn's convention (their Fig. 4, JSL ItayCode/efp_spectrum.py): {centring}, "
             f"{scale} EFPs d <= {options.get('dmax')}, {options.get('classes')}:",
             ""]
    for name, part in bk["classes"].items():
        lines.append(f"- {name} ({part['n']} jets, {part['d']} EFPs): alpha = {_fmt(part['alpha'], part['alpha_ci95'])} "
                     f"over ranks {part['k_range']}")
    return [*lines, "", used]


def spectrum(numbers: dict) -> str:
    """The report section of figure 2."""
    efp, pred, meas = numbers["efp"], numbers["prediction"], numbers["measured"]
    std, raw = efp["standardized"], efp["raw"]
    lines = ["## Figure 2: covariance spectrum and the predicted data-scaling exponent", "",
             f"EFP covariance of {efp['n']} jets, d = {efp['d']} (95 % CIs in brackets):", "",
             f"- eigenvalue decay lambda_k ~ k^-alpha over ranks {raw['k_range']}: alpha = "
             f"{_fmt(raw['alpha'], raw['alpha_ci95'])} (raw), {_fmt(std['alpha'], std['alpha_ci95'])} (standardized)"]
    if "r" in std:
        lines.append(f"- label projection t_k = (v_k . Cov(x, y))^2 / lambda_k, tail sums fitted: 2 alpha r = "
                     f"{_fmt(std['two_alpha_r'], std['two_alpha_r_ci95'])}, r = {_fmt(std['r'], std['r_ci95'])} "
                     f"(standardized); r = {_fmt(raw.get('r'), raw.get('r_ci95'))} (raw)")
    if "constituents" in numbers:
        con = numbers["constituents"]
        lines.append(f"- constituents (d = {con['d']}): alpha = {_fmt(con['raw']['alpha'], con['raw']['alpha_ci95'])} "
                     f"(raw), {_fmt(con['standardized']['alpha'], con['standardized']['alpha_ci95'])} (standardized)")
    lines += ["", *bk_lines(numbers.get("bk"), pred.get("spectrum_convention"))]
    asym, finite = pred["asymptotic"], pred["finite_d"]
    lines += ["", "Predicted data-scaling exponent beta (standardized EFPs, the linear tagger's inputs):", "",
              f"- asymptotic 2 alpha min(r, 1) (ridge regression, N -> inf, vanishing ridge; CI from the interval "
              f"endpoints): {_fmt(asym and asym['beta'], asym and asym['ci95'])}",
              f"- finite-d deterministic equivalent with the measured spectrum over T in "
              f"{finite and finite['t_range']} (CI: residual bootstrap of t_k): "
              f"{_fmt(finite and finite['beta'], finite and finite['ci95'])}",
              f"- measured ({meas['model']}): {_fmt(meas['beta'], meas['ci95'])}"]
    if pred.get("finite_d_ridge_scan"):
        scan = ", ".join(f"{beta:.2f} at {rel}" for rel, beta in pred["finite_d_ridge_scan"].items())
        lines.insert(-1, f"  (its CI covers the sampling of t_k only; with a ridge, in units of the mean eigenvalue: "
                         f"beta = {scan})")
    for key, label in (("asymptotic", "asymptotic"), ("finite_d", "finite-d")):
        diff = numbers["measured_minus_predicted"][key]
        if diff:
            ratio = "n/a" if diff["ratio"] is None else f"{diff['ratio']:.2f}"
            lines.append(f"- measured - predicted ({label}): {diff['difference']:+.3f}, ratio {ratio}")
    for other in numbers["others"]:
        lines.append(f"- measured ({other['model']}): {_fmt(other['beta'], other['ci95'])}")
    lines += ["", "Method: eigenvalues and label cross-covariance from one streamed pass over the shards "
              "(`jetscale spectrum`); alpha by least squares in log-log, 2 alpha r from the tail sums of t_k "
              "(`jetscale.fit.spectrum`); predictions in `jetscale.fit.paper.spectrum_prediction`. The toy model "
              "predicts the excess squared error of least squares, the classifiers are fitted on their "
              "cross-entropy: only exponents are compared.", ""]
    return "\n".join(lines)


def budgets_markdown(budgets: list[dict], frontier: list[dict] | None) -> str:
    rows = []
    for i, b in enumerate(budgets):
        n3 = fmt_ci(frontier[i]["N_opt"], frontier[i]["N_opt_ci"]) if frontier else "n/a"
        rows.append([fmt(b["compute"]), f"{fmt(b['n_params_grid'][0])}–{fmt(b['n_params_grid'][-1])}",
                     fmt_ci(b["N_opt"], b["N_opt_ci"]), fmt_ci(b["D_opt"], b["D_opt_ci"]), fmt(b["L_opt"], 4),
                     f"{fmt(b['epochs_range'][0], 2)}–{fmt(b['epochs_range'][1], 2)}", n3,
                     "bracketed" if b["bracketed"] else "**" + "; ".join(b["flags"]) + "**"])
    return md_table(["C [FLOP]", "N grid", "N_opt, approach 2 [95 % CI]", "D_opt = C/(kN_opt)", "L at optimum",
                     "epochs", "N_opt, approach 3 [95 % CI]", "optimum"], rows)


def _params_text(params: dict, ci: dict, names: dict) -> str:
    return ", ".join(f"{shown} = {fmt_ci(params[name], ci[name])}" for name, shown in names.items())


def compute_optimal(numbers: dict) -> str:
    """Figure 3's section of the report: every fitted number with its CI, and the caveats."""
    fit2, fit3, k = numbers["approach2"], numbers["approach3"], numbers["k_flops"]
    width = "; ".join(f"T = {fmt(n['T'])}: " + _params_text(n["params"], n["ci95"], {"alpha": "α", "A": "A", "E": "E"})
                      + f" ({n['n_points']} runs)" for n in numbers["width_scaling"].values())
    a2 = "not determined"
    if fit2.get("a") is not None:
        edge = ", including edge optima" if fit2["uses_edge_optima"] else ""
        a2 = (f"a = {fmt_ci(fit2['a'], fit2['a_ci'])}, b = 1 − a = {fmt_ci(fit2['b'], fit2['b_ci'])} "
              f"(from {len(fit2['budgets_used'])} budgets{edge})")
    a3 = "not determined"
    if fit3.get("a") is not None:
        names = {"E": "E", "A": "A", "alpha": "α", "B": "B", "beta": "β"}
        a3 = (f"joint law {_params_text(fit3['params'], fit3['ci95'], names)} ({fit3['n_points']} runs) → "
              f"a = β/(α+β) = {fmt_ci(fit3['a'], fit3['a_ci'])}, b = α/(α+β) = {fmt_ci(fit3['b'], fit3['b_ci'])}")
    parts = [
        f"(a) Model scaling at fixed data, params law L = E + A·N^(−α) per training-set size T: {width}.",
        f"(b–d) IsoFLOP sweep: at each budget and width the runs with the largest training set; D = samples seen; "
        f"C ≈ k·N·D with k = {fmt(k['k'])} FLOP per parameter per sample (median over runs; range "
        f"{fmt(k['min'])}–{fmt(k['max'])}).",
        budgets_markdown(numbers["isoflop"]["budgets"], fit3.get("frontier")),
        f"**Approach 2** (parabola per budget, N_opt ∝ C^a): {a2}.",
        f"**Approach 3** (joint law on the IsoFLOP runs): {a3}.",
    ]
    if numbers["agreement"]:
        overlap = "overlap" if numbers["agreement"]["ci_overlap"] else "do NOT overlap"
        parts.append(f"**Agreement**: a(approach 2) − a(approach 3) = {fmt(numbers['agreement']['a_difference'])}; "
                     f"the CIs {overlap}.")
    parts += [f"> **Note**: {note}" for note in numbers["notes"]]
    return "\n\n".join(parts)


def toy_phase(numbers: dict) -> str:
    """The report section of figure 4."""
    toy, dev = numbers["toy"], numbers["deviation"]
    lines = ["## Figure 4: toy model phase diagram", "",
             f"Linear random-feature ridge regression on power-law Gaussian data (alpha = {toy['alpha']:g}, "
             f"r = {toy['r']:g}, M = {toy['latent_dim']}, ridge = {toy['ridge']:g}, noise = {toy['noise']:g}); "
             f"{numbers['n_runs']} runs: N in {numbers['widths']}, P in {numbers['n_samples']}, "
             f"seeds {numbers['seeds']}.", "",
             f"- simulation (mean over seeds) vs deterministic equivalent, relative deviation: median "
             f"{dev['median_abs']:.1%}, max {dev['max_abs']:.1%} (at N = {dev['max_at']['width']}, "
             f"P = {dev['max_at']['n_samples']})"]
    if dev["separated_median_abs"] is not None:
        lines.append(f"- the same at the {dev['n_separated']} points with N/P or P/N >= {numbers['separation']:g}: "
                     f"median {dev['separated_median_abs']:.1%}, max {dev['separated_max_abs']:.1%}")
    lines += ["", "| regime | grid lines | measured beta (95% CI) | theory at these points | asymptotic prediction |",
              "|---|---|---|---|---|"]
    for entry in numbers["regimes"].values():
        line = "; ".join(f"{AXES[axis]} = {fixed:g}: {AXES[entry['axis']]} in {[int(x) for x in item['x']]}"
                         for item in entry["lines"] for axis, fixed in item["fixed"].items()) or "none"
        measured = "n/a" if entry["measured"] is None else ci_text(entry["measured"], entry["ci95"])
        theory = "n/a" if entry["theory"] is None else f"{entry['theory']:.2f}"
        lines.append(f"| {entry['name']} | {line} | {measured} | {theory} | {entry['predicted']:.2f} |")
    table = numbers["regimes"]["resolution_N"].get("table")
    if table:
        (l_lo, l_hi), (b_lo, b_hi) = table["ridge_exponent"], table["exponent"]
        verdict = ("the ridge is below N^-alpha at every point, so the ridgeless 2 alpha min(r, 1/2) applies"
                   if table["ridge_below_floor"] else "**the ridge binds at some points (l < alpha): the ridgeless "
                   "prediction does not hold there, and at a fixed ridge E_g flattens towards the ridge's bias**")
        lines += ["", f"Regime table (`jetscale.theory.classify_regime`, docs/theory.md#four-regimes) at the "
                  f"resolution-limited-in-N points, the ridge read as lambda = N^-l with l in [{l_lo:.2f}, {l_hi:.2f}]: "
                  f"{', '.join(table['regimes'])}, beta in [{b_lo:.2f}, {b_hi:.2f}]; {verdict}."]
    lines += ["", "Method: every grid line with >= 3 points at N/P or P/N >= "
              f"{numbers['separation']:g} enters its regime's fit (one exponent, one amplitude per line); "
              "resolution-limited exponents from the log-log slope of the seed-mean E_g, variance-limited ones from "
              "differences of consecutive grid points within each seed (the unknown limit E_g(inf) cancels); 95% CIs "
              "from a bootstrap over seeds, then points. 'Theory at these points' applies the same estimator to the "
              "deterministic equivalent; the asymptotic predictions 2 alpha min(r, 1/2) (N), 2 alpha min(r, 1) (P) "
              "and 1 (variance-limited; `jetscale.theory.exponents`, Bahri et al. arXiv:2102.06701) are limits that "
              "finite ratios N/P approach slowly. Variance-limited exponents need many seeds: per seed, "
              "E_g - E_g(inf) fluctuates as much as its mean.", ""]
    return "\n".join(lines)


SYMBOLS = {"data": {"n_samples": "T"}, "params": {"n_params": "N"},
           "joint": {"compute": "C", "n_params": "N", "n_samples": "D"}}
"""How the report names each point column (the joint law's ``n_samples`` is samples seen, D)."""


def _points_markdown(laws: dict) -> str:
    rows = []
    for key, r in laws.items():
        if not r.get("points"):
            rows.append([case_label(key), f"`{r['sweep']}`", "—", "—", "—", "—", "—", f"not checked: {r['note']}"])
            continue
        for p in r["points"]:
            where = ", ".join(f"{SYMBOLS[r['law']][c]} = {fmt(p[c])}" for c in POINT_COLUMNS[r["law"]])
            rows.append([case_label(key), f"`{r['sweep']}`", where, f"{fmt(p['measured'], 4)} ± {fmt(p['sem'], 2)}",
                         fmt_ci(p["predicted"], p["predicted_ci"], 4),
                         fmt_ci(100 * p["rel_error"], [None if v is None else 100 * v for v in p["rel_error_ci"]], 2)
                         + " %",
                         f"{fmt(100 * p['seed_spread_rel'], 2)} %" if p["n_seeds"] > 1 else "n/a (1 seed)",
                         "consistent" if p["consistent"] else "**misses**"])
    return md_table(["law", "sweep", "held-out point", "measured ± s.e.", "predicted [95 % CI]",
                     "relative error [95 % CI]", "seed std / mean", "verdict"], rows)


def _verdict_text(key: str, result: dict) -> str:
    text = f"{case_label(key)}: **{result['verdict']}**"
    if result.get("points"):
        text += f" (max |relative error| {fmt(100 * result['max_abs_rel_error'], 2)} %)"
    return text


def extrapolation(numbers: dict) -> str:
    """Figure 5's section of the report."""
    verdicts = "; ".join(_verdict_text(key, r) for key, r in numbers["laws"].items())
    return "\n\n".join([
        f"Each law is refitted without the points at its {numbers['holdout']} largest value(s) of its variable (T "
        "for data laws, N for the params law, the compute budget C for the joint law) and predicts them. A point is "
        "*consistent* when the prediction's 95 % bootstrap interval overlaps the measured seed mean ± 2 standard "
        f"errors; a law *extrapolates* when all its held-out points are consistent ({numbers['n_boot']} bootstrap "
        "resamples).",
        _points_markdown(numbers["laws"]),
        f"**Verdicts**: {verdicts}.",
    ])


SECTIONS = {
    "fig1_data_scaling": data_scaling,
    "fig2_spectrum": spectrum,
    "fig3_compute_optimal": compute_optimal,
    "fig4_toy_phase": toy_phase,
    "fig5_extrapolation": extrapolation,
}
