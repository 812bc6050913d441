"""How far from the goal a trained AntMaze policy still gets there: greedy episodes started
in every free cell of the maze, against each cell's distance to the goal along the maze.

A run that fails from the task's start may succeed nearer the goal. How far its success
reaches, in metres and in env steps at its data's speed, says how much of the task the
run has learned at its budget, and what a longer budget or a faster ant would have to
add: on medium-diverse the start lies farther from the goal than a 300k-step run's reach
(`benchmarks/results/antmaze_reference/README.md`). Where the ants that end on their backs
went over, and how far from a wall, says whether the policy fails by walking into places
the data's ant avoided.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from iql_lib.data.antmaze_diagnostics import diagnose
from iql_lib.envs.antmaze import SCALE, AntMazeEnv, flipped
from iql_lib.training.evaluate import evaluate_envs
from iql_lib.analysis.plots import draw_value_map, save_figure
from iql_lib.analysis.antmaze_value_maps import greedy_act, load_antmaze_run

Cell = tuple[int, int]


@dataclass
class Reach:
    env: AntMazeEnv           # the task, built in the frame of the run's data
    cells: list[Cell]         # the free cells (row, col) episodes started in
    metres: np.ndarray        # [cells] from the cell's centre to the goal cell's, through cell centres
    success: np.ndarray       # [cells] share of the episodes started there that reached the goal
    flipped: np.ndarray       # [cells] share that ended with the ant on its back (it cannot right itself)
    episodes: int             # per cell
    speed: float              # m/s: the data's mean speed, to count distances in env steps
    # [falls, 2] where the episodes that ended on the ant's back went over, (row, col) cell coordinates
    fall_positions: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))
    data_wall_metres: float | None = None  # the median distance of the data's states from the nearest wall

    def steps(self, metres) -> np.ndarray:
        """Env steps the data's ant needs for `metres` at its mean speed."""
        return np.asarray(metres) / (self.speed * self.env.dt)

    def by_distance(self, shares: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Distinct distances (m) and the mean per-cell `shares` (default: success) at each."""
        shares = self.success if shares is None else shares
        distances = np.unique(self.metres)
        return distances, np.array([shares[self.metres == d].mean() for d in distances])

    def reach(self, rate: float = 0.5) -> float:
        """The farthest distance (m) up to which every distance's cells succeed at least
        `rate` of the time; −1 if the goal's own cell does not."""
        distances, success = self.by_distance()
        short = success < rate
        if short[0]:
            return -1.0
        return float(distances[np.argmax(short) - 1] if short.any() else distances[-1])

    @property
    def _start(self) -> int:
        return self.cells.index(tuple(self.env.start_cell))

    @property
    def start_metres(self) -> float:
        """The task's start cell's distance to the goal."""
        return float(self.metres[self._start])

    @property
    def _episodes(self) -> str:
        return f"{self.episodes} episode{'s' * (self.episodes != 1)} per cell"

    def success_map(self) -> np.ndarray:
        """[rows, cols] success rate per free cell, NaN on walls."""
        grid = np.full(self.env.drawing_maze.shape, np.nan)
        for (r, c), s in zip(self.cells, self.success):
            grid[r, c] = s
        return grid

    def lines(self) -> list[str]:
        """The reach, the task's start, and the falls, one line each."""
        reach, start, start_success = self.reach(), self.start_metres, self.success[self._start]
        failed = self.episodes * np.sum(1.0 - self.success)
        return [f"success ≥ 50 % from every cell up to {reach:g} m from the goal "
                f"({self.steps(reach):.0f} steps at the data's {self.speed:.2f} m/s)"
                if reach >= 0 else "under 50 % success even from the goal's own cell",
                f"the task's start: {start:g} m ({self.steps(start):.0f} steps), "
                f"{100 * start_success:.0f} % success there ({self._episodes})",
                f"{self.episodes * self.flipped.sum():.0f} of the {failed:.0f} failed episodes ended "
                "with the ant on its back" + self._where_it_fell()]

    def fall_wall_metres(self) -> np.ndarray:
        """[falls] how far from the nearest wall (m) each ant that ended on its back went over."""
        return SCALE * self.env.drawing_maze.wall_distance(self.fall_positions)

    def _where_it_fell(self) -> str:
        if not len(self.fall_positions):
            return ""
        data = "" if self.data_wall_metres is None else f" (the data's states: {self.data_wall_metres:.1f} m)"
        return f", going over a median {np.median(self.fall_wall_metres()):.1f} m from the nearest wall" + data

    def draw(self, map_ax, curve_ax, *, title: str = ""):
        """Success per start cell over the maze, with a cross where each ant went over, and
        success against distance (m, and env steps on the top axis) with the task's start marked."""
        draw_value_map(map_ax, self.env, self.success_map(), vmin=0.0, vmax=1.0, label="success rate",
                       title=title)
        for (r, c), s in zip(self.cells, self.success):
            map_ax.text(c + 0.5, r + 0.8, f"{100 * s:.0f} %", ha="center", va="center", fontsize=7,
                        color="black" if s > 0.6 else "white", zorder=5)
        if len(self.fall_positions):
            map_ax.scatter(self.fall_positions[:, 1], self.fall_positions[:, 0], marker="x", s=14,
                           color="tab:red", linewidths=1, zorder=6, label="went over (for good)")
            map_ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, frameon=False)
        distances, success = self.by_distance()
        curve_ax.scatter(self.metres, 100 * self.success, s=12, alpha=0.5, label="one start cell")
        curve_ax.plot(distances, 100 * success, marker="o", label="mean at that distance")
        curve_ax.plot(distances, 100 * self.by_distance(self.flipped)[1], color="0.4", ls=":", marker=".",
                      label="ended on its back")
        curve_ax.axvline(self.start_metres, color="tab:red", ls="--", label="the task's start")
        curve_ax.set_xlabel("distance to the goal along the maze (m)")
        curve_ax.set_ylabel(f"% of the episodes ({self._episodes})")
        curve_ax.set_ylim(-3, 103)
        metres_per_step = self.speed * self.env.dt
        top = curve_ax.secondary_xaxis("top", functions=(lambda m: m / metres_per_step,
                                                         lambda s: s * metres_per_step))
        top.set_xlabel(f"env steps at the data's {self.speed:.2f} m/s")
        curve_ax.legend(fontsize=8, loc="best")
        curve_ax.grid(alpha=0.3)


