"""The block evaluator of EFPs against energyflow's ``batch_compute``, on real Pythia jets and on edge cases.

Agreement is per value: |block - energyflow| <= 1e-10 * max(|energyflow|, 1e-300) (EFPs are sums of
non-negative terms, so rounding is relative). Degree 6 and 7 use the jets of fewest particles: energyflow
takes seconds per jet there; the slow tests take more (and larger) jets.
"""

import numpy as np
import pytest

from jetscale.data.shards import read_shard, shard_name
from jetscale.features import efp_block
from jetscale.features.efp import compute_efps, efp_set, jet_particles

RTOL = 1e-10


def assert_matches(values, reference):
    reference = np.asarray(reference, dtype=float).reshape(values.shape)
    scale = np.maximum(np.abs(reference), 1e-300)
    worst = np.unravel_index(np.argmax(np.abs(values - reference) / scale), values.shape)
    assert np.all(np.abs(values - reference) <= RTOL * scale), \
        f"jet {worst[0]}, EFP {worst[1]}: block {values[worst]!r} vs energyflow {reference[worst]!r}"


def energyflow_efps(constituents, counts, dmax, beta=1.0):
    return efp_set(dmax, beta).batch_compute(jet_particles(constituents, counts), n_jobs=1)


@pytest.fixture(scope="module")
def pythia_jets(tiny_jet_dir):
    """The session's 200 generated jets (top and QCD): constituents [200, 200, 4] and counts."""
    rows = [read_shard(tiny_jet_dir / shard_name(i), fields=("constituents", "n_constituents")) for i in (0, 1)]
    return (np.concatenate([r["constituents"] for r in rows]), np.concatenate([r["n_constituents"] for r in rows]))


def fewest(jets, n):
    """The n jets with fewest constituents, in shard order (so one block holds several multiplicities)."""
    constituents, counts = jets
    rows = np.sort(np.argsort(counts, kind="stable")[:n])
    return constituents[rows], counts[rows]


def spread(jets, n):
    """n jets spread over the whole multiplicity range, in shard order."""
    constituents, counts = jets
    rows = np.sort(np.argsort(counts, kind="stable")[np.linspace(0, len(counts) - 1, n).astype(int)])
    return constituents[rows], counts[rows]


def test_pythia_jets_of_every_multiplicity_match_energyflow_at_degree_5(pythia_jets):
    constituents, counts = spread(pythia_jets, 24)
    assert counts.max() > 2 * counts.min()  # several multiplicities, hence padding inside blocks
    assert_matches(compute_efps(constituents, counts, dmax=5), energyflow_efps(constituents, counts, 5))


@pytest.mark.slow
def test_all_pythia_jets_match_energyflow_at_degree_5(pythia_jets):
    assert_matches(compute_efps(*pythia_jets, dmax=5), energyflow_efps(*pythia_jets, 5))


@pytest.mark.parametrize("dmax, n_jets", [(6, 3), (7, 2)])
def test_few_pythia_jets_match_energyflow_at_degree_6_and_7(pythia_jets, dmax, n_jets):
    constituents, counts = fewest(pythia_jets, n_jets)
    values = compute_efps(constituents, counts, dmax=dmax)
    assert values.shape == (n_jets, {6: 314, 7: 1000}[dmax])
    assert_matches(values, energyflow_efps(constituents, counts, dmax))


@pytest.mark.slow
@pytest.mark.parametrize("dmax, n_jets", [(6, 40), (7, 12)])
def test_more_pythia_jets_match_energyflow_at_degree_6_and_7(pythia_jets, dmax, n_jets):
    constituents, counts = spread(pythia_jets, n_jets)  # every multiplicity range, not only the small jets
    assert_matches(compute_efps(constituents, counts, dmax=dmax), energyflow_efps(constituents, counts, dmax))


@pytest.mark.parametrize("beta", [0.5, 2.0])
def test_other_angular_exponents_match_energyflow(pythia_jets, beta):
    constituents, counts = fewest(pythia_jets, 12)
    assert_matches(compute_efps(constituents, counts, dmax=5, beta=beta),
                   energyflow_efps(constituents, counts, 5, beta))


def jets_of(particles):
    """Jets from lists of (pT, eta, phi) massless particles, zero-padded: constituents [n, C, 4] and counts."""
    width = max(len(p) for p in particles)
    constituents = np.zeros((len(particles), width, 4))
    for i, rows in enumerate(particles):
        pt, eta, phi = np.asarray(rows, dtype=float).T
        constituents[i, :len(rows)] = np.stack([pt, eta, phi, pt * np.cosh(eta)], axis=1)
    return constituents, np.array([len(p) for p in particles])


