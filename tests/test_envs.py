"""PointMass environments: mazes, physics, the gymnasium API and batched evaluation (docs/design.md, "Environments")."""
import gymnasium as gym
import numpy as np
import pytest
import torch

import iql_lib.envs  # noqa: F401  (registers the gymnasium ids)
from iql_lib.envs import ENV_SPECS, make_env
from iql_lib.envs.mazes import MAZES, Maze, draw_maze
from iql_lib.envs.antmaze import AntMazeEnv
from iql_lib.envs.pointmass import PointMassDynamics, PointMassEnv, shortest_path_actions
from iql_lib.training.evaluate import evaluate_pointmass, shortest_path_reference

MEDIUM = "PointmassMedium-v0"
STAY, MINUS_Y, PLUS_Y, MINUS_X, PLUS_X = range(5)


def open_maze(size=41, start=None, goal=(0.5, 0.5)):
    """A wall-free square map; by default the start is in its centre."""
    centre = size / 2
    return Maze("open", np.zeros((size, size), dtype=np.int8),
                start=start or (centre, centre), goal=goal)


def shortest_path_policy(env):
    """The shortest-path policy acting on a batch of observations, as evaluate_pointmass calls it."""
    def act(obs):
        positions = env.dynamics.positions_from_observations(np.asarray(obs))
        return torch.as_tensor(shortest_path_actions(env.maze, positions))
    return act


def rollout(env, seed, act, max_steps=None):
    """Step `env` manually; returns (positions [T+1, 2], rewards, terminated flags, truncated flags)."""
    obs, info = env.reset(seed=seed)
    positions, rewards, terms, truncs = [info["position"]], [], [], []
    for _ in range(max_steps or env.max_episode_steps):
        action = int(act(torch.as_tensor(obs[None]))[0])
        obs, reward, terminated, truncated, info = env.step(action)
        positions.append(info["position"])
        rewards.append(reward)
        terms.append(terminated)
        truncs.append(truncated)
        if terminated or truncated:
            break
    return np.array(positions), np.array(rewards), np.array(terms), np.array(truncs)


# ---------------------------------------------------------------- mazes

def test_medium_maze_is_a_21_cell_corridor_of_20_moves():
    maze = MAZES["medium"]
    assert maze.shape == (6, 6)
    assert maze.start == (0.5, 0.5) and maze.goal == (1.5, 5.5)
    start, goal = maze.cell_of(maze.start), maze.cell_of(maze.goal)
    assert len(maze.free_cells()) == 21
    assert maze.distances_to(goal)[start] == 20
    path = maze.shortest_path(start, goal)
    assert len(path) == 21 and sorted(path) == sorted(maze.free_cells())
    assert all(len(maze.neighbours(cell)) <= 2 for cell in maze.free_cells())


@pytest.mark.parametrize("name", sorted(MAZES))
def test_start_and_goal_are_free_and_connected(name):
    maze = MAZES[name]
    start, goal = maze.cell_of(maze.start), maze.cell_of(maze.goal)
    assert maze.is_free(start) and maze.is_free(goal)
    assert start in maze.distances_to(goal)
    path = maze.shortest_path(start, goal)
    assert path[0] == start and path[-1] == goal
    assert all(abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1 for a, b in zip(path, path[1:]))


def test_shortest_path_from_unreachable_cell_raises():
    grid = np.array([[0, 1, 0]], dtype=np.int8)
    maze = Maze("split", grid, start=(0.5, 0.5), goal=(0.5, 2.5))
    with pytest.raises(ValueError, match="cannot reach"):
        maze.shortest_path((0, 0), (0, 2))


def test_wall_distance_is_the_gap_to_the_nearest_wall_square_in_cells():
    u = Maze("u", np.array([[1, 1, 1, 1, 1], [1, 0, 0, 0, 1], [1, 1, 1, 0, 1], [1, 0, 0, 0, 1],
                            [1, 1, 1, 1, 1]]), start=(3.5, 1.5), goal=(1.5, 1.5))
    points = [(1.5, 1.5),   # a cell's centre, walls on two sides: half a cell
              (1.8, 3.2),   # by the inner wall's corner (2, 2)-(3, 3): diagonal gap 0.2, 0.2
              (2.5, 3.5),   # the corridor down the right: walls left and right, half a cell away
              (2.0, 2.5)]   # on the inner wall's edge
    assert u.wall_distance(np.array(points)) == pytest.approx([0.5, np.hypot(0.2, 0.2), 0.5, 0.0])
    open_floor = Maze("open", np.zeros((3, 4), dtype=np.int8), start=(0.5, 0.5), goal=(2.5, 3.5))
    assert open_floor.wall_distance(np.array([[1.5, 1.5], [0.2, 3.0]])) == pytest.approx([1.5, 0.2])  # the edge


