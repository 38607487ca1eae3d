"""Benchmark: 2-rank CPU DDP training throughput against 1 rank (target >= 1.5x with one core per rank).

The verdict is DDP's scaling: 2 ranks x 1 thread against 1 rank x 1 thread, each rank owning
one core as each would own one GPU. 2 ranks x 1 thread against 1 rank x 2 threads (the same
two cores used by torch's intra-op threads instead) is printed beside it for information.

Real processes: ``jetscale train task=jets`` (PFN width 64, Adam, the CSV logger
and checkpoints of the real config) on a small ``jetscale generate`` dataset, in three
configurations with the same global batch and the same number of optimizer steps:

* ``1 rank x 2 threads``: ``trainer.devices=1``, ``OMP_NUM_THREADS=2`` (torch's default here);
* ``1 rank x 1 thread``:  ``trainer.devices=1``, ``OMP_NUM_THREADS=1``;
* ``2 ranks x 1 thread``: ``trainer.devices=2 trainer.strategy=ddp`` (gloo), ``OMP_NUM_THREADS=1``
  per rank — what Lightning's own launcher would choose (cores / ranks) when it is unset.

Batch: in jetscale ``data.batch_size`` is the *global* batch — ``jetscale.data.sampling`` gives
each of W ranks a stream of its 1/W share and a DataLoader batch of ``batch_size / W`` — so
both runs use the same ``data.batch_size`` and do the same work per step.  Each 2-rank run's
``metrics.json`` must report ``world_size`` 2.

Throughput = steps x global batch / training time, where training time is Lightning's own
``run_training_epoch`` total from a ``SimpleProfiler`` (added with ``++trainer.profiler``; one
report per rank, the slowest rank counts): the training loop only — no imports, process or
process-group start-up, dataset construction or test evaluation, which ``metrics.json``'s
``wall_s`` (from seeding to the metrics file; under Lightning's launcher it also holds the
second rank's start-up, since Lightning starts that process inside ``fit``) and the process
wall time both include.  Those end-to-end rates are printed too, as is the split of a training
step (slowest rank) into fetching the batch (``train_dataloader_next``: reading shards, one
thread per process) and the rest (``run_training_batch``: forward, backward with the gradient
all-reduce, optimizer, callbacks).  Configurations alternate in a rotating order over
``--rounds`` rounds; medians are reported.

Launchers: ``--launcher lightning`` runs the plain ``jetscale train`` command and lets Lightning
start the second rank (default); ``torchrun`` starts both ranks with ``torchrun --standalone``.

    python benchmarks/ddp_throughput.py [--rounds 3] [--steps 160] [--global-batch 256]
                                        [--n-samples 2048] [--data DIR] [--launcher lightning]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
TARGET = 1.5
N_TEST = 128
TRAINING, FETCH, BATCH = "run_training_epoch", "[_TrainingEpochLoop].train_dataloader_next", "run_training_batch"
CONFIGS = {  # name -> (ranks, threads per rank)
    "1 rank x 2 threads": (1, 2),
    "1 rank x 1 thread": (1, 1),
    "2 ranks x 1 thread": (2, 1),
}


class RunFailed(RuntimeError):
    pass


def generate(out: Path, jets_per_shard: int) -> Path:
    """Two shards of ``jets_per_shard`` jets (half top, half QCD) into ``out``."""
    cmd = [str(BIN / "jetscale"), "generate", "--shards", "0-1", "--jets-per-shard", str(jets_per_shard),
           "--out", str(out)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return out


def point(data: Path, args) -> list[str]:
    """Overrides shared by every run: the sweep point and its length."""
    return ["task=jets", f"data.dataset_dir={data}", f"n_samples={args.n_samples}", f"data.n_test={N_TEST}",
            f"trainer.max_steps={args.steps}"]


def train_command(launcher: str, ranks: int, batch_size: int, run_dir: Path, data: Path, args) -> list[str]:
    overrides = [
        *point(data, args), f"data.batch_size={batch_size}", f"trainer.devices={ranks}", f"hydra.run.dir={run_dir}",
        "++trainer.profiler._target_=lightning.pytorch.profilers.SimpleProfiler",
        f"++trainer.profiler.dirpath={run_dir / 'profile'}", "++trainer.profiler.filename=fit",
    ]
    if ranks > 1:
        overrides.append("trainer.strategy=ddp")
    jetscale = [str(BIN / "jetscale"), "train", *overrides]
    if ranks > 1 and launcher == "torchrun":
        return [str(BIN / "torchrun"), "--standalone", f"--nproc-per-node={ranks}", "--no-python", *jetscale]
    return jetscale


def run(cmd: list[str], threads: int, timeout: float) -> float:
    """Run ``cmd`` in its own session with ``threads`` torch threads per process; return its wall time.
    On failure or timeout the whole session (launcher and ranks) is killed and :class:`RunFailed` raised
    with the tail of its output."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        raise RunFailed(f"timed out after {timeout:.0f} s; last output:\n{tail(output)}") from None
    if proc.returncode:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # a rank left behind by a failed launcher
        except ProcessLookupError:
            pass
        raise RunFailed(f"exit status {proc.returncode}; last output:\n{tail(output)}")
    return time.perf_counter() - start


