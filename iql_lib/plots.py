"""Figures: trajectories over the maze and learning curves with a mean ± std band."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: every figure is written to a file
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from iql_lib.envs.mazes import draw_maze  # noqa: E402


def plot_trajectories(env, trajectories: list[np.ndarray], path: str | Path, *, title: str = "",
                      background: list[np.ndarray] | None = None) -> Path:
    """Rollouts (x-y positions `[T, 2]` in `env`'s frame) drawn over its maze;
    `background` trajectories (e.g. the dataset's) are drawn faint behind them."""
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    draw_maze(ax, env.drawing_maze, goal_radius=env.goal_radius_cells)
    for traj in background or []:
        cells = env.to_cells(traj)
        ax.plot(cells[:, 1], cells[:, 0], color="0.55", lw=0.6, alpha=0.25, zorder=1)
    colours = plt.cm.viridis(np.linspace(0.1, 0.9, max(1, len(trajectories))))
    for traj, colour in zip(trajectories, colours):
        cells = env.to_cells(traj)
        ax.plot(cells[:, 1], cells[:, 0], color=colour, lw=1.3, alpha=0.85, zorder=3)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_learning_curves(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: str | Path, *,
                         title: str = "", reference_lines: dict[str, float] | None = None,
                         ylabel: str = "Eval_AverageReturn") -> Path:
    """`curves` maps a label to `(steps [T], values [n_seeds, T])`; draws mean ± std."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for label, (steps, values) in curves.items():
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
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
