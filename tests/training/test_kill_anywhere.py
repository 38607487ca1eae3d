"""Kill anywhere: a real jet training point (early stopping on) is SIGKILLed again and again, at random moments
and inside the moments that matter (a checkpoint written but not yet renamed, about to be written, a validation
running, the test metrics being computed), resumed each time, and must end with exactly the metrics of the
uninterrupted run. The moments come from tests/training/kill_probe/sitecustomize.py, which pauses the trainer there."""

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BIN, JETS_POINT, train_cli

PROBE_DIR = Path(__file__).parent / "kill_probe"
COMPARED = ("test_loss", "accuracy", "roc_auc", "steps", "flops", "epochs", "n_params", "val_loss", "best_step")


def schedule(rng: random.Random, n: int) -> list[str]:
    """``n`` kill moments, ``event#k`` (pause at the k-th event of one attempt) or ``after#<seconds>``, each
    killing the trainer early in its attempt so that all fit in one run; the test metrics' moment comes last
    (after it, every attempt goes straight to the test metrics)."""
    moments = ["save-written#1", "validation#1", "save-start#1"]  # each kind at least once
    while len(moments) < n - 1:
        if rng.random() < 0.25:
            moments.append(f"after#{rng.uniform(0.3, 3.0):.2f}")
        else:
            moments.append(f"{rng.choice(['save-written', 'save-start', 'validation'])}#{rng.randint(1, 3)}")
    rng.shuffle(moments)
    return [*moments, "evaluate#1"]


def events_since(path: Path, start: int) -> list[str]:
    return path.read_text().splitlines()[start:] if path.exists() else []


def kill_at(moment: str, overrides: list[str], run_dir: Path, env: dict, events: Path) -> bool:
    """Start the trainer, SIGKILL it at ``moment``; True if it was killed, False if it finished first."""
    kind, _, value = moment.partition("#")
    probe_env = {**env, "PYTHONPATH": str(PROBE_DIR), "JETSCALE_KILL_PROBE": str(events),
                 "JETSCALE_KILL_AT": "" if kind == "after" else moment}
    start = len(events_since(events, 0))
    with open(run_dir.parent / "attempts.log", "a") as log:
        process = subprocess.Popen([str(BIN / "jetscale"), "train", *overrides, f"hydra.run.dir={run_dir}"],
                                   env=probe_env, stdout=log, stderr=subprocess.STDOUT)
    begun = time.monotonic()
    try:
        while process.poll() is None and time.monotonic() - begun < 300:
            seen = [line.split()[0] for line in events_since(events, start)]
            if kind == "after" and time.monotonic() - begun >= float(value):
                break
            if kind != "after" and seen.count(kind) >= int(value):
                break
            time.sleep(0.02)
    finally:
        killed = process.poll() is None
        process.send_signal(signal.SIGKILL)
        process.wait()
    return killed


def hog(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen(["python3", "-c", "while True: pass"]) for _ in range(n)]


# The default suite: six kills (each kind of moment at least once) beside a CPU hog; -m slow: twelve on an idle
# machine. Every attempt is a process start (~5 s of imports), so the count sets the test's time.
@pytest.mark.parametrize(("busy", "kills"), [pytest.param(1, 6, id="cpu-hog"),
                                             pytest.param(0, 12, id="idle", marks=pytest.mark.slow)])
def test_killed_anywhere_again_and_again_the_point_ends_exactly_as_the_uninterrupted_run(
        busy, kills, tiny_jet_dir, jets_reference, tmp_path, cli_env):
    seed = int(os.environ.get("JETSCALE_KILL_SEED", random.SystemRandom().randrange(10**6)))
    rng = random.Random(seed)
    overrides = [*JETS_POINT, f"data.dataset_dir={tiny_jet_dir}"]
    run_dir, events = tmp_path / "point", tmp_path / "events"
    hogs = hog(busy)
    landed = []
    try:
        for moment in schedule(rng, kills):
            killed = kill_at(moment, overrides, run_dir, cli_env, events)
            if (run_dir / "metrics.json").exists():
                break  # it finished (before or just as the kill came): no more interrupting
            if killed:
                landed.append(moment)
        done = train_cli(overrides, run_dir, cli_env)
    finally:
        for process in hogs:
            process.kill()
    context = f"seed {seed} (JETSCALE_KILL_SEED), kills at {landed}; log {tmp_path / 'attempts.log'}"
    assert done.returncode == 0, context + "\n" + done.stdout[-3000:] + done.stderr[-3000:]
    assert len(landed) >= kills - 2, context
    kinds = {moment.split("#")[0] for moment in landed}
    assert {"save-written", "validation", "evaluate"} <= kinds, context
    resumed = json.loads((run_dir / "metrics.json").read_text())
    assert {k: resumed[k] for k in COMPARED} == {k: jets_reference[k] for k in COMPARED}, context
    assert 2 <= resumed["attempts"] <= len(landed) + 1, context  # a kill during start-up precedes the lock
    assert not list((run_dir / "checkpoints").glob("*.stale-*")), "a resumed run's own checkpoint was set aside"
