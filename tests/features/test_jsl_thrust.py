"""JSL's thrust pipeline: special EFPs against a loop definition, the axis-scan thrust, the task end to end."""

import itertools

import numpy as np
import pytest

from jetscale.data.shower_dataset import ShowerDataModule
from jetscale.features.special_efp import log_special_efps, snapshot_features, special_efps, special_graphs
from jetscale.physics.event_shapes import thrust, thrust_scan
from jetscale.physics.rambo import rambo
from jetscale.train import train

from tests.features.test_shower_features import write_rambo_snapshots


def loop_special(event: np.ndarray, family: str, mult: tuple) -> float:
    """One special EFP of one event by explicit sums over particles (JSL's z and theta, written out)."""
    energy, three = event[:, 0], event[:, 1:]
    z = 2 * energy / energy.sum()
    n = len(event)

    def theta(i, j):
        if i == j:
            return 0.0
        cos = three[i] @ three[j] / (np.linalg.norm(three[i]) * np.linalg.norm(three[j]))
        return (1 - cos) / 2

    total = 0.0
    if family == "pair":
        for i, j in itertools.product(range(n), repeat=2):
            total += z[i] * z[j] * theta(i, j) ** mult[0]
    elif family == "v":  # centre i, arms j and k
        for i, j, k in itertools.product(range(n), repeat=3):
            total += z[i] * z[j] * z[k] * theta(i, j) ** mult[0] * theta(i, k) ** mult[1]
    else:
        r, s, t = mult
        for i, j, k in itertools.product(range(n), repeat=3):
            total += z[i] * z[j] * z[k] * theta(i, j) ** r * theta(i, k) ** s * theta(k, j) ** t
    return total


def test_special_graphs_are_jsls_families_and_count():
    graphs = special_graphs(20)
    assert len(graphs) == 337  # the width of JSL's log_EFPs['d20', ...] (ThrustScalingLaws.ipynb, cell 8)
    degree = {family: [sum(m) for f, m in graphs if f == family] for family in ("pair", "v", "triangle")}
    assert len(degree["pair"]) == 19 and max(max(d) for d in degree.values()) == 20
    assert min(min(m) for f, m in graphs if f == "v") == 2 and ("triangle", (1, 1, 1)) in graphs
    with pytest.raises(ValueError, match="2"):
        special_graphs(2)


def test_special_efps_equal_the_loop_definition_on_tiny_events():
    events = np.concatenate([rambo(3, 91.188, 2, 1)[0][:, :3], rambo(5, 50.0, 2, 2)[0][:, :3]])
    values = special_efps(events, 6)
    for e, (col, (family, mult)) in itertools.product(range(len(events)), enumerate(special_graphs(6))):
        assert values[e, col] == pytest.approx(loop_special(events[e], family, mult), rel=1e-10), (family, mult)
    assert np.allclose(special_efps(events, 6, chunk=1), values, rtol=1e-13)


def test_log_of_a_vanishing_special_efp_is_refused_naming_the_event():
    collinear = np.array([[[10.0, 0, 0, 10.0], [5.0, 0, 0, 5.0], [3.0, 0, 0, 3.0]]])
    events = np.concatenate([rambo(3, 91.188, 1, 0)[0], collinear])
    with pytest.raises(ValueError, match="of event 1 "):
        log_special_efps(events, 5)


def test_thrust_scan_is_below_exact_and_equal_for_two_and_three_partons():
    for n in (2, 3):
        p = rambo(n, 91.188, 200, n)[0]
        np.testing.assert_allclose(thrust_scan(p), thrust(p), rtol=1e-12)
    p = rambo(8, 91.188, 500, 8)[0]
    exact, scan = thrust(p), thrust_scan(p)
    assert np.all(scan <= exact + 1e-12) and np.any(scan < exact - 1e-3)
    assert np.median(exact - scan) < 0.05  # isotropic 8-body events: the worst case for the scan
    # a particle with |p| <= 1e-10 is no axis (JSL's cut); a particle along the thrust axis makes the scan exact
    pencil = np.array([[[45.0, 0, 0, 45.0], [45.0, 0, 0, -45.0], [1e-12, 1e-12, 0, 0]]])
    assert thrust_scan(pencil)[0] == pytest.approx(1.0)


