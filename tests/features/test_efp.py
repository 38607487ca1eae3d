"""EFPs per jet and per shard: the energyflow set, physics checks, padding, cache reuse and atomic writes.

The jets here are documented fakes (:func:`toy_jets`): massless particles (E = pT cosh eta)
in Gaussian clusters around a jet axis; one-prong jets have one cluster, two-prong jets a
second one at Delta R = 0.4 carrying ~40 % of the pT, roughly like a boosted W -> qq.
"""

import argparse
import json

import h5py
import numpy as np
import pytest

from jetscale.data.efp_cache import efp_cache_path, read_efp_cache
from jetscale.data.shards import ShardError, shard_name, write_shard
from jetscale.features import efp as efp_module
from jetscale.features.efp import cache_shard_efps, compute_efps, efp_set, n_efps, register
from jetscale.physics.kinematics import rapidity


def toy_jets(n, prongs=1, n_max=30, seed=0, width=0.05, separation=0.4):
    """Fake jets: constituents [n, n_max, 4] (pT, eta, phi, E), zero-padded, pT-ordered."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(8, n_max + 1, n)
    constituents = np.zeros((n, n_max, 4), np.float32)
    for i, m in enumerate(counts):
        second = rng.random(m) < (0.4 if prongs == 2 else 0.0)
        pt = rng.exponential(20.0, m) + 1.0
        eta = rng.normal(0.0, width, m) + np.where(second, separation, 0.0)
        phi = rng.normal(0.0, width, m)
        order = np.argsort(pt)[::-1]
        constituents[i, :m] = np.stack([pt, eta, phi, pt * np.cosh(eta)], axis=1)[order]
    return constituents, counts


def toy_shard(path, n=40, seed=0, n_max=30):
    """A shard of ``n`` toy jets, half one-prong (label 0) and half two-prong (label 1)."""
    one, n_one = toy_jets(n // 2, 1, n_max, seed)
    two, n_two = toy_jets(n - n // 2, 2, n_max, seed + 1)
    constituents = np.concatenate([one, two])
    counts = np.concatenate([n_one, n_two])
    jet = np.zeros((n, 4), np.float32)
    jet[:, 0] = constituents[:, :, 0].sum(axis=1)
    arrays = {"constituents": constituents, "n_constituents": counts, "jet": jet,
              "label": np.r_[np.zeros(len(one)), np.ones(len(two))]}
    return write_shard(path, arrays, {"generator": "toy", "seed": seed})


def toy_shard_arrays(path):
    with h5py.File(path, "r") as handle:
        return handle["constituents"][()], handle["n_constituents"][()]


def edge_column():
    """Index of the one-edge EFP sum_ij z_i z_j theta_ij in the d <= 5 set."""
    graphs = list(efp_set(5, 1.0).graphs())
    return next(i for i, g in enumerate(graphs) if list(map(tuple, g)) == [(0, 1)])


def test_d5_set_has_102_efps_with_the_constant_first():
    assert n_efps(5) == 102  # energyflow's count for d <= 5 (1000 for d <= 7)
    constituents, counts = toy_jets(5)
    values = compute_efps(constituents, counts)
    assert values.shape == (5, 102) and values.dtype == np.float64 and np.all(np.isfinite(values))
    np.testing.assert_allclose(values[:, 0], 1.0)  # the d = 0 graph: sum_i z_i = 1 when normed
    assert compute_efps(constituents[:1], counts[:1]).shape == (1, 102)  # energyflow squeezes one jet


def test_one_edge_efp_is_the_pt_weighted_angular_sum():
    constituents, counts = toy_jets(3, prongs=2, seed=4)
    values = compute_efps(constituents, counts, beta=0.5)[:, edge_column()]
    for jet, m, value in zip(constituents.astype(float), counts, values, strict=True):
        pt, phi, y = jet[:m, 0], jet[:m, 2], rapidity(jet[:m, 0], jet[:m, 1], jet[:m, 3])
        z = pt / pt.sum()
        theta = np.hypot(y[:, None] - y, phi[:, None] - phi) ** 0.5
        assert value == pytest.approx(z @ theta @ z, rel=1e-12)


def test_rapidity_from_pt_eta_e():
    pt, eta, mass = np.array([10.0, 5.0, 50.0, 0.0]), np.array([0.3, -2.0, 1.0, 0.0]), np.array([0.0, 0.0, 20.0, 0.0])
    pz = pt * np.sinh(eta)
    energy = np.sqrt(pt**2 + pz**2 + mass**2)
    with np.errstate(invalid="ignore"):
        expected = np.where(pt > 0, 0.5 * np.log((energy + pz) / (energy - pz)), 0.0)  # 0 for padding
    np.testing.assert_allclose(rapidity(pt, eta, energy), expected, atol=1e-12)
    np.testing.assert_allclose(rapidity(pt[:2], eta[:2], energy[:2] * (1 - 1e-7)), eta[:2], atol=1e-12)  # rounding


def test_padding_is_dropped_whatever_it_holds():
    constituents, counts = toy_jets(6, seed=2)
    wider = np.zeros((6, 50, 4), np.float32)
    wider[:, :30] = constituents
    noisy = wider.copy()
    for i, m in enumerate(counts):
        noisy[i, m:] = 7.0  # junk beyond n_constituents must not matter
    reference = compute_efps(constituents, counts)
    np.testing.assert_array_equal(compute_efps(wider, counts), reference)
    np.testing.assert_array_equal(compute_efps(noisy, counts), reference)


def test_efps_separate_two_prong_from_one_prong_jets():
    one = compute_efps(*toy_jets(60, 1, seed=10))[:, edge_column()]
    two = compute_efps(*toy_jets(60, 2, seed=11))[:, edge_column()]
    auc = (two[:, None] > one[None, :]).mean()  # P(two-prong value > one-prong value)
    assert auc > 0.98 and np.median(two) > 2 * np.median(one)


def test_bad_options_and_empty_jets_are_refused(tmp_path):
    with pytest.raises(ValueError, match="dmax"):
        n_efps(8)
    with pytest.raises(ValueError, match="beta"):
        n_efps(5, 0.0)
    path = toy_shard(tmp_path / shard_name(0), n=6)
    with h5py.File(path, "r") as handle:
        arrays = {name: handle[name][()] for name in handle}
    arrays["n_constituents"][4] = 0
    write_shard(path, arrays, {})
    with pytest.raises(ShardError, match=r"shard-00000\.h5.*without constituents"):
        cache_shard_efps(path)


def test_cache_sits_next_to_the_shard_and_records_its_provenance(tmp_path):
    shard = toy_shard(tmp_path / shard_name(3), n=20)
    cache = cache_shard_efps(shard, dmax=3, beta=1.0)
    assert cache == efp_cache_path(shard, 3, 1.0) == tmp_path / "shard-00003.efp-d3-b1.h5"
    assert efp_cache_path(shard, 5, 0.5).name == "shard-00003.efp-d5-b0.5.h5"
    rows = read_efp_cache(cache)
    constituents, counts = toy_shard_arrays(shard)
    np.testing.assert_allclose(rows["efp"], compute_efps(constituents, counts, dmax=3))
    assert rows["label"].tolist() == [0] * 10 + [1] * 10
    with h5py.File(cache, "r") as handle:
        attrs = dict(handle.attrs)
        assert handle["specs"].shape == (n_efps(3), 8)
    assert attrs["dmax"] == 3 and attrs["beta"] == 1.0 and attrs["measure"] == "hadr" and attrs["normed"]
    assert attrs["n_efps"] == n_efps(3) and attrs["energyflow_version"] and attrs["source_file"] == shard.name
    assert len(attrs["source_sha256"]) == 64 and json.loads(attrs["graphs"])[:2] == [[], [[0, 1]]]
    assert set(attrs) == {"dmax", "beta", "measure", "normed", "kappa", "coords", "angle", "n_efps", "spec_columns",
                          "graphs", "energyflow_version", "source_file", "source_sha256"}
    assert (attrs["kappa"], attrs["coords"]) == (1, "ptyphim") and attrs["angle"] == "rapidity y from (pT, eta, E)"
    assert attrs["spec_columns"] == ",".join(efp_set(3, 1.0).cols)


def test_cache_is_reused_until_the_shard_changes(tmp_path, monkeypatch):
    shard = toy_shard(tmp_path / shard_name(0), n=16, seed=1)
    cache = cache_shard_efps(shard)
    first = read_efp_cache(cache)["efp"]

    def must_not_run(*args, **kwargs):
        raise AssertionError("the cache should have been reused")

    with monkeypatch.context() as patch:
        patch.setattr(efp_module, "compute_efps", must_not_run)
        assert cache_shard_efps(shard) == cache  # same shard, same settings: reused
    toy_shard(shard, n=16, seed=2)  # the shard changes: the cache is stale
    second = read_efp_cache(cache_shard_efps(shard))["efp"]
    assert second.shape == first.shape and not np.allclose(second, first)
    constituents, counts = toy_shard_arrays(shard)
    np.testing.assert_allclose(second, compute_efps(constituents, counts))


def test_a_failed_cache_write_keeps_the_old_cache_and_leaves_no_temporary(tmp_path, monkeypatch):
    shard = toy_shard(tmp_path / shard_name(0), n=8)
    cache = cache_shard_efps(shard)
    before = cache.read_bytes()
    toy_shard(shard, n=8, seed=5)

    def disk_full(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(h5py.Group, "create_dataset", disk_full)
    with pytest.raises(OSError, match="disk full"):
        cache_shard_efps(shard)
    assert cache.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [cache.name, shard.name]


def test_features_command(tmp_path, capsys):
    shard = toy_shard(tmp_path / shard_name(1), n=10)
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["features", "--shard", str(shard), "--dmax", "4", "--beta", "0.5"])
    assert args.func(args) == 0
    cache = tmp_path / "shard-00001.efp-d4-b0.5.h5"
    assert read_efp_cache(cache)["efp"].shape == (10, n_efps(4)) and str(cache) in capsys.readouterr().out
