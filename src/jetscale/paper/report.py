"""``report.md`` and ``numbers.json`` from the figures' numbers files (:mod:`jetscale.paper.figures`): every
figure's numbers with the sweeps and git revisions behind them, and how numbers are written.

``report.md``: a title with the scale, the date and the paper config file; a table of the sweeps read
(runs, git revision(s) from the table's ``git_revision`` column, "unknown" when the column or a value
is missing) with a warning line for every sweep that mixes revisions, was run from a dirty work tree
("+dirty") or has runs of unknown revision; then one section per figure, titled "Figure i: <title>" (its
PNG embedded by relative path, a link to the PDF, its text from its numbers -- less a leading heading of
its own -- and the sweeps it read with their revisions).

``numbers.json``::

    {"scale": "small", "config": "configs/paper/small.yaml", "generated": "2025-01-31T12:00:00+00:00",
     "sweeps":  {sweep: {"table": path, "runs": int, "git_revisions": [...], "warnings": [...]}},
     "figures": {figure name: {"title": str, "files": [file names], "sweeps": [...],
                               "numbers": the numbers file's "numbers"}}}

Non-finite floats are written as null (JSON has no NaN). Both files are written atomically.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd


from jetscale.atomic import atomic_output
from jetscale.formatting import md_table
from jetscale.results import write_json_atomic

UNKNOWN = "unknown"
DIRTY = "+dirty"


# ------------------------------------------------------------------ provenance

def git_revisions(table: pd.DataFrame) -> list[str]:
    """Distinct ``git_revision`` values of a table, sorted; "unknown" for a missing column or value."""
    if "git_revision" not in table.columns:
        return [UNKNOWN] if len(table) else []
    values = table["git_revision"].astype("string").fillna(UNKNOWN).str.strip().replace("", UNKNOWN)
    return sorted(set(values))


def revision_warnings(revisions: list[str]) -> list[str]:
    """What a reader must know about a sweep's revisions (mixed, dirty, unknown)."""
    warnings = []
    if len(revisions) > 1:
        warnings.append(f"mixes {len(revisions)} git revisions: its runs were not all made by the same code")
    if any(r.endswith(DIRTY) for r in revisions):
        warnings.append("was run from a work tree with uncommitted changes (+dirty): the code is not recoverable "
                        "from the revision alone")
    if UNKNOWN in revisions:
        warnings.append("has runs of unknown git revision")
    return warnings


def sweep_provenance(tables: Mapping[str, pd.DataFrame]) -> dict:
    """Per sweep: its table's path, number of runs, git revisions and warnings."""
    out = {}
    for sweep, table in tables.items():
        revisions = git_revisions(table)
        out[sweep] = {"table": table.attrs.get("source"), "runs": int(len(table)), "git_revisions": revisions,
                      "warnings": revision_warnings(revisions)}
    return out


def _revisions_text(entry: dict) -> str:
    return ", ".join(f"`{r}`" for r in entry["git_revisions"]) or "—"


def provenance_markdown(provenance: dict) -> str:
    rows = [[f"`{sweep}`", e["runs"], _revisions_text(e), f"`{e['table']}`" if e["table"] else "—"]
            for sweep, e in provenance.items()]
    lines = [md_table(["sweep", "runs", "git revision(s)", "table"], rows)]
    for sweep, e in provenance.items():
        lines += [f"> **Warning**: sweep `{sweep}` {w}." for w in e["warnings"]]
    return "\n\n".join(lines)


def figure_files(figure: dict, out_dir: Path) -> list[Path]:
    """The drawings of a figure in ``out_dir`` (those that exist)."""
    return [path for ext in ("png", "pdf") if (path := out_dir / f"{figure['figure']}.{ext}").exists()]


def figure_section(index: int, figure: dict, out_dir: Path, provenance: dict) -> str:
    """A figure's section of the report, from its numbers file's payload."""
    from jetscale.paper.sections import SECTIONS

    files = {p.suffix: p for p in figure_files(figure, out_dir)}
    title = figure["title"]
    parts = [f"## Figure {index}: {title}"]
    if ".png" in files:
        parts.append(f"![Figure {index}: {title}]({_relative(files['.png'], out_dir)})")
    if ".pdf" in files:
        parts.append(f"PDF: [{files['.pdf'].name}]({_relative(files['.pdf'], out_dir)})")
    parts.append(_without_heading(SECTIONS[figure["figure"]](figure["numbers"])))
    sweeps = [f"`{s}` ({_revisions_text(provenance[s])})" if s in provenance else f"`{s}`" for s in figure["sweeps"]]
    if sweeps:
        parts.append("Sweeps (git revision): " + ", ".join(sweeps) + ".")
    return "\n\n".join(parts)


def _without_heading(markdown: str) -> str:
    """A figure's markdown without a leading heading line: the report titles every figure section itself."""
    lines = markdown.strip().splitlines()
    if lines and lines[0].startswith("#"):
        lines = lines[1:]
    return "\n".join(lines).strip()


def _relative(path: Path, out_dir: Path) -> str:
    try:
        return path.resolve().relative_to(out_dir.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def render_report(figures: list[dict], provenance: dict, out_dir: str | Path, *, scale: str, config: str,
                  generated: str) -> str:
    out_dir = Path(out_dir)
    head = [f"# jetscale paper figures: scale `{scale}`",
            f"Generated {generated} by `jetscale paper-report` from the paper config `{config}`.",
            "## Sweeps", provenance_markdown(provenance)]
    sections = [figure_section(i, f, out_dir, provenance) for i, f in enumerate(figures, start=1)]
    return "\n\n".join(head + sections) + "\n"


def json_safe(value):
    """``value`` with NaN and infinities replaced by None and numpy/Path values made plain (recursively)."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def numbers_payload(figures: list[dict], provenance: dict, out_dir: Path, *, scale: str, config: str,
                    generated: str) -> dict:
    return json_safe({
        "scale": scale, "config": config, "generated": generated, "sweeps": provenance,
        "figures": {f["figure"]: {"title": f["title"], "files": [p.name for p in figure_files(f, out_dir)],
                                  "sweeps": f["sweeps"], "numbers": f["numbers"]} for f in figures},
    })


def merged_provenance(figures: list[dict]) -> dict:
    """Every sweep's provenance, from the figures' numbers files (in the order the figures name them)."""
    merged = {}
    for figure in figures:
        merged.update({s: p for s, p in figure.get("provenance", {}).items() if s not in merged})
    return merged


def write_report(figures: list[dict], out_dir: str | Path, *, scale: str, config: str,
                 generated: str | None = None) -> tuple[Path, Path]:
    """Write ``report.md`` and ``numbers.json`` in ``out_dir`` from the figures' numbers files (payloads, in
    figure order); return their paths."""
    out_dir = Path(out_dir)
    generated = generated or datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    provenance = merged_provenance(figures)
    report = out_dir / "report.md"
    with atomic_output(report) as tmp:
        tmp.write_text(render_report(figures, provenance, out_dir, scale=scale, config=config, generated=generated))
    numbers = write_json_atomic(out_dir / "numbers.json", numbers_payload(figures, provenance, out_dir, scale=scale,
                                                                          config=config, generated=generated))
    return report, numbers
