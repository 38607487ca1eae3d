"""Shower snapshots: the record replay on hand-made records, the energy-momentum check, real Pythia
events (conservation, multiplicities, final partons, nesting, reproducibility), the HDF5 contract,
the configs and the CLI."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import jetscale.data.shower.generate as shower_generate
from jetscale.data.generate.events import make_pythia
from jetscale.data.generate.settings import ConfigError
from jetscale.data.shower import (
    MomentumError,
    ReplayError,
    SnapshotError,
    branching_states,
    check_conservation,
    read_snapshots,
    shower_snapshots,
    snapshot_info,
    write_snapshots,
)
from jetscale.data.shower.cli import main
from jetscale.data.shower.generate import generate_snapshots, load_shower_config, pythia_settings, read_record
from jetscale.paths import CONFIG_DIR

SHOWER_CONFIGS = f"{CONFIG_DIR}/generator/shower"

# A hand-made record at sqrt(s) = 100 GeV: beams and hard process (0-2), Born q q̄ (3, 4);
# branching 1: q(3) -> q(5) g(6), recoiler q̄(4) -> 7; branching 2: g(6) -> q(8) q̄(9), recoiler q(5) -> 10.
# Momenta (E, px, py, pz) sum to (100, 0, 0, 0) after every branching.
RECORD = {
    "status": [-11, -12, -22, -23, -23, -51, -51, 52, 51, 51, 52],
    "mother1": [0, 0, 1, 2, 2, 3, 3, 4, 6, 6, 5],
    "mother2": [0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 5],
    "momenta": [[100, 0, 0, 0], [50, 0, 0, 50], [100, 0, 0, 0],
                [50, 0, 0, 50], [50, 0, 0, -50],
                [30, 5, 0, 25], [21, -5, 0, 24], [49, 0, 0, -49],
                [10, -2, 1, 12], [10, -3, -1, 11], [31, 5, 0, 26]],
}
TOTAL = (100.0, 0.0, 0.0, 0.0)


def record(**changes):
    columns = {name: np.array(values, dtype=np.float64 if name == "momenta" else np.int64)
               for name, values in RECORD.items()}
    columns.update({name: np.asarray(value) for name, value in changes.items()})
    return columns["status"], columns["mother1"], columns["mother2"], columns["momenta"]


# --- the replay on hand-made records -------------------------------------------------------------

def test_replay_follows_emission_recoil_and_g_to_qqbar():
    status, mother1, mother2, momenta = record()
    states = branching_states(status, mother1, mother2)
    assert [s.tolist() for s in states] == [[3, 4], [5, 6, 7], [7, 8, 9, 10]]
    snapshots = shower_snapshots(status, mother1, mother2, momenta)
    assert [len(s) for s in snapshots] == [2, 3, 4]
    np.testing.assert_array_equal(snapshots[1], momenta[[5, 6, 7]])
    np.testing.assert_array_equal(snapshots[2], momenta[[7, 8, 9, 10]])
    check_conservation(snapshots, TOTAL, 1e-9, event_id=0)  # the hand-made record conserves


def test_record_without_shower_is_its_born():
    status, mother1, mother2, _ = record()
    status = np.array([-11, -12, -22, 23, 23])
    assert [s.tolist() for s in branching_states(status, mother1[:5], mother2[:5])] == [[3, 4]]


@pytest.mark.parametrize("changes, message", [
    ({"status": [-11, -12, -22, -23, -23, -51, -51, 52, 51, 51, 83]}, "entry 10 has status 83"),
    ({"mother1": [0, 0, 1, 2, 2, 3, 3, 4, 3, 3, 5]}, "entry 8 (status 51) branches from entry 3"),
    ({"mother1": [0, 0, 1, 2, 2, 3, 3, 4, 6, 6, 3], "mother2": [0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 3]},
     "entry 10 (status 52) copies entry 3"),
    ({"mother2": [0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 7]}, "entry 10 has status 52 and mothers (5, 7)"),
    ({"status": [-11, -12, -22, -23, -23, -51, -51, 52, 51, 51, -52]}, "final partons are [7, 8, 9]"),
    ({"status": [-11, -12, -22, -23, -23, -52, -51, 52, 51, 51, 52], "mother2": [0, 0, 0, 0, 0, 3, 0, 4, 0, 0, 5]},
     "entry 5 is a recoil copy (status -52) before any branching"),
])
def test_replay_refuses_what_it_cannot_follow(changes, message):
    with pytest.raises(ReplayError) as err:
        branching_states(*record(**changes)[:3])
    assert message in str(err.value)


def test_branching_with_one_daughter_is_refused():
    # g(6) -> 8 alone (a 1 -> 1 "branching"), then recoil copies of 7 and 5
    status, mother1, mother2, _ = record(status=[-11, -12, -22, -23, -23, -51, -51, -52, 51, 52, 52],
                                         mother1=[0, 0, 1, 2, 2, 3, 3, 4, 6, 7, 5],
                                         mother2=[0, 0, 0, 0, 0, 0, 0, 4, 0, 7, 5])
    with pytest.raises(ReplayError, match="branching of entry 6 has 1 daughter"):
        branching_states(status, mother1, mother2)


def test_conservation_check_names_event_k_and_deviation():
    status, mother1, mother2, momenta = record()
    momenta[9, 0] += 1e-3  # corrupt the q̄ of the second branching
    snapshots = shower_snapshots(status, mother1, mother2, momenta)
    check_conservation(snapshots[:2], TOTAL, 1e-4, event_id=7)  # k = 0, 1 are untouched
    with pytest.raises(MomentumError, match=r"event 7, k = 2: .*max 0\.001 > tolerance 0\.0001"):
        check_conservation(snapshots, TOTAL, 1e-4, event_id=7)
    check_conservation(snapshots, TOTAL, 2e-3, event_id=7)  # within a looser tolerance


# --- real Pythia events ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def z_config():
    return load_shower_config(f"{SHOWER_CONFIGS}/z_qq.yaml", k_max=60)  # deeper than any Z shower


@pytest.fixture(scope="module")
def z_snapshots(z_config):
    return generate_snapshots(z_config, 150, seed=11)


def test_real_snapshots_conserve_momentum_and_grow_by_one(z_snapshots, z_config):
    counts = z_snapshots.counts()
    assert z_snapshots.n_dropped == 0
    assert counts[1] >= 145 and counts[60] == 0  # almost every Z shower branches; none 60 times
    assert all(counts[k + 1] <= counts[k] for k in range(1, 60))
    for k in range(1, z_snapshots.k_max + 1):
        momenta = z_snapshots.momenta[k]
        assert momenta.shape == (counts[k], 2 + k, 4)
        if len(momenta):
            deviation = momenta.sum(axis=1) - [z_config.sqrt_s, 0, 0, 0]
            assert np.abs(deviation).max() < 1e-6 * z_config.sqrt_s
            assert (momenta[..., 0] > 0).all()


def test_event_ids_nest_across_k(z_snapshots):
    for k in range(1, z_snapshots.k_max):
        deeper, shallower = z_snapshots.event_id[k + 1], z_snapshots.event_id[k]
        assert np.isin(deeper, shallower).all()
        assert (np.diff(shallower) > 0).all()
    # an event followed across k: its partons change only by the branching (one more parton each time)
    event = z_snapshots.event_id[3][0]
    rows = [np.flatnonzero(z_snapshots.event_id[k] == event)[0] for k in (1, 2, 3)]
    assert [len(z_snapshots.momenta[k][r]) for k, r in zip((1, 2, 3), rows)] == [3, 4, 5]


def test_last_snapshot_is_pythias_final_partons(z_snapshots, z_config):
    """Rerun the same seed and compare each event's deepest snapshot with the record's final partons."""
    pythia = make_pythia(pythia_settings(z_config, seed=11))
    for event_id in range(40):
        assert pythia.next()
        final = np.array([(p.e(), p.px(), p.py(), p.pz()) for p in pythia.event if p.isFinal()])
        assert all(p.idAbs() in (1, 2, 3, 4, 5, 21) for p in pythia.event if p.isFinal())
        n_branchings = len(final) - 2
        assert n_branchings == sum(p.statusAbs() == 51 for p in pythia.event) // 2
        if n_branchings == 0:
            assert event_id not in z_snapshots.event_id[1]
            continue
        ids = z_snapshots.event_id[n_branchings]
        np.testing.assert_array_equal(z_snapshots.momenta[n_branchings][np.flatnonzero(ids == event_id)[0]], final)
        assert event_id not in z_snapshots.event_id[n_branchings + 1]


def test_same_seed_same_arrays(z_snapshots, z_config):
    config = dataclasses.replace(z_config, k_max=8)
    again = generate_snapshots(config, 150, seed=11)
    other = generate_snapshots(config, 150, seed=12)
    for k in range(1, 9):
        np.testing.assert_array_equal(again.momenta[k], z_snapshots.momenta[k])
        np.testing.assert_array_equal(again.event_id[k], z_snapshots.event_id[k])
    assert not np.array_equal(other.momenta[1][:10], again.momenta[1][:10])


def test_momentum_violation_fails_the_run(monkeypatch, tmp_path, z_config):
    def corrupted(event):
        status, mother1, mother2, momenta = read_record(event)
        momenta[-1, 3] += 0.5  # the last entry is a final parton of the last branching
        return status, mother1, mother2, momenta

    monkeypatch.setattr(shower_generate, "read_record", corrupted)
    with pytest.raises(MomentumError, match=r"event 0, k = \d+: .*max 0\.5 >"):
        generate_snapshots(z_config, 5, seed=1)
    out = tmp_path / "bad.h5"
    assert main(["--config", f"{SHOWER_CONFIGS}/z_qq.yaml", "--events", "5", "--out", str(out)]) == 2
    assert not out.exists() and not list(tmp_path.iterdir())


def born_ids(config, n_events: int, seed: int) -> np.ndarray:
    """PDG ids [n_events, 2] of the Born partons (|status| 23) of ``n_events`` events of ``config``."""
    pythia = make_pythia(pythia_settings(config, seed))
    ids = []
    for _ in range(n_events):
        assert pythia.next()
        ids.append([p.id() for p in pythia.event if p.statusAbs() == 23])
    return np.asarray(ids)


def test_z_qq_has_all_five_flavours_at_jsls_rates_and_light_only_none():
    """z_qq is JSL's sample (u, d, s, c, b; about 39 % c or b at the Z pole); z_qq_light keeps d, u, s."""
    flavours = np.abs(born_ids(load_shower_config(f"{SHOWER_CONFIGS}/z_qq.yaml"), 300, seed=2))
    assert (flavours[:, 0] == flavours[:, 1]).all() and set(np.unique(flavours)) == {1, 2, 3, 4, 5}
    heavy = np.isin(flavours[:, 0], (4, 5)).mean()
    assert 0.27 < heavy < 0.51  # R_c + R_b = 0.39; binomial sd at 300 events: 0.03
    light = np.abs(born_ids(load_shower_config(f"{SHOWER_CONFIGS}/z_qq_light.yaml"), 300, seed=2))
    assert set(np.unique(light)) == {1, 2, 3}


