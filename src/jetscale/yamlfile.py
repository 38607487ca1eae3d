"""Reading the project's YAML files (sweeps, paper scales, generator and facility settings) with errors that name
the file, line and column."""

from __future__ import annotations

from pathlib import Path

import yaml


class YAMLFileError(ValueError):
    """A YAML file that does not parse; the message names the file, line and column."""


def read_yaml(path: str | Path):
    """The parsed contents of ``path``; :class:`YAMLFileError` ``<file>:<line>:<column>: <problem>`` if invalid."""
    path = Path(path)
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(err, "problem", None) or str(err)
        context = getattr(err, "context", None)
        raise YAMLFileError(f"{where}: invalid YAML: {problem}" + (f" ({context})" if context else "")) from None
