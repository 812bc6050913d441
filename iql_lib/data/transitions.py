"""The transition container every loader produces and every algorithm consumes.

`Transitions` holds flat arrays of (s, a, r, s', terminal, timeout). A `terminal` (goal
reached) stops bootstrapping, a `timeout` (time limit) does not. An episode is a stretch
of rows that follow each other (each row starts from the previous row's s'): it ends at a
timeout or where the data jump. A terminal inside a stretch that goes on does not end it:
D4RL's relabelled AntMaze data mark every step near the goal terminal while the ant
lingers there, and those 1000-step walks are the trajectories filtered BC ranks.
`validate` turns every malformed input into one `DatasetError` that says which array is
wrong and how.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import gymnasium as gym
import numpy as np

REQUIRED_KEYS = ("observations", "actions", "rewards", "next_observations", "terminals")


class DatasetError(ValueError):
    """A dataset that cannot be trained on, with a message saying why."""


@dataclass
class Transitions:
    observations: np.ndarray       # [N, ob_dim] float32
    actions: np.ndarray            # [N] int64 (discrete) or [N, ac_dim] float32
    rewards: np.ndarray            # [N] float32
    next_observations: np.ndarray  # [N, ob_dim] float32
    terminals: np.ndarray          # [N] float32, 1 where the episode ended at a terminal state
    timeouts: np.ndarray           # [N] float32, 1 where the episode was cut by a time limit

    def __len__(self) -> int:
        return len(self.rewards)

    @property
    def ob_dim(self) -> int:
        return self.observations.shape[1]

    def episode_bounds(self) -> list[tuple[int, int]]:
        """`(start, stop)` index pairs, one per episode; a trailing partial episode counts."""
        jumps = np.any(self.next_observations[:-1] != self.observations[1:], axis=1)
        ends = np.flatnonzero((self.timeouts[:-1] > 0) | jumps) + 1
        if len(ends) == 0 or ends[-1] != len(self):
            ends = np.append(ends, len(self))
        starts = np.concatenate([[0], ends[:-1]])
        return list(zip(starts.tolist(), ends.tolist()))

    def observation_stats(self, min_std: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of every observation dimension (std at least `min_std`)."""
        return self.observations.mean(axis=0), np.maximum(self.observations.std(axis=0), min_std)

    def episode_returns(self) -> np.ndarray:
        return np.array([self.rewards[a:b].sum() for a, b in self.episode_bounds()], dtype=np.float64)

    def select_episodes(self, keep: np.ndarray) -> "Transitions":
        bounds = self.episode_bounds()
        idx = np.concatenate([np.arange(*bounds[i]) for i in np.flatnonzero(keep)])
        return Transitions(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    def filter_top_percent(self, percent: float) -> "Transitions":
        """The best `percent` % of episodes by return (at least one episode)."""
        if not 0 < percent <= 100:
            raise DatasetError(f"top-percent filter needs a value in (0, 100], got {percent}")
        returns = self.episode_returns()
        n_keep = max(1, int(round(len(returns) * percent / 100)))
        order = np.argsort(-returns, kind="stable")
        keep = np.zeros(len(returns), dtype=bool)
        keep[order[:n_keep]] = True
        return self.select_episodes(keep)

    def save_npz(self, path: str | Path, **extra: np.ndarray) -> None:
        """Write the container (plus any `extra` arrays) to a compressed npz file."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        arrays = {f.name: getattr(self, f.name) for f in fields(self)}
        with open(path, "wb") as fh:  # a file handle keeps numpy from appending ".npz"
            np.savez_compressed(fh, **arrays, **extra)


def from_arrays(arrays: dict, source: str = "dataset") -> Transitions:
    """Build and check a container from a dict of arrays (npz contents, HDF5 groups, ...)."""
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    if missing:
        raise DatasetError(f"{source}: missing key(s) {missing}; a dataset needs {list(REQUIRED_KEYS)} "
                           f"(and optionally 'timeouts')")
    columns = {k: np.asarray(arrays[k]) for k in REQUIRED_KEYS if k in arrays or k != "timeouts"}
    scalars = [k for k, v in columns.items() if v.ndim == 0]
    if scalars:
        raise DatasetError(f"{source}: {scalars} hold a single value; every array needs one row "
                           f"per transition")
    n = len(columns["rewards"])
    columns["timeouts"] = np.asarray(arrays["timeouts"]) if "timeouts" in arrays else np.zeros(n)
    if columns["timeouts"].ndim == 0:
        raise DatasetError(f"{source}: 'timeouts' holds a single value; it needs one row per transition")
    lengths = {k: len(v) for k, v in columns.items()}
    if len(set(lengths.values())) != 1:
        raise DatasetError(f"{source}: arrays have different lengths {lengths}; every array needs "
                           f"one row per transition")
    if n == 0:
        raise DatasetError(f"{source}: the dataset is empty")
    for key, value in columns.items():
        if not np.issubdtype(value.dtype, np.number) and value.dtype != np.bool_:
            raise DatasetError(f"{source}: '{key}' has non-numeric dtype {value.dtype}")
        if np.issubdtype(value.dtype, np.floating) and not np.all(np.isfinite(value)):
            bad = np.flatnonzero(~np.isfinite(value.reshape(n, -1)).all(axis=1))
            raise DatasetError(f"{source}: '{key}' contains NaN or inf at {len(bad)} row(s), "
                               f"first at row {bad[0]}")
    for key in ("observations", "next_observations"):
        if columns[key].ndim != 2:
            raise DatasetError(f"{source}: '{key}' must be 2-D [N, ob_dim], got shape {columns[key].shape}")
    if columns["observations"].shape != columns["next_observations"].shape:
        raise DatasetError(f"{source}: observations {columns['observations'].shape} and "
                           f"next_observations {columns['next_observations'].shape} differ in shape")
    actions = columns["actions"]
    if np.issubdtype(actions.dtype, np.integer):
        actions = actions.reshape(n).astype(np.int64)
    else:
        actions = actions.reshape(n, -1).astype(np.float32)
    return Transitions(
        observations=columns["observations"].astype(np.float32),
        actions=actions,
        rewards=columns["rewards"].reshape(n).astype(np.float32),
        next_observations=columns["next_observations"].astype(np.float32),
        terminals=columns["terminals"].reshape(n).astype(np.float32),
        timeouts=columns["timeouts"].reshape(n).astype(np.float32),
    )


def check_matches_env(data: Transitions, env: gym.Env, source: str = "dataset") -> None:
    """Raise `DatasetError` unless observations and actions fit the env's spaces."""
    ob_dim = int(np.prod(env.observation_space.shape))
    if data.ob_dim != ob_dim:
        raise DatasetError(f"{source}: observations have {data.ob_dim} dims but the env expects "
                           f"{ob_dim}; is this dataset for another env?")
    space = env.action_space
    if isinstance(space, gym.spaces.Discrete):
        if data.actions.ndim != 1:
            raise DatasetError(f"{source}: the env has discrete actions but the dataset's actions "
                               f"have shape {data.actions.shape}")
        bad = (data.actions < 0) | (data.actions >= space.n)
        if bad.any():
            raise DatasetError(f"{source}: {bad.sum()} action(s) outside the env's {space.n} discrete "
                               f"actions, first at row {np.flatnonzero(bad)[0]} "
                               f"(value {data.actions[bad][0]})")
    else:
        ac_dim = int(np.prod(space.shape))
        if data.actions.ndim != 2 or data.actions.shape[1] != ac_dim:
            raise DatasetError(f"{source}: actions have shape {data.actions.shape}, the env expects "
                               f"[N, {ac_dim}]")
        bad = ((data.actions < space.low - 1e-6) | (data.actions > space.high + 1e-6)).any(axis=1)
        if bad.any():
            raise DatasetError(f"{source}: {bad.sum()} action(s) outside the action space "
                               f"[{space.low.min()}, {space.high.max()}], first at row "
                               f"{np.flatnonzero(bad)[0]}")
