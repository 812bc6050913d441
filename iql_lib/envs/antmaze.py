"""AntMaze tasks with D4RL semantics on gymnasium-robotics' maintained AntMaze (`-v4`).

Observation: `[x, y] + ant state` (29 dims: the Ant's qpos then qvel, D4RL's layout);
actions: 8 torques in [−1, 1]; reward: −1 per step and 0 on the step that comes within
0.5 of the goal, which ends the episode (the IQL paper's `r − 1` convention); time
limits 700 (umaze) and 1000 steps (medium, large). Start and goal cells are fixed per
task; gymnasium-robotics adds its usual small noise inside those cells.

Frames. gymnasium-robotics centres the maze and its row index grows along −y; D4RL puts
the origin at the start cell and its row index grows along +y. The two differ by a
reflection, and a reflected ant is not a shifted one (legs and joint signs would swap),
so positions are never mapped between them. Instead a task is built in the frame of its
data: `frame="gymnasium"` (Minari data) uses the layout as listed; `frame="d4rl"` (legacy
HDF5 files) builds the maze with its rows reversed, which leaves only a translation
between the simulator and D4RL, and reports positions in D4RL's frame.

Ants. gymnasium's ant integrates 0.01 s per MuJoCo step with frame skip 5, so one env
step is 0.05 s, and a unit action is 150 of torque (gear 150): the ant of Minari's data.
D4RL's ant (`d4rl/locomotion/assets/ant.xml`) is the same body driven differently: RK4
steps of 0.02 s with frame skip 5 (one env step is 0.1 s), a unit action is 30 of torque
(ctrlrange ±30 behind a [−1, 1] action wrapper), and every geom, floor and walls included,
has softer contacts (solref 0.02 1, solimp 0.8 0.8 0.01; MuJoCo's default solimp is
0.9 0.95 0.001). D4RL's action noise (σ = 0.2) is therefore five times less torque than on
gymnasium's ant, where σ = 0.2 held for 0.1 s flips a standing ant within seconds. `Ant`
holds those numbers and applies them to a loaded model. A task is built with the ant of
its data: `d4rl` for D4RL files and data generated in the `d4rl` style (one step is 0.1 s,
as D4RL's γ = 0.99 and time limits count it), `gymnasium` otherwise.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from iql_lib.envs.mazes import Maze

SCALE = 4.0          # metres per maze cell (D4RL and gymnasium-robotics alike)
SUCCESS_RADIUS = 0.5


@dataclass(frozen=True)
class Ant:
    """How the ant is simulated and driven: MuJoCo's step and integrator, MuJoCo steps per
    env step, torque per unit action, and the contacts' solver parameters (None: the
    model's own)."""
    name: str
    timestep: float
    frame_skip: int
    gear: float
    solref: tuple[float, ...] | None = None
    solimp: tuple[float, ...] | None = None

    @property
    def dt(self) -> float:
        """Seconds per env step."""
        return self.timestep * self.frame_skip

    def configure(self, model) -> None:
        """Make a loaded `mujoco.MjModel` of gymnasium's ant (and its floor and walls) this ant."""
        import mujoco

        model.opt.timestep = self.timestep
        model.opt.integrator = mujoco.mjtIntegrator.mjINT_RK4
        model.actuator_gear[:, 0] = self.gear
        if self.solref is not None:
            model.geom_solref[:] = self.solref
        if self.solimp is not None:
            model.geom_solimp[:, :len(self.solimp)] = self.solimp


ANTS = {"gymnasium": Ant("gymnasium", timestep=0.01, frame_skip=5, gear=150.0),
        "d4rl": Ant("d4rl", timestep=0.02, frame_skip=5, gear=30.0, solref=(0.02, 1.0),
                    solimp=(0.8, 0.8, 0.01))}


def ant_named(name: str) -> Ant:
    if name not in ANTS:
        raise ValueError(f"unknown ant {name!r}; ants: {', '.join(ANTS)}")
    return ANTS[name]

# The ant's body state on the flat layout [x, y, z, quaternion (w, x, y, z), joints, velocities].
def yaw_of(observation: np.ndarray) -> float:
    """Heading of the torso from its quaternion (w, x, y, z at observation[3:7])."""
    w, x, y, z = observation[3:7]
    return float(np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z)))


def upright(observation: np.ndarray) -> float:
    """z component of the torso's up axis: 1 standing, below 0 flipped."""
    _, x, y, _ = observation[3:7]
    return float(1.0 - 2.0 * (x * x + y * y))


