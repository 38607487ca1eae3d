"""Benchmark on one GPU (under 8 minutes): how well sweep points use the device they are charged for.

Five sections, measured side by side in one run on the same device, each printing its ratio:

* ``models``: steps/s, achieved FLOP/s and MFU (``jetscale.throughput``'s device peaks) of a plain PyTorch
  training loop for PFN and ParT at three widths, in fp32 (``32-true``) and ``bf16-mixed``, on synthetic jet
  batches held on the device (batch ``--batch``, constituents trimmed as ``jetscale train`` trims them).
* ``overhead``: PFN at width 64, the plain loop against ``jetscale train`` (Lightning, the CSV logger,
  checkpoints; data on the device) on the same batches' shapes. Goal: ``jetscale train`` <= 5 % slower.
* ``data``: ParT at width 64, ``jetscale train`` with the training set on the device against the DataLoader path
  (``resident_data.max_mb=0``), and the loader's jets/s from the HDF5 shards (workers 0 and ``--workers``)
  against the jets/s that training consumes. Goal: the loader is never the bottleneck (loader >= consumption).
* ``packed``: ``--points`` tiny ``task=toy_sgd`` points (16 by default) as separate ``jetscale train`` processes,
  one after another on the device as one GPU slot of a bundle runs them, against one ``jetscale train-packed``
  process on the same device. Goal: packed >= 10x.
* ``compile``: PFN at width 64, ``jetscale train`` with ``compile.enabled=true`` against without.

A ``jetscale train`` step time is the steady state: (``train_s`` of a run of ``--steps`` + 200 steps − that of a run
of ``--steps``) / 200, from each run's metrics.json, so start-up, compilation and evaluation drop out. The data
are synthetic jets written as HDF5 shards (no Pythia needed on the GPU machine), or ``--dataset DIR``.

    python benchmarks/gpu.py [--device cuda] [--sections models overhead data packed compile] [--quick]

``--quick --device cpu`` runs every code path at tiny sizes (tests/project/test_benchmarks.py); its numbers
mean nothing. Results go into docs/gpu.md with the device named.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
import warnings
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the other benchmarks' helpers (not a package)

import packed as packed_benchmark  # noqa: E402
from lightning_overhead import PlainLoop, synthetic_batch  # noqa: E402
from loader import training_batches  # noqa: E402

from jetscale.data.jet_dataset import trim_batch  # noqa: E402
from jetscale.data.shards import shard_name, write_manifest, write_shard  # noqa: E402
from jetscale.packed import PACK_PRECISIONS  # noqa: E402
from jetscale.physics.kinematics import jet_kinematics  # noqa: E402
from jetscale.sweep import compose_training_config  # noqa: E402
from jetscale.throughput import throughput_metrics  # noqa: E402
from jetscale.timing import device_name, synchronize  # noqa: E402
from jetscale.train import train  # noqa: E402

SECTIONS = ("models", "overhead", "data", "packed", "compile")
PRECISIONS = ("32-true", "bf16-mixed")
MODELS = {"pfn": "PFN", "particle_transformer": "ParT"}
GOALS = {"overhead": 0.05, "packed": 10.0, "loader": 1.0}
ACCELERATOR = {"cuda": "gpu", "xpu": "xpu", "cpu": "cpu"}
EXTRA_STEPS = 200  # the steps between the two runs whose train_s difference is the steady state


def sizes(quick: bool) -> dict:
    """The benchmark's sizes: real ones, or tiny ones (every code path, meaningless numbers)."""
    if quick:
        return dict(widths=(4, 8, 16), batch=16, warmup=2, steps=6, jets=640, n_test=40, extra=8, points=3,
                    pack_steps=5, n_batches=3)
    return dict(widths=(16, 64, 256), batch=256, warmup=20, steps=100, jets=24_000, n_test=2_000,
                extra=EXTRA_STEPS, points=16, pack_steps=200, n_batches=20)


# -- data ----------------------------------------------------------------------------------------

