"""Generator config: load and validate ``configs/generator/jets_pythia.yaml``, derive seeds, write Pythia settings.

The YAML's ``generator:`` mapping must match :class:`GeneratorConfig` exactly (no
unknown key, no missing key, right types); everything else in the file (the
``dataset`` name, loader keys) is left alone. Every error names the file and the
key. Seeds are pure functions of ``(base_seed, shard)`` and ``(shard seed, label)``,
always inside Pythia's valid range 1..900000000.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from jetscale.paths import generator_path

DEFAULT_CONFIG = generator_path("jets_pythia")
SEED_MAX = 900_000_000  # Pythia's Random:seed range is 1..900000000
CLUSTERING_BACKENDS = ("slowjet", "fastjet")


class ConfigError(ValueError):
    """A generator config that must not be run; the message names the file and the key."""


@dataclass
class ProcessConfig:
    label: int = MISSING              # stored in the shard: 1 = top, 0 = QCD
    match_top: bool = MISSING         # keep only jets containing a hadronic top and its decay quarks
    settings: list[str] = MISSING     # Pythia settings strings selecting the process


@dataclass
class GeneratorConfig:
    """Schema of ``generator:`` (the values live in the YAML only; see it for their meaning)."""

    output_root: str = MISSING
    n_shards: int = MISSING
    jets_per_shard: int = MISSING
    base_seed: int = MISSING
    sqrt_s: float = MISSING
    pthat_min: float = MISSING
    pthat_max: float | None = MISSING
    mpi: bool = MISSING
    hadronization: bool = MISSING
    common_settings: list[str] = MISSING
    processes: dict[str, ProcessConfig] = field(default_factory=dict)
    clustering: str = MISSING
    jet_r: float = MISSING
    jet_pt_min: float = MISSING
    jet_pt_max: float = MISSING
    jet_eta_max: float = MISSING
    top_match_dr: float = MISSING
    max_jets_per_event: int = MISSING
    max_constituents: int = MISSING
    log_interval_s: float = MISSING


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
    """Read the YAML, apply ``key=value`` overrides (``generator.`` prefix optional), validate."""
    path = Path(path)
    try:
        raw = OmegaConf.load(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: generator config not found") from None
    except (OmegaConfBaseException, ValueError) as err:  # YAML syntax
        raise ConfigError(f"{path}: unreadable config ({err})") from err
    for key in ("dataset", "generator"):
        if not isinstance(raw, DictConfig) or key not in raw:
            raise ConfigError(f"{path}: missing top-level key {key!r}")
    dataset = str(raw.dataset)
    gen = typed_merge(OmegaConf.merge(OmegaConf.structured(GeneratorConfig), {}), raw.generator, path, "generator")
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"override {item!r}: expected KEY=VALUE (a key of generator: in {path})")
        if key == "dataset":
            dataset = value
            continue
        key = key.removeprefix("generator.")
        gen = typed_merge(gen, OmegaConf.from_dotlist([f"{key}={value}"]), path, f"override {item!r}: generator")
    missing = sorted(OmegaConf.missing_keys(gen))
    if missing:
        raise ConfigError(f"{path}: generator lacks {', '.join(missing)}")
    config = JetConfig(dataset=dataset, generator=OmegaConf.to_object(gen), source=str(path))
    validate(config)
    return config


def typed_merge(base: DictConfig, update, path: Path, where: str) -> DictConfig:
    """Merge ``update`` into the typed ``base``; unknown keys and bad types raise naming the key."""
    try:
        return OmegaConf.merge(base, update)
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or "?"
        reason = str(err).splitlines()[0]
        raise ConfigError(f"{path}: {where}.{key}: {reason}") from None


def validate(config: JetConfig) -> None:
    """Range and consistency checks that types alone do not catch."""
    gen, src = config.generator, config.source
    checks = [
        (gen.n_shards >= 1, "n_shards", "must be >= 1"),
        (gen.jets_per_shard >= 1, "jets_per_shard", "must be >= 1"),
        (len(gen.processes) >= 1, "processes", "needs at least one process"),
        (not gen.processes or gen.jets_per_shard % len(gen.processes) == 0, "jets_per_shard",
         f"must be a multiple of the number of processes ({len(gen.processes)}) so classes are balanced"),
        (gen.base_seed >= 0, "base_seed", "must be >= 0"),
        (gen.sqrt_s > 0, "sqrt_s", "must be > 0"),
        (gen.pthat_min >= 0, "pthat_min", "must be >= 0"),
        (gen.pthat_max is None or gen.pthat_max > gen.pthat_min, "pthat_max", "must be null or > pthat_min"),
        (gen.clustering in CLUSTERING_BACKENDS, "clustering", f"must be one of {list(CLUSTERING_BACKENDS)}"),
        (gen.jet_r > 0, "jet_r", "must be > 0"),
        (0 <= gen.jet_pt_min < gen.jet_pt_max, "jet_pt_max", "must be > jet_pt_min >= 0"),
        (gen.jet_eta_max > 0, "jet_eta_max", "must be > 0"),
        (gen.top_match_dr > 0, "top_match_dr", "must be > 0"),
        (gen.max_jets_per_event >= 1, "max_jets_per_event", "must be >= 1"),
        (gen.max_constituents >= 1, "max_constituents", "must be >= 1"),
        (gen.log_interval_s > 0, "log_interval_s", "must be > 0"),
    ]
    for ok, key, message in checks:
        if not ok:
            raise ConfigError(f"{src}: generator.{key} = {getattr(gen, key)!r} {message}")
    labels = [p.label for p in gen.processes.values()]
    for name, process in gen.processes.items():
        if process.label not in (0, 1):
            raise ConfigError(f"{src}: generator.processes.{name}.label = {process.label} must be 0 (QCD) or 1 (top)")
    if len(set(labels)) != len(labels):
        raise ConfigError(f"{src}: generator.processes: labels {labels} must differ between processes")


def as_dict(config: JetConfig) -> dict:
    """Plain-dict view (for the shard's ``settings`` attribute)."""
    return {"dataset": config.dataset, "generator": dataclasses.asdict(config.generator)}
