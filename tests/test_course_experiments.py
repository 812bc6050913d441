"""Chapter 8's helpers: finding AntMaze data, reading seeds back (`iql_lib.analysis.results`), the
health checks and the csv_data/ submission layout (`iql_lib.assignment.submission`)."""
from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from iql_lib.cli import config_from_args, train_parser
from iql_lib.config import make_config
from iql_lib.course.experiments import data_env_var, find_antmaze_data, signals_markdown, training_signals
from iql_lib.datagen.antmaze import default_dataset_path
from iql_lib.analysis.results import best_method, finished, read_curves, results_markdown, run_dirs, summarise
from iql_lib.assignment.submission import SUBMISSION_SLOTS, check_submission, write_submission
from iql_lib.training.train import train
from tests.conftest import fake_runs

NOTEBOOK = Path(__file__).resolve().parents[1] / "solutions" / "08_experiments.ipynb"


# --- finding AntMaze data ----------------------------------------------------------------

def test_env_var_name_follows_the_task():
    assert data_env_var("antmaze-umaze-v0") == "IQL_DATA_ANTMAZE_UMAZE_V0"
    assert data_env_var("antmaze-medium-diverse-v0") == "IQL_DATA_ANTMAZE_MEDIUM_DIVERSE_V0"


def test_nothing_found_says_where_it_looked(tmp_path):
    found = find_antmaze_data("antmaze-umaze-v0", environ={"IQL_DATA_DIR": str(tmp_path)}, datasets_dir=tmp_path,
                              store=tmp_path)
    assert found.dataset is None
    assert "IQL_DATA_ANTMAZE_UMAZE_V0" in found.how and "D4RL/antmaze/umaze-v1" in found.how
    assert "iql-data generate antmaze-umaze-v0" in found.how


def test_env_var_file_wins_then_datasets_folder_then_minari_then_generated(tmp_path):
    environ = {"IQL_DATA_DIR": str(tmp_path / "cache")}
    generated = default_dataset_path("antmaze-umaze-v0", environ=environ)
    generated.parent.mkdir()
    generated.write_bytes(b"")
    assert find_antmaze_data("antmaze-umaze-v0", environ=environ, datasets_dir=tmp_path,
                             store=tmp_path).dataset == str(generated)
    store = tmp_path / "store"
    (store / "D4RL/antmaze/umaze-v1/data").mkdir(parents=True)
    assert find_antmaze_data("antmaze-umaze-v0", environ=environ, datasets_dir=tmp_path,
                             store=store).dataset == "minari:D4RL/antmaze/umaze-v1"
    local = tmp_path / "antmaze-umaze-v0.hdf5"
    local.write_bytes(b"")
    assert find_antmaze_data("antmaze-umaze-v0", environ=environ, datasets_dir=tmp_path,
                             store=store).dataset == str(local)
    named = tmp_path / "mine.npz"
    named.write_bytes(b"")
    env = {**environ, "IQL_DATA_ANTMAZE_UMAZE_V0": str(named)}
    assert find_antmaze_data("antmaze-umaze-v0", environ=env, datasets_dir=tmp_path,
                             store=store).dataset == str(named)


def test_env_var_naming_a_missing_file_is_reported_not_used(tmp_path):
    env = {"IQL_DATA_DIR": str(tmp_path), "IQL_DATA_ANTMAZE_UMAZE_V0": str(tmp_path / "missing.hdf5")}
    found = find_antmaze_data("antmaze-umaze-v0", environ=env, datasets_dir=tmp_path, store=tmp_path)
    assert found.dataset is None and "not a file" in found.how


# --- reading seeds back ------------------------------------------------------------------

def test_summary_is_mean_and_std_across_seeds(tmp_path):
    returns = [[-150, -60, -30], [-150, -50, -40], [-150, -20, -50]]
    dirs = fake_runs(tmp_path, returns=returns)
    s = summarise(dirs)
    assert s["seeds"] == [1, 2, 3] and s["step"] == 1000
    assert s["mean"] == pytest.approx(-40.0)
    assert s["std"] == pytest.approx(np.std([-30, -40, -50]))
    assert s["max_return_mean"] == pytest.approx(-30.0)
    assert s["peak_mean"] == pytest.approx(np.mean([-30, -40, -20]))
    steps, values = read_curves(dirs)
    assert steps.tolist() == [0, 500, 1000] and values.shape == (3, 3)


def test_late_success_is_each_seeds_last_evaluations_averaged(tmp_path):
    steps = tuple(range(0, 7000, 1000))  # 7 evaluations: the last 5 are steps 2000-6000
    dirs = fake_runs(tmp_path, steps=steps, returns=[np.linspace(-700, -400, 7)] * 2, seeds=(1, 2),
                     successes=[[0, 0, 0.2, 0.4, 0.2, 0.4, 0.8], [1, 1, 0.0, 0.2, 0.2, 0.2, 0.4]])
    s = summarise(dirs)
    assert s["success_rate"] == pytest.approx(0.6)  # the final evaluations: 0.8 and 0.4
    assert s["late_success_rate"] == pytest.approx((0.4 + 0.2) / 2)  # the early 1.0s do not count


