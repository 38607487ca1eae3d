"""Spectra of hadron-level files: EFPs of ragged events against energyflow event by event, the RAMBO reference of
the file's multiplicities, and `jetscale shower-spectrum` on a real hadron-level file."""

import functools
import json

import energyflow
import numpy as np
import pytest

from jetscale.cli import main as cli_main
from jetscale.data.shower.generate import generate_hadron_events, load_shower_config
from jetscale.data.shower.hadron_file import write_hadrons
from jetscale.features import spectrum
from jetscale.features.efp_ee import COORDS, KAPPA, MEASURE, NORMED, compute_ee_efps
from jetscale.features.hadron_spectrum import by_multiplicity, ragged_features, rambo_mixture_efps
from jetscale.features.shower_spectrum import main as spectrum_main
from jetscale.features.shower_spectrum import WHITENINGS, snapshot_spectra
from jetscale.paths import CONFIG_DIR
from jetscale.physics.event_shapes import MAX_PARTICLES, c_parameter, thrust, thrust_scan
from jetscale.physics.rambo import rambo

SQRT_S = 91.188


def ragged(multiplicities, seed=0):
    """RAMBO events of the given multiplicities, in that order, as (momenta [total, 4], offsets [n + 1])."""
    events = [rambo(int(m), SQRT_S, 1, [seed, i])[0][0] for i, m in enumerate(multiplicities)]
    return np.concatenate(events), np.concatenate([[0], np.cumsum(multiplicities)]), events


def energyflow_efps(events, dmax, beta=2.0):
    """energyflow's own EFPSet, one event at a time (the reference the block evaluator must equal)."""
    efps = energyflow.EFPSet(("d<=", dmax), measure=MEASURE, beta=beta, kappa=KAPPA, normed=NORMED, coords=COORDS)
    return np.asarray(efps.batch_compute(events, n_jobs=1))


