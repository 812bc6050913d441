"""D4RL-style AntMaze datasets made locally: the tuned gait steered through the maze.

How D4RL made its data, and what we follow: a goal-reaching ant controller is steered by
a planner that hands it the next waypoint (cell centres along the shortest path over free
cells, the commanded goal last); actions carry Gaussian noise (σ = 0.2, D4RL's `--noisy`);
episodes last 1000 steps, and a commanded goal that is reached is replaced by a new one.
`umaze` commands the task goal from the task start; `medium-diverse` (and the other
`-diverse` tasks) random goals from random starts; `-play` tasks hand-picked goals in
D4RL, random goals here.

Rewards follow the library's AntMaze convention for the *task's* goal (the goal cell's
centre): −1 per step, 0 with `terminals = 1` on a step within 0.5 of it; the commanded goal
of every step is kept in `goals`, the steps that reached it in `goal_reached`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from iql_lib.data.transitions import Transitions
from iql_lib.datagen.gait import DT, Gait, flipped
from iql_lib.envs.antmaze import SCALE, SUCCESS_RADIUS, AntMazeEnv

EPISODE_STEPS = 1000
ACTION_NOISE = 0.2
WAYPOINT_RADIUS = 1.0     # a waypoint counts as reached, and the next one is handed out, this close
WAYPOINT_PATIENCE = 300   # steps (15 s) before a waypoint counts as missed and the path is replanned
MAX_TURN = np.deg2rad(10.0)  # per step: the commanded heading swings at most this fast
GOAL_NOISE = 0.25 * SCALE  # commanded goals lie uniformly within ±1 m of a cell centre
FORMAT_VERSION = 1
DEFAULT_TRANSITIONS = 1_000_000


def data_dir(environ: dict | None = None) -> Path:
    """Where generated datasets are cached: `$IQL_DATA_DIR`, else `~/.cache/iql-lib`."""
    environ = os.environ if environ is None else environ
    return Path(environ.get("IQL_DATA_DIR") or Path.home() / ".cache" / "iql-lib")


def default_dataset_path(task: str, seed: int = 0, environ: dict | None = None) -> Path:
    return data_dir(environ) / f"{task}-generated-seed{seed}.npz"


class WaypointPlanner:
    """Hands out waypoints toward a commanded goal: the centres of the cells along the
    shortest path over free cells, then the goal itself."""

    def __init__(self, env: AntMazeEnv):
        self.env, self.maze = env, env.drawing_maze

    def cell_of(self, position: np.ndarray) -> tuple[int, int]:
        row, col = np.floor(self.env.to_cells(position)).astype(int)
        return int(row), int(col)

    def waypoints(self, position: np.ndarray, goal: np.ndarray) -> list[np.ndarray]:
        here, there = self.cell_of(position), self.cell_of(goal)
        if not self.maze.is_free(here):  # pressed against a wall: plan from the nearest free cell
            here = min(self.maze.free_cells(), key=lambda c: np.linalg.norm(self.env.cell_to_sim(c) - position))
        path = self.maze.shortest_path(here, there)
        return [self.env.cell_to_sim(c) for c in path[1:-1]] + [np.asarray(goal, dtype=np.float64)]


@dataclass
class ControllerStats:
    """How well the gait follows the planner. A waypoint is missed when the ant does not
    come within `WAYPOINT_RADIUS` in `WAYPOINT_PATIENCE` steps or falls on the way to it;
    one still pending when an episode ends counts neither way."""
    waypoints_reached: int = 0
    waypoints_missed: int = 0
    goals_commanded: int = 0
    goals_reached: int = 0
    falls: int = 0

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {f"stats_{k}": np.array(v) for k, v in vars(self).items()}


class WaypointDriver:
    """Steers the gait along the planner's waypoints toward one commanded goal at a time."""

    def __init__(self, env: AntMazeEnv, gait: Gait, stats: ControllerStats):
        self.planner, self.gait, self.stats = WaypointPlanner(env), gait, stats

    def command(self, position: np.ndarray, goal: np.ndarray) -> None:
        self.goal = np.asarray(goal, dtype=np.float64)
        self.heading = None
        self.stats.goals_commanded += 1
        self._replan(position)

    def _replan(self, position: np.ndarray) -> None:
        self.route = self.planner.waypoints(position, self.goal)
        self.since_waypoint = 0

    @property
    def heading_for_waypoint(self) -> bool:
        """Whether the current target is a waypoint (not the commanded goal itself)."""
        return len(self.route) > 1

    def fell(self) -> None:
        self.stats.falls += 1
        self.stats.waypoints_missed += self.heading_for_waypoint

    def action(self, observation: np.ndarray, step: int) -> np.ndarray:
        position = observation[:2]
        if self.heading_for_waypoint and np.linalg.norm(self.route[0] - position) < WAYPOINT_RADIUS:
            self.route.pop(0)
            self.stats.waypoints_reached += 1
            self.since_waypoint = 0
        self.since_waypoint += 1
        if self.since_waypoint > WAYPOINT_PATIENCE:
            self.stats.waypoints_missed += self.heading_for_waypoint
            self._replan(position)
        wanted = float(np.arctan2(*(self.route[0] - position)[::-1]))
        if self.heading is None:
            self.heading = wanted
        # a goal close by swings its bearing fast: turning the command gradually keeps the gait calm
        self.heading += float(np.clip(np.angle(np.exp(1j * (wanted - self.heading))), -MAX_TURN, MAX_TURN))
        return self.gait.action(observation, step, self.heading)

    def reached_goal(self, position: np.ndarray) -> bool:
        reached = bool(np.linalg.norm(position - self.goal) <= SUCCESS_RADIUS)
        self.stats.goals_reached += reached
        return reached


