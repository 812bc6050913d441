"""What a trained IQL agent thinks of each place in the maze: V(s), and where A(s, a) points.

Chapter 7 draws these over the PointMass maze: V should rise along the corridor toward
the goal, and the action with the largest advantage at each cell should point down the
shortest path, even in cells where the dataset mostly dawdled. Chapter 8 (and
`iql-report`) draws V over an AntMaze's x-y next to the policy's evaluation rollouts, to
see why a run fails: V flat far from the goal, or an ant that never leaves the start room.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from iql_lib.course.td_targets import min_q_at_every_action
from iql_lib.envs.pointmass import ACTION_DIRECTIONS, ACTION_NAMES, PointMassEnv
from iql_lib.train import dataset_path, load_policy


@dataclass
class CellMaps:
    values: np.ndarray       # [rows, cols] V at each free cell's centre (NaN on walls)
    advantages: np.ndarray   # [rows, cols, n_actions] min Q(s, a) − V(s)
    arrows: np.ndarray       # [rows, cols, 2] (row, col) direction of the best-advantage action

    def best_action_names(self) -> np.ndarray:
        """The best-advantage action's name per cell ('' on walls)."""
        best = np.nanargmax(np.nan_to_num(self.advantages, nan=-np.inf), axis=-1)
        names = np.array(ACTION_NAMES, dtype=object)[best]
        return np.where(np.isnan(self.values), "", names)


@torch.no_grad()
def cell_maps(run_dir: str | Path, blanks=None) -> CellMaps:
    """V and the advantages of every action at the centre of each free cell, from an IQL
    run's checkpoint; its V network is rebuilt with `blanks` (a learner's) when given."""
    engine, cfg, _, env = load_policy(run_dir, blanks=blanks)
    if cfg.algo != "iql" or not isinstance(env, PointMassEnv):
        raise ValueError(f"{run_dir}: value maps need an IQL run on PointMass (got {cfg.algo} on {cfg.env_name})")
    maze = env.maze
    free = np.argwhere(maze.grid == 0)
    obs = env.dynamics.observe(free + 0.5)
    v = engine.algo.v(engine.state["v_net"][0], torch.as_tensor(obs)).numpy()
    adv = min_q_at_every_action(engine, obs, params="q_net") - v[:, None]

    values = np.full(maze.shape, np.nan)
    advantages = np.full(maze.shape + (len(ACTION_DIRECTIONS),), np.nan)
    arrows = np.zeros(maze.shape + (2,))
    rows, cols = free.T
    values[rows, cols] = v
    advantages[rows, cols] = adv
    arrows[rows, cols] = ACTION_DIRECTIONS[adv.argmax(-1)] * 0.4
    return CellMaps(values, advantages, arrows)


@dataclass
class PositionValues:
    values: np.ndarray               # [rows·k, cols·k] mean V of the dataset states in each square (NaN: none)
    trajectories: list[np.ndarray]   # greedy evaluation rollouts, x-y per step
    successes: np.ndarray            # [episodes] whether each rollout reached the goal
    env: object                      # the task, built in the frame of the run's data


@torch.no_grad()
def antmaze_value_map(run_dir: str | Path, *, bins_per_cell: int = 4, states_per_square: int = 32,
                      episodes: int = 5, seed: int = 0, blanks=None) -> PositionValues:
    """V over an AntMaze's x-y from an IQL run's checkpoint, and its greedy rollouts.

    V needs the ant's whole state, not just its position: each square of the map (a
    1/`bins_per_cell` cell) shows the mean V of up to `states_per_square` dataset states
    found in it (drawn at random with `seed`), so the joints are those the data had there."""
    from iql_lib.data import load_dataset
    from iql_lib.envs.antmaze import AntMazeEnv
    from iql_lib.evaluate import evaluate_envs

    engine, cfg, _, env = load_policy(run_dir, blanks=blanks)
    if cfg.algo != "iql" or not isinstance(env, AntMazeEnv):
        raise ValueError(f"{run_dir}: AntMaze value maps need an IQL run on AntMaze (got {cfg.algo} on {cfg.env_name})")
    observations = load_dataset(dataset_path(cfg), env).observations
    rows, cols = env.drawing_maze.shape
    square = np.floor(env.to_cells(observations[:, :2]) * bins_per_cell).astype(np.int64)
    inside = np.all((square >= 0) & (square < [rows * bins_per_cell, cols * bins_per_cell]), axis=1)
    flat = np.where(inside, square[:, 0] * cols * bins_per_cell + square[:, 1], -1)
    order = np.random.default_rng(seed).permutation(len(flat))
    order = order[np.argsort(flat[order], kind="stable")]  # grouped by square, random within each
    first = np.searchsorted(flat[order], flat[order])       # where each row's square begins
    chosen = order[(np.arange(len(order)) - first < states_per_square) & (flat[order] >= 0)]
    v = engine.algo.v(engine.state["v_net"][0], torch.as_tensor(observations[chosen])).numpy()
    size = rows * cols * bins_per_cell ** 2
    counts = np.bincount(flat[chosen], minlength=size)
    totals = np.bincount(flat[chosen], weights=v, minlength=size)
    values = np.where(counts > 0, totals / np.maximum(counts, 1), np.nan).reshape(rows * bins_per_cell, -1)
    generator = torch.Generator().manual_seed(seed)
    rollouts = evaluate_envs(lambda obs: engine.act(0, obs, True, generator), [env], episodes, seed=seed)
    return PositionValues(values, rollouts.trajectories, np.asarray(rollouts.successes), env)


def plot_antmaze_value_map(run_dir: str | Path, path: str | Path, *, title: str = "", **kwargs) -> Path:
    """`antmaze_value_map` drawn: V as colour over the maze, the rollouts on top."""
    from iql_lib.plots import plot_values_and_trajectories

    maps = antmaze_value_map(run_dir, **kwargs)
    title = title or (f"{Path(run_dir).name}: V, and {len(maps.trajectories)} greedy rollouts "
                      f"({int(maps.successes.sum())} reach the goal)")
    return plot_values_and_trajectories(maps.env, maps.values, maps.trajectories, path, title=title)
