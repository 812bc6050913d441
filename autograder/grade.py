"""Grade a class: every student's graded cells in a sandbox, recorded by nbgrader.

    python -m autograder.grade SUBMISSIONS [--out grades.csv] [--course grading]
    make grade SUBMISSIONS=<dir>

`SUBMISSIONS/<student>/` holds a student's chapter notebooks (directly, or in an `iql/`
folder as nbgrader's exchange leaves them). Points come only from the graded cells
(each blank's checks and hidden tests, each quiz question): each runs in a fresh
Python inside a bubblewrap sandbox, against the code of the student's own answer cell
only (definitions and literal assignments; nothing else the student wrote runs), with
limits on time, memory, processes, files and output. nbgrader then records the
outcome: the gradebook, the autograded notebooks and the HTML feedback stay in the
course folder (`grading/`), and the CSV has one row per student: the points per graded
cell and the total.

Before any student, the reference solutions (`solutions/`) and the unwritten release
(`notebooks/`) are graded the same way, for the notebooks the class handed in: unless the
reference earns every point and the release none, grading stops with the cause and writes
no grades (a sandbox that cannot run the tests would give every student 0).

`--jobs N` grades N students at a time; `--ray [ADDRESS]` runs one Ray task per student
(a local Ray, or a running cluster). `--no-sandbox` runs the same fresh interpreters
without the sandbox (limits and checks only: the submission can read your files and
reach the network). `--run-notebooks` has
nbgrader execute every cell of every notebook in a Jupyter kernel instead, as nbgrader
alone does: minutes per student, no sandbox, and a submission can patch its own tests.
"""
from __future__ import annotations

import argparse
import csv
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from autograder import record
from autograder.course import ASSIGNMENT, NOTEBOOKS, SOLUTIONS, make_course, run_nbgrader
from autograder.extract import GradedCell, course_cells, read_notebook, setup_for, student_code
from autograder.reference_check import (REFERENCE, RELEASE, cache_folder, check_keys, misgraded, passed, refusal,
                                        remember)
from autograder.sandbox import MiB, Limits, bwrap_version, run_job, unavailable
from iql_lib.course.notebook import FAST_ENV

CELL_TIMEOUT_S = 20  # CPU seconds; a graded cell needs about one
NOTEBOOK_CELL_TIMEOUT_S = 300  # --run-notebooks: training cells included


@dataclass
class Grades:
    scores: dict[str, dict[str, tuple[float, float]]]  # student -> grade_id -> (score, max)
    course: Path                                       # the nbgrader course: gradebook, autograded/, feedback/
    seconds: dict[str, float] = field(default_factory=dict)  # student -> time to run their graded cells

    def total(self, student: str) -> tuple[float, float]:
        cells = self.scores[student].values()
        return sum(s for s, _ in cells), sum(m for _, m in cells)

    def notebooks(self, student: str) -> list[Path]:
        return sorted((self.course / "autograded" / student / ASSIGNMENT).glob("*.ipynb"))

    def feedback(self, student: str) -> list[Path]:
        return sorted((self.course / "feedback" / student / ASSIGNMENT).glob("*.html"))


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


# ------------------------------------------------------------------ one student

def _jobs(notebook: dict, cells: list[GradedCell]) -> list[tuple[dict, list[GradedCell]]]:
    """One job per graded cell whose answer runs code; the cells whose answers are only
    literals (the quiz) share one job, since nothing of the student's runs there."""
    units, shared, jobs = {}, [], []
    for cell in cells:
        code, runs = student_code(notebook, cell.answer_ids)
        units[cell.grade_id] = {"grade_id": cell.grade_id, "label": "/".join(cell.answer_ids) or cell.grade_id,
                                "student": code, "test": cell.test}
        if runs:
            jobs.append(({"setup": setup_for(cell, code), "units": [units[cell.grade_id]]}, [cell]))
        else:
            shared.append(cell)
    if shared:
        setup = "\n".join(dict.fromkeys(setup_for(c, units[c.grade_id]["student"]) for c in shared))
        jobs.append(({"setup": setup, "units": [units[c.grade_id] for c in shared]}, shared))
    return jobs


def _outputs(result, grade_id: str) -> list[dict]:
    """The graded cell's outputs as nbgrader records them (an error output scores 0)."""
    passed, details = result.passed.get(grade_id), result.details.get(grade_id, {})
    outputs = [record.stream(name, details[name]) for name in ("stdout", "stderr") if details.get(name)]
    blocked = details.get("blocked") or []
    note = f"\n(the grading sandbox blocked: {'; '.join(blocked)})" if blocked else ""
    if details.get("error"):
        err = details["error"]
        outputs.append(record.error(err["ename"], err["evalue"] + note, err["traceback"] + ([note] if note else [])))
    elif passed is None:
        why = result.stopped or "its process ended before the test finished (did the submission call os._exit()?)"
        tail = f"\nlast output:\n{result.output[-1500:]}" if result.output.strip() else ""
        outputs.append(record.error("GradingStopped", f"this cell's grading stopped: {why}{tail}"))
    elif not passed:
        outputs.append(record.error("GradingSandbox", note.strip() or "the cell failed"))
    return outputs


