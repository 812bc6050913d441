"""D4RL-style AntMaze datasets made locally: an ant controller steered through the maze.

A goal-reaching ant controller is steered by a planner toward a commanded goal; actions
carry Gaussian noise (σ = 0.2, clipped to [−1, 1], D4RL's `--noisy`); episodes last 1000
steps. `umaze` commands the task goal from the task start; `medium-diverse` (and the
other `-diverse` tasks) a random goal cell from a random start cell; `-play` tasks
hand-picked goals in D4RL, random goals here. Four styles (data modes):

- `walker` — D4RL's procedure with a controller like D4RL's: the learned walker
  (`iql_lib.datagen.walker`, SAC on D4RL's ant) walks toward a waypoint redrawn every step
  as D4RL's script draws it (`WalkerDriver`), so the data's actions are a Markov function
  of what the offline learner sees. Otherwise as `d4rl`.
- `navigate` — OGBench's `navigate` procedure with the same walker and steering: random
  starts and goals on every task, umaze included, and a reached goal is replaced at once by
  a new random one, so the walker, which cannot stand still, never circles a reached goal
  for the rest of the episode; flips do not end episodes.
- `d4rl` — D4RL's procedure (`scripts/generation/generate_ant_maze_datasets.py`) with the
  tuned gait (`iql_lib.datagen.gait`) following waypoints at cell centres: one commanded
  goal per episode, drawn at reset and kept after it is reached, so the ant lingers
  around it until the time limit; only the time limit ends an episode (an ant that flips
  stays flipped); D4RL's ant: one step is 0.1 s, a unit action 30 of torque.
- `minari` — like Minari's regenerated D4RL data: a reached goal is replaced at once
  (the ant never lingers), a flip ends the episode; the gait on gymnasium's ant (0.05 s,
  gear 150).

Each task trains by default on the mode that came closest to the IQL paper's ordering in
our reference runs (`DEFAULT_STYLES`: `minari` on umaze, `d4rl` on medium-diverse).

Rewards and terminals are relabelled after collection against the *task's* goal (the
goal cell's centre) from the next observation, as D4RL's `relabel_antmaze_rewards.py`
does: −1 per step, 0 with `terminals = 1` on a step that ends within 0.5 of it. The
commanded goal of every step is kept in `goals`, the steps that reached it in
`goal_reached`; the file records its `style` and `ant` (a file from before styles existed
is a `minari`-style file on gymnasium's ant).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from iql_lib.data.transitions import Transitions
from iql_lib.datagen.gait import Gait
from iql_lib.datagen.walker import Walker
from iql_lib.envs.antmaze import SCALE, SUCCESS_RADIUS, AntMazeEnv, flipped

EPISODE_STEPS = 1000
ACTION_NOISE = 0.2
WAYPOINT_RADIUS = 1.0     # a waypoint counts as reached, and the next one is handed out, this close
WAYPOINT_PATIENCE_S = 15.0   # seconds before a waypoint counts as missed and the path is replanned
MAX_TURN_RATE = np.deg2rad(200.0)  # rad/s: the commanded heading swings at most this fast
GOAL_NOISE = 0.25 * SCALE  # commanded goals lie uniformly within ±1 m of a cell centre


@dataclass(frozen=True)
class Procedure:
    """How one data style collects: the ant it drives, its controller, its episode rules."""
    ant: str                # an `ANTS` name
    walker: bool            # the learned walker drives (else the tuned gait)
    lingering: bool         # a reached goal stays commanded (else a new one is drawn at once)
    flip_ends: bool         # a flip ends the episode (else the ant stays on its back)
    random_on_umaze: bool   # umaze too draws random starts and goals (the walker cannot wait at one)


STYLES = {"walker": Procedure("d4rl", walker=True, lingering=True, flip_ends=False, random_on_umaze=False),
          "navigate": Procedure("d4rl", walker=True, lingering=False, flip_ends=False, random_on_umaze=True),
          "d4rl": Procedure("d4rl", walker=False, lingering=True, flip_ends=False, random_on_umaze=False),
          "minari": Procedure("gymnasium", walker=False, lingering=False, flip_ends=True, random_on_umaze=False)}

# Each task's default data mode: the one whose 300k-step reference runs come closest to the
# IQL paper's ordering (benchmarks/results/antmaze_reference/README.md). On umaze that is
# `minari` (IQL 86 % ahead of BC 69 %; on `d4rl` data BC and AWAC lead IQL); on
# medium-diverse `d4rl` (IQL 5 % ahead of AWAC and BC at 0 %; `minari`: IQL 0.7 %). Tasks not
# measured follow D4RL's procedure.
DEFAULT_STYLES = {"antmaze-umaze-v0": "minari"}
UNMEASURED_TASKS_STYLE = "d4rl"
LEGACY_STYLE = "minari"   # what a file from before styles existed (format 1) was made in
FORMAT_VERSION = 2
DEFAULT_TRANSITIONS = 1_000_000


def data_dir(environ: dict | None = None) -> Path:
    """Where generated datasets are cached: `$IQL_DATA_DIR`, else `~/.cache/iql-lib`."""
    environ = os.environ if environ is None else environ
    return Path(environ.get("IQL_DATA_DIR") or Path.home() / ".cache" / "iql-lib")


def default_style(task: str) -> str:
    """The data mode `task` trains on by default (`DEFAULT_STYLES`)."""
    return DEFAULT_STYLES.get(task, UNMEASURED_TASKS_STYLE)


def task_style(task: str, style: str | None) -> str:
    """`style`, checked, or the task's default when it is None."""
    style = default_style(task) if style is None else style
    if style not in STYLES:
        raise ValueError(f"unknown data style {style!r}; styles: {', '.join(STYLES)}")
    return style