def test_single_jet_one_particle_jets_and_mixed_multiplicities():
    rng = np.random.default_rng(3)
    many = [(pt, eta, phi) for pt, eta, phi in zip(rng.exponential(20, 25) + 1, rng.normal(0, 0.2, 25),
                                                    rng.normal(0, 0.2, 25), strict=True)]
    jets = [many, [(50.0, 0.3, 1.0)], many[:2], [(10.0, -0.1, 0.2)], many[:7]]
    constituents, counts = jets_of(jets)
    assert len(efp_block.block_rows(efp_set(6, 1.0), counts)) == 1  # all five share one padded block
    values = compute_efps(constituents, counts, dmax=6)
    assert_matches(values, energyflow_efps(constituents, counts, 6))
    graphs = list(efp_set(6, 1.0).graphs())
    has_edges = np.array([len(g) > 0 for g in graphs])
    for row in (1, 3):  # one particle: z = 1, theta = 0
        np.testing.assert_array_equal(values[row], np.where(has_edges, 0.0, 1.0))
    single = compute_efps(constituents[:1], counts[:1], dmax=6)
    assert single.shape == (1, 314)
    assert_matches(single, values[:1])


def test_jets_across_phi_equals_pi_fold_the_azimuth_as_energyflow_does():
    rng = np.random.default_rng(7)
    pt, eta, dphi = rng.exponential(20, 20) + 1, rng.normal(0, 0.3, 20), rng.normal(0, 0.2, 20)
    across = np.angle(np.exp(1j * (np.pi + dphi)))  # around phi = +-pi, wrapped into (-pi, pi]
    assert across.min() < -2.5 and across.max() > 2.5
    constituents, counts = jets_of([list(zip(pt, eta, across, strict=True)),
                                    list(zip(pt, eta, dphi, strict=True))])
    values = compute_efps(constituents, counts, dmax=5)
    assert_matches(values, energyflow_efps(constituents, counts, 5))
    assert_matches(values[:1], values[1:])  # the same jet rotated by pi in azimuth


def test_blocks_cover_every_jet_once_within_the_memory_bound(pythia_jets):
    _, counts = pythia_jets
    assert efp_block.plan(efp_set(6, 1.0)).largest_axes == 2  # K4 is evaluated on [b, m, m] arrays
    efps = efp_set(7, 1.0)
    assert efp_block.plan(efps).largest_axes == 3  # two graphs at d = 7 need [b, m, m, m]
    blocks = efp_block.block_rows(efps, counts, elements=1 << 20)
    assert np.array_equal(np.sort(np.concatenate(blocks)), np.arange(len(counts)))
    for rows in blocks:
        m = int(counts[rows].max())
        assert len(rows) == 1 or (len(rows) * m**3 <= 1 << 20 and len(rows) * m**2 <= efp_block.CACHE_ELEMENTS)
        assert len(rows) <= efp_block.BLOCK_JETS


def test_the_plan_shares_steps_between_graphs():
    efps = efp_set(5, 1.0)
    compiled = efp_block.plan(efps)
    assert len(compiled.outputs) == len(efps.efps) == 54
    assert len(set(compiled.outputs)) == 54  # different graphs, different values
    per_graph = sum(len(efp.graph) + efp.n for efp in efps.efps)  # edges plus eliminations, were nothing shared
    assert len(compiled.steps) < per_graph / 2
    theta = next(i for i, step in enumerate(compiled.steps) if step.weight == 1.0)
    products = [step for step in compiled.steps  # theta Z theta, however its two thetas are oriented: one step
                if step.n_axes == 2 and [node for node, _ in step.children] == [theta, theta]]
    assert len(products) == 1


def test_unknown_evaluator_is_refused(pythia_jets):
    with pytest.raises(ValueError, match="evaluator must be one of"):
        compute_efps(*fewest(pythia_jets, 1), evaluator="fast")


@pytest.mark.parametrize("beta", [1.0, 2.0])
def test_ee_measure_through_the_same_evaluator_matches_energyflow_at_degree_6(beta):
    """e+e- events (massless, so theta_ii is zero only to rounding: the K4 step keeps the diagonal pairs)."""
    from jetscale.features.efp_ee import compute_ee_efps, ee_efp_set

    rng = np.random.default_rng(11)
    p = rng.normal(size=(5, 9, 3))
    momenta = np.concatenate([np.linalg.norm(p, axis=2, keepdims=True), p], axis=2)
    assert_matches(compute_ee_efps(momenta, dmax=6, beta=beta),
                   ee_efp_set(6, beta).batch_compute(list(momenta), n_jobs=1))


def test_no_jets_give_an_empty_table_of_the_sets_width_as_energyflow_does():
    empty, counts = np.zeros((0, 5, 4)), np.zeros(0, dtype=np.int64)
    for evaluator in ("block", "energyflow"):
        assert compute_efps(empty, counts, 5, evaluator=evaluator).shape == (0, efp_set(5, 1.0).specs.shape[0])
