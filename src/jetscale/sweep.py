"""Sweep definitions: load, validate and expand ``configs/sweep/<name>.yaml``.

A sweep names a *task* (``configs/task/<task>.yaml``: data source, model family,
solver; :mod:`jetscale.tasks`) and optionally an *experiment*, and lists *axes*
(``n_samples``, ``width``, ``seed``, ``compute``) whose cartesian product gives
one training job per point, and fixed Hydra *overrides*.  Validation happens
before any job exists:

1. structure, against ``workflow/schemas/sweep.schema.yaml`` (unknown keys,
   non-positive sizes, wrong types), and the task and experiment must be files
   of their config groups;
2. meaning, by composing the real Hydra config of the largest point (override
   keys must exist; a width may not exceed the toy model's latent dimension).

Every error names the sweep file, the key and the offending value.
"""

from __future__ import annotations

import itertools
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import yaml

from jetscale.paths import CONFIG_DIR, SWEEP_SCHEMA as SCHEMA

FIT_DEFAULTS = {"laws": ["data", "params", "joint"], "bootstrap": 1000, "loss_col": "test_loss", "seed": 0}
# The law fitted per group of the other axis: data law at fixed width, params law at fixed n_samples.
LAW_GROUP_BY = {"data": "width", "params": "n_samples", "joint": None}


class SweepError(ValueError):
    """A sweep config that must not be submitted."""


@dataclass(frozen=True)
class Sweep:
    name: str
    axes: dict[str, list]
    overrides: dict[str, object] = field(default_factory=dict)
    task: str | None = None  # configs/task/<task>.yaml (toy, jets, rhm, rambo, shower); None: train.yaml's default
    experiment: str | None = None
    fit: dict = field(default_factory=dict)
    resources: dict = field(default_factory=dict)  # Snakemake resources of the training jobs
    source: str = "<memory>"

    def points(self) -> list[dict]:
        """All points, in axis order (first axis varies slowest)."""
        keys = list(self.axes)
        return [dict(zip(keys, values)) for values in itertools.product(*self.axes.values())]

    def common_overrides(self) -> list[str]:
        """The overrides every point shares: the task, the experiment and the fixed overrides (an axis key wins)."""
        fixed = [f"task={self.task}"] if self.task else []
        fixed += [f"experiment={self.experiment}"] if self.experiment else []
        return fixed + [f"{k}={_hydra_value(v)}" for k, v in self.overrides.items() if k not in self.axes]

    def hydra_overrides(self, point: dict) -> list[str]:
        return self.common_overrides() + [f"{k}={_hydra_value(v)}" for k, v in point.items()]

    def fit_settings(self) -> dict:
        return {**FIT_DEFAULTS, **self.fit}


# The only axes in which the members of a packed ensemble (jetscale.packed) may differ.
PACK_AXES = ("seed", "n_samples")

# Between the KEY=VALUE items of a run id. Not a comma: Snakemake splits the wildcards it hands to
# cluster jobs (--target-jobs) at commas. Not "+": it is in exponents (1e+09).
RUN_ID_SEPARATOR = "__"


def run_id(point: dict) -> str:
    """Readable, stable name of a point, e.g. ``n_samples=1000__width=64__seed=0``."""
    return RUN_ID_SEPARATOR.join(f"{k}={_hydra_value(v)}" for k, v in point.items())


def point_overrides(run_id: str) -> list[str]:
    """Hydra overrides of a sweep run id (``jetscale.sweep.run_id``): ``n_samples=64__seed=0`` → two overrides."""
    items = run_id.split(RUN_ID_SEPARATOR)
    if not all(key and sep for key, sep, _ in (item.partition("=") for item in items)):
        raise ValueError(f"run dir name {run_id!r} is not a sweep run id (KEY=VALUE{RUN_ID_SEPARATOR}KEY=VALUE...)")
    return items


def shell_overrides(overrides: list[str]) -> str:
    return " ".join(shlex.quote(o) for o in overrides)