def flipped(observation: np.ndarray) -> bool:
    """Tipped past horizontal: the ant cannot right itself."""
    return upright(observation) < 0.0


def healthy(observation: np.ndarray) -> bool:
    """Standing on its legs: not tipped past horizontal, torso in Ant's healthy height range."""
    return upright(observation) > 0.0 and 0.2 < observation[2] < 1.0


# D4RL's layouts, rows as D4RL lists them (1 = wall), with their start and goal cells
# (row, col) in two frames: D4RL's own lists, and the maps Minari's D4RL datasets were
# recorded in on gymnasium-robotics (same grids; umaze's cells swapped, so that its start
# stays below its goal in the world, as in D4RL).
LAYOUTS = {
    "umaze": dict(rows="""
        1 1 1 1 1
        1 0 0 0 1
        1 1 1 0 1
        1 0 0 0 1
        1 1 1 1 1""", d4rl=((1, 1), (3, 1)), gymnasium=((3, 1), (1, 1))),
    "medium": dict(rows="""
        1 1 1 1 1 1 1 1
        1 0 0 1 1 0 0 1
        1 0 0 1 0 0 0 1
        1 1 0 0 0 1 1 1
        1 0 0 1 0 0 0 1
        1 0 1 0 0 1 0 1
        1 0 0 0 1 0 0 1
        1 1 1 1 1 1 1 1""", d4rl=((1, 1), (6, 6)), gymnasium=((1, 1), (6, 6))),
    "large": dict(rows="""
        1 1 1 1 1 1 1 1 1 1 1 1
        1 0 0 0 0 1 0 0 0 0 0 1
        1 0 1 1 0 1 0 1 0 1 0 1
        1 0 0 0 0 0 0 1 0 0 0 1
        1 0 1 1 1 1 0 1 1 1 0 1
        1 0 0 1 0 1 0 0 0 0 0 1
        1 1 0 1 0 1 0 1 0 1 1 1
        1 0 0 1 0 0 0 1 0 0 0 1
        1 1 1 1 1 1 1 1 1 1 1 1""", d4rl=((1, 1), (7, 9)), gymnasium=((1, 1), (7, 9))),
}


@dataclass(frozen=True)
class AntMazeTask:
    name: str
    layout: str
    max_episode_steps: int


TASKS = {t.name: t for t in [
    AntMazeTask("antmaze-umaze-v0", "umaze", 700),
    AntMazeTask("antmaze-umaze-diverse-v0", "umaze", 700),
    AntMazeTask("antmaze-medium-play-v0", "medium", 1000),
    AntMazeTask("antmaze-medium-diverse-v0", "medium", 1000),
    AntMazeTask("antmaze-large-play-v0", "large", 1000),
    AntMazeTask("antmaze-large-diverse-v0", "large", 1000),
]}


def layout_grid(layout: str, frame: str) -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
    """The grid as the simulator builds it in `frame`, with the task's start and goal cells."""
    entry = LAYOUTS[layout]
    grid = np.array([[int(v) for v in row.split()] for row in entry["rows"].strip().splitlines()],
                    dtype=np.int8)
    start, goal = entry[frame]
    if frame == "d4rl":  # reversed rows: only a translation separates sim and D4RL
        flip = lambda cell: (len(grid) - 1 - cell[0], cell[1])  # noqa: E731
        grid, start, goal = grid[::-1].copy(), flip(start), flip(goal)
    return grid, start, goal


def import_gymnasium_robotics() -> None:
    """Import gymnasium-robotics, which registers `AntMaze_*-v4`. Its 1.4.x releases print a
    notice on import about the reward versions of Adroit hand envs (farama-notifications);
    this library builds no Adroit env, so that notice is dropped and any other output passes."""
    captured = io.StringIO()
    with contextlib.redirect_stderr(captured):
        import gymnasium_robotics  # noqa: F401
    sys.stderr.write("".join(line for line in captured.getvalue().splitlines(keepends=True)
                             if not line.startswith("AdroitHandRelocateDense-v1")))


