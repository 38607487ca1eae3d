"""The benchmark scripts still run against the current code (tiny sizes), and the numbers they print hold together:
each printed ratio is the quotient of the printed measurements, and what a benchmark compares is the same result.

The speed targets themselves are not checked here (`make benchmark` runs the scripts at their real sizes). The
scripts that start Lightning or a sweep's worth of processes are `slow`; the structure check reads files only."""

import re
import subprocess
import sys

import pytest

from conftest import REPO


def run_benchmark(name, *args, env=None, timeout=300):
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / name), *args], capture_output=True, text=True,
                          env=env, timeout=timeout)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def number(pattern: str, text: str, group: int = 1) -> float:
    """The number a printed line holds at ``pattern``'s group; a missing line fails naming the pattern."""
    match = re.search(pattern, text)
    assert match, f"no line matching {pattern!r} in:\n{text[-2000:]}"
    return float(match.group(group))


def test_structure_reports_no_import_circle_and_no_upward_import():
    out = run_benchmark("structure.py")
    assert number(r"import circles: (\d+)", out) == 0
    assert number(r"upward imports: (\d+)", out) == 0
    assert "units not placed in a layer: none" in out
    files, lines = number(r"python files: (\d+)", out), number(r"lines: (\d+)", out)
    assert files > 50 and lines > 50 * files / 10


@pytest.mark.slow
def test_lightning_overhead_benchmark_ratio_is_one_plus_its_overhead(cli_env):
    out = run_benchmark("lightning_overhead.py", "--rounds", "1", "--warmup", "2", "--steps", "10", "--batch", "8",
                        env=cli_env)
    ratios = re.findall(r"ratio Lightning (.+?) / plain: ([\d.]+), overhead ([+-][\d.]+) %", out)
    assert ratios, out[-2000:]
    for _, ratio, overhead in ratios:
        assert float(ratio) > 0 and float(ratio) == pytest.approx(1 + float(overhead) / 100, abs=2e-3)


@pytest.mark.slow
def test_ddp_throughput_benchmark_prints_a_finite_ratio(cli_env):
    out = run_benchmark("ddp_throughput.py", "--rounds", "1", "--steps", "8", "--n-samples", "256",
                        "--jets-per-shard", "200", env=cli_env, timeout=600)
    assert 0 < number(r"ratio 2 ranks / 1 rank, one core per rank \(training loop\): ([\d.]+)", out) < 10


@pytest.mark.slow
def test_aggregate_benchmark_ratios_are_the_quotients_of_its_times(cli_env):
    out = run_benchmark("aggregate.py", "--sizes", "1000", "2000", env=cli_env)
    seconds = {}
    for n in (1000, 2000):
        seconds[n] = number(rf"{n} points: aggregate ([\d.]+) s", out)
        per_point = number(rf"{n} points: aggregate [\d.]+ s \(([\d.]+) ms per point\)", out)
        assert per_point == pytest.approx(1e3 * seconds[n] / n, abs=0.06 * 1e3 / n + 0.01)
    ratio = number(r"ratio 2000-point / 1000-point: ([\d.]+)", out)
    assert ratio == pytest.approx(seconds[2000] / seconds[1000], rel=0.1, abs=0.02)


@pytest.mark.slow
def test_packed_benchmark_trains_the_same_models_as_separate_processes(cli_env):
    out = run_benchmark("packed.py", "--steps", "20", env=cli_env, timeout=900)
    separate = number(r"separate `jetscale train` processes: ([\d.]+) s", out)
    packed = number(r"one `jetscale train-packed` process: +([\d.]+) s", out)
    assert number(r"ratio separate / packed: ([\d.]+)", out) == pytest.approx(separate / packed, rel=0.1, abs=0.06)
    assert number(r"largest relative test_loss difference, packed vs separate: ([\d.e+-]+)", out) < 1e-5


def test_efp_benchmark_ratios_are_the_quotients_of_its_rates_and_both_evaluators_agree():
    out = run_benchmark("efp.py", "--jets", "12", "--energyflow-jets", "3", "1", "--degrees", "5", "6", "--repeats", "1")
    for dmax in (5, 6):
        line = rf"d<={dmax} \(\d+ EFPs\): block ([\d.]+) jets/s .*energyflow ([\d.]+) jets/s .*ratio ([\d.]+), " \
               rf"largest relative difference ([\d.e+-]+)"
        block, reference, ratio = (number(line, out, group) for group in (1, 2, 3))
        assert ratio == pytest.approx(block / reference, rel=0.02, abs=0.06)
        assert number(line, out, 4) < 1e-10
    goal = re.search(r"ratio block / energyflow at d<=6 against the goal 100: ([\d.]+) \((PASS|FAIL)\)", out)
    assert goal and goal.group(2) == ("PASS" if float(goal.group(1)) >= 100 else "FAIL")
    assert float(goal.group(1)) == number(r"d<=6 .*ratio ([\d.]+),", out)