def _hydra_value(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1e6:
        return f"{value:.6g}"
    return str(value)


def sweep_path(name: str, config_dir: str | Path = CONFIG_DIR) -> Path:
    """``configs/sweep/<name>.yaml``, or ``name`` itself when it is a path to a .yaml file."""
    if name.endswith((".yaml", ".yml")):
        return Path(name)
    return Path(config_dir) / "sweep" / f"{name}.yaml"


def load_sweep(path: str | Path, schema: str | Path = SCHEMA, check_config: bool = True) -> Sweep:
    """Read, validate and return a sweep; raise ``SweepError`` naming the problem."""
    path = Path(path)
    if not path.exists():
        available = sorted(p.stem for p in path.parent.glob("*.yaml")) if path.parent.exists() else []
        raise SweepError(f"sweep config {path} does not exist (available: {available})")
    raw = yaml.safe_load(path.read_text()) or {}
    validate_structure(raw, path, schema)
    check_choice(raw, "task", path)
    check_choice(raw, "experiment", path)
    sweep = Sweep(
        name=raw["name"], axes=raw["axes"], overrides=raw.get("overrides") or {}, task=raw.get("task"),
        experiment=raw.get("experiment"), fit=raw.get("fit") or {}, resources=raw.get("resources") or {},
        source=str(path),
    )
    if check_config:
        check_against_config(sweep)
    return sweep


def validate_structure(raw: dict, path: Path, schema: str | Path = SCHEMA) -> None:
    validator = jsonschema.Draft202012Validator(yaml.safe_load(Path(schema).read_text()))
    errors = sorted(validator.iter_errors(raw), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  {_key(e.absolute_path)}: {e.message}" for e in errors]
        raise SweepError(f"invalid sweep config {path}:\n" + "\n".join(lines))


def check_choice(raw: dict, group: str, path: Path) -> None:
    """A sweep's ``task`` or ``experiment`` must name a file of that config group (listed when it does not)."""
    choice = raw.get(group)
    if choice is None or (Path(CONFIG_DIR) / group / f"{choice}.yaml").is_file():
        return
    available = sorted(p.stem for p in (Path(CONFIG_DIR) / group).glob("*.yaml"))
    raise SweepError(f"sweep config {path}: {group} = {choice!r} is not a config of configs/{group}/ "
                     f"(available: {', '.join(available)})")


def _key(path) -> str:
    parts = [f"[{p}]" if isinstance(p, int) else f".{p}" for p in path]
    return "".join(parts).lstrip(".") or "<top level>"


def compose_training_config(overrides: list[str], context: str):
    """``configs/train.yaml`` composed with ``overrides``; a SweepError (a ValueError) naming ``context``
    when the overrides do not fit."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            return compose(config_name="train", overrides=overrides)
    except (HydraException, OmegaConfBaseException) as err:
        raise SweepError(f"{context}: the overrides do not fit the training config: {err}") from err


def compose_point(sweep: Sweep, point: dict):
    """The training config (``configs/train.yaml`` + the sweep's overrides) of one point."""
    return compose_training_config(sweep.hydra_overrides(point), f"sweep config {sweep.source}")


def largest_point(sweep: Sweep) -> dict:
    return {k: max(v) for k, v in sweep.axes.items()}


def check_against_config(sweep: Sweep):
    """Compose the Hydra config of the largest point; fail on unknown keys or impossible sizes; return it."""
    largest = largest_point(sweep)
    cfg = compose_point(sweep, largest)
    if "compute" in sweep.axes and cfg.solver != "lightning":
        raise SweepError(f"sweep config {sweep.source}: axes.compute needs a gradient solver (solver=lightning), "
                         f"but the points use solver={cfg.solver}")
    latent_dim = cfg.data.get("source", {}).get("latent_dim")
    if latent_dim is not None and largest.get("width", cfg.width) > latent_dim:
        raise SweepError(
            f"sweep config {sweep.source}: axes.width = {largest['width']} is larger than the latent "
            f"dimension data.source.latent_dim = {latent_dim}"
        )
    return cfg
