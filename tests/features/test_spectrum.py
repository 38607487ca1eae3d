"""Covariance accumulator, power-law fit of the eigen-spectrum, the label projection, the spectrum command,
its figure and MPI."""

import argparse
import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jetscale.data.efp_cache import efp_cache_path
from jetscale.data.moments import is_constant
from jetscale.data.shards import ShardError, read_shard, shard_name, shard_paths, write_shard
from jetscale.data.toy import ToyPowerLaw
from jetscale.features.covariance import (
    CovarianceAccumulator, constant_features, eigenvalues_desc, eigh_desc, split_target,
    standardized_covariance, standardized_target,
)
from jetscale.cli import main as cli_main
from jetscale.features.efp import cache_shard_efps, n_efps
from jetscale.features.spectrum import dataset_spectrum, register, spectrum_entry
from jetscale.fit.spectrum import default_k_max, fit_spectrum_exponent, fit_target_power
from jetscale.plots.spectrum import plot_spectrum
from test_efp import toy_jets, toy_shard

MPIEXEC = Path(sys.executable).parent / "mpiexec"


def rows(n=400, d=6, seed=0):
    """Correlated rows with means far above their spread (a cancellation trap for sum x x^T)."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + 1e4 * np.arange(1, d + 1)


def test_merging_parts_gives_the_whole_in_any_order_and_matches_numpy():
    x = rows()
    a, b, c = (CovarianceAccumulator.from_batch(part) for part in np.split(x, [50, 230]))
    whole = CovarianceAccumulator.from_batch(x)
    streamed = CovarianceAccumulator()
    for block in np.array_split(x, 7):
        streamed.update(block)
    for acc in (a.merge(b).merge(c), a.merge(b.merge(c)), c.merge(a).merge(b), streamed):
        assert acc.n == 400
        np.testing.assert_allclose(acc.mean, whole.mean, rtol=1e-13)
        np.testing.assert_allclose(acc.covariance(), whole.covariance(), rtol=1e-9)
    np.testing.assert_allclose(whole.covariance(), np.cov(x, rowvar=False), rtol=1e-10)
    np.testing.assert_allclose(whole.sum_outer, x.T @ x, rtol=1e-12)
    assert a.n == 50 and a.merge(CovarianceAccumulator()).n == 50  # merge is pure; empty is neutral


def test_accumulator_refuses_mismatched_or_bad_rows():
    acc = CovarianceAccumulator.from_batch(rows(d=4))
    with pytest.raises(ValueError, match="cannot merge 5 features into an accumulator of 4"):
        acc.update(rows(d=5))
    with pytest.raises(ValueError, match="non-finite"):
        acc.update(np.full((2, 4), np.nan))
    with pytest.raises(ValueError, match="more than 1 rows"):
        CovarianceAccumulator.from_batch(rows(n=1)).covariance()


def test_standardized_covariance_is_the_correlation_without_constant_features():
    x = rows(d=5)
    x[:, 2] = 1.0  # constant (the d = 0 EFP is one)
    x[:, 4] = 0.0  # an always-empty padding slot
    acc = CovarianceAccumulator.from_batch(x)
    assert constant_features(acc).tolist() == [False, False, True, False, True]
    corr, keep = standardized_covariance(acc)
    np.testing.assert_allclose(corr, np.corrcoef(x[:, keep], rowvar=False), rtol=1e-9)


def test_fit_recovers_the_exponent_of_an_exact_power_law():
    fit = fit_spectrum_exponent(3.0 * np.arange(1, 41.0) ** -1.3)
    assert fit["alpha"] == pytest.approx(1.3, abs=1e-12) and fit["amplitude"] == pytest.approx(3.0)
    assert fit["k_range"] == [2, 20] and fit["n_points"] == 19


def test_fit_recovers_alpha_from_gaussian_samples_within_its_interval():
    d, alpha = 60, 1.3
    rng = np.random.default_rng(1)
    rotation = np.linalg.qr(rng.normal(size=(d, d)))[0]
    x = (rng.normal(size=(40_000, d)) * np.arange(1, d + 1) ** (-alpha / 2)) @ rotation.T
    acc = CovarianceAccumulator()
    for block in np.array_split(x, 4):
        acc.update(block)
    fit = fit_spectrum_exponent(eigenvalues_desc(acc.covariance()))
    lo, hi = fit["ci95"]
    assert lo < alpha < hi and hi - lo < 0.05 and fit["k_range"] == [2, 30]


def test_split_target_gives_the_feature_accumulator_and_the_label_cross_covariance():
    x = rows(d=5)
    y = x @ np.arange(1.0, 6.0) * 1e-4 + np.random.default_rng(2).normal(size=len(x))
    joint = CovarianceAccumulator()
    for block in np.array_split(np.column_stack([x, y]), 3):
        joint.update(block)
    acc, cross, var_y = split_target(joint)
    full = np.cov(np.column_stack([x, y]), rowvar=False)
    np.testing.assert_allclose(acc.covariance(), full[:5, :5], rtol=1e-9)
    np.testing.assert_allclose(cross, full[:5, 5], rtol=1e-9)
    assert var_y == pytest.approx(full[5, 5], rel=1e-12) and acc.d == 5
    values, vectors = eigh_desc(full)
    np.testing.assert_allclose(values, eigenvalues_desc(full), rtol=1e-12)
    np.testing.assert_allclose(full @ vectors[:, 0], values[0] * vectors[:, 0], rtol=1e-9)


def test_standardized_target_is_the_correlation_and_the_cross_covariance_of_standardized_features():
    x = rows(d=5)
    x[:, 3] = 7.0  # constant: dropped from both
    y = x[:, 0] * 1e-3 + np.random.default_rng(3).normal(size=len(x))
    moments = standardized_target(CovarianceAccumulator.from_batch(np.column_stack([x, y])))
    keep = np.array([True, True, True, False, True])
    assert moments.keep.tolist() == keep.tolist() and moments.features.d == 5
    np.testing.assert_allclose(moments.corr, np.corrcoef(x[:, keep], rowvar=False), rtol=1e-9)
    standardized = (x[:, keep] - x[:, keep].mean(axis=0)) / x[:, keep].std(axis=0, ddof=1)
    full = np.cov(np.column_stack([standardized, y]), rowvar=False)
    np.testing.assert_allclose(moments.scaled_cross, full[:-1, -1], rtol=1e-9)
    assert moments.label_variance == pytest.approx(full[-1, -1], rel=1e-12)
    np.testing.assert_allclose(moments.cross, np.cov(np.column_stack([x, y]), rowvar=False)[:5, 5], rtol=1e-9)


def test_is_constant_is_the_rule_of_constant_features():
    x = rows(d=4)
    x[:, 1] = 3.0
    acc = CovarianceAccumulator.from_batch(x)
    assert is_constant(x.mean(axis=0), x.std(axis=0)).tolist() == constant_features(acc).tolist()
    assert is_constant(np.array([0.0, 1.0, 1.0]), np.array([0.0, 1e-10, 1e-8])).tolist() == [True, True, False]


def test_tail_sum_fit_recovers_the_exponent_of_a_truncated_power_law():
    t = 0.3 * np.arange(1, 81.0) ** -(1 + 0.7)  # the sums stop at K = 80: a straight-line fit would be biased
    fit = fit_target_power(t, 2, 40, n_boot=0)
    assert fit["exponent"] == pytest.approx(0.7, abs=1e-4) and fit["amplitude"] == pytest.approx(0.3, rel=1e-3)
    assert fit["n_modes"] == 80 and fit["ci95"] == [None, None]
    naive = -np.polyfit(np.log(np.arange(2, 41)), np.log(np.cumsum(t[::-1])[::-1][1:40]), 1)[0]
    assert naive > 0.8  # what the truncation does to a plain log-log fit of the tail sums


@pytest.mark.parametrize("alpha, r", [(1.3, 0.4), (1.0, 0.75)])
def test_label_projection_recovers_alpha_and_r_of_the_toy_teacher(alpha, r):
    """Rotated toy data: covariance k^-alpha, teacher power lambda_k wbar_k^2 = k^-(1 + 2 alpha r), label noise."""
    d, n = 60, 40_000
    x, y = ToyPowerLaw(alpha, r, d, noise=0.5).sample(n, seed=3)
    rotation = np.linalg.qr(np.random.default_rng(1).normal(size=(d, d)))[0]
    acc, cross, var_y = split_target(CovarianceAccumulator.from_batch(np.column_stack([x @ rotation.T, y])))
    entry = spectrum_entry(acc.covariance(), 2, None, cross, var_y, n)
    projection = entry["label_projection"]
    assert entry["fit"]["alpha"] == pytest.approx(alpha, abs=0.02)
    lo, hi = projection["r_ci95"]
    assert lo < r < hi and hi - lo < 0.2 and projection["r"] == pytest.approx(r, abs=0.05)
    assert projection["fit"]["exponent"] == pytest.approx(2 * alpha * r, abs=0.12)
    assert projection["alpha"] == entry["fit"]["alpha"] and projection["noise_dominated_from"] is None
    assert projection["explained_variance"] == pytest.approx(var_y - 0.5, rel=0.02)  # all but the label noise
    assert len(projection["target_power"]) == d and projection["noise_level"] == pytest.approx(0.5 / n, rel=0.05)


def test_fit_range_stops_at_the_noise_floor_and_bad_ranges_are_refused():
    lam = np.r_[np.arange(1, 9.0) ** -2, 1e-17, 0.0, -1e-18, 0.0, 0.0, 0.0, 0.0, 0.0]  # 8 real modes of 16
    assert default_k_max(lam) == 8
    assert fit_spectrum_exponent(lam)["alpha"] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="at least 3 ranks"):
        fit_spectrum_exponent(lam, k_min=7)
    with pytest.raises(ValueError, match="<= 0"):
        fit_spectrum_exponent(lam, k_max=12)
    with pytest.raises(ValueError, match="descending"):
        fit_spectrum_exponent(lam[::-1])


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Three toy shards (one- and two-prong jets, 16 constituent slots: d = 64 for constituents)."""
    directory = tmp_path_factory.mktemp("jets")
    for i, n in enumerate((50, 60, 40)):
        toy_shard(directory / shard_name(i), n=n, seed=10 * i, n_max=16)
    return directory


