"""The PointMass stitching dataset: suboptimal trajectories that only stitching beats.

Every episode starts at the task start and follows one of two habits (personas):

- **runner**: heads for the goal along the shortest path, but once it reaches its
  *stall cell* (drawn per episode) it paces back and forth between that cell and the
  one two steps back until the time limit. Runners cover the corridor fast up to a
  random point and never reach the goal.
- **dawdler**: hovers for a long while in the same early cell of the corridor (the
  *pause cell*), then heads for the goal. Dawdlers are the only episodes that reach the
  goal, so they are the best ones, and every one of them shares the pause. A few are
  quick (a short pause); most linger.

Both personas also take a uniformly random action with probability `epsilon`.
Filtered BC copies the best dawdlers and inherits their pause: at the pause cell their
data is mostly "stay", so a sampled BC policy waits about as long as the top 10 % did on
average (far longer than the quickest one), and a greedy one never leaves. Stitching the runners' fast start onto the dawdlers' fast finish gives a
near-shortest path, which IQL's value function finds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from iql_lib.data.transitions import Transitions
from iql_lib.envs import make_env
from iql_lib.envs.pointmass import action_toward, next_cell_centres

STAY = 0


@dataclass(frozen=True)
class StitchingRecipe:
    env_name: str = "PointmassMedium-v0"
    n_episodes: int = 200
    runner_fraction: float = 0.22
    pause_cell_index: int = 4          # position of the pause cell along the shortest path
    quick_fraction: float = 0.05       # dawdlers with a short pause
    quick_pause_steps: tuple[int, int] = (25, 32)
    pause_steps: tuple[int, int] = (45, 90)   # everyone else's pause (uniform)
    stall_indices: tuple[int, int] = (6, 13)  # runners stall at a corridor cell in this range
    pace_back: int = 2                 # runners pace between the stall cell and this far back
    epsilon: float = 0.1


def _hover_action(position: np.ndarray, cell: tuple[int, int]) -> int:
    """Stay while inside `cell`; step back toward its centre after drifting out."""
    if (int(np.floor(position[0])), int(np.floor(position[1]))) == cell:
        return STAY
    return int(action_toward(position, np.array(cell) + 0.5)[0])


def generate_stitching_dataset(seed: int = 0, recipe: StitchingRecipe = StitchingRecipe()):
    """Roll out the two personas in the real env; returns `(Transitions, persona per episode)`.

    Deterministic given `seed`: one `np.random.Generator` drives personas, habits and
    the behaviour's random actions, and each episode's env noise is seeded from it.
    """
    rng = np.random.default_rng(seed)
    env = make_env(recipe.env_name)
    maze = env.maze
    corridor = maze.shortest_path(maze.cell_of(maze.start), maze.cell_of(maze.goal))
    index_of = {cell: i for i, cell in enumerate(corridor)}
    pause_cell = corridor[recipe.pause_cell_index]

    columns = {k: [] for k in ("observations", "actions", "rewards", "next_observations",
                               "terminals", "timeouts")}
    personas = []
    for _ in range(recipe.n_episodes):
        runner = rng.random() < recipe.runner_fraction
        personas.append("runner" if runner else "dawdler")
        stall_index = int(rng.integers(recipe.stall_indices[0], recipe.stall_indices[1] + 1))
        pace_cells = (corridor[stall_index], corridor[stall_index - recipe.pace_back])
        low, high = recipe.quick_pause_steps if rng.random() < recipe.quick_fraction else recipe.pause_steps
        pause_left = int(rng.integers(low, high + 1))
        habit_cell = pace_cells[0] if runner else pause_cell

        obs, info = env.reset(seed=int(rng.integers(2**31)))
        habit_started = False
        pace_target = pace_cells[1]
        done = False
        while not done:
            pos = info["position"]
            cell = maze.cell_of(pos)
            habit_started |= index_of.get(cell, -1) >= index_of[habit_cell]
            if habit_started and runner:
                if cell in pace_cells:
                    pace_target = pace_cells[1 - pace_cells.index(cell)]
                action = int(action_toward(pos, np.array(pace_target) + 0.5)[0])
            elif habit_started and pause_left > 0:
                action = _hover_action(pos, habit_cell)
                pause_left -= 1
            else:
                action = int(action_toward(pos, next_cell_centres(maze, pos[None]))[0])
            if rng.random() < recipe.epsilon:
                action = int(rng.integers(env.action_space.n))
            next_obs, reward, terminated, truncated, info = env.step(action)
            for key, value in zip(columns, (obs, action, reward, next_obs, terminated, truncated)):
                columns[key].append(value)
            obs, done = next_obs, terminated or truncated

    data = Transitions(
        observations=np.array(columns["observations"], dtype=np.float32),
        actions=np.array(columns["actions"], dtype=np.int64),
        rewards=np.array(columns["rewards"], dtype=np.float32),
        next_observations=np.array(columns["next_observations"], dtype=np.float32),
        terminals=np.array(columns["terminals"], dtype=np.float32),
        timeouts=np.array(columns["timeouts"], dtype=np.float32),
    )
    return data, np.array(personas)
