"""The jet generator: pure selection functions, config and seeds, physics sanity of real Pythia jets,
determinism, a real `mpiexec -n 2` run, and interrupted runs leaving nothing a reader accepts."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import BIN

from jetscale.data.generate import register
from jetscale.data.generate.cli import parse_shards
from jetscale.data.generate.events import hadronic_tops, make_pythia
from jetscale.parallel import Ranks, launched_by_mpi
from jetscale.data.generate.run import generate, generate_jets, generate_shard, interleave
from jetscale.data.generate.selection import (
    JetCuts,
    contains_top,
    delta_r,
    four_momenta,
    in_window,
    pack_constituents,
    pt_eta_phi_e,
    pt_eta_phi_m,
    select_jets,
)
from jetscale.data.generate.settings import (
    SEED_MAX,
    ConfigError,
    derive_seed,
    load_config,
    pythia_settings,
    shard_seed,
)
from jetscale.data.shards import (
    ShardError,
    load_manifest,
    read_shard,
    shard_attrs,
    shard_name,
    shard_paths,
    write_manifest,
)

CUTS = JetCuts(pt_min=550.0, pt_max=650.0, eta_max=2.0, top_match_dr=0.8, max_jets=1)
TOP_MASS_WINDOW = (140.0, 200.0)


def small_config(*overrides: str):
    return load_config(overrides=["log_interval_s=0.5", *overrides])


def jets_from_shard(path) -> dict[str, np.ndarray]:
    return read_shard(path)


# ---------------------------------------------------------------- pure functions (hand-made inputs)

def test_kinematics_of_known_four_momenta():
    p4 = np.array([[100.0, 0.0, 0.0, 100.0],                              # massless along +x
                   [0.0, -30.0, 40.0, np.sqrt(30**2 + 40**2 + 172.5**2)]])  # massive, φ = -π/2
    jets = pt_eta_phi_m(p4)
    np.testing.assert_allclose(jets[0], [100.0, 0.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(jets[1], [30.0, np.arcsinh(40 / 30), -np.pi / 2, 172.5], rtol=1e-12)
    np.testing.assert_allclose(four_momenta(pt_eta_phi_e(p4)), p4, atol=1e-9)


def test_delta_r_wraps_phi():
    assert delta_r(0.0, np.pi - 0.1, 0.0, -np.pi + 0.1) == pytest.approx(0.2)
    assert delta_r(1.0, 0.0, -2.0, 4.0) == pytest.approx(np.hypot(3.0, 4.0 - 2 * np.pi))


def test_window_cuts_are_exclusive():
    jets = np.array([[550.0, 0.0, 0.0, 10.0], [600.0, 1.99, 0.0, 10.0], [600.0, -2.0, 0.0, 10.0],
                     [649.9, 0.0, 1.0, 10.0], [650.0, 0.0, 1.0, 10.0]])
    assert in_window(jets, CUTS).tolist() == [False, True, False, True, False]


def test_top_containment_needs_the_top_and_all_three_quarks_across_the_phi_seam():
    jet = np.array([[600.0, 0.0, np.pi - 0.05, 175.0]])
    inside = np.array([[0.0, -np.pi + 0.05], [0.3, np.pi - 0.3], [-0.4, -np.pi + 0.2], [0.0, np.pi - 0.7]])
    assert contains_top(jet, inside[None], 0.8).tolist() == [True]
    one_quark_out = inside.copy()
    one_quark_out[3] = [0.0, np.pi - 0.9]                      # ΔR = 0.85
    assert contains_top(jet, one_quark_out[None], 0.8).tolist() == [False]
    assert contains_top(jet, np.stack([one_quark_out, inside]), 0.8).tolist() == [True]  # either top
    assert contains_top(jet, np.empty((0, 4, 2)), 0.8).tolist() == [False]


def test_select_jets_keeps_the_hardest_passing_jets_up_to_the_limit():
    jets = np.array([[700.0, 0.0, 0.0, 1.0], [640.0, 0.0, 0.0, 1.0], [600.0, 2.5, 0.0, 1.0], [560.0, 0.0, 3.0, 1.0]])
    assert select_jets(jets, CUTS).tolist() == [1]
    assert select_jets(jets, JetCuts(**{**CUTS.__dict__, "max_jets": 5})).tolist() == [1, 3]
    top_near_jet_3 = np.tile([0.0, 3.0], (1, 4, 1))
    assert select_jets(jets, CUTS, top_near_jet_3).tolist() == [3]
    assert select_jets(jets, CUTS, np.empty((0, 4, 2))).tolist() == []


def test_pack_constituents_orders_pads_and_truncates():
    p4 = np.array([[1.0, 0.0, 0.0, 1.0], [0.0, 5.0, 1.0, 6.0], [3.0, 0.0, -2.0, 4.0]])
    packed, n = pack_constituents(p4, 5)
    assert packed.dtype == np.float32 and packed.shape == (5, 4) and n == 3
    np.testing.assert_allclose(packed[:3, 0], [5.0, 3.0, 1.0])
    assert not packed[3:].any()
    np.testing.assert_allclose(four_momenta(packed[:3]), p4[[1, 2, 0]], atol=1e-5)
    truncated, n = pack_constituents(p4, 2)
    assert n == 2 and truncated[:, 0].tolist() == [5.0, 3.0]
    empty, n = pack_constituents(np.empty((0, 4)), 3)
    assert n == 0 and not empty.any()


def test_interleave_cycles_through_processes():
    top = {"label": np.ones(3, np.int8), "jet": np.arange(12.0).reshape(3, 4)}
    qcd = {"label": np.zeros(3, np.int8), "jet": -np.arange(12.0).reshape(3, 4)}
    mixed = interleave([top, qcd])
    assert mixed["label"].tolist() == [1, 0, 1, 0, 1, 0]
    np.testing.assert_array_equal(mixed["jet"][::2], top["jet"])
    np.testing.assert_array_equal(mixed["jet"][1::2], qcd["jet"])


# ---------------------------------------------------------------- config, seeds, ranks, CLI parsing

def test_seeds_are_in_pythia_range_deterministic_and_distinct():
    seeds = [shard_seed(base, shard) for base in (0, 1, 2**40) for shard in range(200)]
    assert all(1 <= s <= SEED_MAX for s in seeds)
    assert len(set(seeds)) == len(seeds)
    assert shard_seed(7, 3) == shard_seed(7, 3) == derive_seed(7, 3)
    with pytest.raises(ConfigError):
        derive_seed(-1, 0)


def test_pythia_settings_come_from_the_config_with_the_seed_last():
    config = small_config("mpi=true", "pthat_max=700")
    settings = pythia_settings(config.generator, "top", 12345)
    assert "Beams:eCM = 14000" in settings and "PartonLevel:MPI = on" in settings
    assert "PhaseSpace:pTHatMin = 500" in settings and "PhaseSpace:pTHatMax = 700" in settings
    assert "Top:gg2ttbar = on" in settings and "HardQCD:all = on" not in settings
    assert settings[-2:] == ["Random:setSeed = on", "Random:seed = 12345"]
    assert "PartonLevel:MPI = off" in pythia_settings(small_config().generator, "qcd", 1)  # off by default


@pytest.mark.parametrize("override, message", [
    ("jet_radius=1.0", "generator.jet_radius"),
    ("jet_r=wide", "generator.jet_r"),
    ("clustering=antikt", "generator.clustering"),
    ("jets_per_shard=7", "generator.jets_per_shard"),
    ("jet_pt_max=500", "generator.jet_pt_max"),
    ("processes.top.label=2", "generator.processes.top.label"),
    ("nonsense", "KEY=VALUE"),
])
def test_bad_settings_fail_naming_the_file_and_key(override, message):
    with pytest.raises(ConfigError, match=message) as err:
        load_config(overrides=[override])
    assert "jets_pythia.yaml" in str(err.value)


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nothere.yaml"):
        load_config(tmp_path / "nothere.yaml")
    (tmp_path / "partial.yaml").write_text("dataset: x\ngenerator:\n  jet_r: 0.8\n")
    with pytest.raises(ConfigError, match=r"partial.yaml:\n(.*\n)*  generator: 'n_shards' is a required property"):
        load_config(tmp_path / "partial.yaml")


def test_shard_ranges_and_rank_shares():
    assert parse_shards("0-3") == [0, 1, 2, 3]
    assert parse_shards("5") == [5]
    assert parse_shards("0,4,7-8") == [0, 4, 7, 8]
    for bad in ("a-b", "3-1", "1,1"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_shards(bad)
    assert Ranks(rank=1, size=3).share(list(range(8))) == [1, 4, 7]
    assert launched_by_mpi({"PMI_SIZE": "2", "PMI_RANK": "0"}) and launched_by_mpi({"OMPI_COMM_WORLD_SIZE": "4"})
    assert not launched_by_mpi({"PATH": "/bin"})
    # Snakemake's Slurm plugin: `srun -n1 snakemake` leaves PMI_SIZE=1 (and a PMI_FD the rule never gets)
    assert not launched_by_mpi({"PMI_SIZE": "1", "PMI_RANK": "0", "PMI_FD": "11"})


def test_a_rejected_pythia_setting_is_named():
    with pytest.raises(ValueError, match="Nonsense:flag = on"):
        make_pythia(["Print:quiet = on", "Nonsense:flag = on"])


# ---------------------------------------------------------------- real Pythia jets

@pytest.fixture(scope="module")
def shard(tmp_path_factory):
    """One 400-jet shard (200 top, 200 QCD) with the default settings."""
    out = tmp_path_factory.mktemp("jets")
    generate(small_config("jets_per_shard=400"), [0], out)
    return out / shard_name(0)


def test_top_event_record_gives_two_hadronic_tops_qcd_none():
    config = small_config()
    top = make_pythia(pythia_settings(config.generator, "top", 5))
    assert top.next()
    tops = hadronic_tops(top.event)
    assert tops.shape == (2, 4, 2) and np.isfinite(tops).all()
    qcd = make_pythia(pythia_settings(config.generator, "qcd", 5))
    assert qcd.next() and hadronic_tops(qcd.event).shape == (0, 4, 2)


def test_jets_pass_the_cuts_and_classes_are_balanced_and_interleaved(shard):
    jets = jets_from_shard(shard)
    pt, eta, phi = jets["jet"][:, 0], jets["jet"][:, 1], jets["jet"][:, 2]
    assert ((pt > 550) & (pt < 650)).all() and (np.abs(eta) < 2).all()
    assert ((phi > -np.pi - 1e-6) & (phi <= np.pi + 1e-6)).all()
    assert jets["label"].tolist() == [1, 0] * 200


def test_top_jets_show_the_top_mass_peak_qcd_jets_do_not(shard):
    jets = jets_from_shard(shard)
    mass, label = jets["jet"][:, 3], jets["label"]
    in_peak = (mass > TOP_MASS_WINDOW[0]) & (mass < TOP_MASS_WINDOW[1])
    assert in_peak[label == 1].mean() > 0.6      # ~0.85 expected
    assert in_peak[label == 0].mean() < 0.3      # ~0.1 expected
    assert np.median(mass[label == 1]) > 150 > np.median(mass[label == 0])


def test_constituents_are_pt_ordered_padded_and_add_up_to_the_jet(shard):
    jets = jets_from_shard(shard)
    constituents, n = jets["constituents"], jets["n_constituents"]
    assert constituents.shape[1:] == (200, 4) and n.min() > 0
    real = np.arange(200)[None, :] < n[:, None]
    assert (constituents[real][:, 0] > 0).all() and not constituents[~real].any()
    assert (np.diff(constituents[..., 0], axis=1) <= 0).all()  # hardest first, then zeros
    whole = n < 200                                # truncated jets cannot add up (none expected here)
    summed = pt_eta_phi_m(four_momenta(constituents[whole]).sum(axis=1))
    np.testing.assert_allclose(summed[:, 0], jets["jet"][whole, 0], rtol=1e-4)
    np.testing.assert_allclose(summed[:, 1], jets["jet"][whole, 1], atol=1e-4)
    np.testing.assert_allclose(summed[:, 3], jets["jet"][whole, 3], atol=0.05, rtol=1e-3)


def test_shard_attributes_record_how_it_was_made(shard):
    attrs = shard_attrs(shard)
    settings = attrs["settings"]
    assert attrs["generator"] == "pythia8" and attrs["generator_version"] == "8.317.2"
    assert attrs["seed"] == shard_seed(settings["config"]["generator"]["base_seed"], 0)
    assert attrs["git_revision"]
    assert settings["pythia"]["top"][-1] == f"Random:seed = {settings['process_seeds']['top']}"
    assert settings["config"]["generator"]["clustering"] == "slowjet"
    assert load_manifest(shard.parent)["shards"][0]["n_signal"] == 200


def test_same_seed_same_arrays_other_shard_other_events(tmp_path):
    config = small_config("jets_per_shard=20")
    first = read_shard(generate_shard(config, 3, tmp_path / "a"))
    again = read_shard(generate_shard(config, 3, tmp_path / "b"))
    other = read_shard(generate_shard(config, 4, tmp_path / "c"))
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])
    assert not np.isin(first["jet"][:, 0], other["jet"][:, 0]).any()


def test_fastjet_and_slowjet_give_the_same_jets():
    config = small_config("jets_per_shard=20")
    for process in ("top", "qcd"):
        slow = generate_jets(config.generator, process, 8, seed=11)
        fast = generate_jets(small_config("clustering=fastjet").generator, process, 8, seed=11)
        for name in slow:
            np.testing.assert_allclose(fast[name], slow[name], rtol=1e-6, atol=1e-5)


def test_cli_subcommand_writes_shards_and_skips_current_ones(tmp_path):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    argv = ["generate", "--shard", "2", "--jets-per-shard", "10", "--seed", "9", "--out", str(tmp_path),
            "log_interval_s=0.5"]
    args = parser.parse_args(argv)
    assert args.func(args) == 0
    path = tmp_path / shard_name(2)
    assert shard_attrs(path)["seed"] == shard_seed(9, 2) and load_manifest(tmp_path)["total_jets"] == 10
    assert load_manifest(tmp_path)["dataset"] == tmp_path.name  # named after --out DIR, as `manifest` names it
    before = path.stat().st_mtime_ns
    args = parser.parse_args([*argv, "--skip-existing"])
    assert args.func(args) == 0 and path.stat().st_mtime_ns == before
    args = parser.parse_args(["generate", "--shard", "0", "--out", str(tmp_path), "jet_radius=1"])
    with pytest.raises(ConfigError, match="jet_radius"):
        args.func(args)


# ---------------------------------------------------------------- MPI and interruption

def test_mpiexec_two_ranks_write_two_shards_and_a_verified_manifest(tmp_path, cli_env):
    cmd = [str(BIN / "mpiexec"), "-n", "2", sys.executable, "-m", "jetscale.data.generate",
           "--shards", "0-1", "--jets-per-shard", "20", "--out", str(tmp_path), "log_interval_s=0.5"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=cli_env, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = load_manifest(tmp_path, verify=True)
    assert [s["file"] for s in manifest["shards"]] == [shard_name(0), shard_name(1)]
    assert manifest["total_jets"] == 40 and all(s["n_signal"] == 10 for s in manifest["shards"])
    assert "generate[1/2]" in proc.stderr and "rank 1/2: wrote 1 shards" in proc.stdout
    serial = read_shard(generate_shard(small_config("jets_per_shard=20"), 1, tmp_path / "serial"))
    np.testing.assert_array_equal(read_shard(tmp_path / shard_name(1))["jet"], serial["jet"])  # rank-independent


def test_a_failure_inside_the_loop_leaves_no_shard_and_no_manifest(tmp_path, monkeypatch):
    from jetscale.data.generate import run

    calls = {"n": 0}

    def failing_pack(p4, max_constituents):
        calls["n"] += 1
        if calls["n"] > 5:
            raise RuntimeError("simulated crash mid-shard")
        return pack_constituents(p4, max_constituents)

    monkeypatch.setattr(run, "pack_constituents", failing_pack)
    tmp_path.mkdir(exist_ok=True)
    with pytest.raises(RuntimeError, match="simulated crash"):
        generate(small_config("jets_per_shard=20"), [0], tmp_path)
    assert shard_paths(tmp_path) == [] and not (tmp_path / "manifest.json").exists()
    with pytest.raises(ShardError):
        write_manifest(tmp_path)


class FailedElsewhere:
    """A stand-in communicator whose other rank failed."""

    def Ibarrier(self):
        return type("Done", (), {"Test": lambda self: True})()

    def allreduce(self, value, op=None):
        return 0


def test_when_another_rank_fails_rank_0_writes_no_manifest(tmp_path):
    with pytest.raises(RuntimeError, match="another rank failed"):
        generate(small_config("jets_per_shard=4"), [0, 1], tmp_path, Ranks(rank=0, size=2, comm=FailedElsewhere()))
    assert [p.name for p in shard_paths(tmp_path)] == [shard_name(0)]  # its own shard is complete
    assert not (tmp_path / "manifest.json").exists()


def test_killing_a_generation_mid_shard_leaves_nothing_a_reader_accepts(tmp_path, cli_env):
    log = tmp_path / "generate.log"
    out = tmp_path / "jets"
    out.mkdir()
    cmd = [sys.executable, "-m", "jetscale.data.generate", "--shard", "0", "--jets-per-shard", "100000",
           "--out", str(out), "log_interval_s=0.2"]
    with open(log, "w") as stderr:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=stderr, env=cli_env)
        try:
            deadline = time.time() + 120
            while "jets/s" not in log.read_text() and proc.poll() is None and time.time() < deadline:
                time.sleep(0.1)
            assert proc.poll() is None, log.read_text()[-2000:]
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait(timeout=30)
    assert "jets/s" in log.read_text()
    assert shard_paths(out) == [] and all(p.name.endswith(".tmp") for p in out.iterdir())
    with pytest.raises(ShardError):
        write_manifest(out)


# ---------------------------------------------------------------- bigger samples (slow)

@pytest.mark.slow
@pytest.mark.parametrize("mpi", [False, True])
def test_top_mass_peak_on_a_large_sample(tmp_path, mpi):
    config = small_config("jets_per_shard=2000", f"mpi={str(mpi).lower()}")
    jets = read_shard(generate_shard(config, 0, tmp_path))
    mass, label = jets["jet"][:, 3], jets["label"]
    in_peak = (mass > TOP_MASS_WINDOW[0]) & (mass < TOP_MASS_WINDOW[1])
    assert in_peak[label == 1].mean() > 0.75
    assert in_peak[label == 0].mean() < 0.2
    assert 165 < np.median(mass[label == 1]) < 185
