"""An nbgrader course directory built on the fly from `solutions/`.

nbgrader wants `<root>/source/<assignment>/`; the repository keeps the sources flat in
`solutions/` and the student versions flat in `notebooks/`, so every nbgrader command runs
in a temporary course directory that mirrors them. One assignment, `iql`, holds all chapters.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "solutions"
NOTEBOOKS = REPO / "notebooks"
CONFIG = Path(__file__).with_name("nbgrader_config.py")
ASSIGNMENT = "iql"


def source_notebooks(solutions: Path = SOLUTIONS) -> list[Path]:
    found = sorted(solutions.glob("*.ipynb"))
    if not found:
        raise FileNotFoundError(f"no source notebooks in {solutions}")
    return found


def run_nbgrader(course: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`nbgrader <args>` in `course`; nbgrader finds its helpers (alembic) next to Python."""
    bin_dir = str(Path(sys.executable).parent)
    full_env = {**os.environ, **(env or {}), "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args, "--force"], cwd=course,
                            env=full_env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return result


def make_course(root: Path, solutions: Path = SOLUTIONS, only: set[str] | None = None) -> Path:
    """A course directory at `root` with the sources (those named in `only`, when given),
    a config that loads the course's (`CONFIG`, from the checkout), and the release generated."""
    source = root / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    for path in source_notebooks(solutions):
        if only is None or path.name in only:
            shutil.copy2(path, source / path.name)
    for extra in solutions.iterdir():  # data files the notebooks read beside them, if any
        if extra.is_file() and extra.suffix != ".ipynb":
            shutil.copy2(extra, source / extra.name)
    (root / "nbgrader_config.py").write_text(f"load_subconfig({str(CONFIG)!r})  # noqa: F821: the course's settings\n")
    run_nbgrader(root, "generate_assignment", ASSIGNMENT)
    return root


def released(course: Path) -> list[Path]:
    return sorted((course / "release" / ASSIGNMENT).glob("*.ipynb"))
