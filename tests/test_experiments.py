"""The stitching experiment behind `make demo` (`iql demo`: the sweep of the course's
stitching set on a local Ray, then its summary), on a tiny budget."""
from __future__ import annotations

import json

import pytest

from iql_lib.data import load_dataset
from iql_lib.envs import env_spec
from iql_lib.cli import demo_main
from iql_lib.assignment.course_sets import STITCHING_METHODS
from iql_lib.training.run_folder import read_eval_csv

pytestmark = pytest.mark.slow  # a local Ray


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    argv = ["stitching", "--seeds", "1", "2", "--num-timesteps", "200", "--eval-freq", "100",  # older spellings
            "--eval-episodes", "3", "--workers", "2", "--runs-dir", str(root / "runs"), "--out", str(root / "results")]
    assert demo_main(argv) == 0
    return argv, json.loads((root / "results" / "summary.json").read_text()), root


def test_summary_has_the_documented_shape(demo):
    _, summary, root = demo
    assert set(summary) == {"env", "dataset", "runs"}
    assert summary["env"] == "PointmassMedium-v0"
    assert set(summary["dataset"]) == {"path", "n_trajectories", "best_return", "mean_return"}
    assert list(summary["runs"]) == ["iql_zeta_0.9", "iql_zeta_0.2", "filtered_bc_top10"]
    for run in summary["runs"].values():
        assert set(run) == {"seeds", "final_returns", "max_returns", "mean", "std", "max_mean", "max_std"}
        assert run["seeds"] == [1, 2]


def test_summary_numbers_come_from_the_runs(demo):
    _, summary, root = demo
    returns = load_dataset(env_spec("PointmassMedium-v0").default_dataset).episode_returns()
    assert summary["dataset"]["best_return"] == returns.max()
    assert summary["dataset"]["mean_return"] == pytest.approx(returns.mean())
    assert summary["dataset"]["n_trajectories"] == len(returns)
    for method, run in summary["runs"].items():
        finals = [read_eval_csv(root / "runs" / f"{method}_PointmassMedium-v0_seed{s}" / "eval.csv")[1][-1]
                  for s in run["seeds"]]
        assert run["final_returns"] == finals
        assert run["mean"] == pytest.approx(sum(finals) / len(finals))
        assert all(m >= f for m, f in zip(run["max_returns"], run["final_returns"]))


def test_figures_and_markdown_are_written(demo):
    _, summary, root = demo
    results = root / "results"
    for method in STITCHING_METHODS:
        assert (results / f"trajectories_{method}.png").stat().st_size > 10_000
    assert (results / "learning_curves.png").stat().st_size > 10_000
    table = (results / "summary.md").read_text()
    for method, run in summary["runs"].items():
        assert f"| {method} | 2 | {run['mean']:.1f} ± {run['std']:.1f}" in table


def test_a_rerun_reuses_finished_runs_and_prints_the_same_table(demo, capsys):
    argv, summary, root = demo
    assert demo_main(argv) == 0
    out = capsys.readouterr().out
    assert "3 finished already (skipped), 0 to train" in out
    assert (root / "results" / "summary.md").read_text() in out
    assert json.loads((root / "results" / "summary.json").read_text()) == summary