@pytest.fixture(scope="module")
def snapshot_file(tmp_path_factory):
    return write_rambo_snapshots(tmp_path_factory.mktemp("jsl") / "rambo.h5", n_events=1500, k_max=2)


def test_snapshot_features_give_log_special_efps_and_both_thrusts(snapshot_file):
    features = snapshot_features(snapshot_file, 2, 8)
    assert features["efp"].shape == (1500, len(special_graphs(8))) and np.all(np.isfinite(features["efp"]))
    assert np.all(features["thrust_scan"] <= features["thrust"] + 1e-12)
    with pytest.raises(ValueError, match="beta = 2; got data.beta=1.0"):
        snapshot_features(snapshot_file, 2, 8, beta=1.0)


def without_scan(snapshots, k, dmax, beta):
    """Features like jetscale.features.efp_ee's: exact event shapes, no thrust_scan."""
    features = snapshot_features(snapshots, k, dmax, beta)
    del features["thrust_scan"]
    return features


def test_datamodule_standardizes_on_every_row_but_the_test_split_and_names_bad_options(snapshot_file):
    settings = {"k": 2, "n_test": 300, "seed": 0, "n_pool": 0, "theory": None, "dmax": 8,
                "features": snapshot_features, "target": "thrust_scan"}
    module = ShowerDataModule(snapshot_file, n_train=50, standardize_on="nontest", **settings)
    x_rest, y_rest = module.split("nontest")
    assert len(x_rest) == 1200 and not set(module.indices("nontest")) & set(module.indices("test"))
    np.testing.assert_allclose(module.feature_moments()[0], x_rest.mean(axis=0))
    assert module.target_moments()[0] == pytest.approx(y_rest.mean())
    with pytest.raises(ValueError, match="'pool-ish'"):
        ShowerDataModule(snapshot_file, n_train=50, standardize_on="pool-ish", **settings)
    exact_only = ShowerDataModule(snapshot_file, n_train=50, **{**settings, "features": without_scan})
    with pytest.raises(ValueError, match="'thrust_scan'.*special_efp"):
        exact_only.split("train")


def test_jsl_pipeline_trains_end_to_end(snapshot_file, compose_train, tmp_path):
    cfg = compose_train("task=shower", "data=shower_jsl", f"data.snapshots={snapshot_file}", "data.k=2",
                        "data.n_test=500", "data.n_pool=600", "data.generate=null", "data.dmax=8",
                        f"data.n_features={len(special_graphs(8))}", "data.target=thrust_scan",
                        "n_samples=400", f"width={len(special_graphs(8))}", "ridge=1e-12")
    assert cfg.data.standardize_on == "nontest" and cfg.model.name == "shower_ridge"
    metrics = train(cfg, tmp_path / "jsl")
    assert 0 < metrics["test_loss"] < 0.5 * metrics["test_variance"]


def test_ridge_on_nontest_moments_is_jsls_ridge_learning_curve_formula(snapshot_file):
    """ThrustScalingLaws.ipynb: X and y standardised / centred by the pool, (X^T X + P alpha I) w = X^T y, no intercept."""
    import torch

    from jetscale.models.feature_regression import FeatureRegression, FeatureRidge
    from jetscale.models.ridge import solve_readout

    module = ShowerDataModule(snapshot_file, n_train=200, k=2, n_test=300, seed=1, theory=None, dmax=6,
                              features=snapshot_features, standardize_on="nontest")
    x, y = module.split("train")
    width = x.shape[1]
    net = FeatureRidge(width, width)
    FeatureRegression(net, 1e-6, optimizer=None).prepare(module)
    solve_readout(net, x, y, 1e-6)
    pool_x, pool_y = module.split("nontest")
    mu, sd, y_mu = pool_x.mean(axis=0), pool_x.std(axis=0), pool_y.mean()
    z = (x - mu) / sd
    w = np.linalg.solve(z.T @ z + len(y) * 1e-6 * np.eye(width), z.T @ (y - y_mu))
    xt, _ = module.split("test")
    np.testing.assert_allclose(net(torch.as_tensor(xt)).detach().numpy(), y_mu + (xt - mu) / sd @ w, rtol=1e-6)
