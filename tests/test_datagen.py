"""The local AntMaze data: the gait, the generator, `iql-data generate`, the default dataset."""
from __future__ import annotations

import numpy as np
import pytest

from iql_lib.cli import data_main, train_main
from iql_lib.datagen import antmaze as datagen
from iql_lib.datagen.gait import Gait, healthy
from iql_lib.datagen.tune_gait import OpenFloor
from iql_lib.envs.antmaze import SUCCESS_RADIUS, AntMazeEnv

UMAZE, MEDIUM = "antmaze-umaze-v0", "antmaze-medium-diverse-v0"


@pytest.fixture(scope="module")
def gait():
    return Gait.load()


@pytest.fixture(scope="module")
def small_umaze():
    return datagen.generate(UMAZE, 2500, seed=3, progress=False)


def test_a_quarter_turn_of_the_command_hands_each_leg_its_neighbours_part(gait):
    for phase in np.linspace(0, 2 * np.pi, 7):
        for direction in np.linspace(0, 2 * np.pi, 13, endpoint=False):
            turned = gait.leg_targets(phase, direction + np.pi / 2)
            assert np.allclose(turned, np.roll(gait.leg_targets(phase, direction), 1, axis=0))


def test_blending_between_base_directions_is_continuous(gait):
    for boundary in np.arange(1, 8) * np.pi / 4:
        below, above = gait.leg_targets(1.0, boundary - 1e-7), gait.leg_targets(1.0, boundary + 1e-7)
        assert np.allclose(below, above, atol=1e-5)


@pytest.mark.parametrize("heading_deg", [0, 30, 90, 135, 200, 290])
def test_the_gait_walks_every_way_without_falling(gait, heading_deg):
    floor, rng = OpenFloor(), np.random.default_rng(heading_deg)
    heading = np.deg2rad(heading_deg)
    obs = floor.reset(rng)
    start = obs[:2].copy()
    for t in range(100):  # 5 s
        obs = floor.step(gait.action(obs, t, heading))
        assert healthy(obs), f"fell at step {t}"
    dx, dy = obs[:2] - start
    along = dx * np.cos(heading) + dy * np.sin(heading)
    across = abs(dy * np.cos(heading) - dx * np.sin(heading))
    assert along / 5.0 > 0.6, f"only {along / 5.0:.2f} m/s along the command"
    assert across < 0.5 * along


def test_planner_routes_through_cell_centres_to_the_goal():
    env = AntMazeEnv(UMAZE)
    planner = datagen.WaypointPlanner(env)
    goal = env.cell_to_sim(env.goal_cell) + 0.3
    route = planner.waypoints(env.cell_to_sim(env.start_cell), goal)
    cells = [planner.cell_of(p) for p in route]
    assert cells == [(3, 2), (3, 3), (2, 3), (1, 3), (1, 2), (1, 1)]
    assert np.allclose(route[-1], goal)


def test_generated_data_follows_the_container_and_reward_conventions(small_umaze):
    data, extra = small_umaze
    n = len(data)
    assert n == 2500
    assert data.observations.shape == data.next_observations.shape == (n, 29)
    assert data.actions.shape == (n, 8) and np.abs(data.actions).max() <= 1.0
    assert extra["goals"].shape == (n, 2) and str(extra["frame"]) == "gymnasium"
    # reward 0 and a terminal exactly on the steps that end within 0.5 of the task goal
    env = AntMazeEnv(UMAZE)
    at_goal = np.linalg.norm(data.next_observations[:, :2] - env.cell_to_sim(env.goal_cell), axis=1) <= SUCCESS_RADIUS
    assert at_goal.any(), "the ant never reached the umaze goal in 2500 steps"
    assert np.array_equal(data.rewards, np.where(at_goal, 0.0, -1.0).astype(np.float32))
    assert np.array_equal(data.terminals > 0, at_goal)
    # the commanded goal was reached exactly where `goal_reached` says, and then replaced
    reached = np.linalg.norm(data.next_observations[:, :2] - extra["goals"], axis=1) <= SUCCESS_RADIUS
    assert np.array_equal(extra["goal_reached"], reached) and reached.any()
    after = np.flatnonzero(reached)[:-1] + 1
    assert not np.any(np.all(extra["goals"][after] == extra["goals"][after - 1], axis=1))
    # one physical trajectory inside each 1000-step episode; time limits mark the cuts
    cut = data.timeouts > 0
    assert np.flatnonzero(cut)[:2].tolist() == [999, 1999] or int(extra["stats_falls"]) > 0
    follows = ~cut[:-1]
    assert np.allclose(data.observations[1:][follows], data.next_observations[:-1][follows])


def test_the_same_seed_gives_the_same_bytes(tmp_path):
    paths = [tmp_path / f"{name}.npz" for name in ("a", "b", "c")]
    for path, seed in zip(paths, (5, 5, 6)):
        datagen.generate_to_file(MEDIUM, path, 600, seed=seed, progress=False)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_diverse_tasks_start_anywhere_and_command_many_goals():
    data, extra = datagen.generate(MEDIUM, 3000, seed=0, progress=False)
    starts = data.observations[[0, 1000, 2000], :2]
    assert len({tuple(np.round(s)) for s in starts}) > 1
    assert len(np.unique(extra["goals"], axis=0)) > 1


def test_cli_generates_and_describes_a_dataset(tmp_path, capsys):
    out, plot = tmp_path / "umaze.npz", tmp_path / "coverage.png"
    assert data_main(["generate", UMAZE, "--transitions", "1500", "--seed", "2", "--out", str(out)]) == 0
    assert data_main(["info", str(out), "--plot", str(plot)]) == 0
    text = capsys.readouterr().out
    assert f"wrote {out}" in text and "1500 transitions" in text
    assert "commanded goals reached" in text and "waypoints reached" in text and "mean speed" in text
    assert plot.stat().st_size > 10_000


def test_training_without_a_dataset_builds_the_default_one_on_first_use(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IQL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(datagen, "DEFAULT_TRANSITIONS", 1200)
    args = ["--env-name", UMAZE, "--num-timesteps", "20", "--eval-freq", "10", "--eval-episodes", "1",
            "--hidden-size", "32", "--out", str(tmp_path / "runs"), "--quiet"]
    assert train_main(args) == 0
    built = datagen.default_dataset_path(UMAZE)
    assert built.exists() and not list(built.parent.glob("*.partial"))
    assert "generating the default one" in capsys.readouterr().out
    stamp = built.stat().st_mtime_ns
    assert train_main(args + ["--exp-name", "again"]) == 0
    assert built.stat().st_mtime_ns == stamp  # used, not rebuilt


def test_tuning_is_deterministic_given_its_seed():
    from iql_lib.datagen.tune_gait import tune

    first, second = (tune(generations=2, seed=7, workers=1).to_vector() for _ in range(2))
    assert np.array_equal(first, second)
    assert not np.array_equal(first, Gait.initial().to_vector())
