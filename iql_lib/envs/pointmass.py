"""PointMass: a noisy point moving through a grid maze (discrete actions, pure numpy).

The dynamics live in `PointMassDynamics`, which steps any number of points at once;
`PointMassEnv` is the gymnasium view of one point, and evaluation steps many episodes
through the same dynamics in one array operation. Each env owns its RNG
(`np.random.Generator`), never the global numpy one, so seeded runs are reproducible.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np

from iql_lib.envs.mazes import Maze

# stay, -y, +y, -x, +x (unit moves along the maze's axes)
ACTION_DIRECTIONS = np.array([[0, 0], [0, -1], [0, 1], [-1, 0], [1, 0]], dtype=np.float64)
ACTION_NAMES = ("stay", "-y", "+y", "-x", "+x")


class PointMassDynamics:
    """Batched PointMass physics for one maze.

    A step adds Gaussian noise (σ = `noise`) to the chosen unit direction and integrates
    it in `substeps` sub-steps of `1/substeps`; each axis moves only if its new point is
    free (inside the map and not in a wall), so points slide along walls.
    """

    def __init__(self, maze: Maze, noise: float = 0.5, substeps: int = 10,
                 goal_radius: float = 1.0):
        self.maze = maze
        self.noise = noise
        self.substeps = substeps
        self.goal_radius = goal_radius
        self.scale = np.array(maze.shape, dtype=np.float64)
        self.goal = np.array(maze.goal, dtype=np.float64)
        self.start = np.array(maze.start, dtype=np.float64)
        # Free cells with a ring of walls around the map: a point just outside the map
        # lands in the ring, so one lookup answers "inside and not in a wall".
        self._free = np.pad(maze.grid == 0, 1, constant_values=False)

    def _cells(self, coordinates: np.ndarray, axis: int) -> np.ndarray:
        """Row (axis 0) or column (axis 1) of each coordinate in the padded grid."""
        return np.clip(np.floor(coordinates).astype(np.intp), -1, self.maze.shape[axis]) + 1

    def is_free(self, points: np.ndarray) -> np.ndarray:
        return self._free[self._cells(points[:, 0], 0), self._cells(points[:, 1], 1)]

    def step(self, positions: np.ndarray, actions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """New positions `[N, 2]` after taking `actions` `[N]` from `positions` `[N, 2]`."""
        return self.move(positions, actions, rng.normal(0.0, self.noise, size=positions.shape))

    def move(self, positions: np.ndarray, actions: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """`step` with the velocity noise `[N, 2]` given (σ already applied)."""
        return self.move_through(positions, actions, noise)[-1]

    def move_through(self, positions: np.ndarray, actions: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """`move`, keeping the positions after every sub-step: `[substeps, N, 2]`, the
        last one where the step ends (the path the point took, sliding along walls)."""
        velocity = ACTION_DIRECTIONS[actions] + noise
        substep = velocity * (1.0 / self.substeps)
        pos = positions.copy()
        path = []
        for _ in range(self.substeps):  # first along the rows' axis, then along the columns'
            moved = pos[:, 0] + substep[:, 0]
            pos[:, 0] = np.where(self._free[self._cells(moved, 0), self._cells(pos[:, 1], 1)], moved, pos[:, 0])
            moved = pos[:, 1] + substep[:, 1]
            pos[:, 1] = np.where(self._free[self._cells(pos[:, 0], 0), self._cells(moved, 1)], moved, pos[:, 1])
            path.append(pos.copy())
        return np.stack(path)

    def at_goal(self, positions: np.ndarray) -> np.ndarray:
        return np.linalg.norm(positions - self.goal, axis=-1) < self.goal_radius

    def observe(self, positions: np.ndarray) -> np.ndarray:
        return (positions / self.scale).astype(np.float32)

    def positions_from_observations(self, observations: np.ndarray) -> np.ndarray:
        return np.asarray(observations, dtype=np.float64) * self.scale


class PointMassEnv(gym.Env):
    """Gymnasium env: reward −1 per step and 0 on the step that reaches the goal.

    The episode terminates at the goal and truncates after `max_episode_steps`.
    Observations are positions divided by the map's height and width.
    """

    metadata = {"render_modes": []}

    def __init__(self, maze: Maze, max_episode_steps: int, noise: float = 0.5):
        self.dynamics = PointMassDynamics(maze, noise=noise)
        self.maze = maze
        self.max_episode_steps = max_episode_steps
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(len(ACTION_DIRECTIONS))
        self._rng = np.random.default_rng()
        self._pos = self.dynamics.start.copy()
        self._t = 0

    @property
    def drawing_maze(self) -> Maze:
        return self.maze

    @property
    def goal_radius_cells(self) -> float:
        return self.dynamics.goal_radius

    def to_cells(self, positions: np.ndarray) -> np.ndarray:
        """Positions in maze-cell coordinates, as `draw_maze` draws (PointMass: as they are)."""
        return positions

    def positions_from_observations(self, observations: np.ndarray) -> np.ndarray:
        return self.dynamics.positions_from_observations(observations)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._pos = self.dynamics.start.copy()
        self._t = 0
        return self.dynamics.observe(self._pos[None])[0], {"position": self._pos.copy()}

    def step(self, action):
        if not (np.issubdtype(np.asarray(action).dtype, np.integer) and self.action_space.contains(int(action))):
            raise ValueError(f"PointMass actions are integers in [0, 5), got {action!r}")
        self._pos = self.dynamics.step(self._pos[None], np.array([int(action)]), self._rng)[0]
        self._t += 1
        reached = bool(self.dynamics.at_goal(self._pos[None])[0])
        reward = 0.0 if reached else -1.0
        truncated = not reached and self._t >= self.max_episode_steps
        obs = self.dynamics.observe(self._pos[None])[0]
        return obs, reward, reached, truncated, {"position": self._pos.copy(), "is_success": reached}


def action_toward(positions: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The unit move along the axis with the larger gap from each position to its target."""
    gap = np.atleast_2d(targets) - np.atleast_2d(positions)
    along_x = np.abs(gap[:, 0]) >= np.abs(gap[:, 1])
    return np.where(along_x, np.where(gap[:, 0] > 0, 4, 3), np.where(gap[:, 1] > 0, 2, 1))


def next_cell_centres(maze: Maze, positions: np.ndarray) -> np.ndarray:
    """Per point, the centre of the next cell on a shortest path to the goal (the goal
    itself once the point is in the goal cell)."""
    goal_cell = maze.cell_of(maze.goal)
    dist = maze.distances_to(goal_cell)
    targets = np.empty((len(positions), 2))
    for i, p in enumerate(positions):
        cell = maze.cell_of(p)
        if cell == goal_cell or cell not in dist:
            targets[i] = maze.goal
        else:
            targets[i] = np.array(min(maze.neighbours(cell), key=lambda n: dist.get(n, np.inf))) + 0.5
    return targets


def shortest_path_actions(maze: Maze, positions: np.ndarray) -> np.ndarray:
    """Head for the next cell on a shortest path, moving along the axis with the larger
    gap so corners are rounded instead of scraped. The optimal-return reference."""
    return action_toward(positions, next_cell_centres(maze, positions))
