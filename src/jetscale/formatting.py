"""Numbers as people read them in reports and legends: significant digits, intervals, markdown tables."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def fmt(value, digits: int = 3) -> str:
    """A number for the report: ``digits`` significant digits, plain from 1e-3 to 1e5 (``8000``, ``0.495``),
    else ``1.97e+05``; "n/a" for None or non-finite."""
    if value is None or not np.isfinite(value):
        return "n/a"
    text = f"{value:.{digits}g}"
    return f"{float(text):g}" if 1e-3 <= abs(value) < 1e5 else text


def fmt_ci(value, ci, digits: int = 3) -> str:
    """``0.512 [0.471, 0.553]``; the interval is "[n/a]" when it is missing."""
    lo, hi = ci if ci is not None else (None, None)
    bounds = "n/a" if lo is None or hi is None else f"{fmt(lo, digits)}, {fmt(hi, digits)}"
    return f"{fmt(value, digits)} [{bounds}]"


def md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