def test_curves_are_cut_to_the_steps_every_seed_reached(tmp_path):
    dirs = fake_runs(tmp_path)
    csv = dirs[2] / "eval.csv"
    csv.write_text("".join(csv.read_text().splitlines(keepends=True)[:-1]))
    steps, values = read_curves(dirs)
    assert steps.tolist() == [0, 500] and values.shape == (3, 2)
    assert not finished(dirs)


def test_results_table_and_the_better_method(tmp_path):
    low = fake_runs(tmp_path, expectile=0.2, returns=[[-150, -100, -90]] * 3)
    high = fake_runs(tmp_path, expectile=0.9, returns=[[-150, -40, -25]] * 3)
    missing = run_dirs(make_config("PointmassMedium-v0", algo="awac", seeds=[1, 2, 3], out=str(tmp_path)))
    methods = {"ζ = 0.2": low, "ζ = 0.9": high, "AWAC": missing}
    table = results_markdown(methods, dataset_best=-43.0)
    assert "| ζ = 0.9 | PointmassMedium-v0 | 3 | -25.0 ± 0.0 |" in table
    assert "| AWAC | – | – | not trained yet |" in table
    assert best_method(methods) == "ζ = 0.9"
    assert best_method({"AWAC": missing}) is None


# --- health checks -----------------------------------------------------------------------

def verdicts(dirs) -> dict[str, bool | None]:
    return {s.name: s.healthy for s in training_signals(dirs)}


def test_a_healthy_run_passes_every_check(tmp_path):
    v = verdicts(fake_runs(tmp_path))
    assert v == {"V loss": True, "Q loss": True, "values (V_Mean)": True, "actor loss": True,
                 "Eval_AverageReturn climbs": True}


def test_exploding_losses_and_impossible_values_are_flagged(tmp_path):
    growing = 0.01 * np.exp(np.linspace(0, 4, 40))
    v = verdicts(fake_runs(tmp_path / "a", v_loss=growing, v_mean=-25.0))
    assert v["V loss"] is False and v["Q loss"] is False
    assert v["values (V_Mean)"] is False  # below −1/(1−0.95) = −20
    v = verdicts(fake_runs(tmp_path / "b", v_mean=0.5, returns=[[-30, -60, -90]] * 3))
    assert v["values (V_Mean)"] is False and v["Eval_AverageReturn climbs"] is False


def test_a_negative_actor_loss_is_wrong_for_a_discrete_policy(tmp_path):
    v = verdicts(fake_runs(tmp_path, actor_loss=-np.full(40, 0.5)))
    assert v["actor loss"] is False


def test_losses_are_not_judged_while_the_values_still_move(tmp_path):
    growing = 0.01 * np.exp(np.linspace(0, 4, 40))
    v = verdicts(fake_runs(tmp_path / "a", v_loss=growing, v_mean=np.linspace(0, -12, 40)))
    assert v["V loss"] is None and v["Q loss"] is None and v["actor loss"] is None
    assert v["values (V_Mean)"] is True
    v = verdicts(fake_runs(tmp_path / "b", v_mean=np.linspace(0, -12, 40), actor_loss=-np.full(40, 0.5)))
    assert v["actor loss"] is False  # a wrong sign needs no settled values to be wrong


def test_values_running_out_of_range_are_a_divergence_not_a_warm_up(tmp_path):
    # IQL with ζ = 0.2 on umaze: V falls about 1.4× every 30k steps, far below −1/(1−γ)
    falling = -np.exp(np.linspace(0, 9, 40))
    v = verdicts(fake_runs(tmp_path, v_loss=-0.01 * falling, v_mean=falling))
    assert v["values (V_Mean)"] is False
    assert v["V loss"] is False and v["Q loss"] is False


def test_awac_checks_its_q_values_and_short_runs_are_not_judged(tmp_path):
    v = verdicts(fake_runs(tmp_path / "a", algo="awac"))
    assert "V loss" not in v and v["values (Q_Mean)"] is True
    v = verdicts(fake_runs(tmp_path / "b", n_logs=4))
    assert v["V loss"] is None and v["Q loss"] is None
    table = signals_markdown({"IQL": fake_runs(tmp_path / "c")})
    assert table.count("\n") == 2 + 5 and "✓ healthy" in table


# --- the submission layout ---------------------------------------------------------------

def test_slots_are_the_specs_folders():
    assert {s.folder + "/" + s.stem for s in SUBMISSION_SLOTS.values()} == {
        "P2/1/iql_umaze", "P2/2/iql_medium_maze", "P1/1/awac_umaze", "P1/2/awac_medium_maze"}


