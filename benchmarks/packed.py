"""Benchmark: 16 tiny runs as one `jetscale train-packed` process vs 16 `jetscale train` processes (target >= 8x).

Both sides train the same 16 points (4 data sizes x 4 seeds of ``task=toy_sgd`` with a
200-dimensional latent space, width 16, batches of 32), measured side by side in one run with
the same thread count; the separate processes run one after another, as the workflow's
one-thread ``train`` jobs would on one core.  Prints both wall times, their ratio (the
throughput gain of packing), PASS/FAIL against the target, and the largest relative
``test_loss`` difference between the two sides (they train the same runs).

    python benchmarks/packed.py [--steps 200] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jetscale.sweep import run_id

BIN = Path(sys.executable).parent
TARGET = 8.0
COMMON = ["task=toy_sgd", "data.source.latent_dim=200", "width=16", "data.batch_size=32"]
POINTS = [{"n_samples": n, "seed": seed} for n in (32, 64, 128, 256) for seed in range(4)]


def timed(cmds: list[list[str]], env: dict) -> float:
    start = time.perf_counter()
    for cmd in cmds:
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def separate_cmds(root: Path, common: list[str], points: list[dict] = POINTS) -> list[list[str]]:
    return [[str(BIN / "jetscale"), "train", *common, *(f"{k}={v}" for k, v in point.items()),
             f'hydra.run.dir="{root / run_id(point)}"'] for point in points]


def packed_cmd(root: Path, common: list[str], points: list[dict] = POINTS) -> list[str]:
    run_dirs = [arg for point in points for arg in ("--run-dir", str(root / run_id(point)))]
    return [str(BIN / "jetscale"), "train-packed", *run_dirs, *common]


def largest_difference(a: Path, b: Path, points: list[dict] = POINTS) -> float:
    losses = [[json.loads((root / run_id(p) / "metrics.json").read_text())["test_loss"] for p in points]
              for root in (a, b)]
    return max(abs(x - y) / abs(x) for x, y in zip(*losses))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="training steps of every run")
    parser.add_argument("--threads", type=int, default=1, help="torch/BLAS threads of every process")
    args = parser.parse_args()
    common = [*COMMON, f"trainer.max_steps={args.steps}"]
    threads = str(args.threads)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "WANDB_MODE": "disabled",
           "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads}
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start; "
          f"{len(POINTS)} runs of {args.steps} steps, {threads} thread(s) per process")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        separate = timed(separate_cmds(tmp / "separate", common), env)
        packed = timed([packed_cmd(tmp / "packed", common)], env)
        difference = largest_difference(tmp / "separate", tmp / "packed")
    ratio = separate / packed
    print(f"{len(POINTS)} separate `jetscale train` processes: {separate:.1f} s "
          f"({len(POINTS) / separate:.2f} runs/s)")
    print(f"one `jetscale train-packed` process:        {packed:.1f} s ({len(POINTS) / packed:.2f} runs/s)")
    print(f"ratio separate / packed: {ratio:.1f} (target >= {TARGET:.0f}: {'PASS' if ratio >= TARGET else 'FAIL'})")
    print(f"largest relative test_loss difference, packed vs separate: {difference:.1e}")


if __name__ == "__main__":
    main()
