"""Benchmark: `snakemake -n` on a 1,000-point sweep must build its DAG in under 10 s.

Runs the dry run for a 10-point and a 1,000-point sweep side by side (same
machine, same run) and prints both times, their ratio, and the ratio of the
1,000-point time to the 10 s target (< 1 passes).

    python benchmarks/dag_build.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 10.0


def write_sweep(directory: Path, n_axis: int, seeds: int) -> Path:
    path = directory / f"bench-{n_axis}x{n_axis}x{seeds}.yaml"
    path.write_text(yaml.safe_dump({
        "name": path.stem,
        "task": "toy",
        "axes": {
            "n_samples": [100 * (k + 1) for k in range(n_axis)],
            "width": [8 * (k + 1) for k in range(n_axis)],
            "seed": list(range(seeds)),
        },
        "overrides": {"data.source.latent_dim": 2000},
    }, sort_keys=False))
    return path


def dry_run_seconds(workdir: Path, sweep: Path) -> float:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
           "-n", "--quiet", "all", "--cores", "1", "--config", f"sweep={sweep}", f"results_dir={workdir / 'results'}"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        small, large = write_sweep(tmp, 1, 10), write_sweep(tmp, 10, 10)
        timings = {"10 points": [], "1000 points": []}
        for _ in range(args.repeats):
            timings["10 points"].append(dry_run_seconds(tmp, small))
            timings["1000 points"].append(dry_run_seconds(tmp, large))
    best = {k: min(v) for k, v in timings.items()}
    print(f"snakemake -n, best of {args.repeats}: 10 points {best['10 points']:.2f} s, "
          f"1000 points {best['1000 points']:.2f} s")
    print(f"ratio 1000-point / 10-point: {best['1000 points'] / best['10 points']:.2f}")
    print(f"ratio 1000-point / {TARGET_S:.0f} s target: {best['1000 points'] / TARGET_S:.2f} "
          f"({'PASS' if best['1000 points'] < TARGET_S else 'FAIL'})")


if __name__ == "__main__":
    main()
