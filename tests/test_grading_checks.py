"""The check before grading: the reference solutions must earn every point and the unwritten
release none, in the sandbox (`make grade`) and in nbgrader's kernel (`nbgrader autograde`,
Formgrader's Autograde); a passing check is kept and not run again, a failing one never is.

nbgrader's autograde runs here for real on a course folder as `make grade` builds one
(chapters 4 and 9), once with a kernel that cannot import torch (a kernelspec first on
JUPYTER_PATH whose Python finds a torch that raises), once with the machine's own kernel.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from autograder.course import ASSIGNMENT, NOTEBOOKS, SOLUTIONS, make_course, run_nbgrader
from autograder.extract import GradedCell, course_cells
from autograder.grade import UntrustedSandbox, check_sandbox
from autograder.kernel_check import CHECKS
from autograder.reference_check import CACHE_ENV, REFERENCE, RELEASE, check_keys
from autograder.sandbox import Limits

CH04, CH09 = "04_expectile_loss.ipynb", "09_self_quiz.ipynb"
NO_TORCH = "torch cannot load in this kernel"
LIMITS = Limits(cpu_s=10, wall_s=60)


# ------------------------------------------------------------ make grade's check, kept

def test_a_passing_check_is_kept_and_runs_once_a_failing_one_runs_every_time(tmp_path, monkeypatch):
    kept = tmp_path / "checks"
    monkeypatch.setenv(CACHE_ENV, str(kept))
    cells = {CH09: course_cells()[CH09][:1]}
    ran = []
    for _ in range(2):
        check_sandbox(cells, LIMITS, sandboxed=False, progress=lambda who, took: ran.append(who))
    assert ran == [REFERENCE, RELEASE] and len(list(kept.iterdir())) == 1

    lenient = GradedCell(CH09, "ch09_lenient", 1.0, "assert True", (), ("ch09_answer_01",))
    for _ in range(2):
        with pytest.raises(UntrustedSandbox, match="the unwritten release .* earns points: ch09_lenient"):
            check_sandbox({CH09: [lenient]}, LIMITS, sandboxed=False, progress=lambda who, took: ran.append(who))
    assert ran[2:] == [REFERENCE, RELEASE] * 2 and len(list(kept.iterdir())) == 1


def test_the_key_of_a_check_changes_with_what_its_verdict_depends_on(tmp_path):
    cells = {name: found for name, found in course_cells().items() if name in (CH04, CH09)}
    key = lambda release=NOTEBOOKS, **runs_in: check_keys(cells, SOLUTIONS, release, {"limits": 1, **runs_in})
    assert key() == key() and len(set(key().values())) == 2
    assert key(limits=2)[CH04] != key()[CH04]
    edited = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, edited)
    (edited / CH04).write_text((edited / CH04).read_text().replace("YOUR CODE HERE", "your code here"))
    assert key(edited)[CH04] != key()[CH04] and key(edited)[CH09] == key()[CH09]


# ------------------------------------------------------------ nbgrader's autograde

@pytest.fixture(scope="module")
def release_course(tmp_path_factory) -> Path:
    """A course of chapters 4 and 9 as `make grade` builds one, its release generated."""
    return make_course(tmp_path_factory.mktemp("release") / "course", only={CH04, CH09})


@pytest.fixture
def course(release_course, tmp_path) -> Path:
    course = tmp_path / "course"
    shutil.copytree(release_course, course)
    return course


@pytest.fixture
def no_torch_kernel(tmp_path, monkeypatch):
    """nbgrader's kernel, `python3`, made unable to import torch (and nothing else changed)."""
    broken = tmp_path / "broken"
    (broken / "torch").mkdir(parents=True)
    (broken / "torch" / "__init__.py").write_text(f"raise ImportError({NO_TORCH!r})\n")
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3", "language": "python", "env": {"PYTHONPATH": str(broken)}}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))


def _hand_in(course: Path, student: str, notebook: Path):
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(notebook, folder / notebook.name)


def _grades(course: Path) -> dict[str, float]:
    """Each student's autograded points in the gradebook (students with none left out)."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return {submission.student.id: submission.score for submission in gradebook.assignment_submissions(ASSIGNMENT)}


REFUSAL = ("refusing to autograde: in nbgrader's kernel (python3: {python}), the reference solutions (source/iql/) "
           f"lose points: ch04_blank2_hidden scores 0 / 5 with ImportError: {NO_TORCH}. Every submission would be "
           "graded as wrongly, so none was graded.")


@pytest.mark.slow
def test_nbgrader_autograde_refuses_where_its_kernel_cannot_import_torch(course, no_torch_kernel):
    _hand_in(course, "ada", SOLUTIONS / CH04)
    with pytest.raises(RuntimeError) as failed:
        run_nbgrader(course, "autograde", ASSIGNMENT)
    log = str(failed.value)
    assert log.count("refusing to autograde") == 1 and REFUSAL.format(python=sys.executable) in log, log
    assert _grades(course) == {} and not (course / "autograded").exists() and not (course / CHECKS).exists()


@pytest.mark.slow
def test_formgrader_s_autograde_refuses_the_same_way(course, no_torch_kernel, monkeypatch):
    """Formgrader's Autograde button asks nbgrader's API to autograde one submission, with the
    configuration of the folder the server runs in: the same refusal, in the log it shows."""
    from nbgrader.apps import NbGrader
    from nbgrader.apps.api import NbGraderAPI

    _hand_in(course, "ada", SOLUTIONS / CH04)
    monkeypatch.chdir(course)
    app = NbGrader()
    app.load_config_file()
    result = NbGraderAPI(parent=app).autograde(ASSIGNMENT, "ada")
    assert result["success"] is False and REFUSAL.format(python=sys.executable) in result["log"], result
    assert _grades(course) == {} and not (course / "autograded").exists()


@pytest.mark.slow
def test_an_honest_class_autogrades_and_the_kernel_is_checked_once(course):
    _hand_in(course, "ada", SOLUTIONS / CH09)
    first = run_nbgrader(course, "autograde", ASSIGNMENT).stderr
    _hand_in(course, "bob", NOTEBOOKS / CH09)
    second = run_nbgrader(course, "autograde", ASSIGNMENT).stderr
    assert "Checking nbgrader's kernel on 09_self_quiz.ipynb" in first and "Checking nbgrader's kernel" not in second
    assert _grades(course) == {"ada": 12.0, "bob": 0.0} and len(list((course / CHECKS).iterdir())) == 1
