"""Chapter 6's measurement: how often a TD target asks the critic about a rare action.

AWAC's target reads Q̄(s', a') at an action a' drawn from its policy; IQL's reads only
V(s'). On a PointMass maze with discrete actions, "did the data take a' at s'?" becomes
a count: how often the dataset took action a' in the maze cell of s'. Here a query is
*off-data* when that action makes up less than `threshold` of the dataset's actions in
that cell (a cell the data never visits makes every action off-data).

`dataset_action_counts` builds the per-cell table once; `audit_queries` labels a batch of
(s', a') queries against it and summarises them per cell, which `draw_off_data_figure`
shows over the maze next to the overall fractions.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

# The stitching data takes a uniformly random action 10 % of the time, so every action
# shows up at about 2 % in every cell it visits by accident alone; 5 % sits above that floor.
RARE_SHARE = 0.05


def cells_of(env, observations: np.ndarray) -> np.ndarray:
    """The maze cell `(row, col)` of each observation, `[N, 2]` ints."""
    positions = env.to_cells(env.positions_from_observations(np.asarray(observations)))
    rows, cols = env.drawing_maze.shape
    cells = np.floor(positions).astype(int)
    return np.stack([np.clip(cells[:, 0], 0, rows - 1), np.clip(cells[:, 1], 0, cols - 1)], axis=1)


def _discrete(actions) -> np.ndarray:
    actions = np.asarray(actions.detach().cpu() if isinstance(actions, torch.Tensor) else actions)
    if actions.ndim != 1 or not np.issubdtype(actions.dtype, np.integer):
        raise ValueError(f"per-cell action counts need discrete actions (integers, shape [N]); "
                         f"got dtype {actions.dtype}, shape {list(actions.shape)}")
    return actions


def dataset_action_counts(env, observations: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """How often the data took each action in each cell: `[rows, cols, n_actions]` ints."""
    actions = _discrete(actions)
    rows, cols = env.drawing_maze.shape
    counts = np.zeros((rows, cols, env.action_space.n), dtype=np.int64)
    cells = cells_of(env, observations)
    np.add.at(counts, (cells[:, 0], cells[:, 1], actions), 1)
    return counts


def action_shares(counts: np.ndarray) -> np.ndarray:
    """Each action's share of its cell's data, `[rows, cols, n_actions]`; 0 in unvisited cells."""
    totals = counts.sum(axis=-1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)


@dataclass
class QueryAudit:
    """Where a batch of (s', a') queries stands against the data's per-cell actions."""

    share: np.ndarray       # [N] share of a' among the data's actions in the cell of s'
    off_data: np.ndarray    # [N] bool: share < threshold
    per_cell: np.ndarray    # [rows, cols] off-data fraction of the queries in each cell (NaN: none)
    queries: np.ndarray     # [rows, cols] number of queries in each cell
    threshold: float

    @property
    def fraction(self) -> float:
        """Off-data fraction over all the queries."""
        return float(self.off_data.mean()) if len(self.off_data) else float("nan")


def audit_queries(env, counts: np.ndarray, observations: np.ndarray, actions,
                  threshold: float = RARE_SHARE) -> QueryAudit:
    """Label each query (observation, action) on-data or off-data against `counts`."""
    actions = _discrete(actions)
    cells = cells_of(env, observations)
    share = action_shares(counts)[cells[:, 0], cells[:, 1], actions]
    off = share < threshold
    queries = np.zeros(counts.shape[:2], dtype=np.int64)
    hits = np.zeros(counts.shape[:2], dtype=np.int64)
    np.add.at(queries, (cells[:, 0], cells[:, 1]), 1)
    np.add.at(hits, (cells[:, 0], cells[:, 1]), off.astype(np.int64))
    per_cell = np.divide(hits, queries, out=np.full(queries.shape, np.nan), where=queries > 0)
    return QueryAudit(share, off, per_cell, queries, threshold)


def sample_policy_actions(engine, observations: np.ndarray, seed: int = 0, index: int = 0) -> np.ndarray:
    """One action per observation, sampled from seed `index`'s policy in `engine`."""
    obs = torch.as_tensor(np.asarray(observations, dtype=np.float32), device=engine.device)
    generator = torch.Generator(device=engine.device).manual_seed(seed)
    return engine.act(index, obs, False, generator).cpu().numpy()