def run_spectrum(*argv):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["spectrum", *map(str, argv)])
    return args.func(args)


def test_spectrum_command_writes_json_npz_and_a_log_log_figure(dataset, tmp_path):
    assert run_spectrum("--dataset", dataset, "--features", "efp", "--dmax", 4, "--out-dir", tmp_path) == 0
    assert all(efp_cache_path(dataset / shard_name(i), 4, 1.0).exists() for i in range(3))  # caches computed
    result = json.loads((tmp_path / "spectrum.json").read_text())
    assert result["features"] == "efp" and result["n"] == 150 and result["d"] == n_efps(4) and result["n_ranks"] == 1
    assert result["feature_options"]["dmax"] == 4 and result["source"] == str(dataset)
    lam = np.asarray(result["eigenvalues"])
    assert lam.size == result["d"] and np.all(np.diff(lam) <= 1e-12 * lam[0])
    fit = result["fit"]
    assert fit["ci95"][0] < fit["alpha"] < fit["ci95"][1] and fit["k_range"][0] == 2
    assert result["standardized"]["constant_features"] == [0]  # the d = 0 EFP
    assert len(result["standardized"]["eigenvalues"]) == result["standardized"]["d"] == result["d"] - 1
    np.testing.assert_allclose(np.load(tmp_path / "spectrum.npz")["eigenvalues"], lam)
    assert not (tmp_path / "spectrum.png").exists()  # drawing is its own step, from the file
    assert cli_main(["spectrum-figure", str(tmp_path / "spectrum.json")]) == 0
    assert (tmp_path / "spectrum.png").stat().st_size > 0 and (tmp_path / "spectrum.pdf").stat().st_size > 0
    for entry in (result, result["standardized"]):
        projection = entry["label_projection"]
        t = np.asarray(projection["target_power"])
        assert 0 < t.size <= len(entry["eigenvalues"]) and np.all(t >= 0)
        assert projection["explained_variance"] == pytest.approx(t.sum())
        assert projection["label_variance"] == pytest.approx(np.var(np.r_[[0] * 75, [1] * 75], ddof=1))
        assert projection["fit"]["k_range"] == entry["fit"]["k_range"] and np.isfinite(projection["r"])
        assert all(np.isfinite(projection["r_ci95"]))
    np.testing.assert_allclose(np.load(tmp_path / "spectrum.npz")["standardized_target_power"],
                               result["standardized"]["label_projection"]["target_power"])
    ax, right = plot_spectrum(result).axes
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log" and "rank" in ax.get_xlabel()
    assert any("alpha" in text.get_text() for text in ax.get_legend().get_texts())
    assert right.get_yscale() == "log" and any("r$ =" in text.get_text() for text in right.get_legend().get_texts())


