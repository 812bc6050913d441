"""The local AntMaze data: the gait, the generator and its two styles, `iql-data generate` and
`info` (with its diagnostics), the default dataset, and value maps and reach of a trained run."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from iql_lib.cli import data_main, train_main
from iql_lib.datagen import antmaze as datagen
from iql_lib.datagen.gait import Gait
from iql_lib.datagen.walker import OpenFloor
from iql_lib.envs.antmaze import SUCCESS_RADIUS, AntMazeEnv, healthy

UMAZE, MEDIUM = "antmaze-umaze-v0", "antmaze-medium-diverse-v0"


@pytest.fixture(scope="module")
def gait():
    return Gait.load()


@pytest.fixture(scope="module")
def small_umaze():
    return datagen.generate(UMAZE, 2500, seed=3, style="minari", progress=False)


@pytest.fixture(scope="module")
def d4rl_umaze():
    return datagen.generate(UMAZE, 2200, seed=3, style="d4rl", progress=False)


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
    ends = [i for i in (999, 1999) if data.terminals[i] == 0]  # a step at the task goal is a terminal instead
    assert np.flatnonzero(cut)[:2].tolist() == ends or int(extra["stats_falls"]) > 0
    if int(extra["stats_falls"]) == 0:
        cut[[999, 1999]] = True
    follows = ~cut[:-1]
    assert np.allclose(data.observations[1:][follows], data.next_observations[:-1][follows])


def test_the_same_seed_gives_the_same_bytes(tmp_path):
    paths = [tmp_path / f"{name}.npz" for name in ("a", "b", "c")]
    for path, seed in zip(paths, (5, 5, 6)):
        datagen.generate_to_file(MEDIUM, path, 600, seed=seed, style="minari", progress=False)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_diverse_tasks_start_anywhere_and_command_many_goals():
    data, extra = datagen.generate(MEDIUM, 3000, seed=0, style="minari", progress=False)
    starts = data.observations[[0, 1000, 2000], :2]
    assert len({tuple(np.round(s)) for s in starts}) > 1
    assert len(np.unique(extra["goals"], axis=0)) > 1


def test_each_task_defaults_to_the_data_mode_that_reproduces_the_papers_ordering(tmp_path):
    environ = {"IQL_DATA_DIR": str(tmp_path)}
    assert datagen.default_style(UMAZE) == "minari" and datagen.default_style(MEDIUM) == "d4rl"
    assert datagen.default_dataset_path(UMAZE, environ=environ) == tmp_path / f"{UMAZE}-minari-seed0.npz"
    assert datagen.default_dataset_path(MEDIUM, 2, environ) == tmp_path / f"{MEDIUM}-d4rl-seed2.npz"
    assert datagen.default_dataset_path(UMAZE, environ=environ, style="d4rl").name == f"{UMAZE}-d4rl-seed0.npz"


def test_cli_generates_and_describes_a_dataset(tmp_path, capsys):
    out, plot = tmp_path / "umaze.npz", tmp_path / "coverage.png"
    assert data_main(["generate", UMAZE, "--transitions", "1500", "--seed", "2", "--out", str(out)]) == 0
    assert data_main(["info", str(out), "--plot", str(plot)]) == 0
    text = capsys.readouterr().out
    assert f"wrote {out}" in text and "1500 transitions" in text
    assert "commanded goals reached" in text and "waypoints reached" in text and "mean speed" in text
    assert "style minari" in text and "one step is 0.05 s" in text  # umaze's default mode
    assert "rewarded transitions (at the evaluation goal)" in text and "episodes reaching the evaluation goal" in text
    assert "of the commanded goal" in text
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


# --- the d4rl style: D4RL's procedure on D4RL's ant --------------------------------------

def test_the_d4rl_ant_is_d4rls_ant_xml_on_gymnasiums_body():
    """Every number of `d4rl/locomotion/assets/ant.xml` that differs from gymnasium's ant."""
    import mujoco

    env = AntMazeEnv(UMAZE, ant="d4rl")
    model = env.sim.ant_env.model
    assert model.opt.timestep == 0.02 and model.opt.integrator == mujoco.mjtIntegrator.mjINT_RK4
    assert env.sim.ant_env.frame_skip == 5 and np.all(model.actuator_gear[:, 0] == 30.0)
    # softer contacts on every geom: the ant's, the floor and the walls
    assert np.all(model.geom_solref == [0.02, 1.0])
    assert np.allclose(model.geom_solimp, [0.8, 0.8, 0.01, 0.5, 2.0])
    env.reset(seed=0)
    before = env.sim.ant_env.data.time
    env.step(np.zeros(8))
    assert env.dt == pytest.approx(0.1) and env.sim.ant_env.data.time - before == pytest.approx(0.1)
    # gymnasium's ant, the minari: path's, keeps its own numbers
    gym_model = AntMazeEnv(UMAZE).sim.ant_env.model
    assert AntMazeEnv(UMAZE).dt == 0.05 and np.all(gym_model.actuator_gear[:, 0] == 150.0)
    assert np.allclose(gym_model.geom_solimp[:, :3], [0.9, 0.95, 0.001])


