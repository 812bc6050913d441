"""Chapter 9's self-quiz: the visible format check, and the graded notebook's structure.

The notebook tests read solutions/09_self_quiz.ipynb as JSON and run its cells' sources
in a plain dict namespace, the way the grader runs them: the reference answers pass their
test cells (hidden checks included), every other option fails with an explanation.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from iql_lib.course.quiz import check_choice

QUIZ = Path(__file__).resolve().parents[1] / "solutions" / "09_self_quiz.ipynb"
N_QUESTIONS = 12
HIDDEN = re.compile(r"\n?### BEGIN HIDDEN TESTS\n.*?### END HIDDEN TESTS\n?", re.DOTALL)
SOLUTION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.DOTALL)
OPTION = re.compile(r"^- \*\*\(([a-z])\)\*\* \S", re.MULTILINE)
QUESTION = re.compile(r"^### Question (\d+)\b", re.MULTILINE)


# ---------------------------------------------------------------- the visible helper

@pytest.mark.parametrize("options, answer", [("abcd", "a"), ("abcd", "d"), ("abc", "b")])
def test_check_choice_records_a_valid_letter(options, answer, capsys):
    assert check_choice(answer, options=options) == answer
    assert capsys.readouterr().out == f"recorded: {answer}\n"


@pytest.mark.parametrize("answer, hint", [
    (None, "must be a string"),
    (2, "must be a string"),
    (["b"], "must be a string"),
    (b"b", "must be a string"),
    ("?", 'replace "?"'),
    ("", 'replace "?"'),
    ("B", 'the bare lower-case letter: "b"'),
    ("(b)", 'the bare lower-case letter: "b"'),
    (" b", 'the bare lower-case letter: "b"'),
    ("ab", "exactly one option"),
    ("a, b", "exactly one option"),
    ("abcd", "exactly one option"),
    ("e", "not an option"),
])
def test_check_choice_rejects_malformed_answers_with_a_hint(answer, hint, capsys):
    with pytest.raises(AssertionError, match=re.escape(hint)) as info:
        check_choice(answer)
    assert "recorded" not in capsys.readouterr().out
    shown = info.value._render_traceback_()  # what IPython (and so nbgrader's Validate) prints
    assert len(shown) <= 2 and "ChoiceError" in shown[0] and hint in " ".join(shown), shown


def test_check_choice_knows_each_questions_options():
    with pytest.raises(AssertionError, match='not an option.*"a", "b", "c"'):
        check_choice("d", options="abc")


@pytest.mark.parametrize("options", ["", "aab", "ABC", 3, "a b"])
def test_check_choice_rejects_bad_option_lists(options):
    with pytest.raises(ValueError, match="options must be"):
        check_choice("a", options=options)


# ---------------------------------------------------------------- the notebook

def _source(cell) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def _grade_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


@pytest.fixture(scope="module")
def quiz():
    if not QUIZ.exists():
        pytest.skip(f"{QUIZ} not present (the student release has no solutions/)")
    notebook = json.loads(QUIZ.read_text())
    cells = notebook["cells"]
    questions, answers, graded = {}, {}, {}
    for i, cell in enumerate(cells):
        meta, src = _grade_meta(cell), _source(cell)
        found = QUESTION.search(src) if cell["cell_type"] == "markdown" else None
        if found:
            questions[int(found.group(1))] = (i, "".join(OPTION.findall(src)))
        elif meta.get("solution"):
            answers[meta["grade_id"]] = (i, cell)
        elif meta.get("grade"):
            graded[meta["grade_id"]] = (i, cell)
    imports = next(_source(c) for c in cells if c["cell_type"] == "code")
    return {"notebook": notebook, "cells": cells, "questions": questions, "answers": answers,
            "graded": graded, "imports": imports}


def _namespace(quiz) -> dict:
    """The import cell run as plain Python (its IPython magics dropped)."""
    namespace: dict = {}
    plain = "\n".join(line for line in quiz["imports"].splitlines() if not line.startswith("%"))
    exec(plain, namespace)  # noqa: S102
    return namespace


def _right(quiz, kk: str) -> str:
    namespace: dict = {}
    exec(_source(quiz["answers"][f"ch09_answer_{kk}"][1]), namespace)  # noqa: S102
    return namespace[f"answer_{kk}"]


def _run_test(quiz, kk: str, answer: str, hidden: bool = True) -> dict:
    src = _source(quiz["graded"][f"ch09_test_{kk}"][1])
    namespace = _namespace(quiz)
    namespace[f"answer_{kk}"] = answer
    exec(src if hidden else HIDDEN.sub("\n", src), namespace)  # noqa: S102
    return namespace


KEYS = [f"{k:02d}" for k in range(1, N_QUESTIONS + 1)]


def test_twelve_questions_answer_cells_and_graded_cells_in_order(quiz):
    assert sorted(quiz["questions"]) == list(range(1, N_QUESTIONS + 1))
    assert sorted(quiz["answers"]) == [f"ch09_answer_{kk}" for kk in KEYS]
    assert sorted(quiz["graded"]) == [f"ch09_test_{kk}" for kk in KEYS]
    ids = [_grade_meta(c)["grade_id"] for c in quiz["cells"] if _grade_meta(c).get("grade_id")]
    assert len(ids) == len(set(ids)) == 2 * N_QUESTIONS
    assert all(i.startswith("ch09_") for i in ids)
    for k, kk in zip(range(1, N_QUESTIONS + 1), KEYS):
        q, a, t = quiz["questions"][k][0], quiz["answers"][f"ch09_answer_{kk}"][0], quiz["graded"][f"ch09_test_{kk}"][0]
        assert q + 1 == a and a + 1 == t, f"question {k}: markdown, answer cell, test cell in a row"


def test_answer_cells_are_solution_regions_and_test_cells_score_one_point(quiz):
    for kk in KEYS:
        meta = _grade_meta(quiz["answers"][f"ch09_answer_{kk}"][1])
        assert meta["solution"] and not meta["grade"]
        body = SOLUTION.findall(_source(quiz["answers"][f"ch09_answer_{kk}"][1]))
        assert len(body) == 1 and re.fullmatch(rf'answer_{kk} = "[a-z]"\n', body[0]), body
        meta = _grade_meta(quiz["graded"][f"ch09_test_{kk}"][1])
        assert meta["grade"] and meta["locked"] and not meta["solution"] and meta["points"] == 1
    assert sum(_grade_meta(c).get("points", 0) for c in quiz["cells"]) == N_QUESTIONS


def test_every_question_has_three_or_four_options_holding_its_answer(quiz):
    for k, kk in zip(range(1, N_QUESTIONS + 1), KEYS):
        letters = quiz["questions"][k][1]
        assert letters in ("abc", "abcd"), f"question {k}: options {letters!r}"
        assert _right(quiz, kk) in letters


def test_correct_letters_vary(quiz):
    counts = Counter(_right(quiz, kk) for kk in KEYS)
    assert len(counts) >= 3 and max(counts.values()) <= 4, counts
    letters = [_right(quiz, kk) for kk in KEYS]
    assert all(letters[i] != letters[i + 1] or letters[i] != letters[i + 2] for i in range(len(letters) - 2))


def test_visible_part_checks_only_the_format_with_the_questions_options(quiz):
    """What students see of each test cell is one call that holds no answer."""
    for k, kk in zip(range(1, N_QUESTIONS + 1), KEYS):
        src = _source(quiz["graded"][f"ch09_test_{kk}"][1])
        assert src.count("### BEGIN HIDDEN TESTS") == 1 and src.count("### END HIDDEN TESTS") == 1
        assert src.index("### BEGIN HIDDEN TESTS") < src.index("### END HIDDEN TESTS")
        visible = HIDDEN.sub("\n", src).strip()
        assert visible == f'check_choice(answer_{kk}, options="{quiz["questions"][k][1]}")'


def test_solution_answers_pass_and_every_other_option_fails_with_an_explanation(quiz, capsys):
    for k, kk in zip(range(1, N_QUESTIONS + 1), KEYS):
        right, letters = _right(quiz, kk), quiz["questions"][k][1]
        _run_test(quiz, kk, right)
        out = capsys.readouterr().out
        assert out.startswith(f"recorded: {right}\n") and f"({right}) is right" in out
        explanations = set()
        for wrong in set(letters) - {right}:
            _run_test(quiz, kk, wrong, hidden=False)  # the visible check accepts any option
            with pytest.raises(AssertionError) as failed:
                _run_test(quiz, kk, wrong)
            message = str(failed.value)
            assert f"you chose ({wrong})" in message and f"The answer is ({right})" in message
            specific = message.split(f"you chose ({wrong}).")[1].split("\nThe answer is")[0].strip()
            assert len(specific) > 40, f"question {k}: option {wrong} has no explanation of its own"
            explanations.add(specific)
            assert len(message) > 200
        assert len(explanations) == len(letters) - 1, f"question {k}: wrong options share a note"
        capsys.readouterr()


def test_malformed_answers_fail_in_the_visible_part(quiz):
    for kk in KEYS:
        with pytest.raises(AssertionError, match="replace"):
            _run_test(quiz, kk, "?", hidden=False)


def test_notebook_is_clean_and_ends_with_how_to_grade(quiz):
    notebook = quiz["notebook"]
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    assert quiz["imports"].startswith("%matplotlib inline")
    for cell in quiz["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
    last = quiz["cells"][-1]
    assert last["cell_type"] == "markdown"
    assert "run the tests in this notebook; your instructor's grader adds the hidden checks" in _source(last).lower()


def test_iql_grade_checks_each_answer_against_its_questions_options(tmp_path):
    from iql_lib.course.grade import check_quiz

    notebook = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / "09_self_quiz.ipynb").read_text())
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        for number, letter in (("04", "d"), ("09", "d"), ("10", "d")):
            source = source.replace(f'answer_{number} = "?"', f'answer_{number} = "{letter}"')
        cell["source"] = source
    path = tmp_path / "09_self_quiz.ipynb"
    path.write_text(json.dumps(notebook))
    results = check_quiz([path])
    assert results["answer_10"][0] == "pass"  # question 10 has options a–d
    for name in ("answer_04", "answer_09"):  # these have a–c only
        status, message = results[name]
        assert status == "fail" and "not an option" in message, (name, message)
