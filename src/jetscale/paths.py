"""Where jetscale finds its Hydra configs and workflow schemas (no heavy imports here)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# configs/ at the repository root (the package is installed editable); JETSCALE_CONFIG_DIR overrides it.
CONFIG_DIR = os.environ.get("JETSCALE_CONFIG_DIR", str(REPO_ROOT / "configs"))
SCHEMA_DIR = REPO_ROOT / "workflow" / "schemas"  # <kind>.schema.yaml: what every YAML file a user writes may hold
SWEEP_SCHEMA = SCHEMA_DIR / "sweep.schema.yaml"
WORKFLOW_CONFIG = REPO_ROOT / "workflow" / "config.yaml"


def generator_path(name: str, kind: str = "", config_dir: str | Path = CONFIG_DIR) -> Path:
    """A generator config: ``jets_pythia`` -> ``configs/generator/jets_pythia.yaml``, a shower process ``z_qq``
    (``kind="shower"``) -> ``configs/generator/shower/z_qq.yaml``; a path to a .yaml file as given."""
    if name.endswith((".yaml", ".yml")):
        return Path(name)
    return Path(config_dir) / "generator" / kind / f"{name}.yaml"