def test_relabelling_rewards_exactly_the_steps_within_half_a_metre_of_the_goal():
    goal = np.array([2.0, -1.0])
    next_positions = goal + np.array([[0.0, 0.0], [0.3, 0.4], [0.3, 0.41], [-0.5, 0.0], [0.0, -0.5001], [4.0, 4.0]])
    rewards, terminals = datagen.relabel(next_positions, goal)
    assert rewards.tolist() == [0.0, 0.0, -1.0, 0.0, -1.0, -1.0]
    assert terminals.tolist() == [1.0, 1.0, 0.0, 1.0, 0.0, 0.0]


def test_d4rl_style_keeps_one_goal_per_episode_and_relabels_against_the_task_goal(d4rl_umaze):
    data, extra = d4rl_umaze
    assert str(extra["style"]) == "d4rl" and str(extra["ant"]) == "d4rl"
    goals = extra["goals"]
    # one commanded goal per 1000-step episode, kept after it is reached (the ant lingers)
    for start in (0, 1000, 2000):
        assert len(np.unique(goals[start:start + 1000], axis=0)) == 1
    assert not np.array_equal(goals[0], goals[1000])
    reached = extra["goal_reached"]
    assert reached[:1000].any() and reached[:1000].sum() > 20  # many steps at the goal, not one
    # only the time limit ends an episode: one continuous trajectory per 1000 steps
    assert np.flatnonzero(data.timeouts > 0).tolist() == [i for i in (999, 1999) if data.terminals[i] == 0]
    follows = np.ones(len(data) - 1, dtype=bool)
    follows[[999, 1999]] = False
    assert np.allclose(data.observations[1:][follows], data.next_observations[:-1][follows])
    # the steps spent at the goal are terminal, yet each walk stays one episode: filtered BC
    # ranks whole walks, not the one-step pieces between terminals
    assert data.episode_bounds() == [(0, 1000), (1000, 2000), (2000, 2200)]
    # rewards and terminals relabelled against the task goal from the next observation
    env = AntMazeEnv(UMAZE)
    rewards, terminals = datagen.relabel(data.next_observations[:, :2].astype(np.float64),
                                         env.cell_to_sim(env.goal_cell))
    assert np.array_equal(data.rewards, rewards) and np.array_equal(data.terminals, terminals)
    assert terminals.sum() > 20


