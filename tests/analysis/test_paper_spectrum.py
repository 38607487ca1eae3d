"""Figure 2: the toy model's data-scaling exponent predicted from a spectrum payload, and the figure's numbers."""

import json

import numpy as np
import pytest

from jetscale.fit.spectrum import fit_spectrum_exponent, label_projection
from conftest import draw_from_numbers_file
from jetscale.fit.paper import spectrum_prediction
from jetscale.fit.paper.spectrum_prediction import asymptotic_prediction, finite_d_prediction
from jetscale.paper.sections import spectrum as spectrum_section
from jetscale.theory import data_exponent


def power_law_entry(alpha, r, d, noise=0.0, jitter=0.3, seed=0):
    """A spectrum entry with lambda_k = k^-alpha and t_k = k^-(1 + 2 alpha r) (times a log-normal jitter)."""
    k = np.arange(1, d + 1.0)
    lam = k ** -alpha
    t = k ** -(1 + 2 * alpha * r) * np.exp(jitter * np.random.default_rng(seed).normal(size=d))
    fit = fit_spectrum_exponent(lam)
    return {"eigenvalues": lam.tolist(), "noise_floor": 0.0, "fit": fit,
            "label_projection": label_projection(lam, np.sqrt(t * lam), t.sum() + noise, 10**6, fit, n_boot=50)}


def payload(alpha=1.5, r=0.3, d=400, noise=0.1):
    entry = power_law_entry(alpha, r, d, noise)
    return {"n": 10**6, "d": d, "features": "efp", **entry, "standardized": {**entry, "d": d}}


@pytest.mark.parametrize("alpha, r", [(1.5, 0.3), (1.0, 1.5), (1.2, 0.6)])
def test_asymptotic_prediction_is_two_alpha_min_r_one(alpha, r):
    prediction = asymptotic_prediction(power_law_entry(alpha, r, 2000))
    lo, hi = prediction["ci95"]
    assert prediction["beta"] == pytest.approx(data_exponent(alpha, r), abs=0.03)
    assert lo <= prediction["beta"] <= hi and hi - lo < 0.1 and np.isfinite([lo, hi]).all()


@pytest.mark.parametrize("alpha, r", [(1.5, 0.3), (1.2, 0.6)])
def test_finite_d_curve_has_the_asymptotic_exponent_when_d_is_large_and_noise_absent(alpha, r):
    """T << d = 2000 modes, no label noise: the deterministic-equivalent curve is the clean power law."""
    prediction = finite_d_prediction(power_law_entry(alpha, r, 2000), (20, 200), n_boot=20)
    lo, hi = prediction["ci95"]
    assert prediction["beta"] == pytest.approx(data_exponent(alpha, r), abs=0.12)
    assert lo <= prediction["beta"] <= hi and prediction["C"] < 1e-6 and prediction["n_boot"] == 20


def test_finite_d_curve_is_variance_limited_once_every_mode_is_learned():
    """T >> d = 50 with label noise: E_g ~ sigma^2 d / (T - d), beta -> 1 whatever the spectrum."""
    prediction = finite_d_prediction(power_law_entry(1.5, 0.3, 50, noise=0.2), (1000, 20000), n_boot=10)
    assert prediction["beta"] == pytest.approx(1.0, abs=0.06) and prediction["noise"] == pytest.approx(0.2)
    assert prediction["curve"][0] == pytest.approx(0.2 * 50 / (1000 - 50), rel=0.02)


def test_figure_numbers_compare_both_predictions_with_the_measured_exponent(tmp_path):
    measured = {"model": "efp_linear", "beta": 0.8, "ci95": [0.6, 1.0],
                "others": [{"model": "pfn", "beta": 0.5, "ci95": [0.4, 0.6]}]}
    constituents = payload(alpha=2.0, r=0.2, d=100)
    result = spectrum_prediction.analyse(payload(), constituents, measured, (500, 8000), n_boot=20)
    numbers = result["numbers"]
    assert numbers["efp"]["standardized"]["alpha"] == pytest.approx(1.5, abs=1e-6)
    assert numbers["efp"]["standardized"]["r"] == pytest.approx(0.3, abs=0.05)
    assert np.isfinite(numbers["efp"]["standardized"]["r_ci95"]).all()
    asymptotic, finite = numbers["prediction"]["asymptotic"], numbers["prediction"]["finite_d"]
    assert asymptotic["beta"] == pytest.approx(0.9, abs=0.05) and np.isfinite(asymptotic["ci95"]).all()
    assert np.isfinite(finite["ci95"]).all() and finite["t_range"] == [500, 8000]
    assert set(numbers["prediction"]["finite_d_ridge_scan"]) == {"0", "1e-06", "0.001"}
    diff = numbers["measured_minus_predicted"]["asymptotic"]
    assert diff["difference"] == pytest.approx(0.8 - asymptotic["beta"]) and diff["ratio"] == pytest.approx(
        0.8 / asymptotic["beta"])
    assert numbers["constituents"]["raw"]["alpha"] == pytest.approx(2.0, abs=1e-6)
    assert numbers["others"][0]["model"] == "pfn" and "0.80 [0.60, 1.00]" in spectrum_section(numbers)
    paths = draw_from_numbers_file("fig2_spectrum", result, tmp_path)
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 1000 for p in paths)


