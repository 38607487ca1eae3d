"""Kinematics, the Top Quark Tagging and JetNet readers, and `jetscale import-data`, on small files
written in exactly the public layouts and compared with hand-computed kinematics."""

from __future__ import annotations

import argparse
import math

import h5py
import numpy as np
import pandas as pd
import pytest

from jetscale.physics import kinematics as kin
from jetscale.data.jet_dataset import JetShardDataset
from jetscale.data.readers import import_dataset, jetnet, register, toptagging
from jetscale.data.shards import ShardError, load_manifest, read_shard, shard_attrs, shard_name, shard_paths

# -- kinematics ----------------------------------------------------------------------------------


def test_pt_eta_phi_known_values_and_padding():
    pt, eta, phi = kin.pt_eta_phi([3.0, 0.0, 0.0], [4.0, -12.0, 0.0], [0.0, 5.0, 0.0])
    np.testing.assert_allclose(pt, [5.0, 12.0, 0.0])
    np.testing.assert_allclose(eta, [0.0, math.asinh(5 / 12), 0.0])
    np.testing.assert_allclose(phi, [math.atan2(4, 3), -math.pi / 2, 0.0])


def test_cartesian_round_trip_and_massless_energy():
    rng = np.random.default_rng(0)
    pt, eta, phi = rng.uniform(1, 100, 50), rng.uniform(-3, 3, 50), rng.uniform(-np.pi, np.pi, 50)
    back = kin.pt_eta_phi(*kin.cartesian(pt, eta, phi))
    np.testing.assert_allclose(back, [pt, eta, phi], rtol=1e-12, atol=1e-12)
    px, py, pz = kin.cartesian(pt, eta, phi)
    np.testing.assert_allclose(kin.massless_energy(pt, eta), np.sqrt(px**2 + py**2 + pz**2))


def test_jet_mass_of_two_back_to_back_photons():
    photons = kin.constituents_from_cartesian([50.0, 50.0, 0.0], [50.0, -50.0, 0.0], [0, 0, 0], [0, 0, 0])
    jet = kin.jet_kinematics(photons)  # at rest: pT ~ 0 (φ is then meaningless), mass = 100
    np.testing.assert_allclose(jet[[kin.PT, kin.ETA, 3]], [0.0, 0.0, 100.0], atol=1e-12)
    assert kin.invariant_mass(1.0, 2.0, 0.0, 0.0) == 0.0  # spacelike from rounding -> clipped


def test_pack_constituents_orders_pads_and_truncates():
    c = np.array([[[1, 0.1, 0, 1], [7, 0.2, 0, 7], [9, 9, 9, 9], [3, 0.3, 0, 3]]], float)
    real = np.array([[True, True, False, True]])
    packed, n = kin.pack_constituents(c, real, 6)
    assert packed.shape == (1, 6, 4) and packed.dtype == np.float32 and n.tolist() == [3]
    np.testing.assert_array_equal(packed[0, :, kin.PT], [7, 3, 1, 0, 0, 0])
    assert not packed[0, 3:].any()
    cut, n_cut = kin.pack_constituents(c, real, 2)
    np.testing.assert_array_equal(cut[0, :, kin.PT], [7, 3])
    assert n_cut.tolist() == [2]


# -- Top Quark Tagging ------------------------------------------------------------------------------

# two hand-made jets, constituents as (E, px, py, pz), pT-ordered like the real files
TOP_JETS = [[(13.0, 0.0, -12.0, 5.0), (5.0, 3.0, 4.0, 0.0)], [(10.0, 6.0, 0.0, 8.0)]]
TOP_LABELS = [1, 0]


def toptagging_frame(jets, labels, width: int = 200) -> pd.DataFrame:
    """A DataFrame in the reference dataset's column layout (E_i, PX_i, PY_i, PZ_i, truth*, ttv, is_signal_new)."""
    values = np.zeros((len(jets), width, 4), np.float32)
    for j, constituents in enumerate(jets):
        values[j, : len(constituents)] = constituents
    columns = {f"{c}_{i}": values[:, i, k] for i in range(width) for k, c in enumerate(("E", "PX", "PY", "PZ"))}
    columns.update({name: np.zeros(len(jets), np.float32) for name in ("truthE", "truthPX", "truthPY", "truthPZ")})
    columns.update(ttv=np.zeros(len(jets), np.int64), is_signal_new=np.asarray(labels, np.int64))
    return pd.DataFrame(columns)


