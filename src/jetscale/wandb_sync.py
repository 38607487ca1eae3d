"""``jetscale sync-wandb``: upload the offline Weights & Biases runs of finished sweeps.

    jetscale sync-wandb [RESULTS_DIR ...] [--dry-run]      # default: results/

Compute nodes have no network, so ``logger=wandb`` runs offline there
(``configs/logger/wandb.yaml``: ``mode: ${oc.env:WANDB_MODE,offline}``) and each
attempt of a point leaves ``<run_dir>/wandb/offline-run-<time>-<id>/run-<id>.wandb``.
On a login node, after ``wandb login``, this command finds those directories below
the given results dirs and uploads them with ``wandb sync``; wandb marks an uploaded
run with ``run-<id>.wandb.synced`` beside its ``.wandb`` file, and marked runs are
skipped, so running it again uploads only what is new.  W&B is optional: without it
(``pip install 'jetscale[wandb]'``) only ``--dry-run`` works.
"""

from __future__ import annotations

import argparse
import importlib.util
import netrc
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import getproxies

DEFAULT_BASE_URL = "https://api.wandb.ai"
LOGIN_HINT = "run `jetscale sync-wandb` on a login node (a machine with network) after `wandb login`"
INSTALL_HINT = "pip install 'jetscale[wandb]'"
PATHS_PER_CALL = 100  # `wandb sync` paths per call: keeps the argv short on sweeps of thousands of runs


@dataclass
class SyncPlan:
    """Offline runs found below some results dirs: those still to upload and those already synced."""

    pending: list[Path] = field(default_factory=list)
    synced: list[Path] = field(default_factory=list)


def find_offline_runs(results_dirs: list[str | Path]) -> list[Path]:
    """Every ``offline-run-*`` directory holding a ``.wandb`` file below ``results_dirs``, sorted, no duplicates.

    A results dir may also be one run's dir, its ``wandb/`` dir or an ``offline-run-*`` dir itself.
    """
    runs = {}
    for root in map(Path, results_dirs):
        if not root.is_dir():
            raise FileNotFoundError(f"results dir {root} does not exist")
        candidates = [root] if root.name.startswith("offline-run-") else root.glob("**/offline-run-*")
        for run in candidates:
            if run.is_dir() and any(run.glob("*.wandb")):
                runs.setdefault(run.resolve(), run)
    return sorted(runs.values())


def is_synced(run: Path) -> bool:
    """Whether wandb marked every ``.wandb`` file of ``run`` as uploaded (``<file>.wandb.synced``)."""
    return all(f.with_suffix(".wandb.synced").exists() for f in run.glob("*.wandb"))


def plan_sync(results_dirs: list[str | Path]) -> SyncPlan:
    plan = SyncPlan()
    for run in find_offline_runs(results_dirs):
        (plan.synced if is_synced(run) else plan.pending).append(run)
    return plan


def wandb_command() -> list[str]:
    """The ``wandb`` CLI: the executable on PATH, else ``python -m wandb``; a clear error when not installed."""
    found = shutil.which("wandb")
    if found:
        return [found]
    if importlib.util.find_spec("wandb") is None:
        raise RuntimeError(f"Weights & Biases is not installed: {INSTALL_HINT}")
    return [sys.executable, "-m", "wandb"]


def base_url() -> str:
    return os.environ.get("WANDB_BASE_URL") or DEFAULT_BASE_URL


def credentials_found(url: str) -> bool:
    """An API key in the environment, or a ``wandb login`` entry in ~/.netrc (or $NETRC) for ``url``'s host."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    path = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
    try:
        return netrc.netrc(path).authenticators(urlsplit(url).hostname or "") is not None
    except (OSError, netrc.NetrcParseError):
        return False


def reachable(url: str, timeout: float = 10.0) -> bool:
    """Whether a TCP connection to the W&B server (or the HTTPS proxy, when one is set) opens."""
    target = urlsplit(getproxies().get("https") or url)
    port = target.port or (443 if target.scheme == "https" else 80)
    try:
        with socket.create_connection((target.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def check_can_upload(url: str) -> None:
    """Fail before any upload, naming what to do, when there is no login or no network."""
    if not credentials_found(url):
        raise RuntimeError(f"no W&B credentials for {url} (no WANDB_API_KEY, no ~/.netrc entry): {LOGIN_HINT}")
    if not reachable(url):
        raise RuntimeError(f"cannot reach {url} (no network here?): {LOGIN_HINT}")


def upload(runs: list[Path], wandb: list[str]) -> tuple[list[Path], str]:
    """``wandb sync`` the runs; return those wandb did not mark as synced, and the output of the failed calls."""
    env = {k: v for k, v in os.environ.items() if k != "WANDB_MODE"}  # envs/*.sh set offline; uploading is online
    errors = []
    for start in range(0, len(runs), PATHS_PER_CALL):
        chunk = runs[start:start + PATHS_PER_CALL]
        proc = subprocess.run([*wandb, "sync", *map(str, chunk)], capture_output=True, text=True, env=env)
        if proc.returncode != 0 or not all(map(is_synced, chunk)):
            errors.append(f"`wandb sync` exited {proc.returncode}:\n{(proc.stdout or '')}{(proc.stderr or '')}".strip())
    return [run for run in runs if not is_synced(run)], "\n".join(errors)


def sync_wandb(results_dirs: list[str | Path], dry_run: bool = False) -> int:
    """Find, report and (unless ``dry_run``) upload the offline runs; raise RuntimeError when uploads fail."""
    plan = plan_sync(results_dirs)
    found = f"{len(plan.pending) + len(plan.synced)} offline W&B run(s) in {', '.join(map(str, results_dirs))}"
    print(f"{found}: {len(plan.synced)} already synced, {len(plan.pending)} to upload")
    if dry_run:
        for run in plan.pending:
            print(f"would upload {run}")
        return 0
    if not plan.pending:
        return 0
    wandb = wandb_command()
    check_can_upload(base_url())
    failed, errors = upload(plan.pending, wandb)
    print(f"uploaded {len(plan.pending) - len(failed)}, skipped {len(plan.synced)} already synced, "
          f"failed {len(failed)}")
    if failed:
        tail = errors[-2000:]
        raise RuntimeError(f"{len(failed)} run(s) not uploaded (first: {failed[0]}); {LOGIN_HINT}\n{tail}")
    return 0


def cmd_sync_wandb(args: argparse.Namespace) -> int:
    return sync_wandb(args.results_dirs or ["results"], dry_run=args.dry_run)


def register(subparsers) -> argparse.ArgumentParser:
    """Add ``jetscale sync-wandb [RESULTS_DIR ...] [--dry-run]``."""
    p = subparsers.add_parser(
        "sync-wandb", help="upload offline W&B runs below results dirs (on a login node, after `wandb login`)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results_dirs", nargs="*", metavar="RESULTS_DIR", help="where to look (default: results)")
    p.add_argument("--dry-run", action="store_true", help="list the runs to upload; upload nothing")
    p.set_defaults(func=cmd_sync_wandb)
    return p
