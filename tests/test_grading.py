"""Grading: the hidden tests separate right from wrong blanks, a broken blank costs only its
own points, and learners grade their own notebooks with `iql-grade`.

The hidden tests are the graded cells of `solutions/` (what nbgrader runs). Here they run
directly (exec) against the reference with one blank swapped for a typical mistake; one
real nbgrader autograde then checks that blanks that raise, return NaN or loop forever
cost their own cells and nothing else. A sandbox that cannot run the tests, or a test
the unwritten release passes, stops the grading before any grade is written.
"""
from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

from autograder.extract import GradedCell
from autograder.grade import UntrustedSandbox, check_sandbox, collect, grade_class, main as grade_main
from autograder.sandbox import Limits, run_job, unavailable
from iql_lib.algos.blanks import BLANK_NAMES
from iql_lib.assignment.blank_sources import load_blanks
from iql_lib.course.grade import main as iql_grade_main

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"
REF = load_blanks(str(SOLUTIONS))


def _hidden_cells() -> dict[str, str]:
    """grade_id -> source of every graded cell of the blanks."""
    cells = {}
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            meta = cell["metadata"].get("nbgrader", {})
            if meta.get("grade") and "blank" in meta["grade_id"]:
                cells[meta["grade_id"]] = "".join(cell["source"])
    return cells


HIDDEN = _hidden_cells()


def _failing_cells(**swapped) -> set[str]:
    """The graded cells that fail when the reference blanks have `swapped` in place."""
    failed = set()
    for grade_id, source in HIDDEN.items():
        namespace = {"torch": torch, "nn": nn, **{n: getattr(REF, n) for n in BLANK_NAMES}, **swapped}
        try:
            exec(source, namespace)
        except Exception:
            failed.add(grade_id)
    return failed


def _cells_of(number: int) -> set[str]:
    return {gid for gid in HIDDEN if f"blank{number}" in gid}


def test_every_blank_has_graded_cells_and_the_reference_passes_them_all():
    for number in range(1, 7):
        assert _cells_of(number), f"no graded cell for blank {number}"
    assert _failing_cells() == set()


def _mlp(ob_dim, hidden_size, n_layers, out_act=None, flatten=False):
    layers, width = [], ob_dim
    for _ in range(n_layers):
        layers += [nn.Linear(width, hidden_size), nn.ReLU()]
        width = hidden_size
    layers.append(nn.Linear(width, 1))
    layers += [out_act] if out_act is not None else []
    layers += [nn.Flatten(0)] if flatten else []
    return nn.Sequential(*layers)


def _weights(diff, zeta):
    return torch.where(diff < 0, 1 - zeta, zeta)


def _q_losses(target):
    def q_losses(q1, q2, v_net, next_obs, reward, terminal, gamma):
        y = target(v_net, next_obs, reward, terminal, gamma)
        return nn.functional.mse_loss(q1, y), nn.functional.mse_loss(q2, y)
    return q_losses


