"""The shape of src/jetscale, read from the source (nothing is imported): import circles, imports that run
from a lower layer up to a higher one, and file sizes.

    python benchmarks/structure.py            # this checkout
    python benchmarks/structure.py --src DIR  # another tree's src/jetscale (e.g. an older commit's)

A *unit* is a top-level module or package of jetscale (``fit``, ``data``, ``cli`` ...). ``LAYERS`` ranks them,
lowest first; a unit may import its own layer and the ones below, except the ``FORBIDDEN`` pairs. ``tests/project/test_layers.py`` holds the code to it.
"""

from __future__ import annotations

import argparse
import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "jetscale"

# Lowest first. Units missing here are reported (a new module must be placed).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("atomic", "paths", "yamlfile", "identity", "results", "redaction", "provenance", "processes", "subcommand",
     "parallel", "launch", "xpu", "log_noise", "metrics", "formatting", "throughput"),
    ("devices", "lifetime", "checkpoints", "sweep", "timing"),
    ("physics", "theory"),
    ("fit",),
    ("models",),
    ("data",),
    ("features",),
    ("tasks",),
    ("plots",),
    ("train", "aggregate", "wandb_sync"),
    ("packed",),
    ("cluster", "paper"),
    ("machine",),
    ("cli",),
)
# Pairs the layers allow but the design does not: loaders only load (the tasks evaluate networks).
FORBIDDEN = (("data", "models"),)
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


@dataclass(frozen=True)
class Edge:
    source: str      # unit importing
    target: str      # unit imported
    where: str       # file:line of the import

    @property
    def upward(self) -> bool:
        """Against the layers: into a higher layer, or a forbidden pair."""
        return (RANK.get(self.source, len(LAYERS)) < RANK.get(self.target, -1)
                or (self.source, self.target) in FORBIDDEN)


def unit_of(module: str) -> str:
    """``jetscale.fit.api`` -> ``fit``."""
    return module.split(".")[1] if module.count(".") else ""


def module_name(path: Path, src: Path) -> str:
    parts = ("jetscale", *path.relative_to(src).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> Iterator[tuple[str, int]]:
    """Every jetscale module a file imports, at its top or inside a function (``TYPE_CHECKING`` ones too)."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno


def edges(src: Path = SRC) -> list[Edge]:
    """Imports between different units."""
    found = []
    for path in sorted(src.rglob("*.py")):
        source = unit_of(module_name(path, src))
        for module, line in imports(path):
            target = unit_of(module) if module.startswith("jetscale.") else ""
            if target and target != source:
                found.append(Edge(source, target, f"{path.relative_to(src)}:{line}"))
    return found


def circles(found: list[Edge]) -> list[list[str]]:
    """Strongly connected groups of more than one unit (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for edge in found:
        graph.setdefault(edge.source, set()).add(edge.target)
        graph.setdefault(edge.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups)


def unplaced(src: Path = SRC) -> list[str]:
    units = {unit_of(module_name(p, src)) for p in src.rglob("*.py")} - {""}
    return sorted(units - set(RANK))


def line_counts(src: Path = SRC) -> dict[str, int]:
    return {str(p.relative_to(src)): len(p.read_text().splitlines()) for p in sorted(src.rglob("*.py"))}


def docstring_lines(src: Path = SRC) -> int:
    """Lines inside module, class and function docstrings."""
    total = 0
    for path in src.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                body = node.body
                if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                        and isinstance(body[0].value.value, str):
                    total += body[0].end_lineno - body[0].lineno + 1
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=SRC, help="a src/jetscale directory (default: this checkout's)")
    args = parser.parse_args(argv)
    found = edges(args.src)
    up = [e for e in found if e.upward]
    groups = circles(found)
    sizes = line_counts(args.src)
    total = sum(sizes.values())
    print(f"units not placed in a layer: {unplaced(args.src) or 'none'}")
    print(f"import circles: {len(groups)}" + "".join(f"\n  {' <-> '.join(g)}" for g in groups))
    pairs = sorted({(e.source, e.target) for e in up})
    print(f"upward imports: {len(up)} (unit pairs: {len(pairs)})")
    for source, target in pairs:
        where = [e.where for e in up if (e.source, e.target) == (source, target)]
        print(f"  {source} -> {target}: {', '.join(where)}")
    docs = docstring_lines(args.src)
    print(f"python files: {len(sizes)}, lines: {total}, docstring lines: {docs} ({100 * docs / total:.0f} %)")
    print("largest files: " + ", ".join(f"{name} {n}" for name, n in
                                        sorted(sizes.items(), key=lambda kv: -kv[1])[:8]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
