"""Figure 2: the data-covariance spectrum, the toy model's data-scaling exponent predicted from it,
and the measured exponent of the linear EFP classifier.

Inputs: ``spectrum.json`` payloads of :mod:`jetscale.features.spectrum` (EFPs with their label
projection; constituents optional) and the measured exponent of figure 1,
``{"model": "efp_linear", "beta": .., "ci95": [lo, hi], "others": [{"model", "beta", "ci95"}, ...]}``
(beta of L(T) = C + A T^-beta; ``others`` optional).

Two predictions, both from the *standardized* EFP entry (the linear tagger standardizes its inputs;
:mod:`jetscale.features.spectrum` explains why that is the spectrum it sees):

* ``asymptotic``: beta = 2 alpha min(r, 1) (:func:`jetscale.theory.data_exponent`: ridge regression,
  N -> infinity, vanishing ridge, infinitely many modes, noiseless) with alpha from the eigenvalue fit
  and r = s / (2 alpha) from the tail-sum fit of the label projection, s = 2 alpha r. Since
  2 alpha min(r, 1) = min(s, 2 alpha) grows with both s and alpha, its 95 % interval is the image of
  the box [s_lo, s_hi] x [alpha_lo, alpha_hi] (interval endpoints, not sampling; conservative).
* ``finite_d``: the deterministic equivalent (:func:`jetscale.theory.spectrum_test_error`, width
  N = infinity: least squares on the d standardized features) with the *measured* lambda_k and t_k
  (the K modes above the noise floor), label noise sigma^2 = Var(y) - sum_k t_k (the part of the
  label that no linear function of the features explains) and ridge ``ridge`` (default 0: the
  vanishing ridge of the asymptotic formula), evaluated at ``n_curve`` sample sizes spaced
  logarithmically over ``t_range`` and fitted with figure 1's law E_g = C + A T^-beta (the Huber
  fit of :mod:`jetscale.fit`), so that predicted and measured beta mean the same thing. Its 95 %
  interval: the same fit to the curves of ``n_boot`` residual-bootstrap copies of t_k
  (:func:`jetscale.fit.spectrum.resample_target_power`, rescaled to the measured sum_k t_k, with
  sigma^2 kept: the bootstrap varies the shape of the target power only); it does not cover the choice of
  ridge, so ``finite_d_ridge_scan`` repeats the fit at the ridges ``RIDGE_SCAN``. Finite d bends
  the curve: once T >> d every mode is learned (or, with a ridge, every learnable one) and the
  variance ~ sigma^2 d / T dominates the approach to C, so beta -> 1.

The excess test error of least squares is what the toy model predicts; the classifiers' loss is a
cross-entropy, so the comparison tests the exponent, not the amplitude.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from jetscale.fit.spectrum import resample_target_power
from jetscale.fit import fit_huber, get_law, percentile_ci, to_params
from jetscale.plots.spectrum import ci_text, spectrum_series, draw_spectra, draw_target_power
from jetscale.plots.style import band, colors, interval_err, model_label
from jetscale.theory import spectrum_test_error

N_CURVE = 25
"""Sample sizes on the finite-d learning curve."""
RIDGE_SCAN = (0.0, 1e-6, 1e-3)
"""Ridges (relative to the mean eigenvalue) at which the finite-d exponent is also reported."""


# --------------------------------------------------------------------------- predictions (pure)


def asymptotic_prediction(entry: dict) -> dict | None:
    """beta = 2 alpha min(r, 1) = min(s, 2 alpha) of one spectrum entry, with its endpoint interval
    (module docstring); None without a label projection or a positive alpha."""
    projection = entry.get("label_projection")
    alpha = entry["fit"]["alpha"]
    if not projection or alpha <= 0:
        return None
    s, (s_lo, s_hi) = projection["fit"]["exponent"], projection["fit"]["ci95"]
    a_lo, a_hi = entry["fit"]["ci95"]
    ci = [None, None] if s_lo is None else [min(s_lo, 2 * a_lo), min(s_hi, 2 * a_hi)]
    return {"beta": min(s, 2 * alpha), "ci95": ci, "alpha": alpha, "r": projection["r"],
            "method": "2 alpha min(r, 1) = min(2 alpha r, 2 alpha); 95% CI from the interval endpoints of "
                      "alpha and 2 alpha r"}


def learning_curve(eigenvalues, target_power, noise: float, sizes, ridge: float = 0.0) -> np.ndarray:
    """Deterministic-equivalent excess error E_g(T) of least squares on the modes (width N = infinity)."""
    lam = np.asarray(eigenvalues, dtype=float)[: len(target_power)]
    return np.array([spectrum_test_error(lam, target_power, np.inf, float(size), ridge, noise).test_error
                     for size in sizes])


def fit_curve(sizes, errors, start=None) -> dict:
    """Fit E_g(T) = C + A T^-beta (figure 1's law, :mod:`jetscale.fit` Huber fit) to a learning curve.

    ``start``: a previous fit's ``theta`` to refit from (one L-BFGS-B run instead of the start grid).
    Returns ``{"beta", "C", "A", "theta"}``.
    """
    law = get_law("data")
    log_x, log_y = np.log(np.asarray(sizes, dtype=float))[None], np.log(np.asarray(errors, dtype=float))
    best = fit_huber(law, log_x, log_y, starts=start)
    params = to_params(law, best.theta)
    return {"beta": params["beta"], "C": params["E"], "A": params["B"], "theta": best.theta}


def finite_d_prediction(entry: dict, t_range: tuple[float, float], ridge: float = 0.0, n_curve: int = N_CURVE,
                        n_boot: int = 200, seed: int = 0) -> dict | None:
    """beta of the finite-d deterministic-equivalent learning curve over ``t_range`` (module docstring);
    None without a label projection. ``ridge`` in units of the entry's eigenvalues."""
    projection = entry.get("label_projection")
    if not projection:
        return None
    lo, hi = t_range
    if not 0 < lo < hi:
        raise ValueError(f"t_range must be 0 < lo < hi, got {t_range}")
    t = np.asarray(projection["target_power"], dtype=float)
    lam = np.asarray(entry["eigenvalues"], dtype=float)[: t.size]
    noise = max(projection["label_variance"] - t.sum(), 0.0)
    sizes = np.geomspace(lo, hi, n_curve)
    curve = learning_curve(lam, t, noise, sizes, ridge)
    best = fit_curve(sizes, curve)
    fit = projection["fit"]
    resamples = resample_target_power(t, *fit["k_range"], fit["exponent"], fit["amplitude"], n_boot, seed)
    samples = [fit_curve(sizes, learning_curve(lam, resampled * (t.sum() / resampled.sum()), noise, sizes, ridge),
                         start=best["theta"])["beta"] for resampled in resamples]
    return {"beta": best["beta"], "ci95": percentile_ci(samples),
            "C": best["C"], "A": best["A"], "t_range": [float(lo), float(hi)], "sizes": sizes.tolist(),
            "curve": curve.tolist(), "noise": noise, "ridge": float(ridge), "d": int(t.size),
            "n_boot": len(samples),
            "method": "deterministic equivalent with the measured lambda_k, t_k (N = infinity), label noise "
                      "Var(y) - sum t_k; E_g = C + A T^-beta fitted over t_range; 95% CI from a residual "
                      "bootstrap of t_k"}


def ridge_scan(entry: dict, t_range: tuple[float, float], ridges=RIDGE_SCAN) -> dict | None:
    """{ridge / mean(lambda_k): beta} of the finite-d curve (no bootstrap): how much the choice of ridge matters."""
    if not entry.get("label_projection"):
        return None
    scale = float(np.mean(entry["eigenvalues"]))
    return {f"{rel:g}": finite_d_prediction(entry, t_range, ridge=rel * scale, n_boot=0)["beta"] for rel in ridges}


def compare(prediction: dict | None, measured: dict) -> dict | None:
    """Measured minus predicted beta, and their ratio."""
    if prediction is None:
        return None
    return {"difference": measured["beta"] - prediction["beta"],
            "ratio": measured["beta"] / prediction["beta"] if prediction["beta"] else None}


def spectrum_numbers(efp_spectrum: dict, constituent_spectrum: dict | None, measured: dict,
                     t_range: tuple[float, float], n_boot: int = 200, seed: int = 0) -> dict:
    """Every number of figure 2 (pure): exponents with CIs, both predictions, the measured beta, comparisons."""
    def spectrum_part(payload: dict) -> dict:
        out = {}
        for key, entry in (("raw", payload), ("standardized", payload["standardized"])):
            projection = entry.get("label_projection")
            out[key] = {"alpha": entry["fit"]["alpha"], "alpha_ci95": entry["fit"]["ci95"],
                        "k_range": entry["fit"]["k_range"]}
            if projection:
                out[key] |= {"two_alpha_r": projection["fit"]["exponent"],
                             "two_alpha_r_ci95": projection["fit"]["ci95"],
                             "r": projection["r"], "r_ci95": projection["r_ci95"],
                             "noise_dominated_from": projection["noise_dominated_from"]}
        return {"n": payload["n"], "d": payload["d"], **out}

    entry = efp_spectrum["standardized"]
    asymptotic = asymptotic_prediction(entry)
    finite = finite_d_prediction(entry, t_range, n_boot=n_boot, seed=seed)
    numbers = {
        "efp": spectrum_part(efp_spectrum),
        "prediction": {"asymptotic": asymptotic,
                       "finite_d": None if finite is None else {k: v for k, v in finite.items()
                                                                if k not in ("sizes", "curve")},
                       "finite_d_ridge_scan": ridge_scan(entry, t_range)},
        "measured": {"model": measured.get("model", "efp_linear"), "beta": measured["beta"],
                     "ci95": list(measured["ci95"])},
        "measured_minus_predicted": {"asymptotic": compare(asymptotic, measured),
                                     "finite_d": compare(finite, measured)},
        "others": [{"model": o["model"], "beta": o["beta"], "ci95": list(o["ci95"])}
                   for o in measured.get("others", [])],
    }
    if constituent_spectrum is not None:
        numbers["constituents"] = spectrum_part(constituent_spectrum)
    return numbers


# --------------------------------------------------------------------------- figure


def _draw_exponents(ax, numbers: dict) -> None:
    """Predicted and measured beta with 95 % CI error bars, one column each; the measured CI as a band."""
    palette = colors(4)
    pred_color, meas_color, other_color = palette[0], palette[2], palette[1]
    measured = numbers["measured"]
    rows = [("asymptotic\n$2\\alpha\\,\\min(r,1)$", "predicted, asymptotic", numbers["prediction"]["asymptotic"],
             pred_color, "D"),
            ("finite-$d$ det.\nequivalent", "predicted, finite-$d$", numbers["prediction"]["finite_d"],
             pred_color, "s"),
            (model_label(measured["model"]) + "\n(measured)", f"measured, {measured['model']}", measured,
             meas_color, "o")]
    rows += [(model_label(o["model"]) + "\n(measured)", f"measured, {o['model']}", o, other_color, "o")
             for o in numbers["others"]]
    lo, hi = numbers["measured"]["ci95"]
    band(ax, [-0.5, len(rows) - 0.5], [lo, lo], [hi, hi], meas_color)
    for x, (_, name, value, color, marker) in enumerate(rows):
        if value is None:
            ax.annotate("n/a", (x, numbers["measured"]["beta"]), ha="center")
            continue
        lo, hi = value["ci95"]
        err = interval_err(value["beta"], lo, hi)
        ax.errorbar([x], [value["beta"]], yerr=err, fmt=marker, color=color, ms=6,
                    label=f"{name}: {ci_text(value['beta'], value['ci95'])}")
    ax.set_xticks(range(len(rows)), [tick for tick, *_ in rows], fontsize=7, rotation=30, ha="right")
    ax.set_xlim(-0.5, len(rows) - 0.5)
    estimates = [value["beta"] for *_, value, _, _ in rows if value is not None and np.isfinite(value["beta"])]
    if estimates:  # a loose CI (a nearly flat learning curve) may span decades: the estimates set the scale
        ax.set_ylim(min(0.0, min(estimates)), 2.0 * max(max(estimates), 0.5))
    ax.set(ylabel="data-scaling exponent $\\beta$  ($L = C + A\\,T^{-\\beta}$)",
           title="(c) exponent: toy-model prediction vs measured")


def _legend_below(ax) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1)