def measure_reach(act, env: AntMazeEnv, speed: float, *, episodes: int = 5, seed: int = 0) -> Reach:
    """Run `act(obs [n, ob_dim]) -> actions` for `episodes` episodes from each free cell of
    `env` (the cell's `j`-th episode resets with seed `seed + episodes·index + j`)."""
    maze = env.drawing_maze
    hops = maze.distances_to(tuple(env.goal_cell))
    cells = [cell for cell in maze.free_cells() if cell in hops]
    results = [evaluate_envs(act, [env], episodes, seed + episodes * i, options={"start_cell": cell},
                             first_where=flipped) for i, cell in enumerate(cells)]
    on_back = [np.array([flipped(o) for o in r.final_observations]) for r in results]
    falls = np.concatenate([r.first_where[f] for r, f in zip(results, on_back)])
    return Reach(env, cells, SCALE * np.array([hops[c] for c in cells], dtype=float),
                 np.array([r.successes.mean() for r in results]), np.array([f.mean() for f in on_back]),
                 episodes, speed, env.to_cells(falls))


@torch.no_grad()
def run_reach(run_dir: str | Path, *, episodes: int = 5, seed: int = 0, blanks=None) -> Reach:
    """`measure_reach` of an AntMaze run's final greedy policy (its first seed), distances
    counted in steps at the speed of the data it trained on."""
    engine, _, env, data = load_antmaze_run(run_dir, "reach is measured on an AntMaze", blanks)
    speed = diagnose(data, dt=env.dt).mean_speed
    reach = measure_reach(greedy_act(engine), env, speed, episodes=episodes, seed=seed)
    sample = env.to_cells(env.positions_from_observations(data.observations[::50]))  # every 50th state
    reach.data_wall_metres = float(np.median(SCALE * env.drawing_maze.wall_distance(sample)))
    return reach


def plot_reach(reach: Reach, path: str | Path, *, title: str = "") -> Path:
    """`Reach.draw` written to a PNG."""
    fig = Figure(figsize=(10.5, 4.4))
    map_ax, curve_ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.15]})
    reach.draw(map_ax, curve_ax, title=title)
    return save_figure(fig, path)
