"""Episodes to film: the states an episode went through, what it earned, and what to say
about each of its frames (the step, the return so far, success or a fall).

Two sources: a policy played greedily on its task (`play`), and the collector of a
generated AntMaze dataset (`collector_episode`), whose episode `i` of seed `s` is the
dataset's own episode `i` (the generator draws each episode from the seed and its index).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from iql_lib.envs.antmaze import AntMazeEnv, flipped


@dataclass
class Episode:
    title: str                 # what is filmed: the run or the dataset, and which episode
    observations: np.ndarray   # [T + 1, ob_dim]: the first state, then the state after each step
    rewards: np.ndarray        # [T]
    successes: np.ndarray      # [T] bool: the step ended at the goal
    goal: np.ndarray | None    # x-y of the goal in the task's frame (PointMass: its maze's own)
    fell: np.ndarray           # [T + 1] bool: the ant is on its back in that state

    def __len__(self) -> int:
        return len(self.rewards)

    def events(self, t: int) -> list[tuple[int, str]]:
        """What has happened by frame `t` (after `t` steps), in order: `(step, "success")` for
        the first step that reached the goal, `(step, "fell")` for the first state on the
        ant's back (a collector's ant may do both: it walks on after its goal)."""
        happened = []
        if self.successes[:t].any():
            happened.append((int(np.argmax(self.successes)) + 1, "success"))
        if self.fell[: t + 1].any():
            happened.append((int(np.argmax(self.fell)), "fell"))
        return sorted(happened)

    def status(self, t: int) -> str:
        """The latest event by frame `t` (success or fell), else running."""
        happened = self.events(t)
        return happened[-1][1] if happened else "running"

    def caption(self, t: int) -> str:
        """The step, the return so far and the events so far."""
        return "   ".join([f"step {t}/{len(self)}", f"return {self.rewards[:t].sum():.0f}",
                           *(f"{event} at step {step}" for step, event in self.events(t))])


def falls(env, observations: np.ndarray) -> np.ndarray:
    """Per state, whether the ant is on its back (never on PointMass)."""
    if isinstance(env, AntMazeEnv):
        return np.array([flipped(o) for o in observations])
    return np.zeros(len(observations), dtype=bool)


def play(env, act: Callable[[np.ndarray], np.ndarray], seed: int, title: str, max_steps: int | None = None) -> Episode:
    """One episode of `act` (an observation in, an action out) from `env.reset(seed=seed)`,
    as an evaluation with that seed plays it, cut after `max_steps` steps when given."""
    obs, info = env.reset(seed=seed)
    observations, rewards, successes = [obs], [], []
    done = False
    while not done and len(rewards) != max_steps:
        obs, reward, terminated, truncated, info = env.step(act(obs))
        observations.append(obs)
        rewards.append(reward)
        successes.append(bool(info.get("is_success", terminated)))
        done = terminated or truncated
    goal = np.asarray(info["goal"]) if "goal" in info else None
    return Episode(title, np.array(observations), np.array(rewards), np.array(successes), goal,
                   falls(env, observations))


def collector_episode(maker, seed: int, index: int, max_steps: int | None = None) -> Episode:
    """Episode `index` of the `maker`'s (`iql_lib.datagen.antmaze.EpisodeMaker`) dataset made
    with `seed`, with the rewards it is relabelled with: against the task's goal."""
    from iql_lib.datagen.antmaze import EPISODE_STEPS, relabel

    env = maker.env
    columns, _ = maker.episode(seed, index, max_steps=max_steps or EPISODE_STEPS)
    goal = env.cell_to_sim(env.goal_cell)  # the data's frame is the simulator's (gymnasium's)
    rewards, terminals = relabel(columns["next_positions"], goal)
    observations = np.concatenate([columns["observations"], columns["next_observations"][-1:]]).astype(np.float64)
    return Episode(f"{env.task.name}, {maker.style} data, seed {seed}: episode {index}", observations, rewards,
                   terminals.astype(bool), goal, falls(env, observations))
