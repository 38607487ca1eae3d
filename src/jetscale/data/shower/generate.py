"""Pythia 8 showers of a process config: parton snapshots after every branching, or hadron-level events.

A process config (``configs/generator/shower/<name>.yaml``) holds ``name``, ``description``,
``sqrt_s`` [GeV], ``level`` (``parton``, the default, or ``hadron``), ``k_max`` (parton level only),
``tolerance`` (relative to ``sqrt_s``) and the process's Pythia ``settings``. The generator appends
the settings it owns, which must not appear in the config: ``Beams:eCM``, the level's
:data:`LEVEL_SETTINGS`, quiet output and the seed (Pythia's ``Random:seed`` is :func:`derive_seed`
of the run's seed, in 1..900000000, so any non-negative seed works and 0 does not mean "time").

Parton level (:data:`SHOWER_ONLY_SETTINGS`: a pure final-state QCD shower that
:mod:`jetscale.data.shower.history` can replay): each event's record is replayed into the parton
momenta after k = 0, 1, 2, ... branchings; every snapshot must sum to (sqrt_s, 0, 0, 0) within
``tolerance * sqrt_s`` GeV per component, else the run fails (nothing written). Events whose
record the replay cannot follow are dropped and counted (a warning each).
Hadron level (:data:`HADRON_LEVEL_SETTINGS`, as JSL's StevensCode/gen/gen_*.cc): the visible
final-state particles of each event (:mod:`jetscale.data.shower.hadron_file`), the whole final
state checked the same way. Same config, event count and seed give identical arrays.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pythia8mc

from jetscale.data.generate.events import events, make_pythia, pythia_version
from jetscale.data.generate.settings import ConfigError, derive_seed, typed
from jetscale.data.shower.hadron_file import INVISIBLE, HadronEvents
from jetscale.data.shower.history import ReplayError, check_conservation, shower_snapshots
from jetscale.atomic import exclusive_lock
from jetscale.data.shower.snapshots import N_BORN, ShowerSnapshots, snapshot_info, write_snapshots
from jetscale.paths import generator_path
from jetscale.yamlfile import YAMLFileError, read_validated, validate

log = logging.getLogger(__name__)

SHOWER_ONLY_SETTINGS = (
    "PartonLevel:ISR = off",
    "PartonLevel:MPI = off",
    "HadronLevel:all = off",
    "TimeShower:QEDshowerByQ = off",
    "TimeShower:QEDshowerByL = off",
    "TimeShower:QEDshowerByOther = off",
    "TimeShower:QEDshowerByGamma = off",
    "TimeShower:weakShower = off",
)
HADRON_LEVEL_SETTINGS = (  # JSL's StevensCode/gen/gen_Zqq.cc, gen_Hgg.cc: Pythia's defaults otherwise
    "PartonLevel:ISR = off",
    "PartonLevel:MPI = off",
    "HadronLevel:all = on",
)
LEVEL_SETTINGS = {"parton": SHOWER_ONLY_SETTINGS, "hadron": HADRON_LEVEL_SETTINGS}
RUN_SETTINGS = ("Beams:eCM", "Print:quiet", "Random:setSeed", "Random:seed")  # set from sqrt_s and the seed
MAX_WARNINGS = 10  # dropped events logged one by one; later ones only counted


@dataclass
class ShowerConfig:
    """A checked ``configs/generator/shower/<name>.yaml`` (values and their meaning live in the YAML; its schema is
    ``workflow/schemas/shower.schema.yaml``)."""

    name: str
    description: str
    sqrt_s: float
    k_max: int | None  # None at hadron level
    tolerance: float
    settings: list[str]
    level: str = "parton"
    source: str = "<config>"


def setting_key(line: str) -> str:
    """``"Beams:eCM = 91.2"`` -> ``"beams:ecm"`` (Pythia's keys are case-insensitive)."""
    return line.partition("=")[0].strip().lower()


def load_shower_config(path: str | Path, k_max: int | None = None) -> ShowerConfig:
    """Read a process config and check it against the shower schema; ``k_max`` overrides the file's. Errors name
    the file and key. ``k_max`` is required at parton level and refused at hadron level."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: shower config not found")
    try:
        raw = read_validated(path, "shower")
        if k_max is not None:
            raw = {**raw, "k_max": k_max}
            validate(raw, "shower", f"{path} (with k_max={k_max})")
    except YAMLFileError as bad:
        raise ConfigError(str(bad)) from None
    level = raw.get("level", "parton")
    if (level == "parton") != ("k_max" in raw):
        raise ConfigError(f"{path}: k_max: " + ("required at parton level (the deepest snapshot stored)"
                                                 if level == "parton" else
                                                 "has no meaning at level: hadron (one state per event); remove it"))
    config = typed(ShowerConfig, {"k_max": None, **raw, "source": str(path)})
    owned = {setting_key(line) for line in (*SHOWER_ONLY_SETTINGS, *HADRON_LEVEL_SETTINGS, *RUN_SETTINGS)}
    for line in config.settings:
        if setting_key(line) in owned:
            raise ConfigError(f"{path}: settings: {line!r} is set by the generator (from sqrt_s, the seed, "
                              f"or LEVEL_SETTINGS); remove it")
    return config


def pythia_settings(config: ShowerConfig, seed: int) -> list[str]:
    """Every Pythia settings string of a run, in order; the generator's own come last so nothing overrides them."""
    return [*config.settings, f"Beams:eCM = {config.sqrt_s!r}", *LEVEL_SETTINGS[config.level], "Print:quiet = on",
            "Random:setSeed = on", f"Random:seed = {derive_seed(seed)}"]


def read_record(event: pythia8mc.Event) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(status, mother1, mother2, momenta [n, 4] as (E, px, py, pz) in GeV) of a whole event record."""
    rows = [(p.status(), p.mother1(), p.mother2(), p.e(), p.px(), p.py(), p.pz()) for p in event]
    table = np.asarray(rows, dtype=np.float64)
    columns = table[:, :3].astype(np.int64).T
    return columns[0], columns[1], columns[2], table[:, 3:]


def generate_snapshots(config: ShowerConfig, n_events: int, seed: int,
                       log_interval_s: float = 10.0) -> ShowerSnapshots:
    """Generate ``n_events`` showers and collect the snapshots k = 1 .. config.k_max."""
    check_request(config, n_events, seed, "parton")
    settings = pythia_settings(config, seed)
    pythia = make_pythia(settings, source=config.source)
    k_max = config.k_max
    momenta = {k: np.empty((n_events, N_BORN + k, 4)) for k in range(1, k_max + 1)}  # pages touched when filled
    ids = {k: np.empty(n_events, dtype=np.int64) for k in range(1, k_max + 1)}
    filled = dict.fromkeys(momenta, 0)
    total = np.array([config.sqrt_s, 0.0, 0.0, 0.0])
    tolerance = config.tolerance * config.sqrt_s
    dropped, start, last_log = 0, time.perf_counter(), time.perf_counter()
    for event_id, event in zip(range(n_events), events(pythia)):
        try:
            snapshots = shower_snapshots(*read_record(event))
        except ReplayError as err:
            dropped += 1
            if dropped <= MAX_WARNINGS:
                log.warning("%s: event %d dropped: %s", config.name, event_id, err)
            continue
        if len(snapshots[0]) != N_BORN:
            raise ValueError(f"{config.source}: event {event_id} has {len(snapshots[0])} Born partons; "
                             f"the snapshot format needs {N_BORN}")
        check_conservation(snapshots, total, tolerance, event_id)
        for k in range(1, min(k_max, len(snapshots) - 1) + 1):
            momenta[k][filled[k]] = snapshots[k]
            ids[k][filled[k]] = event_id
            filled[k] += 1
        now = time.perf_counter()
        if now - last_log >= log_interval_s:
            last_log = now
            rate = (event_id + 1) / (now - start)
            log.info("%s: %d/%d events, %.0f events/s, ETA %.0f s", config.name, event_id + 1, n_events, rate,
                     (n_events - event_id - 1) / rate)
    elapsed = time.perf_counter() - start
    log.info("%s: %d events in %.1f s (%.0f events/s), %d dropped; reached k: %s", config.name, n_events, elapsed,
             n_events / elapsed, dropped, {k: filled[k] for k in (1, 5, 10, 15, 20) if k <= k_max})
    return ShowerSnapshots(
        process=config.name, sqrt_s=config.sqrt_s, seed=seed, n_events=n_events, k_max=k_max, settings=settings,
        pythia_version=pythia_version(), tolerance=config.tolerance, n_dropped=dropped,
        momenta={k: momenta[k][: filled[k]] for k in momenta}, event_id={k: ids[k][: filled[k]] for k in ids})


def check_request(config: ShowerConfig, n_events: int, seed: int, level: str) -> None:
    """Raise ValueError unless ``n_events`` >= 1, ``seed`` >= 0 and the config is of ``level``."""
    if n_events < 1:
        raise ValueError(f"n_events = {n_events} must be >= 1")
    if seed < 0:
        raise ValueError(f"seed = {seed} must be >= 0")
    if config.level != level:
        raise ValueError(f"{config.source}: level {config.level!r}, but this generator makes {level}-level files")


def final_particles(event: pythia8mc.Event) -> tuple[np.ndarray, np.ndarray]:
    """(PDG ids [m], momenta [m, 4] as (E, px, py, pz) in GeV) of an event's final-state particles."""
    rows = [(p.id(), p.e(), p.px(), p.py(), p.pz()) for p in event if p.isFinal()]
    table = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
    return table[:, 0].astype(np.int64), table[:, 1:]


def generate_hadron_events(config: ShowerConfig, n_events: int, seed: int) -> HadronEvents:
    """Generate ``n_events`` hadron-level events: each one's visible final-state particles (module docstring)."""
    check_request(config, n_events, seed, "hadron")
    settings = pythia_settings(config, seed)
    pythia = make_pythia(settings, source=config.source)
    total, tolerance = np.array([config.sqrt_s, 0.0, 0.0, 0.0]), config.tolerance * config.sqrt_s
    ids, momenta, invisible, start = [], [], np.empty((n_events, 4)), time.perf_counter()
    for event_id, event in zip(range(n_events), events(pythia)):
        pdg, p = final_particles(event)
        check_conservation([p], total, tolerance, event_id)  # the whole final state, neutrinos included
        hidden = np.isin(np.abs(pdg), INVISIBLE)
        ids.append(pdg[~hidden])
        momenta.append(p[~hidden])
        invisible[event_id] = p[hidden].sum(axis=0)
    multiplicity = np.array([len(m) for m in ids])
    log.info("%s: %d hadron-level events in %.1f s, %.1f visible particles per event", config.name, n_events,
             time.perf_counter() - start, multiplicity.mean())
    return HadronEvents(process=config.name, sqrt_s=config.sqrt_s, seed=seed, n_events=n_events, settings=settings,
                        pythia_version=pythia_version(), tolerance=config.tolerance, momenta=np.concatenate(momenta),
                        pdg_id=np.concatenate(ids), offsets=np.concatenate([[0], np.cumsum(multiplicity)]),
                        event_id=np.arange(n_events), invisible=invisible)


def process_config_path(process: str) -> Path:
    """``configs/generator/shower/<process>.yaml`` for a process name, or ``process`` itself when it is a YAML path."""
    return generator_path(process, "shower")


def ensure_snapshots(path: str | Path, process: str, n_events: int, seed: int) -> Path:
    """The snapshot file ``path`` of ``n_events`` ``process`` events from ``seed``; generated first (as
    ``jetscale shower-generate`` would) if it does not exist.

    Sweep points that share a missing file take a lock beside it: one generates, the others wait
    and read it.  An existing file made with another process, event count or seed is an error
    naming both (a stale file would otherwise train every point on other data than the config says).
    """
    path = Path(path)
    config = load_shower_config(process_config_path(process))
    if config.level != "parton":
        raise ValueError(f"{config.source}: level {config.level!r}: the shower task trains on per-k parton "
                         f"snapshots; use a parton-level process")
    if not path.is_file():
        with exclusive_lock(path.with_name(f".{path.name}.lock")):
            if not path.is_file():
                log.info("%s missing: generating %d %s events (seed %d)", path, n_events, process, seed)
                write_snapshots(path, generate_snapshots(config, n_events, seed))
    check_provenance(path, config, n_events, seed)
    return path


def check_provenance(path: Path, config: ShowerConfig, n_events: int, seed: int) -> None:
    """Raise ValueError unless the file at ``path`` holds ``n_events`` events of ``config`` from ``seed``: its
    process name, level and every Pythia setting (so an edited config never reuses an older file)."""
    info = snapshot_info(path)
    file_seed = info.get("seed") if isinstance(info.get("seed"), int) and info["seed"] >= 0 else seed
    wanted = {"process": config.name, "level": config.level, "n_events": n_events, "seed": seed,
              "settings": pythia_settings(config, file_seed)}  # a seed that differs is named once, as seed
    differ = [key for key, value in wanted.items() if info.get(key) != value]
    if differ:
        have = ", ".join(describe(key, info.get(key), wanted[key]) for key in differ)
        want = ", ".join(describe(key, wanted[key], info.get(key)) for key in differ)
        raise ValueError(f"{path} holds {have}, but data.generate asks for {want} ({config.source}): delete the "
                         f"file to regenerate it, or set data.generate=null to use it as it is")


def describe(key: str, value, other) -> str:
    """``key=value`` for a provenance message; for ``settings`` only the lines that ``other`` lacks."""
    if key != "settings" or not isinstance(value, list) or not isinstance(other, list):
        return f"{key}={value!r}"
    return f"settings {[line for line in value if line not in other]!r}"
