"""The walker behind the AntMaze data: SAC's pieces against closed forms, its training
(deterministic, resumable after a kill), the shipped weights, and the `walker` data style."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from iql_lib.algos.sac import SAC
from iql_lib.config import WalkerConfig
from iql_lib.datagen import antmaze as datagen
from iql_lib.datagen.walker import (ACTION_DIM, INPUT_DIM, DirectionTask, Walker, WalkerTraining,
                                    ship, walking_test)
from iql_lib.training.engine import Engine, ReplayTensor
from iql_lib.envs.antmaze import AntMazeEnv
from iql_lib.algos.nets import SquashedGaussianPolicy

TINY = dict(hidden_size=32, total_steps=300, learning_starts=50, eval_freq=100, eval_rollouts=1,
            checkpoint_freq=100, episode_steps=120, command_every=40)


def test_squashed_log_prob_is_the_change_of_variables_through_tanh():
    torch.manual_seed(0)
    head = torch.cat([torch.randn(5, 3), torch.randn(5, 3).clamp(-2, 1)], dim=-1)
    noise = torch.randn(5, 3)
    action, log_prob = SquashedGaussianPolicy.sample_with_log_prob(head, noise)
    mean, log_std = head.chunk(2, dim=-1)
    reference = torch.distributions.TransformedDistribution(
        torch.distributions.Normal(mean, log_std.exp()), [torch.distributions.TanhTransform()])
    u = mean + log_std.exp() * noise
    assert torch.allclose(action, torch.tanh(u))
    assert torch.allclose(log_prob, reference.log_prob(torch.tanh(u)).sum(-1), atol=1e-4)
    assert torch.allclose(SquashedGaussianPolicy.mode(head), torch.tanh(mean))


def sac_on(rewards_of, steps: int, **cfg):
    """SAC on a one-step task (every transition terminal) with uniformly random actions:
    the critic learns the reward, the actor its best action."""
    cfg = WalkerConfig(hidden_size=32, learning_rate=3e-3, **cfg)
    algo = SAC(2, 2, cfg)
    engine = Engine(algo, [0], torch.device("cpu"), compile=False)
    rng = np.random.default_rng(0)
    replay = ReplayTensor.empty(512, 2, 2, "cpu")
    for _ in range(512):
        obs, action = rng.standard_normal(2), rng.uniform(-1, 1, 2)
        replay.append(obs, action, rewards_of(action), obs, True)
    for _ in range(steps):
        metrics = engine.update(replay, 128)
    return engine, metrics


def test_sac_finds_the_best_action_of_a_one_step_task():
    target = np.array([0.5, -0.3])
    engine, _ = sac_on(lambda a: -10.0 * float(np.sum((a - target) ** 2)), 400)
    obs = torch.as_tensor(np.random.default_rng(1).standard_normal((16, 2)), dtype=torch.float32)
    best = engine.act_all(obs[None], True, engine.generators)[0].numpy()
    untrained = Engine(engine.algo, [0], torch.device("cpu"), compile=False).act_all(obs[None], True, engine.generators)
    assert np.abs(best - target).mean() < 0.08
    assert np.abs(untrained[0].numpy() - target).mean() > 0.3


def test_the_entropy_weight_falls_while_the_policy_is_more_random_than_the_target():
    # a fresh policy (σ ≈ 1 before tanh) is far more random than the target entropy, −2 here
    _, metrics = sac_on(lambda a: 0.0, 20)
    assert float(metrics["Alpha"][0]) < 1.0 and float(metrics["Entropy"][0]) > -2.0


def test_the_direction_tasks_reward_is_the_velocity_along_the_command():
    task = DirectionTask(episode_steps=50, command_every=20)
    rng = np.random.default_rng(0)
    task.reset(rng)
    for t in range(1, 51):
        before, direction = task.obs[:2].copy(), task.direction.copy()
        seen = task.observe()
        assert seen.shape == (INPUT_DIM,) and np.array_equal(seen[-2:], direction)
        next_input, reward, terminated, truncated = task.step(rng.uniform(-1, 1, ACTION_DIM), rng)
        assert reward == pytest.approx(np.dot(task.obs[:2] - before, direction) / task.dt)
        assert np.array_equal(next_input[-2:], direction)  # the transition keeps the direction it walked
        assert truncated == (t == 50) and not terminated
        if t % 20 == 0:
            assert not np.array_equal(task.direction, direction)  # a fresh command for the next step


def test_training_is_deterministic_and_a_killed_run_resumes_to_the_same_walker(tmp_path):
    straight = WalkerTraining(WalkerConfig(**TINY), tmp_path / "straight").run(resume=False, progress=False)
    killed = tmp_path / "killed"
    script = ("import torch; torch.set_num_threads(1)\n"
              "from iql_lib.config import WalkerConfig\nfrom iql_lib.datagen.walker import WalkerTraining\n"
              f"WalkerTraining(WalkerConfig(**{TINY!r}), {str(killed)!r}).run(progress=False)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=os.getcwd())
    deadline = time.monotonic() + 120
    while not (killed / "checkpoint.pt").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "walker.pt").exists(), "the run finished before it could be killed"
    rows_at_kill = (killed / "curve.csv").read_text().splitlines()
    resumed = WalkerTraining(WalkerConfig(**TINY), killed).run(progress=False)
    a, b = torch.load(straight, weights_only=True), torch.load(resumed, weights_only=True)
    assert torch.equal(a["policy"], b["policy"])
    curve = (killed / "curve.csv").read_text().splitlines()
    assert curve == (tmp_path / "straight" / "curve.csv").read_text().splitlines()
    assert curve[:len(rows_at_kill)] == rows_at_kill and len(curve) == 1 + 3
    assert (killed / "curve.png").stat().st_size > 0
    # the walker at a checkpoint's step ships like a finished one
    shipped = ship(killed / "checkpoint.pt", tmp_path / "shipped.pt")
    assert torch.equal(torch.load(shipped, weights_only=True)["policy"], b["policy"])
    assert torch.load(shipped, weights_only=True)["step"] == TINY["total_steps"]
    # another configuration does not silently continue this one
    with pytest.raises(ValueError, match="another configuration"):
        WalkerTraining(WalkerConfig(**{**TINY, "seed": 1}), killed).run(progress=False)


def test_the_numpy_walker_is_the_policys_mean_action(tmp_path):
    path = WalkerTraining(WalkerConfig(**{**TINY, "total_steps": 60, "eval_freq": 60}), tmp_path).run(
        resume=False, progress=False)
    saved = torch.load(path, weights_only=True)
    algo = SAC(INPUT_DIM, ACTION_DIM, WalkerConfig(**TINY))
    obs, direction = np.random.default_rng(0).standard_normal(29), np.array([0.6, 0.8])
    head = algo.policy(saved["policy"], torch.as_tensor(np.concatenate([obs[2:], direction]), dtype=torch.float32))
    expected = SquashedGaussianPolicy.mode(head).detach().numpy()
    assert np.allclose(Walker.load(path)(obs, direction), expected, atol=1e-5)


def test_the_shipped_walker_walks_along_the_command_without_falling():
    stats = walking_test(Walker.load(), rollouts=3, seconds=10)
    assert stats.speed > 0.9 and stats.flips == 0
    standing = walking_test(lambda obs, direction: np.zeros(ACTION_DIM), rollouts=3, seconds=10)
    assert abs(standing.speed) < 0.1


def test_the_walker_heads_for_the_next_cell_centre_plus_d4rls_noise():
    env = AntMazeEnv("antmaze-medium-diverse-v0", ant="d4rl")
    asked = []
    driver = datagen.WalkerDriver(env, lambda obs, direction: asked.append(direction) or np.zeros(ACTION_DIM),
                                  datagen.ControllerStats(), np.random.default_rng(0))
    obs, _ = env.reset(seed=0)
    driver.command(obs[:2], env.cell_to_sim(env.goal_cell))
    next_cell = env.drawing_maze.shortest_path(env.start_cell, env.goal_cell)[1]
    offsets = []
    for _ in range(200):
        driver.action(obs, 0)
        offsets.append(asked[-1])
    centre_offset = env.cell_to_sim(next_cell) - obs[:2]
    # each step a unit vector toward the next cell's centre moved by U(0, 1 m) on each axis
    assert np.allclose(np.linalg.norm(offsets, axis=1), 1.0)
    lo, hi = centre_offset, centre_offset + 1.0
    corners = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [lo[0], hi[1]], [hi[0], hi[1]]])
    angles = np.arctan2(*np.array(offsets).T[::-1])
    corner_angles = np.arctan2(corners[:, 1], corners[:, 0])
    assert corner_angles.min() - 1e-9 <= angles.min() and angles.max() <= corner_angles.max() + 1e-9
    assert np.ptp(angles) > 0.5 * np.ptp(corner_angles)  # fresh noise every step
    # in the goal's cell it heads for the commanded goal itself
    goal = env.cell_to_sim(env.goal_cell) + np.array([0.3, -0.2])
    driver.command(goal, goal)
    at_goal_cell = obs.copy()
    at_goal_cell[:2] = env.cell_to_sim(env.goal_cell)
    driver.action(at_goal_cell, 0)
    assert np.allclose(asked[-1], np.array([0.3, -0.2]) / np.hypot(0.3, 0.2))


def test_walker_data_follows_d4rls_procedure_and_is_deterministic(tmp_path):
    paths = [tmp_path / f"{name}.npz" for name in ("a", "b")]
    for path in paths:
        datagen.generate_to_file("antmaze-umaze-v0", path, 1200, seed=5, style="walker", progress=False)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    data, extra = datagen.generate("antmaze-umaze-v0", 1000, seed=5, style="walker", progress=False)
    assert str(extra["style"]) == "walker" and str(extra["ant"]) == "d4rl"
    assert len(np.unique(extra["goals"], axis=0)) == 1  # one goal per episode, kept once reached
    assert extra["goal_reached"].sum() > 20 and data.terminals.sum() > 20  # it gets there and lingers
    assert data.episode_bounds() == [(0, 1000)]  # only the time limit ends it


def test_navigate_data_replaces_a_reached_goal_at_once():
    data, extra = datagen.generate("antmaze-medium-diverse-v0", 1000, seed=2, style="navigate", progress=False)
    assert str(extra["style"]) == "navigate" and str(extra["ant"]) == "d4rl"
    goals, reached = extra["goals"], extra["goal_reached"]
    changes = np.flatnonzero(np.any(goals[1:] != goals[:-1], axis=1))
    assert len(changes) >= 2  # the walker reaches goal after goal
    assert reached[changes].all()  # each goal is replaced on the step after it is reached ...
    assert reached.sum() == len(changes) + reached[-1]  # ... so it is never reached twice
    assert data.episode_bounds() == [(0, 1000)]


def test_navigate_data_draws_goals_at_random_on_umaze_too():
    maker = datagen.EpisodeMaker("antmaze-umaze-v0", "navigate")
    goal_cells = {maker.env.drawing_maze.cell_of(maker.env.to_cells(maker.episode(3, i, max_steps=1)[0]["goals"][0]))
                  for i in range(8)}
    assert len(goal_cells) > 2  # umaze's own data (`walker`, `d4rl`) always commands the task's goal


def test_the_maze_test_counts_the_given_walkers_goals_and_falls():
    standing = lambda obs, direction: np.zeros(ACTION_DIM)  # noqa: E731
    still = datagen.maze_test(standing, episodes=1, progress=False)
    assert still.goals_reached == 0 and still.falls == 0 and still.goals_commanded == 1
    walking = datagen.maze_test(Walker.load(), episodes=2, progress=False)
    assert walking.goals_reached >= 2 and walking.goals_commanded == walking.goals_reached + 2
