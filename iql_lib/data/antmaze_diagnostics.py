"""What an AntMaze dataset offers a learner about the evaluation goal.

Offline RL on AntMaze learns the goal's value from the transitions rewarded at the
evaluation goal (reward 0 instead of −1, within 0.5 of it) and spreads it back along the
data's trajectories. How many such transitions there are, in how many episodes, and how
long the ant lingers at the goals it was sent to decide how much signal the advantages
get; `iql-data info` prints these numbers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from iql_lib.data.transitions import Transitions

NEAR_GOAL = 1.0  # m: "at a commanded goal" for the lingering share


def physical_episodes(data: Transitions) -> list[tuple[int, int]]:
    """`(start, stop)` of each stretch of one continuous trajectory: cut at time limits
    and wherever a row does not start where the previous one ended (a reset). Terminals
    do not cut: relabelled D4RL data carry on walking after reaching the goal."""
    jumps = np.any(data.observations[1:] != data.next_observations[:-1], axis=1)
    ends = np.flatnonzero((data.timeouts[:-1] > 0) | jumps) + 1
    bounds = np.concatenate([[0], ends, [len(data)]])
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))


@dataclass
class GoalDiagnostics:
    transitions: int
    rewarded: int                 # transitions rewarded at the evaluation goal
    episodes: int                 # continuous trajectories
    episodes_reaching_goal: int   # ... with at least one rewarded transition
    mean_speed: float             # m/s over the x-y plane
    near_commanded_goal: float | None  # share of steps ending within NEAR_GOAL of their commanded goal

    def lines(self) -> list[str]:
        share = lambda hit, total: f"{hit}/{total} ({100.0 * hit / max(total, 1):.2f} %)"  # noqa: E731
        lines = [f"rewarded transitions (at the evaluation goal): {share(self.rewarded, self.transitions)}",
                 f"episodes reaching the evaluation goal: {share(self.episodes_reaching_goal, self.episodes)}",
                 f"mean speed {self.mean_speed:.2f} m/s"]
        if self.near_commanded_goal is not None:
            lines.append(f"time within {NEAR_GOAL:g} m of the commanded goal: {100.0 * self.near_commanded_goal:.1f} %")
        return lines


def diagnose(data: Transitions, dt: float, goals: np.ndarray | None = None) -> GoalDiagnostics:
    """The numbers above for AntMaze `data` (reward 0 at the goal, −1 elsewhere) whose
    step lasts `dt` seconds; `goals [N, 2]` are the commanded goals of generated data."""
    rewarded = data.rewards > -1.0
    episodes = physical_episodes(data)
    steps = np.linalg.norm(data.next_observations[:, :2] - data.observations[:, :2], axis=1)
    near = None
    if goals is not None:
        near = float(np.mean(np.linalg.norm(data.next_observations[:, :2] - goals, axis=1) <= NEAR_GOAL))
    return GoalDiagnostics(
        transitions=len(data), rewarded=int(rewarded.sum()), episodes=len(episodes),
        episodes_reaching_goal=sum(bool(rewarded[a:b].any()) for a, b in episodes),
        mean_speed=float(steps.mean() / dt), near_commanded_goal=near)