def grade_student(folder: Path, cells: dict[str, list[GradedCell]], limits: Limits = Limits(),
                  sandboxed: bool = True) -> dict[str, dict[str, list[dict]]]:
    """`{notebook: {grade_id: outputs}}` for each notebook of the course's graded cells the
    student handed in (a missing or unreadable one is skipped: nbgrader scores it 0)."""
    graded = {}
    for name, notebook_cells in cells.items():
        notebook = read_notebook(folder / name)
        if notebook is None:
            continue
        graded[name] = {}
        for job, job_cells in _jobs(notebook, notebook_cells):
            result = run_job(job, limits, sandboxed)
            for cell in job_cells:
                graded[name][cell.grade_id] = _outputs(result, cell.grade_id)
    return graded


# ------------------------------------------------------------------ the class

def _replaceable(root: Path) -> Path:
    """`root`, once sure it is missing, empty or an earlier grading course."""
    if root.exists() and not (root / "gradebook.db").exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} exists and is not a grading course: pick another --course")
    return root


def _fresh_course(root: Path, only: set[str] | None = None) -> Path:
    if _replaceable(root).exists():
        shutil.rmtree(root)
    return make_course(root, only=only)


def _gradebook_scores(course: Path, students) -> dict[str, dict[str, tuple[float, float]]]:
    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in students:
            submission = gradebook.find_submission(ASSIGNMENT, student)
            scores[student] = {grade.name: (float(grade.score), float(grade.max_score))
                               for notebook in submission.notebooks for grade in notebook.grades}
    return scores


def timed_grade_student(folder: Path, cells: dict[str, list[GradedCell]], limits: Limits,
                        sandboxed: bool) -> tuple[dict, float]:
    """`grade_student` and the seconds it took (one Ray task per student runs this)."""
    started = time.monotonic()
    graded = grade_student(folder, cells, limits, sandboxed)
    return graded, time.monotonic() - started


def run_class(submissions: dict[str, Path], cells: dict[str, list[GradedCell]], limits: Limits = Limits(),
              sandboxed: bool = True, workers: int = 1, ray: str | None = None):
    """Yield (student, outputs, seconds) as each student's graded cells finish: `workers`
    students at a time here, or one Ray task per student (`ray`: "local" starts a Ray on
    this machine, or the address of a running cluster)."""
    students = list(submissions)
    args = [(submissions[s], cells, limits, sandboxed) for s in students]
    if ray is None:
        with ThreadPoolExecutor(max(1, workers)) as pool:
            for student, (graded, seconds) in zip(students, pool.map(lambda a: timed_grade_student(*a), args)):
                yield student, graded, seconds
        return
    from iql_lib.parallel.cluster import run_tasks

    address = None if ray == "local" else ray
    for done in run_tasks(timed_grade_student, args, address=address, names=[f"grade {s}" for s in students]):
        if done.error is not None:
            raise RuntimeError(f"grading {students[done.index]} on Ray failed: {done.error}")
        yield students[done.index], *done.value


class UntrustedSandbox(RuntimeError):
    """The sandbox does not give the reference solutions every point, or gives the unwritten
    release some: the grades it gives students would be wrong."""


CHECKED = {REFERENCE: SOLUTIONS, RELEASE: NOTEBOOKS}


def check_sandbox(cells: dict[str, list[GradedCell]], limits: Limits = Limits(), sandboxed: bool = True,
                  workers: int = 1, ray: str | None = None, progress=None) -> None:
    """Grade the reference solutions and the unwritten release like two students, in the same
    sandbox, limits, workers or Ray as the class: raise `UntrustedSandbox`, naming the first
    cause, unless the reference earns every point of `cells` and the release none. A notebook
    that passed before in the same setup (`check_keys`, kept in `cache_folder()`) is not
    graded again, except on a Ray cluster, whose machines are not this one."""
    kept = cache_folder() if ray in (None, "local") else None
    keys = check_keys(cells, SOLUTIONS, NOTEBOOKS,
                      {"limits": asdict(limits), "sandbox": bwrap_version() if sandboxed else None})
    unchecked = {name: found for name, found in cells.items() if kept is None or not passed(kept, keys[name])}
    if not unchecked:
        return
    for who, graded, took in run_class(CHECKED, unchecked, limits, sandboxed, workers, ray):
        if progress:
            progress(who, took)
        wrong = misgraded(who, graded, unchecked)
        if wrong:
            where = "in the sandbox" if sandboxed else "without the sandbox"
            raise UntrustedSandbox(
                f"refusing to grade: {where}, under the class's limits ({limits.cpu_s} s CPU, "
                f"{limits.memory_bytes // MiB} MiB of memory per job), {refusal(who, f'{CHECKED[who].name}/', wrong)}. "
                "Every student would be graded as wrongly, so no grade was written. --timeout and --memory "
                "set the limits; docs/instructors.md, \"The sandbox\", says what they count.")
    if kept is not None:
        for name in unchecked:
            remember(kept, keys[name], name)


