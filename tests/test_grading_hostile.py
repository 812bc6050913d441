"""Hostile submissions: `make grade` of a small class where most students attack, as root
and as a normal user.

One grading run per user (`python -m autograder.grade`, the real bubblewrap sandbox and
nbgrader record) of two honest students (chapters 4 and 9), the cheat the issue
describes, and one student per threat, each attacking through the chapter-4 blank. Each
attack must score 0 on that blank and be named in the student's feedback; the honest
students keep their points; nothing is written outside the sandbox's scratch; no process
is left; every job ends within its limits. Run as root, the suite also grades the class
as a normal user it creates; run as a normal user, it grades as itself.
"""
from __future__ import annotations

import csv
import hashlib
import html
import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from autograder.course import ASSIGNMENT
from autograder.sandbox import unavailable

NO_SANDBOX = unavailable()
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(NO_SANDBOX is not None, reason=f"no sandbox here: {NO_SANDBOX}")]

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "solutions"
CH04, CH09 = "04_expectile_loss.ipynb", "09_self_quiz.ipynb"
BLANK2, HIDDEN2 = "ch04_blank2_expectile_loss", "ch04_blank2_hidden"
CPU_S, MEMORY_MIB = 4, 2048  # --timeout and --memory; the wall-clock limit is CPU_S + 60
NORMAL_USER = "iql-grader"  # created when the suite runs as root, and kept

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