def draw(plot: dict):
    """The three-panel figure from figure 2's numbers file: (a) spectra, (b) label power tail sums,
    (c) predicted vs measured beta."""
    series = spectrum_series(plot["efp_spectrum"], "EFP ")
    if plot["constituent_spectrum"] is not None:
        series += spectrum_series(plot["constituent_spectrum"], "constituent ")
    width, height = plt.rcParams["figure.figsize"]
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(3 * width, 1.1 * height))
    palette = colors(len(series))
    draw_spectra(a, series, palette)
    a.set_title("(a) covariance spectra, fits $\\lambda_k \\propto k^{-\\alpha}$")
    draw_target_power(b, series[:2], palette[:2])
    b.set_title("(b) EFP label projection $t_k$: tail sums, fits")
    _draw_exponents(c, plot["exponents"])
    for ax in (a, b, c):
        _legend_below(ax)
    return fig


def analyse(efp_spectrum: dict, constituent_spectrum: dict | None, measured: dict, t_range: tuple[float, float],
            n_boot: int = 200, seed: int = 0) -> dict:
    """Figure 2's numbers file from the spectra and figure 1's measured exponents (module docstring)."""
    numbers = spectrum_numbers(efp_spectrum, constituent_spectrum, measured, t_range, n_boot, seed)
    drawn = ("eigenvalues", "noise_floor", "fit", "label_projection")

    def for_drawing(payload: dict | None) -> dict | None:
        if payload is None:
            return None
        return {**{k: payload.get(k) for k in drawn}, "standardized": {k: payload["standardized"].get(k) for k in drawn}}

    plot = {"efp_spectrum": for_drawing(efp_spectrum), "constituent_spectrum": for_drawing(constituent_spectrum),
            "exponents": {k: numbers[k] for k in ("measured", "prediction", "others")}}
    return {"numbers": numbers, "plot": plot, "sweeps": []}


def _fmt(value, ci=None) -> str:
    if value is None:
        return "n/a"
    return ci_text(value, ci) if ci is not None else f"{value:.3g}"


def markdown(numbers: dict) -> str:
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
              "(`jetscale.fit.spectrum`); predictions in `jetscale.paper.spectrum_theory`. The toy model "
              "predicts the excess squared error of least squares, the classifiers are fitted on their "
              "cross-entropy: only exponents are compared.", ""]
    return "\n".join(lines)
