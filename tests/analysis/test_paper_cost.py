"""jetscale paper-cost: training FLOPs of a paper scale counted the way jetscale train counts them."""

import pytest
import yaml

from jetscale.cli import main
from jetscale.models import PFN
from jetscale.paper.cost import cost_table, generation_core_hours, sweep_cost


def write_sweep(tmp_path, name, axes, overrides, task="jets", scale=None):
    """A sweep file (axes and overrides under scales.<scale> when a scale is given, as the paper's sweeps)."""
    path = tmp_path / f"{name}.yaml"
    sized = {"axes": axes, "overrides": overrides}
    path.write_text(yaml.safe_dump({"name": name, "task": task, **({"scales": {scale: sized}} if scale else sized)}))
    return str(path)


def test_steps_and_budgets_are_counted_like_training(tmp_path):
    fixed = sweep_cost(write_sweep(tmp_path, "fixed", {"n_samples": [100, 200], "width": [8]},
                                   {"data.max_constituents": 32, "data.batch_size": 64, "trainer.max_steps": 10}))
    per_sample = PFN(width=8, depth=2, n_particles=32).train_flops_per_sample()
    assert fixed.points == fixed.gradient_points == 2
    assert fixed.train_flops == 2 * per_sample * 64 * 10 and fixed.largest_point_flops == per_sample * 64 * 10

    budget = 1e9
    iso = sweep_cost(write_sweep(tmp_path, "iso", {"compute": [budget], "width": [8, 16]}, {"data.batch_size": 64}))
    # each point spends the whole steps its budget buys: within one step of the budget
    biggest_step = PFN(width=16, depth=2).train_flops_per_sample() * 64
    assert 2 * (budget - biggest_step) < iso.train_flops <= 2 * budget and iso.largest_point_flops <= budget

    toy = sweep_cost(write_sweep(tmp_path, "toy", {"n_samples": [10], "width": [4, 8]},
                                 {"data.source.latent_dim": 50}, task="toy"))
    assert toy.gradient_points == 0 and toy.train_flops == 0 and toy.cpu_seconds > 0


def test_cost_table_of_a_scale_totals_its_sweeps(tmp_path, capsys):
    jets = write_sweep(tmp_path, "pj", {"n_samples": [100]}, {"data.dataset_dir": "data/jets/x",
                                                             "trainer.max_steps": 10}, scale="tiny")
    toy = write_sweep(tmp_path, "pt", {"n_samples": [10], "width": [4]}, {"data.source.latent_dim": 50}, "toy",
                      scale="tiny")
    scale = tmp_path / "tiny.yaml"
    scale.write_text(yaml.safe_dump({
        "scale": "tiny", "jets": {"config": "jets_pythia", "dataset": "x", "n_shards": 2, "jets_per_shard": 1000},
        "efp": {"dmax": 5, "beta": 1}, "sweeps": {"classifiers": {"pfn": jets}, "width": jets, "isoflop": jets,
                                                   "toy": toy}}))
    table = cost_table(str(scale), sustained_tflops=1.0, gpus_per_node=4)
    flops = sweep_cost(f"{jets}@tiny").train_flops
    assert f"| pj-tiny | 1 | {flops:.2e} |" in table and "| pt-tiny | 1 |" in table
    assert f"{generation_core_hours(2000):.1f}" in table.splitlines()[-2]
    assert main(["paper-cost", "--config", str(scale), "--sustained-tflops", "1"]) == 0
    assert capsys.readouterr().out.strip() == table
    assert main(["paper-cost", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "no paper scale" in capsys.readouterr().err



def test_the_bk_spectrums_own_efps_are_counted(tmp_path):
    """A B&K spectrum at d <= 6 needs EFPs d <= 6 of every jet beside the d <= 5 ones: a row of their own."""
    from jetscale.paper.cost import EFP_JETS_PER_CORE_S_BY_DMAX

    toy = write_sweep(tmp_path, "pt", {"n_samples": [10], "width": [4]}, {"data.source.latent_dim": 50}, "toy",
                      scale="tiny")
    scale = {"scale": "tiny", "jets": {"config": "jets_pythia", "dataset": "x", "n_shards": 2, "jets_per_shard": 1000},
             "efp": {"dmax": 5, "beta": 1}, "sweeps": {"classifiers": {"t": toy}, "width": toy, "isoflop": toy,
                                                        "toy": toy},
             "bk_spectrum": {"dmax": 6, "beta": 1, "centring": "second-moment", "classes": "per-class", "scale": "raw"}}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(scale))
    table = cost_table(str(tmp_path / "tiny.yaml"))
    hours = 2000 / EFP_JETS_PER_CORE_S_BY_DMAX[6] / 3600
    assert f"| EFPs d <= 6 of the B&K spectrum (bk_spectrum) | | | | | | {hours:.1f} |" in table
    assert f"**{generation_core_hours(2000) + hours + 3.0 / 3600:.1f}**" in table.splitlines()[-1]
    scale["bk_spectrum"]["dmax"] = 5  # the caches of `efp`: nothing more
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(scale))
    assert "B&K spectrum" not in cost_table(str(tmp_path / "tiny.yaml"))


def test_the_jets_efps_are_costed_at_the_scales_own_degree(tmp_path):
    """efp.dmax = 6 costs the d <= 6 rate, not the d <= 5 one; a degree without a measured rate is refused."""
    from jetscale.paper.cost import EFP_JETS_PER_CORE_S_BY_DMAX, GENERATE_JETS_PER_CORE_S

    toy = write_sweep(tmp_path, "pt", {"n_samples": [10], "width": [4]}, {"data.source.latent_dim": 50}, "toy",
                      scale="tiny")
    scale = {"scale": "tiny", "jets": {"config": "jets_pythia", "dataset": "x", "n_shards": 2, "jets_per_shard": 1000},
             "efp": {"dmax": 6, "beta": 1}, "sweeps": {"classifiers": {"t": toy}, "width": toy, "isoflop": toy,
                                                        "toy": toy}}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(scale))
    hours = 2000 / GENERATE_JETS_PER_CORE_S / 3600 + 2000 / EFP_JETS_PER_CORE_S_BY_DMAX[6] / 3600
    assert f"| jets: 2,000 generated + EFPs | | | | | | {hours:.1f} |" in cost_table(str(tmp_path / "tiny.yaml"))
    assert generation_core_hours(2000, 6) == pytest.approx(hours)
    with pytest.raises(ValueError, match=r"no measured EFP rate for d <= 4"):
        generation_core_hours(2000, 4)
