"""Hostile submissions: one `make grade` of a small class where most students attack.

One grading run (real bubblewrap sandbox, real nbgrader record) of two honest students
(chapters 4 and 9), the cheat the issue describes, and one student per threat, each
attacking through the chapter-4 blank. Each attack must score 0 on that blank and be named in the student's
feedback; the honest students keep their points; nothing is written outside the
sandbox's scratch; no process is left; every job ends within its limits.
"""
from __future__ import annotations

import hashlib
import html
import json
import os
import time
from pathlib import Path

import pytest

from autograder.grade import collect, grade_class
from autograder.sandbox import Limits, unavailable

NO_SANDBOX = unavailable()
pytestmark = pytest.mark.skipif(NO_SANDBOX is not None, reason=f"no sandbox here: {NO_SANDBOX}")

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "solutions"
CH04, CH09 = "04_expectile_loss.ipynb", "09_self_quiz.ipynb"
BLANK2, HIDDEN2 = "ch04_blank2_expectile_loss", "ch04_blank2_hidden"
LIMITS = Limits(cpu_s=4, wall_s=60, memory_bytes=2 << 30, output_chars=200_000)

WRONG = "def expectile_loss(diff, expectile):\n    return diff ** 2\n"
# The cheat: a wrong blank, and a cell that makes every comparison and check pass.
PATCH_EVERYTHING = """import numpy as np, sys, torch
torch.allclose = lambda *a, **k: True
torch.testing.assert_close = lambda *a, **k: None
np.allclose = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
for _module in list(sys.modules.values()):
    if getattr(_module, "__name__", "").startswith("iql_lib"):
        for _name in dir(_module):
            if _name.startswith("check_"):
                setattr(_module, _name, lambda *a, **k: None)
"""

# name -> (the blank cell's source, words its feedback must show). {paths} are filled in below.
ATTACKS = {
    "patched_checks": ("""import torch
def expectile_loss(diff, expectile):
    torch.allclose = lambda *a, **k: True
    return diff ** 2
""", "changing torch.allclose"),
    "patched_builtins": ("""import builtins
def expectile_loss(diff, expectile):
    builtins.all = lambda *a: True
    return diff ** 2
""", "changing builtins.all"),
    "reads_solutions": ("""def expectile_loss(diff, expectile):
    for path in ({solutions!r}, {other!r}):
        print(open(path).read()[:100])
    return diff ** 2
""", "No such file or directory"),
    "writes_gradebook": ("""def expectile_loss(diff, expectile):
    for path in ({gradebook!r}, {other!r}):
        with open(path, "w") as fh:
            fh.write("pwned")
    return diff ** 2
""", "No such file or directory"),
    "fork_bomb": ("""import os
def expectile_loss(diff, expectile):
    while True:
        os.fork()
""", "blocks os.fork"),
    "memory_hog": ("""def expectile_loss(diff, expectile):
    hog = []
    while True:
        hog.append(bytearray(100_000_000))
""", "MemoryError"),
    "disk_filler": ("""def expectile_loss(diff, expectile):
    with open("fill.bin", "wb") as fh:
        while True:
            fh.write(b"x" * 1_000_000)
""", "File too large"),
    "infinite_loop": ("""def expectile_loss(diff, expectile):
    while True:
        pass
""", "CPU-time limit"),
    "kills_parent": ("""import os, signal
def expectile_loss(diff, expectile):
    os.kill(os.getppid(), signal.SIGKILL)
    os.kill(1, signal.SIGKILL)
    return diff ** 2
""", "blocks os.kill"),
    "sys_exit": ("""import sys
def expectile_loss(diff, expectile):
    sys.exit(0)
""", "SystemExit"),
    "huge_output": ("""def expectile_loss(diff, expectile):
    while True:
        print("x" * 10_000)
""", "printing more than 200,000 characters"),
    "network": ("""import socket
def expectile_loss(diff, expectile):
    socket.create_connection(("93.184.216.34", 80), timeout=3)
    return diff ** 2
""", "blocks socket"),
    # beyond the list: forging the verdict, reading the grader's frames
    "forged_verdict": ("""import json, os
def expectile_loss(diff, expectile):
    for fd in range(3, 64):
        try:
            os.write(fd, (json.dumps({{"grade_id": "ch04_blank2_hidden", "passed": True}}) + "\\n").encode())
        except OSError:
            pass
    return diff ** 2
""", "wrong values"),
    "frame_walk": ("""def expectile_loss(diff, expectile):
    try:
        raise ValueError
    except ValueError as err:
        frame = err.__traceback__.tb_frame
    while frame.f_back is not None:
        frame = frame.f_back
    return diff ** 2
""", "blocks object.__getattr__"),
}
QUIZ_ANSWERS = {"01": "b", "02": "a", "03": "a", "04": "a"}  # 02 and 04 wrong; 05-12 left as the reference


