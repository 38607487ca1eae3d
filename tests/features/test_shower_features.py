"""Shower snapshots -> event shapes, e+e- EFPs, per-k spectra (raw and RAMBO-whitened) and the `shower` task.

The snapshot files here hold massless RAMBO events in the snapshot format (2 + k partons in group k),
written with the generation helper's writer: the physics code cannot tell them from shower events.
"""

import contextlib
import functools
import json

import h5py
import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from jetscale.data.efp_cache import ee_efp_cache_path
from jetscale.data.shower.snapshots import ShowerSnapshots, write_snapshots
from jetscale.data.shower_dataset import ShowerDataModule
from jetscale.features import efp_ee, spectrum
from jetscale.cli import main as cli_main
from jetscale.features.efp_ee import compute_ee_efps, ee_efp_set, snapshot_features
from jetscale.features.shower_spectrum import main as spectrum_main
from jetscale.features.shower_spectrum import shower_spectrum, whiten, whitened_eigenvalues
from jetscale.models.feature_regression import FeatureRegression, FeatureRidge
from jetscale.models.ridge import solve_readout
from jetscale.physics import event_shapes
from jetscale.physics.event_shapes import c_parameter, event_shapes as all_shapes, heavy_jet_mass, thrust
from jetscale.physics.rambo import rambo
from jetscale.tasks import shower as shower_task
from jetscale.tasks.shower import ridge_theory
from jetscale.train import train

SQRT_S = 91.1876
N_EVENTS = 3000  # per k of the fixture file


def rotate(momenta: np.ndarray, seed: int) -> np.ndarray:
    """One random rotation applied to the three-momenta of every event."""
    matrix = Rotation.random(random_state=seed).as_matrix()
    out = momenta.copy()
    out[..., 1:] = momenta[..., 1:] @ matrix.T
    return out


def write_rambo_snapshots(path, n_events=N_EVENTS, k_max=3, seed=0):
    """A snapshot file whose group k holds RAMBO events of 2 + k massless partons."""
    momenta = {k: rambo(2 + k, SQRT_S, n_events, [seed, k])[0] for k in range(1, k_max + 1)}
    ids = {k: np.arange(n_events) for k in momenta}
    write_snapshots(path, ShowerSnapshots("rambo", SQRT_S, seed, n_events, k_max, [], "none", 1e-6,
                                          momenta=momenta, event_id=ids))
    return path


@pytest.fixture
def fast_bootstrap(monkeypatch):
    """10 instead of 200 bootstrap resamples of the label-projection fit (its CI is not tested here)."""
    monkeypatch.setattr(spectrum, "label_projection", functools.partial(spectrum.label_projection, n_boot=10))


@pytest.fixture(scope="module")
def snapshot_file(tmp_path_factory):
    return write_rambo_snapshots(tmp_path_factory.mktemp("shower") / "rambo.h5")


# --------------------------------------------------------------------------- event shapes


def test_two_back_to_back_partons_are_a_pencil_event():
    p = np.array([[[40.0, 3.0, -4.0, 12.0], [40.0, -3.0, 4.0, -12.0]]])
    p[..., 0] = np.linalg.norm(p[..., 1:], axis=2)  # massless
    assert thrust(p) == pytest.approx([1.0], abs=1e-15)
    assert c_parameter(p) == pytest.approx([0.0], abs=1e-12)
    assert heavy_jet_mass(p) == pytest.approx([0.0], abs=1e-12)


