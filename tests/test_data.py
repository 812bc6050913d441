"""Offline data: validation, loaders, the Transitions container and the stitching dataset (docs/data.md)."""
import re

import gymnasium as gym
import numpy as np
import pytest

from iql_lib.data.loaders import load_dataset, load_npz
from iql_lib.data.stitching import StitchingRecipe, generate_stitching_dataset
from iql_lib.data.transitions import DatasetError, Transitions, check_matches_env, from_arrays
from iql_lib.envs import ENV_SPECS, make_env

MEDIUM = "PointmassMedium-v0"
SHIPPED = ENV_SPECS[MEDIUM].default_dataset


def arrays(n=4, ob_dim=2, **overrides):
    """A small valid dataset as a dict of arrays, with some arrays replaced."""
    rng = np.random.default_rng(0)
    base = {
        "observations": rng.random((n, ob_dim)).astype(np.float32),
        "actions": rng.integers(5, size=n),
        "rewards": -np.ones(n, dtype=np.float32),
        "next_observations": rng.random((n, ob_dim)).astype(np.float32),
        "terminals": np.zeros(n, dtype=np.float32),
    }
    return base | overrides


def transitions(rewards, terminals, timeouts=None, ob_dim=2, actions=None, jumps=None):
    """Rows that follow each other (each starts from the previous s') except after a row in
    `jumps`, where the data restart elsewhere; by default after every terminal or timeout."""
    n = len(rewards)
    terminals = np.asarray(terminals, dtype=np.float32)
    timeouts = np.zeros(n, dtype=np.float32) if timeouts is None else np.asarray(timeouts, np.float32)
    jumps = (terminals > 0) | (timeouts > 0) if jumps is None else np.asarray(jumps, dtype=bool)
    start = np.concatenate([[0.0], np.cumsum(1.0 + 100.0 * jumps[:-1])])  # a reset is 100 away
    positions = np.repeat(start[:, None], ob_dim, axis=1).astype(np.float32)
    return Transitions(
        observations=positions,
        actions=np.zeros(n, dtype=np.int64) if actions is None else np.asarray(actions),
        rewards=np.asarray(rewards, dtype=np.float32),
        next_observations=positions + 1,
        terminals=terminals,
        timeouts=timeouts,
    )


class BoxActionEnv(gym.Env):
    """A stand-in continuous-control env: 3-D observations, 2-D actions in [-1, 1]."""

    observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(3,), dtype=np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(3, dtype=np.float32), {}

    def step(self, action):
        return np.zeros(3, dtype=np.float32), 0.0, False, False, {}


# ---------------------------------------------------------------- from_arrays validation

def test_from_arrays_builds_typed_container():
    data = from_arrays(arrays(n=4))
    assert len(data) == 4 and data.ob_dim == 2
    assert data.observations.dtype == np.float32 and data.actions.dtype == np.int64
    assert data.rewards.shape == (4,) and data.terminals.shape == (4,)
    np.testing.assert_array_equal(data.timeouts, np.zeros(4))


def test_from_arrays_float_actions_become_float32_matrix():
    data = from_arrays(arrays(n=3, actions=np.zeros((3, 2))))
    assert data.actions.dtype == np.float32 and data.actions.shape == (3, 2)


def test_missing_key_is_named():
    data = arrays()
    del data["terminals"]
    with pytest.raises(DatasetError, match=r"mydata: missing key\(s\) \['terminals'\]"):
        from_arrays(data, source="mydata")