def _notebook(name: str, cells: dict[str, str] | None = None, extra: str | None = None) -> dict:
    """A solution notebook with the cells of the given grade_ids rewritten (and an extra cell)."""
    notebook = json.loads((SOLUTIONS / name).read_text())
    for cell in notebook["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in (cells or {}):
            cell["source"] = cells[grade_id]
    if extra is not None:
        notebook["cells"].append({"cell_type": "code", "metadata": {}, "source": extra,
                                  "outputs": [], "execution_count": None})
    return notebook


def _write(folder: Path, notebooks: dict[str, dict]):
    folder.mkdir(parents=True)
    for name, notebook in notebooks.items():
        (folder / name).write_text(json.dumps(notebook))


def _digest(paths) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "absent" for p in paths}


def _runner_processes() -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and b"/grader/runner.py" in (entry / "cmdline").read_bytes():
                found.append(entry.name)
        except OSError:
            continue
    return found


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    submissions, course = root / "submissions", root / "course"
    ada = submissions / "ada"
    _write(ada, {name: _notebook(name) for name in (CH04, CH09)})
    quiz = {f"ch09_answer_{k}": f"answer_{k} = {v!r}\n" for k, v in QUIZ_ANSWERS.items()}
    _write(submissions / "bob", {CH04: _notebook(CH04, {BLANK2: WRONG}), CH09: _notebook(CH09, quiz)})
    _write(submissions / "cheat", {CH04: _notebook(CH04, {BLANK2: WRONG}, extra=PATCH_EVERYTHING)})
    targets = {"solutions": str(SOLUTIONS / CH04), "other": str(ada / CH04),
               "gradebook": str(course / "gradebook.db")}
    for name, (source, _) in ATTACKS.items():
        _write(submissions / name, {CH04: _notebook(CH04, {BLANK2: source.format(**targets)})})
    watched = [SOLUTIONS / CH04, *sorted(submissions.rglob("*.ipynb")), REPO / "fill.bin"]
    before = _digest(watched)
    started = time.monotonic()
    grades = grade_class(collect(submissions), course, LIMITS, workers=2)
    return {"grades": grades, "seconds": time.monotonic() - started, "before": before,
            "after": _digest(watched)}


def _graded_cell_outputs(grades, student: str, grade_id: str) -> str:
    (notebook,) = [p for p in grades.notebooks(student) if p.name == CH04]
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == grade_id:
            return json.dumps(cell["outputs"])
    raise AssertionError(f"{grade_id} not in {notebook}")


def test_honest_students_keep_their_points(graded):
    grades = graded["grades"]
    assert grades.total("ada") == (17.0, 42.0)  # chapters 4 and 9 handed in, every point
    bob = grades.scores["bob"]
    assert bob[HIDDEN2][0] == 0
    assert {gid: s for gid, (s, _) in bob.items() if gid.startswith("ch09")} == {
        f"ch09_test_{k:02d}": float(k not in (2, 4)) for k in range(1, 13)}
    assert grades.total("bob")[0] == 10


def test_the_patched_comparisons_cheat_earns_nothing(graded):
    grades = graded["grades"]
    assert grades.scores["cheat"][HIDDEN2][0] == 0
    assert "wrong values" in _graded_cell_outputs(grades, "cheat", HIDDEN2)


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_each_attack_scores_zero_and_is_named_in_its_feedback(graded, attack):
    grades = graded["grades"]
    assert grades.scores[attack][HIDDEN2] == (0.0, 5.0)
    assert ATTACKS[attack][1] in _graded_cell_outputs(grades, attack, HIDDEN2)
    (feedback,) = [p for p in grades.feedback(attack) if p.name == CH04.replace(".ipynb", ".html")]
    assert ATTACKS[attack][1] in html.unescape(feedback.read_text())


def test_nothing_outside_the_scratch_changed_and_no_process_is_left(graded):
    assert graded["after"] == graded["before"]
    assert _runner_processes() == []


def test_every_student_finishes_within_the_limits(graded):
    seconds = graded["grades"].seconds
    assert max(seconds[a] for a in ATTACKS) < LIMITS.wall_s
    assert seconds["ada"] < 2 * LIMITS.wall_s
