"""The trainer end to end: learning, reproducibility, resume after a kill, NaN, the CLI."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from iql_lib.algos.blanks import Blanks
from iql_lib.assignment.blank_sources import load_blanks
from iql_lib.cli import train_main, train_parser
from iql_lib.config import make_config
from iql_lib.data import load_dataset
from iql_lib.envs import env_spec, make_env
from iql_lib.errors import UserError
from iql_lib.training.run_folder import reached_step, read_eval_csv, read_metrics
from iql_lib.training.train import TrainingDiverged, load_policy, load_training_data, read_run_config, train
from tests.conftest import reference_blanks_module
from tests.guide_answers import write_guide_notebooks

DATASET = env_spec("PointmassMedium-v0").default_dataset
BIN = Path(sys.executable).parent


def short_config(tmp_path, **overrides):
    values = dict(num_timesteps=400, eval_freq=200, eval_episodes=4, log_freq=100, out=str(tmp_path))
    values.update(overrides)
    return make_config("PointmassMedium-v0", **values)


def dataset_best_return() -> float:
    return float(load_dataset(DATASET).episode_returns().max())


def test_iql_beats_the_best_dataset_trajectory(tmp_path):
    """The course's claim on a small budget: IQL stitches past the best trajectory, with the
    six blanks written as the course's guide writes them (tests/guide_answers.py)."""
    torch.set_num_threads(1)
    cfg = short_config(tmp_path, algo="iql", expectile=0.9, num_timesteps=20_000, eval_freq=20_000,
                       eval_episodes=50, log_freq=1000)
    blanks = load_blanks(str(write_guide_notebooks(tmp_path / "guide")))
    (run_dir,) = train(cfg, seeds=[1], blanks=blanks, progress=False)
    final = read_metrics(run_dir / "metrics.jsonl")[-1]
    assert final["Eval_AverageReturn"] > dataset_best_return() + 5
    assert final["Eval_SuccessRate"] > 0.9


@pytest.mark.parametrize("algo", ["iql", "awac", "bc"])
def test_same_seed_same_csv(tmp_path, algo):
    short = dict(algo=algo, num_timesteps=200, eval_freq=100, log_freq=50)
    (first,) = train(short_config(tmp_path / "a", **short), seeds=[3], progress=False)
    (second,) = train(short_config(tmp_path / "b", **short), seeds=[3], progress=False)
    (other,) = train(short_config(tmp_path / "c", **short), seeds=[4], progress=False)
    assert (first / "eval.csv").read_text() == (second / "eval.csv").read_text()
    assert (first / "metrics.jsonl").read_text() == (second / "metrics.jsonl").read_text()
    assert (first / "metrics.jsonl").read_text() != (other / "metrics.jsonl").read_text()


def test_run_directory_layout_and_csv_shape(tmp_path):
    (run_dir,) = train(short_config(tmp_path, algo="iql", exp_name="demo"), seeds=[2], progress=False)
    assert run_dir.name == "demo_PointmassMedium-v0_seed2"
    assert {p.name for p in run_dir.iterdir()} >= {"config.json", "metrics.jsonl", "eval.csv",
                                                    "checkpoint.pt", "eval_last_traj.png"}
    header = (run_dir / "eval.csv").read_text().splitlines()[0].split(",")
    name = "demo_PointmassMedium-v0_seed2 - Eval_AverageReturn"
    assert header == ["Step", name, f"{name}__MIN", f"{name}__MAX"]
    steps, values = read_eval_csv(run_dir / "eval.csv")
    assert steps == [0, 200, 400] and all(-150 <= v <= 0 for v in values)
    config = json.loads((run_dir / "config.json").read_text())
    assert config["seed"] == 2 and config["algo"] == "iql" and config["gamma"] == 0.95
    losses = [m for m in read_metrics(run_dir / "metrics.jsonl") if "Critic_V_Loss" in m]
    assert [m["step"] for m in losses] == [100, 200, 300, 400]


