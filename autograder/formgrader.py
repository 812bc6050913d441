"""The instructor's course folder for nbgrader's Formgrader, and JupyterLab opened on it.

    python -m autograder.formgrader [--course course] [--no-browser]   # or: make formgrader

nbgrader wants `<course>/source/<assignment>/` and an `nbgrader_config.py` in the folder
the server starts in. This builds `course/` (git-ignored) once: `source/iql` is a link to
`solutions/` (edits in Formgrader are edits of the sources), the config loads the course's
settings (`autograder/nbgrader_config.py`) and puts the exchange inside the course folder
(`course/exchange`), so generate, release, collect and autograde all work from the UI with
no system-wide folder. Then JupyterLab starts there (`iql_lib.course.lab`: no news
pop-up, --allow-root as root) on its workspace `formgrader`, which holds the Formgrader tab.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import NoReturn

from jupyterlab_server.workspaces_handler import WorkspacesManager

from autograder.course import ASSIGNMENT, CONFIG, REPO, SOLUTIONS, run_nbgrader
from iql_lib.course.lab import EVERYONE, start_lab

COURSE = REPO / "course"
WORKSPACE = "formgrader"  # a JupyterLab workspace restoring nbgrader's Formgrader tab

COURSE_CONFIG = '''"""nbgrader settings of this course folder (written by `make formgrader`)."""
c = get_config()  # noqa: F821 (nbgrader provides it)
load_subconfig({settings!r})  # noqa: F821: the course's own settings
c.CourseDirectory.root = {root!r}
c.Exchange.root = {exchange!r}
'''


def make_instructor_course(root: Path = COURSE) -> Path:
    """`root` as an nbgrader course folder: sources linked, config written, exchange made,
    the assignment in the gradebook. Safe to rerun; it keeps grades and submissions."""
    root = root.resolve()
    source = root / "source"
    source.mkdir(parents=True, exist_ok=True)
    link = source / ASSIGNMENT
    if not link.exists():
        link.symlink_to(os.path.relpath(SOLUTIONS, source), target_is_directory=True)
    exchange = root / "exchange"
    exchange.mkdir(exist_ok=True)
    exchange.chmod(0o777)  # nbgrader's exchange is shared by everyone on the machine
    (root / "nbgrader_config.py").write_text(
        COURSE_CONFIG.format(settings=str(CONFIG), root=str(root), exchange=str(exchange)))
    run_nbgrader(root, "generate_assignment", ASSIGNMENT)
    return root


def formgrader_workspace(root: Path) -> Path:
    """The course's JupyterLab workspaces folder, its `formgrader` workspace (re)set to the
    Formgrader tab alone: what `make formgrader` opens first, whatever was left open before."""
    folder = root / ".workspaces"
    folder.mkdir(exist_ok=True)
    tab = {"nbgrader-formgrader:nbgrader-formgrader": {"data": {}}}  # nbgrader's restorer entry
    WorkspacesManager(str(folder)).save(WORKSPACE, json.dumps({"data": tab, "metadata": {"id": WORKSPACE}}))
    return folder


def main(argv=None) -> NoReturn:
    parser = argparse.ArgumentParser(prog="python -m autograder.formgrader", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--course", type=Path, default=COURSE, help="the course folder (course/)")
    parser.add_argument("--no-browser", action="store_true", help="start the server without opening a browser")
    args, lab_args = parser.parse_known_args(argv)
    root = make_instructor_course(args.course)
    print(f"course folder: {root} (exchange: {root / 'exchange'})")
    workspaces = formgrader_workspace(root)
    os.chdir(root)  # nbgrader reads nbgrader_config.py from the server's working folder
    start_lab([f"--ServerApp.root_dir={root}", f"--LabApp.workspaces_dir={workspaces}",
               f"--LabApp.default_url=/lab/workspaces/{WORKSPACE}", *(["--no-browser"] if args.no_browser else []),
               *lab_args], settings=(EVERYONE,))


if __name__ == "__main__":
    main()
