"""Make shards: generate each process's jets until enough pass, interleave the classes, write atomically.

One shard holds ``jets_per_shard`` jets, the same number from every process
(top and QCD), in rows that cycle through the processes in config order
(top, QCD, top, QCD, ...), so any prefix of a shard is balanced. Each process
has its own Pythia instance, seeded from the shard's seed and its label, so a
shard depends only on ``(base_seed, shard index, settings)``: rerunning it gives
identical arrays, on any rank. After every rank is done, rank 0 checksums all
shards of the directory into ``manifest.json``.
"""

from __future__ import annotations

import functools
import json
import logging
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from jetscale.data.generate.clustering import antikt
from jetscale.data.generate.events import events, hadronic_tops, make_pythia, pythia_version
from jetscale.parallel import Ranks
from jetscale.data.generate.selection import JetCuts, in_window, pack_constituents, pt_eta_phi_m, select_jets
from jetscale.data.generate.settings import (
    GeneratorConfig,
    JetConfig,
    as_dict,
    process_seed,
    pythia_settings,
    shard_seed,
)
from jetscale.data.shards import ShardError, shard_attrs, shard_name, write_manifest, write_shard
from jetscale.paths import REPO_ROOT

log = logging.getLogger(__name__)


@dataclass
class Progress:
    """Logs jets/s and the ETA at most every ``interval_s`` seconds (never per event)."""

    total: int
    interval_s: float
    label: str
    done: int = 0
    start: float = field(default_factory=time.perf_counter)
    last_log: float = field(default_factory=time.perf_counter)

    def add(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if now - self.last_log >= self.interval_s:
            self.last_log = now
            rate = self.done / max(now - self.start, 1e-9)
            log.info("%s: %d/%d jets, %.0f jets/s, ETA %.0f s", self.label, self.done, self.total, rate,
                     (self.total - self.done) / max(rate, 1e-9))

    def rate(self) -> float:
        return self.done / max(time.perf_counter() - self.start, 1e-9)


def jet_cuts(gen: GeneratorConfig) -> JetCuts:
    return JetCuts(pt_min=gen.jet_pt_min, pt_max=gen.jet_pt_max, eta_max=gen.jet_eta_max,
                   top_match_dr=gen.top_match_dr, max_jets=gen.max_jets_per_event)


def generate_jets(gen: GeneratorConfig, process: str, n_jets: int, seed: int,
                  progress: Progress | None = None) -> dict[str, np.ndarray]:
    """``n_jets`` jets of one process, in generation order, as shard arrays."""
    spec = gen.processes[process]
    pythia = make_pythia(pythia_settings(gen, process, seed), source=f"generator.processes.{process}")
    clusterer = antikt(gen.clustering, gen.jet_r, gen.jet_pt_min)
    cuts = jet_cuts(gen)
    out = {"constituents": np.zeros((n_jets, gen.max_constituents, 4), dtype=np.float32),
           "n_constituents": np.zeros(n_jets, dtype=np.int32),
           "jet": np.zeros((n_jets, 4), dtype=np.float32),
           "label": np.full(n_jets, spec.label, dtype=np.int8)}
    filled = 0
    for event in events(pythia) if n_jets else ():
        p4 = clusterer.cluster(event)
        if not len(p4):  # no jet above pt_min
            continue
        jets = pt_eta_phi_m(p4)
        if not in_window(jets, cuts).any():  # skip reading the record
            continue
        tops = hadronic_tops(event) if spec.match_top else None
        kept = select_jets(jets, cuts, tops)[: n_jets - filled]
        for j in kept:
            out["constituents"][filled], out["n_constituents"][filled] = pack_constituents(
                clusterer.constituents(j), gen.max_constituents)
            out["jet"][filled] = jets[j]
            filled += 1
        if progress is not None:
            progress.add(len(kept))
        if filled == n_jets:
            break
    return out


def interleave(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Equal-length per-process arrays -> one set whose rows cycle through the processes."""
    return {name: np.stack([part[name] for part in parts], axis=1).reshape(-1, *parts[0][name].shape[1:])
            for name in parts[0]}


@functools.lru_cache(maxsize=1)
def git_revision() -> str:
    """``git rev-parse HEAD`` of the jetscale checkout, or "unknown" (no git, not a checkout)."""
    try:
        proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else "unknown"


def shard_settings(config: JetConfig, shard: int) -> tuple[int, dict]:
    """The shard's seed and its ``settings`` attribute: the config, the seeds and the exact Pythia strings."""
    gen = config.generator
    seed = shard_seed(gen.base_seed, shard)
    seeds = {name: process_seed(seed, spec.label) for name, spec in gen.processes.items()}
    return seed, {"shard": shard, "config": as_dict(config), "process_seeds": seeds,
                  "pythia": {name: pythia_settings(gen, name, seeds[name]) for name in gen.processes}}


def generate_shard(config: JetConfig, shard: int, out_dir: str | Path, label: str | None = None) -> Path:
    """Generate shard ``shard`` and write ``<out_dir>/shard-<i>.h5`` (atomically)."""
    gen = config.generator
    seed, settings = shard_settings(config, shard)
    per_process = gen.jets_per_shard // len(gen.processes)
    progress = Progress(total=gen.jets_per_shard, interval_s=gen.log_interval_s, label=label or f"shard {shard}")
    parts = [generate_jets(gen, name, per_process, settings["process_seeds"][name], progress)
             for name in gen.processes]
    attrs = {"generator": "pythia8", "generator_version": pythia_version(), "seed": seed,
             "settings": settings, "git_revision": git_revision()}
    path = write_shard(Path(out_dir) / shard_name(shard), interleave(parts), attrs)
    log.info("wrote %s: %d jets, %.0f jets/s", path, gen.jets_per_shard, progress.rate())
    return path


NOT_CONTENT = ("output_root", "n_shards", "log_interval_s")  # generator keys that do not change a shard's jets


def is_current(path: Path, settings: dict) -> bool:
    """Whether ``path`` is a complete shard whose jets these settings would reproduce."""
    if not path.exists():
        return False

    def content(s: dict) -> dict:
        s = json.loads(json.dumps(s, sort_keys=True))
        for key in NOT_CONTENT:
            s.get("config", {}).get("generator", {}).pop(key, None)
        return s

    try:
        return content(shard_attrs(path).get("settings", {})) == content(settings)
    except ShardError:  # unreadable: make it again
        return False


def generate(config: JetConfig, shards: list[int], out_dir: str | Path, ranks: Ranks | None = None,
             manifest: bool = True, skip_existing: bool = False) -> list[Path]:
    """This rank's share of ``shards``; then, once every rank succeeded, rank 0 writes the manifest.

    A failure on any rank leaves no manifest; the shards already written are complete.
    """
    out_dir, ranks = Path(out_dir), ranks or Ranks()
    mine = ranks.share(shards)
    written, error = [], None
    try:
        for k, shard in enumerate(mine):
            path = out_dir / shard_name(shard)
            if skip_existing and is_current(path, shard_settings(config, shard)[1]):
                log.info("%s exists with the same settings; skipped", path)
                continue
            label = f"shard {shard} ({k + 1}/{len(mine)} of rank {ranks.rank}/{ranks.size})"
            written.append(generate_shard(config, shard, out_dir, label))
    except Exception as err:  # every rank must still reach the collective below
        if ranks.comm is None:
            raise
        log.error("rank %d failed: %s", ranks.rank, err)
        error = err
    if not ranks.all_succeeded(error is None):
        raise error or RuntimeError(f"another rank failed; no manifest written in {out_dir}")
    if manifest and ranks.rank == 0:
        log.info("wrote %s", write_manifest(out_dir))
    return written
