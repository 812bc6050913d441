"""V over an AntMaze's x-y from a trained IQL run, next to its greedy evaluation rollouts.

Chapter 8 and `iql-report` draw these to see why a run fails: V flat far from the goal,
or an ant that never leaves the start room. (Chapter 7's PointMass value maps, V and the
advantages per cell, are the course's: `iql_lib.course.value_maps`.)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from iql_lib.data import load_dataset
from iql_lib.envs.antmaze import AntMazeEnv
from iql_lib.evaluate import evaluate_envs
from iql_lib.plots import plot_values_and_trajectories
from iql_lib.train import dataset_path, load_policy


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
    maps = antmaze_value_map(run_dir, **kwargs)
    title = title or (f"{Path(run_dir).name}: V, and {len(maps.trajectories)} greedy rollouts "
                      f"({int(maps.successes.sum())} reach the goal)")
    return plot_values_and_trajectories(maps.env, maps.values, maps.trajectories, path, title=title)
