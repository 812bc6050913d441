"""The check every grading route runs first, and the record of the checks that passed.

A grader that cannot run the tests gives every student 0 without a word. So before a
class is graded, the reference solutions and the unwritten release are graded the same
way: the reference must earn every point and the release none (`autograder.grade` in the
sandbox, `autograder.kernel_check` in nbgrader's kernel). A passing check is remembered,
one file per notebook named by `check_keys`, so that it runs once per setup; a failing
one never is, and runs again every time.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from datetime import datetime
from importlib import metadata
from pathlib import Path

from autograder import record
from autograder.extract import GradedCell

REPO = Path(__file__).resolve().parents[1]
REFERENCE, RELEASE = "the reference solutions", "the unwritten release"
CACHE_ENV = "IQL_CHECK_CACHE"


def _cause(outputs: list[dict], grade_id: str) -> str:
    """What cost a graded cell its points, in a line: the error and the line of the test it
    came from, or the first line written to stderr."""
    for output in outputs:
        if output["output_type"] == "error":
            lines = "".join(output["traceback"]).splitlines()
            at = [lines[i + 1].strip() for i, line in enumerate(lines[:-1]) if f'File "<{grade_id}>"' in line]
            evalue = output["evalue"].strip().partition("\n")[0]
            return output["ename"] + (f": {evalue}" if evalue else "") + (f" at `{at[-1]}`" if at else "")
        if output.get("name") == "stderr":
            first_line = output["text"].strip().partition("\n")[0]
            return f"it wrote to stderr: {first_line}"
    return "no output recorded"


def _misgraded(who: str, cell: GradedCell, outputs: list[dict] | None) -> str | None:
    """What is wrong with the points `who` got for `cell`: the reference must earn all, the
    release none (`outputs` is None when the notebook could not be read)."""
    points = 0.0 if outputs is None else record.score(outputs, cell.points)
    if who == REFERENCE and points < cell.points:
        cause = _cause(outputs, cell.grade_id) if outputs is not None else "its notebook cannot be read"
        return f"{cell.grade_id} scores {points:g} / {cell.points:g} with {cause}"
    if who == RELEASE and points > 0:
        return f"{cell.grade_id} scores {points:g} / {cell.points:g} with nothing written"
    return None


def misgraded(who: str, graded: dict[str, dict[str, list[dict]]], cells: dict[str, list[GradedCell]]) -> list[str]:
    """What is wrong with the points `who` got (`graded`: `{notebook: {grade_id: outputs}}`),
    a line per graded cell of `cells`."""
    return [wrong for name, found in cells.items() for cell in found
            if (wrong := _misgraded(who, cell, graded.get(name, {}).get(cell.grade_id)))]


def refusal(who: str, folder: str, wrong: list[str]) -> str:
    """`who` (from `folder`) and the first cell `misgraded` found, as the refusal says it."""
    more = f" (and {len(wrong) - 1} more graded cells)" if len(wrong) > 1 else ""
    return f"{who} ({folder}) {'lose' if who == REFERENCE else 'earns'} points: {wrong[0]}{more}"


def check_keys(cells: dict[str, list[GradedCell]], reference: Path, release: Path, runs_in: dict) -> dict[str, str]:
    """For each notebook of `cells`, the name of a passing check of its graded cells: a hash
    of all the verdict depends on. That is where the cells ran (`runs_in`: the sandbox's
    limits and mode, or nbgrader's kernel with its environment and limits), the graded
    cells, the reference's and the release's notebook (in the folders `reference` and
    `release`), the grader's and the library's files, the interpreter (path and version),
    every installed package's version, the operating system and the user (the sandbox
    differs for root). A change to any of them, and the notebook is checked again."""
    setup = hashlib.sha256("\0".join([
        json.dumps(runs_in, sort_keys=True, default=str), sys.executable, sys.version, platform.platform(),
        str(os.getuid()), *sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions())]).encode())
    for path in sorted(p for package in ("autograder", "iql_lib") for p in (REPO / package).rglob("*")
                       if p.is_file() and "__pycache__" not in p.parts):
        setup.update(f"\0{path.relative_to(REPO)}\0".encode() + path.read_bytes())
    keys = {}
    for name, found in cells.items():
        key = setup.copy()
        key.update(f"\0{name}\0{found!r}".encode())
        for notebook in (reference / name, release / name):
            key.update(b"\0" + (notebook.read_bytes() if notebook.is_file() else b"missing"))
        keys[name] = key.hexdigest()
    return keys


def cache_folder() -> Path:
    """Where `make grade` keeps its passing checks: `$IQL_CHECK_CACHE`, else
    `iql-course/reference-checks` in the user's cache folder (`$XDG_CACHE_HOME` or ~/.cache)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "iql-course" / "reference-checks"


def passed(folder: Path, key: str) -> bool:
    """Whether the check named `key` passed before (is kept in `folder`)."""
    try:
        return (folder / key).is_file()
    except OSError:  # a folder this user may not read: checked again
        return False


def remember(folder: Path, key: str, notebook: str) -> None:
    """Keep a passing check (a folder this user may not write to only costs the next run its check)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / key).write_text(f"{notebook}: the reference earned every point and the release none "
                                  f"({datetime.now():%Y-%m-%d %H:%M})\n")
    except OSError:
        pass