# name -> (the blank cell's source, *words its feedback must show). {paths} are filled in below.
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
    # memory the data limit does not count: a shared mapping, files in the container's / and /dev
    "shared_memory": ("""import mmap, torch
def expectile_loss(diff, expectile):
    refused = 0
    for path in ("/dev/shm/hog", "/hog"):
        try:
            torch.from_file(path, shared=True, size=1_000_000)
        except RuntimeError as err:
            refused += "Read-only file system" in str(err)
    print(f"{{refused}} of 2 shared files refused")
    hog = mmap.mmap(-1, 1 << 32)
    while True:
        hog.write(b"x" * 100_000_000)
""", "2 of 2 shared files refused", "blocks mmap.__new__"),
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
""", "printing more than 1,000,000 characters"),
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


def _normal_user() -> pwd.struct_passwd:
    """A normal user who can run this checkout's Python: made if missing (and kept: another
    test session may be using it), and let through the folders above the Python and the
    checkout that others may not enter (`setfacl -m u:<user>:x`, that folder alone)."""
    try:
        user = pwd.getpwnam(NORMAL_USER)
    except KeyError:
        made = subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", NORMAL_USER],
                              capture_output=True, text=True)
        assert made.returncode in (0, 9), made.stderr  # 9: another session made it meanwhile
        user = pwd.getpwnam(NORMAL_USER)
    needed = (Path(sys.executable).resolve(), Path(sys.prefix), Path(sys.base_prefix), REPO)
    closed = sorted({folder for path in needed for folder in path.parents
                     if not folder.stat().st_mode & stat.S_IXOTH})
    if closed and shutil.which("setfacl") is None:
        pytest.skip(f"{NORMAL_USER} cannot reach this Python through {', '.join(map(str, closed))}, "
                    "and setfacl is missing to let it (apt-get install acl)")
    for folder in closed:
        subprocess.run(["setfacl", "-m", f"u:{NORMAL_USER}:x", str(folder)], check=True)
    return user


@pytest.fixture(scope="module", params=["root", "normal user"])
def graded(request):
    """The class graded by `python -m autograder.grade` run as root or as a normal user: the
    grades CSV by student, the course folder, seconds per student, and digests of the
    files the attacks aim at, before and after."""
    if request.param == "root" and os.geteuid() != 0:
        pytest.skip(f"the suite runs as {pwd.getpwuid(os.geteuid()).pw_name}, not as root")
    user = _normal_user() if request.param == "normal user" and os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
    root = Path(tempfile.mkdtemp(prefix="iql-class-"))
    submissions, course, out = root / "submissions", root / "course", root / "grades.csv"
    ada = submissions / "ada"
    _write(ada, {name: _notebook(name) for name in (CH04, CH09)})
    quiz = {f"ch09_answer_{k}": f"answer_{k} = {v!r}\n" for k, v in QUIZ_ANSWERS.items()}
    _write(submissions / "bob", {CH04: _notebook(CH04, {BLANK2: WRONG}), CH09: _notebook(CH09, quiz)})
    _write(submissions / "cheat", {CH04: _notebook(CH04, {BLANK2: WRONG}, extra=PATCH_EVERYTHING)})
    targets = {"solutions": str(SOLUTIONS / CH04), "other": str(ada / CH04),
               "gradebook": str(course / "gradebook.db")}
    for name, (source, *_) in ATTACKS.items():
        _write(submissions / name, {CH04: _notebook(CH04, {BLANK2: source.format(**targets)})})
    for path in (root, *root.rglob("*")):
        os.chown(path, user.pw_uid, user.pw_gid)
    watched = [SOLUTIONS / CH04, *sorted(submissions.rglob("*.ipynb")), REPO / "fill.bin"]
    before = _digest(watched)
    as_user = [] if user.pw_uid == os.geteuid() else ["runuser", "-u", user.pw_name, "--", "env", f"HOME={root}"]
    done = subprocess.run([*as_user, sys.executable, "-m", "autograder.grade", str(submissions), "--course",
                           str(course), "--out", str(out), "--jobs", "2", "--timeout", str(CPU_S),
                           "--memory", str(MEMORY_MIB)], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    yield {"rows": {row["student"]: row for row in csv.DictReader(out.open())}, "course": course,
           "seconds": {m[1]: float(m[2]) for m in re.finditer(r"^(\S+) .* \(([\d.]+) s\)$", done.stdout, re.M)},
           "before": before, "after": _digest(watched)}
    shutil.rmtree(root)


def _ch04(graded, folder: str, student: str, suffix: str = ".ipynb") -> Path:
    return graded["course"] / folder / student / ASSIGNMENT / CH04.replace(".ipynb", suffix)


def _graded_cell_outputs(graded, student: str, grade_id: str) -> str:
    notebook = _ch04(graded, "autograded", student)
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == grade_id:
            return json.dumps(cell["outputs"])
    raise AssertionError(f"{grade_id} not in {notebook}")


def test_honest_students_keep_their_points(graded):
    ada, bob = graded["rows"]["ada"], graded["rows"]["bob"]
    assert (ada["total"], ada["max"]) == ("17", "42")  # chapters 4 and 9 handed in, every point
    assert bob[HIDDEN2] == "0"
    assert {gid: bob[gid] for gid in bob if gid.startswith("ch09")} == {
        f"ch09_test_{k:02d}": str(int(k not in (2, 4))) for k in range(1, 13)}
    assert bob["total"] == "10"


def test_the_patched_comparisons_cheat_earns_nothing(graded):
    assert graded["rows"]["cheat"][HIDDEN2] == "0"
    assert "wrong values" in _graded_cell_outputs(graded, "cheat", HIDDEN2)


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_each_attack_scores_zero_and_is_named_in_its_feedback(graded, attack):
    assert graded["rows"][attack][HIDDEN2] == "0"
    feedback = html.unescape(_ch04(graded, "feedback", attack, ".html").read_text())
    for words in ATTACKS[attack][1:]:
        assert words in _graded_cell_outputs(graded, attack, HIDDEN2)
        assert words in feedback


def test_nothing_outside_the_scratch_changed_and_no_process_is_left(graded):
    assert graded["after"] == graded["before"]
    assert _runner_processes() == []


def test_every_student_finishes_within_the_limits(graded):
    seconds, wall_s = graded["seconds"], CPU_S + 60
    assert set(seconds) == set(graded["rows"])
    assert max(seconds[a] for a in ATTACKS) < wall_s
    assert seconds["ada"] < 2 * wall_s
