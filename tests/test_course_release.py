"""The course as students and instructors get it: generated notebooks, nbgrader grading,
the student bundle. Every notebook runs top to bottom in a real Jupyter kernel here.

One nbgrader autograde (fast mode) grades two submissions: the instructor's solutions
and the untouched student release. That single run is the test that the solution
notebooks execute cleanly, earn full marks, and that the release earns nothing.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.course import ASSIGNMENT, NOTEBOOKS, SOLUTIONS, make_course, run_nbgrader, source_notebooks
from autograder.grade import run_notebooks
from autograder.release import build_bundle, generate_notebooks
from iql_lib.algos.blanks import BLANK_NAMES

REPO = Path(__file__).resolve().parents[1]
NOT_WRITTEN = "not written yet"


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _source(cell: dict) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def _errors(path: Path) -> list[tuple[dict, dict]]:
    """(cell, error output) for every cell of an executed notebook that raised."""
    return [(cell, out) for cell in _cells(path) for out in cell.get("outputs", [])
            if out.get("output_type") == "error"]


# ------------------------------------------------------------ sources and generation

def test_source_notebooks_are_committed_without_outputs():
    for path in source_notebooks():
        for cell in _cells(path):
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, path.name


def test_every_blank_has_a_solution_cell_and_a_graded_test():
    sources = {path.name: _cells(path) for path in source_notebooks()}
    ids = [cell["metadata"]["nbgrader"]["grade_id"] for cells in sources.values() for cell in cells
           if "nbgrader" in cell["metadata"]]
    assert len(ids) == len(set(ids)), "grade ids must be unique across the course"
    for number, name in enumerate(BLANK_NAMES, 1):
        solutions = [cell for cells in sources.values() for cell in cells
                     if cell["metadata"].get("nbgrader", {}).get("solution") and f"def {name}(" in _source(cell)]
        assert len(solutions) == 1, f"blank {number} ({name}) needs exactly one solution cell"
        assert f"blank{number}" in solutions[0]["metadata"]["nbgrader"]["grade_id"]
        graded = [cell for cells in sources.values() for cell in cells
                  if cell["metadata"].get("nbgrader", {}).get("grade")
                  and f"blank{number}" in cell["metadata"]["nbgrader"]["grade_id"]]
        assert graded and all("BEGIN HIDDEN TESTS" in _source(cell) for cell in graded), name


@pytest.mark.slow
def test_committed_student_notebooks_are_up_to_date_with_solutions(tmp_path):
    fresh = generate_notebooks(tmp_path / "notebooks")
    committed = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert [p.name for p in fresh] == [p.name for p in committed], "run `make notebooks` and commit"
    for new, old in zip(fresh, committed):
        assert json.loads(new.read_text()) == json.loads(old.read_text()), (
            f"notebooks/{old.name} is out of date with solutions/: run `make notebooks` and commit")


def test_student_notebooks_hold_no_solution_code():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        text = path.read_text()
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "HIDDEN TESTS"):
            assert marker not in text, f"{path.name} contains {marker!r}"
    release_cells = {cell["id"]: _source(cell) for path in NOTEBOOKS.glob("*.ipynb") for cell in _cells(path)}
    for path in source_notebooks():
        for cell in _cells(path):
            if cell["metadata"].get("nbgrader", {}).get("solution"):
                answer = _source(cell).split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
                for line in filter(str.strip, answer.splitlines()):
                    if len(line.strip()) > 12:  # a real line of the answer, not `return x`
                        assert line not in release_cells[cell["id"]], f"{path.name}: answer line {line!r}"


# ------------------------------------------------------------ grading the whole course

@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return run_notebooks({"solution": SOLUTIONS, "release": NOTEBOOKS}, tmp_path_factory.mktemp("course") / "course")


@pytest.mark.slow
def test_solution_notebooks_run_clean_and_earn_full_marks(graded):
    notebooks = graded.notebooks("solution")
    assert [p.name for p in notebooks] == [p.name for p in source_notebooks()]
    for path in notebooks:
        assert _errors(path) == [], f"{path.name} raised: {[e['evalue'][:300] for _, e in _errors(path)]}"
        assert all(cell.get("execution_count") for cell in _cells(path) if cell["cell_type"] == "code"), (
            f"{path.name}: not every code cell ran")
    lost = {gid: s for gid, s in graded.scores["solution"].items() if s[0] != s[1]}
    assert lost == {}, f"the reference solution lost points: {lost}"
    score, maximum = graded.total("solution")
    assert score == maximum > 0


@pytest.mark.slow
def test_graded_runs_draw_chapter_3_statically_not_under_sliders(graded):
    """nbgrader runs a notebook with nobody at the keyboard: chapter 3's explorers draw
    their figures instead of slider widgets, which can stall its client (jupyter/nbclient#312)."""
    chapter_3 = next(p for p in graded.notebooks("solution") if p.name.startswith("03_"))
    outputs = [out.get("data", {}) for cell in _cells(chapter_3) for out in cell.get("outputs", [])]
    assert not any("application/vnd.jupyter.widget-view+json" in data for data in outputs)
    explorers = [cell for cell in _cells(chapter_3) if _source(cell).startswith("explore_")]
    assert len(explorers) == 2
    assert all(any("image/png" in out.get("data", {}) for out in cell["outputs"]) for cell in explorers)


@pytest.mark.slow
def test_graded_runs_show_chapter_8s_rollouts_as_still_frames(graded):
    """Under nbgrader chapter 8 shows each watched run's episode as still frames (one PNG),
    not a GIF, which would swell every graded copy; fast mode trains IQL and AWAC on
    PointMass, so both are shown."""
    chapter_8 = next(p for p in graded.notebooks("solution") if p.name.startswith("08_"))
    (watch,) = [cell for cell in _cells(chapter_8) if cell.get("id") == "c_watch"]
    shown = [out["data"] for out in watch["outputs"] if "data" in out]
    assert len(shown) == 2 and all(set(data) >= {"image/png"} and "image/gif" not in data for data in shown)


@pytest.mark.slow
def test_release_earns_zero_on_every_blank_and_quiz_question(graded):
    scores = graded.scores["release"]
    assert scores.keys() == graded.scores["solution"].keys()
    assert {gid: s for gid, s in scores.items() if s[0] != 0} == {}
    for number in range(1, len(BLANK_NAMES) + 1):
        assert any(f"blank{number}" in gid for gid in scores), f"no graded cell for blank {number}"


@pytest.mark.slow
def test_release_fails_only_at_the_blanks_and_names_the_chapter(graded):
    """Every error is an unwritten blank, an unanswered quiz question, or a name that an
    earlier cell would have defined had its blank been written."""
    for path in graded.notebooks("release"):
        errors = _errors(path)
        failed_sources = []
        for cell, error in errors:
            missing = re.fullmatch(r"name '(\w+)' is not defined", error["evalue"])
            if error["ename"] == "NameError" and missing:
                assert any(re.search(rf"\b{missing[1]}\b\s*=", src) for src in failed_sources), (
                    f"{path.name}: {error['evalue']}, and no earlier failed cell defines it")
            elif error["ename"] == "ChoiceError":
                assert "no choice yet" in error["evalue"], f"{path.name}: {error['evalue'][:300]}"
            else:
                assert error["ename"] in ("NotImplementedError", "BlankNotWritten", "BlankError"), (
                    f"{path.name}: a cell failed for another reason: {error['ename']}: {error['evalue'][:300]}")
                assert NOT_WRITTEN in error["evalue"], f"{path.name}: {error['evalue'][:300]}"
            failed_sources.append(_source(cell))
        has_blank = any(cell["metadata"].get("nbgrader", {}).get("solution") and "def " in _source(cell)
                        for cell in _cells(path))
        if has_blank:
            assert any(re.search(r"Blank \d \(\w+\) is not written yet: write it in chapter \d, 0\d_\w+\.ipynb", e["evalue"])
                       for _, e in errors), f"{path.name}: no error names the blank and its chapter"


@pytest.mark.slow
def test_autograde_restores_hidden_tests_quietly_and_reports_a_changed_locked_cell(tmp_path):
    """The gradebook keeps each graded cell with its hidden tests: one handed in as released
    gets them back with no warning, one the student changed is reported (and restored too)."""
    quiz = "09_self_quiz.ipynb"
    course = make_course(tmp_path / "course", only={quiz})
    released = json.loads((NOTEBOOKS / quiz).read_text())
    edited = json.loads((NOTEBOOKS / quiz).read_text())
    next(cell for cell in edited["cells"]
         if cell["metadata"].get("nbgrader", {}).get("grade_id") == "ch09_test_03")["source"] = "print('fine')"
    for student, notebook in (("as_released", released), ("edited", edited)):
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / quiz).write_text(json.dumps(notebook))
    log = run_nbgrader(course, "autograde", ASSIGNMENT).stderr
    assert re.findall(r"Attribute '(\w+)' for cell (\w+) has changed", log) == [("checksum", "ch09_test_03")], log[-3000:]
    for student in ("as_released", "edited"):
        graded = _cells(course / "autograded" / student / ASSIGNMENT / quiz)
        assert sum("BEGIN HIDDEN TESTS" in _source(cell) for cell in graded) == 12, student