@torch.no_grad()
def policy_probabilities(engine, observations: np.ndarray, index: int = 0) -> np.ndarray:
    """π(a | s) of a categorical (discrete-action) policy, `[N, n_actions]`."""
    if not engine.algo.discrete:
        raise ValueError("action probabilities need a discrete-action policy")
    obs = torch.as_tensor(np.asarray(observations, dtype=np.float32), device=engine.device)
    head = engine.algo.policy(engine.state["policy"][index], obs)
    return torch.softmax(head, dim=-1).cpu().numpy()


@torch.no_grad()
def min_q_at_every_action(engine, observations: np.ndarray, params: str = "q_target", index: int = 0) -> np.ndarray:
    """min(Q₁, Q₂) at every discrete action of each observation, `[N, n_actions]`, from an
    AWAC or IQL engine's target critic (`params="q_target"`) or online one (`"q_net"`)."""
    if not engine.algo.discrete:
        raise ValueError("Q-values at every action need a discrete-action critic")
    algo, theta = engine.algo, engine.state[params][index]
    obs = torch.as_tensor(np.asarray(observations, dtype=np.float32), device=engine.device)
    columns = [algo.q.min(theta, obs, torch.full((len(obs),), a, device=engine.device))
               for a in range(algo.ac_dim)]
    return torch.stack(columns, dim=-1).cpu().numpy()


def draw_off_data_figure(env, audit: QueryAudit, fractions: dict[str, float], *, title: str = ""):
    """Left: the per-cell off-data fraction of `audit` over the maze (percentages in the
    cells, "–" where no query falls); right: one bar per entry of `fractions` (label →
    overall off-data fraction)."""
    import matplotlib.pyplot as plt

    from iql_lib.analysis.plots import draw_value_map

    fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 4.4), gridspec_kw={"width_ratios": [1.15, 1]})
    draw_value_map(left, env, audit.per_cell, title=title, vmin=0.0, vmax=1.0)
    free = env.drawing_maze.grid == 0
    for r, c in zip(*np.nonzero(free)):
        value = audit.per_cell[r, c]
        text = "–" if np.isnan(value) else f"{100 * value:.0f}%"
        colour = "black" if np.isnan(value) or value > 0.6 else "white"
        left.text(c + 0.5, r + 0.78, text, ha="center", va="center", fontsize=8, color=colour, zorder=6)
    names = list(fractions)
    values = [fractions[name] for name in names]
    colours = ["0.65", "tab:orange", "tab:blue", "0.8"]
    bars = right.bar(range(len(names)), values, color=[colours[i % len(colours)] for i in range(len(names))])
    right.set_xticks(range(len(names)), names, fontsize=8)
    for bar, value in zip(bars, values):
        right.annotate(f"{100 * value:.1f}%", (bar.get_x() + bar.get_width() / 2, value),
                       textcoords="offset points", xytext=(0, 3), ha="center", fontsize=9)
    right.set_ylim(0, max(0.1, 1.2 * max(values)))
    right.set_ylabel("share of queries that are off-data")
    right.set_title(f"off-data: the action is < {100 * audit.threshold:g}% of the cell's data", fontsize=10)
    right.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def margin_over_common_actions(env, counts: np.ndarray, observations: np.ndarray, actions,
                               q_all: np.ndarray, threshold: float = RARE_SHARE) -> np.ndarray:
    """Per query, Q̄(s', a') minus the best Q̄(s', a) over the actions that make up at least
    `threshold` of the data in the cell of s' (NaN where the cell has no such action).
    Positive: the critic rates a' above everything the data commonly does there."""
    actions = _discrete(actions)
    cells = cells_of(env, observations)
    common = action_shares(counts)[cells[:, 0], cells[:, 1]] >= threshold  # [N, A]
    best_common = np.where(common, q_all, -np.inf).max(axis=-1)
    best_common[~common.any(axis=-1)] = np.nan
    return q_all[np.arange(len(actions)), actions] - best_common