def synthetic_shards(directory: Path, n_jets: int, jets_per_shard: int = 4_000, seed: int = 0) -> Path:
    """``n_jets`` synthetic jets (``lightning_overhead.synthetic_batch``: 20-120 constituents, labels alternating)
    as jet shards with a manifest: the shapes and lengths of real ones, without Pythia."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for index, start in enumerate(range(0, n_jets, jets_per_shard)):
        batch = synthetic_batch(rng, min(jets_per_shard, n_jets - start))
        constituents = batch["constituents"].numpy()
        arrays = {"constituents": constituents, "n_constituents": batch["mask"].sum(1).numpy().astype(np.int32),
                  "jet": jet_kinematics(constituents).astype(np.float32), "label": batch["label"].numpy()}
        write_shard(directory / shard_name(index), arrays, {"generator": "benchmarks/gpu.py synthetic jets",
                                                            "seed": seed})
    write_manifest(directory, dataset="synthetic")
    return directory


def device_batches(n: int, batch: int, device: torch.device, seed: int = 0) -> list[dict]:
    """``n`` synthetic training batches on ``device``, trimmed to their longest jet as ``jetscale train`` does."""
    rng = np.random.default_rng(seed)
    return [{k: v.to(device) for k, v in trim_batch(synthetic_batch(rng, batch)).items()} for _ in range(n)]


# -- plain loop ------------------------------------------------------------------------------------

def autocast(device: torch.device, precision: str):
    """The forward's autocast of a Lightning ``precision``, as a pack applies it (``jetscale.packed.PACK_PRECISIONS``:
    bf16 for ``bf16-mixed``, none for ``32-true``)."""
    dtype, _ = PACK_PRECISIONS[precision]
    return nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


def jet_model(model: str, width: int, device: torch.device, n_particles: int):
    """The ``task=jets`` LightningModule of ``model`` at ``width``, from the composed config, on ``device``."""
    from hydra.utils import instantiate

    cfg = compose_training_config(["task=jets", f"model={model}", f"width={width}"], "benchmarks/gpu.py")
    torch.manual_seed(0)
    module = instantiate(cfg.model)
    return module.to(device), module.net.train_flops_per_sample(n_particles)


def plain_step_s(module, batches: list[dict], device: torch.device, precision: str, warmup: int,
                 steps: int) -> float:
    """Seconds per step of the module's own recipe in a plain loop (after ``warmup`` steps), synchronised."""
    loop, context = PlainLoop(module), autocast(device, precision)

    def step(i: int) -> None:
        batch = batches[i % len(batches)]
        loop.optimizer.zero_grad()
        with context:
            loss = module.objective(module.net(*module.net_inputs(batch)), batch)
        loss.backward()
        loop.optimizer.step()

    for i in range(warmup):
        step(i)
    synchronize(device)
    start = time.perf_counter()
    for i in range(steps):
        step(warmup + i)
    synchronize(device)
    return (time.perf_counter() - start) / steps


def mean_tokens(batches: list[dict]) -> float:
    """The mean trimmed constituent axis of ``batches``: the length the step's FLOPs are counted at."""
    return statistics.mean(int(b["mask"].shape[1]) for b in batches)


def section_models(args, size: dict, device: torch.device) -> None:
    batches = device_batches(size["n_batches"], size["batch"], device)
    tokens = round(mean_tokens(batches))
    print(f"[models] plain loop, batch {size['batch']}, {tokens} constituents per jet after trimming (mean)")
    for model, label in MODELS.items():
        for width in size["widths"]:
            for precision in PRECISIONS:
                module, flops_per_sample = jet_model(model, width, device, tokens)
                seconds = plain_step_s(module, batches, device, precision, size["warmup"], size["steps"])
                flops = flops_per_sample * size["batch"] * size["steps"]
                rates = throughput_metrics(flops, seconds * size["steps"], args.device_name, precision, 1)
                mfu = "n/a" if rates["mfu"] is None else f"{rates['mfu']:.4f}"
                print(f"[models] {label} width={width} {precision}: {1 / seconds:.1f} steps/s, "
                      f"{rates['train_flops_per_s']:.3g} FLOP/s, MFU {mfu}")


# -- jetscale train ------------------------------------------------------------------------------

def jetscale_run(overrides: list[str], run_dir: Path) -> dict:
    """``jetscale train`` in this process (the benchmark's device, precision and data in ``overrides``)."""
    cfg = compose_training_config(overrides, "benchmarks/gpu.py")
    torch._dynamo.reset()  # as a fresh process: every run compiles its own graphs (the difference drops them)
    return train(cfg, run_dir, overrides)