def test_d4rl_style_is_deterministic_per_seed(tmp_path):
    paths = [tmp_path / f"{name}.npz" for name in ("a", "b", "c")]
    for path, seed in zip(paths, (5, 5, 6)):
        datagen.generate_to_file(MEDIUM, path, 300, seed=seed, style="d4rl", progress=False)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_a_file_from_before_styles_is_read_on_gymnasiums_ant_and_says_its_mode(tmp_path, small_umaze):
    from iql_lib.data import dataset_ant, env_for_dataset, load_dataset

    data, extra = small_umaze
    old = {k: v for k, v in extra.items() if k not in ("style", "ant")}
    old["format_version"] = np.array(1)
    data.save_npz(tmp_path / "old.npz", **old)
    assert dataset_ant(tmp_path / "old.npz") == "gymnasium"
    env = env_for_dataset(UMAZE, tmp_path / "old.npz")
    assert env.dt == 0.05 and len(load_dataset(tmp_path / "old.npz", env)) == len(data)
    assert "style minari (made before styles were recorded)" in datagen.describe_generated(tmp_path / "old.npz")[0]


def test_unknown_styles_and_ants_are_clear_errors():
    with pytest.raises(ValueError, match="unknown data style 'x'; styles: walker, navigate, d4rl, minari"):
        datagen.generate(UMAZE, 10, style="x", progress=False)
    with pytest.raises(ValueError, match="unknown ant 'fast'"):
        AntMazeEnv(UMAZE, ant="fast")
    assert data_main(["generate", UMAZE, "--transitions", "0"]) == 2
    assert data_main(["generate", UMAZE, "--transitions", "10", "--workers", "0"]) == 2


# --- diagnostics: what the data offers about the evaluation goal ------------------------

def test_diagnostics_count_rewarded_steps_episodes_reaching_the_goal_and_lingering():
    from iql_lib.data import Transitions
    from iql_lib.data.antmaze_diagnostics import diagnose

    # two 4-step trajectories along x at 1 m per step (0.5 s steps: 2 m/s), the second
    # reaching the goal on its last two steps; goal commanded at x = 3 in both
    x = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 10.0, 11.0, 12.0, 13.0, 14.0])
    obs = np.zeros((10, 29), dtype=np.float32)
    obs[:, 0] = x
    rows = np.r_[0:4, 5:9]
    rewards = np.array([-1, -1, -1, -1, -1, -1, 0, 0], dtype=np.float32)
    data = Transitions(observations=obs[rows], actions=np.zeros((8, 8), np.float32), rewards=rewards,
                       next_observations=obs[rows + 1], terminals=(rewards == 0).astype(np.float32),
                       timeouts=np.array([0, 0, 0, 1, 0, 0, 0, 0], np.float32))
    goals = np.tile([3.0, 0.0], (8, 1))
    d = diagnose(data, dt=0.5, goals=goals)
    assert (d.transitions, d.rewarded, d.episodes, d.episodes_reaching_goal) == (8, 2, 2, 1)
    assert d.mean_speed == pytest.approx(2.0)
    assert d.near_commanded_goal == pytest.approx(3 / 8)  # next x = 2, 3, 4 lie within 1 m of x = 3
    assert diagnose(data, dt=0.5).near_commanded_goal is None
    assert "rewarded transitions (at the evaluation goal): 2/8 (25.00 %)" in d.lines()


def trained_umaze_run(tmp_path, d4rl_umaze, algo: str, *argv: str):
    """`algo` trained 20 steps on the tiny d4rl-style umaze: its run folder (with a checkpoint)."""
    data, extra = d4rl_umaze
    path = tmp_path / "umaze.npz"
    data.save_npz(path, **extra)
    assert train_main(["--algo", algo, "--env-name", UMAZE, "--offline-dataset", str(path),
                       "--num-timesteps", "20", "--eval-freq", "20", "--eval-episodes", "1",
                       "--hidden-size", "32", "--out", str(tmp_path), "--quiet", *argv]) == 0
    return next(tmp_path.glob(f"*_{UMAZE}_seed1"))


def data_squares(env, observations) -> np.ndarray:
    """Each state's square `[N, 2]` (row, col) of a 2-squares-per-cell umaze map."""
    return np.floor(env.to_cells(observations[:, :2]) * 2).astype(int)


def visits(squares) -> np.ndarray:
    """States per square of the `[10, 10]` map."""
    counts = np.zeros((10, 10))
    np.add.at(counts, (squares[:, 0], squares[:, 1]), 1)
    return counts


