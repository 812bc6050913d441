"""What a trained IQL agent thinks of each PointMass cell: V(s), and where A(s, a) points.

Chapter 7 draws these over the maze: V should rise along the corridor toward the goal,
and the action with the largest advantage at each cell should point down the shortest
path, even in cells where the dataset mostly dawdled. (AntMaze's value maps, chapter 8
and `iql-report`, are the library's: `iql_lib.analysis.antmaze_value_maps`.)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from iql_lib.course.td_targets import min_q_at_every_action
from iql_lib.envs.pointmass import ACTION_DIRECTIONS, ACTION_NAMES, PointMassEnv
from iql_lib.training.train import load_policy


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