def test_a_missing_dataset_or_unknown_features_are_named(tmp_path):
    with pytest.raises(ShardError, match="no shard-<i>.h5"):
        dataset_spectrum(tmp_path)
    with pytest.raises(ValueError, match="unknown features 'pixels'"):
        dataset_spectrum(tmp_path, features="pixels")


def test_constituent_spectrum_is_that_of_the_flattened_padded_arrays(dataset):
    flat = np.concatenate([read_shard(path, fields=("constituents",))["constituents"].reshape(-1, 64)
                           for path in shard_paths(dataset)]).astype(float)
    result = dataset_spectrum(dataset, "constituents", chunk=17)  # uneven blocks: 50 = 17 + 17 + 16 rows
    assert result["n"] == 150 and result["d"] == 64 and result["feature_options"]["max_constituents"] == 16
    expected = np.linalg.eigvalsh(np.cov(flat, rowvar=False))[::-1]
    np.testing.assert_allclose(result["eigenvalues"], expected, rtol=1e-8, atol=1e-12 * expected[0])


def test_a_dataset_of_one_label_has_no_label_projection(tmp_path, caplog):
    """E.g. a JetNet import of top jets only: Cov(x, y) = 0, so the projection is skipped with a note."""
    constituents, counts = toy_jets(30, 1, 8, seed=5)
    jet = np.zeros((30, 4), np.float32)
    write_shard(tmp_path / shard_name(0), {"constituents": constituents, "n_constituents": counts, "jet": jet,
                                           "label": np.ones(30)}, {"generator": "toy", "seed": 5})
    with caplog.at_level(logging.INFO, logger="jetscale.features.spectrum"):
        result = dataset_spectrum(tmp_path, "constituents")
    assert result["label_projection"] is None and result["standardized"]["label_projection"] is None
    assert "same label" in caplog.text and result["fit"]["alpha"] > 0
    assert plot_spectrum(result).axes[0].get_xscale() == "log"