def drawn(maps, path) -> str:
    """`maps` drawn to a PNG at `path`; returns its colour bar's label."""
    from matplotlib.figure import Figure

    from iql_lib.analysis.plots import save_figure

    fig = Figure()
    maps.draw(fig.subplots(), title="map")
    assert save_figure(fig, path).stat().st_size > 10_000
    return fig.axes[1].get_ylabel()


def test_a_trained_runs_value_map_covers_the_data_and_shows_its_rollouts(tmp_path, d4rl_umaze):
    from iql_lib.analysis.antmaze_value_maps import antmaze_value_map

    run_dir = trained_umaze_run(tmp_path, d4rl_umaze, "iql")
    maps = antmaze_value_map(run_dir, bins_per_cell=2, episodes=1)
    assert maps.values.shape == (10, 10) and maps.env.dt == 0.1
    visited = visits(data_squares(maps.env, d4rl_umaze[0].observations)) > 0
    assert np.array_equal(np.isfinite(maps.values), visited)  # a value exactly where the data went
    assert len(maps.trajectories) == 1 and len(maps.trajectories[0]) > 1
    assert drawn(maps, tmp_path / "v.png") == "V(s)"
    # iql-report shows it under the run's table
    from iql_lib.analysis.report import build_report

    markdown = build_report([str(run_dir)], tmp_path / "report")
    assert "p2_1_zeta_sweep_value_map_iql_zeta_0.9.png" in markdown
    assert (tmp_path / "report" / "p2_1_zeta_sweep_value_map_iql_zeta_0.9.png").stat().st_size > 10_000
    # and how much of each batch its actor learns from
    weights = markdown[markdown.index("what each actor learns from"):]
    assert "effective batch (of 256)" in weights and "| iql_zeta_0.9 |" in weights


def test_an_awac_runs_value_map_is_its_min_q_at_the_policys_mean_action(tmp_path, d4rl_umaze):
    from iql_lib.analysis.report import build_report
    from iql_lib.training.train import load_policy
    from iql_lib.analysis.antmaze_value_maps import antmaze_value_map

    run_dir = trained_umaze_run(tmp_path, d4rl_umaze, "awac")
    observations = d4rl_umaze[0].observations
    maps = antmaze_value_map(run_dir, bins_per_cell=2, episodes=1, states_per_square=len(observations))
    squares = data_squares(maps.env, observations)
    assert np.array_equal(np.isfinite(maps.values), visits(squares) > 0)
    # the square with the fewest states: the mean over all of them of min_j Q_j(s, tanh μ(s))
    rows_cols, counts = np.unique(squares, axis=0, return_counts=True)
    row, col = rows_cols[np.argmin(counts)]
    states = torch.as_tensor(observations[(squares[:, 0] == row) & (squares[:, 1] == col)])
    engine = load_policy(run_dir)[0]
    mean_action = engine.algo.policy(engine.state["policy"][0], states).chunk(2, dim=-1)[0]
    q1, q2 = engine.algo.q(engine.state["q_net"][0], states, mean_action)
    assert maps.values[row, col] == pytest.approx(torch.minimum(q1, q2).mean().item(), rel=1e-5)
    assert drawn(maps, tmp_path / "q.png") == "min Q(s, π(s))"
    # iql-report draws it in the AWAC-vs-IQL section
    markdown = build_report([str(run_dir)], tmp_path / "report")
    png = f"p2_2_awac_vs_iql_{UMAZE}_value_map_awac_lambda_0.1.png"
    assert png in markdown and (tmp_path / "report" / png).stat().st_size > 10_000


def test_a_bc_runs_value_map_is_its_datas_coverage_with_its_rollouts(tmp_path, d4rl_umaze):
    from iql_lib.analysis.antmaze_value_maps import VISITS, antmaze_value_map

    maps = antmaze_value_map(trained_umaze_run(tmp_path, d4rl_umaze, "bc"), bins_per_cell=2, episodes=1)
    counts = visits(data_squares(maps.env, d4rl_umaze[0].observations))
    assert np.array_equal(np.nan_to_num(maps.values), counts) and not np.any(maps.values == 0)
    assert maps.label == VISITS and len(maps.trajectories) == 1 and len(maps.trajectories[0]) > 1
    assert drawn(maps, tmp_path / "bc.png") == VISITS


