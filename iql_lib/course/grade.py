"""`iql-grade`: a learner grades their own notebooks, locally, before submitting.

    iql-grade notebooks/                 # all chapters in the folder
    iql-grade notebooks/04_expectile_loss.ipynb

Each blank the notebooks define runs through its visible check (the same one as in the
notebook, with the same hints), in a separate process with a time limit, so a blank that
raises, returns NaN or loops forever fails alone. Quiz answers are checked for format
only: the right answers live with the instructor's hidden tests.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import io
import json
import multiprocessing as mp
import queue
import re
import sys
from pathlib import Path

from iql_lib.algos.blanks import BLANK_CHAPTERS, BLANK_NAMES, BlankError
from iql_lib.assignment.blank_sources import definitions_from_notebooks

TIMEOUT_S = 60


def _notebooks(where: Path) -> list[Path]:
    if where.is_dir():
        return sorted(where.glob("*.ipynb"))
    if where.suffix == ".ipynb" and where.exists():
        return [where]
    raise FileNotFoundError(f"{where}: not a notebook or a folder of notebooks")


def _worker(paths: list[str], names: list[str], results) -> None:
    """Run the checks of `names` one after the other, reporting each (name, ok, message)."""
    from iql_lib.course.checks import CHECKS

    namespace = definitions_from_notebooks([Path(p) for p in paths])
    for name in names:
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                CHECKS[name](namespace[name])
            results.put((name, True, out.getvalue().strip()))
        except Exception as err:  # the learner's code may raise anything: report, go on
            results.put((name, False, f"{type(err).__name__}: {err}"))


def check_blanks(paths: list[Path], timeout: float = TIMEOUT_S) -> dict[str, tuple[str, str]]:
    """`{blank: (status, message)}` for each blank the notebooks define; status is
    `pass`, `fail` or `timeout`."""
    defined = definitions_from_notebooks(paths)
    pending = [name for name in BLANK_NAMES if callable(defined.get(name))]
    results: dict[str, tuple[str, str]] = {}
    context = mp.get_context("spawn")
    while pending:
        channel = context.Queue()
        worker = context.Process(target=_worker, args=([str(p) for p in paths], pending, channel), daemon=True)
        worker.start()
        try:
            while pending:
                name, ok, message = channel.get(timeout=timeout)
                results[name] = ("pass" if ok else "fail", message)
                pending.remove(name)
        except queue.Empty:  # the blank being checked runs past the limit: it fails alone
            name = pending.pop(0)
            results[name] = ("timeout", f"no result within {timeout:g} s (an endless loop?)")
        finally:
            worker.kill()
            worker.join()
    return results


def check_quiz(paths: list[Path]) -> dict[str, tuple[str, str]]:
    """Format check of every `answer_KK` the notebooks set (right answers are hidden)."""

    from iql_lib.course.quiz import check_choice

    answers, options = {}, {}
    for path in paths:
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            if cell["cell_type"] != "code" or "answer_" not in source:
                continue
            # each question's test cell names its options: check_choice(answer_09, options="abc")
            options.update(re.findall(r"""check_choice\((answer_\w+),\s*options\s*=\s*["']([a-z]+)["']""", source))
            try:
                tree = ast.parse(source)
            except SyntaxError:
                continue
            for node in tree.body:
                if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                        and node.targets[0].id.startswith("answer_") and isinstance(node.value, ast.Constant)):
                    answers[node.targets[0].id] = node.value.value
    results = {}
    for name, value in sorted(answers.items()):
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                check_choice(value, options.get(name, "abcd"))
            results[name] = ("pass", f"answered {value!r}")
        except AssertionError as err:
            results[name] = ("fail", str(err))
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="iql-grade", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("where", type=Path, help="a chapter notebook, or the folder of them")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds per blank (60)")
    args = parser.parse_args(argv)
    try:
        paths = _notebooks(args.where)
        blanks = check_blanks(paths, args.timeout)
        quiz = check_quiz(paths)
    except (FileNotFoundError, BlankError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not blanks and not quiz:
        print(f"{args.where}: no blanks and no quiz answers found")
        return 2
    for name, (status, message) in blanks.items():
        number = BLANK_NAMES.index(name) + 1
        mark = "✓" if status == "pass" else "✗"
        print(f"{mark} blank {number} {name:<20} {status:<8} {BLANK_CHAPTERS[name]}")
        if status != "pass":
            print("    " + message.replace("\n", "\n    "))
    for name, (status, message) in quiz.items():
        print(f"{'✓' if status == 'pass' else '✗'} {name:<29} {status:<8} {message}")
    passed = sum(s == "pass" for s, _ in [*blanks.values(), *quiz.values()])
    total = len(blanks) + len(quiz)
    print(f"\n{passed} / {total} visible checks pass. Your instructor's grading adds hidden tests.")
    return 0 if passed == total else 1


if __name__ == "__main__":
    sys.exit(main())
