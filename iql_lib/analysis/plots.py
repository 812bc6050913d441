"""Figures: trajectories over the maze, a dataset's coverage, learning curves with a
mean ± std band, value maps.

Each figure has a `draw_*(ax, ...)` function that draws on any matplotlib axis (the
notebooks show them inline) and, where the trainer needs a file, a `plot_*` function that
writes a PNG through a bare `Figure`, which needs no GUI backend, so training never
touches the backend a notebook or a desktop session chose.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure

from iql_lib.envs.mazes import draw_maze


def draw_trajectories(ax, env, trajectories: list[np.ndarray], *, title: str = "",
                      background: list[np.ndarray] | None = None, colour_by: np.ndarray | None = None):
    """Rollouts (x-y positions `[T, 2]` in `env`'s frame) over its maze; `background`
    trajectories (e.g. the dataset's) are drawn faint behind them. `colour_by` (one value
    per trajectory, e.g. its return) picks each line's colour; by default, its order."""
    draw_maze(ax, env.drawing_maze, goal_radius=env.goal_radius_cells)
    for traj in background or []:
        cells = env.to_cells(traj)
        ax.plot(cells[:, 1], cells[:, 0], color="0.55", lw=0.6, alpha=0.25, zorder=1)
    if colour_by is None:
        shades = np.linspace(0.1, 0.9, max(1, len(trajectories)))
    else:
        values = np.asarray(colour_by, dtype=float)
        shades = 0.1 + 0.8 * (values - values.min()) / max(np.ptp(values), 1e-9)
    for traj, shade in zip(trajectories, shades):
        cells = env.to_cells(traj)
        ax.plot(cells[:, 1], cells[:, 0], color=colormaps["viridis"](shade), lw=1.3, alpha=0.85, zorder=3)
    ax.set_title(title, fontsize=10)
    return ax


def draw_learning_curves(ax, curves: dict[str, tuple[np.ndarray, np.ndarray]], *, title: str = "",
                         reference_lines: dict[str, float] | None = None,
                         ylabel: str = "Eval_AverageReturn"):
    """`curves` maps a label to `(steps [T], values [n_seeds, T])`; draws mean ± std."""
    for label, (steps, values) in curves.items():
        values = np.asarray(values, dtype=float)
        mean, std = values.mean(axis=0), values.std(axis=0)
        (line,) = ax.plot(steps, mean, label=f"{label} (n={len(values)})")
        ax.fill_between(steps, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    for label, value in (reference_lines or {}).items():
        ax.axhline(value, ls="--", lw=1, color="0.4")
        ax.annotate(label, (ax.get_xlim()[0], value), textcoords="offset points", xytext=(4, 3),
                    fontsize=8, color="0.3")
    ax.set_xlabel("gradient steps")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def draw_value_map(ax, env, values: np.ndarray, *, arrows: np.ndarray | None = None, title: str = "",
                   vmin: float | None = None, vmax: float | None = None, label: str = "", log: bool = False):
    """A map over a maze: `values [rows·k, cols·k]` (k squares per cell side, 1 for a
    per-cell map) as colour (NaN on walls; `vmin`/`vmax` fix the colour scale, `log` makes
    it logarithmic, `label` names it on the colour bar), and optionally
    `arrows [rows, cols, 2]` (row, col direction) drawn from each cell centre."""
    maze = env.drawing_maze
    rows, cols = maze.shape
    per_cell = values.shape[0] // rows
    walls = np.kron(maze.grid, np.ones((per_cell, per_cell), dtype=maze.grid.dtype))
    shown = np.where(walls == 1, np.nan, values)
    norm = (LogNorm if log else Normalize)(vmin=vmin, vmax=vmax)
    image = ax.imshow(shown, cmap="magma", norm=norm, extent=(0, cols, rows, 0), interpolation="nearest", zorder=1)
    draw_maze(ax, maze, goal_radius=env.goal_radius_cells)  # walls show through the NaNs
    if arrows is not None:
        r, c = np.nonzero(maze.grid == 0)
        ax.quiver(c + 0.5, r + 0.5, arrows[r, c, 1], -arrows[r, c, 0], color="tab:cyan",
                  scale=1, scale_units="xy", width=0.012, zorder=4)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=label)
    ax.set_title(title, fontsize=10)
    return ax


def draw_coverage(ax, env, positions: np.ndarray, *, title: str = "", bins_per_cell: int = 8):
    """Where a dataset goes: visits of x-y `positions [N, 2]` per small square over the
    maze (log colour scale; unvisited squares left blank)."""
    maze = env.drawing_maze
    rows, cols = maze.shape
    cells = env.to_cells(positions)
    counts, _, _ = np.histogram2d(cells[:, 0], cells[:, 1], bins=(rows * bins_per_cell, cols * bins_per_cell),
                                  range=((0, rows), (0, cols)))
    draw_maze(ax, maze, goal_radius=env.goal_radius_cells)
    image = ax.imshow(np.where(counts > 0, counts, np.nan), cmap="viridis", norm=LogNorm(),
                      extent=(0, cols, rows, 0), interpolation="nearest", zorder=2, alpha=0.9)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="visits")
    ax.set_title(title, fontsize=10)
    return ax


def save_figure(fig: Figure, path: str | Path) -> Path:
    """`fig` laid out and written to a PNG at `path`."""
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path


def plot_trajectories(env, trajectories: list[np.ndarray], path: str | Path, *, title: str = "",
                      background: list[np.ndarray] | None = None) -> Path:
    """`draw_trajectories` written to a PNG."""
    fig = Figure(figsize=(4.5, 4.5))
    draw_trajectories(fig.subplots(), env, trajectories, title=title, background=background)
    return save_figure(fig, path)


def plot_coverage(env, positions: np.ndarray, path: str | Path, *, title: str = "") -> Path:
    """`draw_coverage` written to a PNG."""
    fig = Figure(figsize=(5.2, 4.5))
    draw_coverage(fig.subplots(), env, positions, title=title)
    return save_figure(fig, path)


def plot_learning_curves(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: str | Path, *,
                         title: str = "", reference_lines: dict[str, float] | None = None,
                         ylabel: str = "Eval_AverageReturn") -> Path:
    """`draw_learning_curves` written to a PNG."""
    return plot_learning_curve_panels({title: curves}, path, reference_lines=reference_lines, ylabel=ylabel)


def plot_learning_curve_panels(panels: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]], path: str | Path,
                               *, reference_lines: dict[str, float] | None = None,
                               ylabel: str = "Eval_AverageReturn") -> Path:
    """`draw_learning_curves` side by side in one PNG, one panel per title (e.g. one per
    task, whose returns live on different scales)."""
    fig = Figure(figsize=(6.5 * len(panels), 4))
    for ax, (title, curves) in zip(np.atleast_1d(fig.subplots(1, len(panels))), panels.items()):
        draw_learning_curves(ax, curves, title=title, reference_lines=reference_lines, ylabel=ylabel)
    return save_figure(fig, path)
