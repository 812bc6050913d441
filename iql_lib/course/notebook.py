"""What every chapter notebook shares: the fast mode and the learner's own blanks.

Fast mode (`IQL_COURSE_FAST=1`) shrinks every training budget so the whole course runs
headless in CI in minutes; a learner never sets it. `learner_blanks()` gathers the six
blanks the learner wrote across the chapter notebooks, so chapter 7 trains with them
and `iql-train --blanks notebooks/` does the same from a shell, with no copying.
"""
from __future__ import annotations

import os
from pathlib import Path

from iql_lib.algos.blanks import BLANK_NAMES, Blanks, definitions_from_notebooks

FAST_ENV = "IQL_COURSE_FAST"


def fast_mode() -> bool:
    return os.environ.get(FAST_ENV, "") not in ("", "0")


def budget(full, fast):
    """`full` for a learner, `fast` when the course runs in fast mode (tests, CI)."""
    return fast if fast_mode() else full


def notebooks_folder(folder: str | Path = ".") -> Path:
    """Where the chapter notebooks are. Under nbgrader's autograde the kernel runs in the
    graded copy, which nbgrader writes one notebook at a time, so the blanks of later
    chapters are read from the submission itself (`<course>/submitted/<student>/<assignment>`)."""
    folder = Path(folder).resolve()
    if os.environ.get("NBGRADER_EXECUTION") == "autograde":
        submitted = folder.parents[2] / "submitted" / folder.parent.name / folder.name
        if submitted.is_dir():
            return submitted
    return folder


def learner_blanks(namespace: dict | None = None, folder: str | Path = ".", verbose: bool = True) -> Blanks:
    """The six blanks from the chapter notebooks saved in `folder`, where definitions in
    `namespace` (pass `globals()` from a notebook) win over the saved files: what the
    learner just ran counts even before the notebook is saved."""
    folder = notebooks_folder(folder)
    found, origin = {}, {}
    for path in sorted(folder.glob("*.ipynb")):  # later chapters win, as in one kernel
        before = {name: found.get(name) for name in BLANK_NAMES}
        definitions_from_notebooks([path], found)
        origin.update({name: path.name for name in BLANK_NAMES if found.get(name) is not before[name]})
    for name in BLANK_NAMES:
        if namespace is not None and callable(namespace.get(name)):
            found[name], origin[name] = namespace[name], "this notebook"
    blanks = Blanks.from_namespace(found, source=f"notebooks in {folder}")
    if verbose:
        for number, name in enumerate(BLANK_NAMES, 1):
            print(f"blank {number} {name:<20} from {origin[name]}")
    return blanks
