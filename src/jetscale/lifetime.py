"""A training point's lifetime: one trainer per run dir, and none outliving the Snakemake that started it.

:class:`PointLifetime` (a Hydra callback of ``configs/train.yaml``), before ``jetscale train`` writes anything:
:func:`hold_point` takes an exclusive ``flock`` on ``<run_dir>/train.lock`` (a second trainer exits
:data:`POINT_BUSY_EXIT`, 73), :func:`die_with_snakemake` sends SIGTERM once the nearest Snakemake above is gone,
and :func:`start_attempt` records each attempt in ``<run_dir>/attempts.json``. :func:`live_holder` says who
holds a point. Guarantees and limits: docs/resuming.md#one-trainer-per-point.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from jetscale.processes import nearest_snakemake, start_time
from jetscale.results import write_json_atomic

log = logging.getLogger(__name__)
LOCK_NAME = "train.lock"
ATTEMPTS = "attempts.json"
POINT_BUSY_EXIT = 73  # another live trainer holds this point (EX_CANTCREAT: cannot create the output)


class PointBusy(SystemExit):
    """Another live process trains this point; exit status :data:`POINT_BUSY_EXIT`."""

    def __init__(self, run_dir: Path, holder: dict):
        super().__init__(POINT_BUSY_EXIT)
        self.message = (f"{run_dir} is being trained by PID {holder.get('pid', '?')} on {holder.get('host', '?')} "
                        f"(since {holder.get('since', '?')}); this trainer exits ({POINT_BUSY_EXIT}) without touching "
                        "it. Let that one finish (jetscale resume --wait) or stop it first.")


def read_holder(path: Path) -> dict:
    """The holder record of a lock file ({} when empty or half-written)."""
    try:
        holder = json.loads(path.read_text() or "{}")
    except (OSError, json.JSONDecodeError):
        return {}
    return holder if isinstance(holder, dict) else {}


@contextmanager
def hold_point(run_dir: str | Path, wait_s: float = 1.0) -> Iterator[None]:
    """Hold ``run_dir``'s lock for the block; :class:`PointBusy` if another process keeps it ``wait_s``."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_NAME
    with open(path, "a+") as handle:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise PointBusy(run_dir, read_holder(path)) from None
                time.sleep(0.1)
            except OSError as err:  # no flock here (some network file systems)
                log.warning("%s: no file lock (%s); nothing stops a second trainer of this point", path, err)
                break
        handle.seek(0)
        handle.truncate()
        json.dump({"pid": os.getpid(), "host": socket.gethostname(),
                   "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   "command": " ".join(sys.argv)}, handle)
        handle.flush()
        yield


def live_holder(run_dir: str | Path) -> dict | None:
    """The record of the process that holds ``run_dir``'s lock now; None when nobody does."""
    path = Path(run_dir) / LOCK_NAME
    try:
        handle = open(path, "r+")
    except FileNotFoundError:
        return None
    except OSError as err:  # e.g. another user's run dir: say so rather than guess
        return {"pid": "?", "host": "?", "since": f"unknown ({err.strerror} on {path})"}
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return read_holder(path) or {"pid": "?", "host": "?"}
        except OSError:
            return None  # no flock here: nobody can hold it either
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


def _read_attempts(path: Path) -> list[dict]:
    try:
        records = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return []
    return records if isinstance(records, list) else []


def start_attempt(run_dir: str | Path, heartbeat_s: float = 10.0) -> threading.Thread:
    """Append this attempt to ``<run_dir>/attempts.json`` and keep its ``end`` current (call it holding the lock)."""
    path = Path(run_dir) / ATTEMPTS
    now = time.time()
    records = [*_read_attempts(path), {"host": socket.gethostname(), "pid": os.getpid(), "start": now, "end": now}]
    write_json_atomic(path, records)

    def beat() -> None:
        while True:
            time.sleep(heartbeat_s)
            records[-1]["end"] = time.time()
            write_json_atomic(path, records)

    thread = threading.Thread(target=beat, name="attempt-heartbeat", daemon=True)
    thread.start()
    return thread


def previous_attempts(run_dir: str | Path) -> tuple[int, float]:
    """(count, wall seconds) of the attempts at this point before this process's own."""
    me = (socket.gethostname(), os.getpid())
    earlier = [r for r in _read_attempts(Path(run_dir) / ATTEMPTS) if (r.get("host"), r.get("pid")) != me]
    return len(earlier), sum(max(0.0, float(r["end"]) - float(r["start"])) for r in earlier)


def die_with_snakemake(poll_s: float = 1.0) -> threading.Thread | None:
    """Watch the nearest Snakemake above this process; SIGTERM this process when it is gone.

    Returns the watching thread (None: no Snakemake started this process)."""
    parent = nearest_snakemake()
    if parent is None:
        return None
    born = start_time(parent.pid)

    def watch() -> None:
        while start_time(parent.pid) == born:  # a reused PID has another start time
            time.sleep(poll_s)
        log.warning("the Snakemake that started this point (PID %d) is gone: stopping", parent.pid)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=watch, name="die-with-snakemake", daemon=True)
    thread.start()
    return thread


class PointLifetime(Callback):
    """Hydra callback of ``jetscale train``: lock the run dir (first process only) and follow Snakemake."""

    def __init__(self, wait_s: float = 1.0, heartbeat_s: float = 10.0):
        self.wait_s, self.heartbeat_s = wait_s, heartbeat_s
        self._held = ExitStack()

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        from jetscale.launch import is_first_process  # Lightning's environments: only where a trainer starts

        run_dir = Path(str(config.hydra.run.dir))
        if is_first_process():
            try:
                self._held.enter_context(hold_point(run_dir, self.wait_s))
            except PointBusy as busy:
                print(f"jetscale train: {busy.message}", file=sys.stderr, flush=True)
                raise
            start_attempt(run_dir, self.heartbeat_s)
        die_with_snakemake()
        print(f"jetscale train: run dir {run_dir}", flush=True)

    def on_run_end(self, config: DictConfig, **kwargs) -> None:
        self._held.close()
