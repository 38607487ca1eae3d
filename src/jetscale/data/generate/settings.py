"""Generator config: load ``configs/generator/jets_pythia.yaml``, check it, derive seeds, write Pythia settings.

The file, with any ``key=value`` overrides applied, must match ``workflow/schemas/generator.schema.yaml``
(no unknown key, no missing key, right types and ranges); :func:`load_config` then checks what a schema
cannot (``pthat_max > pthat_min``, classes balanced across shards, one label per process). Every error names
the file and the key. Seeds are pure functions of ``(base_seed, shard)`` and ``(shard seed, label)``,
always inside Pythia's valid range 1..900000000.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from jetscale.paths import generator_path
from jetscale.yamlfile import YAMLFileError, read_yaml, validate

DEFAULT_CONFIG = generator_path("jets_pythia")
SEED_MAX = 900_000_000  # Pythia's Random:seed range is 1..900000000


class ConfigError(ValueError):
    """A generator config that must not be run; the message names the file and the key."""


@dataclass
class ProcessConfig:
    label: int              # stored in the shard: 1 = top, 0 = QCD
    match_top: bool         # keep only jets containing a hadronic top and its decay quarks
    settings: list[str]     # Pythia settings strings selecting the process


@dataclass
class GeneratorConfig:
    """``generator:`` of a checked config (the values and their meaning live in the YAML)."""

    output_root: str
    n_shards: int
    jets_per_shard: int
    base_seed: int
    sqrt_s: float
    pthat_min: float
    pthat_max: float | None
    mpi: bool
    hadronization: bool
    common_settings: list[str]
    processes: dict[str, ProcessConfig]
    clustering: str
    jet_r: float
    jet_pt_min: float
    jet_pt_max: float
    jet_eta_max: float
    top_match_dr: float
    max_jets_per_event: int
    max_constituents: int
    log_interval_s: float


@dataclass(frozen=True)
class JetConfig:
    dataset: str
    generator: GeneratorConfig
    source: str  # the YAML file it came from, for error messages


def derive_seed(*key: int) -> int:
    """A Pythia seed in 1..900000000 from non-negative integers, e.g. ``(base_seed, shard)``."""
    if any(int(k) < 0 for k in key):
        raise ConfigError(f"seeds are derived from non-negative integers, got {key}")
    state = np.random.SeedSequence([int(k) for k in key]).generate_state(1, np.uint64)[0]
    return int(state % SEED_MAX) + 1


def shard_seed(base_seed: int, shard: int) -> int:
    return derive_seed(base_seed, shard)


def process_seed(seed_of_shard: int, label: int) -> int:
    return derive_seed(seed_of_shard, label)


def _on(flag: bool) -> str:
    return "on" if flag else "off"


def pythia_settings(gen: GeneratorConfig, process: str, seed: int) -> list[str]:
    """The exact Pythia settings strings of one process; the seed lines come last so nothing overrides them."""
    physics = [
        "Print:quiet = on",
        f"Beams:eCM = {gen.sqrt_s:g}",
        f"PhaseSpace:pTHatMin = {gen.pthat_min:g}",
        *([f"PhaseSpace:pTHatMax = {gen.pthat_max:g}"] if gen.pthat_max is not None else []),
        f"PartonLevel:MPI = {_on(gen.mpi)}",
        f"HadronLevel:all = {_on(gen.hadronization)}",
    ]
    return [*physics, *gen.common_settings, *gen.processes[process].settings,
            "Random:setSeed = on", f"Random:seed = {seed}"]


def load_config(path: str | Path = DEFAULT_CONFIG, overrides: list[str] | tuple[str, ...] = ()) -> JetConfig:
    """Read the YAML, apply ``key=value`` overrides (a key of ``generator:``, prefix optional, or ``dataset``),
    check the result against the generator schema and :func:`check_consistency`."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: generator config not found")
    try:
        raw = read_yaml(path) or {}
        for item in overrides:
            apply_override(raw, item, path)
        validate(raw, "generator", f"{path}" + (f" (with {' '.join(overrides)})" if overrides else ""))
    except YAMLFileError as bad:
        raise ConfigError(str(bad)) from None
    gen = raw["generator"]
    processes = {name: ProcessConfig(**process) for name, process in gen["processes"].items()}
    config = JetConfig(dataset=raw["dataset"], generator=typed(GeneratorConfig, {**gen, "processes": processes}),
                       source=str(path))
    check_consistency(config)
    return config


def typed(container, values: dict):
    """``container(**values)`` with the integers of its float fields as floats (``sqrt_s: 14000`` -> 14000.0), so
    the settings a shard records do not depend on how a number was written."""
    floats = {f.name for f in dataclasses.fields(container) if f.type in ("float", "float | None")}
    return container(**{k: float(v) if k in floats and v is not None else v for k, v in values.items()})


def apply_override(raw: dict, item: str, path: Path) -> None:
    """Set ``key=value`` in ``raw`` (the value read as YAML: ``2`` an integer, ``wide`` a string); the schema
    checks it afterwards."""
    key, sep, value = item.partition("=")
    keys = key.strip().removeprefix("generator.").split(".")
    if not sep or not all(keys):
        raise ConfigError(f"override {item!r}: expected KEY=VALUE (a key of generator: in {path})")
    node = raw if keys == ["dataset"] else raw.setdefault("generator", {})
    for part in keys[:-1]:
        node = node.setdefault(part, {})
    node[keys[-1]] = yaml.safe_load(value)


def check_consistency(config: JetConfig) -> None:
    """What the schema cannot say: relations between keys."""
    gen, src = config.generator, config.source
    checks = [
        (gen.jets_per_shard % len(gen.processes) == 0, "jets_per_shard",
         f"must be a multiple of the number of processes ({len(gen.processes)}) so classes are balanced"),
        (gen.pthat_max is None or gen.pthat_max > gen.pthat_min, "pthat_max", "must be null or > pthat_min"),
        (gen.jet_pt_min < gen.jet_pt_max, "jet_pt_max", "must be > jet_pt_min"),
    ]
    for ok, key, message in checks:
        if not ok:
            raise ConfigError(f"{src}: generator.{key} = {getattr(gen, key)!r} {message}")
    labels = [p.label for p in gen.processes.values()]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"{src}: generator.processes: labels {labels} must differ between processes")


def as_dict(config: JetConfig) -> dict:
    """Plain-dict view (for the shard's ``settings`` attribute)."""
    return {"dataset": config.dataset, "generator": dataclasses.asdict(config.generator)}
