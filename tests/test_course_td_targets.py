"""Chapter 6's measurement of off-data TD-target queries: counts, labels, maps, figure."""
from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

from iql_lib.config import make_config
from iql_lib.course.td_targets import (
    RARE_SHARE,
    action_shares,
    audit_queries,
    cells_of,
    dataset_action_counts,
    draw_off_data_figure,
    margin_over_common_actions,
    policy_probabilities,
    sample_policy_actions,
    min_q_at_every_action,
)
from iql_lib.data import load_dataset
from iql_lib.training.engine import Engine
from iql_lib.envs import env_spec, make_env
from iql_lib.training.train import build_algorithm

matplotlib.use("Agg")

ENV = "PointmassMedium-v0"


@pytest.fixture(scope="module")
def env():
    return make_env(ENV)


@pytest.fixture(scope="module")
def toy(env):
    """Observations at two cells of the maze: in (0, 1) the data always takes +x (4); in
    (2, 0) it takes stay (0) 70 times, +x 27 times and -y (1) 3 times."""
    rng = np.random.default_rng(0)
    cells = [(0, 1)] * 50 + [(2, 0)] * 100
    positions = np.array(cells, dtype=float) + rng.uniform(0.05, 0.95, size=(len(cells), 2))
    obs = env.dynamics.observe(positions)
    actions = np.array([4] * 50 + [0] * 70 + [4] * 27 + [1] * 3)
    return obs, actions


def test_cells_follow_positions(env, toy):
    obs, _ = toy
    cells = cells_of(env, obs)
    assert (cells[:50] == (0, 1)).all() and (cells[50:] == (2, 0)).all()


def test_counts_sum_to_the_dataset_and_match_each_cell(env, toy):
    obs, actions = toy
    counts = dataset_action_counts(env, obs, actions)
    assert counts.shape == env.drawing_maze.shape + (5,)
    assert counts.sum() == len(actions)
    assert counts[0, 1].tolist() == [0, 0, 0, 0, 50]
    assert counts[2, 0].tolist() == [70, 3, 0, 0, 27]
    shares = action_shares(counts)
    assert shares[2, 0, 1] == pytest.approx(0.03)
    assert shares[5, 5].sum() == 0  # an unvisited cell


def test_counts_of_the_stitching_dataset_cover_every_transition(env):
    data = load_dataset(env_spec(ENV).default_dataset, env)
    counts = dataset_action_counts(env, data.observations, data.actions)
    assert counts.sum() == len(data)
    walls = env.drawing_maze.grid == 1
    assert counts[walls].sum() == 0


def test_copying_the_data_is_on_data_and_an_unseen_action_is_off_data(env, toy):
    obs, actions = toy
    counts = dataset_action_counts(env, obs, actions)
    # the common actions only (the 3 % action is rare under the 5 % line)
    common = np.where(actions == 1, 0, actions)
    audit = audit_queries(env, counts, obs, common)
    assert audit.fraction == 0.0
    assert np.nanmax(audit.per_cell) == 0.0
    # an action the data never takes in either cell (+y = 2)
    audit = audit_queries(env, counts, obs, np.full(len(obs), 2))
    assert audit.fraction == 1.0
    assert audit.per_cell[0, 1] == 1.0 and audit.per_cell[2, 0] == 1.0
    assert audit.queries.sum() == len(obs)
    assert np.isnan(audit.per_cell[5, 4])  # no query there


def test_the_threshold_decides_what_is_rare(env, toy):
    obs, actions = toy
    counts = dataset_action_counts(env, obs, actions)
    audit = audit_queries(env, counts, obs, actions, threshold=RARE_SHARE)
    assert audit.fraction == pytest.approx(3 / 150)  # the three -y actions at 3 %
    assert audit.per_cell[2, 0] == pytest.approx(0.03)
    assert audit_queries(env, counts, obs, actions, threshold=0.03).fraction == 0.0  # 3 % is not < 3 %
    assert audit_queries(env, counts, obs, actions, threshold=0.5).fraction == pytest.approx(30 / 150)


