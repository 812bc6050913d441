"""Environment registry: every env id the library trains on, with its default dataset.

`make_env(name)` builds an env; the ids are also registered with gymnasium, so
`gymnasium.make("PointmassMedium-v0")` works once `iql_lib.envs` is imported. Every env
offers `positions_from_observations`, `drawing_maze` and `to_cells`, so one plotting
path draws PointMass and AntMaze trajectories alike.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym

from iql_lib.envs.antmaze import TASKS as ANTMAZE_TASKS
from iql_lib.envs.antmaze import AntMazeEnv
from iql_lib.envs.mazes import MAZES
from iql_lib.envs.pointmass import PointMassEnv

DATASETS_DIR = Path(__file__).resolve().parents[2] / "datasets"


@dataclass(frozen=True)
class EnvSpec:
    name: str
    maze: str                  # PointMass maze key, or the AntMaze task's layout
    max_episode_steps: int
    default_dataset: str | None = None
    family: str = "pointmass"  # pointmass | antmaze


ENV_SPECS: dict[str, EnvSpec] = {
    spec.name: spec for spec in [
        EnvSpec("PointmassEasy-v0", "easy", 100),
        EnvSpec("PointmassMedium-v0", "medium", 150,
                default_dataset=str(DATASETS_DIR / "pointmass_stitching_dataset.npz")),
        EnvSpec("PointmassHard-v0", "hard", 200),
        EnvSpec("PointmassVeryHard-v0", "very_hard", 200),
        *[EnvSpec(task.name, task.layout, task.max_episode_steps, family="antmaze")
          for task in ANTMAZE_TASKS.values()],
    ]
}


def env_spec(name: str) -> EnvSpec:
    if name not in ENV_SPECS:
        raise ValueError(f"unknown env {name!r}; registered envs: {', '.join(sorted(ENV_SPECS))}")
    return ENV_SPECS[name]


def make_env(name: str, frame: str = "gymnasium", ant: str = "gymnasium") -> PointMassEnv | AntMazeEnv:
    """Build env `name`; AntMaze tasks are built in the `frame` and with the `ant` (step
    duration and torque) of their data."""
    spec = env_spec(name)
    if spec.family == "antmaze":
        return AntMazeEnv(name, frame=frame, ant=ant)
    return PointMassEnv(MAZES[spec.maze], max_episode_steps=spec.max_episode_steps)


for _spec in ENV_SPECS.values():
    if _spec.name not in gym.registry:
        gym.register(_spec.name, entry_point=make_env, kwargs={"name": _spec.name},
                     disable_env_checker=True)
