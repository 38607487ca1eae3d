"""Sweep definitions: load, validate and expand ``configs/sweep/<name>.yaml``.

A sweep names a *task* (``configs/task/<task>.yaml``: data source, model family,
solver and their settings; :mod:`jetscale.tasks`), and lists *axes*
(``n_samples``, ``width``, ``seed``, ``compute``) whose cartesian product gives
one training job per point, and fixed Hydra *overrides*.  A sweep run at several
sizes (the paper's small and full scales) is one file with the common part at the
top and what differs under ``scales.<scale>``; it is named ``<sweep>@<scale>``
(``paper-pfn@small``) and its effective name, hence its results directory, is
``<name>-<scale>`` (``results/paper-pfn-small/``).  Validation happens
before any job exists:

1. structure, against ``workflow/schemas/sweep.schema.yaml`` (:func:`jetscale.yamlfile.validate`: unknown keys,
   non-positive sizes, wrong types), and the task must be a file of
   ``configs/task/``;
2. meaning, by composing the real Hydra config of the largest point (override
   keys must exist; a width may not exceed the toy model's latent dimension);
3. types: every override must have the type of the key it sets
   (:func:`check_override_types`: a number for a number, a bool for a bool).

Every error names the sweep file, the key and the offending value.
"""

from __future__ import annotations

import itertools
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from jetscale.paths import CONFIG_DIR
from jetscale.yamlfile import YAMLFileError, read_yaml, validate

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
    fit: dict = field(default_factory=dict)
    resources: dict = field(default_factory=dict)  # Snakemake resources of the training jobs
    source: str = "<memory>"
    scale: str | None = None  # the scale of a file with `scales:` (its name is then <file's name>-<scale>)

    @property
    def ref(self) -> str:
        """What names this sweep to :func:`load_sweep` again: its file, and ``@<scale>`` if it has one."""
        return f"{self.source}{SCALE_MARK}{self.scale}" if self.scale else self.source

    def points(self) -> list[dict]:
        """All points, in axis order (first axis varies slowest)."""
        keys = list(self.axes)
        return [dict(zip(keys, values)) for values in itertools.product(*self.axes.values())]

    def common_overrides(self) -> list[str]:
        """The overrides every point shares: the task and the fixed overrides (an axis key wins)."""
        fixed = [f"task={self.task}"] if self.task else []
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


SCALE_MARK = "@"  # paper-pfn@small: scale `small` of configs/sweep/paper-pfn.yaml


def sweep_path(name: str, config_dir: str | Path = CONFIG_DIR) -> Path:
    """``configs/sweep/<name>.yaml``, or ``name`` itself when it is a path to a .yaml file."""
    if name.endswith((".yaml", ".yml")):
        return Path(name)
    return Path(config_dir) / "sweep" / f"{name}.yaml"


def split_ref(ref: str | Path) -> tuple[str, str | None]:
    """``paper-pfn@small`` -> ``("paper-pfn", "small")``; a name or path without ``@<scale>`` has no scale."""
    text = str(ref)
    stem, mark, scale = text.rpartition(SCALE_MARK)
    if not mark or not stem or "/" in scale or not scale:
        return text, None
    return stem, scale


def scaled_name(name: str, scale: str | None) -> str:
    """The effective name of scale ``scale`` of sweep ``name`` (its results directory): ``paper-pfn-small``."""
    return f"{name}-{scale}" if scale else name


def sweep_scales(name: str, config_dir: str | Path = CONFIG_DIR) -> list[str]:
    """The scales of sweep file ``name`` (``rhm-synonyms`` -> ``["m3", "m4", ...]``); ``SweepError`` if it has none."""
    path = sweep_path(name, config_dir)
    try:
        scales = list((read_yaml(path) or {}).get("scales") or {}) if path.exists() else []
    except YAMLFileError as bad:
        raise SweepError(str(bad)) from None
    if not scales:
        raise SweepError(f"sweep config {path} has no scales (or does not exist): a collapse needs one scale per grammar")
    return scales


def load_sweep(ref: str | Path, check_config: bool = True, config_dir: str | Path = CONFIG_DIR) -> Sweep:
    """Read, validate and return a sweep named by ``ref``: a name of ``configs/sweep/`` or a path to a .yaml file,
    followed by ``@<scale>`` for a file with ``scales:``. Raise ``SweepError`` naming the problem."""
    name, scale = split_ref(ref)
    path = sweep_path(name, config_dir)
    if not path.exists():
        available = sorted(p.stem for p in path.parent.glob("*.yaml")) if path.parent.exists() else []
        raise SweepError(f"sweep config {path} does not exist (available: {available})")
    try:
        raw = read_yaml(path) or {}
        check_no_experiment(raw, path)
        validate(raw, "sweep", path)
        raw = at_scale(raw, scale, path)
        validate(raw, "sweep", f"{path}{SCALE_MARK}{scale}" if scale else path)  # a scale may lack axes
    except YAMLFileError as bad:
        raise SweepError(str(bad)) from None
    check_task(raw, path)
    sweep = Sweep(
        name=raw["name"], axes=raw["axes"], overrides=raw.get("overrides") or {}, task=raw.get("task"),
        fit=raw.get("fit") or {}, resources=raw.get("resources") or {}, source=str(path), scale=scale,
    )
    if check_config:
        check_against_config(sweep)
    return sweep