def make_ant_maze(maze_map: list, **kwargs):
    """gymnasium-robotics' `AntMaze_UMaze-v4` (unwrapped) on `maze_map`. It writes the maze's
    MuJoCo XML to the temp folder and never deletes it; the model is loaded by then, so
    the file is removed here rather than left behind by every env built."""
    import_gymnasium_robotics()
    with warnings.catch_warnings():  # "-v4 is out of date": v4 is D4RL's 29-dim ant, on purpose
        warnings.simplefilter("ignore", DeprecationWarning)
        sim = gym.make("AntMaze_UMaze-v4", maze_map=maze_map, disable_env_checker=True, **kwargs).unwrapped
    os.remove(sim.tmp_xml_file_path)
    return sim


class AntMazeEnv(gym.Env):
    """One AntMaze task in one frame; see the module docstring."""

    metadata = {"render_modes": []}

    def __init__(self, task: str, frame: str = "gymnasium", ant: str = "gymnasium"):
        if frame not in ("gymnasium", "d4rl"):
            raise ValueError(f"frame must be 'gymnasium' or 'd4rl', got {frame!r}")
        self.task, self.frame, self.ant = TASKS[task], frame, ant_named(ant)
        self.max_episode_steps = self.task.max_episode_steps
        grid, start, goal = layout_grid(self.task.layout, frame)
        self.grid, self.start_cell, self.goal_cell = grid, start, goal
        maze_map = grid.astype(object)
        maze_map[start], maze_map[goal] = "r", "g"
        self.sim = make_ant_maze(maze_map.tolist(), continuing_task=False, reset_target=False,
                                 max_episode_steps=None)
        self.sim.ant_env.frame_skip = self.ant.frame_skip  # the ant env's dt follows
        self.ant.configure(self.sim.ant_env.model)
        # simulator position of cell (r, c)'s centre: x = (c + ½)·SCALE − cx, y = cy − (r + ½)·SCALE
        self.centre = np.array([self.sim.maze.x_map_center, self.sim.maze.y_map_center])
        self.offset = self.cell_to_sim(start) if frame == "d4rl" else np.zeros(2)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(29,), dtype=np.float64)
        self.action_space = self.sim.action_space
        self._t = 0

    @property
    def dt(self) -> float:
        """Seconds per env step."""
        return self.ant.dt

    def cell_to_sim(self, cell) -> np.ndarray:
        return np.array([(cell[1] + 0.5) * SCALE - self.centre[0], self.centre[1] - (cell[0] + 0.5) * SCALE])

    @property
    def goal(self) -> np.ndarray:
        """The goal position in this task's frame."""
        return self.sim.goal - self.offset

    def _observe(self, obs: dict) -> np.ndarray:
        return np.concatenate([obs["achieved_goal"] - self.offset, obs["observation"]])

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start at the task's start cell, or at `options["start_cell"]` (row, col)."""
        super().reset(seed=seed)
        start = (options or {}).get("start_cell")
        cells = None if start is None else {"reset_cell": np.array(start), "goal_cell": np.array(self.goal_cell)}
        obs, _ = self.sim.reset(seed=seed, options=cells)
        self._t = 0
        flat = self._observe(obs)
        return flat, {"goal": self.goal, "position": flat[:2].copy()}

    def step(self, action):
        obs, _, _, _, _ = self.sim.step(np.asarray(action, dtype=np.float64))
        self._t += 1
        flat = self._observe(obs)
        success = bool(np.linalg.norm(flat[:2] - self.goal) <= SUCCESS_RADIUS)
        truncated = not success and self._t >= self.max_episode_steps
        return flat, 0.0 if success else -1.0, success, truncated, {
            "is_success": success, "goal": self.goal, "position": flat[:2].copy()}

    @property
    def drawing_maze(self) -> Maze:
        """The layout as a `Maze` in cell coordinates, for `draw_maze`."""
        start = tuple(np.array(self.start_cell, dtype=float) + 0.5)
        goal = tuple(np.array(self.goal_cell, dtype=float) + 0.5)
        return Maze(self.task.name, self.grid, start=start, goal=goal)

    goal_radius_cells = SUCCESS_RADIUS / SCALE

    def to_cells(self, positions: np.ndarray) -> np.ndarray:
        """x-y in this task's frame → (row, col) cell coordinates of the drawn layout."""
        sim = np.asarray(positions) + self.offset
        return np.stack([(self.centre[1] - sim[..., 1]) / SCALE, (sim[..., 0] + self.centre[0]) / SCALE],
                        axis=-1)

    @staticmethod
    def positions_from_observations(observations: np.ndarray) -> np.ndarray:
        """x-y of each observation, as a new array (never a view that a later step overwrites)."""
        return np.array(np.asarray(observations)[..., :2])
