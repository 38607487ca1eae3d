"""Benchmark: `jetscale aggregate --sweep` on sweeps of 10k, 40k and 100k points; goal < 60 s for 100k.

Writes one metrics.json per point (a real toy point's file, with the point's run id, axes and overrides: about
2.6 kB each, as the workflow leaves them) into a temporary results dir, then times the workflow's aggregate
command on each sweep side by side in one run and prints the times, the 100k / 10k ratio (linear scaling: 10)
and the ratio of the 100k time to the 60 s goal (< 1 passes). Nothing here passes points as arguments: the
command reads them from the sweep file, as rule aggregate does.

    python benchmarks/aggregate.py [--sizes 10000 40000 100000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from jetscale.sweep import load_sweep, run_id

GOAL_S = 60.0
BIN = Path(sys.executable).parent


def write_sweep(directory: Path, n_points: int) -> Path:
    """A toy sweep of ``n_points`` = n_samples x width x seed points."""
    seeds = 10
    widths = max(1, n_points // (100 * seeds))
    path = directory / f"bench-{n_points}.yaml"
    path.write_text(yaml.safe_dump({
        "name": path.stem, "task": "toy",
        "axes": {"n_samples": [16 * (k + 1) for k in range(100)], "width": [2 * (k + 1) for k in range(widths)],
                 "seed": list(range(seeds))},
        "overrides": {"data.source.latent_dim": 2000}, "fit": {"laws": []},
    }, sort_keys=False))
    return path


def write_metrics(sweep_file: Path, runs: Path, template: dict) -> int:
    sweep = load_sweep(sweep_file, check_config=False)
    for point in sweep.points():
        rid = run_id(point)
        (runs / rid).mkdir(parents=True)
        payload = {**template, **point, "run_id": rid, "overrides": sweep.hydra_overrides(point)}
        (runs / rid / "metrics.json").write_text(json.dumps(payload, indent=2))
    return len(sweep.points())


def template_metrics(directory: Path) -> dict:
    """The metrics.json of one real closed-form toy point."""
    run_dir = directory / "template"
    subprocess.run([str(BIN / "jetscale"), "train", "task=toy", "n_samples=16", "width=8",
                    "data.source.latent_dim=2000", f"hydra.run.dir={run_dir}"], check=True, capture_output=True)
    return json.loads((run_dir / "metrics.json").read_text())


def aggregate_seconds(sweep_file: Path, runs: Path, table: Path) -> float:
    start = time.perf_counter()
    subprocess.run([str(BIN / "jetscale"), "aggregate", "--sweep", str(sweep_file), "--runs-dir", str(runs),
                    "--out", str(table)], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 40_000, 100_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        template = template_metrics(tmp)
        seconds = {}
        for size in args.sizes:
            sweep_file = write_sweep(tmp, size)
            runs = tmp / sweep_file.stem / "runs"
            n = write_metrics(sweep_file, runs, template)
            seconds[n] = aggregate_seconds(sweep_file, runs, tmp / sweep_file.stem / "table.csv")
            print(f"{n} points: aggregate {seconds[n]:.1f} s ({1e3 * seconds[n] / n:.2f} ms per point)", flush=True)
    smallest, largest = min(seconds), max(seconds)
    print(f"ratio {largest}-point / {smallest}-point: {seconds[largest] / seconds[smallest]:.2f} "
          f"(points ratio {largest / smallest:.0f})")
    print(f"ratio {largest}-point / {GOAL_S:.0f} s goal: {seconds[largest] / GOAL_S:.2f} "
          f"({'PASS' if seconds[largest] < GOAL_S else 'FAIL'})")


if __name__ == "__main__":
    main()