def test_z_qq_700_is_photon_dominated():
    """gamma*/Z interference on: at 700 GeV the photon (charge^2) makes up-type quarks the majority, where the Z
    alone would give them about a third of the events."""
    flavours = np.abs(born_ids(load_shower_config(f"{SHOWER_CONFIGS}/z_qq_700.yaml"), 300, seed=3))[:, 0]
    assert set(np.unique(flavours)) == {1, 2, 3, 4, 5}
    assert np.isin(flavours, (2, 4)).mean() > 0.48  # about 0.6 with the photon, 0.34 with the Z alone


@pytest.mark.parametrize("quark, gluon, sqrt_s", [("z_qq", "h_gg", 91.188), ("z_qq_700", "h_gg_700", 700.0)])
def test_quark_and_gluon_processes_at_equal_sqrt_s(quark, gluon, sqrt_s):
    """As JSL compares them: q qbar and g g Born states at one sqrt(s), the gluons from an H of mass sqrt(s)."""
    for name, born in ((quark, {1, 2, 3, 4, 5}), (gluon, {21})):
        config = load_shower_config(f"{SHOWER_CONFIGS}/{name}.yaml", k_max=5)
        assert config.sqrt_s == sqrt_s and set(np.unique(np.abs(born_ids(config, 40, seed=3)))) <= born
        snapshots = generate_snapshots(config, 20, seed=3)
        np.testing.assert_allclose(snapshots.momenta[5].sum(axis=1), [[sqrt_s, 0, 0, 0]] * len(snapshots.momenta[5]),
                                   atol=1e-6 * sqrt_s)
        assert snapshots.n_dropped == 0
    assert generate_snapshots(config, 20, seed=3).counts()[5] == 20  # gluon showers are deep


