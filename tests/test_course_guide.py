"""The guide's own answers are right answers: written into the student notebooks, the six
blanks earn full marks from `make grade`'s grader, pass every visible check and
`iql-grade`, and train IQL exactly as the instructor's solutions do (that they learn to
stitch: tests/test_train.py).
"""
from __future__ import annotations

import json
import shutil

import pytest
import torch

from autograder.course import NOTEBOOKS, SOLUTIONS
from autograder.grade import grade_class
from iql_lib.algos.blanks import BLANK_NAMES
from iql_lib.assignment.blank_sources import load_blanks
from iql_lib.config import make_config
from iql_lib.course.checks import check_blanks
from iql_lib.course.grade import main as iql_grade_main
from iql_lib.training.run_folder import read_metrics
from iql_lib.training.train import train
from tests.guide_answers import write_guide_notebooks


@pytest.fixture(scope="module")
def guide_notebooks(tmp_path_factory):
    return write_guide_notebooks(tmp_path_factory.mktemp("guide"))


@pytest.mark.slow
def test_the_guides_answers_earn_full_marks_from_the_grader(guide_notebooks, tmp_path):
    # in the bubblewrap sandbox where there is one (CI installs it), as `make grade` grades
    grades = grade_class({"guide": guide_notebooks}, tmp_path / "grading", sandboxed=shutil.which("bwrap") is not None)
    blanks = {gid: score for gid, score in grades.scores["guide"].items() if "blank" in gid}
    assert len(blanks) == len(BLANK_NAMES), blanks
    assert all(score == maximum == 5 for score, maximum in blanks.values()), blanks


def test_the_guides_answers_pass_every_visible_check_and_iql_grade(guide_notebooks, capsys):
    check_blanks(load_blanks(str(guide_notebooks)))
    out = capsys.readouterr().out
    assert out.count("✓") == len(BLANK_NAMES) and "note: gradient reaches q_target" in out
    assert iql_grade_main([str(guide_notebooks)]) == 0
    assert f"{len(BLANK_NAMES)} / {len(BLANK_NAMES)} visible checks pass" in capsys.readouterr().out


@pytest.fixture
def one_thread():
    """Small networks train fastest on one thread (and the machine is shared)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_the_guides_answers_train_as_the_solutions_do(guide_notebooks, tmp_path, one_thread):
    runs = {}
    for name, where in (("guide", guide_notebooks), ("solutions", SOLUTIONS)):
        cfg = make_config("PointmassMedium-v0", algo="iql", num_timesteps=300, eval_freq=300, eval_episodes=3,
                          log_freq=100, compile="off", out=str(tmp_path / name))
        (run,) = train(cfg, seeds=[1], blanks=load_blanks(str(where)), progress=False)
        runs[name] = read_metrics(run / "metrics.jsonl")
    assert [m["step"] for m in runs["guide"]] == [m["step"] for m in runs["solutions"]]
    for guide, reference in zip(runs["guide"], runs["solutions"]):
        for key, value in reference.items():
            if isinstance(value, float):
                assert guide[key] == pytest.approx(value, rel=1e-4, abs=1e-5), (guide["step"], key)


def test_the_fixture_writes_every_blank():
    written = {name for path in NOTEBOOKS.glob("0[4-7]_*.ipynb")
               for cell in json.loads(path.read_text())["cells"] for name in BLANK_NAMES
               if f"def {name}(" in "".join(cell["source"])}
    assert written == set(BLANK_NAMES)