# ---------------------------------------------------------------- registry and gymnasium API

@pytest.mark.parametrize("env_id", sorted(ENV_SPECS))
def test_every_registered_id_builds_with_gymnasium_make(env_id):
    env = gym.make(env_id)
    assert isinstance(env.unwrapped, PointMassEnv if ENV_SPECS[env_id].family == "pointmass" else AntMazeEnv)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert len(env.step(env.action_space.sample())) == 5
    assert env.unwrapped.max_episode_steps == ENV_SPECS[env_id].max_episode_steps


def test_make_env_rejects_unknown_name():
    with pytest.raises(ValueError, match="unknown env 'Nope-v0'.*PointmassMedium-v0"):
        make_env("Nope-v0")


def test_reset_returns_scaled_start_observation():
    env = gym.make(MEDIUM)
    obs, info = env.reset(seed=3)
    assert isinstance(info, dict)
    assert obs.dtype == np.float32 and obs.shape == (2,)
    assert env.observation_space.contains(obs)
    np.testing.assert_allclose(obs, np.array([0.5, 0.5]) / 6, rtol=1e-6)
    np.testing.assert_array_equal(info["position"], [0.5, 0.5])


def test_step_returns_five_tuple_with_observation_of_new_position():
    env = gym.make(MEDIUM)
    env.reset(seed=0)
    result = env.step(PLUS_Y)
    assert len(result) == 5
    obs, reward, terminated, truncated, info = result
    assert obs.dtype == np.float32 and env.observation_space.contains(obs)
    np.testing.assert_allclose(obs, info["position"] / 6, rtol=1e-6)
    assert reward == -1.0 and terminated is False and truncated is False


def test_reward_zero_and_terminated_exactly_on_the_goal_step_without_noise():
    maze = open_maze(size=5, start=(2.5, 0.2), goal=(2.5, 2.5))
    env = PointMassEnv(maze, max_episode_steps=10, noise=0.0)
    env.reset(seed=0)
    _, reward, terminated, truncated, info = env.step(PLUS_Y)   # y = 1.2, distance 1.3
    assert (reward, terminated, truncated) == (-1.0, False, False)
    np.testing.assert_allclose(info["position"], [2.5, 1.2])
    _, reward, terminated, truncated, info = env.step(PLUS_Y)   # y = 2.2, distance 0.3
    assert (reward, terminated, truncated) == (0.0, True, False)
    assert info["is_success"] is True


def test_noisy_episode_rewards_minus_one_until_the_goal_step():
    env = make_env(MEDIUM)
    positions, rewards, terms, truncs = rollout(env, seed=1, act=shortest_path_policy(env))
    dist = np.linalg.norm(positions[1:] - np.array(env.maze.goal), axis=1)
    assert terms[-1] and not terms[:-1].any() and not truncs.any()
    assert rewards[-1] == 0.0 and np.all(rewards[:-1] == -1.0)
    assert dist[-1] < 1.0 and np.all(dist[:-1] >= 1.0)


def test_truncated_at_max_episode_steps_without_reaching_goal():
    env = gym.make(MEDIUM)
    env.reset(seed=0)
    for t in range(1, 151):
        _, reward, terminated, truncated, _ = env.step(STAY)
        assert reward == -1.0 and not terminated
        assert truncated == (t == 150)


@pytest.mark.parametrize("action", [5, 7, -1])
def test_invalid_action_raises_value_error(action):
    env = make_env(MEDIUM)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="actions are integers"):
        env.step(action)


# ---------------------------------------------------------------- seeding

def random_action_trajectory(env, seed, n_steps=40):
    env.reset(seed=seed)
    actions = np.random.default_rng(123).integers(5, size=n_steps)
    return np.array([env.step(int(a))[0] for a in actions])


def test_same_seed_gives_identical_trajectories():
    a = random_action_trajectory(make_env(MEDIUM), seed=7)
    b = random_action_trajectory(make_env(MEDIUM), seed=7)
    np.testing.assert_array_equal(a, b)


def test_reset_with_same_seed_replays_same_trajectory_on_one_env():
    env = make_env(MEDIUM)
    np.testing.assert_array_equal(random_action_trajectory(env, seed=7),
                                  random_action_trajectory(env, seed=7))


def test_different_seeds_give_different_trajectories():
    env = make_env(MEDIUM)
    assert not np.array_equal(random_action_trajectory(env, seed=7), random_action_trajectory(env, seed=8))