# ------------------------------------------------------------ the student bundle

def _fresh_python(tmp_path: Path, bundle: Path) -> Path:
    """A new virtual environment with the bundle installed (editable, as its README says);
    third-party packages come from this environment's site-packages, without its iql_lib."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    ours = subprocess.run([sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "deps.pth").write_text(ours + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "-e", str(bundle)], check=True)
    return python


@pytest.mark.slow
def test_release_bundle_holds_no_answers_and_fails_only_at_the_blanks(tmp_path):
    bundle = build_bundle(tmp_path / "dist")
    names = {p.name for p in bundle.iterdir()}
    assert {"notebooks", "iql_lib", "datasets", "tests", "README.md", "Makefile", "venv.mk", "pyproject.toml", "environment.yml"} <= names
    assert not {"solutions", "autograder", "benchmarks"} & names
    for path in bundle.rglob("*"):
        if path.suffix in (".py", ".ipynb", ".md"):
            text = path.read_text()
            assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text, path

    readme = (bundle / "README.md").read_text()
    assert "iql-grade" in readme and "fast mode" in readme and "Validate" in readme and "{TORCH}" not in readme
    assert re.search(r'pip install "torch==[\d.]+"', readme), "the no-make route must install the CPU pin"
    assert "make demo" not in (bundle / "environment.yml").read_text()  # the bundle has no demo

    python = _fresh_python(tmp_path, bundle)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run([str(python), "-c", "import iql_lib; print(iql_lib.__file__)"], cwd=tmp_path,
                           capture_output=True, text=True, env=env, check=True).stdout.strip()
    assert where == str(bundle / "iql_lib" / "__init__.py")
    stub = subprocess.run([str(python), "-c", "from iql_lib.assignment.blank_sources import load_blanks; "
                           "load_blanks('solutions')"], cwd=bundle, capture_output=True, text=True, env=env)
    assert stub.returncode != 0 and "no solutions/ folder" in stub.stderr
    helped = subprocess.run([str(python), "-c", "from iql_lib.cli import train_main; train_main(['--help'])"],
                            cwd=bundle, capture_output=True, text=True, env=env).stdout
    assert "(default: notebooks)" in " ".join(helped.split()), helped[-1500:]  # students have no solutions/
    # ... set by the bundle's configuration file, not by editing the library's source
    assert (bundle / "iql_lib" / "config.py").read_bytes() == (REPO / "iql_lib" / "config.py").read_bytes()
    assert (bundle / "iql_lib" / "installation.toml").exists() and not (REPO / "iql_lib" / "installation.toml").exists()

    report = tmp_path / "report.xml"
    result = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests",
                             f"--junitxml={report}"], cwd=bundle, capture_output=True, text=True, env=env)
    failed = set(re.findall(r"FAILED tests/test_public.py::(\S+)", result.stdout))
    assert failed == {f"test_blank[{name}]" for name in BLANK_NAMES}, result.stdout[-3000:]
    assert result.stdout.count(NOT_WRITTEN) >= len(BLANK_NAMES)
    assert re.search(r"6 failed, \d+ passed", result.stdout), result.stdout[-500:]


def test_public_tests_pass_with_the_reference_blanks():
    env = {**os.environ, "IQL_BLANKS": str(SOLUTIONS)}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(REPO / "autograder" / "student" / "tests")], cwd=REPO,
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.mark.slow
def test_nbgrader_validate_names_a_wrong_blank_and_its_hint(tmp_path):
    """Validate runs the visible check in the graded cell: a wrong blank fails with its hint."""
    from tests.guide_answers import GUIDE_ANSWERS, write_guide_answers

    wrong = GUIDE_ANSWERS["expectile_loss"].replace("(diff < 0)", "(diff > 0)")  # ζ and 1 − ζ swapped
    path = write_guide_answers(NOTEBOOKS / "04_expectile_loss.ipynb", tmp_path / "04_expectile_loss.ipynb")
    path.write_text(path.read_text().replace(json.dumps(GUIDE_ANSWERS["expectile_loss"].splitlines()[0])[1:-1],
                                             json.dumps(wrong.splitlines()[0])[1:-1]))
    result = subprocess.run([sys.executable, "-m", "nbgrader", "validate", path.name], cwd=tmp_path,
                            capture_output=True, text=True, env={**os.environ, "PATH": os.path.dirname(sys.executable)
                                                                 + os.pathsep + os.environ["PATH"]})
    report = result.stdout + result.stderr
    assert "VALIDATION FAILED" in report, report[-2000:]
    assert "Blank 2 (expectile_loss): negative errors got weight ζ" in report, report[-2000:]
