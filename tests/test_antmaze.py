"""AntMaze tasks on gymnasium-robotics: observation layout, reward and success, fixed
start and goal, the two frames, batched evaluation, and training end to end."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from iql_lib.cli import train_main
from iql_lib.envs import make_env
from iql_lib.envs.antmaze import SCALE, AntMazeEnv
from iql_lib.training.evaluate import evaluate_envs
from iql_lib.training.run_folder import read_eval_csv, read_metrics

pytestmark = pytest.mark.filterwarnings("ignore:env_spec is None:UserWarning")  # our test datasets

UMAZE = "antmaze-umaze-v0"
CELL_NOISE = 0.25 * SCALE  # gymnasium-robotics' position noise inside a cell


@pytest.fixture(scope="module")
def umaze() -> AntMazeEnv:
    return make_env(UMAZE)


def teleport(env: AntMazeEnv, xy) -> None:
    """Put the ant's torso at `xy` (this task's frame), at rest."""
    ant = env.sim.ant_env
    qpos, qvel = ant.data.qpos.copy(), np.zeros_like(ant.data.qvel)
    qpos[:2] = np.asarray(xy) + env.offset
    ant.set_state(qpos, qvel)


def test_observation_is_d4rl_layout(umaze):
    obs, _ = umaze.reset(seed=0)
    obs, *_ = umaze.step(np.zeros(8))
    data = umaze.sim.ant_env.data
    assert obs.shape == (29,) and umaze.observation_space.contains(obs)
    np.testing.assert_allclose(obs, np.concatenate([data.qpos, data.qvel]))  # [x, y] + ant state
    assert umaze.action_space.shape == (8,)
    assert umaze.action_space.low.min() == -1 and umaze.action_space.high.max() == 1


def test_building_a_task_prints_nothing_about_envs_it_does_not_use():
    """gymnasium-robotics 1.4.x prints a notice about Adroit hands on import; a user of
    AntMaze should not meet it on every command."""
    built = subprocess.run([sys.executable, "-c", "from iql_lib.envs.antmaze import AntMazeEnv; "
                            "AntMazeEnv('antmaze-umaze-v0').reset(seed=0)"],
                           capture_output=True, text=True, check=True)
    assert "Adroit" not in built.stderr and built.stdout == ""


def test_building_tasks_leaves_no_files_in_the_temp_folder(tmp_path):
    """gymnasium-robotics writes each maze's XML to the temp folder; every run builds
    several envs, so those files must not pile up there."""
    subprocess.run([sys.executable, "-c", "from iql_lib.envs.antmaze import AntMazeEnv\n"
                    "for task in ('antmaze-umaze-v0', 'antmaze-medium-diverse-v0'):\n"
                    "    AntMazeEnv(task, frame='d4rl', ant='d4rl').reset(seed=0)"],
                   check=True, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert list(tmp_path.iterdir()) == []


def test_reward_is_minus_one_until_within_half_a_metre_of_the_goal(umaze):
    umaze.reset(seed=1)
    teleport(umaze, umaze.goal + np.array([0.8, 0.0]))
    _, reward, terminated, truncated, info = umaze.step(np.zeros(8))
    assert (reward, terminated, truncated, info["is_success"]) == (-1.0, False, False, False)
    teleport(umaze, umaze.goal + np.array([0.3, 0.0]))
    _, reward, terminated, truncated, info = umaze.step(np.zeros(8))
    assert (reward, terminated, truncated, info["is_success"]) == (0.0, True, False, True)


def test_episode_truncates_at_the_task_limit(umaze):
    umaze.reset(seed=2)
    for t in range(700):
        _, _, terminated, truncated, _ = umaze.step(np.zeros(8))
        assert not terminated
        assert truncated == (t == 699)


@pytest.mark.parametrize("task,start,goal", [(UMAZE, (3, 1), (1, 1)),
                                             ("antmaze-medium-diverse-v0", (1, 1), (6, 6))])
def test_start_and_goal_are_fixed_cells(task, start, goal):
    env = make_env(task)
    for seed in range(4):
        obs, info = env.reset(seed=seed)
        assert np.abs(obs[:2] - env.cell_to_sim(start)).max() <= CELL_NOISE + 1e-9
        assert np.abs(info["goal"] - env.cell_to_sim(goal)).max() <= CELL_NOISE + 1e-9


@pytest.mark.parametrize("task,goal", [(UMAZE, (0.0, 8.0)), ("antmaze-medium-diverse-v0", (20.0, 20.0))])
def test_d4rl_frame_puts_the_start_at_the_origin_and_the_goal_where_d4rl_has_it(task, goal):
    env = make_env(task, frame="d4rl")
    obs, info = env.reset(seed=0)
    assert np.abs(obs[:2]).max() <= CELL_NOISE + 0.1
    assert np.abs(info["goal"] - np.array(goal)).max() <= CELL_NOISE + 1e-9
    # and the start is drawn bottom-left, the goal above it (rows reversed, y up)
    start_cells, goal_cells = env.to_cells(np.zeros(2)), env.to_cells(np.array(goal))
    assert start_cells[0] > goal_cells[0] and start_cells[1] <= goal_cells[1]


def test_batched_evaluation_equals_sequential(umaze):
    weights = torch.randn(29, 8, generator=torch.Generator().manual_seed(0)) * 0.3
    policy = lambda obs: torch.tanh(obs @ weights)  # noqa: E731  (deterministic)
    pool = [umaze] + [make_env(UMAZE) for _ in range(2)]
    batched = evaluate_envs(policy, pool, n_episodes=3, seed=10)
    sequential = evaluate_envs(policy, [umaze], n_episodes=3, seed=10)
    np.testing.assert_array_equal(batched.returns, sequential.returns)
    for a, b in zip(batched.trajectories, sequential.trajectories):
        np.testing.assert_allclose(a, b)
    assert batched.metrics()["Eval_NormalizedScore"] == 100 * batched.successes.mean()


def test_evaluation_trajectories_record_every_position(umaze):
    weights = torch.randn(29, 8, generator=torch.Generator().manual_seed(1)) * 0.3
    policy = lambda obs: torch.tanh(obs @ weights)  # noqa: E731
    (recorded,) = evaluate_envs(policy, [make_env(UMAZE)], n_episodes=1, seed=4).trajectories
    obs, _ = umaze.reset(seed=4)
    positions = [obs[:2].copy()]
    for _ in range(len(recorded) - 1):
        obs = umaze.step(policy(torch.as_tensor(obs[None], dtype=torch.float32))[0].numpy())[0]
        positions.append(obs[:2].copy())
    np.testing.assert_allclose(recorded, np.array(positions))
    assert np.ptp(recorded, axis=0).max() > 0.01  # it moved, and the record shows it


def test_evaluation_keeps_where_each_episode_first_met_a_condition(umaze):
    weights = torch.randn(29, 8, generator=torch.Generator().manual_seed(1)) * 0.3
    policy = lambda obs: torch.tanh(obs @ weights)  # noqa: E731
    pool = [umaze, make_env(UMAZE)]
    result = evaluate_envs(policy, pool, n_episodes=3, seed=4, first_where=lambda obs: True)
    np.testing.assert_allclose(result.first_where, [t[1] for t in result.trajectories])  # the first step
    # moved 5 cm from its start: a step inside each trajectory, the same one batched or not
    start = umaze.reset(seed=4)[0][:2]
    away = lambda obs: bool(np.linalg.norm(obs[:2] - start) > 0.05)  # noqa: E731
    one = evaluate_envs(policy, [umaze], n_episodes=1, seed=4, first_where=away)
    (path,) = one.trajectories
    first = np.argmax(np.linalg.norm(path - start, axis=1) > 0.05)
    assert first > 1 and np.array_equal(one.first_where[0], path[first])
    never = evaluate_envs(policy, pool, n_episodes=3, seed=4, first_where=lambda obs: False)
    assert np.isnan(never.first_where).all() and evaluate_envs(policy, pool, 1, 4).first_where is None


def _tiny_antmaze_dataset(path, n=600):
    rng = np.random.default_rng(0)
    obs = rng.standard_normal((n, 29)).astype(np.float32)
    terminals = np.zeros(n, np.float32)
    terminals[299::300] = 1.0
    np.savez(path, observations=obs, actions=rng.uniform(-1, 1, (n, 8)).astype(np.float32),
             rewards=terminals - 1.0, next_observations=np.roll(obs, -1, axis=0), terminals=terminals)


@pytest.mark.parametrize("algo", ["iql", "awac", "bc"])
def test_training_runs_end_to_end_on_a_local_file(tmp_path, algo):
    data = tmp_path / "tiny.npz"
    _tiny_antmaze_dataset(data)
    code = train_main(["--algo", algo, "--env-name", UMAZE, "--offline-dataset", str(data), "--num-timesteps",
                       "20", "--eval-freq", "10", "--eval-episodes", "2", "--hidden-size", "32",
                       "--out", str(tmp_path), "--quiet"])
    assert code == 0
    (run_dir,) = tmp_path.glob(f"*_{UMAZE}_seed1")
    assert read_eval_csv(run_dir / "eval.csv")[0] == [0, 10, 20]
    evals = [m for m in read_metrics(run_dir / "metrics.jsonl") if "Eval_AverageReturn" in m]
    assert {"Eval_SuccessRate", "Eval_NormalizedScore"} <= set(evals[-1])
    assert -700 <= evals[-1]["Eval_AverageReturn"] <= 0
    assert (run_dir / "eval_last_traj.png").exists()


# --- legacy D4RL HDF5 files ----------------------------------------------------------

def write_d4rl_file(path, episodes=2, steps=40, seed=0):
    """A small file in D4RL's AntMaze layout, recorded in the D4RL-frame umaze with random
    actions: 1 as reward within 0.5 of the goal, time limits marked in `timeouts`."""
    import h5py

    env = make_env(UMAZE, frame="d4rl")
    rng = np.random.default_rng(seed)
    cols = {k: [] for k in ("observations", "actions", "rewards", "terminals", "timeouts", "goal", "qpos", "qvel")}
    for episode in range(episodes):
        obs, info = env.reset(seed=seed + episode)
        for t in range(steps):
            action = rng.uniform(-1, 1, 8).astype(np.float32)
            data = env.sim.ant_env.data
            for key, value in (("observations", obs), ("actions", action), ("goal", info["goal"]),
                               ("qpos", data.qpos.copy()), ("qvel", data.qvel.copy())):
                cols[key].append(value)
            obs, reward, terminated, _, info = env.step(action)
            cols["rewards"].append(reward + 1.0)
            cols["terminals"].append(False)
            cols["timeouts"].append(t == steps - 1)
    with h5py.File(path, "w") as f:
        for key in ("observations", "actions", "rewards", "terminals", "timeouts"):
            f[key] = np.array(cols[key])
        for key in ("goal", "qpos", "qvel"):
            f[f"infos/{key}"] = np.array(cols[key])
    return cols


def test_d4rl_file_loads_as_iql_trains_on_it(tmp_path):
    from iql_lib.data import load_dataset

    path = tmp_path / "antmaze-umaze-v0.hdf5"
    cols = write_d4rl_file(path)
    data = load_dataset(path, make_env(UMAZE, frame="d4rl"))
    obs = np.array(cols["observations"], dtype=np.float32)
    kept = [i for i in range(80) if not cols["timeouts"][i] and i < 79]  # s' exists
    assert len(data) == len(kept) == 78
    np.testing.assert_array_equal(data.observations, obs[kept])
    np.testing.assert_array_equal(data.next_observations, obs[np.array(kept) + 1])
    np.testing.assert_array_equal(data.rewards, np.array(cols["rewards"], np.float32)[kept] - 1.0)
    assert [b - a for a, b in data.episode_bounds()] == [39, 39]


def test_d4rl_positions_land_in_the_d4rl_frame_maze(tmp_path):
    """Every recorded position is in a free cell; start and goal in the task's cells."""
    path = tmp_path / "antmaze-umaze-v0.hdf5"
    cols = write_d4rl_file(path, episodes=3)
    env = make_env(UMAZE, frame="d4rl")
    cells = np.floor(env.to_cells(np.array(cols["observations"])[:, :2])).astype(int)
    assert all(env.grid[r, c] == 0 for r, c in cells)
    starts = np.array(cols["observations"])[::40, :2]
    assert {tuple(c) for c in np.floor(env.to_cells(starts)).astype(int)} == {env.start_cell}
    goals = np.floor(env.to_cells(np.array(cols["goal"]))).astype(int)
    assert {tuple(c) for c in goals} == {env.goal_cell}


