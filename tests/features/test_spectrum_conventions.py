"""Spectrum conventions: centring (covariance or Batson & Kahn's uncentred second moment), classes (pooled or
per class), scale (raw or standardized), recorded in spectrum.json for every spectrum (docs/spectrum.md#conventions)."""

import argparse
import json

import numpy as np
import pytest

from jetscale.data.shards import read_shard, shard_name, shard_paths, write_shard
from jetscale.features.covariance import (
    CovarianceAccumulator, moment_matrix, scaled_moment, second_moment, standardized_covariance,
)
from jetscale.features.efp import n_efps
from jetscale.features.spectrum import dataset_spectrum, register
from jetscale.plots.spectrum import plot_spectrum
from test_efp import toy_jets, toy_shard


def eigenvalues(matrix):
    return np.linalg.eigvalsh(matrix)[::-1]


def test_second_moment_is_the_covariance_plus_the_mean_outer_product():
    """Rows with a known mean m: (1/n) sum x x^T = (n - 1)/n Cov + m m^T, and = x^T x / n directly."""
    rng = np.random.default_rng(3)
    mean = np.array([3.0, -1.0, 0.5, 10.0])
    x = rng.normal(size=(500, 4)) @ rng.normal(size=(4, 4)) + mean
    acc = CovarianceAccumulator()
    for block in np.array_split(x, 7):  # streamed, as the spectrum does
        acc.update(block)
    n = len(x)
    np.testing.assert_allclose(second_moment(acc), x.T @ x / n, rtol=1e-12)
    np.testing.assert_allclose(second_moment(acc), np.cov(x, rowvar=False) * (n - 1) / n
                               + np.outer(x.mean(0), x.mean(0)), rtol=1e-10)
    np.testing.assert_allclose(moment_matrix(acc, "covariance"), np.cov(x, rowvar=False), rtol=1e-10)
    assert eigenvalues(second_moment(acc))[0] > eigenvalues(acc.covariance())[0] + 0.9 * mean @ mean  # the mean mode
    with pytest.raises(ValueError, match="unknown centring 'centred'"):
        moment_matrix(acc, "centred")
    with pytest.raises(ValueError, match="at least one row"):
        second_moment(CovarianceAccumulator())


