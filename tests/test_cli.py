"""`iql <verb>`: one command for every verb, each verb the same entry point as its older
`iql-*` script."""
from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from pathlib import Path

import pytest

from iql_lib.cli import VERBS, main, train_parser

REPO = Path(__file__).resolve().parents[1]


def test_help_lists_every_verb_with_its_description(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")  # one line per verb
    with pytest.raises(SystemExit) as exit:
        main(["--help"])
    assert exit.value.code == 0
    listed = " ".join(capsys.readouterr().out.split())
    for verb, (_, about) in VERBS.items():
        assert f"{verb} {about}" in listed


def test_help_needs_neither_torch_nor_the_course():
    shown = subprocess.run([sys.executable, "-c", "import sys\nfrom iql_lib.cli import main\ntry:\n    main(['--help'])\n"
                            "except SystemExit:\n    print(sorted(m for m in sys.modules if m == 'torch' or "
                            "m.startswith(('iql_lib.course', 'autograder'))))"],
                           capture_output=True, text=True, check=True)
    assert shown.stdout.splitlines()[-1] == "[]"


def test_a_verb_is_its_entry_point(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["train", "--help"])
    assert exit.value.code == 0
    assert capsys.readouterr().out == train_parser().format_help()


def test_no_verb_or_an_unknown_one_is_a_usage_error(capsys):
    for argv in ([], ["trian"]):
        with pytest.raises(SystemExit) as exit:
            main(argv)
        assert exit.value.code == 2
    assert "invalid choice: 'trian'" in capsys.readouterr().err


def test_instructor_verbs_run_in_the_course_repository_only(tmp_path):
    iql = Path(sys.executable).with_name("iql")
    here = subprocess.run([str(iql), "release", "--help"], cwd=REPO, capture_output=True, text=True)
    assert here.returncode == 0 and "regenerate notebooks/" in here.stdout
    elsewhere = subprocess.run([str(iql), "grade-class", "--help"], cwd=tmp_path, capture_output=True, text=True)
    assert elsewhere.returncode == 2
    assert elsewhere.stderr == ("iql: error: `iql grade-class` is for instructors: run it in the course's "
                                "repository, which holds autograder/\n")


# Every verb's --help as docs/cli.md shows it (data and its walker one block per sub-command).
DOCUMENTED = [[verb] for verb in VERBS if verb != "lab"] + \
    [["data", c] for c in ("generate", "info", "convert", "render", "make-stitching", "walker")] + \
    [["data", "walker", c] for c in ("train", "test", "ship")]


def help_text(argv: list[str]) -> str:
    """`iql <argv> --help` at 100 columns, run in this process from the repository (`iql lab
    --help` is JupyterLab's own)."""
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown), pytest.raises(SystemExit) as exit:
        main([*argv, "--help"])
    assert exit.value.code == 0, argv
    return shown.getvalue()


def test_docs_show_every_verbs_help_as_it_is(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.chdir(REPO)
    docs = (REPO / "docs" / "cli.md").read_text()
    for argv in DOCUMENTED:
        assert f"```text\n$ iql {' '.join(argv)} --help\n{help_text(argv)}```" in docs, argv