def grade_class(submissions: dict[str, Path], course_root: Path, limits: Limits = Limits(),
                sandboxed: bool = True, workers: int = 1, ray: str | None = None, progress=None) -> Grades:
    """Check the sandbox on the notebooks the class handed in (`check_sandbox`), then grade
    every student's graded cells in it and record them with nbgrader."""
    _replaceable(course_root)
    cells = course_cells()
    handed_in = {name: found for name, found in cells.items()
                 if any((folder / name).is_file() for folder in submissions.values())}
    check_sandbox(handed_in, limits, sandboxed, workers, ray, progress)  # before the last record is replaced
    course = _fresh_course(course_root, only=set(cells))  # the notebooks that hold points
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(record.CONFIG)
    seconds = {}
    for student, graded, took in run_class(submissions, cells, limits, sandboxed, workers, ray):
        seconds[student] = took
        dest = course / "submitted" / student / ASSIGNMENT
        dest.mkdir(parents=True)
        for name in graded:
            shutil.copyfile(submissions[student] / name, dest / name)
        record.write_results(course, student, graded)
        if progress:
            progress(student, took)
    run_nbgrader(course, "autograde", ASSIGNMENT)
    run_nbgrader(course, "generate_feedback", ASSIGNMENT)
    return Grades(_gradebook_scores(course, submissions), course, seconds)


def run_notebooks(submissions: dict[str, Path], course_root: Path, cell_timeout: int = NOTEBOOK_CELL_TIMEOUT_S) -> Grades:
    """nbgrader alone: every cell of every notebook executed in a kernel, unsandboxed."""
    course = _fresh_course(course_root)
    for student, folder in submissions.items():
        dest = course / "submitted" / student / ASSIGNMENT
        dest.mkdir(parents=True)
        for path in sorted(Path(folder).glob("*.ipynb")):
            shutil.copy2(path, dest / path.name)
    run_nbgrader(course, "autograde", ASSIGNMENT, f"--Execute.timeout={cell_timeout}", env={FAST_ENV: "1"})
    run_nbgrader(course, "generate_feedback", ASSIGNMENT)
    return Grades(_gradebook_scores(course, submissions), course)


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
    parser.add_argument("--course", type=Path, default=Path("grading"),
                        help="nbgrader course folder kept as the record: gradebook, feedback (grading)")
    parser.add_argument("--timeout", type=int, default=None,
                        help=f"CPU seconds per graded cell ({CELL_TIMEOUT_S}; --run-notebooks: per cell, "
                             f"{NOTEBOOK_CELL_TIMEOUT_S})")
    parser.add_argument("--memory", type=int, default=Limits.memory_bytes // MiB, metavar="MIB",
                        help=f"memory per graded cell's interpreter, in MiB ({Limits.memory_bytes // MiB})")
    parser.add_argument("--jobs", type=int, default=1, help="students graded at the same time (1)")
    parser.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                        help="one Ray task per student: a local Ray (no ADDRESS) or a running cluster "
                             "(needs the sweep extra)")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run the graded cells without the sandbox (unsafe for untrusted notebooks)")
    parser.add_argument("--run-notebooks", action="store_true",
                        help="let nbgrader execute every cell in a kernel (slow, unsandboxed, patchable)")
    args = parser.parse_args(argv)
    try:
        students = collect(args.submissions)
    except (FileNotFoundError, NotADirectoryError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    sandboxed = not (args.no_sandbox or args.run_notebooks)
    problem = unavailable() if sandboxed else None
    if problem:
        print(f"error: no sandbox: {problem}; or pass --no-sandbox for notebooks you trust", file=sys.stderr)
        return 2
    if not sandboxed:
        print("WARNING: grading without the sandbox: the notebooks' code runs as you, with your files "
              "and network; use this only for notebooks you trust.", file=sys.stderr)
    try:
        if args.run_notebooks:
            grades = run_notebooks(students, args.course, args.timeout or NOTEBOOK_CELL_TIMEOUT_S)
        else:
            cpu = args.timeout or CELL_TIMEOUT_S
            limits = Limits(cpu_s=cpu, wall_s=cpu + 60, memory_bytes=args.memory * MiB)
            print("checking the sandbox: the reference solutions must earn every point, the unwritten "
                  f"release none (a passing check is kept in {cache_folder()})", file=sys.stderr, flush=True)
            grades = grade_class(students, args.course, limits, sandboxed, args.jobs, args.ray,
                                 progress=lambda s, t: print(f"graded {s} ({t:.1f} s)", file=sys.stderr, flush=True))
    except (FileExistsError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    write_grades_csv(grades, args.out)
    for student in students:
        score, maximum = grades.total(student)
        took = f"   ({grades.seconds[student]:.1f} s)" if student in grades.seconds else ""
        print(f"{student:<24} {score:g} / {maximum:g}{took}")
    print(f"grades written to {args.out}; gradebook and feedback in {args.course}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
