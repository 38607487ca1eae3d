"""Which code made a result: the git revision of a source tree, for every run's metrics.

:func:`git_revision` gives the commit hash of the checkout that holds ``path``,
with ``+dirty`` appended when tracked files differ from that commit (staged or
not; untracked files do not count), or ``"unknown"`` when ``path`` is not in a
git checkout, git is missing or slow (``timeout_s``), or anything else fails:
provenance never stops a run.  git runs read-only (``--no-optional-locks``:
no index refresh), so it never competes with someone working in the checkout.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

UNKNOWN = "unknown"
PACKAGE_DIR = Path(__file__).resolve().parent


def _git(path: Path, *args: str, timeout_s: float) -> str:
    done = subprocess.run(["git", "--no-optional-locks", "-C", str(path), *args], capture_output=True, text=True,
                          timeout=timeout_s, check=True)
    return done.stdout.strip()


def git_revision(path: str | Path = PACKAGE_DIR, timeout_s: float = 5.0) -> str:
    """``<commit>``, ``<commit>+dirty`` or ``"unknown"`` for the git checkout holding ``path``."""
    try:
        commit = _git(Path(path), "rev-parse", "--verify", "HEAD", timeout_s=timeout_s)
        changed = _git(Path(path), "status", "--porcelain", "--untracked-files=no", timeout_s=timeout_s)
    except (OSError, subprocess.SubprocessError, ValueError):
        return UNKNOWN
    return f"{commit}+dirty" if changed else commit