def test_filtered_bc_trains_on_the_top_trajectories(tmp_path):
    env = make_env("PointmassMedium-v0")
    full = load_training_data(short_config(tmp_path), env)
    top = load_training_data(short_config(tmp_path, algo="bc", filter_top_percent=10), env)
    returns = full.episode_returns()
    assert len(top.episode_returns()) == round(len(returns) * 0.1)
    assert top.episode_returns().min() >= np.sort(returns)[-len(top.episode_returns())]


def _iql_train_cmd(out: Path, *extra: str) -> list[str]:
    return [str(BIN / "iql-train"), "--algo", "awac", "--num-timesteps", "1000", "--eval-freq", "250",
            "--eval-episodes", "4", "--seed", "5", "--out", str(out), "--quiet", *extra]


def test_killed_run_resumes_without_losing_or_duplicating_rows(tmp_path):
    reference = tmp_path / "reference"
    subprocess.run(_iql_train_cmd(reference), check=True, timeout=300)

    killed = tmp_path / "killed"
    proc = subprocess.Popen(_iql_train_cmd(killed))
    csv_path = killed / "awac_lambda_0.1_PointmassMedium-v0_seed5" / "eval.csv"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if csv_path.exists() and len(read_eval_csv(csv_path)[0]) >= 3:  # steps 0, 250, 500
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    steps_at_kill = read_eval_csv(csv_path)[0]
    assert steps_at_kill[-1] < 1000, "the run finished before it could be killed"

    subprocess.run(_iql_train_cmd(killed, "--resume"), check=True, timeout=300)
    ref_dir = reference / csv_path.parent.name
    assert csv_path.read_text() == (ref_dir / "eval.csv").read_text()
    assert (csv_path.parent / "metrics.jsonl").read_text() == (ref_dir / "metrics.jsonl").read_text()


def _nan_after(steps: int) -> Blanks:
    """Reference blanks whose value loss turns NaN after `steps` calls."""
    reference = load_blanks("solutions")
    calls = {"n": 0}

    def value_loss(q_target, v, expectile):
        calls["n"] += 1
        loss = reference.value_loss(q_target, v, expectile)
        return loss * float("nan") if calls["n"] > steps else loss

    return Blanks(**{**{k: getattr(reference, k) for k in ("make_value_network", "expectile_loss",
                                                             "q_losses", "estimate_advantage",
                                                             "actor_loss")},
                     "value_loss": value_loss}, source="nan test")


def test_nan_loss_stops_the_run_and_keeps_the_checkpoint(tmp_path):
    cfg = short_config(tmp_path, num_timesteps=1000)
    with pytest.raises(TrainingDiverged, match=r"Critic_V_Loss became nan by step 300"):
        train(cfg, seeds=[1], blanks=_nan_after(250), progress=False)
    run_dir = tmp_path / cfg.run_name(1)
    assert read_eval_csv(run_dir / "eval.csv")[0] == [0, 200]
    assert torch.load(run_dir / "checkpoint.pt", weights_only=False)["step"] == 200
    engine, *_ = load_policy(run_dir)
    assert all(torch.isfinite(engine.state[k]).all() for k in ("policy", "v_net", "q_net", "q_target"))


def test_cli_accepts_course_spellings_and_several_seeds(tmp_path, capsys):
    code = train_main(["--algo", "bc", "--env_name", "PointmassMedium-v0", "--num_timesteps", "200",
                       "--eval_freq", "100", "--eval_episodes", "2", "--seed", "1", "2",
                       "--exp_name", "cli", "--out", str(tmp_path), "--quiet"])
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cli_PointmassMedium-v0_seed1",
                                                          "cli_PointmassMedium-v0_seed2"]
    args = train_parser().parse_args(["--awac_lambda", "0.3", "--iql_expectile", "0.7",
                                      "--offline_dataset", "x.npz", "--filter_top_percent", "5"])
    assert (args.temperature, args.expectile, args.offline_dataset, args.filter_top_percent) == \
        (0.3, 0.7, "x.npz", 5)


