"""What students get: `notebooks/` generated from `solutions/`, and the `dist/` bundle.

    python -m autograder.release notebooks      # regenerate notebooks/ (commit the result)
    python -m autograder.release bundle dist     # the student bundle in dist/

The bundle holds the student notebooks, `iql_lib` (whose blanks are stubs), the shipped
datasets, the public tests and a student README; no `solutions/`, no hidden tests, no
instructor tools.
"""
from __future__ import annotations

import argparse
import re
import shutil
import tempfile
from pathlib import Path

from autograder.course import NOTEBOOKS, REPO, make_course, released
from iql_lib.config import INSTALLATION_FILE

STUDENT_FILES = Path(__file__).with_name("student")


def generate_notebooks(out: Path = NOTEBOOKS) -> list[Path]:
    """Student notebooks from the sources, written to `out` (old notebooks there removed)."""
    with tempfile.TemporaryDirectory() as tmp:
        notebooks = released(make_course(Path(tmp)))
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("*.ipynb"):
            old.unlink()
        written = []
        for path in notebooks:
            shutil.copyfile(path, out / path.name)
            written.append(out / path.name)
    return written


def build_bundle(out: Path) -> Path:
    """The student bundle in `out` (replaced if it exists)."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    generate_notebooks(out / "notebooks")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "iql_lib", out / "iql_lib", ignore=ignore)
    shutil.copytree(REPO / "datasets", out / "datasets", ignore=ignore)
    shutil.copytree(STUDENT_FILES / "tests", out / "tests", ignore=ignore)
    shutil.copy2(STUDENT_FILES / "Makefile", out / "Makefile")
    for name in ("pyproject.toml", "environment.yml", "venv.mk"):
        shutil.copy2(REPO / name, out / name)
    torch_pin = re.search(r"^TORCH \?= (\S+)$", (REPO / "venv.mk").read_text(), re.M)[1]
    (out / "README.md").write_text((STUDENT_FILES / "README.md").read_text().replace("{TORCH}", torch_pin))
    (out / "iql_lib" / INSTALLATION_FILE.name).write_text(
        "# The student bundle's defaults (iql_lib/config.py reads them): students have no\n"
        "# solutions/, so the six blanks come from their notebooks.\n"
        'blanks = "notebooks"\n')
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m autograder.release", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("notebooks", help="regenerate notebooks/ from solutions/")
    bundle = sub.add_parser("bundle", help="build the student bundle")
    bundle.add_argument("out", nargs="?", default=str(REPO / "dist"), help="output folder (default: dist)")
    args = parser.parse_args(argv)
    if args.command == "notebooks":
        for path in generate_notebooks():
            print(f"wrote {path.relative_to(REPO)}")
    else:
        print(f"student bundle in {build_bundle(Path(args.out))}")


if __name__ == "__main__":
    main()
