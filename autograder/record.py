"""nbgrader keeps the record of a sandboxed grading: its gradebook, autograded notebooks
and feedback, with the sandbox in place of nbgrader's kernel.

`nbgrader autograde` sanitizes each submitted notebook (clears outputs, restores the
instructor's graded cells, hidden tests included), then executes it and scores every
graded cell from its outputs (an error or stderr output scores 0). Here its `Execute`
step is replaced by `SandboxOutputs`, which gives every graded cell the outputs the
sandbox recorded for it; nothing else changes, so points, comments, late penalties
and `nbgrader generate_feedback` work exactly as in nbgrader.
"""
from __future__ import annotations

import json
from pathlib import Path

from nbformat.v4 import new_code_cell, new_output
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

RESULTS = "sandbox_results"  # <course>/sandbox_results/<student>.json: {notebook: {grade_id: [outputs]}}

CONFIG = f'''
# Grading in the sandbox: graded cells get the outputs the sandbox recorded.
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.preprocessors import AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput, SaveAutoGrades

from autograder.record import SandboxOutputs

c.Autograde.autograde_preprocessors = [SandboxOutputs, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
                                       SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
c.SandboxOutputs.results_dir = "{RESULTS}"
'''


def stream(name: str, text: str) -> dict:
    return new_output("stream", name=name, text=text)


def error(ename: str, evalue: str, traceback: list[str] | None = None) -> dict:
    return new_output("error", ename=ename, evalue=evalue, traceback=traceback or [f"{ename}: {evalue}"])


def score(outputs: list[dict], points: float) -> float:
    """The points nbgrader gives a graded cell with these outputs (an error or stderr: 0)."""
    cell = new_code_cell(metadata={"nbgrader": {"grade": True, "solution": False, "points": points}},
                         outputs=[new_output(**output) for output in outputs])
    return utils.determine_grade(cell)[0]


def write_results(course: Path, student: str, outputs: dict[str, dict[str, list[dict]]]) -> None:
    folder = course / RESULTS
    folder.mkdir(exist_ok=True)
    (folder / f"{student}.json").write_text(json.dumps(outputs))


class SandboxOutputs(NbGraderPreprocessor):
    """Every graded code cell gets the outputs the sandbox recorded for it; one the
    sandbox has no record of gets an error (it scores 0, never full points)."""

    results_dir = Unicode(RESULTS, help="folder of <student>.json, relative to the course").tag(config=True)

    def preprocess(self, nb, resources):
        student = resources["nbgrader"]["student"]
        path = Path(self.results_dir) / f"{student}.json"
        recorded = json.loads(path.read_text()) if path.exists() else {}
        self._recorded = recorded.get(f"{resources['nbgrader']['notebook']}.ipynb", {})
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell):
            grade_id = cell.metadata["nbgrader"]["grade_id"]
            outputs = self._recorded.get(grade_id)
            if outputs is None:
                outputs = [error("NotGraded", f"the sandbox has no result for {grade_id}")]
            cell.outputs = [new_output(**output) for output in outputs]
        return cell, resources
