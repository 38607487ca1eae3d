"""Import layering of src/jetscale, read from the source (no imports run): the CLI is the top layer, and
the layers, circles and placement of benchmarks/structure.py hold."""

import ast
import importlib.util
import sys
from pathlib import Path

from conftest import REPO

SRC = REPO / "src" / "jetscale"


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_module_imports_the_cli():
    """jetscale.cli imports the commands; a command that imported the CLI back (as train-bundle --pack once did)
    would close an import circle."""
    offenders = [str(path.relative_to(SRC)) for path in SRC.rglob("*.py")
                 if path.name != "cli.py" or path.parent != SRC
                 if "jetscale.cli" in imported_modules(path)]
    assert not offenders, offenders


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from jetscale.cli import cmd_train_packed\n    return cmd_train_packed\n")
    assert "jetscale.cli" in imported_modules(module)


def load_structure():
    """benchmarks/structure.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("benchmarks_structure", REPO / "benchmarks" / "structure.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


# Imports against the layers of benchmarks/structure.py that are accepted, as (importing unit, imported unit, file).
# None: the shower datamodule gets its e+e- EFP maker from its config (data.features), the spectra are drawn by
# their own command (plots/), and tasks evaluate the networks the datamodules load for.
ALLOWED_UPWARD: set[tuple[str, str, str]] = set()


def test_units_are_placed_imports_follow_the_layers_and_close_no_circle():
    structure = load_structure()
    found = structure.edges()
    assert structure.unplaced() == []
    upward = [edge for edge in found if edge.upward]
    unexpected = [edge for edge in upward if (edge.source, edge.target, edge.where.split(":")[0]) not in ALLOWED_UPWARD]
    assert not unexpected, unexpected
    allowed = set(upward)
    assert structure.circles([edge for edge in found if edge not in allowed]) == []


def test_the_layer_check_sees_an_upward_import_and_a_circle(tmp_path):
    structure = load_structure()
    for name, text in {"models/m.py": "from jetscale.data.x import y\n", "data/x.py": "import jetscale.models.m\n"}.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    found = structure.edges(tmp_path)
    assert [(e.source, e.target, e.where) for e in found if e.upward] == [
        ("data", "models", "data/x.py:1"), ("models", "data", "models/m.py:1")]
    assert structure.circles(found) == [["data", "models"]]
