"""Whitening conventions of ``jetscale shower-spectrum``: JSL's kept ranks, spectrum.json fields, the fit rule."""

import functools
import json

import numpy as np
import pytest

from jetscale.features import spectrum
from jetscale.features.efp_ee import compute_ee_efps
from jetscale.features.shower_spectrum import MIN_FIT_POINTS, WHITENINGS, main as spectrum_main, shower_spectrum
from jetscale.physics.event_shapes import thrust
from jetscale.physics.rambo import rambo

from tests.features.test_shower_features import write_rambo_snapshots

JSL_SQRT_S = 91.188
JSL_KEPT = {3: 7, 5: 32}
"""ykahn/Jet-Scaling-Laws AmiraliCode/UniformSpectraWhitened3579.ipynb, cell 3 output ("N=3: r=7 directions kept",
"N=5: r=32 ..."): EFPs d <= 6, beta = 2, eeefm, normed, 10,000 RAMBO events of N particles at 91.188 GeV, rcond 1e-10."""


@functools.lru_cache(maxsize=2)
def reference_efps(n_particles: int) -> np.ndarray:
    """EFPs d <= 6, beta = 2 of JSL's reference sample size: 10,000 RAMBO events of n particles."""
    return compute_ee_efps(rambo(n_particles, JSL_SQRT_S, 10_000, [7, n_particles])[0], 6, 2.0)


@pytest.fixture(scope="module")
def snapshot_file(tmp_path_factory):
    return write_rambo_snapshots(tmp_path_factory.mktemp("whitening") / "rambo.h5")


@pytest.fixture
def fast_bootstrap(monkeypatch):
    monkeypatch.setattr(spectrum, "label_projection", functools.partial(spectrum.label_projection, n_boot=10))


@pytest.mark.parametrize("n_particles", sorted(JSL_KEPT))
def test_jsl_convention_keeps_jsls_printed_ranks(n_particles):
    sample = rambo(n_particles, JSL_SQRT_S, 500, [8, n_particles])[0]
    efp_ref, efp = reference_efps(n_particles), compute_ee_efps(sample, 6, 2.0)
    jsl = shower_spectrum(efp, thrust(sample), efp_ref, whitening="jsl")["whitened"]
    assert jsl["kept_rank"] == JSL_KEPT[n_particles] and jsl["whitening"] == "jsl" and jsl["whiten_rtol"] == 1e-10
    # by hand: JSL's raw centred covariance with the 1/n normalisation, cut at 1e-10 mu_1
    centred = efp_ref - efp_ref.mean(axis=0)
    mu = np.linalg.eigvalsh(centred.T @ centred / len(efp_ref))
    assert jsl["kept_rank"] == int(np.sum(mu > 1e-10 * mu.max()))
    # jetscale's own convention (RAMBO-standardized, cut 1e-12) keeps more directions
    ours = shower_spectrum(efp, thrust(sample), efp_ref, whitening="jetscale")["whitened"]
    assert ours["kept_rank"] > jsl["kept_rank"] and ours["whitening"] == "jetscale"


def test_directions_kept_at_rounding_level_are_refused_not_fitted():
    """Massive partons break the massless EFP relations that RAMBO's C_R holds to rounding: at d <= 6 the
    jetscale cut keeps two such directions (whitened eigenvalue ~1e20, negative ones beside), JSL's does not."""
    reference = reference_efps(3)
    massive = rambo(3, JSL_SQRT_S, 2_000, [8, 3], masses=[2.0, 2.0, 0.0])[0]
    efp, target = compute_ee_efps(massive, 6, 2.0), thrust(massive)
    ours = shower_spectrum(efp, target, reference, k_max=6, whitening="jetscale")["whitened"]
    assert ours["negative_eigenvalues"] > 0 and ours["fit"] is None and "--whitening jsl" in ours["fit_refused"]
    jsl = shower_spectrum(efp, target, reference, k_max=6, whitening="jsl")["whitened"]
    assert jsl["negative_eigenvalues"] == 0 and jsl["fit"] is not None


def test_spectrum_json_records_the_convention_kept_ranks_and_fit_rule(snapshot_file, tmp_path, fast_bootstrap):
    out = tmp_path / "jsl"
    args = ["--snapshots", str(snapshot_file), "--out-dir", str(out), "--k", "1-3", "--rambo-events", "1500",
            "--whitening", "jsl"]
    assert spectrum_main(args) == 0
    result = json.loads((out / "spectrum.json").read_text())
    assert result["rambo"]["whitening"]["name"] == "jsl" and result["rambo"]["whiten_rtol"] == 1e-10
    assert result["fit_rule"]["min_points"] == MIN_FIT_POINTS
    for entry in result["per_k"]:
        white = entry["whitened"]
        assert white["kept_rank"] == white["d"] == len(white["eigenvalues"]) and white["whitening"] == "jsl"
        for part in (entry["standardized"], white):  # a fit has at least MIN_FIT_POINTS ranks, else a reason
            if part["fit"] is None:
                assert part["fit_refused"]
            else:
                assert part["fit"]["n_points"] >= MIN_FIT_POINTS and part["fit_refused"] is None
    # k = 1 (3 partons): few directions at d <= 5, beta = 2: the whitened fit is refused, and says why
    k1 = result["per_k"][0]["whitened"]
    assert k1["fit"] is None and f"fewer than {MIN_FIT_POINTS}" in k1["fit_refused"]


def test_unknown_whitening_is_refused_by_name(snapshot_file, tmp_path, capsys):
    args = ["--snapshots", str(snapshot_file), "--out-dir", str(tmp_path), "--whitening", "pca"]
    assert spectrum_main(args) == 2
    err = capsys.readouterr().err
    assert "'pca'" in err and all(name in err for name in WHITENINGS)
    with pytest.raises(ValueError, match="'zca'"):
        shower_spectrum(np.ones((5, 2)), np.ones(5), whitening="zca")