def test_cli_resumes_by_default_and_retrains_with_fresh(tmp_path, capsys):
    """A rerun leaves a finished seed as it is and says so; --fresh trains it again from step 0;
    --resume, the default, is still accepted."""
    args = ["--algo", "bc", "--num-timesteps", "20", "--eval-freq", "10", "--eval-episodes", "1",
            "--exp-name", "again", "--out", str(tmp_path), "--quiet"]
    run_dir = tmp_path / "again_PointmassMedium-v0_seed1"
    assert train_main(args) == 0
    assert "finished already" not in capsys.readouterr().out
    metrics = (run_dir / "metrics.jsonl").read_text()

    assert train_main(args + ["--resume"]) == 0
    assert f"seed 1: {run_dir} (finished already; --fresh retrains it)" in capsys.readouterr().out
    assert (run_dir / "metrics.jsonl").read_text() == metrics  # nothing trained, nothing logged twice

    (run_dir / "eval.csv").unlink()  # a fresh run writes its logs anew
    assert train_main(args + ["--fresh"]) == 0
    assert "finished already" not in capsys.readouterr().out
    assert read_eval_csv(run_dir / "eval.csv")[0] == [0, 10, 20]

    assert train_main(args + ["--fresh", "--resume"]) == 2
    assert "--fresh and --resume contradict each other" in capsys.readouterr().err