def test_training_on_a_d4rl_file_builds_the_d4rl_frame(tmp_path):
    path = tmp_path / "antmaze-umaze-v0.hdf5"
    write_d4rl_file(path)
    assert train_main(["--algo", "bc", "--env-name", UMAZE, "--offline-dataset", str(path),
                       "--num-timesteps", "4", "--eval-freq", "4", "--eval-episodes", "1",
                       "--hidden-size", "16", "--out", str(tmp_path), "--quiet"]) == 0
    from iql_lib.training.train import load_policy

    *_, env = load_policy(tmp_path / f"bc_{UMAZE}_seed1")
    assert env.frame == "d4rl" and env.ant.name == "d4rl" and env.dt == 0.1  # D4RL's step and torque


@pytest.mark.parametrize("damage,message", [
    (lambda f: f.__delitem__("timeouts"), r"missing key\(s\) \['timeouts'\]"),
    (lambda f: (f.__delitem__("rewards"), f.create_dataset("rewards", data=np.zeros(3))),
     "different lengths"),
])
def test_malformed_d4rl_files_are_clear_errors(tmp_path, damage, message):
    import h5py

    from iql_lib.data import DatasetError, load_dataset

    path = tmp_path / "bad.hdf5"
    write_d4rl_file(path, episodes=1, steps=5)
    with h5py.File(path, "a") as f:
        damage(f)
    with pytest.raises(DatasetError, match=message):
        load_dataset(path)