def test_env_does_not_touch_global_numpy_rng():
    np.random.seed(1234)
    before = np.random.get_state()
    env = gym.make(MEDIUM)
    env.reset(seed=0)
    for _ in range(20):
        env.step(PLUS_X)
    env.reset()
    env.step(PLUS_Y)
    after = np.random.get_state()
    assert before[0] == after[0] and before[2:] == after[2:]
    np.testing.assert_array_equal(before[1], after[1])


# ---------------------------------------------------------------- physics

@pytest.mark.parametrize("name", sorted(MAZES))
def test_points_never_enter_walls_or_leave_the_map(name):
    maze = MAZES[name]
    dyn = PointMassDynamics(maze)
    rng = np.random.default_rng(0)
    n = 128
    pos = np.repeat(dyn.start[None], n, axis=0)
    pushes = [MINUS_X] * 10 + [MINUS_Y] * 10 + [PLUS_X] * 10  # into the map's edges, then a wall
    for step in range(150):
        actions = np.full(n, pushes[step]) if step < len(pushes) else rng.integers(5, size=n)
        pos = dyn.step(pos, actions, rng)
        assert dyn.is_free(pos).all(), f"a point entered a wall or left the map at step {step}"
        cells = np.floor(pos).astype(int)
        assert all(maze.is_free((r, c)) for r, c in cells)


def test_point_pushed_into_a_wall_slides_but_stays_out():
    # medium: the start cell (0, 0) has a wall below it at (1, 0)
    maze = MAZES["medium"]
    dyn = PointMassDynamics(maze, noise=0.0)
    pos = dyn.start[None].copy()
    for _ in range(5):
        pos = dyn.step(pos, np.array([PLUS_X]), np.random.default_rng(0))
    assert maze.cell_of(pos[0]) == (0, 0)
    assert 0.9 <= pos[0, 0] < 1.0 and pos[0, 1] == 0.5


def test_is_free_flags_walls_and_outside_points():
    dyn = PointMassDynamics(MAZES["medium"])
    points = np.array([[0.5, 0.5], [1.5, 0.5], [-0.1, 0.5], [0.5, 6.0], [6.0, 0.5], [5.5, 1.5]])
    np.testing.assert_array_equal(dyn.is_free(points), [True, False, False, False, False, True])


def test_mean_displacement_of_plus_x_is_unit_with_spec_noise():
    maze = open_maze()
    dyn = PointMassDynamics(maze)  # the defaults: noise 0.5, 10 sub-steps
    n = 20000
    start = np.repeat(dyn.start[None], n, axis=0)
    moved = dyn.step(start, np.full(n, PLUS_X), np.random.default_rng(0)) - start
    assert np.abs(moved).max() < maze.shape[0] / 2  # no wall could have been hit
    np.testing.assert_allclose(moved.mean(axis=0), [1.0, 0.0], atol=0.05)
    np.testing.assert_allclose(moved.std(axis=0), [0.5, 0.5], atol=0.05)


@pytest.mark.parametrize("action, direction", [(STAY, (0, 0)), (MINUS_Y, (0, -1)), (PLUS_Y, (0, 1)),
                                               (MINUS_X, (-1, 0)), (PLUS_X, (1, 0))])
def test_noise_free_actions_move_one_unit(action, direction):
    dyn = PointMassDynamics(open_maze(size=9), noise=0.0)
    moved = dyn.step(dyn.start[None], np.array([action]), np.random.default_rng(0))[0] - dyn.start
    np.testing.assert_allclose(moved, direction, atol=1e-9)


# ---------------------------------------------------------------- evaluation

def test_evaluate_one_episode_matches_stepping_the_env():
    """Both draw normal(size=(1, 2)) per step from default_rng(seed), so they must agree exactly."""
    env = make_env(MEDIUM)
    act = shortest_path_policy(env)
    for seed in (0, 5):
        result = evaluate_pointmass(act, env, n_episodes=1, seed=seed)
        positions, rewards, terms, _ = rollout(make_env(MEDIUM), seed=seed, act=act)
        assert result.returns[0] == rewards.sum()
        assert result.lengths[0] == len(rewards)
        assert result.successes[0] == terms[-1]
        np.testing.assert_array_equal(result.trajectories[0], positions)


def test_evaluate_one_truncated_episode_matches_stepping_the_env():
    env = make_env(MEDIUM)

    def stay(obs):
        return torch.zeros(len(obs), dtype=torch.int64)

    result = evaluate_pointmass(stay, env, n_episodes=1, seed=3)
    positions, rewards, terms, truncs = rollout(make_env(MEDIUM), seed=3, act=stay)
    assert truncs[-1] and not terms.any()
    assert result.returns[0] == rewards.sum() == -150
    assert result.lengths[0] == 150 and not result.successes[0]
    np.testing.assert_array_equal(result.trajectories[0], positions)


