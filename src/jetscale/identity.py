"""What a training run computes, as a fingerprint a checkpoint carries (pure functions, no I/O).

A run's *identity* is its resolved training config, flattened to dotted keys,
without the keys listed under ``resume.ignore`` and ``resume.growable`` in
``configs/train.yaml``:

* ``ignore``: keys that cannot change the numbers a point computes (where and
  how it is launched, what it logs, how often it checkpoints);
* ``growable``: the training budget (``trainer.max_steps``, ``compute``).  The
  first steps of a run do not depend on how many follow, so a checkpoint
  resumes under a larger budget; one that has trained past the new budget does
  not (:func:`jetscale.checkpoints.stale_reason`).

Two configs with the same identity train the same model on the same data, so a
checkpoint of one is a valid state of the other.  Secrets are redacted before
anything is hashed or recorded (:mod:`jetscale.redaction`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

IDENTITY_VERSION = 1  # bump when what the fingerprint covers changes: older checkpoints then start afresh
ABSENT = "(absent)"


def flatten(config: dict, prefix: str = "") -> dict[str, object]:
    """``{"a": {"b": 1}, "c": [1, 2]}`` -> ``{"a.b": 1, "c": [1, 2]}`` (lists are values)."""
    flat: dict[str, object] = {}
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def _under(key: str, prefixes: list[str]) -> bool:
    return any(key == p or key.startswith(f"{p}.") for p in prefixes)


@dataclass(frozen=True)
class RunIdentity:
    """The keys that decide what a run computes (flat, JSON values) and its step budget."""

    config: dict[str, object]
    max_steps: int

    @property
    def fingerprint(self) -> str:
        payload = json.dumps([IDENTITY_VERSION, self.config], sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()

    def record(self) -> dict:
        """What a checkpoint stores: the fingerprint, and the keys, to name what changed later."""
        return {"version": IDENTITY_VERSION, "fingerprint": self.fingerprint, "config": self.config}


def run_identity(resolved: dict, ignore: list[str], growable: list[str], max_steps: int) -> RunIdentity:
    """The identity of a resolved (and redacted) config; ``resume`` itself never counts."""
    excluded = [*ignore, *growable, "resume"]
    return RunIdentity({k: v for k, v in flatten(resolved).items() if not _under(k, excluded)}, int(max_steps))


def differences(recorded: dict, current: dict, limit: int = 8) -> list[str]:
    """``key: old -> new`` for every key whose value differs (at most ``limit``, then a count)."""
    changed = [f"{key}: {_show(recorded.get(key, ABSENT))} -> {_show(current.get(key, ABSENT))}"
               for key in sorted(set(recorded) | set(current))
               if recorded.get(key, ABSENT) != current.get(key, ABSENT)]
    if len(changed) > limit:
        changed = [*changed[:limit], f"... and {len(changed) - limit} more"]
    return changed


def _show(value) -> str:
    return value if value == ABSENT else json.dumps(value, default=str)