def jetscale_step_s(overrides: list[str], root: Path, steps: int, extra: int) -> tuple[float, dict]:
    """Steady-state seconds per step of ``jetscale train``: the ``train_s`` difference of runs of ``steps`` and
    ``steps + extra`` steps over ``extra``; and the longer run's metrics. A run of a few steps goes first: what a
    process pays once (kernels loaded, the compiler's start-up) would otherwise fall on the short run only."""
    jetscale_run([*overrides, "trainer.max_steps=2"], root / "warm-up")
    short = jetscale_run([*overrides, f"trainer.max_steps={steps}"], root / "short")
    long = jetscale_run([*overrides, f"trainer.max_steps={steps + extra}"], root / "long")
    for metrics in (short, long):
        if metrics.get("train_s") is None:
            raise RuntimeError(f"metrics.json of {metrics['run_id']} has no train_s: the timing callback is missing")
    step_s = (long["train_s"] - short["train_s"]) / extra
    if step_s <= 0:
        print(f"WARNING: the {steps + extra}-step run took no longer than the {steps}-step run "
              f"({long['train_s']:.3f} s "
              f"vs {short['train_s']:.3f} s): timing noise swamps the steps; rerun on an idle device")
    return step_s, long


def jets_overrides(args, size: dict, model: str, width: int, precision: str, dataset: Path) -> list[str]:
    return ["task=jets", f"model={model}", f"width={width}", f"data.dataset_dir={dataset}",
            f"n_samples={size['jets'] - size['n_test'] - size['jets'] // 10}", f"data.n_test={size['n_test']}",
            f"data.batch_size={size['batch']}", f"trainer.accelerator={ACCELERATOR[args.device.type]}",
            f"trainer.precision={precision}", "logger=csv"]


def section_overhead(args, size: dict, device: torch.device, dataset: Path, root: Path) -> None:
    precision = args.precision
    overrides = [*jets_overrides(args, size, "pfn", 64, precision, dataset), *args.resident_overrides]
    jetscale_s, metrics = jetscale_step_s(overrides, root / "overhead", size["steps"], size["extra"])
    batches = device_batches(size["n_batches"], size["batch"], device)
    module, _ = jet_model("pfn", 64, device, round(mean_tokens(batches)))
    plain_s = plain_step_s(module, batches, device, precision, size["warmup"], size["steps"])
    ratio = jetscale_s / plain_s
    verdict = "PASS" if ratio - 1 <= GOALS["overhead"] else "FAIL"
    print(f"[overhead] PFN width 64 {precision}: plain loop {1e3 * plain_s:.4g} ms/step, jetscale train "
          f"{1e3 * jetscale_s:.4g} ms/step (data on the device: {metrics.get('data_on_device')}); "
          f"ratio jetscale / plain: {ratio:.4g}, overhead {100 * (ratio - 1):+.1f} % "
          f"(goal <= {100 * GOALS['overhead']:.0f} %: {verdict})")


def section_data(args, size: dict, dataset: Path, root: Path) -> None:
    base = jets_overrides(args, size, "particle_transformer", 64, args.precision, dataset)
    resident_s, resident = jetscale_step_s([*base, *args.resident_overrides], root / "resident", size["steps"],
                                           size["extra"])
    loader_s, loader = jetscale_step_s([*base, "resident_data.max_mb=0", f"data.num_workers={args.workers}"],
                                       root / "loader", size["steps"], size["extra"])
    if not resident.get("data_on_device") or loader.get("data_on_device"):
        raise RuntimeError(f"the data section compares data on the device with the DataLoader, but data_on_device "
                           f"was {resident.get('data_on_device')} and {loader.get('data_on_device')}")
    consumes = size["batch"] / resident_s
    print(f"[data] ParT width 64 {args.precision}: data on the device {1e3 * resident_s:.4g} ms/step "
          f"({consumes:.4g} jets/s consumed), DataLoader (workers={args.workers}) {1e3 * loader_s:.4g} ms/step; "
          f"ratio DataLoader / on-device: {loader_s / resident_s:.4g}")
    rates = {}
    for workers in sorted({0, args.workers}):
        _, elapsed, _ = training_batches(dataset, workers, size["batch"], size["n_batches"], size["n_test"])
        rates[workers] = size["n_batches"] * size["batch"] / elapsed
        print(f"[loader] workers={workers}: {rates[workers]:.4g} jets/s from the HDF5 shards")
    best = max(rates, key=rates.get)
    ratio = rates[best] / consumes
    print(f"[loader] loader (workers={best}) / ParT width 64 consumption: {ratio:.4g} "
          f"(goal >= {GOALS['loader']:.0f}: {'PASS' if ratio >= GOALS['loader'] else 'FAIL'})")


