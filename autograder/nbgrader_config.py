"""nbgrader settings for the course: one assignment (`iql`) holding the chapter notebooks.

Student versions of blank cells raise until written; grading runs every cell with a time
limit, so a blank that loops forever costs that cell, not the rest of the notebook.
Autograde puts the hidden tests back into the graded cells without nbgrader's false alarm
(`RestoreHiddenTests`), and refuses to grade where nbgrader's kernel would give the reference
solutions less than full marks or the unwritten release any (`autograder/kernel_check.py`).
"""
import sys
from copy import deepcopy
from pathlib import Path

from nbgrader.api import MissingEntry
from nbgrader.preprocessors import (CheckCellMetadata, ClearHiddenTests, ClearOutput, DeduplicateIds,
                                    OverwriteCells, OverwriteKernelspec)

CHECKOUT = str(Path(__file__).resolve().parents[1])
if CHECKOUT not in sys.path:  # `autograder` is the checkout's, not an installed package
    sys.path.append(CHECKOUT)
from autograder.kernel_check import CheckedExporter  # noqa: E402


class RestoreHiddenTests(OverwriteCells):
    """nbgrader's OverwriteCells without its false alarm about hidden tests.

    Before grading, OverwriteCells puts the instructor's version of every locked cell back.
    The gradebook keeps a graded cell with its hidden tests and students get it without
    them, so nbgrader warns "Attribute 'checksum' for cell ... has changed!" for every such
    cell of every submission (jupyter/nbgrader#1961). Here a cell exactly as released
    gets its hidden tests back first, silently; a cell the student changed is still reported.
    """

    def preprocess_cell(self, cell, resources, index):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is not None:
            try:
                original = self.gradebook.find_source_cell(grade_id, self.notebook_id, self.assignment_id)
            except MissingEntry:  # not a cell of this assignment: nbgrader reports it
                original = None
            if original is not None and original.locked and cell.source == self._released(cell, original.source):
                cell.source = original.source
        return super().preprocess_cell(cell, resources, index)

    def _released(self, cell, source: str) -> str:
        """`source` as `generate_assignment` released it in `cell`: without its hidden tests."""
        released = deepcopy(cell)
        released.source = source
        return ClearHiddenTests(parent=self).preprocess_cell(released, {}, 0)[0].source


c = get_config()  # noqa: F821 (nbgrader provides it)

c.CourseDirectory.course_id = "iql-from-absolute-zero"
c.ClearSolutions.code_stub = {
    "python": '# YOUR CODE HERE\nraise NotImplementedError("not written yet: replace these two lines with your code")'
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
c.Execute.timeout = 300            # seconds per cell
c.Execute.interrupt_on_timeout = True
c.Autograde.sanitize_preprocessors = [ClearOutput, DeduplicateIds, OverwriteKernelspec, RestoreHiddenTests,
                                      CheckCellMetadata]
c.Autograde.exporter_class = CheckedExporter
