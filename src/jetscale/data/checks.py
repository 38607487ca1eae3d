"""Checks of a datamodule's config values, raising errors that name the ``data.<key>`` to fix."""

from __future__ import annotations


def is_integer_at_least(value, least: int) -> bool:
    """Whether ``value`` is an integer (a whole float such as 2.0 counts) >= ``least``."""
    try:
        return int(value) == value and value >= least
    except (TypeError, ValueError, OverflowError):  # None, a string, nan, inf
        return False


def require_integers(*checks: tuple[str, object, int]) -> None:
    """ValueError naming ``data.<key>`` for the first ``(key, value, least)`` whose value is not an integer
    >= ``least``."""
    for key, value, least in checks:
        if not is_integer_at_least(value, least):
            raise ValueError(f"data.{key} must be an integer >= {least}, got {value!r}")


def global_batch(batch_size, n_train: int) -> int:
    """The global batch of a datamodule: ``batch_size`` (an integer >= 1), or the whole training set when it
    is None (full batch); ValueError naming ``data.batch_size`` otherwise."""
    if batch_size is None:
        return n_train
    if not is_integer_at_least(batch_size, 1):
        raise ValueError(f"data.batch_size must be an integer >= 1 or null (full batch), got {batch_size!r}")
    return int(batch_size)
