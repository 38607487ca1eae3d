"""Hadron-level events (``level: hadron``): real Pythia events of z_qq_hadron and h_gg_hadron (final-state hadrons,
conservation with the neutrinos, no partons), the ragged HDF5 contract, and that nothing reads them as per-k
parton snapshots."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import jetscale.data.shower.generate as shower_generate
from jetscale.data.generate.events import make_pythia
from jetscale.data.shower import MomentumError, SnapshotError, read_snapshots, snapshot_info
from jetscale.data.shower.cli import main
from jetscale.data.shower.generate import (
    generate_hadron_events,
    generate_snapshots,
    load_shower_config,
    pythia_settings,
)
from jetscale.data.shower.hadron_file import INVISIBLE, read_hadrons, write_hadrons
from jetscale.paths import CONFIG_DIR

SHOWER_CONFIGS = f"{CONFIG_DIR}/generator/shower"
PARTONS = (1, 2, 3, 4, 5, 6, 21)
STABLE_NON_HADRONS = (11, 13, 22)  # electrons, muons, photons (from decays and QED radiation)


@pytest.fixture(scope="module", params=["z_qq_hadron", "h_gg_hadron"])
def hadron_run(request):
    config = load_shower_config(f"{SHOWER_CONFIGS}/{request.param}.yaml")
    return config, generate_hadron_events(config, 60, seed=5)


def test_hadron_events_are_final_state_hadrons_that_conserve_momentum(hadron_run):
    config, events = hadron_run
    assert config.level == "hadron" and config.sqrt_s == 91.188 and events.n_events == 60
    pdg = np.abs(events.pdg_id)
    assert not np.isin(pdg, PARTONS).any() and not np.isin(pdg, INVISIBLE).any()
    assert np.all((pdg > 100) | np.isin(pdg, STABLE_NON_HADRONS)), sorted(set(pdg.tolist()))
    assert np.isin(pdg, (211, 321, 2212)).mean() > 0.4  # charged pions, kaons, protons: the bulk
    multiplicity = events.multiplicity()
    assert (multiplicity >= 4).all() and multiplicity.mean() > 15  # a hadronized Z or H event at 91 GeV
    visible = np.add.reduceat(events.momenta, events.offsets[:-1], axis=0)
    np.testing.assert_allclose(visible + events.invisible, [[config.sqrt_s, 0, 0, 0]] * 60, atol=1e-6 * config.sqrt_s)
    assert (events.momenta[:, 0] > 0).all()


def test_hadron_events_are_pythias_final_state(hadron_run):
    """Rerun the same seed: the stored particles are the record's final-state particles without neutrinos."""
    config, events = hadron_run
    pythia = make_pythia(pythia_settings(config, seed=5))
    for event_id in range(5):
        assert pythia.next()
        final = [(p.id(), p.e(), p.px(), p.py(), p.pz()) for p in pythia.event
                 if p.isFinal() and p.idAbs() not in INVISIBLE]
        rows = slice(events.offsets[event_id], events.offsets[event_id + 1])
        np.testing.assert_array_equal(events.pdg_id[rows], [row[0] for row in final])
        np.testing.assert_array_equal(events.momenta[rows], [row[1:] for row in final])


def test_hadron_level_settings_and_their_refusal_at_parton_level(hadron_run):
    config, events = hadron_run
    assert "HadronLevel:all = on" in events.settings and "PartonLevel:ISR = off" in events.settings
    assert "HadronLevel:all = off" not in events.settings
    with pytest.raises(ValueError, match="level 'hadron', but this generator makes parton-level files"):
        generate_snapshots(config, 5, seed=1)
    with pytest.raises(ValueError, match="level 'parton', but this generator makes hadron-level files"):
        generate_hadron_events(load_shower_config(f"{SHOWER_CONFIGS}/z_qq.yaml"), 5, seed=1)


def test_a_momentum_violation_fails_the_hadron_run(monkeypatch):
    real = shower_generate.final_particles

    def corrupted(event):
        pdg, momenta = real(event)
        momenta[-1, 1] += 0.5
        return pdg, momenta

    monkeypatch.setattr(shower_generate, "final_particles", corrupted)
    with pytest.raises(MomentumError, match=r"event 0, k = 0: .*max 0\.5 >"):
        generate_hadron_events(load_shower_config(f"{SHOWER_CONFIGS}/z_qq_hadron.yaml"), 3, seed=1)


def test_hadron_file_round_trip_and_refusals(hadron_run, tmp_path):
    config, events = hadron_run
    path = write_hadrons(tmp_path / "h.h5", events)
    arrays = read_hadrons(path)
    for name in ("momenta", "pdg_id", "offsets", "event_id", "invisible"):
        np.testing.assert_array_equal(arrays[name], getattr(events, name))
    info = snapshot_info(path)
    assert info["level"] == "hadron" and info["process"] == config.name and info["counts"] == {}
    assert info["settings"] == events.settings and "k_max" not in info
    with pytest.raises(SnapshotError, match=r"h\.h5: a hadron-level file has no per-k parton snapshots"):
        read_snapshots(path, 1)
    broken = events.momenta.copy()
    broken[3, 0] += 1.0
    with pytest.raises(SnapshotError, match=r"bad\.h5: event \d+: visible \+ invisible momenta miss"):
        write_hadrons(tmp_path / "bad.h5", dataclasses.replace(events, momenta=broken))
    with pytest.raises(SnapshotError, match="offsets must run from 0"):
        write_hadrons(tmp_path / "bad.h5", dataclasses.replace(events, offsets=events.offsets[:-1]))
    assert not (tmp_path / "bad.h5").exists()


def test_parton_files_are_not_read_as_hadron_files(tmp_path):
    config = load_shower_config(f"{SHOWER_CONFIGS}/z_qq.yaml", k_max=2)
    path = tmp_path / "p.h5"
    assert main(["--config", config.source, "--events", "5", "--k-max", "2", "--out", str(path)]) == 0
    with pytest.raises(SnapshotError, match=r"p\.h5: not a hadron-level file \(level = 'parton'\)"):
        read_hadrons(path)


def test_cli_writes_hadron_files_reproducibly(tmp_path, capsys):
    args = ["--config", "h_gg_hadron", "--events", "20", "--seed", "7"]
    assert main([*args, "--out", str(tmp_path / "a.h5")]) == 0
    assert "hadron-level events" in capsys.readouterr().out
    assert main([*args, "--out", str(tmp_path / "b.h5")]) == 0
    a, b = read_hadrons(tmp_path / "a.h5"), read_hadrons(tmp_path / "b.h5")
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert main([*args, "--k-max", "3", "--out", str(tmp_path / "c.h5")]) == 2
    assert "k_max: has no meaning at level: hadron" in capsys.readouterr().err
