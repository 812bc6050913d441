"""The architecture's rules, read from the source: the library never imports the course
(`iql_lib.course`, the notebooks' helpers) nor a command-line module (`iql_lib.cli`), not
even inside a function; and no two modules share a name."""
from __future__ import annotations

import ast
import importlib.util
from collections import Counter
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "iql_lib"
FORBIDDEN = (["iql_lib", "course"], ["iql_lib", "cli"])


def imported(path: Path, root: Path = PACKAGE.parent) -> set[str]:
    """Every module `path` imports, at its top or anywhere below (`from x import y` counts as
    x and x.y, since y may be a module)."""
    names = set()
    package = ".".join(path.relative_to(root).parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
            names |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return names


def library_modules() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] != "course"]


def test_the_library_imports_neither_the_course_nor_a_command_line_module():
    offences = {str(p.relative_to(PACKAGE.parent)): sorted(n for n in imported(p) if n.split(".")[:2] in FORBIDDEN)
                for p in library_modules()}
    assert {path: names for path, names in offences.items() if names} == {}


def test_the_checker_sees_imports_inside_functions():
    module = PACKAGE / "rendering" / "films.py"
    assert "iql_lib.rendering.antmaze" in imported(module)  # imported inside a function there
    assert "iql_lib.course.grading_run" in imported(PACKAGE / "course" / "rollouts.py")


def test_the_checker_resolves_relative_imports(tmp_path):
    module = tmp_path / "iql_lib" / "analysis" / "x.py"
    module.parent.mkdir(parents=True)
    module.write_text("def f():\n    from ..course import notebook\n")
    assert "iql_lib.course.notebook" in imported(module, root=tmp_path)


def test_no_two_modules_share_a_name():
    """Except each family's module in each layer (envs/, datagen/, rendering/: antmaze.py, pointmass.py)."""
    per_family = {"__init__", "antmaze", "pointmass"}
    names = Counter(p.stem for p in PACKAGE.rglob("*.py") if p.stem not in per_family)
    assert [name for name, count in names.items() if count > 1] == []


def test_the_top_level_holds_only_the_settings_the_errors_and_the_commands():
    """Everything else lives in a subpackage named for its layer (docs/layout.md)."""
    assert sorted(p.name for p in PACKAGE.glob("*.py")) == ["__init__.py", "cli.py", "config.py", "errors.py"]