# --- the HDF5 contract -------------------------------------------------------------------------------

def test_file_round_trip_and_info(z_snapshots, tmp_path):
    path = write_snapshots(tmp_path / "z.h5", z_snapshots)
    for k in (1, 7, 60):
        momenta, event_id = read_snapshots(path, k)
        assert momenta.dtype == np.float64 and event_id.dtype == np.int64
        np.testing.assert_array_equal(momenta, z_snapshots.momenta[k])
        np.testing.assert_array_equal(event_id, z_snapshots.event_id[k])
    info = snapshot_info(path)
    assert info["process"] == "z_qq" and info["sqrt_s"] == 91.188 and info["seed"] == 11 and info["level"] == "parton"
    assert info["n_events"] == 150 and info["k_max"] == 60 and info["tolerance"] == 1e-6
    assert info["settings"] == z_snapshots.settings and info["settings"][-1].startswith("Random:seed = ")
    assert info["counts"] == z_snapshots.counts() and info["n_dropped"] == 0
    assert isinstance(info["pythia_version"], str) and info["pythia_version"].startswith("8.3")


def test_reader_errors_name_path_and_k(z_snapshots, tmp_path):
    path = write_snapshots(tmp_path / "z.h5", dataclasses.replace(
        z_snapshots, k_max=4, momenta={k: z_snapshots.momenta[k] for k in range(1, 5)}))
    with pytest.raises(SnapshotError, match=r"z\.h5: no snapshots for k = 5; available: k = 1 \.\. 4"):
        read_snapshots(path, 5)
    with pytest.raises(SnapshotError, match="k = 0"):
        read_snapshots(path, 0)
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        read_snapshots(tmp_path / "missing.h5", 1)
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        snapshot_info(tmp_path / "missing.h5")
    (tmp_path / "junk.h5").write_text("not hdf5")
    with pytest.raises(SnapshotError, match="junk.h5: unreadable"):
        read_snapshots(tmp_path / "junk.h5", 1)