def at_scale(raw: dict, scale: str | None, path: Path) -> dict:
    """The sweep at ``scale``: the file's common part, each mapping of ``scales.<scale>`` merged key by key into
    the common one (other values replace it), and the name ``<name>-<scale>``. A file without ``scales:`` is its own
    sweep and takes no scale; a file with ``scales:`` needs one."""
    scales = raw.get("scales") or {}
    if scale is None and scales:
        raise SweepError(f"sweep config {path} has scales {', '.join(scales)}: name one, e.g. "
                         f"{path.stem}{SCALE_MARK}{next(iter(scales))}")
    if scale is None:
        return raw
    if scale not in scales:
        raise SweepError(f"sweep config {path}: no scale {scale!r} under scales: "
                         + (f"it has {', '.join(scales)}" if scales else "it has no scales"))
    common = {key: value for key, value in raw.items() if key != "scales"}
    merged = {**common, "name": scaled_name(raw["name"], scale)}
    for key, value in scales[scale].items():
        merged[key] = {**(common.get(key) or {}), **value} if isinstance(value, dict) else value
    return merged


def tasks() -> list[str]:
    """The task configs: the stems of ``configs/task/*.yaml``."""
    return sorted(p.stem for p in (Path(CONFIG_DIR) / "task").glob("*.yaml"))


def check_task(raw: dict, path: Path) -> None:
    """A sweep's ``task`` must name a file of ``configs/task/`` (listed when it does not)."""
    task = raw.get("task")
    if task is not None and task not in tasks():
        raise SweepError(f"sweep config {path}: task = {task!r} is not a config of configs/task/ "
                         f"(available: {', '.join(tasks())})")


def check_no_experiment(raw: dict, path: Path) -> None:
    """``experiment:`` is gone (experiments are tasks now); say which ``task:`` to write instead."""
    if not isinstance(raw, dict) or "experiment" not in raw:
        return
    old = str(raw["experiment"])
    # The task an old experiment was: itself (toy_sgd, jets_efp_mlp) or the task it refined (jets_pfn -> jets).
    task = max((t for t in tasks() if old == t or old.startswith(f"{t}_")), key=len, default=None)
    advice = f"write `task: {task}`" if task else f"write `task: <one of {', '.join(tasks())}>`"
    if raw.get("task") not in (None, task):
        advice += f" (and check it against the `task: {raw['task']}` the file also sets)"
    raise SweepError(f"sweep config {path}: experiment = {old!r}: the experiment group is gone, experiments are "
                     f"tasks of configs/task/ now; remove `experiment:` and {advice}")


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
    return compose_training_config(sweep.hydra_overrides(point), f"sweep config {sweep.ref}")


def largest_point(sweep: Sweep) -> dict:
    return {k: max(v) for k, v in sweep.axes.items()}


def is_group(key: str) -> bool:
    """Whether an override key picks a config group (``model: pfn``) rather than setting a value."""
    return (Path(CONFIG_DIR) / key.replace(".", "/")).is_dir()


def type_error(key: str, default, value) -> str | None:
    """Why ``value`` cannot set ``key`` whose default is ``default`` (None: it can). Null is always allowed;
    a number needs a number (an integer an integer), a bool a bool, a list a list, a mapping a mapping;
    a string key takes any plain value (``trainer.devices: auto`` or ``2``)."""
    from omegaconf import DictConfig, ListConfig

    if value is None or default is None:
        return None
    kinds = [(bool, "a boolean (true/false)", lambda v: isinstance(v, bool)),
             (int, "an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
             (float, "a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
             ((list, ListConfig), "a list", lambda v: isinstance(v, (list, ListConfig))),
             ((dict, DictConfig), "a mapping", lambda v: isinstance(v, (dict, DictConfig)))]
    for kind, expected, accepts in kinds:
        if isinstance(default, kind):
            return None if accepts(value) else f"{key} must be {expected} (its default is {default!r})"
    return None


def check_override_types(sweep: Sweep, composed) -> None:
    """Every value override of ``sweep`` against the type of its key in the config without the value overrides;
    a SweepError naming the sweep file and each key, value and expected type."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    groups = [o for o in sweep.common_overrides() if is_group(o.partition("=")[0])]
    base = compose_training_config(groups, f"sweep config {sweep.ref}")
    errors = []
    for key, written in sweep.overrides.items():
        if key in sweep.axes or is_group(key) or key.startswith(("+", "~")):
            continue
        try:
            default = OmegaConf.select(base, key, throw_on_missing=False)
            value = OmegaConf.select(composed, key, throw_on_missing=False)
        except OmegaConfBaseException:
            continue  # an interpolation that resolves only at run time (e.g. ${oc.env:...})
        problem = type_error(key, default, value)
        if problem:
            errors.append(f"  overrides.{key} = {written!r}: {problem}")
    if errors:
        raise SweepError(f"sweep config {sweep.ref}: overrides of the wrong type:\n" + "\n".join(errors))


def check_against_config(sweep: Sweep):
    """Compose the Hydra config of the largest point; fail on unknown keys, wrong types or impossible sizes;
    return it."""
    largest = largest_point(sweep)
    cfg = compose_point(sweep, largest)
    check_override_types(sweep, cfg)
    if "compute" in sweep.axes and cfg.solver != "lightning":
        raise SweepError(f"sweep config {sweep.ref}: axes.compute needs a gradient solver (solver=lightning), "
                         f"but the points use solver={cfg.solver}")
    latent_dim = cfg.data.get("source", {}).get("latent_dim")
    if latent_dim is not None and largest.get("width", cfg.width) > latent_dim:
        raise SweepError(
            f"sweep config {sweep.ref}: axes.width = {largest['width']} is larger than the latent "
            f"dimension data.source.latent_dim = {latent_dim}"
        )
    return cfg
