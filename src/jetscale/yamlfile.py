"""Reading the YAML files a user writes (sweeps, paper scales, generator and shower-process settings, PBS
facilities) and validating them against their JSON schema in ``workflow/schemas/<kind>.schema.yaml``, with
errors that name the file, the key and the value (or the line and column of invalid YAML)."""

from __future__ import annotations

import functools
from pathlib import Path

import jsonschema
import yaml

from jetscale.paths import SCHEMA_DIR


class YAMLFileError(ValueError):
    """A YAML file that does not parse or does not match its schema; the message names the file and the key."""


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


def schema_path(kind: str) -> Path:
    """``workflow/schemas/<kind>.schema.yaml``, or ``kind`` itself when it is a path to a .yaml file."""
    return Path(kind) if str(kind).endswith((".yaml", ".yml")) else SCHEMA_DIR / f"{kind}.schema.yaml"


@functools.cache
def _validator(schema: Path) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(yaml.safe_load(schema.read_text()))


def key_path(path) -> str:
    """``["axes", "n_samples", 1]`` -> ``axes.n_samples[1]`` (the top level: ``<top level>``)."""
    parts = [f"[{p}]" if isinstance(p, int) else f".{p}" for p in path]
    return "".join(parts).lstrip(".") or "<top level>"


def validate(data, kind: str | Path, source: str | Path) -> None:
    """Check ``data`` (read from ``source``) against the schema of ``kind``; one :class:`YAMLFileError` listing
    every problem as ``<key>: <what is wrong with its value>``."""
    errors = sorted(_validator(schema_path(str(kind))).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [line for e in errors for line in _problems(e)]
        raise YAMLFileError(f"invalid {Path(str(kind)).name.split('.')[0]} config {source}:\n" + "\n".join(lines))


def _problems(error: jsonschema.ValidationError) -> list[str]:
    """``  <key>: <problem>`` lines of one error; an unknown key is named itself, with the keys allowed there."""
    where = list(error.absolute_path)
    if error.validator == "additionalProperties" and error.schema.get("additionalProperties") is False:
        allowed = list(error.schema.get("properties", {}))
        return [f"  {key_path([*where, key])}: unknown key (allowed: {', '.join(allowed)})"
                for key in error.instance if key not in allowed]
    return [f"  {key_path(where)}: {error.message}"]


def read_validated(path: str | Path, kind: str | Path):
    """The contents of YAML file ``path`` (an empty file: ``{}``), checked against the schema of ``kind``
    (``sweep``, ``paper``, ``generator``, ``shower``, ``facility``); :class:`YAMLFileError` if unreadable or
    invalid."""
    data = read_yaml(path)
    data = {} if data is None else data
    validate(data, kind, path)
    return data