def test_a_cell_without_data_makes_every_action_off_data(env, toy):
    obs, actions = toy
    counts = dataset_action_counts(env, obs, actions)
    elsewhere = env.dynamics.observe(np.array([[5.5, 4.5], [5.5, 4.2]]))
    assert audit_queries(env, counts, elsewhere, np.array([0, 4])).fraction == 1.0


def test_the_datas_own_actions_are_mostly_on_data(env):
    data = load_dataset(env_spec(ENV).default_dataset, env)
    counts = dataset_action_counts(env, data.observations, data.actions)
    audit = audit_queries(env, counts, data.observations, data.actions)
    shares = action_shares(counts)
    rare_mass = (counts * (shares < RARE_SHARE)).sum() / len(data)
    assert audit.fraction == pytest.approx(rare_mass)
    assert audit.fraction < 0.1


def test_continuous_actions_are_refused(env, toy):
    obs, _ = toy
    with pytest.raises(ValueError, match="discrete actions"):
        dataset_action_counts(env, obs, np.zeros((len(obs), 2), dtype=np.float32))


def test_margin_over_common_actions(env, toy):
    obs, actions = toy
    counts = dataset_action_counts(env, obs, actions)
    q_all = np.tile(np.array([1.0, 5.0, 0.0, 0.0, 2.0]), (len(obs), 1))
    margin = margin_over_common_actions(env, counts, obs, np.full(len(obs), 1), q_all)
    # (0, 1): only +x is common (Q = 2); (2, 0): stay and +x are (best Q = 2)
    assert np.allclose(margin, 3.0)
    margin = margin_over_common_actions(env, counts, obs, np.zeros(len(obs), dtype=int), q_all)
    assert np.allclose(margin, -1.0)
    empty = env.dynamics.observe(np.array([[5.5, 4.5]]))
    assert np.isnan(margin_over_common_actions(env, counts, empty, np.array([0]), q_all[:1])).all()


@pytest.fixture(scope="module")
def awac_engine(env):
    cfg = make_config(ENV, algo="awac", compile="off")
    return Engine(build_algorithm(cfg, env), [3], torch.device("cpu"), compile=False)


def test_policy_samples_follow_the_policy(env, awac_engine):
    obs = env.dynamics.observe(np.full((4000, 2), 0.5))
    actions = sample_policy_actions(awac_engine, obs, seed=1)
    assert actions.shape == (4000,) and actions.dtype.kind == "i"
    assert (actions == sample_policy_actions(awac_engine, obs, seed=1)).all()  # seeded
    probs = policy_probabilities(awac_engine, obs[:1])[0]
    assert probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert np.allclose(np.bincount(actions, minlength=5) / 4000, probs, atol=0.03)


def test_min_q_at_every_action_are_the_min_of_the_target_critics(env, awac_engine):
    obs = env.dynamics.observe(np.array([[0.5, 0.5], [3.5, 0.5], [5.5, 2.5]]))
    q_all = min_q_at_every_action(awac_engine, obs)
    assert q_all.shape == (3, 5)
    algo, theta = awac_engine.algo, awac_engine.state["q_target"][0]
    with torch.no_grad():
        direct = algo.q.min(theta, torch.as_tensor(obs), torch.tensor([2, 0, 4]))
    assert np.allclose(q_all[[0, 1, 2], [2, 0, 4]], direct.numpy(), atol=1e-6)


def test_figure_renders_headless(env, toy, tmp_path):
    obs, actions = toy
    counts = dataset_action_counts(env, obs, actions)
    audit = audit_queries(env, counts, obs, np.full(len(obs), 1))
    fig = draw_off_data_figure(env, audit, {"untrained π": 0.6, "AWAC": audit.fraction, "IQL": 0.0},
                               title="toy")
    assert len(fig.axes) == 3  # map, its colour bar, the bars
    assert fig.axes[0].images[0].get_clim() == (0.0, 1.0)  # fractions on a fixed 0–1 scale
    fig.savefig(tmp_path / "off_data.png")
    assert (tmp_path / "off_data.png").stat().st_size > 10_000
