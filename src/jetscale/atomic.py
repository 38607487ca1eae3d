"""Atomic file output: write to a temporary file beside the target, rename when complete.

Every stage output of jetscale (metrics, tables, shards, EFP caches, spectra) is
written this way, so a killed or failing writer never leaves a file that a later
stage would accept: at most a hidden ``.<name>.<random>.tmp`` that nothing reads.
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)


@contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s directory; on success fsync it and rename it to ``path``.

    On an exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600: give the file a plain new file's mode
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def exclusive_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if needed) for the ``with`` block.

    For jobs that may all find a deterministic input missing at once (e.g. a sweep's first points
    and the shower snapshots they share): one makes it, the others wait and then find it.  The
    lock dies with its process.  On a file system without ``flock`` the block runs unlocked with a
    warning: the writers are atomic and deterministic, so that only costs duplicated work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError as err:
            log.warning("%s: no file lock (%s); concurrent jobs may repeat this work", path, err)
        yield


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
