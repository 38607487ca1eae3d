"""Shared fixtures: the repo root, the venv's console scripts, composing real configs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from jetscale.paths import CONFIG_DIR

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
os.environ.setdefault("WANDB_MODE", "disabled")


def shared_dir() -> Path | None:
    candidates = [os.environ.get("JETSCALE_SHARED"), REPO.parent / "shared"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


@pytest.fixture
def compose_train():
    """Compose ``configs/train.yaml`` with overrides, exactly as ``jetscale train`` would."""

    def _compose(*overrides: str):
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            return compose(config_name="train", overrides=list(overrides))

    return _compose


def subprocess_env() -> dict:
    """Environment for subprocesses: the venv's scripts first on PATH, wandb off."""
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["WANDB_MODE"] = "disabled"
    env.pop("WANDB_SERVICE", None)  # an in-process wandb run of another test must not leak into subprocesses
    return env


@pytest.fixture
def cli_env():
    return subprocess_env()


@pytest.fixture(scope="session")
def tiny_jet_dir(tmp_path_factory):
    """Two generated shards of 100 jets each (balanced top/QCD), shared by the whole session."""
    from jetscale.cli import main

    out = tmp_path_factory.mktemp("tiny-jets") / "toptag-pythia"
    assert main(["generate", "--shards", "0-1", "--jets-per-shard", "100", "--out", str(out)]) == 0
    return out


# A jet point with early stopping (validation every 5 steps: last.ckpt is written then), shared by the resume tests.
JETS_POINT = ["task=jets", "n_samples=120", "data.n_test=60", "data.n_val=20", "data.batch_size=20",
              "width=16", "model.optimizer.lr=1e-2", "trainer.max_steps=200", "early_stopping.val_every_n_steps=5",
              "early_stopping.patience=4"]


def train_cli(overrides, run_dir, env, timeout=300, **options) -> subprocess.CompletedProcess:
    """``jetscale train OVERRIDES hydra.run.dir=RUN_DIR`` as a workflow job runs it."""
    return subprocess.run([str(BIN / "jetscale"), "train", *overrides, f"hydra.run.dir={run_dir}"], env=env,
                          capture_output=True, text=True, timeout=timeout, **options)


@pytest.fixture(scope="session")
def jets_reference(tiny_jet_dir, tmp_path_factory):
    """The uninterrupted run of the jet point, as a fresh `jetscale train` process: the same code path as every
    interrupted and resumed run it is compared with (never a test process that other tests have changed)."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "WANDB_MODE": "disabled"}
    env.pop("WANDB_SERVICE", None)
    run_dir = tmp_path_factory.mktemp("reference") / "point"
    done = train_cli([*JETS_POINT, f"data.dataset_dir={tiny_jet_dir}"], run_dir, env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((run_dir / "metrics.json").read_text())


FAKE_PBS = REPO / "tests" / "cluster" / "fake_pbs"


@pytest.fixture
def pbs_env(tmp_path, cli_env, monkeypatch):
    """The fake PBS first on PATH (here and for subprocesses), its job table in tmp_path/pbs, a project set,
    and a job env file that puts the venv and the fake node's mpiexec on the job's PATH."""
    env_file = tmp_path / "job-env.sh"
    env_file.write_text(f"export PATH={FAKE_PBS / 'node'}:{Path(sys.executable).parent}:$PATH\n"
                        f"export WANDB_MODE=disabled FAKE_MPIEXEC_LOG={tmp_path / 'mpiexec.log'}\n"
                        f"echo job env sourced\n")
    env = dict(cli_env, PATH=f"{FAKE_PBS}{os.pathsep}{cli_env['PATH']}", FAKE_PBS_DIR=str(tmp_path / "pbs"),
               JETSCALE_PBS_ACCOUNT="jetscale-test", JETSCALE_ENV_FILE=str(env_file))
    env.pop("JETSCALE_VENV", None)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("JETSCALE_VENV", raising=False)
    return env


def draw_from_numbers_file(name: str, result: dict, out_dir: Path) -> list[Path]:
    """Draw a paper figure as the workflow does: from its analysis written to a JSON file and read back."""
    import json

    from jetscale.paper.figures import draw_figure
    from jetscale.paper.report import json_safe

    path = out_dir / "numbers" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(json_safe({"figure": name, "title": name, **result})))
    return draw_figure(json.loads(path.read_text()), out_dir)
