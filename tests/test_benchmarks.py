"""The benchmark scripts still run against the current code (tiny sizes; the ratios are not checked here).

All slow (`-m slow`): each starts Lightning or a sweep's worth of processes, and `make benchmark` runs the
scripts at their real sizes; the default suite keeps its ~10 minutes for the product's own paths."""

import subprocess
import sys

import pytest

from conftest import REPO


def run_benchmark(name, *args, env=None, timeout=300):
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / name), *args], capture_output=True, text=True,
                          env=env, timeout=timeout)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
def test_lightning_overhead_benchmark_runs(cli_env):
    out = run_benchmark("lightning_overhead.py", "--rounds", "1", "--warmup", "2", "--steps", "10", "--batch", "8",
                        env=cli_env)
    assert "ratio Lightning jetscale / plain:" in out


@pytest.mark.slow
def test_ddp_throughput_benchmark_runs(cli_env):
    out = run_benchmark("ddp_throughput.py", "--rounds", "1", "--steps", "8", "--n-samples", "256",
                        "--jets-per-shard", "200", env=cli_env, timeout=600)
    assert "ratio 2 ranks / 1 rank, one core per rank" in out


@pytest.mark.slow
def test_aggregate_benchmark_runs(cli_env):
    out = run_benchmark("aggregate.py", "--sizes", "1000", "2000", env=cli_env)
    assert "1000 points: aggregate" in out and "ratio 2000-point / 60 s goal:" in out