WRONG = {
    1: {
        "output [B]": lambda d, hidden_size=256, n_layers=2: _mlp(d, hidden_size, n_layers, flatten=True),
        "ReLU on the output": lambda d, hidden_size=256, n_layers=2: _mlp(d, hidden_size, n_layers, nn.ReLU()),
        "tanh on the output": lambda d, hidden_size=256, n_layers=2: _mlp(d, hidden_size, n_layers, nn.Tanh()),
        "ignores n_layers": lambda d, hidden_size=256, n_layers=2: _mlp(d, hidden_size, 2),
        "ignores hidden_size": lambda d, hidden_size=256, n_layers=2: _mlp(d, 64, n_layers),
    },
    2: {
        "swapped ζ and 1−ζ": lambda diff, z: (1 - _weights(diff, z)) * diff**2,
        "mean instead of per sample": lambda diff, z: (_weights(diff, z) * diff**2).mean(),
        "|diff| instead of diff²": lambda diff, z: _weights(diff, z) * diff.abs(),
        "signed weight": lambda diff, z: (z - (diff < 0).to(diff.dtype)) * diff**2,
    },
    3: {
        "sign flip v − q": lambda q, v, z: REF.expectile_loss(v - q.detach(), z).mean(),
        "sum instead of mean": lambda q, v, z: REF.expectile_loss(q.detach() - v, z).sum(),
        "1−ζ passed for ζ": lambda q, v, z: REF.expectile_loss(q.detach() - v, 1 - z).mean(),
    },
    4: {
        "missing terminal mask": _q_losses(lambda v, s, r, d, g: (r + g * v(s).squeeze(-1)).detach()),
        "missing γ": _q_losses(lambda v, s, r, d, g: (r + (1 - d) * v(s).squeeze(-1)).detach()),
        "gradient leaking into V": _q_losses(lambda v, s, r, d, g: r + g * (1 - d) * v(s).squeeze(-1)),
        "V(s') not squeezed": _q_losses(lambda v, s, r, d, g: (r + g * (1 - d) * v(s)).detach()),
    },
    5: {
        "sign flip": lambda q, v: v - q,
        "shape [B, 1]": lambda q, v: (q - v).unsqueeze(-1),
        "absolute value": lambda q, v: (q - v).abs(),
    },
    6: {
        "unclamped weights": lambda lp, a, t, max_weight=50.0: -(torch.exp(a.detach() / t) * lp).mean(),
        "sign": lambda lp, a, t, max_weight=50.0: (torch.exp(a.detach() / t).clamp(max=max_weight) * lp).mean(),
        "A·λ instead of A/λ": lambda lp, a, t, max_weight=50.0: -(torch.exp(a.detach() * t).clamp(max=max_weight) * lp).mean(),
    },
}


@pytest.mark.filterwarnings("ignore:Using a target size")  # the unsqueezed V(s') mistake
@pytest.mark.parametrize("number, mistake", [(n, m) for n, mistakes in WRONG.items() for m in mistakes])
def test_a_typical_mistake_loses_its_blanks_points_and_only_those(number, mistake):
    name = BLANK_NAMES[number - 1]
    assert _failing_cells(**{name: WRONG[number][mistake]}) == _cells_of(number)


def test_a_wrong_expectile_loss_does_not_cost_the_value_loss_points():
    # value_loss calls the learner's expectile_loss; its graded cell swaps in a reference
    assert _failing_cells(expectile_loss=WRONG[2]["swapped ζ and 1−ζ"]) == _cells_of(2)


@pytest.mark.parametrize("indicator", [lambda d: d < 0, lambda d: d <= 0])
def test_strict_and_non_strict_indicators_keep_full_marks(indicator):
    def expectile_loss(diff, expectile):
        return torch.abs(expectile - indicator(diff).to(diff.dtype)) * diff**2
    assert _failing_cells(expectile_loss=expectile_loss) == set()


# ------------------------------------------------------------ iql-grade, for learners

def _learner_copy(tmp_path: Path, **replacements: str) -> Path:
    """The solution notebooks with some solution regions replaced by `replacements`."""
    folder = tmp_path / "mine"
    folder.mkdir()
    for path in SOLUTIONS.glob("*.ipynb"):
        notebook = json.loads(path.read_text())
        for cell in notebook["cells"]:
            source = "".join(cell["source"])
            for name, body in replacements.items():
                if cell["metadata"].get("nbgrader", {}).get("solution") and f"def {name}(" in source:
                    source = re.sub(r"### BEGIN SOLUTION.*### END SOLUTION", body, source, flags=re.S)
            cell["source"] = source
        (folder / path.name).write_text(json.dumps(notebook))
    return folder


BROKEN = {
    "expectile_loss": "while True:\n        pass",
    "estimate_advantage": "return (q_sa - v_s) * float('nan')",
    "actor_loss": "raise ValueError('oops')",
}


