"""Autograde notebooks with nbgrader: every chapter of each submission, one score per cell.

Grading runs the course in fast mode (small training budgets), with a time limit per cell,
so a blank that raises, returns NaN or loops forever costs its own test cells only.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from autograder.course import ASSIGNMENT, make_course, run_nbgrader
from iql_lib.course.notebook import FAST_ENV


@dataclass
class Grades:
    scores: dict[str, dict[str, tuple[float, float]]]  # student -> grade_id -> (score, max)
    autograded: Path                                     # <course>/autograded/<student>/<assignment>/

    def total(self, student: str) -> tuple[float, float]:
        cells = self.scores[student].values()
        return sum(s for s, _ in cells), sum(m for _, m in cells)

    def notebooks(self, student: str) -> list[Path]:
        return sorted((self.autograded / student / ASSIGNMENT).glob("*.ipynb"))


def autograde(submissions: dict[str, Path], course_root: Path) -> Grades:
    """Grade each student's folder of chapter notebooks in a fresh course at `course_root`."""
    from nbgrader.api import Gradebook

    course = make_course(course_root)
    for student, folder in submissions.items():
        dest = course / "submitted" / student / ASSIGNMENT
        dest.mkdir(parents=True)
        for path in sorted(Path(folder).glob("*.ipynb")):
            shutil.copy2(path, dest / path.name)
    run_nbgrader(course, "autograde", ASSIGNMENT, env={FAST_ENV: "1"})
    scores: dict[str, dict[str, tuple[float, float]]] = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in submissions:
            submission = gradebook.find_submission(ASSIGNMENT, student)
            scores[student] = {grade.name: (float(grade.score), float(grade.max_score))
                               for notebook in submission.notebooks for grade in notebook.grades}
    return Grades(scores, course / "autograded")