def test_three_partons_shapes_are_known_functions_of_the_energy_fractions():
    p = rambo(3, SQRT_S, 200, 1)[0]
    x = 2 * p[..., 0] / SQRT_S
    np.testing.assert_allclose(thrust(p), x.max(axis=1), rtol=1e-12)
    np.testing.assert_allclose(heavy_jet_mass(p), 1 - x.max(axis=1), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(c_parameter(p), 6 * np.prod(1 - x, axis=1) / np.prod(x, axis=1), rtol=1e-9)


def test_isotropic_many_body_events_have_low_thrust_and_shapes_are_invariant(monkeypatch):
    p = rambo(10, SQRT_S, 300, 2)[0]
    shapes = all_shapes(p)
    assert 0.6 < shapes["thrust"].mean() < 0.75 and shapes["thrust"].max() < 0.95 and shapes["thrust"].min() >= 0.5
    assert shapes["c_parameter"].mean() > 0.7
    turned = all_shapes(rotate(p, 3)[:, np.random.default_rng(0).permutation(10)])
    for name in shapes:
        np.testing.assert_allclose(turned[name], shapes[name], rtol=1e-10, atol=1e-13)
    # T is attained on the axis of the maximising hemispheres and no random axis does better
    t, signs = event_shapes.thrust_partition(p[:20])
    axis = np.einsum("en,enj->ej", signs, p[:20, :, 1:])
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    total = np.linalg.norm(p[:20, :, 1:], axis=2).sum(axis=1)
    np.testing.assert_allclose(np.abs(np.einsum("enj,ej->en", p[:20, :, 1:], axis)).sum(axis=1) / total, t, rtol=1e-12)
    random_axes = Rotation.random(2000, random_state=0).apply([0.0, 0.0, 1.0])  # [2000, 3]
    assert np.all(np.abs(p[:20, :, 1:] @ random_axes.T).sum(axis=1).max(axis=1) / total <= t + 1e-12)
    # the blocked enumeration gives the same maximum with tiny blocks
    monkeypatch.setattr(event_shapes, "WORK_ROWS", 5)
    np.testing.assert_allclose(thrust(p[:20]), shapes["thrust"][:20], rtol=1e-14)
    with pytest.raises(ValueError, match="n must be in"):
        thrust(rambo(27, SQRT_S, 1, 0)[0])


# --------------------------------------------------------------------------- e+e- EFPs


def test_ee_efps_match_energyflow_and_are_invariant():
    p = rambo(4, SQRT_S, 40, 4)[0]
    for beta in (2.0, 1.0):
        efps = compute_ee_efps(p, beta=beta)
        np.testing.assert_allclose(efps, ee_efp_set(5, beta).batch_compute(list(p), n_jobs=1), rtol=1e-12)
    efps = compute_ee_efps(p, chunk=7)
    assert efps.shape == (40, 102)
    np.testing.assert_allclose(efps[:, 0], 1.0, rtol=1e-14)  # d = 0: sum_i z_i
    np.testing.assert_allclose(efps[:, 1], 2.0, rtol=1e-12)  # one edge, beta = 2, sum p = (E, 0): constant
    np.testing.assert_allclose(compute_ee_efps(rotate(p, 5)[:, [2, 0, 3, 1]]), efps, rtol=1e-10)


def test_ee_measure_by_hand_for_two_particles():
    """z_i = E_i / (E_1 + E_2), theta_12 = (2 p_1.p_2 / (E_1 E_2))^(beta/2) = (2 (1 - cos w))^(beta/2)."""
    e1, e2, w = 10.0, 30.0, 0.7
    p = np.array([[[e1, 0, 0, e1], [e2, e2 * np.sin(w), 0, e2 * np.cos(w)]]])
    z1, z2 = e1 / (e1 + e2), e2 / (e1 + e2)
    graphs = [list(map(tuple, g)) for g in ee_efp_set(5, 1.0).graphs()]
    double = graphs.index([(0, 1), (0, 1)])  # two edges between two vertices
    for beta in (1.0, 2.0):
        theta = (2 * (1 - np.cos(w))) ** (beta / 2)
        assert compute_ee_efps(p, beta=beta)[0, double] == pytest.approx(2 * z1 * z2 * theta**2, rel=1e-12)


# --------------------------------------------------------------------------- spectra


def test_whitening_recovers_a_known_transform_and_drops_degenerate_directions():
    rng = np.random.default_rng(0)
    root = rng.standard_normal((5, 5)) + 5 * np.eye(5)
    c_r = root @ root.T
    q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    ratios = np.array([9.0, 4.0, 1.0, 0.5, 0.1])
    c_s = root @ q @ np.diag(ratios) @ q.T @ root.T  # C_R^-1/2 C_S C_R^-1/2 ~ q diag(ratios) q^T
    np.testing.assert_allclose(whitened_eigenvalues(c_s, c_r), ratios, rtol=1e-10)
    # a sixth feature that phase space never varies (C_R = 0 there) but the shower does: dropped
    pad_r, pad_s = np.zeros((6, 6)), np.eye(6) * 7.0
    pad_r[:5, :5], pad_s[:5, :5] = c_r, c_s
    matrix, transform = whiten(pad_s, pad_r)
    assert transform.shape == (5, 6)
    np.testing.assert_allclose(np.linalg.eigvalsh(matrix)[::-1], ratios, rtol=1e-10)


def test_rambo_whitened_against_rambo_is_one(fast_bootstrap):
    n = 4000
    a, b = rambo(5, SQRT_S, n, 10)[0], rambo(5, SQRT_S, n, 11)[0]
    result = shower_spectrum(compute_ee_efps(a), thrust(a), compute_ee_efps(b))
    white = result["whitened"]
    r = white["d"]
    assert 10 <= r <= 20 and white["dropped_directions"] > 0  # beta = 2: few independent EFP directions
    bound = 2.5 * np.sqrt(r / n)
    mu = np.asarray(white["eigenvalues"])
    assert (1 - bound) ** 2 < mu.min() and mu.max() < (1 + bound) ** 2
    assert result["standardized"]["fit"]["alpha"] > 1  # a steep power law
    assert result["standardized"]["label_projection"]["explained_variance"] > 0.9 * float(thrust(a).var())


def test_shower_spectrum_cli_round_trip(snapshot_file, tmp_path, capsys, fast_bootstrap):
    out = tmp_path / "spectrum"
    args = ["--snapshots", str(snapshot_file), "--out-dir", str(out), "--k", "1-2", "--rambo-events", "1500"]
    assert spectrum_main(args) == 0
    result = json.loads((out / "spectrum.json").read_text())
    assert [entry["k"] for entry in result["per_k"]] == [1, 2] and result["target"] == "thrust"
    arrays = np.load(out / "spectrum.npz")
    for entry in result["per_k"]:
        k, raw, white = entry["k"], entry["standardized"], entry["whitened"]
        efp = snapshot_features(snapshot_file, k)["efp"]
        corr = np.corrcoef(efp[:, ~np.isin(np.arange(102), raw["constant_features"])].T)
        np.testing.assert_allclose(raw["eigenvalues"][:3], np.linalg.eigvalsh(corr)[::-1][:3], rtol=1e-8)
        np.testing.assert_array_equal(arrays[f"k{k}_eigenvalues"], raw["eigenvalues"])
        np.testing.assert_array_equal(arrays[f"k{k}_whitened_eigenvalues"], white["eigenvalues"])
        assert white["d"] + white["dropped_directions"] == 102 - len(white["constant_features"])
        assert 0.7 < min(white["eigenvalues"]) and max(white["eigenvalues"]) < 1.5  # RAMBO vs RAMBO
    assert "k = 2" in capsys.readouterr().out
    assert cli_main(["spectrum-figure", str(out / "spectrum.json")]) == 0  # the shower figure, from the file
    assert (out / "spectrum.png").stat().st_size > 0 and (out / "spectrum.pdf").stat().st_size > 0
    assert spectrum_main(["--snapshots", str(snapshot_file), "--out-dir", str(out), "--k", "7"]) == 2
    assert "k = [7] not in the file" in capsys.readouterr().err


# --------------------------------------------------------------------------- data


def data(path, n_train=100, **options) -> ShowerDataModule:
    settings = {"k": 2, "n_test": 200, "seed": 0, "n_pool": 500, "features": snapshot_features, **options}
    return ShowerDataModule(path, n_train=n_train, **settings)


def test_splits_nest_in_n_train_and_test_and_pool_do_not_move(snapshot_file):
    small, large = data(snapshot_file, 100), data(snapshot_file, 400, n_val=50)
    np.testing.assert_array_equal(large.indices("train")[:100], data(snapshot_file, 100, n_val=50).indices("train"))
    np.testing.assert_array_equal(small.indices("test"), large.indices("test"))
    np.testing.assert_array_equal(small.indices("pool"), large.indices("pool"))
    parts = [large.indices(name) for name in ("test", "val", "train", "pool")]
    assert len(np.unique(np.concatenate(parts))) == sum(map(len, parts)) == 200 + 50 + 400 + 500
    assert not np.array_equal(small.indices("test"), data(snapshot_file, 100, seed=1).indices("test"))
    x, y = large.split("train")
    features = snapshot_features(snapshot_file, 2)
    np.testing.assert_array_equal(x, features["efp"][large.indices("train")])
    np.testing.assert_array_equal(y, features["thrust"][large.indices("train")])
    batch = next(iter(torch.utils.data.DataLoader(large._tensors("train"), batch_size=8)))
    assert batch[0].shape == (8, 102) and batch[1].shape == (8,)


def test_bad_settings_and_missing_file_are_named(snapshot_file, tmp_path):
    with pytest.raises(ValueError, match="data.n_train"):
        data(snapshot_file, 0)
    with pytest.raises(ValueError, match="data.target"):
        data(snapshot_file, target="sphericity")
    with pytest.raises(ValueError, match="= 3200; generate more events"):
        data(snapshot_file, n_train=2500).split("train")
    with pytest.raises(ValueError, match="data.n_features=314"):
        data(snapshot_file, n_features=314).split("train")
    with pytest.raises(FileNotFoundError, match="jetscale shower-generate --config"):
        data(tmp_path / "absent.h5").split("train")


def test_efp_cache_is_reused_and_invalidated(tmp_path, monkeypatch):
    path = write_rambo_snapshots(tmp_path / "small.h5", n_events=50, k_max=2)
    cache = efp_ee.cache_snapshot_efps(path, 1)
    assert cache == ee_efp_cache_path(path, 1, 5, 2.0) and cache.name == "small.efp-ee-d5-b2-k1.h5"
    first = snapshot_features(path, 1)
    np.testing.assert_allclose(first["thrust"], thrust(rambo(3, SQRT_S, 50, [0, 1])[0]), rtol=1e-12)
    calls = []
    original = efp_ee._compute_group
    monkeypatch.setattr(efp_ee, "_compute_group", lambda *a: calls.append(a) or original(*a))
    snapshot_features(path, 1)
    assert calls == []  # reused
    with h5py.File(cache, "a") as handle:
        handle.attrs["dmax"] = 4  # other settings: recomputed
    snapshot_features(path, 1)
    assert len(calls) == 1
    write_rambo_snapshots(path, n_events=50, k_max=2, seed=9)  # a new source file: recomputed
    again = snapshot_features(path, 1)
    assert len(calls) == 2 and not np.allclose(again["efp"], first["efp"])


def test_efp_cache_keeps_its_attributes_and_datasets(tmp_path):
    path = write_rambo_snapshots(tmp_path / "small.h5", n_events=20, k_max=1)
    with h5py.File(efp_ee.cache_snapshot_efps(path, 1), "r") as handle:
        attrs, names = dict(handle.attrs), set(handle)
    assert set(attrs) == {"k", "dmax", "beta", "measure", "normed", "kappa", "coords", "n_efps", "spec_columns",
                          "graphs", "energyflow_version", "source_file", "source_sha256"}
    assert (attrs["k"], attrs["dmax"], attrs["beta"], attrs["measure"], attrs["coords"]) == (1, 5, 2.0, "ee", "epxpypz")
    assert attrs["n_efps"] == 102 and attrs["source_file"] == "small.h5" and len(attrs["source_sha256"]) == 64
    assert names == {"efp", "event_id", "specs", "thrust", "heavy_jet_mass", "c_parameter"}


def test_a_cache_made_while_waiting_for_the_lock_is_reused(tmp_path, monkeypatch):
    path = write_rambo_snapshots(tmp_path / "small.h5", n_events=30, k_max=1)
    calls, locks = [], []
    original_group, original_lock = efp_ee._compute_group, efp_ee.exclusive_lock
    monkeypatch.setattr(efp_ee, "_compute_group", lambda *a: calls.append(a) or original_group(*a))

    @contextlib.contextmanager
    def another_job_first(lock_path):  # the job holding the lock writes the cache before this one gets it
        locks.append(lock_path)
        with monkeypatch.context() as patch:
            patch.setattr(efp_ee, "exclusive_lock", original_lock)
            efp_ee.cache_snapshot_efps(path, 1)
        with original_lock(lock_path):
            yield

    monkeypatch.setattr(efp_ee, "exclusive_lock", another_job_first)
    cache = efp_ee.cache_snapshot_efps(path, 1)
    assert len(calls) == 1  # computed once, by the "other job"
    assert locks == [cache.with_name(f".{cache.name}.lock")]
    assert snapshot_features(path, 1)["efp"].shape == (30, 102)


def test_evaluate_leaves_the_nets_training_flag_as_it_was(snapshot_file):
    module = data(snapshot_file, 100)
    net = torch.nn.Sequential(torch.nn.Linear(102, 1, dtype=torch.float64), torch.nn.Flatten(0))
    for training in (True, False):
        net.train(training)
        metrics = shower_task.evaluate(net, module)
        assert net.training is training and set(metrics) == {"test_loss", "test_r2", "test_variance"}
    wrong_width = torch.nn.Linear(3, 1, dtype=torch.float64)
    with pytest.raises(RuntimeError):
        shower_task.evaluate(wrong_width, module)
    assert wrong_width.training  # restored also when the net raises


# --------------------------------------------------------------------------- models and theory


def test_feature_ridge_closed_form_is_ridge_with_an_intercept(snapshot_file):
    module = data(snapshot_file, 300)
    x, y = module.split("train")
    for ridge, width in ((1e-3, 20), (0.0, 6)):
        net = FeatureRidge(102, width)
        FeatureRegression(net, ridge, optimizer=None).prepare(module)
        flops = solve_readout(net, x, y, ridge)
        assert flops > 0 and net.n_params == width
        mean, std = x.mean(axis=0)[:width], x.std(axis=0)[:width]
        varying = std > 1e-9 * np.abs(mean)
        z = (x[:, :width][:, varying] - mean[varying]) / std[varying]
        if ridge:
            v = np.linalg.solve(z.T @ z + len(y) * ridge * np.eye(z.shape[1]), z.T @ (y - y.mean()))
        else:
            v = np.linalg.lstsq(z, y - y.mean(), rcond=None)[0]
        xt, _ = module.split("test")
        expected = y.mean() + (xt[:, :width][:, varying] - mean[varying]) / std[varying] @ v
        np.testing.assert_allclose(net(torch.as_tensor(xt)).detach().numpy(), expected, rtol=1e-7, atol=1e-9)
    with pytest.raises(ValueError, match="width"):
        FeatureRidge(102, 103)


def test_ridge_theory_tracks_simulated_ridge_on_gaussian_features():
    """Gaussian features with a power-law spectrum (rotated), a linear target plus noise."""
    d, pool, ridge = 30, 20000, 1e-3
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.standard_normal((d, d)))
    scale = np.arange(1, d + 1) ** -0.75  # lambda_j = j^-1.5

    def sample(n, stream):
        g = np.random.default_rng([1, stream])
        latent = g.standard_normal((n, d)) * scale
        return latent @ basis.T * 3.0 + 5.0, latent[:, :d] @ (scale**0.5) + 0.1 * g.standard_normal(n)

    x_pool, y_pool = sample(pool, 0)
    x_test, y_test = sample(4000, 1)
    for width, n_train in ((30, 40), (30, 400), (12, 100)):
        losses = []
        for seed in range(20):
            x, y = sample(n_train, 10 + seed)
            mean, std = x.mean(axis=0), x.std(axis=0)
            z = (x[:, :width] - mean[:width]) / std[:width]
            v = np.linalg.solve(z.T @ z + n_train * ridge * np.eye(width), z.T @ (y - y.mean()))
            prediction = y.mean() + (x_test[:, :width] - mean[:width]) / std[:width] @ v
            losses.append(np.mean((prediction - y_test) ** 2))
        predicted = ridge_theory(x_pool, y_pool, width, n_train, ridge)
        assert predicted["test_mse"] == pytest.approx(np.mean(losses), rel=0.1), (width, n_train)
        assert predicted["noise"] >= 0.01 * 0.9


