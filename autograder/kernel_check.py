"""nbgrader's own autograde (`nbgrader autograde`, Formgrader's Autograde) refuses to grade
where its kernel cannot run the tests.

nbgrader autogrades by executing every submitted notebook in a Jupyter kernel, started as
this process starts one: the notebooks' kernelspec, this process's environment and
resource limits, the `Execute` settings. A kernel that cannot run the graded cells (torch
failing to import under a memory limit, `iql_lib` missing, a kernelspec naming another
Python) would give every student 0. So before autograde touches a submission, the
reference (`source/<assignment>/`) and the unwritten release (`release/<assignment>/`) of
the notebooks it is about to grade run their graded cells in such a kernel, one kernel
each, as `make grade` runs them (`autograder.extract`: the chapter's imports, the answer
cell's definitions, the graded cell). Unless the reference earns every point and the
release none, autograde stops with one message naming the cause, and grades and records
nothing. A passing check is kept in the course folder (`.reference_checks/`), one file per
notebook (`reference_check.check_keys`; the kernel, its environment and limits are in the key).

nbgrader has no hook that can stop autograde before it records a submission (a
pre-convert hook's errors are only logged; preprocessors run once the submission is in
the gradebook), but Autograde builds its exporter once, before the first submission:
`CheckedExporter` is that exporter (`c.Autograde.exporter_class` in `nbgrader_config.py`).
An autograde that executes nothing (`--no-execute`; `make grade`, which records the
sandbox's outputs) is not checked.
"""
from __future__ import annotations

import os
import resource
import tempfile
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from nbconvert.exporters import NotebookExporter
from nbformat.v4 import new_code_cell, new_notebook
from nbgrader import utils
from nbgrader.converters import Autograde, NbGraderException
from nbgrader.preprocessors import Execute

from autograder.extract import GradedCell, course_cells, read_notebook, setup_for, student_code
from autograder.reference_check import REFERENCE, RELEASE, check_keys, misgraded, passed, refusal, remember

CHECKS = ".reference_checks"  # in the course folder
SHELL_BOOKKEEPING = ("PWD", "OLDPWD", "SHLVL", "_")  # environment variables that change per shell, not per setup


class CheckedExporter(NotebookExporter):
    """nbgrader's notebook exporter; built by Autograde, it first checks Autograde's kernel."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if isinstance(self.parent, Autograde):
            check_kernel(self.parent)


def check_kernel(autograde: Autograde) -> None:
    """Raise NbGraderException, logged as nbgrader logs its own, unless nbgrader's kernel gives
    the reference every point of the notebooks `autograde` is about to grade, and the release none."""
    execute = Execute(parent=autograde)
    if Execute not in autograde.autograde_preprocessors or not execute.enabled:
        return
    course = autograde.coursedir
    folders = {who: Path(course.format_path(directory, ".", course.assignment_id))
               for who, directory in ((REFERENCE, course.source_directory), (RELEASE, course.release_directory))}
    to_grade = {Path(path).name for notebooks in autograde.assignments.values() for path in notebooks}
    cells = {name: found for name, found in course_cells(folders[REFERENCE]).items() if name in to_grade}
    if not cells:
        return
    metadata = read_notebook(folders[REFERENCE] / next(iter(cells))).metadata
    kernel = execute.kernel_name or metadata.get("kernelspec", {}).get("name", "python3")
    try:
        spec = KernelSpecManager().get_kernel_spec(kernel).to_dict()
    except NoSuchKernel:
        spec = None
    keys = check_keys(cells, *folders.values(), _runs_in(execute, kernel, spec))
    kept = Path(course.root) / CHECKS
    unchecked = {name: found for name, found in cells.items() if not passed(kept, keys[name])}
    if not unchecked:
        return
    where = f"in nbgrader's kernel ({kernel}: {spec['argv'][0] if spec else 'no such kernelspec'})"
    autograde.log.info("Checking nbgrader's kernel on %s: the reference must earn every point, the release none",
                       ", ".join(unchecked))
    for who, folder in folders.items():
        try:
            graded = _run_in_kernel(execute, unchecked, folder, metadata)
        except Exception as err:  # no such kernel, or it died or would not start
            raise _refusal(autograde, where, f"{who} could not run there: {type(err).__name__}: {err}") from err
        wrong = misgraded(who, graded, unchecked)
        if wrong:
            raise _refusal(autograde, where, refusal(who, f"{folder.relative_to(course.root)}/", wrong))
    for name in unchecked:
        remember(kept, keys[name], name)


def _runs_in(execute: Execute, kernel: str, spec: dict | None) -> dict:
    """How nbgrader's kernel starts, for the check's key: its kernelspec, the Execute settings,
    this process's environment and resource limits."""
    return {"kernel": kernel, "spec": spec,
            "execute": {name: getattr(execute, name) for name in execute.trait_names(config=True)},
            "environment": {k: v for k, v in os.environ.items() if k not in SHELL_BOOKKEEPING},
            "limits": {name: resource.getrlimit(getattr(resource, name)) for name in dir(resource)
                       if name.startswith("RLIMIT_")}}


def _run_in_kernel(execute: Execute, cells: dict[str, list[GradedCell]], folder: Path,
                   metadata: dict) -> dict[str, dict[str, list[dict]]]:
    """`{notebook: {grade_id: outputs}}`: the graded cells of `cells` against the answers of
    the notebooks in `folder`, all in one notebook that `execute` runs in a scratch folder."""
    notebook, tests = new_notebook(metadata=metadata), {}
    for name, found in cells.items():
        answers = read_notebook(folder / name)
        if answers is None:  # an unreadable notebook scores 0
            continue
        for cell in found:
            code, _ = student_code(answers, cell.answer_ids)
            notebook.cells += [new_code_cell(f"{setup_for(cell, code)}\n{code}"), new_code_cell(cell.test)]
            tests.setdefault(name, {})[cell.grade_id] = len(notebook.cells) - 1
    with tempfile.TemporaryDirectory(prefix="iql-kernel-check-") as scratch, \
            utils.setenv(NBGRADER_EXECUTION="autograde"):  # as Autograde executes a notebook
        ran, _ = execute.preprocess(notebook, {"metadata": {"path": scratch}})
    return {name: {grade_id: ran.cells[index].outputs for grade_id, index in found.items()}
            for name, found in tests.items()}


def _refusal(autograde: Autograde, where: str, why: str) -> NbGraderException:
    """The refusal, logged where nbgrader logs its own errors (Formgrader shows that log)."""
    message = (f"refusing to autograde: {where}, {why}. Every submission would be graded as wrongly, so "
               "none was graded. The kernel starts with this process's environment and resource limits; "
               "docs/instructors.md, \"Formgrader's Autograde\", says more.")
    autograde.log.error(message)
    return NbGraderException(message)
