"""Grid mazes: layouts, shortest paths over free cells, and the one maze drawing.

A maze is a 0/1 grid (1 = wall) indexed `[row, col]`; a point `(x, y)` lies in cell
`(floor(x), floor(y))`, so the row index is the first coordinate. Every plot of the
project draws mazes with `draw_maze`, so all figures share one look and one frame.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

Cell = tuple[int, int]


@dataclass(frozen=True)
class Maze:
    name: str
    grid: np.ndarray          # [rows, cols] of 0 (free) / 1 (wall)
    start: tuple[float, float]
    goal: tuple[float, float]

    @property
    def shape(self) -> tuple[int, int]:
        return self.grid.shape

    def cell_of(self, point) -> Cell:
        return int(np.floor(point[0])), int(np.floor(point[1]))

    def is_free(self, cell: Cell) -> bool:
        r, c = cell
        return 0 <= r < self.grid.shape[0] and 0 <= c < self.grid.shape[1] and self.grid[r, c] == 0

    def free_cells(self) -> list[Cell]:
        return [(int(r), int(c)) for r, c in zip(*np.nonzero(self.grid == 0))]

    def neighbours(self, cell: Cell) -> list[Cell]:
        r, c = cell
        steps = [(r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)]
        return [n for n in steps if self.is_free(n)]

    def distances_to(self, target: Cell) -> dict[Cell, int]:
        """Breadth-first distance (in moves) from every reachable free cell to `target`."""
        dist = {target: 0}
        queue = deque([target])
        while queue:
            cell = queue.popleft()
            for n in self.neighbours(cell):
                if n not in dist:
                    dist[n] = dist[cell] + 1
                    queue.append(n)
        return dist

    def wall_distance(self, points: np.ndarray) -> np.ndarray:
        """Distance (in cells) from each `[n, 2]` point (row, col) to the nearest wall cell or
        the grid's edge: how close an ant's torso came to scraping a wall."""
        points = np.atleast_2d(np.asarray(points, dtype=float))
        walls = np.argwhere(self.grid == 1) + 0.5                                    # [w, 2] centres
        gaps = np.maximum(np.abs(points[:, None, :] - walls[None]) - 0.5, 0.0)      # to each square
        nearest = np.linalg.norm(gaps, axis=-1).min(axis=1, initial=np.inf)
        edges = np.minimum(points, np.array(self.shape) - points).min(axis=1)
        return np.minimum(nearest, edges)

    def shortest_path(self, source: Cell, target: Cell) -> list[Cell]:
        """Cells from `source` to `target` inclusive along a shortest path."""
        dist = self.distances_to(target)
        if source not in dist:
            raise ValueError(f"cell {source} cannot reach {target} in maze {self.name}")
        path = [source]
        while path[-1] != target:
            path.append(min(self.neighbours(path[-1]), key=lambda n: dist.get(n, np.inf)))
        return path


def _grid(rows: str) -> np.ndarray:
    return np.array([[int(v) for v in row.split()] for row in rows.strip().splitlines()],
                    dtype=np.int8)


def _corridor_maze(size: int) -> np.ndarray:
    """A serpentine corridor: walls on every other row with the gap alternating sides."""
    grid = np.zeros((size, size), dtype=np.int8)
    for i, r in enumerate(range(1, size - 1, 2)):
        grid[r, :] = 1
        grid[r, size - 1 if i % 2 == 0 else 0] = 0
    return grid


def _four_rooms(size: int = 22) -> np.ndarray:
    grid = np.zeros((size, size), dtype=np.int8)
    mid = size // 2
    grid[mid, :] = 1
    grid[:, mid] = 1
    for door in [(mid, mid // 2), (mid, mid + mid // 2), (mid // 2, mid), (mid + mid // 2, mid)]:
        grid[door] = 0
    return grid


MAZES: dict[str, Maze] = {
    "easy": Maze("easy", _corridor_maze(10), start=(0.5, 0.5), goal=(9.5, 9.5)),
    "medium": Maze("medium", _grid("""
        0 0 1 0 0 0
        1 0 1 0 1 0
        0 0 1 0 1 1
        0 1 1 0 0 1
        0 0 1 1 0 1
        1 0 0 0 0 1
    """), start=(0.5, 0.5), goal=(1.5, 5.5)),
    "hard": Maze("hard", _four_rooms(22), start=(0.5, 0.5), goal=(21.5, 21.5)),
    "very_hard": Maze("very_hard", _grid("""
        0 0 0 1 0 0 0 0 0 1 0
        1 1 0 1 0 1 1 1 0 1 0
        0 0 0 0 0 1 0 0 0 0 0
        0 1 1 1 1 1 0 1 1 1 0
        0 0 0 1 0 0 0 1 0 0 0
        1 1 0 1 0 1 1 1 0 1 1
        0 0 0 0 0 1 0 0 0 0 0
        0 1 1 1 0 1 0 1 1 1 0
        0 0 0 1 0 0 0 1 0 0 0
        1 1 0 1 1 1 0 1 0 1 0
        0 0 0 0 0 0 0 1 0 1 0
    """), start=(0.5, 0.5), goal=(10.5, 10.5)),
}


def draw_maze(ax, maze: Maze, *, goal_radius: float = 1.0, show_start_goal: bool = True):
    """Draw walls, start and goal on a matplotlib axis in maze coordinates.

    The plot's horizontal axis is the column coordinate `y` and the vertical axis is the
    row coordinate `x` growing downwards, so the picture matches the printed grid.
    """
    import matplotlib.patches as patches

    rows, cols = maze.shape
    ax.imshow(maze.grid, cmap="Greys", vmin=0, vmax=1.6, extent=(0, cols, rows, 0),
              interpolation="nearest", zorder=0)
    if show_start_goal:
        ax.plot(maze.start[1], maze.start[0], "o", color="tab:green", ms=9, zorder=5,
                label="start")
        ax.add_patch(patches.Circle((maze.goal[1], maze.goal[0]), goal_radius, fill=False,
                                    ls="--", color="tab:red", zorder=5))
        ax.plot(maze.goal[1], maze.goal[0], "*", color="tab:red", ms=14, zorder=5,
                label="goal")
    ax.set_xlim(0, cols)
    ax.set_ylim(rows, 0)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax
