"""`iql-report`: the course's tables from run directories (a tiny demo run, fake AntMaze runs)."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from iql_lib.cli import demo_main, report_main
from iql_lib.assignment.course_sets import STITCHING_METHODS
from tests.conftest import fake_runs

UMAZE, MEDIUM = "antmaze-umaze-v0", "antmaze-medium-diverse-v0"
NUMBER = re.compile(r"-?\d+\.\d+|-?\d+")


def report(capsys, *argv) -> tuple[int, str, str]:
    rc = report_main([str(a) for a in argv])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def section(markdown: str, title: str) -> str:
    """The Markdown from the heading `## title` up to the next `## ` heading."""
    start = markdown.index(f"## {title}")
    end = markdown.find("\n## ", start + 1)
    return markdown[start:] if end < 0 else markdown[start:end]


def table_numbers_md(markdown: str) -> list[str]:
    rows = [line for line in markdown.splitlines() if line.startswith("| ") and not line.startswith("| method")
            and not line.startswith("| task")]
    return [n for row in rows for cell in row.split("|")[2:] for n in NUMBER.findall(cell)]


def table_numbers_tex(latex: str) -> list[str]:
    body = [row for block in re.findall(r"\\midrule\n(.*?)\\bottomrule", latex, re.DOTALL) for row in block.splitlines()]
    return [n for row in body for cell in row.split("&")[1:] for n in NUMBER.findall(cell)]


# --- the demo's runs: the stitching table ------------------------------------------------

@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """PointMass's tiny networks roll out fastest on one thread; more only contend for the
    cores with the demo's training workers and the rest of the suite."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def demo(tmp_path_factory, one_torch_thread):
    root = tmp_path_factory.mktemp("demo")
    assert demo_main(["--seed", "1", "2", "--num-timesteps", "200", "--eval-freq", "100", "--eval-episodes", "3",
                      "--compile", "off", "--num-cpus", "2", "--runs-dir", str(root / "runs"),
                      "--out", str(root / "results")]) == 0
    return root


@pytest.mark.slow  # the demo on a local Ray
def test_stitching_table_has_the_demo_summary_numbers(demo, capsys):
    rc, out, err = report(capsys, demo / "runs", "--out", demo / "report")
    assert rc == 0
    summary = json.loads((demo / "results" / "summary.json").read_text())
    written = (demo / "report" / "report.md").read_text()
    assert out == written
    table = section(written, "P2.3: Stitching on PointmassMedium-v0")
    assert f"best return {summary['dataset']['best_return']:.1f}" in table
    demo_md = (demo / "results" / "summary.md").read_text()
    for method, r in summary["runs"].items():
        beats = "yes" if r["mean"] > summary["dataset"]["best_return"] else "no"
        row = (f"| {method} | {len(r['seeds'])} | {r['mean']:.1f} ± {r['std']:.1f} "
               f"| {r['max_mean']:.1f} ± {r['max_std']:.1f} | {beats} |")
        assert row in table and row in demo_md
    latex = (demo / "report" / "report.tex").read_text()
    assert table_numbers_tex(latex) == table_numbers_md(written)
    for name in ["p2_3_stitching_curves.png"] + [f"p2_3_trajectories_{m}.png" for m in STITCHING_METHODS]:
        assert (demo / "report" / name).stat().st_size > 10_000
    assert "skipped P2.1" in err and "skipped P2.2" in err and "skipped P2.3" not in err


@pytest.mark.slow  # the demo on a local Ray
def test_unloadable_blanks_skip_the_iql_trajectories_only(demo, capsys):
    rc, out, err = report(capsys, demo / "runs", "--out", demo / "stubs", "--blanks", "stubs")
    assert rc == 0 and "| iql_zeta_0.9 | 2 |" in out
    assert "no trajectory plot for iql_zeta_0.9" in err and "Blank 1 (make_value_network)" in err
    assert (demo / "stubs" / "p2_3_trajectories_filtered_bc_top10.png").exists()
    assert not (demo / "stubs" / "p2_3_trajectories_iql_zeta_0.9.png").exists()


# --- fake AntMaze runs: the ζ sweep and AWAC vs IQL --------------------------------------

def test_zeta_sweep_groups_iql_runs_by_zeta(tmp_path, capsys):
    fake_runs(tmp_path / "runs", env_name=UMAZE, expectile=0.9, returns=[[-700, -300, -200]] * 2 + [[-700, -300, -260]])
    fake_runs(tmp_path / "runs", env_name=UMAZE, expectile=0.2, returns=[[-700, -600, -500]] * 3)
    rc, out, err = report(capsys, tmp_path / "runs", "--out", tmp_path / "report")
    assert rc == 0
    table = section(out, "P2.1: IQL ζ sweep on antmaze-umaze-v0")
    zeta_02 = table.index("| iql_zeta_0.2 | 0.2 | 3 | 1000 | -500.0 ± 0.0 | 100 ± 0 |")
    zeta_09 = table.index(f"| iql_zeta_0.9 | 0.9 | 3 | 1000 | -220.0 ± {np.std([-200, -200, -260]):.1f} | 100 ± 0 |")
    assert zeta_02 < zeta_09 and "Highest final return: iql_zeta_0.9" in table
    assert (tmp_path / "report" / "p2_1_zeta_sweep_curves.png").exists()
    for skipped in ("P2.2: IQL on antmaze-medium-diverse-v0", "P2.2: AWAC vs IQL", "P2.3: Stitching"):
        assert f"skipped {skipped}" in err
    assert "skipped P2.1" not in err


