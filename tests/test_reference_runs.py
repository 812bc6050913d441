"""The bars in thresholds.toml against the AntMaze reference runs we measured.

`benchmarks/results/antmaze_reference/<style>/` holds every seed of the reference
configurations measured so far, trained with the course's defaults (300k steps, 3 seeds)
on locally generated data of that style (`minari`, umaze's default, or `d4rl`,
medium-diverse's), collected by `benchmarks/antmaze_reference.py`: each run's config.json,
eval.csv and the evaluation rows of its metrics.jsonl. The bars are derived from the runs on
each task's default data: a submission made of those must pass the checker, each bar must
leave them two standard deviations of room, and a bar above the scale's floor must fail a
run that never reaches the goal. iql-report must build the AntMaze tables from the runs of
every style.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.antmaze_reference import REFERENCE, bar, run_dirs
from benchmarks.longer_budget import COURSE, stretches
from iql_lib.cli import report_main
from iql_lib.datagen.antmaze import default_style
from iql_lib.training.run_folder import CSV_NAME, read_eval_csv
from iql_lib.analysis.results import summarise
from iql_lib.assignment.submission import SUBMISSION_SEEDS, SUBMISSION_SLOTS, check_submission, load_thresholds, write_submission

# The submission slots whose reference runs are measured and kept, by (data style, slot),
# with their (algo, task, ζ). AWAC on medium-diverse is measured on d4rl-style data only
# (its bar is the scale's floor), AWAC and IQL on umaze on both styles.
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
# the runs the bars are derived from: each slot on its task's default data
DEFAULT_DATA = {slot: (style, slot) for style, slot in MEASURED if style == default_style(MEASURED[style, slot][1])}


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


def test_every_slot_has_reference_runs_on_its_tasks_default_data():
    assert sorted(DEFAULT_DATA) == sorted(SUBMISSION_SLOTS)


def test_a_submission_of_the_default_data_reference_runs_passes_the_checker(tmp_path):
    for slot, key in DEFAULT_DATA.items():
        write_submission(slot, reference(key), tmp_path / "csv_data")
    assert check_submission(tmp_path / "csv_data") == []


@pytest.mark.parametrize("key", sorted(DEFAULT_DATA.values()))
def test_each_bar_leaves_the_default_data_runs_two_standard_deviations(key):
    """The rule written in thresholds.toml: a bar is at most the reference mean − 2 std on
    the task's default data."""
    spec = SUBMISSION_SLOTS[key[1]]
    task = load_thresholds()[spec.task]
    assert task.min_final_return[spec.algo] <= bar(summarise(reference(key)), task.episode_steps)


@pytest.mark.parametrize("key", sorted(DEFAULT_DATA.values()))
def test_a_bar_above_the_floor_fails_a_run_that_never_reaches_the_goal(tmp_path, key):
    """The reference runs with every evaluation set to −episode_steps (an untrained ant)."""
    spec = SUBMISSION_SLOTS[key[1]]
    task = load_thresholds()[spec.task]
    written = write_submission(key[1], reference(key), tmp_path / "csv_data")
    never = f",{-task.episode_steps}" * 3  # the return and its __MIN and __MAX columns
    for csv in written:
        header, *rows = csv.read_text().splitlines()
        csv.write_text("\n".join([header] + [row.split(",")[0] + never for row in rows]) + "\n")
    problems = check_submission(tmp_path / "csv_data", slots=[key[1]])
    if task.min_final_return[spec.algo] > -task.episode_steps:
        assert any("below" in p for p in problems), problems
    else:
        assert problems == []


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
