"""Autograde notebooks with nbgrader: every chapter of each submission, one score per cell.

    python -m autograder.grade SUBMISSIONS [--out grades.csv] [--timeout 300]
    make grade SUBMISSIONS=<dir>

`SUBMISSIONS/<student>/` holds a student's chapter notebooks (directly, or in an `iql/`
folder as nbgrader's exchange leaves them). Grading runs the course in fast mode (small
training budgets) with a time limit per cell, so a blank that raises, returns NaN or loops
forever costs the points of its own graded cell only. The CSV has one row per student:
the points per blank, per quiz question, and the total.
"""
from __future__ import annotations

import argparse
import csv
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from autograder.course import ASSIGNMENT, make_course, run_nbgrader
from iql_lib.course.notebook import FAST_ENV

CELL_TIMEOUT_S = 300


@dataclass
class Grades:
    scores: dict[str, dict[str, tuple[float, float]]]  # student -> grade_id -> (score, max)
    autograded: Path                                     # <course>/autograded/<student>/<assignment>/

    def total(self, student: str) -> tuple[float, float]:
        cells = self.scores[student].values()
        return sum(s for s, _ in cells), sum(m for _, m in cells)

    def notebooks(self, student: str) -> list[Path]:
        return sorted((self.autograded / student / ASSIGNMENT).glob("*.ipynb"))


def collect(submissions: Path) -> dict[str, Path]:
    """Each student's folder of notebooks under `submissions`."""
    found = {}
    for student in sorted(p for p in submissions.iterdir() if p.is_dir()):
        folder = student / ASSIGNMENT if (student / ASSIGNMENT).is_dir() else student
        if any(folder.glob("*.ipynb")):
            found[student.name] = folder
    if not found:
        raise FileNotFoundError(f"{submissions}: no <student>/ folders with notebooks in them")
    return found


def autograde(submissions: dict[str, Path], course_root: Path, cell_timeout: int = CELL_TIMEOUT_S) -> Grades:
    """Grade each student's folder of chapter notebooks in a fresh course at `course_root`."""
    from nbgrader.api import Gradebook

    course = make_course(course_root)
    for student, folder in submissions.items():
        dest = course / "submitted" / student / ASSIGNMENT
        dest.mkdir(parents=True)
        for path in sorted(Path(folder).glob("*.ipynb")):
            shutil.copy2(path, dest / path.name)
    run_nbgrader(course, "autograde", ASSIGNMENT, f"--Execute.timeout={cell_timeout}", env={FAST_ENV: "1"})
    scores: dict[str, dict[str, tuple[float, float]]] = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in submissions:
            submission = gradebook.find_submission(ASSIGNMENT, student)
            scores[student] = {grade.name: (float(grade.score), float(grade.max_score))
                               for notebook in submission.notebooks for grade in notebook.grades}
    return Grades(scores, course / "autograded")


def write_grades_csv(grades: Grades, path: Path) -> Path:
    ids = sorted({gid for cells in grades.scores.values() for gid in cells})
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", *ids, "total", "max"])
        for student, cells in grades.scores.items():
            writer.writerow([student, *(f"{cells[g][0]:g}" if g in cells else "" for g in ids),
                             *(f"{x:g}" for x in grades.total(student))])
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.grade", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submissions", type=Path, help="folder of <student>/ notebook folders")
    parser.add_argument("--out", type=Path, default=Path("grades.csv"), help="grades CSV (grades.csv)")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT_S, help="seconds per cell (300)")
    args = parser.parse_args(argv)
    try:
        students = collect(args.submissions)
    except (FileNotFoundError, NotADirectoryError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        grades = autograde(students, Path(tmp), args.timeout)
        write_grades_csv(grades, args.out)
    for student in students:
        score, maximum = grades.total(student)
        print(f"{student:<24} {score:g} / {maximum:g}")
    print(f"grades written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