def tail(output: str, lines: int = 8) -> str:
    """The last lines of a run's output that are not traceback frames."""
    kept = [line for line in output.splitlines() if line.strip() and not line.startswith("  ")]
    return "\n".join("    " + line for line in kept[-lines:])


def slowest_rank_profile(run_dir: Path) -> dict[str, float]:
    """Total seconds per action of the rank with the longest training loop, from the SimpleProfiler reports."""
    ranks = []
    for report in (run_dir / "profile").glob("fit-*.txt"):
        totals = {}
        for line in report.read_text().splitlines():
            cells = [cell.strip() for cell in line.split("|")]
            if len(cells) > 4 and cells[1] in (TRAINING, FETCH, BATCH):
                totals[cells[1]] = float(cells[4])
        if len(totals) == 3:
            ranks.append(totals)
    if not ranks:
        raise RunFailed(f"no {TRAINING} in the profiler reports under {run_dir / 'profile'}")
    return max(ranks, key=lambda totals: totals[TRAINING])


def measure(name: str, launcher: str, batch_size: dict[int, int], run_dir: Path, data: Path, args) -> dict:
    ranks, threads = CONFIGS[name]
    wall = run(train_command(launcher, ranks, batch_size[ranks], run_dir, data, args), threads, args.timeout)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    if metrics["steps"] != args.steps or metrics.get("world_size", ranks) != ranks:
        raise RunFailed(f"{name}: {metrics['steps']} steps on {metrics.get('world_size')} ranks, "
                        f"expected {args.steps} on {ranks}")
    samples, profile = args.steps * args.global_batch, slowest_rank_profile(run_dir)
    return {"fit": samples / profile[TRAINING], "wall_s": samples / metrics["wall_s"], "process": samples / wall,
            "fetch_ms": 1e3 * profile[FETCH] / args.steps, "batch_ms": 1e3 * profile[BATCH] / args.steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=160, help="optimizer steps of every run")
    parser.add_argument("--global-batch", type=int, default=256, help="jets per optimizer step, over all ranks")
    parser.add_argument("--n-samples", type=int, default=2048, help="training jets")
    parser.add_argument("--data", type=Path, help="existing jet dataset (default: generate one in a temporary dir)")
    parser.add_argument("--jets-per-shard", type=int, default=1200, help="when generating: 2 shards of this size")
    parser.add_argument("--launcher", choices=["lightning", "torchrun"], default="lightning")
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed to one training command")
    args = parser.parse_args()
    if args.global_batch % 2:
        parser.error("--global-batch must be even (it is split over 2 ranks)")

    launcher = args.launcher
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start "
          "(other work on the machine lowers the 2-rank ratio)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = args.data
        if data is None:
            start = time.perf_counter()
            data = generate(tmp / "jets", args.jets_per_shard)
            print(f"generated 2 x {args.jets_per_shard} jets in {time.perf_counter() - start:.0f} s")
        batch_size = {world: args.global_batch for world in (1, 2)}  # data.batch_size is the global batch
        print(f"jetscale train task=jets: {args.n_samples} training jets, {args.steps} steps of "
              f"data.batch_size={args.global_batch} jets ({args.global_batch // 2} per rank on 2 ranks); "
              f"{args.rounds} rounds, rotating order")
        names = list(CONFIGS)
        rates = {name: [] for name in names}
        for r in range(args.rounds):
            for k in range(len(names)):
                name = names[(r + k) % len(names)]
                run_dir = tmp / f"round{r}" / name.replace(" ", "")
                rates[name].append(measure(name, launcher, batch_size, run_dir, data, args))
    median = {name: {key: statistics.median(run[key] for run in runs) for key in runs[0]}
              for name, runs in rates.items()}
    print(f"2-rank launcher: {launcher}; samples/s, median over rounds:")
    print(f"  {'':<22s} {'training loop':>14s} {'(rounds)':>14s} {'wall_s':>8s} {'process':>8s}   "
          f"ms/step: {'fetch':>6s} {'rest':>6s}")
    for name, runs in rates.items():
        spread = f"{min(run['fit'] for run in runs):.0f}..{max(run['fit'] for run in runs):.0f}"
        m = median[name]
        print(f"  {name:<22s} {m['fit']:14.0f} {spread:>14s} {m['wall_s']:8.0f} {m['process']:8.0f}   "
              f"{'':9s}{m['fetch_ms']:6.1f} {m['batch_ms']:6.1f}")
    two = median["2 ranks x 1 thread"]
    for base in ("1 rank x 2 threads", "1 rank x 1 thread"):
        ratios = ", ".join(f"{key} {two[key] / median[base][key]:.2f}" for key in ("wall_s", "process"))
        print(f"ratio 2 ranks x 1 thread / {base}: training loop {two['fit'] / median[base]['fit']:.2f} "
              f"(end to end: {ratios})")
    ratio = two["fit"] / median["1 rank x 1 thread"]["fit"]
    print(f"ratio 2 ranks / 1 rank, one core per rank (training loop): {ratio:.2f} "
          f"(target >= {TARGET}: {'PASS' if ratio >= TARGET else 'FAIL'})")


if __name__ == "__main__":
    main()
