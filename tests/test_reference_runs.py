"""The bars in thresholds.toml against the AntMaze reference runs we measured.

`benchmarks/results/antmaze_reference/<style>/` holds every seed of the reference
configurations measured so far, trained with the course's defaults (300k steps, 3 seeds)
on locally generated data of that style (`d4rl`, the default, or `minari`), collected by
`benchmarks/antmaze_reference.py`: each run's config.json, eval.csv and the evaluation
rows of its metrics.jsonl. A submission slot made of them must pass the checker, its bar
must leave correct runs on either data two standard deviations of room, and iql-report
must build the AntMaze tables from them.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.antmaze_reference import REFERENCE, bar, run_dirs
from benchmarks.longer_budget import COURSE, stretches
from iql_lib.cli import report_main
from iql_lib.logs import CSV_NAME, read_eval_csv
from iql_lib.runs import summarise
from iql_lib.submission import SUBMISSION_SEEDS, SUBMISSION_SLOTS, check_submission, load_thresholds, write_submission

# The submission slots whose reference runs are measured and kept, by (data style, slot),
# with their (algo, task, ζ). AWAC on medium-diverse is measured on d4rl-style data only
# (its bar is the scale's floor).
MEASURED = {
    ("d4rl", "P1/1"): ("awac", "antmaze-umaze-v0", None),
    ("d4rl", "P1/2"): ("awac", "antmaze-medium-diverse-v0", None),
    ("d4rl", "P2/1"): ("iql", "antmaze-umaze-v0", 0.9),
    ("d4rl", "P2/2"): ("iql", "antmaze-medium-diverse-v0", 0.9),
    ("minari", "P1/1"): ("awac", "antmaze-umaze-v0", None),
    ("minari", "P2/1"): ("iql", "antmaze-umaze-v0", 0.9),
    ("minari", "P2/2"): ("iql", "antmaze-medium-diverse-v0", 0.9),
}
STYLES = sorted({style for style, _ in MEASURED})


def reference(key: tuple[str, str]) -> list[Path]:
    style, slot = key
    dirs = run_dirs(REFERENCE / style, *MEASURED[key])
    assert all(d.is_dir() for d in dirs), f"reference runs missing: {dirs}"
    return dirs


@pytest.mark.parametrize("key", sorted(MEASURED))
def test_reference_runs_are_three_seeds_at_the_course_budget(key):
    algo, task, _ = MEASURED[key]
    spec = SUBMISSION_SLOTS[key[1]]
    assert (spec.algo, spec.env_name) == (algo, task)
    stats = summarise(reference(key))
    assert tuple(stats["seeds"]) == SUBMISSION_SEEDS
    assert stats["step"] == load_thresholds()[spec.task].final_step


@pytest.mark.parametrize("style", STYLES)
def test_a_submission_of_the_reference_runs_passes_the_checker(tmp_path, style):
    slots = sorted(slot for s, slot in MEASURED if s == style)
    for slot in slots:
        write_submission(slot, reference((style, slot)), tmp_path / "csv_data")
    assert check_submission(tmp_path / "csv_data", slots=slots) == []


@pytest.mark.parametrize("key", sorted(MEASURED))
def test_each_measured_bar_leaves_correct_runs_two_standard_deviations(key):
    """The rule written in thresholds.toml: a bar is at most the reference mean − 2 std,
    on every data style measured."""
    spec = SUBMISSION_SLOTS[key[1]]
    task = load_thresholds()[spec.task]
    assert task.min_final_return[spec.algo] <= bar(summarise(reference(key)), task.episode_steps)


@pytest.mark.parametrize("style", STYLES)
def test_report_builds_the_antmaze_tables_from_the_reference_runs(tmp_path, style):
    assert report_main([str(REFERENCE / style), "--out", str(tmp_path)]) == 0
    markdown = (tmp_path / "report.md").read_text()
    for key in MEASURED:
        if key[0] == style:
            stats = summarise(reference(key))
            assert f"{stats['mean']:.1f} ± {stats['std']:.1f}" in markdown, key


def test_longer_budget_runs_continue_the_reference_runs():
    """The runs kept past the course's budget are the default-data reference runs carried
    on: their evaluations up to the budget are the reference run's own, row for row."""
    kept = sorted((REFERENCE / "longer_budget").glob("*_seed*"))
    assert kept, "no runs kept in longer_budget/"
    for run in kept:
        steps, returns = read_eval_csv(run / CSV_NAME)
        reference_steps, reference_returns = read_eval_csv(REFERENCE / "d4rl" / run.name / CSV_NAME)
        assert reference_steps[-1] == COURSE["num_timesteps"] < steps[-1]
        assert list(steps[:len(reference_steps)]) == list(reference_steps)
        assert list(returns[:len(reference_returns)]) == list(reference_returns)


def test_stretches_average_each_100k_of_evaluations():
    steps = np.arange(0, 250_001, 10_000)
    success = (steps > 100_000).astype(float)  # 0 up to 100k, 1 after
    assert stretches(steps, success) == {100_000: 0.0, 200_000: 1.0}