def test_a_file_that_is_not_hdf5_is_a_clear_error(tmp_path):
    from iql_lib.data import DatasetError, load_dataset

    path = tmp_path / "junk.hdf5"
    path.write_bytes(b"definitely not hdf5")
    with pytest.raises(DatasetError, match="not a readable HDF5 file"):
        load_dataset(path)


# --- Minari datasets -----------------------------------------------------------------

@pytest.fixture
def minari_store(tmp_path, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    return tmp_path / "minari"


def write_minari_dataset(dataset_id, episodes=2, steps=30, seed=0):
    """A local Minari dataset in the layout of D4RL/antmaze: goal-env dict observations
    recorded in the gymnasium-frame umaze with random actions, sparse 0/1 rewards."""
    import gymnasium as gym
    import minari
    from minari.data_collector import EpisodeBuffer

    env = make_env(UMAZE)
    rng = np.random.default_rng(seed)
    buffers, flat = [], []
    for episode in range(episodes):
        obs, info = env.reset(seed=seed + episode)
        observations, actions, rewards = [obs], [], []
        for _ in range(steps):
            actions.append(rng.uniform(-1, 1, 8).astype(np.float32))
            obs, reward, *_ = env.step(actions[-1])
            observations.append(obs)
            rewards.append(reward + 1.0)
        o = np.array(observations)
        flat.append(o)
        buffers.append(EpisodeBuffer(
            id=episode, observations={"achieved_goal": o[:, :2], "desired_goal": np.tile(info["goal"], (steps + 1, 1)),
                                      "observation": o[:, 2:]},
            actions=np.array(actions), rewards=np.array(rewards), terminations=np.zeros(steps, bool),
            truncations=np.r_[np.zeros(steps - 1, bool), True]))
    box = lambda n: gym.spaces.Box(-np.inf, np.inf, (n,), np.float64)  # noqa: E731
    minari.create_dataset_from_buffers(
        dataset_id, buffers, action_space=env.action_space, algorithm_name="random", author="tests",
        author_email="tests@example.com", code_permalink="tests/test_antmaze.py",
        observation_space=gym.spaces.Dict({"achieved_goal": box(2), "desired_goal": box(2), "observation": box(27)}))
    return flat


def test_minari_dataset_loads_flat_and_in_the_gymnasium_frame(minari_store):
    from iql_lib.data import dataset_frame, load_dataset

    flat = write_minari_dataset("tests/antmaze/umaze-v1")
    spec = "minari:tests/antmaze/umaze-v1"
    assert dataset_frame(spec) == "gymnasium"
    env = make_env(UMAZE, frame=dataset_frame(spec))
    data = load_dataset(spec, env)
    np.testing.assert_allclose(data.observations, np.concatenate([f[:-1] for f in flat]), rtol=1e-6)
    np.testing.assert_allclose(data.next_observations, np.concatenate([f[1:] for f in flat]), rtol=1e-6)
    assert set(np.unique(data.rewards)) <= {-1.0, 0.0}
    assert [b - a for a, b in data.episode_bounds()] == [30, 30]
    cells = np.floor(env.to_cells(data.observations[:, :2])).astype(int)
    assert all(env.grid[r, c] == 0 for r, c in cells)


def test_missing_minari_dataset_says_what_to_run(minari_store):
    from iql_lib.data import DatasetError, load_dataset

    with pytest.raises(DatasetError, match=r"not in the local store.*--download.*minari download D4RL/antmaze/umaze-v1"):
        load_dataset("minari:D4RL/antmaze/umaze-v1")


def test_training_on_a_minari_dataset(minari_store, tmp_path):
    write_minari_dataset("tests/antmaze/umaze-v1")
    assert train_main(["--algo", "iql", "--env-name", UMAZE, "--offline-dataset", "minari:tests/antmaze/umaze-v1",
                       "--num-timesteps", "4", "--eval-freq", "4", "--eval-episodes", "1", "--hidden-size", "16",
                       "--out", str(tmp_path / "runs"), "--quiet"]) == 0


def test_converted_d4rl_file_keeps_its_frame(tmp_path):
    from iql_lib.cli import data_main
    from iql_lib.data import dataset_frame, load_dataset

    source, out = tmp_path / "umaze.hdf5", tmp_path / "umaze.npz"
    write_d4rl_file(source)
    assert data_main(["convert", str(source), str(out)]) == 0
    assert dataset_frame(out) == "d4rl"
    original, converted = load_dataset(source), load_dataset(out, make_env(UMAZE, frame="d4rl"))
    for key in ("observations", "actions", "rewards", "next_observations", "terminals", "timeouts"):
        np.testing.assert_array_equal(getattr(converted, key), getattr(original, key))
    plot = tmp_path / "data.png"
    assert data_main(["info", str(out), "--env-name", UMAZE, "--plot", str(plot)]) == 0
    assert plot.stat().st_size > 3_000
