"""Library messages that say nothing about a run, kept out of training logs; the one place they are listed."""

from __future__ import annotations

import logging
import re
import warnings

# (category, message regex) of warnings that never mean a problem with a jetscale run.
HARMLESS_WARNINGS = [
    (FutureWarning, r"`isinstance\(treespec, LeafSpec\)` is deprecated"),  # torch 2.13 deprecation, Lightning's use
]
# (logger, message regex) of library log lines that are advertisements or say what jetscale chose on purpose.
HARMLESS_LOG_LINES = [
    ("lightning.pytorch.utilities.rank_zero", r"^💡 Tip:"),  # the LitLogger advertisement of every Trainer
    ("lightning.pytorch.trainer.connectors.checkpoint_connector", r"^`weights_only` was not set"),  # every save
]


class DropMatching(logging.Filter):
    def __init__(self, pattern: str):
        super().__init__()
        self.pattern = re.compile(pattern)

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.pattern.search(record.getMessage())


def quiet_harmless() -> None:
    """Install the filters (idempotent)."""
    for category, message in HARMLESS_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
    for name, pattern in HARMLESS_LOG_LINES:
        logger = logging.getLogger(name)
        if not any(isinstance(f, DropMatching) and f.pattern.pattern == pattern for f in logger.filters):
            logger.addFilter(DropMatching(pattern))