def default_dataset_path(task: str, seed: int = 0, environ: dict | None = None, style: str | None = None) -> Path:
    """Where the generated dataset of `task` (its default style unless given) is cached."""
    return data_dir(environ) / f"{task}-{task_style(task, style)}-seed{seed}.npz"


def at_goal(positions: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Which x-y rows of `positions` lie within 0.5 of `goal` (AntMaze's success rule)."""
    return np.linalg.norm(np.asarray(positions)[:, :2] - goal, axis=1) <= SUCCESS_RADIUS


def relabel(next_positions: np.ndarray, goal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rewards (−1, or 0 at the goal) and terminals (1 at the goal) of transitions whose
    next x-y is `next_positions`, against `goal`."""
    reached = at_goal(next_positions, goal)
    return np.where(reached, 0.0, -1.0).astype(np.float32), reached.astype(np.float32)


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

    def add(self, other: "ControllerStats") -> None:
        for key, value in vars(other).items():
            setattr(self, key, getattr(self, key) + value)

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {f"stats_{k}": np.array(v) for k, v in vars(self).items()}


class WaypointDriver:
    """Steers the gait along the planner's waypoints toward one commanded goal at a time."""

    def __init__(self, env: AntMazeEnv, gait: Gait, stats: ControllerStats):
        self.planner, self.gait, self.stats = WaypointPlanner(env), gait, stats
        self.patience = round(WAYPOINT_PATIENCE_S / gait.dt)
        self.max_turn = MAX_TURN_RATE * gait.dt

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
        if self.since_waypoint > self.patience:
            self.stats.waypoints_missed += self.heading_for_waypoint
            self._replan(position)
        wanted = float(np.arctan2(*(self.route[0] - position)[::-1]))
        if self.heading is None:
            self.heading = wanted
        # a goal close by swings its bearing fast: turning the command gradually keeps the gait calm
        self.heading += float(np.clip(np.angle(np.exp(1j * (wanted - self.heading))), -self.max_turn, self.max_turn))
        return self.gait.action(observation, step, self.heading)


class WalkerDriver:
    """D4RL's steering of a learned walker: every step the waypoint is the centre of the
    next cell along a shortest path from the ant's cell to the goal's (the goal itself once
    in the goal's cell), moved by fresh U(0, 1 m) noise on each axis as in D4RL's script,
    and the walker walks along the unit vector toward it."""

    def __init__(self, env: AntMazeEnv, walker, stats: ControllerStats, rng: np.random.Generator):
        self.env, self.planner, self.walker, self.stats, self.rng = env, WaypointPlanner(env), walker, stats, rng
        self.next_cells: dict[tuple, tuple] = {}
        self.cell = None

    def command(self, position: np.ndarray, goal: np.ndarray) -> None:
        self.goal, self.goal_cell = np.asarray(goal, dtype=np.float64), self.planner.cell_of(goal)
        self.stats.goals_commanded += 1

    def _next_cell(self, here: tuple) -> tuple:
        if (here, self.goal_cell) not in self.next_cells:
            path = self.planner.maze.shortest_path(here, self.goal_cell)
            self.next_cells[here, self.goal_cell] = path[min(1, len(path) - 1)]
        return self.next_cells[here, self.goal_cell]

    def action(self, observation: np.ndarray, step: int) -> np.ndarray:
        position = observation[:2]
        here = self.planner.cell_of(position)
        if not self.planner.maze.is_free(here):  # pressed into a wall: steer from the cell it came from
            here = self.cell or here
        if here != self.cell:
            self.stats.waypoints_reached += self.cell is not None
            self.cell = here
        if here == self.goal_cell or not self.planner.maze.is_free(here):
            waypoint = self.goal
        else:
            waypoint = self.env.cell_to_sim(self._next_cell(here)) + self.rng.uniform(0.0, 1.0, 2)
        offset = waypoint - position
        return self.walker(observation, offset / max(float(np.linalg.norm(offset)), 1e-6))


class EpisodeMaker:
    """Makes one episode of `style` data at a time. An episode's randomness comes from the
    dataset's seed and the episode's index alone, so episodes can be made in any order and
    by any number of processes and still give the same bytes."""

    def __init__(self, task: str, style: str | None = None, gait: Gait | None = None,
                 action_noise: float = ACTION_NOISE, walker: Walker | None = None):
        style = task_style(task, style)
        self.style, self.procedure = style, STYLES[style]
        self.ant = self.procedure.ant
        self.env = AntMazeEnv(task, frame="gymnasium", ant=self.ant)
        self.gait = None if self.procedure.walker else gait or Gait.load(ant=self.ant)
        self.walker = (walker or Walker.load()) if self.procedure.walker else None
        self.action_noise = action_noise
        self.free = self.env.drawing_maze.free_cells()
        # umaze's D4RL data walks from the task's start to its goal; every other task draws both at random
        self.random_starts = task != "antmaze-umaze-v0" or self.procedure.random_on_umaze

    def _draw_goal(self, rng: np.random.Generator) -> np.ndarray:
        cell = self.free[rng.integers(len(self.free))] if self.random_starts else self.env.goal_cell
        return self.env.cell_to_sim(cell) + rng.uniform(-GOAL_NOISE, GOAL_NOISE, 2)

    def episode(self, seed: int, index: int, max_steps: int = EPISODE_STEPS) -> tuple[dict, ControllerStats]:
        """Episode `index` of the dataset made with `seed`, cut after `max_steps` steps:
        its columns (next x-y kept in float64 for relabelling) and controller statistics."""
        env, lingering, flip_ends = self.env, self.procedure.lingering, self.procedure.flip_ends
        rng = np.random.default_rng([seed, index])
        stats = ControllerStats()
        driver = WalkerDriver(env, self.walker, stats, rng) if self.walker else WaypointDriver(env, self.gait, stats)
        start = self.free[rng.integers(len(self.free))] if self.random_starts else env.start_cell
        obs, _ = env.reset(seed=int(rng.integers(2**31)), options={"start_cell": start})
        driver.command(obs[:2], self._draw_goal(rng))
        rows = []
        reached_before = fallen = False
        for t in range(min(EPISODE_STEPS, max_steps)):
            action = np.clip(driver.action(obs, t) + self.action_noise * rng.standard_normal(8), -1.0, 1.0)
            next_obs = env.step(action)[0]  # the env's own reward and limit are for evaluation
            reached = bool(at_goal(next_obs[None], driver.goal)[0])
            fell = flipped(next_obs) and not fallen
            rows.append((obs, action, next_obs, t == EPISODE_STEPS - 1 or (fell and flip_ends),
                         driver.goal, reached))
            obs = next_obs
            stats.goals_reached += reached and not reached_before
            if fell and flip_ends:  # the ant cannot right itself: the episode ends, as at a time limit
                driver.fell()
                break
            if fell:  # it stays on its back until the time limit, as D4RL's ant did
                stats.falls += 1
                fallen = True
            if reached and not lingering:
                driver.command(obs[:2], self._draw_goal(rng))
            reached_before = reached_before or (reached and lingering)
        observations, actions, next_observations, timeouts, goals, goal_reached = zip(*rows)
        return dict(observations=np.array(observations, np.float32), actions=np.array(actions, np.float32),
                    next_observations=np.array(next_observations, np.float32),
                    next_positions=np.array(next_observations)[:, :2], timeouts=np.array(timeouts, np.float32),
                    goals=np.array(goals, np.float32), goal_reached=np.array(goal_reached, bool)), stats


_MAKER: EpisodeMaker | None = None  # one per worker process


def _start_worker(*args) -> None:
    global _MAKER
    _MAKER = EpisodeMaker(*args)


def _worker_episode(seed: int, index: int) -> tuple[dict, ControllerStats]:
    return _MAKER.episode(seed, index)


def generate(task: str, transitions: int, seed: int = 0, style: str | None = None, gait: Gait | None = None,
             action_noise: float = ACTION_NOISE, workers: int = 1,
             progress: bool = True) -> tuple[Transitions, dict[str, np.ndarray]]:
    """`transitions` steps of `style` data (the task's default when None) for `task`,
    deterministic given `seed` whatever the number of `workers` (processes making episodes
    side by side).

    Returns the container and the extra arrays saved next to it (goals, goal_reached,
    style, frame, ant, controller statistics)."""
    from contextlib import nullcontext
    from multiprocessing import Pool

    from tqdm.auto import tqdm

    if transitions < 1 or workers < 1:
        raise ValueError(f"need at least one transition and one worker (got {transitions} and {workers})")
    maker = EpisodeMaker(task, style, gait, action_noise)
    style = maker.style
    episodes, stats, made, index = [], ControllerStats(), 0, 0
    bar = tqdm(total=transitions, desc=f"generating {task} ({style})", unit="step", disable=not progress,
               smoothing=0.05)
    pool = Pool(workers, _start_worker, (task, style, maker.gait, action_noise)) \
        if workers > 1 else nullcontext()
    with pool:
        while made < transitions:
            needed = -(-(transitions - made) // EPISODE_STEPS)  # at least this many episodes still
            batch = [(seed, i) for i in range(index, index + min(4 * workers, needed))]
            index += len(batch)
            for i, (episode, episode_stats) in zip(range(index - len(batch), index),
                                                   pool.starmap(_worker_episode, batch) if workers > 1
                                                   else (maker.episode(*b) for b in batch)):
                if made + len(episode["actions"]) > transitions:  # the last episode, cut where the data ends
                    episode, episode_stats = maker.episode(seed, i, max_steps=transitions - made)
                episodes.append(episode)
                stats.add(episode_stats)
                made += len(episode["actions"])
                bar.update(len(episode["actions"]))
                if made >= transitions:
                    break
    bar.close()
    arrays = {k: np.concatenate([e[k] for e in episodes]) for k in episodes[0]}
    env = maker.env
    arrays["rewards"], arrays["terminals"] = relabel(arrays.pop("next_positions"), env.cell_to_sim(env.goal_cell))
    arrays["timeouts"] *= 1.0 - arrays["terminals"]
    extra = {"goals": arrays.pop("goals"), "goal_reached": arrays.pop("goal_reached"),
             "style": np.array(style), "frame": np.array("gymnasium"), "ant": np.array(maker.ant),
             "task": np.array(task), "seed": np.array(seed), "format_version": np.array(FORMAT_VERSION),
             **stats.as_arrays()}
    return Transitions(**arrays), extra


MAZE_TEST_TASK = "antmaze-medium-diverse-v0"  # where `iql-data walker test` counts a walker's falls


def maze_test(walker: Walker, task: str = MAZE_TEST_TASK, episodes: int = 200, seed: int = 0,
              progress: bool = True) -> ControllerStats:
    """Falls and goals reached by `walker` in `episodes` navigate-style episodes of `task`.
    The open-floor walking test cannot tell good walkers apart; the maze, where the data is
    made, can (the record: benchmarks/results/walker/README.md)."""
    from tqdm.auto import tqdm

    maker, stats = EpisodeMaker(task, "navigate", walker=walker), ControllerStats()
    for index in tqdm(range(episodes), desc=f"maze test ({task})", unit="episode", disable=not progress):
        stats.add(maker.episode(seed, index)[1])
    return stats


def generate_to_file(task: str, out: str | Path, transitions: int, seed: int = 0, style: str | None = None,
                     workers: int = 1, progress: bool = True) -> Transitions:
    """`generate`, saved as our npz container. The file is written under a temporary name
    and renamed when complete, so a run killed halfway never leaves a truncated dataset."""
    data, extra = generate(task, transitions, seed=seed, style=style, workers=workers, progress=progress)
    out = Path(out)
    partial = out.with_name(out.name + ".partial")
    data.save_npz(partial, **extra)
    partial.replace(out)
    return data


def describe_generated(path: str | Path) -> list[str]:
    """Lines on how a generated dataset was made (nothing for other datasets)."""
    from iql_lib.data.loaders import npz_entries

    keys = [f"stats_{k}" for k in vars(ControllerStats())]
    entries = npz_entries(path, "seed", "style", *keys)
    if any(entries[k] is None for k in keys):
        return []
    stats = {k[len("stats_"):]: entries[k] for k in keys}
    rate = lambda hit, total: f"{hit}/{total} ({100.0 * hit / max(total, 1):.1f} %)"  # noqa: E731
    waypoints = stats["waypoints_reached"] + stats["waypoints_missed"]
    style = entries["style"] or f"{LEGACY_STYLE} (made before styles were recorded)"
    return [f"generated locally (seed {entries['seed']}, style {style}): commanded goals reached "
            f"{rate(stats['goals_reached'], stats['goals_commanded'])}, waypoints reached "
            f"{rate(stats['waypoints_reached'], waypoints)}, falls {stats['falls']}"]


def default_workers() -> int:
    """Processes to generate with: the machine's cores, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


def ensure_default_dataset(task: str, progress: bool = True) -> Path:
    """The task's default dataset (its default style), generated (1M transitions, seed 0)
    on first use."""
    path = default_dataset_path(task)
    if not path.exists():
        print(f"{task}: no dataset yet; generating the default one ({DEFAULT_TRANSITIONS} transitions, "
              f"{default_style(task)} style, seed 0) into {path}. This happens once and takes about "
              f"6 minutes on two free cores (10 on one).")
        generate_to_file(task, path, DEFAULT_TRANSITIONS, seed=0, workers=default_workers(), progress=progress)
    return path
