"""Figure 2's analysis: the toy model's data-scaling exponent predicted from a measured covariance spectrum
(asymptotic and finite-d), compared with figure 1's measured exponent, beside the spectrum in Batson & Kahn's
convention. Method: docs/paper.md, figure 2; conventions: docs/spectrum.md#conventions."""

from __future__ import annotations

import numpy as np

from jetscale.fit import fit_huber, get_law, percentile_ci, to_params
from jetscale.fit.spectrum import resample_target_power
from jetscale.theory import spectrum_test_error


N_CURVE = 25
"""Sample sizes on the finite-d learning curve."""


RIDGE_SCAN = (0.0, 1e-6, 1e-3)
"""Ridges (relative to the mean eigenvalue) at which the finite-d exponent is also reported."""


THEORY_CONVENTION = {"centring": "covariance", "classes": "pooled", "scale": "standardised"}
"""The spectrum the toy-model prediction uses: that of the linear tagger's standardized inputs, all jets."""


def theory_entry(efp_spectrum: dict) -> dict:
    """The prediction's spectrum entry (``standardized``), refused when it records another convention."""
    entry = efp_spectrum["standardized"]
    convention = {k: entry.get("convention", THEORY_CONVENTION)[k] for k in THEORY_CONVENTION}
    if convention != THEORY_CONVENTION:
        raise ValueError(f"figure 2's EFP spectrum {efp_spectrum.get('source')!r}: its 'standardized' entry is "
                         f"{convention}, the prediction needs {THEORY_CONVENTION}")
    return entry


def bk_entries(payload: dict) -> dict[str, dict]:
    """{class name: spectrum entry} of a spectrum in Batson & Kahn's convention (``pooled`` when it has no classes);
    the raw entry of each, or the standardized one in a file of standardized spectra only."""
    groups = payload.get("classes") or {"pooled": payload}
    return {name: group if "eigenvalues" in group else group["standardized"] for name, group in groups.items()}


def bk_numbers(payload: dict) -> dict:
    """Exponents of a spectrum in Batson & Kahn's convention, per class (:func:`bk_entries`)."""
    groups = payload.get("classes") or {"pooled": payload}

    def part(group: dict, entry: dict) -> dict:
        fit = entry["fit"]
        return {"n": group["n"], "convention": entry.get("convention"), "d": len(entry["eigenvalues"]),
                "alpha": fit["alpha"], "alpha_ci95": fit["ci95"], "k_range": fit["k_range"]}

    return {"options": payload.get("options"), "source": payload.get("source"),
            "classes": {name: part(groups[name], entry) for name, entry in bk_entries(payload).items()}}


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
                     t_range: tuple[float, float], n_boot: int = 200, seed: int = 0,
                     bk_spectrum: dict | None = None) -> dict:
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

    entry = theory_entry(efp_spectrum)
    asymptotic = asymptotic_prediction(entry)
    finite = finite_d_prediction(entry, t_range, n_boot=n_boot, seed=seed)
    numbers = {
        "efp": spectrum_part(efp_spectrum),
        "prediction": {"asymptotic": asymptotic,
                       "finite_d": None if finite is None else {k: v for k, v in finite.items()
                                                                if k not in ("sizes", "curve")},
                       "finite_d_ridge_scan": ridge_scan(entry, t_range),
                       "spectrum_convention": {**THEORY_CONVENTION,
                                               "dmax": efp_spectrum.get("feature_options", {}).get("dmax")}},
        "measured": {"model": measured.get("model", "efp_linear"), "beta": measured["beta"],
                     "ci95": list(measured["ci95"])},
        "measured_minus_predicted": {"asymptotic": compare(asymptotic, measured),
                                     "finite_d": compare(finite, measured)},
        "others": [{"model": o["model"], "beta": o["beta"], "ci95": list(o["ci95"])}
                   for o in measured.get("others", [])],
    }
    if constituent_spectrum is not None:
        numbers["constituents"] = spectrum_part(constituent_spectrum)
    if bk_spectrum is not None:
        numbers["bk"] = bk_numbers(bk_spectrum)
    return numbers


def analyse(efp_spectrum: dict, constituent_spectrum: dict | None, measured: dict, t_range: tuple[float, float],
            n_boot: int = 200, seed: int = 0, bk_spectrum: dict | None = None) -> dict:
    """Figure 2's numbers file from the spectra and figure 1's measured exponents (module docstring); with
    ``bk_spectrum``, also its per-class spectra in Batson & Kahn's convention."""
    numbers = spectrum_numbers(efp_spectrum, constituent_spectrum, measured, t_range, n_boot, seed, bk_spectrum)
    drawn = ("eigenvalues", "noise_floor", "fit", "label_projection")

    def for_drawing(payload: dict | None) -> dict | None:
        if payload is None:
            return None
        return {**{k: payload.get(k) for k in drawn}, "standardized": {k: payload["standardized"].get(k) for k in drawn}}

    bk = None if bk_spectrum is None else {
        "dmax": bk_spectrum["feature_options"]["dmax"], "options": bk_spectrum.get("options"),
        "classes": {name: {k: entry.get(k) for k in (*drawn, "convention")}
                    for name, entry in bk_entries(bk_spectrum).items()}}
    plot = {"efp_spectrum": for_drawing(efp_spectrum), "constituent_spectrum": for_drawing(constituent_spectrum),
            "bk_spectrum": bk, "exponents": {k: numbers[k] for k in ("measured", "prediction", "others")}}
    return {"numbers": numbers, "plot": plot, "sweeps": []}