def test_ragged_features_equal_energyflow_event_by_event():
    multiplicities = [5, 3, 8, 5, 30, 3, 8, 5]  # interleaved, so the regrouping by multiplicity is exercised
    momenta, offsets, events = ragged(multiplicities)
    assert sorted(by_multiplicity(offsets)) == [3, 5, 8, 30]
    efp, c = ragged_features(momenta, offsets, 4, 2.0, "c_parameter")
    np.testing.assert_allclose(efp, energyflow_efps(events, dmax=4), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(c, [c_parameter(event[None])[0] for event in events], rtol=1e-12)
    with pytest.raises(ValueError, match=rf"events of up to 30 particles, but the exact thrust .*n <= {MAX_PARTICLES}"
                                         r"\): use --target c_parameter or thrust_scan"):
        ragged_features(momenta, offsets, 5, 2.0, "thrust")
    small = [m for m in multiplicities if m <= MAX_PARTICLES]
    momenta, offsets, events = ragged(small)
    np.testing.assert_allclose(ragged_features(momenta, offsets, 3, 2.0, "thrust")[1],
                               [thrust(event[None])[0] for event in events], rtol=1e-12)


def test_rambo_reference_draws_the_files_multiplicities():
    np.testing.assert_array_equal(rambo_mixture_efps(np.full(10, 5), SQRT_S, 40, 3, 3, 2.0),
                                  compute_ee_efps(rambo(5, SQRT_S, 40, [3, 5])[0], 3, 2.0))
    mixed = rambo_mixture_efps(np.array([3] * 50 + [40] * 50), SQRT_S, 400, 1, 2, 2.0)
    # event i of a RAMBO draw depends on (seed, i) only: the mixture is the first events of each multiplicity's draw
    three, forty = (compute_ee_efps(rambo(m, SQRT_S, 400, [1, m])[0], 2, 2.0) for m in (3, 40))
    n_three = int(np.argmin(np.all(mixed == three, axis=1)))  # rows of 3-particle events come first
    np.testing.assert_array_equal(mixed[:n_three], three[:n_three])
    np.testing.assert_array_equal(mixed[n_three:], forty[:400 - n_three])  # finite at 40 particles
    assert 140 < n_three < 260  # half of the file's events have 3 particles


@pytest.fixture(scope="module")
def hadron_file(tmp_path_factory):
    config = load_shower_config(f"{CONFIG_DIR}/generator/shower/z_qq_hadron.yaml")
    events = generate_hadron_events(config, 120, seed=2)
    return write_hadrons(tmp_path_factory.mktemp("hadrons") / "z_qq_hadron.h5", events), events


def test_shower_spectrum_on_a_hadron_level_file(hadron_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(spectrum, "label_projection", functools.partial(spectrum.label_projection, n_boot=10))
    path, events = hadron_file
    out = tmp_path / "spectrum"
    args = ["--snapshots", str(path), "--out-dir", str(out), "--rambo-events", "150", "--dmax", "4",
            "--beta", "1"]
    assert spectrum_main([*args, "--target", "c_parameter"]) == 0
    assert "hadrons (120 events)" in capsys.readouterr().out
    result = json.loads((out / "spectrum.json").read_text())
    assert result["level"] == "hadron" and result["process"] == "z_qq_hadron" and result["target"] == "c_parameter"
    (entry,) = result["per_k"]
    assert entry["k"] is None and entry["label"] == "hadrons" and entry["n"] == 120
    multiplicity = events.multiplicity()
    assert entry["n_particles"] == {"mean": float(multiplicity.mean()), "min": int(multiplicity.min()),
                                    "max": int(multiplicity.max())}
    ragged_events = np.split(events.momenta, events.offsets[1:-1])
    efp = energyflow_efps(ragged_events, dmax=4, beta=1.0)
    raw = entry["standardized"]
    kept = ~np.isin(np.arange(efp.shape[1]), raw["constant_features"])
    np.testing.assert_allclose(raw["eigenvalues"][:5], np.linalg.eigvalsh(np.corrcoef(efp[:, kept].T))[::-1][:5],
                               rtol=1e-8)
    assert entry["whitened"]["rambo_events"] == 150 and entry["whitened"]["fit"] is not None
    arrays = np.load(out / "spectrum.npz")
    np.testing.assert_array_equal(arrays["hadrons_eigenvalues"], raw["eigenvalues"])
    assert cli_main(["spectrum-figure", str(out / "spectrum.json")]) == 0
    assert (out / "spectrum.png").stat().st_size > 0
    assert spectrum_main(args) == 2  # the default target, exact thrust, cannot take ~45 particles
    assert "use --target c_parameter" in capsys.readouterr().err
    with pytest.raises(ValueError, match="a hadron-level file has no branching depths k"):
        snapshot_spectra(path, [1], target="c_parameter")


def test_hadron_file_with_jsl_whitening_and_approximate_thrust(hadron_file, tmp_path, monkeypatch):
    """`--whitening` and JSL's `thrust_scan` reach the hadron-level path (not silently the defaults)."""
    monkeypatch.setattr(spectrum, "label_projection", functools.partial(spectrum.label_projection, n_boot=10))
    path, events = hadron_file
    result = snapshot_spectra(path, None, dmax=4, beta=1.0, target="thrust_scan", rambo_events=150,
                              whitening="jsl")
    assert result["target"] == "thrust_scan" and result["rambo"]["whitening"]["name"] == "jsl"
    (entry,) = result["per_k"]
    assert entry["whitened"]["whitening"] == "jsl"
    assert result["rambo"]["whiten_rtol"] == WHITENINGS["jsl"].rtol != WHITENINGS["jetscale"].rtol
    ragged_events = np.split(events.momenta, events.offsets[1:-1])
    _, values = ragged_features(events.momenta, events.offsets, 2, 1.0, "thrust_scan")
    np.testing.assert_allclose(values, [thrust_scan(event[None])[0] for event in ragged_events], rtol=1e-12)