def test_the_temperature_decides_how_much_of_each_batch_the_actor_learns_from(tmp_path, d4rl_umaze):
    from iql_lib.analysis.actor_weights import actor_weights

    hot = actor_weights(trained_umaze_run(tmp_path / "hot", d4rl_umaze, "awac", "--temperature", "1000"))
    assert hot.clipped == 0 and hot.effective_batch == pytest.approx(hot.batch_size, rel=1e-3)
    # λ → 0: each weight is ~0 or at the clip, so a batch counts as its clipped samples
    cold = actor_weights(trained_umaze_run(tmp_path / "cold", d4rl_umaze, "awac", "--temperature", "1e-6"))
    assert 0.1 < cold.clipped < 0.9 and hot.advantage_std > 0 and cold.advantage_std > 0
    assert cold.effective_batch == pytest.approx(cold.clipped * cold.batch_size, rel=0.05)
    assert 0 < cold.action_error < 8  # 8 actions in [-1, 1], greedy against the data's


def test_value_maps_refuse_a_run_off_antmaze(tmp_path):
    from iql_lib.analysis.antmaze_value_maps import antmaze_value_map

    assert train_main(["--algo", "bc", "--num-timesteps", "2", "--eval-freq", "2", "--eval-episodes", "1",
                       "--out", str(tmp_path), "--quiet"]) == 0
    with pytest.raises(ValueError, match="drawn over an AntMaze .got a run on PointmassMedium-v0"):
        antmaze_value_map(next(tmp_path.glob("bc_*_seed1")))


def walker(env):
    """The data's own controller as a policy: the gait along the planner's waypoints to the
    task's goal, its phase clock restarting with each episode."""
    driver = datagen.WaypointDriver(env, Gait.load(ant=env.ant.name), datagen.ControllerStats())

    def act(obs):
        observation = obs[0].numpy().astype(np.float64)
        if env._t == 0:
            driver.command(observation[:2], env.goal)
        return torch.as_tensor(driver.action(observation, env._t))[None]
    return act


def test_reach_counts_cells_along_the_maze_the_walker_arrives_from_all_and_a_standing_ant_from_none(tmp_path):
    from iql_lib.analysis.reach import measure_reach, plot_reach

    env = AntMazeEnv(UMAZE)
    walked = measure_reach(walker(env), env, speed=1.0, episodes=1)
    by_cell = dict(zip(walked.cells, walked.metres))
    # the U: the goal's row, down the right-hand column, back along the start's row
    assert by_cell == {(1, 1): 0, (1, 2): 4, (1, 3): 8, (2, 3): 12, (3, 3): 16, (3, 2): 20, (3, 1): 24}
    assert walked.success.tolist() == [1.0] * 7 and walked.flipped.tolist() == [0.0] * 7
    assert walked.reach() == walked.start_metres == 24 and walked.steps(24) == pytest.approx(480)
    assert walked.lines()[0] == ("success ≥ 50 % from every cell up to 24 m from the goal "
                                 "(480 steps at the data's 1.00 m/s)")
    standing = measure_reach(lambda obs: torch.zeros(len(obs), 8), env, speed=1.0, episodes=2)
    assert standing.success[standing.metres > 0].tolist() == [0.0] * 6
    assert "0 % success there (2 episodes per cell)" in standing.lines()[1]
    assert standing.flipped.tolist() == [0.0] * 7  # a standing ant stays on its legs
    assert standing.lines()[2].startswith("0 of the ") and standing.lines()[2].endswith(
        "failed episodes ended with the ant on its back")
    assert plot_reach(walked, tmp_path / "reach.png").stat().st_size > 10_000