def test_writer_refuses_inconsistent_arrays(z_snapshots, tmp_path):
    ids = dict(z_snapshots.event_id)
    ids[2] = np.append(ids[2][1:], 10_000)  # an event at k = 2 that was never generated
    with pytest.raises(SnapshotError, match="k = 2: event_id must be ascending in"):
        write_snapshots(tmp_path / "bad.h5", dataclasses.replace(z_snapshots, event_id=ids))
    momenta = dict(z_snapshots.momenta)
    momenta[3] = momenta[3][:, :4]
    with pytest.raises(SnapshotError, match=r"k = 3: momenta .* do not match \[n_k, 5, 4\]"):
        write_snapshots(tmp_path / "bad.h5", dataclasses.replace(z_snapshots, momenta=momenta))
    assert not list(tmp_path.iterdir())


# --- configs and the CLI -----------------------------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ("name: x\nsqrt_s: 91.0\nk_max: 3\ntolerance: 1.0e-6\nsettings: []\n", "<top level>: 'description' is a required property"),
    ("name: x\ndescription: d\nsqrt_s: -1\nk_max: 3\ntolerance: 1.0e-6\nsettings: []\n", "sqrt_s: -1 is less than or equal to the minimum of 0"),
    ("name: x\ndescription: d\nsqrt_s: 91\nk_max: 3\ntolerance: 1.0e-6\nsettings: ['Random:seed = 4']\n",
     "'Random:seed = 4' is set by the generator"),
    ("name: x\ndescription: d\nsqrt_s: 91\nk_max: 3\ntolerance: 1.0e-6\nsettings: ['hadronlevel:all=on']\n",
     "'hadronlevel:all=on' is set by the generator"),
    ("name: x\ndescription: d\nsqrt_s: 91\nk_max: 3\ntolerance: 1.0e-6\nsettings: []\nextra: 1\n", "extra: unknown key"),
    ("name: x\ndescription: d\nsqrt_s: 91\ntolerance: 1.0e-6\nsettings: []\n", "k_max: required at parton level"),
    ("name: x\ndescription: d\nsqrt_s: 91\nlevel: hadron\nk_max: 3\ntolerance: 1.0e-6\nsettings: []\n",
     "k_max: has no meaning at level: hadron"),
    ("name: x\ndescription: d\nsqrt_s: 91\nlevel: hadrons\ntolerance: 1.0e-6\nsettings: []\n",
     "level: 'hadrons' is not one of"),
    ("name: x\ndescription: d\nsqrt_s: 91\nlevel: hadron\ntolerance: 1.0e-6\nsettings: ['PartonLevel:MPI = on']\n",
     "'PartonLevel:MPI = on' is set by the generator"),
])
def test_config_errors_name_file_and_key(tmp_path, text, message):
    path = tmp_path / "proc.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_shower_config(path)
    assert str(path) in str(err.value) and message in str(err.value)


