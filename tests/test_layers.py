"""Import layering of src/jetscale, read from the source (no imports run): the CLI is the top layer."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "jetscale"


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