def test_loader_benchmark_reads_the_same_batches_with_workers_and_its_ratios_are_quotients(tiny_jet_dir):
    out = run_benchmark("loader.py", "--dataset", str(tiny_jet_dir), "--workers", "0", "2", "--batch-size", "20",
                        "--batches", "3", "--n-test", "40", "--consumes", "1")
    rates = {w: number(rf"workers={w}: ([\d.]+) jets/s", out) for w in (0, 2)}
    assert out.count("same batches as workers=0: yes") == 3 and "NO" not in out  # workers 0 and 2, resident
    resident = number(r"resident on cpu: ([\d.]+) jets/s", out)
    assert number(r"ratio resident / workers=0: ([\d.]+)", out) == pytest.approx(resident / rates[0], rel=0.02,
                                                                                abs=0.01)
    assert number(r"ratio workers=2 / workers=0: ([\d.]+)", out) == pytest.approx(rates[2] / rates[0], rel=0.02,
                                                                                 abs=0.01)
    assert number(r"\(([\d.]+) per worker\)", out.split("workers=2:")[1]) == pytest.approx(rates[2] / 2, rel=1e-3)
    assert number(r"/ consumer: ([\d.]+) \(PASS", out) == pytest.approx(max(rates.values()), rel=0.01)


SIGNED = r"-?[\d.]+(?:e[+-]\d+)?"  # quick sizes under load: a step-time difference may come out negative (noise)
GPU_QUICK = ("gpu.py", "--device", "cpu", "--quick", "--compile-backend", "eager", "--workers", "2")


def check_gpu_benchmark(out: str) -> None:
    """Every line benchmarks/gpu.py prints for the sections it ran holds together (the numbers: meaningless here)."""
    models = re.findall(r"\[models\] (PFN|ParT) width=(\d+) (32-true|bf16-mixed): ([\d.]+) steps/s, ([\d.e+]+) FLOP/s, "
                        r"MFU n/a", out)
    assert len(models) == 2 * 3 * 2, out[-3000:]  # two models, three widths, two precisions; no peak on the CPU
    plain, jetscale, ratio, overhead = (number(rf"plain loop ({SIGNED}) ms/step, jetscale train ({SIGNED}) ms/step "
                                               rf"\(data on the device: True\); ratio jetscale / plain: ({SIGNED}), "
                                               r"overhead ([+-][\d.]+) %", out, g) for g in (1, 2, 3, 4))
    assert ratio == pytest.approx(jetscale / plain, rel=0.01)
    assert overhead == pytest.approx(100 * (ratio - 1), rel=1e-3, abs=0.1)  # from the unrounded ratio
    data_line = rf"data on the device ({SIGNED}) ms/step .*DataLoader \(workers=2\) ({SIGNED}) ms/step"
    resident, loader = (number(data_line, out, g)
                        for g in (1, 2))
    assert number(rf"ratio DataLoader / on-device: ({SIGNED})", out) == pytest.approx(loader / resident, rel=0.01)
    consumed = number(rf"\(({SIGNED}) jets/s consumed\)", out)  # 4 significant digits: a slow step under load
    rates = [number(rf"\[loader\] workers={w}: ([\d.e+]+) jets/s", out) for w in (0, 2)]
    goal = re.search(rf"/ ParT width 64 consumption: ({SIGNED}) \(goal >= 1: (PASS|FAIL)\)", out)
    assert goal and float(goal.group(1)) == pytest.approx(max(rates) / consumed, rel=0.01)
    assert goal.group(2) == ("PASS" if float(goal.group(1)) >= 1 else "FAIL")
    compiled, eager = (number(rf"compiled ({SIGNED}) ms/step, not compiled ({SIGNED}) ms/step", out, g) for g in (1, 2))
    assert number(rf"ratio not compiled / compiled: ({SIGNED})", out) == pytest.approx(eager / compiled, rel=0.01)
    assert "total wall time" in out


def test_gpu_benchmark_runs_its_sections_on_the_cpu_and_its_ratios_are_quotients(cli_env):
    out = run_benchmark(*GPU_QUICK, "--sections", "models", "overhead", "data", "compile", env=cli_env)
    check_gpu_benchmark(out)


@pytest.mark.slow
def test_gpu_benchmark_packs_what_separate_runs_train(cli_env):
    out = run_benchmark(*GPU_QUICK, "--sections", "packed", env=cli_env)
    separate = number(r"separate `jetscale train` processes: ([\d.]+) s", out)
    packed = number(r"one `jetscale train-packed` process: ([\d.]+) s", out)
    assert number(r"ratio separate / packed: ([\d.]+)", out) == pytest.approx(separate / packed, rel=0.1, abs=0.06)
    assert number(r"largest relative test_loss difference ([\d.e+-]+)", out) < 1e-5