SHIPPED = {"z_qq": "parton", "z_qq_light": "parton", "z_qq_700": "parton", "h_gg": "parton", "h_gg_700": "parton",
           "z_qq_hadron": "hadron", "h_gg_hadron": "hadron"}


def test_shipped_configs_load_with_generator_settings_last():
    assert {path.stem for path in Path(SHOWER_CONFIGS).glob("*.yaml")} == set(SHIPPED)
    for name, level in SHIPPED.items():
        config = load_shower_config(f"{SHOWER_CONFIGS}/{name}.yaml")
        assert config.name == name and config.level == level and (config.k_max is None) == (level == "hadron")
        assert level == "hadron" or config.k_max >= 20
        settings = pythia_settings(config, seed=0)
        assert settings[-1] == f"Random:seed = {shower_generate.derive_seed(0)}"  # never 0 (= time-based)
        hadronization = "HadronLevel:all = on" if level == "hadron" else "HadronLevel:all = off"
        assert f"Beams:eCM = {config.sqrt_s!r}" in settings and hadronization in settings
        assert "25:m0" not in str(settings) or f"25:m0 = {config.sqrt_s:g}" in settings  # the H sits at sqrt(s)
    with pytest.raises(ConfigError, match="k_max: 0 is less than the minimum of 1"):
        load_shower_config(f"{SHOWER_CONFIGS}/z_qq.yaml", k_max=0)