def test_two_mpi_ranks_give_the_eigenvalues_of_one(dataset, tmp_path, cli_env):
    """A real ``mpiexec -n 2`` run over the three shards (rank 0: shards 0 and 2, rank 1: shard 1)."""
    if not MPIEXEC.exists():
        pytest.skip(f"no mpiexec next to {sys.executable}")
    for i in range(3):  # EFP caches made here, so both runs read the same features
        cache_shard_efps(dataset / shard_name(i), 3)
    single = dataset_spectrum(dataset, "efp", dmax=3, classes="per-class")
    env = {**cli_env, "OMP_NUM_THREADS": "1"}
    command = [str(MPIEXEC), "-n", "2", sys.executable, "-m", "jetscale.features.spectrum", "--dataset", str(dataset),
               "--features", "efp", "--dmax", "3", "--classes", "per-class", "--out-dir", str(tmp_path)]
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    multi = json.loads((tmp_path / "spectrum.json").read_text())
    assert multi["n_ranks"] == 2 and multi["n"] == single["n"] == 150 and multi["d"] == single["d"] == n_efps(3)
    lam = np.asarray(single["eigenvalues"])
    np.testing.assert_allclose(multi["eigenvalues"], lam, rtol=1e-8, atol=1e-12 * lam[0])
    assert multi["fit"]["alpha"] == pytest.approx(single["fit"]["alpha"], rel=1e-8)
    for name in ("QCD", "top"):  # one accumulator per class, reduced over the ranks
        lam = np.asarray(single["classes"][name]["eigenvalues"])
        np.testing.assert_allclose(multi["classes"][name]["eigenvalues"], lam, rtol=1e-8, atol=1e-12 * lam[0])
    t = np.asarray(single["standardized"]["label_projection"]["target_power"])
    np.testing.assert_allclose(multi["standardized"]["label_projection"]["target_power"], t, rtol=1e-6,
                               atol=1e-9 * t.max())