def section_compile(args, size: dict, dataset: Path, root: Path) -> None:
    base = [*jets_overrides(args, size, "pfn", 64, args.precision, dataset), *args.resident_overrides]
    eager_s, _ = jetscale_step_s(base, root / "eager", size["steps"], size["extra"])
    compiled_s, compiled = jetscale_step_s([*base, "compile.enabled=true", f"compile.backend={args.compile_backend}"],
                                           root / "compiled", size["steps"], size["extra"])
    if not compiled.get("compiled"):
        raise RuntimeError("compile.enabled=true, but the run's metrics.json says compiled: false")
    print(f"[compile] PFN width 64 {args.precision} ({args.compile_backend}): compiled {1e3 * compiled_s:.4g} "
          f"ms/step, not compiled {1e3 * eager_s:.4g} ms/step; ratio not compiled / compiled: "
          f"{eager_s / compiled_s:.4g}")


def section_packed(args, size: dict, root: Path) -> None:
    points = packed_benchmark.POINTS[: size["points"]]
    common = [*packed_benchmark.COMMON, f"trainer.max_steps={size['pack_steps']}",
              f"trainer.accelerator={ACCELERATOR[args.device.type]}"]
    env = {**os.environ, "PATH": f"{packed_benchmark.BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "WANDB_MODE": "disabled"}
    separate = packed_benchmark.timed(packed_benchmark.separate_cmds(root / "separate", common, points), env)
    packed = packed_benchmark.timed([packed_benchmark.packed_cmd(root / "packed", common, points)], env)
    difference = packed_benchmark.largest_difference(root / "separate", root / "packed", points)
    ratio = separate / packed
    print(f"[packed] {len(points)} separate `jetscale train` processes: {separate:.1f} s; one `jetscale "
          f"train-packed` process: {packed:.1f} s; ratio separate / packed: {ratio:.1f} "
          f"(goal >= {GOALS['packed']:.0f}: {'PASS' if ratio >= GOALS['packed'] else 'FAIL'}); largest relative "
          f"test_loss difference {difference:.1e}")


# -- main ------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="cuda, xpu or cpu (cpu: the code paths only; default: cuda when torch sees one)")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--precision", choices=PRECISIONS, default="bf16-mixed",
                        help="precision of the overhead, data and compile sections (models runs both)")
    parser.add_argument("--workers", type=int, default=4, help="DataLoader workers of the data section")
    parser.add_argument("--dataset", type=Path, help="jet shards to train on (default: synthetic ones)")
    parser.add_argument("--compile-backend", default="inductor")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: every code path, numbers meaningless")
    parser.add_argument("--budget-s", type=float, default=480.0, help="the wall time the run should stay under")
    args = parser.parse_args(argv)
    args.device = torch.device(args.device)
    args.device_name = device_name(args.device)
    # the CPU check turns on-device data on for the CPU, so that path runs there too
    args.resident_overrides = ["resident_data.on_cpu=true"] if args.device.type == "cpu" else []
    size = sizes(args.quick)
    warnings.filterwarnings("ignore")
    for name in ("lightning.pytorch", "lightning.fabric", "jetscale"):
        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ.setdefault("WANDB_MODE", "disabled")
    import lightning as L

    print(f"device: {args.device_name} ({args.device.type}), torch {torch.__version__}, lightning {L.__version__}, "
          f"{os.cpu_count()} CPU cores; sections {' '.join(args.sections)}"
          f"{' (quick: numbers meaningless)' if args.quick else ''}")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        needs_data = {"overhead", "data", "compile"} & set(args.sections)
        dataset = args.dataset or (synthetic_shards(root / "jets", size["jets"]) if needs_data else None)
        for section in args.sections:
            began = time.perf_counter()
            if section == "models":
                section_models(args, size, args.device)
            elif section == "overhead":
                section_overhead(args, size, args.device, dataset, root / section)
            elif section == "data":
                section_data(args, size, dataset, root / section)
            elif section == "packed":
                section_packed(args, size, root / section)
            else:
                section_compile(args, size, dataset, root / section)
            print(f"[{section}] took {time.perf_counter() - began:.0f} s")
    total = time.perf_counter() - start
    verdict = "within" if total <= args.budget_s else "OVER"
    print(f"total wall time {total:.0f} s (budget {args.budget_s:.0f} s: {verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