def test_iql_grade_reports_each_blank_and_isolates_a_blank_that_loops(tmp_path, capsys):
    folder = _learner_copy(tmp_path, **BROKEN)
    assert iql_grade_main([str(folder), "--timeout", "8"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"✗ blank 2 expectile_loss\s+timeout", out)
    assert re.search(r"✗ blank 5 estimate_advantage\s+fail", out) and "nan" in out.lower()
    assert re.search(r"✗ blank 6 actor_loss\s+fail", out) and "ValueError: oops" in out
    assert re.search(r"✗ blank 3 value_loss\s+timeout", out)  # it calls the learner's blank 2
    for number in (1, 4):
        assert re.search(rf"✓ blank {number} \w+\s+pass", out)
    assert "14 / 18 visible checks pass" in out


def test_iql_grade_on_the_reference_and_on_bad_input(capsys, tmp_path):
    assert iql_grade_main([str(SOLUTIONS)]) == 0
    assert "18 / 18 visible checks pass" in capsys.readouterr().out
    assert iql_grade_main([str(tmp_path / "nowhere.ipynb")]) == 2
    assert "not a notebook or a folder" in capsys.readouterr().err


# ------------------------------------------------------------ make grade

@pytest.mark.slow
@pytest.mark.skipif(unavailable() is not None, reason="no sandbox here (bubblewrap)")
def test_the_sandbox_scores_and_words_each_graded_cell_as_nbgrader_running_the_notebook(tmp_path, capsys):
    """Chapter 4 with a blank that raises and chapter 9 with two wrong answers, graded in
    the sandbox and by nbgrader executing the notebooks: the same points and the same
    error for every graded cell."""
    folder = _learner_copy(tmp_path, expectile_loss="raise ValueError('oops')")
    submissions = tmp_path / "submissions"
    (submissions / "ada").mkdir(parents=True)
    for name in ("04_expectile_loss.ipynb", "09_self_quiz.ipynb"):
        notebook = json.loads((folder / name).read_text())
        for cell in notebook["cells"]:
            if cell["metadata"].get("nbgrader", {}).get("grade_id") in ("ch09_answer_02", "ch09_answer_07"):
                cell["source"] = re.sub(r'= "\w"', '= "a"', cell["source"])
        (submissions / "ada" / name).write_text(json.dumps(notebook))

    sandboxed = grade_class(collect(submissions), tmp_path / "sandboxed")  # default limits, as test_course_guide: its check is reused
    out = tmp_path / "grades.csv"
    assert grade_main([str(submissions), "--run-notebooks", "--course", str(tmp_path / "executed"),
                       "--out", str(out), "--timeout", "120"]) == 0
    assert "WARNING: grading without the sandbox" in capsys.readouterr().err
    (row,) = list(csv.DictReader(out.open()))
    executed = {gid: float(row[gid]) for gid in sandboxed.scores["ada"]}
    assert executed == {gid: score for gid, (score, _) in sandboxed.scores["ada"].items()}
    assert executed["ch04_blank2_hidden"] == 0 and executed["ch09_test_02"] == executed["ch09_test_07"] == 0
    assert float(row["total"]) == sandboxed.total("ada")[0] == 10

    def errors(course: Path) -> dict[str, tuple[str, str]]:
        found = {}
        for path in (course / "autograded" / "ada" / "iql").glob("*.ipynb"):
            for cell in json.loads(path.read_text())["cells"]:
                if cell["metadata"].get("nbgrader", {}).get("grade"):
                    for output in cell.get("outputs", []):
                        if output["output_type"] == "error":
                            found[cell["metadata"]["nbgrader"]["grade_id"]] = (output["ename"], output["evalue"])
        return found

    assert errors(tmp_path / "sandboxed") == errors(tmp_path / "executed") != {}
    assert {p.name for p in sandboxed.feedback("ada")} == {"04_expectile_loss.html", "09_self_quiz.html"}


@pytest.mark.slow
@pytest.mark.skipif(unavailable() is not None, reason="no sandbox here (bubblewrap)")
def test_a_sandbox_that_cannot_run_the_tests_refuses_to_grade(tmp_path, capsys):
    """64 MiB of memory: torch's tests cannot run, so the reference solutions lose points in
    the sandbox. The grader says so and why, writes no grades, and keeps the last record."""
    (tmp_path / "subs" / "ada").mkdir(parents=True)
    shutil.copy(SOLUTIONS / "04_expectile_loss.ipynb", tmp_path / "subs" / "ada")
    course, out = tmp_path / "grading", tmp_path / "grades.csv"
    course.mkdir()
    (course / "gradebook.db").write_text("last week's grades")
    assert grade_main([str(tmp_path / "subs"), "--memory", "64", "--course", str(course), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "error: refusing to grade: in the sandbox, under the class's limits (20 s CPU, 64 MiB of memory" in err
    assert "the reference solutions (solutions/) lose points: ch04_blank2_hidden scores 0 / 5 with MemoryError" in err
    assert not out.exists() and [p.name for p in course.iterdir()] == ["gradebook.db"]
    assert (course / "gradebook.db").read_text() == "last week's grades"


@pytest.mark.skipif(unavailable() is not None, reason="no sandbox here (bubblewrap)")
def test_a_test_the_unwritten_release_passes_stops_the_grading():
    """A graded cell that passes without the student's answer would give points for nothing."""
    lenient = GradedCell("04_expectile_loss.ipynb", "ch04_lenient", 5.0, "assert True", (), ("ch04_blank2_expectile_loss",))
    with pytest.raises(UntrustedSandbox, match=r"the unwritten release \(notebooks/\) earns points: ch04_lenient "
                                               r"scores 5 / 5 with nothing written"):
        check_sandbox({"04_expectile_loss.ipynb": [lenient]}, workers=2)


def test_without_the_sandbox_the_runner_still_refuses_writes_outside_its_scratch(tmp_path):
    target, kept = tmp_path / "gradebook.db", tmp_path / "solutions.ipynb"
    kept.write_text("{}")
    write = f"def f():\n    open({str(target)!r}, 'w').write('pwned')\n"
    remove = f"import os\ndef f():\n    os.remove({str(kept)!r})\n"
    job = {"setup": "import torch", "units": [
        {"grade_id": "t1", "label": "t1", "student": write, "test": "f()"},
        {"grade_id": "t2", "label": "t2", "student": remove, "test": "f()"},
        {"grade_id": "t3", "label": "t3", "student": "", "test": "assert 1 + 1 == 2"}]}
    result = run_job(job, Limits(cpu_s=10, wall_s=60), sandboxed=False)
    assert result.passed == {"t1": False, "t2": False, "t3": True}
    assert all("blocks writing" in result.details[t]["error"]["evalue"] for t in ("t1", "t2"))
    assert not target.exists() and kept.read_text() == "{}"


def test_make_grade_on_bad_input(tmp_path, capsys):
    assert grade_main([str(tmp_path / "nowhere")]) == 2
    (tmp_path / "course").mkdir()
    (tmp_path / "course" / "notes.txt").write_text("mine")
    (tmp_path / "subs" / "ada").mkdir(parents=True)
    shutil.copy(SOLUTIONS / "09_self_quiz.ipynb", tmp_path / "subs" / "ada")
    assert grade_main([str(tmp_path / "subs"), "--course", str(tmp_path / "course")]) == 2
    assert "is not a grading course" in capsys.readouterr().err
    assert (tmp_path / "course" / "notes.txt").read_text() == "mine"


@pytest.mark.slow
def test_make_grade_on_ray_gives_the_serial_grades(tmp_path):
    """One Ray task per student (a local Ray): the same outputs per graded cell as in turn."""
    pytest.importorskip("ray")
    from autograder.grade import course_cells, run_class

    for student, name in (("ada", "09_self_quiz.ipynb"), ("bob", "04_expectile_loss.ipynb")):
        (tmp_path / student).mkdir()
        shutil.copy(SOLUTIONS / name, tmp_path / student / name)
    students, cells = collect(tmp_path), course_cells()
    sandboxed = unavailable() is None
    serial = {s: graded for s, graded, _ in run_class(students, cells, sandboxed=sandboxed)}
    on_ray = {s: graded for s, graded, _ in run_class(students, cells, sandboxed=sandboxed, ray="local")}
    assert on_ray == serial and set(serial["bob"]["04_expectile_loss.ipynb"]) == {"ch04_blank2_hidden"}