def test_cli_reports_bad_input_without_a_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not an npz at all")
    assert train_main(["--offline-dataset", str(bad), "--out", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "not a readable npz file" in err and "Traceback" not in err

    assert train_main(["--iql-expectile", "1.5", "--quiet"]) == 2
    assert "--iql-expectile must lie in (0, 1)" in capsys.readouterr().err


def test_every_command_stops_on_ctrl_c_and_on_bad_input_the_same_way(capsys):
    """The runner behind every command: Ctrl-C exits 130 saying how to continue, a fixable
    error exits 2 on one line, the command's own exit code passes through, a bug still raises."""
    from iql_lib.cli import _command

    def main(argv):
        if argv == ["ctrl-c"]:
            raise KeyboardInterrupt
        if argv == ["bad"]:
            raise FileNotFoundError("no such run")
        if argv == ["bug"]:
            raise TypeError("a bug")
        if argv == ["torch"]:
            torch.zeros(2) @ torch.zeros(3)  # torch's own RuntimeError: a bug to see whole
        if argv == ["fixable"]:
            raise UserError("pip install the extra")
        return 1 if argv == ["fails"] else None

    command = _command("iql-x", interrupted="rerun with --resume")(main)
    assert command(["ctrl-c"]) == 130
    assert capsys.readouterr().err == "iql-x: interrupted; rerun with --resume\n"
    assert _command("iql-y")(main)(["ctrl-c"]) == 130
    assert capsys.readouterr().err == "iql-y: interrupted\n"
    assert command(["bad"]) == 2
    assert capsys.readouterr().err == "iql-x: error: no such run\n"
    assert command([]) == 0 and command(["fails"]) == 1
    with pytest.raises(TypeError):
        command(["bug"])
    with pytest.raises(RuntimeError, match="inconsistent tensor size"):
        command(["torch"])
    assert command(["fixable"]) == 2
    assert capsys.readouterr().err == "iql-x: error: pip install the extra\n"


def test_cli_names_a_blank_with_the_wrong_shape(tmp_path, capsys):
    module = tmp_path / "my_blanks.py"
    module.write_text(reference_blanks_module().replace(
        "return q_sa - v_s", "return (q_sa - v_s).unsqueeze(-1)"))
    code = train_main(["--blanks", str(module), "--num-timesteps", "10", "--out", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Blank 5 (estimate_advantage)" in err and "[256]" in err and "[256, 1]" in err


def test_student_release_stubs_point_to_the_chapter(tmp_path, capsys):
    assert train_main(["--blanks", "stubs", "--out", str(tmp_path), "--quiet"]) == 2
    assert "chapter 5" in capsys.readouterr().err



def test_resume_with_a_larger_budget_extends_the_run(tmp_path):
    common = dict(algo="bc", eval_freq=200, eval_episodes=2, out=str(tmp_path))
    (run_dir,) = train(make_config("PointmassMedium-v0", num_timesteps=200, **common), progress=False)
    train(make_config("PointmassMedium-v0", num_timesteps=400, resume=True, **common), progress=False)
    assert read_eval_csv(run_dir / "eval.csv")[0] == [0, 200, 400]
    cfg, _ = read_run_config(run_dir)
    assert cfg.num_timesteps == 400 and reached_step(run_dir, 400)


def test_seeds_checkpointed_at_different_steps_resume_together(tmp_path):
    """A kill can land between two seeds' checkpoints: each seed resumes from its own."""
    common = dict(algo="bc", eval_freq=200, eval_episodes=3, log_freq=100)
    reference = train(make_config("PointmassMedium-v0", out=str(tmp_path / "ref"), seeds=[1, 2],
                                  num_timesteps=400, **common), progress=False)
    run_dirs = train(make_config("PointmassMedium-v0", out=str(tmp_path / "run"), seeds=[1, 2],
                                 num_timesteps=400, **common), progress=False)
    # seed 2 as if killed right after its step-200 checkpoint
    (behind,) = train(make_config("PointmassMedium-v0", out=str(tmp_path / "behind"), seeds=[2],
                                  num_timesteps=200, **common), progress=False)
    for name in ("checkpoint.pt", "eval.csv", "metrics.jsonl"):
        (run_dirs[1] / name).write_bytes((behind / name).read_bytes())

    train(make_config("PointmassMedium-v0", out=str(tmp_path / "run"), seeds=[1, 2], num_timesteps=400,
                      resume=True, **common), progress=False)
    for ref, resumed in zip(reference, run_dirs):
        assert (resumed / "eval.csv").read_text() == (ref / "eval.csv").read_text()
        expected, got = read_metrics(ref / "metrics.jsonl"), read_metrics(resumed / "metrics.jsonl")
        assert [m["step"] for m in got] == [m["step"] for m in expected]
        for a, b in zip(got, expected):  # seed 2 resumed alone: batch of 1 vs 2 in the matmuls
            assert a == pytest.approx(b, rel=1e-5)


def test_normalised_observations_reach_every_network_and_come_back_with_the_run(tmp_path):
    """--normalize-observations: V, both Qs and the policy see (s − mean) / std of the
    dataset's states, during training and when the run is loaded again."""
    cfg = short_config(tmp_path, algo="iql", normalize_observations=True)
    (run_dir,) = train(cfg, seeds=[1], progress=False)
    assert json.loads((run_dir / "config.json").read_text())["normalize_observations"] is True
    engine, _, _, env = load_policy(run_dir)
    algo, state = engine.algo, engine.seed_state(0)["params"]
    mean, std = load_training_data(cfg, env).observation_stats()
    obs = torch.as_tensor(np.random.default_rng(0).normal(mean, 3 * std, (16, len(mean))), dtype=torch.float32)
    standardised = (obs - torch.as_tensor(mean)) / torch.as_tensor(std)
    raw = load_policy(run_dir)[0].algo  # the same networks, to be called without the scaling
    for net in (raw.policy, raw.v_net, raw.q.net):
        net.input_shift = net.input_scale = None
    actions = torch.arange(16) % env.action_space.n  # PointMass: discrete actions
    assert torch.allclose(algo.policy(state["policy"], obs), raw.policy(state["policy"], standardised))
    assert torch.allclose(algo.v(state["v_net"], obs), raw.v(state["v_net"], standardised), atol=1e-5)
    assert torch.allclose(algo.q(state["q_net"], obs, actions), raw.q(state["q_net"], standardised, actions),
                          atol=1e-5)


def test_a_rerun_with_other_settings_refuses_to_continue_the_checkpoint(tmp_path, capsys):
    common = ["--num-timesteps", "200", "--eval-freq", "100", "--eval-episodes", "2", "--out", str(tmp_path),
              "--exp-name", "run", "--quiet"]
    assert train_main(common) == 0
    assert train_main(common + ["--num-timesteps", "300"]) == 0  # a longer budget continues it
    assert reached_step(tmp_path / "run_PointmassMedium-v0_seed1", 300)
    assert train_main(common + ["--iql-expectile", "0.7"]) == 2
    err = capsys.readouterr().err
    assert "expectile 0.9 → 0.7" in err and "--fresh" in err
    assert train_main(common + ["--iql-expectile", "0.7", "--fresh"]) == 0