def generate(task: str, transitions: int, seed: int = 0, gait: Gait | None = None,
             action_noise: float = ACTION_NOISE, progress: bool = True) -> tuple[Transitions, dict[str, np.ndarray]]:
    """`transitions` steps of D4RL-style data for `task`, deterministic given `seed`.

    Returns the container and the extra arrays saved next to it (goals, goal_reached,
    frame, controller statistics)."""
    from tqdm.auto import tqdm

    env = AntMazeEnv(task, frame="gymnasium")
    gait = gait or Gait.load()
    rng = np.random.default_rng(seed)
    free = env.drawing_maze.free_cells()
    random_starts = task != "antmaze-umaze-v0"  # every other task draws starts and goals at random
    task_goal = env.cell_to_sim(env.goal_cell)
    stats = ControllerStats()
    driver = WaypointDriver(env, gait, stats)

    def draw_goal() -> np.ndarray:
        cell = free[rng.integers(len(free))] if random_starts else env.goal_cell
        return env.cell_to_sim(cell) + rng.uniform(-GOAL_NOISE, GOAL_NOISE, 2)

    columns = {k: [] for k in ("observations", "actions", "rewards", "next_observations", "terminals",
                               "timeouts", "goals", "goal_reached")}
    bar = tqdm(total=transitions, desc=f"generating {task}", unit="step", disable=not progress, smoothing=0.05)
    while len(columns["rewards"]) < transitions:
        start = free[rng.integers(len(free))] if random_starts else env.start_cell
        obs, _ = env.reset(seed=int(rng.integers(2**31)), options={"start_cell": start})
        driver.command(obs[:2], draw_goal())
        for t in range(min(EPISODE_STEPS, transitions - len(columns["rewards"]))):
            action = np.clip(driver.action(obs, t) + action_noise * rng.standard_normal(8), -1.0, 1.0)
            next_obs = env.step(action)[0]  # the env's own reward and limit are for evaluation
            at_task_goal = bool(np.linalg.norm(next_obs[:2] - task_goal) <= SUCCESS_RADIUS)
            fell = flipped(next_obs)  # the ant cannot right itself: the episode ends, as at a time limit
            row = dict(observations=obs, actions=action, next_observations=next_obs,
                       rewards=0.0 if at_task_goal else -1.0, terminals=at_task_goal,
                       timeouts=(fell or t == EPISODE_STEPS - 1) and not at_task_goal,
                       goals=driver.goal, goal_reached=driver.reached_goal(next_obs[:2]))
            for key, value in row.items():
                columns[key].append(value)
            bar.update()
            obs = next_obs
            if fell:
                driver.fell()
                break
            if row["goal_reached"]:
                driver.command(obs[:2], draw_goal())
    bar.close()
    dtypes = dict(observations=np.float32, actions=np.float32, rewards=np.float32, next_observations=np.float32,
                  terminals=np.float32, timeouts=np.float32, goals=np.float32, goal_reached=bool)
    arrays = {k: np.asarray(v, dtype=dtypes[k]) for k, v in columns.items()}
    extra = {"goals": arrays.pop("goals"), "goal_reached": arrays.pop("goal_reached"),
             "frame": np.array("gymnasium"), "task": np.array(task), "seed": np.array(seed),
             "format_version": np.array(FORMAT_VERSION), **stats.as_arrays()}
    return Transitions(**arrays), extra


def generate_to_file(task: str, out: str | Path, transitions: int, seed: int = 0,
                     progress: bool = True) -> Transitions:
    """`generate`, saved as our npz container. The file is written under a temporary name
    and renamed when complete, so a run killed halfway never leaves a truncated dataset."""
    data, extra = generate(task, transitions, seed=seed, progress=progress)
    out = Path(out)
    partial = out.with_name(out.name + ".partial")
    data.save_npz(partial, **extra)
    partial.replace(out)
    return data


def mean_speed(observations: np.ndarray, next_observations: np.ndarray) -> float:
    """Mean planar speed (m/s) over the transitions."""
    return float(np.linalg.norm(next_observations[:, :2] - observations[:, :2], axis=1).mean() / DT)


def describe_generated(path: str | Path) -> list[str]:
    """Lines on how a generated dataset was made (nothing for other datasets)."""
    from iql_lib.data.loaders import npz_entries

    keys = [f"stats_{k}" for k in vars(ControllerStats())]
    entries = npz_entries(path, "seed", *keys)
    if any(entries[k] is None for k in keys):
        return []
    stats = {k[len("stats_"):]: entries[k] for k in keys}
    rate = lambda hit, total: f"{hit}/{total} ({100.0 * hit / max(total, 1):.1f} %)"  # noqa: E731
    waypoints = stats["waypoints_reached"] + stats["waypoints_missed"]
    return [f"generated locally (seed {entries['seed']}): commanded goals reached "
            f"{rate(stats['goals_reached'], stats['goals_commanded'])}, waypoints reached "
            f"{rate(stats['waypoints_reached'], waypoints)}, falls {stats['falls']}"]


def ensure_default_dataset(task: str, progress: bool = True) -> Path:
    """The task's default dataset, generated (1M transitions, seed 0) on first use."""
    path = default_dataset_path(task)
    if not path.exists():
        print(f"{task}: no dataset yet; generating the default one ({DEFAULT_TRANSITIONS} transitions, "
              f"seed 0) into {path}. This happens once and takes about 6 minutes on a 2-core CPU.")
        generate_to_file(task, path, DEFAULT_TRANSITIONS, seed=0, progress=progress)
    return path
