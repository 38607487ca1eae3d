"""What a paper scale costs before it is submitted: training FLOPs per sweep (counted the way
``jetscale train`` counts them) and jet-generation CPU time, turned into GPU- and node-hours.

Training FLOPs of a gradient point are ``train_flops_per_sample × batch × steps`` with ``steps`` =
``trainer.max_steps`` or what its ``compute`` budget buys (:func:`jetscale.train.step_budget`): an
upper bound for early-stopped points. GPU-hours divide by an *assumed* sustained throughput (small
models reach a few percent of a GPU's peak; measure a pilot sweep and pass its rate). Closed-form
toy points are counted as CPU-seconds of process time. Jet generation and EFPs are counted at this
project's measured single-core rates (docs/testing.md, benchmarks/generate.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from hydra.utils import instantiate

from jetscale.paper.config import load_paper_config, sweep_name
from jetscale.sweep import compose_point, load_sweep

GENERATE_JETS_PER_CORE_S = 165.0  # Pythia 8 + anti-kT, top + QCD, one core (configs/generator/jets_pythia.yaml)
EFP_JETS_PER_CORE_S_BY_DMAX = {5: 3980.0, 6: 720.0, 7: 111.0}
"""Jets/s of the block evaluator (jetscale.features.efp_block) by EFP degree, one core, on Pythia jets of 68
constituents on average: benchmarks/efp.py, 2 December 2026 (docs/testing.md)."""
CLOSED_FORM_CORE_S = 3.0  # one toy point: process start-up and a ridge solve
DEFAULT_SUSTAINED_TFLOPS = 2.0  # per GPU, for small jet models (about 10 % of an A100's FP32 peak)


@dataclass(frozen=True)
class SweepCost:
    sweep: str
    points: int
    gradient_points: int
    train_flops: float  # summed over gradient points (upper bound with early stopping)
    largest_point_flops: float
    cpu_seconds: float  # closed-form points


def point_flops(cfg) -> float:
    """Training FLOPs of one composed gradient point (0 for closed form)."""
    from jetscale.train import step_budget  # lightning import: only when asked

    if cfg.solver != "lightning":
        return 0.0
    net = instantiate(cfg.model.net)
    if hasattr(net, "n_particles"):  # particle models: the padded length training will see (jetscale.train)
        net.n_particles = cfg.data.get("max_constituents") or net.n_particles
    batch = cfg.data.get("batch_size") or cfg.n_samples
    flops_per_step = float(net.train_flops_per_sample()) * batch
    return flops_per_step * step_budget(cfg, flops_per_step)


def sweep_cost(entry: str) -> SweepCost:
    sweep = load_sweep(entry, check_config=False)
    flops, cpu, gradient = [], 0.0, 0
    for point in sweep.points():
        cfg = compose_point(sweep, point)
        if cfg.solver == "lightning":
            gradient += 1
            flops.append(point_flops(cfg))
        else:
            cpu += CLOSED_FORM_CORE_S
    return SweepCost(sweep_name(entry), len(sweep.points()), gradient, sum(flops), max(flops, default=0.0), cpu)


def efp_core_hours(n_jets: int, dmax: int) -> float:
    """Core-hours of EFPs d <= ``dmax`` of ``n_jets`` jets; a degree without a measured rate is refused."""
    if dmax not in EFP_JETS_PER_CORE_S_BY_DMAX:
        raise ValueError(f"no measured EFP rate for d <= {dmax} (measured: {sorted(EFP_JETS_PER_CORE_S_BY_DMAX)}; "
                         "benchmarks/efp.py)")
    return n_jets / EFP_JETS_PER_CORE_S_BY_DMAX[dmax] / 3600


def generation_core_hours(n_jets: int, dmax: int = 5) -> float:
    """Core-hours of generating ``n_jets`` jets and their EFPs d <= ``dmax``."""
    return n_jets / GENERATE_JETS_PER_CORE_S / 3600 + efp_core_hours(n_jets, dmax)


def cost_table(scale: str, sustained_tflops: float = DEFAULT_SUSTAINED_TFLOPS, gpus_per_node: int = 4) -> str:
    """Markdown table of a scale's cost: one row per sweep, then jet generation and the total."""
    paper = load_paper_config(scale)
    lines = [f"Cost of paper scale `{paper.scale}` ({paper.source}); GPU-hours at an assumed sustained "
             f"{sustained_tflops:g} TFLOP/s per GPU, {gpus_per_node} GPUs per node.", "",
             "| sweep | points | training FLOPs (upper bound) | largest point | GPU-hours | node-hours | CPU core-hours |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    total_gpu_h = total_cpu_h = 0.0
    for entry in paper.sweeps():
        cost = sweep_cost(entry)
        gpu_h = cost.train_flops / (sustained_tflops * 1e12) / 3600
        cpu_h = cost.cpu_seconds / 3600
        total_gpu_h += gpu_h
        total_cpu_h += cpu_h
        lines.append(f"| {cost.sweep} | {cost.points} | {cost.train_flops:.2e} | {cost.largest_point_flops:.2e} | "
                     f"{gpu_h:.2f} | {gpu_h / gpus_per_node:.2f} | {cpu_h:.2f} |")
    n_jets = paper.jets.n_shards * paper.jets.jets_per_shard
    gen_h = generation_core_hours(n_jets, paper.efp_dmax)
    lines.append(f"| jets: {n_jets:,} generated + EFPs | | | | | | {gen_h:.1f} |")
    bk = paper.bk_spectrum
    if bk is not None and (bk["dmax"], bk["beta"]) != (paper.efp_dmax, paper.efp_beta):  # EFPs of their own
        bk_h = efp_core_hours(n_jets, bk["dmax"])
        gen_h += bk_h
        lines.append(f"| EFPs d <= {bk['dmax']} of the B&K spectrum (bk_spectrum) | | | | | | {bk_h:.1f} |")
    lines.append(f"| **total** | | | | **{total_gpu_h:.1f}** | **{total_gpu_h / gpus_per_node:.1f}** | "
                 f"**{total_cpu_h + gen_h:.1f}** |")
    return "\n".join(lines)


def cmd_paper_cost(args) -> int:
    print(cost_table(args.config, args.sustained_tflops, args.gpus_per_node))
    return 0


def register(sub) -> None:
    p = sub.add_parser("paper-cost", help="training FLOPs, GPU- and node-hours of a paper scale, before submitting")
    p.add_argument("--config", default="small", help="paper scale name or path to its .yaml (default small)")
    p.add_argument("--sustained-tflops", type=float, default=DEFAULT_SUSTAINED_TFLOPS,
                   help=f"assumed sustained TFLOP/s per GPU (default {DEFAULT_SUSTAINED_TFLOPS:g})")
    p.add_argument("--gpus-per-node", type=int, default=4)
    p.set_defaults(func=cmd_paper_cost)

