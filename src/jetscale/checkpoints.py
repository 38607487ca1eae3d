"""A run's checkpoints: which one to resume from, and checkpoint-then-stop when the scheduler says so.

:func:`resumable_checkpoint` gives ``last.ckpt`` when it loads, carries this run's fingerprint
(:mod:`jetscale.identity`, written by :class:`RecordIdentity`) and has not trained past ``trainer.max_steps``;
otherwise the checkpoints are set aside (``*.stale-``/``*.corrupt-<UTC time>``) and the point starts afresh.
:class:`AtomicCheckpointIO` writes by rename, :class:`RandomState` carries the random states, and
:class:`StopOnSignal` saves ``last.ckpt`` and stops on SIGTERM/SIGUSR1 or past ``JETSCALE_DEADLINE``
(then :data:`PREEMPTED_EXIT` = 75, no metrics file). The guarantees: docs/resuming.md.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from jetscale.atomic import atomic_output
from jetscale.identity import IDENTITY_VERSION, RunIdentity, differences

log = logging.getLogger(__name__)

PREEMPTED_EXIT = 75  # EX_TEMPFAIL: try again
STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)
LAST = "last.ckpt"
DEADLINE_ENV = "JETSCALE_DEADLINE"
IDENTITY_KEY = "jetscale_identity"  # the checkpoint's record of the run it belongs to (RecordIdentity)


class Preempted(SystemExit):
    """Training stopped on a signal after saving its checkpoint; exit status :data:`PREEMPTED_EXIT`."""

    def __init__(self, reason: str, step: int, checkpoint: Path):
        super().__init__(PREEMPTED_EXIT)
        self.message = f"stopped by {reason} at step {step}; checkpoint {checkpoint}; rerun the point to resume"


def deadline_from_env(environ=os.environ, slurm_end_time=None) -> float | None:
    """When training must stop and save (unix seconds), or None.

    ``JETSCALE_DEADLINE`` if set (the PBS job scripts set it); else, inside a Slurm job, the job's end
    time less ``JETSCALE_DEADLINE_MARGIN_S`` (default 300 s). Slurm's ``--signal=USR1@T`` does the same
    job, but for a single-process point it also kills the Snakemake around it, and where Slurm tracks
    processes by cgroup the checkpoint then races a SIGKILL; the deadline needs no signal.
    ``slurm_end_time`` replaces the squeue query (tests).
    """
    raw = environ.get(DEADLINE_ENV, "").strip()
    if raw:
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"{DEADLINE_ENV}={raw!r} is not a time in unix seconds (e.g. $(date +%s) + walltime)"
                             ) from None
    job_id = environ.get("SLURM_JOB_ID")
    if not job_id:
        return None
    end = (slurm_end_time or _slurm_end_time)(job_id)
    return None if end is None else end - float(environ.get("JETSCALE_DEADLINE_MARGIN_S", 300))


def _slurm_end_time(job_id: str) -> float | None:
    """The job's end time from squeue (local time, e.g. 2026-11-26T02:10:00); None if unknown or unlimited."""
    import subprocess
    from datetime import datetime

    try:
        done = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%e"], capture_output=True, text=True, timeout=30)
        return datetime.fromisoformat(done.stdout.strip()).timestamp()
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def resumable_checkpoint(path: Path, identity: RunIdentity, revision: str, is_rank_zero: bool = True) -> Path | None:
    """``path`` if it exists, loads and belongs to the run ``identity``; else None, after rank 0 set the
    run's checkpoints aside (:func:`set_aside`) with a warning saying why.  ``revision`` is this code's git
    revision: a checkpoint of another is resumed with a warning."""
    if not path.exists():
        return None
    try:
        checkpoint = torch.load(path, map_location="cpu", mmap=True, weights_only=False)
    except Exception as err:  # noqa: BLE001 - any unreadable file means "start afresh"
        reason, kind = f"it is unreadable ({str(err).splitlines()[0]})", "corrupt"
    else:
        reason, kind = stale_reason(checkpoint, identity), "stale"
    if reason is None:
        made_by = checkpoint[IDENTITY_KEY].get("git_revision")
        if is_rank_zero and made_by != revision:  # same config, other code: resumed, but never silently
            log.warning("resuming %s, made by jetscale %s; this is jetscale %s: if the change touched the model, "
                        "the data or the training loop, delete the checkpoint to retrain the point with one code",
                        path, made_by, revision)
        return path
    if is_rank_zero:
        aside = set_aside(path, kind)
        log.warning("not resuming from %s: %s. Kept as %s; starting this point afresh", path, reason, aside.name)
    return None