def random_jets(n: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    jets = []
    for _ in range(n):
        p = rng.normal(0, 20, (rng.integers(1, 30), 3))
        p = p[np.argsort(-np.hypot(p[:, 0], p[:, 1]))]
        jets.append([(float(np.linalg.norm(v)) + 0.1, *v) for v in p])
    return jets


def write_toptagging(path, jets, labels, fmt: str = "fixed"):
    toptagging_frame(jets, labels).to_hdf(path, key="table", format=fmt)
    return path


@pytest.mark.parametrize("fmt", ["fixed", "table"])
def test_toptagging_reader_matches_hand_computed_kinematics(tmp_path, fmt):
    path = write_toptagging(tmp_path / "train.h5", TOP_JETS, TOP_LABELS, fmt)
    (arrays,) = list(toptagging.read_chunks(path))
    c = arrays["constituents"]
    assert c.shape == (2, 200, 4) and c.dtype == np.float32
    assert arrays["n_constituents"].tolist() == [2, 1] and arrays["label"].tolist() == TOP_LABELS
    np.testing.assert_allclose(c[0, 0], [12.0, math.asinh(5 / 12), -math.pi / 2, 13.0], rtol=1e-6)
    np.testing.assert_allclose(c[0, 1], [5.0, 0.0, math.atan2(4, 3), 5.0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(c[1, 0], [6.0, math.asinh(8 / 6), 0.0, 10.0], rtol=1e-6)
    assert not c[0, 2:].any() and not c[1, 1:].any()
    # jet 0: sum (E, px, py, pz) = (18, 3, -8, 5); jet 1: a single massless particle
    np.testing.assert_allclose(arrays["jet"][0], [math.sqrt(73), math.asinh(5 / math.sqrt(73)),
                                                  math.atan2(-8, 3), math.sqrt(226)], rtol=1e-6)
    np.testing.assert_allclose(arrays["jet"][1], [6.0, math.asinh(8 / 6), 0.0, 0.0], rtol=1e-6, atol=1e-3)


def test_toptagging_reads_in_row_chunks(tmp_path, monkeypatch):
    path = write_toptagging(tmp_path / "val.h5", random_jets(7, seed=1), [0, 1] * 3 + [1])
    calls = []
    original = pd.HDFStore.select

    def recording(self, key, *args, **kwargs):
        calls.append((kwargs.get("start"), kwargs.get("stop")))
        return original(self, key, *args, **kwargs)

    monkeypatch.setattr(pd.HDFStore, "select", recording)
    chunks = list(toptagging.read_chunks(path, chunk_size=3))
    assert [len(c["label"]) for c in chunks] == [3, 3, 1]
    assert calls == [(0, 3), (3, 6), (6, 9)]


def test_toptagging_missing_columns_names_the_file(tmp_path):
    path = tmp_path / "bad.h5"
    toptagging_frame(TOP_JETS, TOP_LABELS).drop(columns=["PZ_7"]).to_hdf(path, key="table", format="fixed")
    with pytest.raises(ShardError, match=rf"{path} rows 0-2: not a top-tagging table.*PZ_7"):
        list(toptagging.read_chunks(path))
    pd.DataFrame({"x": [1.0]}).to_hdf(tmp_path / "other.h5", key="df")
    with pytest.raises(ShardError, match="no key 'table'"):
        list(toptagging.read_chunks(tmp_path / "other.h5"))


# -- JetNet -------------------------------------------------------------------------------------------


def write_jetnet(path, n_extra: int = 0):
    """Jet 0 is hand-made (two real particles and one masked one with junk values); the rest random."""
    rng = np.random.default_rng(2)
    n = 1 + n_extra
    particles = np.zeros((n, 30, 4), np.float32)
    particles[0, :3] = [[0.1, -0.2, 0.6, 1], [-0.3, 0.1, 0.3, 1], [0.5, 0.5, 0.05, 0]]
    jets = np.zeros((n, 4), np.float32)
    jets[0] = [500.0, 0.5, 80.0, 2]
    for j in range(1, n):
        k = rng.integers(1, 31)
        particles[j, :k] = np.c_[rng.normal(0, 0.2, (k, 2)), np.sort(rng.dirichlet(np.ones(k)))[::-1], np.ones(k)]
        jets[j] = [rng.uniform(400, 600), rng.normal(0, 1), rng.uniform(10, 200), k]
    with h5py.File(path, "w") as handle:
        handle["particle_features"], handle["jet_features"] = particles, jets
    return path


def test_jetnet_reader_matches_hand_computed_kinematics(tmp_path):
    path = write_jetnet(tmp_path / "t.hdf5")
    (arrays,) = list(jetnet.read_chunks(path))
    c = arrays["constituents"]
    assert c.shape == (1, 200, 4) and arrays["n_constituents"].tolist() == [2] and arrays["label"].tolist() == [1]
    np.testing.assert_allclose(c[0, 0], [300.0, 0.6, -0.2, 300 * math.cosh(0.6)], rtol=1e-6)
    np.testing.assert_allclose(c[0, 1], [150.0, 0.2, 0.1, 150 * math.cosh(0.2)], rtol=1e-6)
    assert not c[0, 2:].any()  # the masked particle became padding
    np.testing.assert_allclose(arrays["jet"][0], [500.0, 0.5, 0.0, 80.0])


def test_jetnet_native_width_chunks_and_labels(tmp_path):
    path = write_jetnet(tmp_path / "q.hdf5", n_extra=6)
    chunks = list(jetnet.read_chunks(path, chunk_size=3, max_constituents=30))
    assert [len(c["label"]) for c in chunks] == [3, 3, 1]
    assert chunks[0]["constituents"].shape == (3, 30, 4) and chunks[0]["label"].tolist() == [0, 0, 0]
    assert jetnet.label_for(path, 1) == 1 and jetnet.label_for(tmp_path / "t.hdf5") == 1
    with pytest.raises(ValueError, match=r"w.hdf5: cannot tell the label"):
        jetnet.label_for(tmp_path / "w.hdf5")
    with pytest.raises(ValueError, match="label must be 0"):
        jetnet.label_for(path, 2)


def test_jetnet_wrong_layout_names_the_file(tmp_path):
    path = tmp_path / "t.hdf5"
    with h5py.File(path, "w") as handle:
        handle["particle_features"], handle["jet_features"] = np.zeros((3, 30, 3)), np.zeros((3, 4))
    with pytest.raises(ShardError, match=rf"{path}: particle_features has shape \(3, 30, 3\)"):
        list(jetnet.read_chunks(path))


# -- import-data ---------------------------------------------------------------------------------------


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_import_toptagging_via_cli_round_trips_into_the_loader(tmp_path, capsys):
    jets, labels = TOP_JETS + random_jets(5, seed=3), TOP_LABELS + [1, 0, 1, 0, 0]
    source = write_toptagging(tmp_path / "test.h5", jets, labels)
    out = tmp_path / "jets" / "toptagging-test"
    assert run_cli("import-data", "--format", "toptagging", "--input", str(source), "--out", str(out),
                   "--jets-per-shard", "3") == 0
    assert "wrote 7 jets in 3 shards" in capsys.readouterr().out
    manifest = load_manifest(out)
    assert manifest["total_jets"] == 7 and [s["n_jets"] for s in manifest["shards"]] == [3, 3, 1]
    attrs = shard_attrs(out / shard_name(1))
    assert attrs["generator"] == "toptagging-import" and attrs["settings"]["source"] == "test.h5"
    assert attrs["settings"]["source_rows"] == [3, 6]
    direct = next(toptagging.read_chunks(source))
    stored = {name: np.concatenate([read_shard(p)[name] for p in shard_paths(out)]) for name in direct}
    for name in direct:
        np.testing.assert_array_equal(stored[name], direct[name])
    ds = JetShardDataset(out, n_jets=6)
    assert ds[1]["label"].item() == 1 and ds[1]["index"].item() == 0
    np.testing.assert_allclose(ds[1]["jet"][3].item(), math.sqrt(226), rtol=1e-6)


def test_import_jetnet_top_and_qcd_files_into_one_balanced_dataset(tmp_path):
    out = tmp_path / "jetnet30"
    top = import_dataset(write_jetnet(tmp_path / "t.hdf5", n_extra=4), "jetnet", out, jets_per_shard=2,
                         max_constituents=30)
    assert top["n_jets"] == 5 and top["n_shards"] == 3
    assert run_cli("import-data", "--format", "jetnet", "--input", str(write_jetnet(tmp_path / "q.hdf5", n_extra=2)),
                   "--out", str(out), "--jets-per-shard", "2", "--max-constituents", "30", "--append") == 0
    manifest = load_manifest(out)
    assert [s["n_signal"] for s in manifest["shards"]] == [2, 2, 1, 0, 0]
    assert [s["n_jets"] for s in manifest["shards"]] == [2, 2, 1, 2, 1]
    attrs = shard_attrs(out / shard_name(3))
    assert attrs["generator"] == "jetnet-import" and attrs["settings"]["source"] == "q.hdf5"
    assert attrs["settings"]["label"] == 0 and attrs["settings"]["source_rows"] == [0, 2]
    ds = JetShardDataset(out, n_jets=6)
    assert ds.width == 30 and ds.indices.tolist() == [5, 0, 6, 1, 7, 2]
    with pytest.raises(ValueError, match="its shards have 30 constituents, this import 200"):
        import_dataset(tmp_path / "q.hdf5", "jetnet", out, append=True)


def test_import_refuses_bad_requests(tmp_path):
    source = write_toptagging(tmp_path / "train.h5", TOP_JETS, TOP_LABELS)
    with pytest.raises(ValueError, match="carry their own labels"):
        run_cli("import-data", "--format", "toptagging", "--input", str(source), "--out", str(tmp_path / "a"),
                "--label", "1")
    with pytest.raises(ValueError, match="unknown format"):
        import_dataset(source, "lhco", tmp_path / "b")
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        import_dataset(tmp_path / "missing.h5", "toptagging", tmp_path / "c")
    import_dataset(source, "toptagging", tmp_path / "d")
    with pytest.raises(ValueError, match=r"already holds a dataset.*--append"):
        import_dataset(source, "toptagging", tmp_path / "d")


def test_failed_import_leaves_no_shards(tmp_path):
    source = write_toptagging(tmp_path / "train.h5", random_jets(5, seed=4), [0, 1, 0, 2, 1])
    out = tmp_path / "out"
    with pytest.raises(ShardError, match="labels must be 0"):
        import_dataset(source, "toptagging", out, jets_per_shard=2)
    assert not list(out.iterdir())