def test_a_spectrum_without_labels_gives_no_prediction(tmp_path):
    unlabelled = payload()
    unlabelled["label_projection"] = unlabelled["standardized"]["label_projection"] = None
    result = spectrum_prediction.analyse(unlabelled, None, {"beta": 0.8, "ci95": [0.6, 1.0]}, (500, 8000), n_boot=5)
    numbers = result["numbers"]
    assert numbers["prediction"]["asymptotic"] is None and numbers["prediction"]["finite_d"] is None
    assert numbers["measured_minus_predicted"]["asymptotic"] is None and "n/a" in spectrum_section(numbers)
    assert [p.suffix for p in draw_from_numbers_file("fig2_spectrum", result, tmp_path)] == [".png", ".pdf"]


def bk_payload(alphas=(("QCD", 2.0), ("top", 1.2)), d=60):
    """A spectrum.json in Batson & Kahn's convention (second moment, per class, raw), classes with their own decay."""
    options = {"dmax": 6, "centring": "second-moment", "classes": "per-class", "scale": "raw"}
    classes = {}
    for label, (name, alpha) in enumerate(alphas):
        lam = np.arange(1, d + 1.0) ** -alpha
        classes[name] = {"label": label, "n": 500, "eigenvalues": lam.tolist(), "noise_floor": 0.0,
                         "fit": fit_spectrum_exponent(lam), "label_projection": None, "constant_features": [0],
                         "convention": {**options, "classes": name}}
    pooled = {**classes["QCD"], "convention": {**options, "classes": "pooled"}}
    del pooled["label"]
    return {"source": "data/jets/x", "features": "efp", "feature_options": {"dmax": 6}, "n": 1000, "d": d + 1,
            "options": options, **pooled, "classes": classes}


def test_figure_2_shows_bk_convention_per_class_beside_the_theorys_and_says_which_is_which(tmp_path):
    measured = {"model": "efp_linear", "beta": 0.8, "ci95": [0.6, 1.0], "others": []}
    result = spectrum_prediction.analyse(payload(d=60), None, measured, (500, 8000), n_boot=2, bk_spectrum=bk_payload())
    bk = result["numbers"]["bk"]
    assert bk["options"]["centring"] == "second-moment" and list(bk["classes"]) == ["QCD", "top"]
    assert bk["classes"]["QCD"]["alpha"] == pytest.approx(2.0) and bk["classes"]["top"]["alpha"] == pytest.approx(1.2)
    assert bk["classes"]["top"]["convention"]["classes"] == "top" and bk["classes"]["top"]["d"] == 60
    assert result["numbers"]["prediction"]["spectrum_convention"] == {
        "centring": "covariance", "classes": "pooled", "scale": "standardised", "dmax": None}
    text = spectrum_section(result["numbers"])
    assert "Batson & Kahn's convention" in text and "uncentred second moment" in text
    assert "- QCD (500 jets, 60 EFPs): alpha = 2.00" in text and "- top (500 jets, 60 EFPs): alpha = 1.20" in text
    assert "The prediction uses the theory's convention: covariance (centred), standardised, pooled" in text
    paths = draw_from_numbers_file("fig2_spectrum", result, tmp_path)
    assert all(p.stat().st_size > 1000 for p in paths)
    from jetscale.plots.paper.spectrum import draw
    fig = draw(json.loads((tmp_path / "numbers" / "fig2_spectrum.json").read_text())["plot"])  # as drawn from the file
    assert len(fig.axes) == 4 and "Batson & Kahn" in fig.axes[1].get_title()
    legend = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert legend[0].startswith("B&K's, QCD: uncentred") and legend[1].startswith("B&K's, top: uncentred")
    assert legend[2].startswith("theory's: centred, standardized, pooled")
    without = spectrum_section({**result["numbers"], "bk": None})
    assert "No spectrum in Batson & Kahn's convention is configured" in without


def test_the_prediction_refuses_a_spectrum_in_another_convention():
    """A second-moment (uncentred) 'standardized' entry is not what the toy model's theory link needs: named, refused."""
    wrong = payload()
    wrong["standardized"] = {**wrong["standardized"], "convention": {
        "dmax": 6, "centring": "second-moment", "classes": "pooled", "scale": "standardised"}}
    with pytest.raises(ValueError, match="'centring': 'second-moment'.*the prediction needs"):
        spectrum_prediction.analyse(wrong, None, {"beta": 0.8, "ci95": [0.6, 1.0]}, (500, 8000), n_boot=5)


def test_a_bk_spectrum_made_with_other_options_than_the_scale_files_is_refused():
    from jetscale.paper.config import load_paper_config
    from jetscale.paper.figures import check_bk_options

    cfg = load_paper_config("full")  # bk_spectrum: d <= 6, second moment, per class, raw
    check_bk_options(cfg, bk_payload())
    stale = {**bk_payload(), "options": {**bk_payload()["options"], "centring": "covariance"}}
    with pytest.raises(ValueError, match="data/jets/x: .*'centring': 'covariance'.*full.yaml asks for bk_spectrum"):
        check_bk_options(cfg, stale)