def test_cli_writes_a_reproducible_file(tmp_path, capsys):
    args = ["--config", f"{SHOWER_CONFIGS}/z_qq.yaml", "--events", "30", "--seed", "4", "--k-max", "6"]
    assert main([*args, "--out", str(tmp_path / "a.h5")]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main([*args, "--out", str(tmp_path / "b.h5")]) == 0
    info = snapshot_info(tmp_path / "a.h5")
    assert info["k_max"] == 6 and info["n_events"] == 30 and info["seed"] == 4
    for k in range(1, 7):
        for a, b in zip(read_snapshots(tmp_path / "a.h5", k), read_snapshots(tmp_path / "b.h5", k)):
            np.testing.assert_array_equal(a, b)
    assert info["settings"] == snapshot_info(tmp_path / "b.h5")["settings"]
    assert main(["--config", str(tmp_path / "none.yaml"), "--events", "3", "--out", str(tmp_path / "c.h5")]) == 2
    assert "none.yaml: shower config not found" in capsys.readouterr().err


def test_a_missing_file_is_generated_once_by_racing_jobs(monkeypatch, tmp_path):
    """ensure_snapshots: the file a sweep's points share is made by one of them, then read by all."""
    import threading

    from jetscale.data.shower.generate import ensure_snapshots

    calls = []
    real = shower_generate.generate_snapshots

    def counted(config, n_events, seed, **options):
        calls.append(n_events)
        return real(config, n_events, seed, **options)

    monkeypatch.setattr(shower_generate, "generate_snapshots", counted)
    target = tmp_path / "shower" / "z.h5"
    threads = [threading.Thread(target=ensure_snapshots, args=(target, "z_qq", 30, 4)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [30]
    assert main(["--config", "z_qq", "--events", "30", "--seed", "4", "--out", str(tmp_path / "cli.h5")]) == 0
    for k in (1, 3):
        np.testing.assert_array_equal(read_snapshots(target, k)[0], read_snapshots(tmp_path / "cli.h5", k)[0])


def test_an_existing_file_of_other_settings_is_refused_naming_them(tmp_path):
    from jetscale.data.shower.generate import ensure_snapshots

    target = tmp_path / "z.h5"
    ensure_snapshots(target, "z_qq", 20, 1)
    assert ensure_snapshots(target, "z_qq", 20, 1) == target  # the same request reads it
    with pytest.raises(ValueError, match=r"n_events=20, seed=1, but data.generate asks for n_events=30, seed=2"):
        ensure_snapshots(target, "z_qq", 30, 2)
    with pytest.raises(ValueError, match=r"process='z_qq'.*process='h_gg'"):
        ensure_snapshots(target, "h_gg", 20, 1)


def test_an_edited_config_never_reuses_an_older_file(tmp_path):
    """A file keyed by the process name alone would survive a change of the config (as z_qq's did in issue 18):
    every Pythia setting is compared, and the message names the lines that differ."""
    from jetscale.data.shower.generate import ensure_snapshots

    config, target = tmp_path / "z_qq.yaml", tmp_path / "z.h5"
    text = Path(SHOWER_CONFIGS, "z_qq.yaml").read_text()
    config.write_text(text.replace('"23:onIfAny = 1 2 3 4 5"', '"23:onIfAny = 1 2 3"'))  # z_qq before issue 18
    ensure_snapshots(target, str(config), 20, 1)
    config.write_text(text)
    with pytest.raises(ValueError, match=r"holds settings \['23:onIfAny = 1 2 3'\], but data.generate asks for "
                                         r"settings \['23:onIfAny = 1 2 3 4 5'\]"):
        ensure_snapshots(target, str(config), 20, 1)
    with pytest.raises(ValueError, match="level 'hadron': the shower task trains on per-k parton snapshots"):
        ensure_snapshots(tmp_path / "h.h5", "z_qq_hadron", 20, 1)
    assert not (tmp_path / "h.h5").exists()