def test_scaled_moment_divides_by_the_standard_deviation_and_drops_constants():
    rng = np.random.default_rng(4)
    x = np.column_stack([rng.normal(2.0, 3.0, 300), np.full(300, 7.0), rng.normal(-1.0, 0.1, 300)])
    acc = CovarianceAccumulator.from_batch(x)
    varying = x[:, [0, 2]] / x[:, [0, 2]].std(axis=0, ddof=1)
    matrix, keep = scaled_moment(acc, "second-moment")
    assert keep.tolist() == [True, False, True]
    np.testing.assert_allclose(matrix, varying.T @ varying / len(x), rtol=1e-10)
    corr, keep_corr = scaled_moment(acc, "covariance")
    np.testing.assert_allclose(corr, np.corrcoef(x[:, [0, 2]], rowvar=False), rtol=1e-10)
    np.testing.assert_array_equal(standardized_covariance(acc)[0], corr)
    assert keep_corr.tolist() == keep.tolist()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Two toy shards: 60 and 40 jets, half QCD-like one-prong (label 0), half top-like two-prong (label 1)."""
    directory = tmp_path_factory.mktemp("jets")
    for i, n in enumerate((60, 40)):
        toy_shard(directory / shard_name(i), n=n, seed=7 + 10 * i, n_max=12)
    return directory


def constituent_rows(dataset, label=None):
    parts = [read_shard(path, fields=("constituents", "label")) for path in shard_paths(dataset)]
    x = np.concatenate([p["constituents"].reshape(len(p["label"]), -1) for p in parts]).astype(float)
    y = np.concatenate([p["label"] for p in parts])
    return x if label is None else x[y == label]


def test_per_class_spectra_are_those_of_each_class_alone_and_the_pooled_one_of_all(dataset):
    """B&K's convention on the flattened constituents: uncentred (1/T) sum x x^T of each class's jets alone,
    constant (always-empty) slots dropped; the pooled spectrum is that of all jets."""
    result = dataset_spectrum(dataset, "constituents", centring="second-moment", classes="per-class", chunk=13)
    assert sorted(result["classes"]) == ["QCD", "top"]
    for name, label, n in (("QCD", 0, 50), ("top", 1, 50)):
        x = constituent_rows(dataset, label)
        varying = np.ptp(x, axis=0) > 0
        expected = eigenvalues(x[:, varying].T @ x[:, varying] / len(x))
        group = result["classes"][name]
        assert group["label"] == label and group["n"] == n == len(x)
        np.testing.assert_allclose(group["eigenvalues"], expected, rtol=1e-8, atol=1e-12 * expected[0])
        assert group["constant_features"] == np.flatnonzero(~varying).tolist()
        assert group["label_projection"] is None  # one label per class: nothing to project
        scaled = x[:, varying] / x[:, varying].std(axis=0, ddof=1)
        expected = eigenvalues(scaled.T @ scaled / len(x))
        np.testing.assert_allclose(group["standardized"]["eigenvalues"], expected, rtol=1e-8,
                                   atol=1e-12 * expected[0])
    x = constituent_rows(dataset)
    varying = np.ptp(x, axis=0) > 0
    expected = eigenvalues(x[:, varying].T @ x[:, varying] / len(x))
    np.testing.assert_allclose(result["eigenvalues"], expected, rtol=1e-8, atol=1e-12 * expected[0])
    assert result["n"] == 100 and result["label_projection"] is None  # projections need the centred covariance


def test_every_spectrum_records_its_convention(dataset):
    result = dataset_spectrum(dataset, "constituents", classes="per-class")
    assert result["options"] == {"dmax": None, "centring": "covariance", "classes": "per-class", "scale": "both"}
    for classes, group in (("pooled", result), ("QCD", result["classes"]["QCD"]), ("top", result["classes"]["top"])):
        assert group["convention"] == {"dmax": None, "centring": "covariance", "classes": classes, "scale": "raw"}
        assert group["standardized"]["convention"] == {**group["convention"], "scale": "standardised"}
    x = constituent_rows(dataset, 1)  # the centred per-class spectrum is the class's own covariance
    expected = eigenvalues(np.cov(x, rowvar=False))
    np.testing.assert_allclose(result["classes"]["top"]["eigenvalues"], expected, rtol=1e-8, atol=1e-12 * expected[0])
    pooled = dataset_spectrum(dataset, "constituents")  # the default: pooled spectra only, as before
    assert "classes" not in pooled and pooled["label_projection"] is not None
    np.testing.assert_allclose(pooled["eigenvalues"], result["eigenvalues"], rtol=1e-12)


def test_scale_selects_the_raw_or_the_standardized_spectrum(dataset, tmp_path):
    raw = dataset_spectrum(dataset, "constituents", scale="raw")
    assert "standardized" not in raw and raw["convention"]["scale"] == "raw" and raw["fit"]["alpha"] > 0
    std = dataset_spectrum(dataset, "constituents", scale="standardised", classes="per-class")
    assert "eigenvalues" not in std and "eigenvalues" not in std["classes"]["QCD"]
    both = dataset_spectrum(dataset, "constituents")
    np.testing.assert_allclose(std["standardized"]["eigenvalues"], both["standardized"]["eigenvalues"], rtol=1e-12)
    np.testing.assert_allclose(raw["eigenvalues"], both["eigenvalues"], rtol=1e-12)
    assert std["standardized"]["label_projection"] == both["standardized"]["label_projection"]
    assert len(plot_spectrum(std).axes[0].get_lines()) == 3 * 2  # pooled, QCD, top: points and fit each


def run_spectrum(*argv):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["spectrum", *map(str, argv)])
    return args.func(args)


def test_bk_convention_on_efps_drops_the_trivial_efp_and_writes_per_class_arrays(dataset, tmp_path, capsys):
    """``--centring second-moment --classes per-class --scale raw``: B&K's Fig. 4 convention (their code drops
    the d = 0 EFP, which is 1 for every jet); its spectra and npz arrays are named by class."""
    assert run_spectrum("--dataset", dataset, "--features", "efp", "--dmax", 3, "--centring", "second-moment",
                        "--classes", "per-class", "--scale", "raw", "--out-dir", tmp_path) == 0
    result = json.loads((tmp_path / "spectrum.json").read_text())
    assert result["d"] == n_efps(3) and result["options"]["dmax"] == 3
    for group in (result, *result["classes"].values()):
        assert group["constant_features"] == [0] and len(group["eigenvalues"]) == result["d"] - 1
        assert "standardized" not in group
    arrays = np.load(tmp_path / "spectrum.npz")
    assert sorted(arrays.files) == ["QCD_eigenvalues", "eigenvalues", "top_eigenvalues"]
    np.testing.assert_allclose(arrays["top_eigenvalues"], result["classes"]["top"]["eigenvalues"])
    out = capsys.readouterr().out
    assert "QCD, raw: alpha" in out and "top, raw: alpha" in out and "second-moment" in out


@pytest.mark.parametrize("option, value", [("centring", "centred"), ("classes", "each"), ("scale", "standardized")])
def test_unknown_option_values_are_refused_by_name(dataset, option, value, capsys):
    with pytest.raises(ValueError, match=f"unknown {option} '{value}'; choose from"):
        dataset_spectrum(dataset, "constituents", **{option: value})
    with pytest.raises(SystemExit):
        run_spectrum("--dataset", dataset, "--features", "constituents", f"--{option}", value, "--out-dir", "x")
    assert f"--{option}: invalid choice: '{value}'" in capsys.readouterr().err


def test_a_class_of_one_jet_is_refused_naming_the_class(tmp_path):
    constituents, counts = toy_jets(41, 1, 8, seed=3)
    write_shard(tmp_path / shard_name(0), {"constituents": constituents, "n_constituents": counts,
                                           "jet": np.zeros((41, 4), np.float32), "label": np.r_[np.zeros(40), 1]},
                {"generator": "toy", "seed": 3})
    with pytest.raises(ValueError, match="the top jets' spectrum: covariance needs more than 1 rows, have 1"):
        dataset_spectrum(tmp_path, "constituents", classes="per-class")
