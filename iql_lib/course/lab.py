"""JupyterLab as the course opens it: for students (`make lab`) and, through
`autograder.formgrader`, for instructors (`make formgrader`).

    iql lab notebooks [jupyter lab options]   # or: make lab, python -m iql_lib.course.lab notebooks

The page settings in `jupyter/` beside this module reach this server only (through
JUPYTER_CONFIG_PATH; nothing is installed): `everyone` turns off JupyterLab's "get
notified about official Jupyter news?" pop-up; `students` hides nbgrader's panels that
need the instructor's course or exchange (Create Assignment, Formgrader, the course and
assignment lists, and the Nbgrader menu that opens them) and keeps its Validate button.
Jupyter refuses to start as root without --allow-root; containers, cloud notebooks and
teaching VMs often run as root, so it is added there.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

PAGE_SETTINGS = Path(__file__).with_name("jupyter")
EVERYONE = PAGE_SETTINGS / "everyone"
STUDENTS = PAGE_SETTINGS / "students"


def lab_command(*args: str) -> list[str]:
    """`jupyter lab` with `args`, and with --allow-root when this process runs as root."""
    as_root = ["--allow-root"] if os.geteuid() == 0 else []
    return [sys.executable, "-m", "jupyter", "lab", *as_root, *args]


def start_lab(args: list[str], settings: tuple[Path, ...] = (EVERYONE, STUDENTS)) -> NoReturn:
    """Replace this process by JupyterLab with `args`, the page `settings` folders first
    on its configuration path."""
    path = [str(folder) for folder in settings]
    if os.environ.get("JUPYTER_CONFIG_PATH"):  # the user's own extra folders come after
        path.append(os.environ["JUPYTER_CONFIG_PATH"])
    os.execve(sys.executable, lab_command(*args), {**os.environ, "JUPYTER_CONFIG_PATH": os.pathsep.join(path)})


def main(argv: list[str] | None = None) -> NoReturn:
    """`iql lab [folder] [jupyter lab options]`: the students' JupyterLab."""
    start_lab(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
