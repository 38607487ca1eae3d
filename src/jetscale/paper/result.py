"""What each paper figure returns: its files, its numbers and its section of the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class FigureResult:
    """One paper figure.

    ``numbers`` holds every fitted value behind the figure as plain JSON-able data (floats, lists,
    dicts; a CI is ``[lo, hi]``), written to ``numbers.json`` and read by the tests; ``markdown`` is the
    figure's section of ``report.md`` (every number with its CI); ``sweeps`` names the sweeps it read.
    """

    name: str  # file stem, e.g. "fig1_data_scaling"
    title: str
    paths: list[Path] = field(default_factory=list)
    numbers: dict = field(default_factory=dict)
    markdown: str = ""
    sweeps: list[str] = field(default_factory=list)
