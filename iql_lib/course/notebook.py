"""What every chapter notebook shares: the fast mode, the runs folder and the learner's blanks.

Fast mode (`IQL_COURSE_FAST=1`) shrinks every training budget so the whole course runs
headless in CI in minutes; a learner never sets it, and nbgrader's Validate and autograde
run in it too. Training runs go to the course's `runs/` folder, beside `notebooks/` rather
than among the chapters (`IQL_COURSE_RUNS` moves it). `learner_blanks()` gathers the six
blanks the learner wrote across the chapter notebooks, so chapter 7 trains with them
and `iql-train --blanks notebooks/` does the same from a shell, with no copying.
"""
from __future__ import annotations

import ast
import inspect
import os
import textwrap
from pathlib import Path

import torch

from iql_lib.algos.blanks import BLANK_NAMES, Blanks
from iql_lib.assignment.blank_sources import definitions_from_notebooks
from iql_lib.course.blank_errors import BlankNotWritten, show_blank_errors_short
from iql_lib.course.grading_run import nbgrader_execution

FAST_ENV = "IQL_COURSE_FAST"
RUNS_ENV = "IQL_COURSE_RUNS"


def fast_mode() -> bool:
    """True when `IQL_COURSE_FAST` is set, and while nbgrader validates or autogrades."""
    return os.environ.get(FAST_ENV, "") not in ("", "0") or nbgrader_execution() is not None


if fast_mode():
    # Fast mode trains tiny networks for a few hundred steps, often in several kernels at
    # once (grading, CI): one thread each is fastest, where two would fight over the cores.
    torch.set_num_threads(1)


def budget(full, fast):
    """`full` for a learner, `fast` when the course runs in fast mode (tests, CI)."""
    return fast if fast_mode() else full


def runs_dir(name: str) -> str:
    """Where a chapter's training runs go: `<course>/runs/<name>` (`<name>_fast` in fast
    mode, so short runs never mix with a learner's full ones). `<course>` is the folder
    above the chapter notebooks; `IQL_COURSE_RUNS` names another parent."""
    here = Path.cwd()
    course = here.parent if any(here.glob("0[1-9]_*.ipynb")) else here
    parent = Path(os.environ.get(RUNS_ENV) or course / "runs")
    return str(parent / (f"{name}_fast" if fast_mode() else name))


def _unwritten(fn) -> bool:
    """Whether `fn` is still nbgrader's stub: its body (past a docstring) is one `raise
    NotImplementedError(...)`."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return False
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.FunctionDef) else []
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return False
    exc = body[0].exc.func if isinstance(body[0].exc, ast.Call) else body[0].exc
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def notebooks_folder(folder: str | Path = ".") -> Path:
    """Where the chapter notebooks are. Under nbgrader's autograde the kernel runs in the
    graded copy, which nbgrader writes one notebook at a time, so the blanks of later
    chapters are read from the submission itself (`<course>/submitted/<student>/<assignment>`)."""
    folder = Path(folder).resolve()
    if nbgrader_execution() == "autograde":
        submitted = folder.parents[2] / "submitted" / folder.parent.name / folder.name
        if submitted.is_dir():
            return submitted
    return folder


def _saved_blanks(folder: Path) -> tuple[dict, dict]:
    """The definitions of the notebooks in `folder`, and the notebook each blank came from."""
    found, origin = {}, {}
    for path in sorted(folder.glob("*.ipynb")):  # later chapters win, as in one kernel
        before = {name: found.get(name) for name in BLANK_NAMES}
        definitions_from_notebooks([path], found)
        origin.update({name: path.name for name in BLANK_NAMES if found.get(name) is not before[name]})
    return found, origin


def learner_blank(name: str, folder: str | Path = "."):
    """One blank from the saved chapter notebooks (a later chapter builds on an earlier one)."""
    show_blank_errors_short()
    found, _ = _saved_blanks(notebooks_folder(folder))
    if not callable(found.get(name)):
        raise BlankNotWritten([name])
    return found[name]


def learner_blanks(namespace: dict | None = None, folder: str | Path = ".", verbose: bool = True) -> Blanks:
    """The six blanks from the chapter notebooks saved in `folder`, where definitions in
    `namespace` (pass `globals()` from a notebook) win over the saved files: what the
    learner just ran counts even before the notebook is saved. A blank still unwritten
    stops here with a short message naming its chapter and cell."""
    show_blank_errors_short()
    folder = notebooks_folder(folder)
    found, origin = _saved_blanks(folder)
    for name in BLANK_NAMES:
        if namespace is not None and callable(namespace.get(name)):
            found[name], origin[name] = namespace[name], "this notebook"
    unwritten = [name for name in BLANK_NAMES if _unwritten(found.get(name))]
    if unwritten:
        raise BlankNotWritten(unwritten)
    blanks = Blanks.from_namespace(found, source=f"notebooks in {folder}")
    if verbose:
        for number, name in enumerate(BLANK_NAMES, 1):
            print(f"blank {number} {name:<20} from {origin[name]}")
    return blanks
