"""Shared fixtures: the repo root, the venv's console scripts, composing real configs."""

from __future__ import annotations

import os
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


@pytest.fixture
def cli_env():
    """Environment for subprocesses: the venv's scripts first on PATH, wandb off."""
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["WANDB_MODE"] = "disabled"
    env.pop("WANDB_SERVICE", None)  # an in-process wandb run of another test must not leak into subprocesses
    return env


@pytest.fixture(scope="session")
def tiny_jet_dir(tmp_path_factory):
    """Two generated shards of 100 jets each (balanced top/QCD), shared by the whole session."""
    from jetscale.cli import main

    out = tmp_path_factory.mktemp("tiny-jets") / "toptag-pythia"
    assert main(["generate", "--shards", "0-1", "--jets-per-shard", "100", "--out", str(out)]) == 0
    return out
