"""RAMBO phase space, its observables and distances, and the generative task ``rambo`` (flow matching)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy import integrate, stats
from torch.utils.flop_counter import FlopCounterMode

from jetscale.data.rambo_dataset import RamboDataModule, to_features, to_momenta
from jetscale.models.flow_matching import VelocityField, flow_matching_loss
from jetscale.physics.distances import pair_mass_distance, rambo_distance_floor
from jetscale.physics.observables import masslessness, momentum_imbalance, pair_masses
from jetscale.packed import train_packed
from jetscale.physics.rambo import massless_phase_space_volume, rambo
from jetscale.tasks import rambo as rambo_task
from jetscale.train import train

SQRT_S = 100.0


def mass_squared(p: np.ndarray) -> np.ndarray:
    return p[..., 0] ** 2 - np.sum(p[..., 1:] ** 2, -1)


# -- RAMBO ---------------------------------------------------------------------------------------

def test_massless_events_conserve_momentum_are_massless_and_weigh_the_volume():
    momenta, weights = rambo(5, SQRT_S, 2000, seed=1)
    assert momenta.shape == (2000, 5, 4) and momenta.dtype == np.float64
    np.testing.assert_allclose(momenta.sum(1), np.tile([SQRT_S, 0, 0, 0], (2000, 1)), rtol=0, atol=1e-10 * SQRT_S)
    assert np.abs(mass_squared(momenta)).max() < 1e-10 * SQRT_S**2
    assert (momenta[..., 0] > 0).all()
    np.testing.assert_allclose(weights, massless_phase_space_volume(5, SQRT_S), rtol=1e-14)


def test_volume_formula_matches_independent_two_and_three_body_results():
    s = SQRT_S**2
    assert massless_phase_space_volume(2, SQRT_S) == pytest.approx(math.pi / 2, rel=1e-14)
    # dΦ_3 = π²/(4s) dm12² dm23² over the Dalitz triangle of area s²/2
    assert massless_phase_space_volume(3, SQRT_S) == pytest.approx(math.pi**2 / (4 * s) * s**2 / 2, rel=1e-14)
    # dimension: Φ_n ∝ s^(n−2)
    assert massless_phase_space_volume(6, 2.0) / massless_phase_space_volume(6, 1.0) == pytest.approx(4.0**4)


def test_events_nest_in_their_number_and_depend_on_the_seed():
    big, _ = rambo(4, SQRT_S, 300, seed=[7, 0])
    small, _ = rambo(4, SQRT_S, 40, seed=[7, 0])
    np.testing.assert_array_equal(small, big[:40])
    other, _ = rambo(4, SQRT_S, 40, seed=[7, 1])
    assert not np.allclose(other, small)


def test_two_body_directions_are_isotropic():
    momenta, _ = rambo(2, SQRT_S, 4000, seed=2)
    p = momenta[:, 0, 1:]
    np.testing.assert_allclose(np.linalg.norm(p, axis=-1), SQRT_S / 2, rtol=1e-12)
    np.testing.assert_allclose(momenta[:, 1, 1:], -p, atol=1e-10 * SQRT_S)
    cos_theta, phi = p[:, 2] / (SQRT_S / 2), np.arctan2(p[:, 1], p[:, 0])
    assert stats.kstest(cos_theta, stats.uniform(-1, 2).cdf).pvalue > 1e-3
    assert stats.kstest(phi, stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 1e-3
    biased = cos_theta[cos_theta > -0.8]  # the test can tell: a hole at the south pole is seen
    assert stats.kstest(biased, stats.uniform(-1, 2).cdf).pvalue < 1e-6


def test_three_body_dalitz_plot_is_flat():
    """Flat in (m12², m23²) over the triangle m12² + m23² ≤ s: x = m12²/s has density 2(1 − x)."""
    momenta, _ = rambo(3, SQRT_S, 5000, seed=3)
    m2 = pair_masses(momenta) ** 2 / SQRT_S**2  # (12, 13, 23)
    np.testing.assert_allclose(m2.sum(1), 1.0, rtol=1e-10)  # massless: Σ m_ij² = s
    flat_cdf = lambda x: 1 - (1 - x) ** 2  # noqa: E731
    for column in range(3):
        assert stats.kstest(m2[:, column], flat_cdf).pvalue > 1e-3
    assert stats.kstest(m2[:, 0], stats.uniform(0, 1).cdf).pvalue < 1e-6  # not uniform in m12² alone


def test_massive_events_conserve_momentum_and_have_their_masses():
    masses = [10.0, 0.0, 25.0, 5.0]
    momenta, weights = rambo(4, SQRT_S, 1000, seed=4, masses=masses)
    np.testing.assert_allclose(momenta.sum(1), np.tile([SQRT_S, 0, 0, 0], (1000, 1)), rtol=0, atol=1e-10 * SQRT_S)
    np.testing.assert_allclose(mass_squared(momenta), np.tile(np.square(masses), (1000, 1)),
                               rtol=0, atol=1e-10 * SQRT_S**2)
    np.testing.assert_allclose(masslessness(momenta), np.sum(np.square(masses)) / SQRT_S**2, rtol=1e-8)
    assert (weights > 0).all() and weights.std() > 0  # massive events are weighted


def test_mass_rescaling_converges_next_to_threshold():
    """ξ ≈ 1e-4 here: Newton still brings the energy sum to √s (a step-size criterion would stall in rounding)."""
    momenta, weights = rambo(5, SQRT_S, 2000, seed=9, masses=[0, 0, 0, 0, 99.99])
    np.testing.assert_allclose(momenta.sum(1), np.tile([SQRT_S, 0, 0, 0], (2000, 1)), rtol=0, atol=1e-10 * SQRT_S)
    assert np.isfinite(weights).all() and (weights > 0).all()


def test_massive_two_body_weight_is_the_two_body_volume():
    m1, m2 = 30.0, 20.0
    _, weights = rambo(2, SQRT_S, 50, seed=5, masses=[m1, m2])
    s = SQRT_S**2
    p = math.sqrt((s - (m1 + m2) ** 2) * (s - (m1 - m2) ** 2)) / (2 * SQRT_S)
    np.testing.assert_allclose(weights, math.pi / 2 * (2 * p / SQRT_S), rtol=1e-10)  # π β / 2


def test_massive_three_body_weights_integrate_to_the_dalitz_volume():
    """Φ_3 = π²/(4s) · Dalitz area; at fixed m12² the m23² range is 4 |p2*| |p3*| (12 rest frame)."""
    m = (10.0, 20.0, 30.0)
    s = SQRT_S**2

    def m23_range(m12sq):
        m12 = math.sqrt(m12sq)
        e2 = (m12sq - m[0] ** 2 + m[1] ** 2) / (2 * m12)
        e3 = (s - m12sq - m[2] ** 2) / (2 * m12)
        return 4 * math.sqrt(max(e2**2 - m[1] ** 2, 0)) * math.sqrt(max(e3**2 - m[2] ** 2, 0))

    area, _ = integrate.quad(m23_range, (m[0] + m[1]) ** 2, (SQRT_S - m[2]) ** 2)
    _, weights = rambo(3, SQRT_S, 100_000, seed=6, masses=m)
    error = weights.std() / math.sqrt(len(weights))
    assert abs(weights.mean() - math.pi**2 / (4 * s) * area) < 4 * error
    assert error < 0.01 * weights.mean()


@pytest.mark.parametrize("args, key", [
    ((1, SQRT_S, 10, 0), "n_particles"),
    ((3, 0.0, 10, 0), "sqrt_s"),
    ((3, SQRT_S, -1, 0), "n_events"),
    ((3, SQRT_S, 10, 0, [40.0, 40.0, 30.0]), "sum of the masses"),
    ((3, SQRT_S, 10, 0, [1.0, 2.0]), "one mass per particle"),
    ((3, SQRT_S, 10, 0, [1.0, -2.0, 0.0]), ">= 0"),
])
def test_bad_kinematics_are_named(args, key):
    with pytest.raises(ValueError, match=key):
        rambo(*args)


# -- observables and distances -------------------------------------------------------------------

def test_observables_of_a_known_event():
    event = np.array([[[50.0, 0, 0, 50.0], [30.0, 0, 30.0, 0], [20.0, 0, -30.0, -50.0]]])  # Σ = (100, 0, 0, 0)
    # particle 3 is off shell (p² < 0): p1 + p3 = (70, 0, −30, 0), p2 + p3 = (50, 0, 0, −50)
    expected = [math.sqrt(2 * 50 * 30), math.sqrt(70**2 - 30**2), 0.0]
    np.testing.assert_allclose(pair_masses(event)[0], expected)
    assert momentum_imbalance(event, SQRT_S)[0] == pytest.approx(0.0, abs=1e-15)
    shifted = event + np.array([0.0, 3.0, 0.0, 4.0])  # each particle's p⃗ moved by (3, 0, 4): Σ off by 3·5
    assert momentum_imbalance(shifted, SQRT_S)[0] == pytest.approx(15.0 / SQRT_S)
    assert masslessness(event)[0] == pytest.approx(abs(20.0**2 - 30.0**2 - 50.0**2) / SQRT_S**2)


def test_distance_is_zero_symmetric_and_grows_with_a_shift():
    a, _ = rambo(4, SQRT_S, 3000, seed=[8, 0])
    b, _ = rambo(4, SQRT_S, 3000, seed=[8, 1])
    assert pair_mass_distance(a, a, SQRT_S) == 0.0
    assert pair_mass_distance(a, b, SQRT_S) == pytest.approx(pair_mass_distance(b, a, SQRT_S), rel=1e-12)
    floor = pair_mass_distance(a, b, SQRT_S)
    shifted = [pair_mass_distance(a, b * scale, SQRT_S) for scale in (1.05, 1.2)]
    assert floor < 0.01 < shifted[0] < shifted[1]
    # pair masses scale with the momenta: a 20 % scale moves every m_ij/√s by 0.2·mean(m_ij/√s)
    assert shifted[1] == pytest.approx(0.2 * (pair_masses(b) / SQRT_S).mean(), rel=0.1)


def test_floor_shrinks_like_one_over_root_n():
    small = rambo_distance_floor(4, SQRT_S, 400, 400, seed=0)
    large = rambo_distance_floor(4, SQRT_S, 25_600, 25_600, seed=0)
    assert 3.0 < small / large < 16.0  # √64 = 8 expected; one realisation each


# -- the flow-matching model ---------------------------------------------------------------------

def test_velocity_field_sizes_flops_and_sampling():
    net = VelocityField(n_particles=4, width=32, depth=3, n_frequencies=4)
    d, f = 12, 8
    assert net.n_params == (d + f + 1) * 32 + 2 * (32 + 1) * 32 + (32 + 1) * d
    x1, x0, t = torch.randn(16, d), torch.randn(16, d), torch.rand(16)
    with FlopCounterMode(display=False) as counter:
        flow_matching_loss(net, (x1, x0, t)).backward()
    assert counter.get_total_flops() == pytest.approx(16 * net.train_flops_per_sample(), rel=0.02)
    first = net.sample(50, steps=4, generator=torch.Generator().manual_seed(0))
    again = net.sample(50, steps=4, generator=torch.Generator().manual_seed(0))
    assert first.shape == (50, d) and torch.equal(first, again)
    with pytest.raises(ValueError, match="width"):
        VelocityField(n_particles=4, width=0, depth=2)


def test_midpoint_sampler_integrates_a_known_flow():
    """v(x, t) = x (as ReLU(x) − ReLU(−x), ignoring t) has the flow x(1) = e·x(0); one midpoint step
    multiplies by 1 + h + h²/2."""
    net = VelocityField(n_particles=1, width=6, depth=1)  # sizes (3 + 8, 6, 3)
    hidden, out = net.net[0], net.net[2]
    with torch.no_grad():
        hidden.weight.zero_(), hidden.bias.zero_(), out.bias.zero_()
        hidden.weight[:, :3] = torch.cat([torch.eye(3), -torch.eye(3)])
        out.weight.copy_(torch.cat([torch.eye(3), -torch.eye(3)], 1))
    x0 = torch.randn(20, 3, generator=torch.Generator().manual_seed(1))
    x1 = net.sample(20, steps=16, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(x1, x0 * (1 + 1 / 16 + 1 / 512) ** 16)
    assert (x1 / x0).mean().item() == pytest.approx(math.e, rel=1e-3)


# -- the datamodule ------------------------------------------------------------------------------

def rambo_data(n_train: int = 64, **options) -> RamboDataModule:
    settings = {"n_particles": 4, "sqrt_s": SQRT_S, "n_test": 300, "seed": 3, "batch_size": 16,
                "n_generate": 300, "sample_steps": 4, **options}
    return RamboDataModule(n_train=n_train, **settings)


def test_splits_nest_in_n_train_and_held_out_events_do_not_depend_on_it():
    small, big = rambo_data(64), rambo_data(256, n_val=50)
    torch.testing.assert_close(small.features("train"), big.features("train")[:64], rtol=0, atol=0)
    np.testing.assert_array_equal(small.events("test"), big.events("test"))
    for a, b in zip(small.fixed_noise_batch("test"), big.fixed_noise_batch("test")):
        assert torch.equal(a, b)
    assert not np.allclose(big.events("val")[:50], big.events("test")[:50])
    assert not np.allclose(big.events("train")[:50], big.events("test")[:50])
    momenta = small.events("train")
    np.testing.assert_allclose(to_momenta(to_features(momenta, SQRT_S), SQRT_S), momenta, rtol=1e-5, atol=1e-4)


def test_training_noise_is_fresh_each_step_and_resumes():
    data = rambo_data(64)
    stream = iter(data.train_dataloader())
    batches = [next(stream) for _ in range(5)]
    x1, x0, t = batches[0]
    assert x1.shape == x0.shape == (16, 12) and t.shape == (16,) and 0 <= t.min() and t.max() < 1
    assert not torch.equal(batches[1][1], x0)
    data.trainer = SimpleNamespace(global_rank=0, world_size=1, global_step=3)  # a run resumed at step 3
    resumed = next(iter(data.train_dataloader()))
    for a, b in zip(resumed, batches[3]):
        assert torch.equal(a, b)


def test_bad_sizes_are_named():
    with pytest.raises(ValueError, match="data.n_train"):
        rambo_data(0)
    with pytest.raises(ValueError, match="n_particles"):
        rambo_data(64, n_particles=1)


def test_bad_sizes_and_splits_are_named():
    with pytest.raises(ValueError, match="data.n_generate must be an integer >= 1, got 0"):
        rambo_data(64, n_generate=0)
    with pytest.raises(ValueError, match="data.n_val must be an integer >= 0, got None"):
        rambo_data(64, n_val=None)
    data = rambo_data(64)
    with pytest.raises(ValueError, match=r"no RAMBO split 'tset'; splits: \['train', 'test', 'val'\]"):
        data.events("tset")
    with pytest.raises(ValueError, match="data.n_val > 0"):  # no validation split to load
        data.val_dataloader()
    assert len(rambo_data(64, n_val=40).val_dataloader().dataset) == 40


def test_distance_floor_is_drawn_once_for_a_seed_and_sizes(monkeypatch):
    """Two true samples that depend on (seed, sizes) only: computed once, the same for every n_train."""
    calls = []

    def counted(*args):
        calls.append(args)
        return rambo_distance_floor(*args)

    monkeypatch.setattr(rambo_task, "rambo_distance_floor", counted)
    rambo_task.distance_floor.cache_clear()
    torch.manual_seed(0)
    net = VelocityField(n_particles=4, width=8, depth=1)
    floors = [rambo_task.evaluate(net, rambo_data(n_train, seed=11))["test_distance_floor"] for n_train in (32, 64, 64)]
    assert len(calls) == 1 and floors[0] == floors[1] == floors[2]
    assert floors[0] == rambo_distance_floor(4, SQRT_S, 300, 300, [11, rambo_task.FLOOR_STREAM])
    rambo_task.evaluate(net, rambo_data(64, seed=12))
    assert len(calls) == 2  # another seed: another floor
    rambo_task.distance_floor.cache_clear()


def test_evaluation_restores_the_training_mode_when_it_fails():
    data = rambo_data(64, n_particles=3)  # events of 9 components; the net takes 12
    net = VelocityField(n_particles=4, width=8, depth=1)
    with pytest.raises(RuntimeError):
        rambo_task.evaluate(net, data)
    assert net.training and torch.is_grad_enabled()
    net.eval()
    data = rambo_data(64)
    rambo_task.evaluate(net, data)
    assert not net.training


def test_evaluation_is_deterministic_and_sees_an_untrained_model():
    data = rambo_data(64)
    torch.manual_seed(0)
    net = VelocityField(n_particles=4, width=16, depth=2)
    metrics = rambo_task.evaluate(net, data)
    assert metrics == rambo_task.evaluate(net, data)
    with torch.no_grad():
        assert metrics["test_loss"] == pytest.approx(float(flow_matching_loss(net, data.fixed_noise_batch("test"))))
    assert metrics["test_distance"] > 5 * metrics["test_distance_floor"] > 0
    assert metrics["test_momentum_imbalance"] > 0.1
    assert rambo_task.theory_loss(data, 16, 0.0) is None


def test_task_trains_in_process_with_validation(compose_train, tmp_path):
    cfg = compose_train("task=rambo", "n_samples=64", "width=16", "seed=1", "trainer.max_steps=4",
                        "data.n_val=32", "early_stopping.val_every_n_steps=2", "data.batch_size=16",
                        "data.n_test=200", "data.n_generate=200", "data.sample_steps=2", "logger={}")
    metrics = train(cfg, tmp_path)
    assert metrics["task"] == "rambo" and metrics["model"] == "flow_matching" and metrics["steps"] == 4
    assert metrics["n_params"] == (12 + 8 + 1) * 16 + 2 * (16 + 1) * 16 + (16 + 1) * 12
    assert metrics["flops"] == 4 * 16 * VelocityField(4, 16, 3).train_flops_per_sample()
    for key in ("test_loss", "test_distance", "test_distance_floor", "test_momentum_imbalance", "val_loss"):
        assert math.isfinite(metrics[key]), key
    assert metrics["theory_loss"] is None and (tmp_path / "metrics.json").exists()


def test_packed_training_equals_a_separate_run(compose_train, tmp_path):
    """Batches carry their noise, so a vmapped pack (jetscale.packed) trains exactly what one run trains."""
    common = ["task=rambo", "width=16", "trainer.max_steps=20", "data.batch_size=32", "data.n_test=300",
              "data.n_generate=300", "data.sample_steps=4", "logger={}"]
    cfgs = [compose_train(*common, f"n_samples={n}", f"seed={seed}") for n, seed in ((64, 0), (128, 1))]
    packed = train_packed(cfgs, [tmp_path / "a", tmp_path / "b"])
    alone = train(cfgs[1], tmp_path / "alone")
    for key in ("test_loss", "test_distance", "test_momentum_imbalance"):
        assert packed[1][key] == pytest.approx(alone[key], rel=1e-5), key
    assert packed[0]["test_loss"] != packed[1]["test_loss"]


@pytest.mark.slow
def test_training_brings_generated_events_closer_to_phase_space(compose_train, tmp_path):
    overrides = ["task=rambo", "data.n_particles=3", "n_samples=2048", "width=64", "seed=0", "data.n_test=2000",
                 "data.n_generate=2000", "logger={}"]
    before = train(compose_train(*overrides, "trainer.max_steps=1"), tmp_path / "before")
    after = train(compose_train(*overrides, "trainer.max_steps=400"), tmp_path / "after")
    assert after["test_loss"] < before["test_loss"] - 0.2
    assert after["test_distance"] < 0.3 * before["test_distance"]
    assert after["test_momentum_imbalance"] < 0.5 * before["test_momentum_imbalance"]


def test_the_global_batch_is_an_integer_or_the_full_training_set():
    from jetscale.data.checks import global_batch

    assert global_batch(None, 300) == 300 and global_batch(64, 300) == 64 and global_batch(8.0, 300) == 8
    for bad in (0, -4, 2.5, "64"):
        with pytest.raises(ValueError, match=r"data.batch_size must be an integer >= 1 or null \(full batch\)"):
            global_batch(bad, 300)