def test_reach_is_the_distance_up_to_which_every_distance_succeeds_often_enough():
    from iql_lib.analysis.reach import Reach

    env = AntMazeEnv(UMAZE)
    metres = np.array([0.0, 4, 4, 8, 12, 16, 20])
    reach = lambda success: Reach(env, [], metres, np.array(success), np.zeros(7), 2, 1.0)  # noqa: E731
    assert reach([1, 1, 0.5, 0.5, 0, 1, 1]).reach() == 8   # 4 m: (1 + 0.5) / 2 = 0.75
    assert reach([1, 1, 0.5, 0.5, 0, 1, 1]).reach(0.8) == 0
    assert reach([1, 0, 0, 1, 1, 1, 1]).reach() == 0
    assert reach([0, 1, 1, 1, 1, 1, 1]).reach() == -1
    assert reach([1] * 7).reach(1.0) == 20
    distances, success = reach([1, 1, 0.5, 0.5, 0, 1, 1]).by_distance()
    assert distances.tolist() == [0, 4, 8, 12, 16, 20] and success.tolist() == [1, 0.75, 0.5, 0, 1, 1]


def test_reach_says_how_close_to_a_wall_the_ant_went_over(tmp_path):
    from iql_lib.analysis.reach import Reach, plot_reach

    env = AntMazeEnv(UMAZE)
    cells = [(1, 1), (1, 2), (1, 3), (2, 3), (3, 3), (3, 2), (3, 1)]
    success, on_back = np.array([1.0, 1, 1, 0, 0, 0, 0]), np.array([0.0, 0, 0, 1, 1, 1, 0])
    # 2 m (a cell's centre), 1.13 m (by the inner wall's corner) and 1 m (a quarter cell from the top wall)
    falls = np.array([(1.5, 1.5), (1.8, 3.2), (1.25, 1.5)])
    reach = Reach(env, cells, 4.0 * np.arange(7), success, on_back, 1, 1.0, falls)
    assert reach.lines()[2] == ("3 of the 4 failed episodes ended with the ant on its back, going over "
                                "a median 1.1 m from the nearest wall")
    reach.data_wall_metres = 1.7
    assert reach.lines()[2].endswith("a median 1.1 m from the nearest wall (the data's states: 1.7 m)")
    assert Reach(env, cells, 4.0 * np.arange(7), success, 0 * on_back, 1, 1.0).lines()[2] == \
        "0 of the 4 failed episodes ended with the ant on its back"
    assert plot_reach(reach, tmp_path / "reach.png").stat().st_size > 10_000


def test_a_trained_runs_reach_starts_its_final_policy_in_every_cell(tmp_path, d4rl_umaze):
    from iql_lib.data.antmaze_diagnostics import diagnose
    from iql_lib.analysis.reach import run_reach

    reach = run_reach(trained_umaze_run(tmp_path, d4rl_umaze, "iql"), episodes=1)
    assert len(reach.cells) == 7 and reach.env.dt == 0.1  # the ant of its data, D4RL's
    assert reach.speed == pytest.approx(diagnose(d4rl_umaze[0], dt=0.1).mean_speed)
    assert reach.success.shape == (7,) and np.all((reach.success >= 0) & (reach.success <= 1))
    assert np.isnan(reach.success_map()).sum() == 25 - 7  # walls
    # one position per episode that ended on the ant's back, inside the maze
    assert reach.fall_positions.shape == (round(reach.episodes * reach.flipped.sum()), 2)
    assert np.all((reach.fall_positions >= 0) & (reach.fall_positions <= 5))
    # the data's walker keeps to the corridors: its states' median is under the 2 m of a centre line
    assert 0.8 < reach.data_wall_metres < 2.0


def test_the_bytes_do_not_depend_on_the_number_of_workers(tmp_path):
    one, two = tmp_path / "one.npz", tmp_path / "two.npz"
    datagen.generate_to_file(MEDIUM, one, 1800, seed=4, style="minari", workers=1, progress=False)
    datagen.generate_to_file(MEDIUM, two, 1800, seed=4, style="minari", workers=2, progress=False)
    assert one.read_bytes() == two.read_bytes()