def stale_reason(checkpoint: dict, identity: RunIdentity) -> str | None:
    """Why ``checkpoint`` is not a state of the run ``identity`` (None: it is)."""
    recorded = checkpoint.get(IDENTITY_KEY)
    if not isinstance(recorded, dict) or "fingerprint" not in recorded:
        return "it records no config fingerprint (made before jetscale checked checkpoint identities)"
    if recorded.get("version") != IDENTITY_VERSION:
        return (f"its config fingerprint is of version {recorded.get('version')}, "
                f"this jetscale writes {IDENTITY_VERSION}")
    if recorded["fingerprint"] != identity.fingerprint:
        changed = differences(recorded.get("config", {}), identity.config)
        return "it was made with another config (" + "; ".join(changed or ["fingerprints differ"]) + ")"
    step = int(checkpoint.get("global_step", 0))
    if step > identity.max_steps:
        return f"it has trained {step} steps, more than this run's budget of {identity.max_steps} (trainer.max_steps)"
    return None


def set_aside(path: Path, kind: str) -> Path:
    """Rename ``path`` to ``<name>.<kind>-<UTC time>``, and the run's other checkpoints (best.ckpt) with it."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for other in path.parent.glob("*.ckpt"):
        if other != path:
            other.replace(other.with_name(f"{other.name}.{kind}-{stamp}"))
    aside = path.with_name(f"{path.name}.{kind}-{stamp}")
    path.replace(aside)
    return aside


class RecordIdentity(L.Callback):
    """Writes the run's identity (:mod:`jetscale.identity`) into every checkpoint it saves, with the git
    revision of the code (not part of the identity: a resume under other code is allowed, with a warning)."""

    def __init__(self, identity: RunIdentity, revision: str):
        self.record = {**identity.record(), "git_revision": revision}

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        checkpoint[IDENTITY_KEY] = self.record


class AtomicCheckpointIO(TorchCheckpointIO):
    """Each checkpoint is written to a temporary file beside its final name, fsynced and renamed
    (:func:`jetscale.atomic.atomic_output`): a kill at any moment leaves the previous file whole."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options, got {storage_options!r}")
        with atomic_output(path) as tmp:
            torch.save(checkpoint, tmp)


class RandomState(L.Callback):
    """Saves the global random states with each checkpoint and restores them on resume."""

    def state_dict(self) -> dict:  # plain values and tensors: checkpoints load with weights_only
        name, keys, position, has_gauss, cached = np.random.get_state()
        return {"python": random.getstate(), "numpy": [name, keys.tolist(), position, has_gauss, cached],
                "torch": torch.get_rng_state()}

    def load_state_dict(self, state: dict) -> None:
        random.setstate(state["python"])
        name, keys, position, has_gauss, cached = state["numpy"]
        np.random.set_state((name, np.array(keys, dtype=np.uint32), position, has_gauss, cached))
        torch.set_rng_state(state["torch"])


class StopOnSignal(L.Callback):
    """Stop all ranks after a stop signal or past ``deadline``; save ``checkpoint`` when training ends, either way.

    One process acts at the end of the step during which the signal came: it
    lowers the trainer's ``max_steps`` to this step, so the step ends as any
    last step does (with its validation if one is scheduled) and no more.
    ``trainer.should_stop`` would also end it, but Lightning then runs an
    unscheduled validation, which would move early stopping and the
    best-validation checkpoint away from what the uninterrupted run does.  Under
    DDP the ranks agree (an all-reduce: a signal seen by any rank stops all)
    every ``sync_every`` steps, not every step: the all-reduce costs ~2 ms on
    CPU/gloo, and a scheduler's warning (e.g. ``--signal=USR1@120``) leaves time
    for a few more steps.
    """

    def __init__(self, checkpoint: Path, signals: tuple[int, ...] = STOP_SIGNALS, sync_every: int = 10,
                 deadline: float | None = None):
        self.checkpoint, self.signals, self.sync_every = Path(checkpoint), signals, max(1, sync_every)
        self.deadline = deadline
        self.reason: str | None = None  # what asked this process to stop: a signal's name or the deadline
        self.stopped_at: int | None = None
        self._previous: dict[int, object] = {}

    def _note(self, signum, frame) -> None:
        self.reason = signal.Signals(signum).name

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # After Lightning's own handlers are installed, so these replace its SIGTERM handling.
        for signum in self.signals:
            self._previous[signum] = signal.signal(signum, self._note)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if self.reason is None and self.deadline is not None and time.time() >= self.deadline:
            self.reason = f"{DEADLINE_ENV}={self.deadline:.0f}"
        stop = self.reason is not None
        if trainer.world_size > 1:  # a signal seen by any rank stops all of them at the same step
            if trainer.global_step % self.sync_every:
                return
            stop = trainer.strategy.reduce_boolean_decision(stop, all=False)
        if stop:
            trainer.fit_loop.epoch_loop.max_steps = trainer.global_step  # trainer.max_steps; on_train_end saves
            self.stopped_at = trainer.global_step
            self.reason = self.reason or "another rank's stop"  # a rank that saw nothing itself

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        trainer.save_checkpoint(self.checkpoint)
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def raise_if_stopped(self) -> None:
        if self.stopped_at is not None:
            raise Preempted(self.reason, self.stopped_at, self.checkpoint)