def test_evaluate_many_episodes_have_per_episode_semantics():
    env = make_env(MEDIUM)
    result = evaluate_pointmass(shortest_path_policy(env), env, n_episodes=16, seed=0)
    assert len(result.trajectories) == 16
    for ret, length, success, traj in zip(result.returns, result.lengths, result.successes,
                                          result.trajectories):
        assert traj.shape == (length + 1, 2)
        np.testing.assert_array_equal(traj[0], env.dynamics.start)
        at_goal = env.dynamics.at_goal(traj[1:])
        assert success == at_goal[-1] and not at_goal[:-1].any()
        assert ret == (-(length - 1) if success else -length)
        assert env.dynamics.is_free(traj).all()
    # the batch is not just one episode repeated
    assert len({tuple(t[1]) for t in result.trajectories}) > 1


def test_evaluate_with_substeps_keeps_the_episodes_and_adds_the_path_between_steps():
    """What a figure draws: the same episodes, each step's position in its place, and
    between two of them the sub-steps (a fraction of a move each, never in a wall)."""
    env = make_env(MEDIUM)
    steps = evaluate_pointmass(shortest_path_policy(env), env, n_episodes=8, seed=2)
    path = evaluate_pointmass(shortest_path_policy(env), env, n_episodes=8, seed=2, substeps=True)
    np.testing.assert_array_equal(path.returns, steps.returns)
    for coarse, fine in zip(steps.trajectories, path.trajectories):
        np.testing.assert_array_equal(fine[::env.dynamics.substeps], coarse)
        assert len(fine) == (len(coarse) - 1) * env.dynamics.substeps + 1
        assert env.dynamics.is_free(fine).all()
        assert np.abs(np.diff(fine, axis=0)).max() < 0.5 < np.abs(np.diff(coarse, axis=0)).max()


def test_evaluate_is_repeatable_for_a_seed():
    env = make_env(MEDIUM)
    a = evaluate_pointmass(shortest_path_policy(env), env, n_episodes=8, seed=4)
    b = evaluate_pointmass(shortest_path_policy(env), env, n_episodes=8, seed=4)
    np.testing.assert_array_equal(a.returns, b.returns)
    for ta, tb in zip(a.trajectories, b.trajectories):
        np.testing.assert_array_equal(ta, tb)


def test_evaluate_metrics_keys_and_ranges():
    env = make_env(MEDIUM)
    rng = np.random.default_rng(0)

    def random_policy(obs):
        return torch.as_tensor(rng.integers(5, size=len(obs)))

    metrics = evaluate_pointmass(random_policy, env, n_episodes=10, seed=0).metrics()
    assert set(metrics) == {"Eval_AverageReturn", "Eval_StdReturn", "Eval_MaxReturn",
                            "Eval_MinReturn", "Eval_SuccessRate", "Eval_NormalizedScore",
                            "Eval_AverageEpLen"}
    assert metrics["Eval_NormalizedScore"] == 100 * metrics["Eval_SuccessRate"]
    assert all(isinstance(v, float) for v in metrics.values())
    assert -150 <= metrics["Eval_MinReturn"] <= metrics["Eval_AverageReturn"] <= metrics["Eval_MaxReturn"] <= 0
    assert 0 <= metrics["Eval_SuccessRate"] <= 1
    assert 1 <= metrics["Eval_AverageEpLen"] <= 150
    assert metrics["Eval_StdReturn"] >= 0


def test_shortest_path_reference_scores_about_minus_21_and_always_succeeds():
    result = shortest_path_reference(make_env(MEDIUM), n_episodes=200, seed=0)
    metrics = result.metrics()
    assert -24 <= metrics["Eval_AverageReturn"] <= -18
    assert metrics["Eval_SuccessRate"] == 1.0
    assert metrics["Eval_MaxReturn"] >= -20  # noise can help, but not beat 20 moves by much


# ---------------------------------------------------------------- drawing

def test_draw_maze_and_plot_trajectories_headless(tmp_path):
    import matplotlib.pyplot as plt

    from iql_lib.analysis.plots import plot_trajectories

    maze = MAZES["medium"]
    fig, ax = plt.subplots()
    assert draw_maze(ax, maze) is ax
    assert ax.get_xlim() == (0, 6) and ax.get_ylim() == (6, 0)
    plt.close(fig)

    env = make_env(MEDIUM)
    result = evaluate_pointmass(shortest_path_policy(env), env, n_episodes=3, seed=0)
    out = plot_trajectories(env, result.trajectories, tmp_path / "traj.png", title="t",
                            background=result.trajectories[:1])
    assert out == tmp_path / "traj.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 1000