# --------------------------------------------------------------------------- the task


def test_shower_task_trains_in_process_and_theory_tracks_the_test_loss(snapshot_file, compose_train, tmp_path):
    sizes = [f"data.snapshots={snapshot_file}", "data.k=3", "data.n_test=1000", "data.n_pool=1500",
             "data.generate=null"]  # a RAMBO-made file: no Pythia run to check it against
    cfg = compose_train("task=shower", *sizes, "n_samples=400", "width=40", "ridge=1e-4")
    assert cfg.solver == "closed_form" and cfg.model.name == "shower_ridge"
    metrics = train(cfg, tmp_path / "ridge")
    assert metrics["task"] == "shower" and metrics["n_params"] == 40 and metrics["flops"] > 0
    assert 0 < metrics["test_loss"] < metrics["test_variance"] and metrics["test_r2"] > 0.5
    assert metrics["theory_loss"] == pytest.approx(metrics["test_loss"], rel=0.2)
    assert json.loads((tmp_path / "ridge" / "metrics.json").read_text())["theory_loss"] == metrics["theory_loss"]
    cfg = compose_train("task=shower", "model=shower_mlp", "solver=lightning", "data.theory=null", *sizes,
                        "data.n_val=100", "data.batch_size=50", "n_samples=200", "width=8", "trainer.max_steps=4")
    metrics = train(cfg, tmp_path / "mlp")
    assert metrics["model"] == "shower_mlp" and metrics["theory_loss"] is None and metrics["steps"] == 4
    assert np.isfinite(metrics["test_loss"]) and metrics["test_loss"] < 10 * metrics["test_variance"]
    assert metrics["n_params"] == 103 * 8 + 9 * 8 + 9