def test_length_mismatch_names_the_lengths():
    with pytest.raises(DatasetError, match=r"different lengths .*'actions': 3.*'rewards': 4"):
        from_arrays(arrays(n=4, actions=np.zeros(3, dtype=np.int64)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_rewards_name_key_and_first_row(bad):
    rewards = -np.ones(5, dtype=np.float32)
    rewards[[2, 4]] = bad
    with pytest.raises(DatasetError, match=r"'rewards' contains NaN or inf at 2 row\(s\), first at row 2"):
        from_arrays(arrays(n=5, rewards=rewards))


def test_non_finite_observation_names_key_and_first_row():
    obs = np.zeros((5, 2), dtype=np.float32)
    obs[3, 1] = np.inf
    with pytest.raises(DatasetError, match=r"'observations' contains NaN or inf .* first at row 3"):
        from_arrays(arrays(n=5, observations=obs))


def test_empty_dataset_is_rejected():
    empty = {k: v[:0] for k, v in arrays().items()}
    with pytest.raises(DatasetError, match="the dataset is empty"):
        from_arrays(empty)


@pytest.mark.parametrize("shape", [(4,), (4, 2, 1)])
def test_observations_must_be_2d(shape):
    with pytest.raises(DatasetError, match=re.escape(f"'observations' must be 2-D [N, ob_dim], got shape {shape}")):
        from_arrays(arrays(n=4, observations=np.zeros(shape, dtype=np.float32)))


def test_observation_and_next_observation_shapes_must_match():
    with pytest.raises(DatasetError, match=r"observations \(4, 2\) and next_observations \(4, 3\) differ"):
        from_arrays(arrays(n=4, next_observations=np.zeros((4, 3), dtype=np.float32)))


def test_non_numeric_array_is_rejected():
    with pytest.raises(DatasetError, match="'actions' has non-numeric dtype"):
        from_arrays(arrays(n=3, actions=np.array(["a", "b", "c"])))


def test_scalar_array_is_a_dataset_error():
    with pytest.raises(DatasetError):
        from_arrays(arrays(n=3, terminals=np.float32(0)))


# ---------------------------------------------------------------- check_matches_env

def test_pointmass_sized_dataset_matches_env():
    check_matches_env(from_arrays(arrays(n=4)), make_env(MEDIUM))


def test_observation_size_must_match_env():
    data = from_arrays(arrays(n=4, ob_dim=3))
    with pytest.raises(DatasetError, match="observations have 3 dims but the env expects 2"):
        check_matches_env(data, make_env(MEDIUM))


@pytest.mark.parametrize("value", [7, 5, -1])
def test_discrete_actions_out_of_range(value):
    actions = np.array([0, 4, value, 1])
    data = from_arrays(arrays(n=4, actions=actions))
    with pytest.raises(DatasetError, match=rf"1 action\(s\) outside the env's 5 discrete actions, "
                                           rf"first at row 2 \(value {value}\)"):
        check_matches_env(data, make_env(MEDIUM))


def test_continuous_actions_for_discrete_env_are_rejected():
    data = from_arrays(arrays(n=4, actions=np.zeros((4, 2), dtype=np.float32)))
    with pytest.raises(DatasetError, match="discrete actions but the dataset's actions have shape"):
        check_matches_env(data, make_env(MEDIUM))


def test_continuous_actions_inside_box_pass():
    actions = np.array([[-1, 1], [0.5, -0.5], [0, 0]], dtype=np.float32)
    check_matches_env(from_arrays(arrays(n=3, ob_dim=3, actions=actions)), BoxActionEnv())


@pytest.mark.parametrize("bad", [1.5, -1.01])
def test_continuous_actions_outside_box(bad):
    actions = np.array([[0, 0], [0, bad], [0.2, 0.1]], dtype=np.float32)
    data = from_arrays(arrays(n=3, ob_dim=3, actions=actions))
    with pytest.raises(DatasetError, match=r"1 action\(s\) outside the action space \[-1.0, 1.0\], first at row 1"):
        check_matches_env(data, BoxActionEnv())


def test_continuous_action_dim_must_match():
    data = from_arrays(arrays(n=3, ob_dim=3, actions=np.zeros((3, 4), dtype=np.float32)))
    with pytest.raises(DatasetError, match=r"actions have shape \(3, 4\), the env expects \[N, 2\]"):
        check_matches_env(data, BoxActionEnv())


# ---------------------------------------------------------------- loaders

def test_load_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="dataset file not found: .*nothing.npz"):
        load_npz(tmp_path / "nothing.npz")


def test_load_random_bytes(tmp_path):
    path = tmp_path / "garbage.npz"
    path.write_bytes(np.random.default_rng(0).bytes(256))
    with pytest.raises(DatasetError, match="garbage.npz: not a readable npz file"):
        load_npz(path)


def test_load_empty_file(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    with pytest.raises(DatasetError, match="not a readable npz file"):
        load_npz(path)


def test_load_single_array_file_named_npz(tmp_path):
    path = tmp_path / "single.npz"
    with open(path, "wb") as fh:
        np.save(fh, np.zeros(3))
    with pytest.raises(DatasetError, match="single.npz"):
        load_npz(path)


def test_load_npz_missing_key(tmp_path):
    path = tmp_path / "partial.npz"
    data = arrays()
    del data["rewards"]
    np.savez(path, **data)
    with pytest.raises(DatasetError, match=r"partial.npz: missing key\(s\) \['rewards'\]"):
        load_npz(path)


def test_unsupported_suffix(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DatasetError, match=r"unsupported dataset format '\.csv'; supported: \.npz"):
        load_dataset(path)


def test_save_load_round_trip_is_exact(tmp_path):
    data = from_arrays(arrays(n=6, timeouts=np.array([0, 0, 1, 0, 0, 1])))
    path = tmp_path / "sub" / "round.npz"
    data.save_npz(path, personas=np.array(["a", "b"]))
    assert path.exists()
    loaded = load_npz(path)
    for key in ("observations", "actions", "rewards", "next_observations", "terminals", "timeouts"):
        original, restored = getattr(data, key), getattr(loaded, key)
        assert restored.dtype == original.dtype
        np.testing.assert_array_equal(restored, original)
    with np.load(path) as npz:
        np.testing.assert_array_equal(npz["personas"], ["a", "b"])


def test_timeouts_default_to_zeros(tmp_path):
    path = tmp_path / "no_timeouts.npz"
    np.savez(path, **arrays(n=5))
    loaded = load_dataset(path, make_env(MEDIUM))
    assert loaded.timeouts.dtype == np.float32
    np.testing.assert_array_equal(loaded.timeouts, np.zeros(5))


# ---------------------------------------------------------------- Transitions

def test_episode_bounds_from_terminals_timeouts_and_trailing_partial():
    data = transitions(rewards=np.zeros(8),
                       terminals=[0, 0, 1, 0, 0, 0, 1, 0],
                       timeouts=[0, 0, 1, 0, 1, 0, 0, 0])
    assert data.episode_bounds() == [(0, 3), (3, 5), (5, 7), (7, 8)]


def test_a_terminal_the_data_walk_on_from_does_not_end_the_episode():
    """D4RL's relabelled AntMaze data: every step near the goal is terminal while the ant
    lingers there; its 1000-step walk stays one trajectory (what filtered BC ranks)."""
    data = transitions(rewards=[-1, -1, 0, 0, 0, -1, -1, 0, -1],
                       terminals=[0, 0, 1, 1, 1, 0, 0, 1, 0],
                       timeouts=[0, 0, 0, 0, 0, 1, 0, 0, 0],
                       jumps=[0, 0, 0, 0, 0, 1, 0, 0, 0])
    assert data.episode_bounds() == [(0, 6), (6, 9)]
    np.testing.assert_array_equal(data.episode_returns(), [-3.0, -2.0])
    np.testing.assert_array_equal(data.filter_top_percent(50).rewards, [-1, 0, -1])


def test_data_that_jump_without_a_flag_start_a_new_episode():
    data = transitions(rewards=np.zeros(5), terminals=np.zeros(5), jumps=[0, 1, 0, 0, 0])
    assert data.episode_bounds() == [(0, 2), (2, 5)]


def test_episode_bounds_single_episode_without_ends():
    assert transitions(rewards=np.zeros(4), terminals=np.zeros(4)).episode_bounds() == [(0, 4)]


def test_episode_bounds_when_last_row_ends_an_episode():
    data = transitions(rewards=np.zeros(4), terminals=[0, 1, 0, 0], timeouts=[0, 0, 0, 1])
    assert data.episode_bounds() == [(0, 2), (2, 4)]


def test_episode_returns_by_hand():
    data = transitions(rewards=[-1, -1, 0, -1, -1, -1, 2.5],
                       terminals=[0, 0, 1, 0, 0, 0, 0],
                       timeouts=[0, 0, 0, 0, 1, 0, 0])
    np.testing.assert_array_equal(data.episode_returns(), [-2.0, -2.0, 1.5])


@pytest.fixture
def four_episodes():
    """Episodes with returns -3, -1, -2, -1 (lengths 3, 1, 2, 1); actions mark the episode."""
    rewards = [-1, -1, -1, -1, -1, -1, -1]
    ends = [0, 0, 1, 1, 0, 1, 1]
    return transitions(rewards=rewards, terminals=np.zeros(7), timeouts=ends,
                       actions=[0, 0, 0, 1, 2, 2, 3])


def test_filter_top_percent_keeps_best_episodes_in_order(four_episodes):
    top = four_episodes.filter_top_percent(50)
    np.testing.assert_array_equal(top.actions, [1, 3])  # the two -1 episodes, original order
    np.testing.assert_array_equal(top.episode_returns(), [-1, -1])


def test_filter_top_percent_breaks_ties_by_episode_order(four_episodes):
    top = four_episodes.filter_top_percent(25)
    np.testing.assert_array_equal(top.actions, [1])


def test_filter_top_percent_keeps_at_least_one_episode(four_episodes):
    top = four_episodes.filter_top_percent(1)
    assert len(top.episode_bounds()) == 1 and top.episode_returns()[0] == -1


def test_filter_top_percent_75_drops_only_the_worst(four_episodes):
    top = four_episodes.filter_top_percent(75)
    np.testing.assert_array_equal(top.actions, [1, 2, 2, 3])


def test_filter_top_percent_100_keeps_everything(four_episodes):
    top = four_episodes.filter_top_percent(100)
    for key in ("observations", "actions", "rewards", "next_observations", "terminals", "timeouts"):
        np.testing.assert_array_equal(getattr(top, key), getattr(four_episodes, key))


@pytest.mark.parametrize("percent", [0, -5, 100.5, 150])
def test_filter_top_percent_rejects_bad_percent(four_episodes, percent):
    with pytest.raises(DatasetError, match=r"needs a value in \(0, 100\]"):
        four_episodes.filter_top_percent(percent)


# ---------------------------------------------------------------- the stitching dataset

@pytest.fixture(scope="module")
def generated():
    """generate_stitching_dataset(seed=0): the slow (~7-10 s) call, made once."""
    return generate_stitching_dataset(seed=0)


@pytest.fixture(scope="module")
def shipped():
    with np.load(SHIPPED) as npz:
        return {key: npz[key] for key in npz.files}


@pytest.fixture(scope="module")
def data():
    return load_dataset(SHIPPED, make_env(MEDIUM))


@pytest.fixture(scope="module")
def maze():
    return make_env(MEDIUM).maze


def cells(observations, maze):
    return [tuple(c) for c in np.floor(observations.astype(np.float64) * maze.shape).astype(int)]


def test_generator_reproduces_shipped_file_exactly(generated, shipped):
    data, personas = generated
    expected_keys = {"observations", "actions", "rewards", "next_observations", "terminals",
                     "timeouts", "personas"}
    assert set(shipped) == expected_keys
    generated_arrays = {key: getattr(data, key) for key in expected_keys - {"personas"}}
    generated_arrays["personas"] = personas
    for key, value in generated_arrays.items():
        assert shipped[key].dtype == value.dtype, key
        assert np.array_equal(shipped[key], value), key


def test_generator_prefix_is_deterministic_and_seed_dependent():
    """Small recipes keep this cheap: the first episodes of seed 0 are the shipped ones."""
    small = StitchingRecipe(n_episodes=4)
    a, personas_a = generate_stitching_dataset(seed=0, recipe=small)
    b, _ = generate_stitching_dataset(seed=1, recipe=small)
    with np.load(SHIPPED) as npz:
        np.testing.assert_array_equal(a.observations, npz["observations"][:len(a)])
        np.testing.assert_array_equal(personas_a, npz["personas"][:4])
    assert len(a) != len(b) or not np.array_equal(a.observations, b.observations)


def test_shipped_dataset_validates_against_env(data, shipped):
    assert len(data) == len(shipped["rewards"])
    assert len(data.episode_bounds()) == len(shipped["personas"]) == 200


def test_every_episode_starts_at_task_start(data, maze):
    for start, _ in data.episode_bounds():
        np.testing.assert_allclose(data.observations[start] * np.array(maze.shape), maze.start, atol=1e-6)


def test_episodes_are_continuous(data):
    for start, stop in data.episode_bounds():
        np.testing.assert_array_equal(data.next_observations[start:stop - 1], data.observations[start + 1:stop])


def test_rewards_terminals_and_timeouts_are_consistent(data):
    np.testing.assert_array_equal(data.rewards == 0, data.terminals == 1)
    assert set(np.unique(data.rewards)) <= {-1.0, 0.0}
    for start, stop in data.episode_bounds():
        ended = data.terminals[stop - 1] + data.timeouts[stop - 1]
        assert ended == 1
        assert stop - start <= 150
        if data.timeouts[stop - 1]:
            assert stop - start == 150


def test_return_statistics_match_the_course_targets(data):
    returns = data.episode_returns()
    assert -50 <= returns.max() <= -40
    assert -112 <= returns.mean() <= -96


def test_no_episode_is_near_optimal(data, maze):
    shortest_moves = maze.distances_to(maze.cell_of(maze.goal))[maze.cell_of(maze.start)]
    assert shortest_moves == 20
    assert data.episode_returns().max() < -35  # the shortest path scores about -21


def test_runners_never_reach_the_goal_and_dawdlers_do(data, shipped, maze):
    personas = shipped["personas"]
    assert set(personas) == {"runner", "dawdler"}
    goal = np.array(maze.goal)
    for (start, stop), persona in zip(data.episode_bounds(), personas):
        positions = data.next_observations[start:stop] * np.array(maze.shape)
        reached = np.linalg.norm(positions - goal, axis=1) < 1.0
        if persona == "runner":
            assert not reached.any() and not data.terminals[start:stop].any()
            assert data.timeouts[stop - 1] == 1
        else:
            assert reached[-1] and data.terminals[stop - 1] == 1
    best = np.argmax(data.episode_returns())
    assert personas[best] == "dawdler"


def test_data_covers_the_whole_corridor_with_forward_moves(data, maze):
    corridor = maze.shortest_path(maze.cell_of(maze.start), maze.cell_of(maze.goal))
    assert len(corridor) == 21
    from_cells = cells(data.observations, maze)
    to_cells = cells(data.next_observations, maze)
    assert set(from_cells) | set(to_cells) == set(maze.free_cells())
    moves = set(zip(from_cells, to_cells))
    missing = [(a, b) for a, b in zip(corridor, corridor[1:]) if (a, b) not in moves]
    assert not missing, f"no forward transition for corridor steps {missing}"
