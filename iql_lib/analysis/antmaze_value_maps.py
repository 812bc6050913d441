"""What a trained AntMaze run thinks of each place in the maze, next to its greedy rollouts.

Chapter 8 and `iql-report` draw these to see why a run fails: values flat far from the
goal, or an ant that never leaves the start room. Each algorithm shows what it has:
IQL its V(s); AWAC, which has no V, its critic's value of the state under its own policy,
min_j Q_j(s, π(s)); BC, which has no critic, where its data went, so one sees whether the
rollouts stay there. (Chapter 7's PointMass value maps, V and the advantages per cell, are
the course's: `iql_lib.course.value_maps`.)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from iql_lib.algos import AWAC, IQL
from iql_lib.config import TrainConfig
from iql_lib.data import load_dataset
from iql_lib.data.transitions import Transitions
from iql_lib.training.engine import Engine
from iql_lib.envs.antmaze import AntMazeEnv
from iql_lib.training.evaluate import evaluate_envs
from iql_lib.analysis.plots import draw_trajectories, draw_value_map, save_figure
from iql_lib.training.train import dataset_path, load_policy

VISITS = "dataset visits"  # what a map without a critic (BC) shows


def state_values(engine: Engine, obs: torch.Tensor) -> tuple[torch.Tensor, str] | None:
    """What seed 0's critic says each state of `obs` `[N, ob_dim]` is worth, and the
    name of that value; None for an algorithm without a critic (BC).

    IQL: V(s). AWAC has no V: its twin Qs at the policy's greedy (mean) action a_π,
    min_j Q_j(s, a_π), an action the data may never have taken there."""
    algo, state = engine.algo, engine.state
    if isinstance(algo, IQL):
        return algo.v(state["v_net"][0], obs), "V(s)"
    if isinstance(algo, AWAC):
        return algo.q.min(state["q_net"][0], obs, greedy_act(engine)(obs)), "min Q(s, π(s))"
    return None


def greedy_act(engine: Engine):
    """Seed 0's policy acting with its mean action, `act(obs) -> actions` (it draws nothing)."""
    generator = torch.Generator()
    return lambda obs: engine.act(0, obs, True, generator)


def load_antmaze_run(run_dir: str | Path, what: str,
                     blanks=None) -> tuple[Engine, TrainConfig, AntMazeEnv, Transitions]:
    """An AntMaze run's final policy, config, task and the dataset it trained on; a run on
    another env is refused with `what` the caller needs an AntMaze for."""
    engine, cfg, _, env = load_policy(run_dir, blanks=blanks)
    if not isinstance(env, AntMazeEnv):
        raise ValueError(f"{run_dir}: {what} (got a run on {cfg.env_name})")
    return engine, cfg, env, load_dataset(dataset_path(cfg), env)


@dataclass
class PositionValues:
    values: np.ndarray               # [rows·k, cols·k] per square: the mean value of the dataset states
                                     # in it, or (no critic) their count; NaN: no data there
    label: str                       # what `values` are: "V(s)", "min Q(s, π(s))" or VISITS
    trajectories: list[np.ndarray]   # greedy evaluation rollouts, x-y per step
    successes: np.ndarray            # [episodes] whether each rollout reached the goal
    env: object                      # the task, built in the frame of the run's data

    def draw(self, ax, *, title: str = ""):
        """The map as colour (visits on a log scale), the rollouts on top."""
        draw_value_map(ax, self.env, self.values, label=self.label, log=self.label == VISITS)
        return draw_trajectories(ax, self.env, self.trajectories, title=title)


@torch.no_grad()
def antmaze_value_map(run_dir: str | Path, *, bins_per_cell: int = 4, states_per_square: int = 32,
                      episodes: int = 5, seed: int = 0, blanks=None) -> PositionValues:
    """An AntMaze run's map (`state_values` of the dataset's states over x-y, or the
    data's visits for BC) from its checkpoint, and its greedy rollouts.

    A value needs the ant's whole state, not just its position: each square of the map (a
    1/`bins_per_cell` cell) shows the mean value of up to `states_per_square` dataset states
    found in it (drawn at random with `seed`), so the joints are those the data had there."""
    engine, _, env, data = load_antmaze_run(run_dir, "these maps are drawn over an AntMaze", blanks)
    observations = data.observations
    rows, cols = env.drawing_maze.shape
    square = np.floor(env.to_cells(observations[:, :2]) * bins_per_cell).astype(np.int64)
    inside = np.all((square >= 0) & (square < [rows * bins_per_cell, cols * bins_per_cell]), axis=1)
    flat = np.where(inside, square[:, 0] * cols * bins_per_cell + square[:, 1], -1)
    order = np.random.default_rng(seed).permutation(len(flat))
    order = order[np.argsort(flat[order], kind="stable")]  # grouped by square, random within each
    first = np.searchsorted(flat[order], flat[order])       # where each row's square begins
    chosen = order[(np.arange(len(order)) - first < states_per_square) & (flat[order] >= 0)]
    size = rows * cols * bins_per_cell ** 2
    critic = state_values(engine, torch.as_tensor(observations[chosen]))
    if critic is None:
        values, label = np.bincount(flat[inside], minlength=size).astype(float), VISITS
        values[values == 0] = np.nan
    else:
        label = critic[1]
        counts = np.bincount(flat[chosen], minlength=size)
        totals = np.bincount(flat[chosen], weights=critic[0].numpy(), minlength=size)
        values = np.where(counts > 0, totals / np.maximum(counts, 1), np.nan)
    rollouts = evaluate_envs(greedy_act(engine), [env], episodes, seed=seed)
    return PositionValues(values.reshape(rows * bins_per_cell, -1), label, rollouts.trajectories,
                          np.asarray(rollouts.successes), env)


def plot_antmaze_value_map(run_dir: str | Path, path: str | Path, *, title: str = "", **kwargs) -> Path:
    """`antmaze_value_map` drawn to a PNG: the map as colour over the maze, the rollouts on top."""
    maps = antmaze_value_map(run_dir, **kwargs)
    fig = Figure(figsize=(5.6, 4.6))
    maps.draw(fig.subplots(), title=title or (
        f"{Path(run_dir).name}\n{maps.label}, and {len(maps.trajectories)} greedy rollouts "
        f"({int(maps.successes.sum())} reach the goal)"))
    return save_figure(fig, path)