def test_awac_vs_iql_and_latex_carry_the_same_numbers(tmp_path, capsys):
    fake_runs(tmp_path, env_name=UMAZE, expectile=0.9, returns=[[-700, -300, -200]] * 3)
    fake_runs(tmp_path, env_name=UMAZE, expectile=0.2, returns=[[-700, -600, -500]] * 3)
    fake_runs(tmp_path, env_name=UMAZE, algo="awac", returns=[[-700, -650, -640]] * 3)
    fake_runs(tmp_path, env_name=MEDIUM, expectile=0.9, returns=[[-1000, -800, -700]] * 3)
    rc, out, err = report(capsys, tmp_path, "--out", tmp_path / "report")
    assert rc == 0 and err.count("skipped") == 1 and "skipped P2.3" in err
    table = section(out, "P2.2: AWAC vs IQL")
    assert "| antmaze-umaze-v0 | awac_lambda_0.1 | 3 | 1000 | -640.0 ± 0.0 | 100 ± 0 | 56.7 |" in table
    assert "| antmaze-umaze-v0 | iql_zeta_0.9 | 3 | 1000 | -200.0 ± 0.0 | 100 ± 0 | 87.5 |" in table
    assert "| antmaze-medium-diverse-v0 | iql_zeta_0.9 | 3 | 1000 | -700.0 ± 0.0 | 100 ± 0 | 70.0 |" in table
    assert "iql_zeta_0.2" not in table  # the better ζ only
    assert "| iql_zeta_0.9 | 0.9 | 3 | 1000 | -700.0 ± 0.0 |" in section(out, "P2.2: IQL on antmaze-medium")

    latex = (tmp_path / "report" / "report.tex").read_text()
    begins, ends = re.findall(r"\\begin\{(\w+)\}", latex), re.findall(r"\\end\{(\w+)\}", latex)
    assert sorted(begins) == sorted(ends) and begins.count("tabular") == 3
    depth = 0
    for match in re.finditer(r"\\(begin|end)\{", latex):
        depth += 1 if match.group(1) == "begin" else -1
        assert depth >= 0
    assert latex.count(r"\toprule") == latex.count(r"\midrule") == latex.count(r"\bottomrule") == 3
    body = "\n".join(line for line in latex.splitlines() if not line.startswith("%"))
    assert r"$-640.0 \pm 0.0$" in body and r"$\zeta$" in body and not set("ζλ±–") & set(body)
    assert table_numbers_tex(latex) == table_numbers_md(out)
    assert (tmp_path / "report" / "p2_2_awac_vs_iql_curves.png").exists()


def test_methods_sharing_a_name_are_told_apart_by_their_knobs(tmp_path, capsys):
    fake_runs(tmp_path / "low", env_name=UMAZE, expectile=0.2, exp_name="iql_umaze")
    fake_runs(tmp_path / "high", env_name=UMAZE, expectile=0.9, exp_name="iql_umaze")
    rc, out, _ = report(capsys, tmp_path / "low", tmp_path / "high", "--out", tmp_path / "report")
    assert rc == 0
    assert "| iql_umaze (ζ = 0.2) | 0.2 |" in out and "| iql_umaze (ζ = 0.9) | 0.9 |" in out


def test_unfinished_runs_are_left_out_with_a_note(tmp_path, capsys):
    dirs = fake_runs(tmp_path, env_name=UMAZE)
    csv = dirs[2] / "eval.csv"
    csv.write_text("".join(csv.read_text().splitlines(keepends=True)[:-1]))
    rc, out, err = report(capsys, tmp_path, "--out", tmp_path / "report")
    assert rc == 0 and f"left out {dirs[2]}: unfinished" in err
    assert "| iql_zeta_0.9 | 0.9 | 2 | 1000 |" in out


# --- clear errors ------------------------------------------------------------------------

def test_no_runs_found(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    rc, out, err = report(capsys, tmp_path / "empty")
    assert rc == 2 and out == ""
    assert err.startswith("iql-report: error: no runs found in") and "Traceback" not in err
    rc, _, err = report(capsys, tmp_path / "missing")
    assert rc == 2 and "no such file or directory" in err


def test_unreadable_config_is_named(tmp_path, capsys):
    dirs = fake_runs(tmp_path, env_name=UMAZE)
    (dirs[1] / "config.json").write_text("{not json")
    rc, out, err = report(capsys, tmp_path, "--out", tmp_path / "report")
    assert rc == 2 and out == ""
    assert f"{dirs[1] / 'config.json'}: unreadable config.json" in err and "Traceback" not in err


def test_mixed_budgets_in_one_method_are_refused(tmp_path, capsys):
    fake_runs(tmp_path / "short", env_name=UMAZE, seeds=(1, 2))
    fake_runs(tmp_path / "long", env_name=UMAZE, seeds=(3,), steps=(0, 1000, 2000))
    rc, out, err = report(capsys, tmp_path, "--out", tmp_path / "report")
    assert rc == 2 and out == ""
    assert "iql_zeta_0.9 on antmaze-umaze-v0 mixes runs of different budgets" in err
    assert "1000 steps" in err and "2000 steps" in err and "seed 3" in err


def test_a_seed_given_twice_is_refused(tmp_path, capsys):
    dirs = fake_runs(tmp_path / "a", env_name=UMAZE, seeds=(1, 2))
    copy = tmp_path / "b" / dirs[0].name
    copy.mkdir(parents=True)
    for f in dirs[0].iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    rc, _, err = report(capsys, tmp_path, "--out", tmp_path / "report")
    assert rc == 2 and "has seed 1 twice" in err
