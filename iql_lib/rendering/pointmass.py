"""PointMass drawn with matplotlib: the maze as the course's figures draw it (start, goal
and its radius), the point and its path so far.

It offers the AntMaze camera's `frame(observations, goal, status)`, so one recorder films
both families; PointMass has one view, the maze from above.
"""
from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from iql_lib.envs.mazes import draw_maze
from iql_lib.envs.pointmass import PointMassEnv

VIEWS = ("top",)
COLOURS = {"running": "tab:blue", "success": "tab:green", "fell": "tab:red"}
DPI = 100


class PointMassCamera:
    """`frame(observations, goal, status)`: the maze with the path through `observations`
    `[t + 1, 2]` and the point at the last, `[height, width, 3]` bytes (`goal` is the
    maze's own, drawn with it)."""

    def __init__(self, env: PointMassEnv, views: tuple[str, ...] = VIEWS, width: int = 320, height: int = 240):
        if tuple(views) != VIEWS:
            raise ValueError(f"PointMass has one view, {VIEWS[0]} (the maze from above); got {', '.join(views)}")
        self.env, self.views, self.size = env, VIEWS, (width, height)
        self.figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
        self.canvas = FigureCanvasAgg(self.figure)
        ax = self.figure.add_axes((0.01, 0.01, 0.98, 0.98))  # its frame is the maze's edge, which blocks too
        draw_maze(ax, env.drawing_maze, goal_radius=env.goal_radius_cells)
        (self.path,) = ax.plot([], [], lw=1.5, alpha=0.8, zorder=6)
        (self.point,) = ax.plot([], [], "o", ms=10, mec="black", mew=1.5, zorder=7)  # ringed: not the start's dot

    def frame(self, observations: np.ndarray, goal: np.ndarray | None = None, status: str = "running") -> np.ndarray:
        cells = self.env.to_cells(self.env.positions_from_observations(observations))
        self.path.set_color(COLOURS[status])
        self.point.set_markerfacecolor(COLOURS[status])
        self.path.set_data(cells[:, 1], cells[:, 0])
        self.point.set_data(cells[-1:, 1], cells[-1:, 0])
        self.canvas.draw()
        return np.asarray(self.canvas.buffer_rgba())[..., :3].copy()

    def close(self) -> None:
        self.figure.clear()