def test_submission_copies_each_seed_under_the_spec_name(tmp_path):
    dirs = fake_runs(tmp_path / "runs", env_name="PointmassMedium-v0")
    out = tmp_path / "csv_data"
    (out / "P2/1").mkdir(parents=True)
    (out / "P2/1/stale_seed4.csv").write_text("old")
    written = write_submission("P2/1", dirs, out, practice=True)
    assert [p.name for p in written] == ["iql_umaze_seed1.csv", "iql_umaze_seed2.csv", "iql_umaze_seed3.csv"]
    assert sorted(p.name for p in (out / "P2/1").iterdir()) == [p.name for p in written]
    assert written[1].read_text() == (dirs[1] / "eval.csv").read_text()
    assert check_submission(out, ["P2/1"], practice=True) == []
    problems = check_submission(out, practice=True)
    assert len(problems) == 3 and all("found nothing" in p for p in problems)
    # a real submission is held to the AntMaze task: PointMass runs stop far short of 300k steps
    assert all("train to step 300000" in p for p in check_submission(out, ["P2/1"]))


def test_submission_refuses_what_the_autograder_would_reject(tmp_path):
    out = tmp_path / "csv_data"
    good = fake_runs(tmp_path / "good", env_name="PointmassMedium-v0")
    with pytest.raises(ValueError, match="antmaze-umaze-v0"):
        write_submission("P2/1", good, out)  # a PointMass run is not the umaze task
    with pytest.raises(ValueError, match="awac"):
        write_submission("P1/1", good, out, practice=True)
    other_zeta = fake_runs(tmp_path / "other", expectile=0.2)
    with pytest.raises(ValueError, match="expectile"):
        write_submission("P2/1", good[:2] + other_zeta[2:], out, practice=True)
    with pytest.raises(ValueError, match="seeds"):
        write_submission("P2/1", fake_runs(tmp_path / "s", seeds=(1, 2, 4)), out, practice=True)
    csv = good[0] / "eval.csv"
    csv.write_text("".join(csv.read_text().splitlines(keepends=True)[:-1]))
    with pytest.raises(ValueError, match="final step"):
        write_submission("P2/1", good, out, practice=True)
    with pytest.raises(ValueError, match="unknown slot"):
        write_submission("P3/1", good, out)


def test_check_submission_spots_extra_files_and_a_wrong_shape(tmp_path):
    dirs = fake_runs(tmp_path / "runs", algo="awac")
    out = tmp_path / "csv_data"
    written = write_submission("P1/1", dirs, out, practice=True)
    (out / "P1/1/awac_umaze_seed4.csv").write_text(written[0].read_text())
    assert "found" in check_submission(out, ["P1/1"], practice=True)[0]
    (out / "P1/1/awac_umaze_seed4.csv").unlink()
    written[2].write_text("Step,Eval_AverageReturn\n0,-1\n")
    assert "W&B-shaped" in check_submission(out, ["P1/1"], practice=True)[0]


def test_real_runs_go_from_training_to_a_checked_folder(tmp_path):
    """Three AWAC seeds trained together (no blanks needed), then laid out and checked."""
    cfg = make_config("PointmassMedium-v0", algo="awac", seeds=[1, 2, 3], num_timesteps=40,
                      eval_freq=20, eval_episodes=2, log_freq=5, compile="off", out=str(tmp_path))
    dirs = train(cfg, progress=False)
    assert dirs == run_dirs(cfg) and finished(dirs)
    write_submission("P1/1", dirs, tmp_path / "csv_data", practice=True)
    assert check_submission(tmp_path / "csv_data", ["P1/1"], practice=True) == []
    assert {s.name for s in training_signals(dirs)} >= {"Q loss", "actor loss"}


# --- the chapter's shell commands --------------------------------------------------------

@pytest.mark.skipif(not NOTEBOOK.exists(), reason="chapter 8 notebook not written yet")
def test_the_notebooks_iql_train_commands_parse_to_the_course_runs():
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    commands = [line for line in text.splitlines() if line.startswith("iql-train ")]
    assert len(commands) >= 5
    seen = set()
    for line in commands:
        args = train_parser().parse_args(shlex.split(re.sub(r"\s+#.*$", "", line))[1:])
        cfg = config_from_args(args)
        assert cfg.env_name in ("antmaze-umaze-v0", "antmaze-medium-diverse-v0")
        assert cfg.seeds == [1, 2, 3]
        seen.add((cfg.algo, cfg.env_name, cfg.expectile if cfg.algo == "iql" else None))
    assert {("iql", "antmaze-umaze-v0", 0.2), ("iql", "antmaze-umaze-v0", 0.9),
            ("awac", "antmaze-umaze-v0", None), ("awac", "antmaze-medium-diverse-v0", None)} <= seen
    assert any(algo == "iql" and env == "antmaze-medium-diverse-v0" for algo, env, _ in seen)
