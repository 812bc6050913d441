"""What grading one cell needs, from the course's sources and from a student's notebook.

A graded cell of a source notebook (nbgrader `grade: true`, not a solution: a blank's
visible check with its hidden tests, or a quiz question's test) grades the solution
cells between it and the graded cell above it: its blank, or its quiz answer. From the
student's notebook only those cells are read, found by their nbgrader `grade_id`, and
only their definitions (`def`, `class`, `import`) and literal assignments
(`answer_01 = "b"`) are kept: no other statement the student wrote runs during grading,
so an extra cell (or line) that patches the tests' tools never runs at all. The setup
is the import statements of the instructor's own cells above the graded cell.
"""
from __future__ import annotations

import ast
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

from autograder.course import SOLUTIONS, source_notebooks

MAX_CELL_CHARS = 200_000
MAX_NOTEBOOK_BYTES = 20_000_000


@dataclass(frozen=True)
class GradedCell:
    notebook: str                   # file name, e.g. 04_expectile_loss.ipynb
    grade_id: str
    points: float
    test: str                       # the graded cell's source: visible check and hidden tests
    setup: tuple[str, ...]          # the import statements of the instructor's cells above it
    answer_ids: tuple[str, ...]     # grade_ids of the solution cells it grades


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _nbgrader(cell: dict) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def _python(source: str) -> str:
    """A cell's text with IPython-only lines (`%magic`, `!shell`) blanked, lines kept in place."""
    return "".join("\n" if line.lstrip().startswith(("%", "!")) else line
                   for line in source.splitlines(True))


def read_notebook(path: Path) -> dict | None:
    """The notebook, or None when it is missing, too big, or not a valid notebook (nbgrader
    could not record it: it counts as not handed in)."""
    import nbformat

    try:
        if Path(path).stat().st_size > MAX_NOTEBOOK_BYTES:
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # cells without ids: nbgrader takes them
            notebook = nbformat.reads(Path(path).read_text(), as_version=4)
            nbformat.validate(notebook)
    except (OSError, ValueError, nbformat.ValidationError):
        return None
    return notebook


def graded_cells(notebook_path: Path) -> list[GradedCell]:
    """The graded code cells of one source notebook, in order."""
    cells = json.loads(Path(notebook_path).read_text())["cells"]
    found, imports, answers = [], [], []
    for cell in cells:
        meta = _nbgrader(cell)
        if cell.get("cell_type") != "code":
            continue
        if meta.get("solution"):
            answers.append(meta["grade_id"])
        elif meta.get("grade"):
            found.append(GradedCell(Path(notebook_path).name, meta["grade_id"], float(meta.get("points", 0)),
                                    _source(cell), tuple(imports), tuple(answers)))
            answers = []
        else:
            tree = ast.parse(_python(_source(cell)))
            imports += [ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    return found


def course_cells(solutions: Path = SOLUTIONS) -> dict[str, list[GradedCell]]:
    """The graded cells of every source notebook that has some, by notebook file name."""
    cells = {path.name: graded_cells(path) for path in source_notebooks(solutions)}
    return {name: found for name, found in cells.items() if found}


def setup_for(cell: GradedCell, student: str) -> str:
    """The cell's setup imports that bind a name the test or the student's code uses (an
    unused `import matplotlib.pyplot as plt` only costs time)."""
    used = set()
    for code in (cell.test, student):
        try:
            used |= {node.id for node in ast.walk(ast.parse(code)) if isinstance(node, ast.Name)}
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            continue
    def bound(statement: str) -> set[str]:
        (node,) = ast.parse(statement).body
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return "\n".join(s for s in cell.setup if bound(s) & used or bound(s) == {"*"})


def _literal_assignment(node: ast.stmt) -> bool:
    if not isinstance(node, ast.Assign) or not all(isinstance(t, ast.Name) for t in node.targets):
        return False
    try:
        ast.literal_eval(node.value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)


def _kept(source: str) -> tuple[str, bool]:
    """(the definitions and literal assignments of `source`, with every other line blank;
    whether any of them runs code: a def's decorators and defaults, a class body, an import)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as err:
        return f"raise SyntaxError({f'your cell does not parse: {err}'!r})\n", True
    kept = [node for node in tree.body if isinstance(node, DEFINITIONS) or _literal_assignment(node)]
    lines = source.splitlines(True)
    keep: set[int] = set()
    for node in kept:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        keep.update(range(first, node.end_lineno + 1))
    dropped = {n for node in tree.body if node not in kept for n in range(node.lineno, node.end_lineno + 1)}
    if keep & dropped:  # a kept statement shares a line with a dropped one (`;`)
        code = ast.unparse(ast.Module(body=kept, type_ignores=[])) + "\n"
    else:
        code = "".join(line if n in keep else "\n" for n, line in enumerate(lines, 1))
    return code, any(not _literal_assignment(node) for node in kept)


def student_code(notebook: dict | None, answer_ids: tuple[str, ...]) -> tuple[str, bool]:
    """What runs of the student's answer cells (`answer_ids`, the first cell with each id,
    as nbgrader keeps it), and whether it runs any code (see `_kept`)."""
    cells = {}
    for cell in (notebook or {}).get("cells", []):
        grade_id = _nbgrader(cell).get("grade_id")
        if cell.get("cell_type") == "code" and isinstance(grade_id, str) and grade_id not in cells:
            cells[grade_id] = _python(_source(cell)[:MAX_CELL_CHARS])
    parts = [_kept(cells[gid]) for gid in answer_ids if gid in cells]
    return "".join(code for code, _ in parts), any(runs for _, runs in parts)
