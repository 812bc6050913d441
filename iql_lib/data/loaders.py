"""Dataset loaders: a path in, a checked `Transitions` out, plus the frame it lives in.

Formats: our npz container, and legacy D4RL AntMaze HDF5 files (observations, actions,
rewards, terminals, timeouts, infos/goal, infos/qpos, infos/qvel). D4RL data is in D4RL's
frame (`dataset_frame`), so AntMaze tasks trained on it are built in that frame.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from iql_lib.data.transitions import DatasetError, Transitions, check_matches_env, from_arrays


def load_npz(path: str | Path) -> Transitions:
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"dataset file not found: {path}")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise DatasetError(f"{path}: holds a single array, not an npz archive of named arrays")
        with loaded as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        if isinstance(err, DatasetError):
            raise
        raise DatasetError(f"{path}: not a readable npz file ({err})") from err
    return from_arrays(arrays, source=str(path))


D4RL_KEYS = ("observations", "actions", "rewards", "terminals", "timeouts")


def load_d4rl_hdf5(path: str | Path) -> Transitions:
    """A D4RL AntMaze file as IQL trains on it.

    Like D4RL's `qlearning_dataset`, s' is the next row's observation, and a row cut by
    a time limit (`timeouts`) has no s' and is dropped; the row before it then ends the
    episode. Rewards follow the IQL paper's AntMaze convention, `r − 1` (−1 per step,
    0 at the goal); `terminals` stop bootstrapping.
    """
    import h5py

    path = Path(path)
    if not path.exists():
        raise DatasetError(f"dataset file not found: {path}")
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in D4RL_KEYS if k not in f]
            if missing:
                raise DatasetError(f"{path}: missing key(s) {missing}; a D4RL file has {list(D4RL_KEYS)}")
            arrays = {k: f[k][()] for k in D4RL_KEYS}
    except OSError as err:
        raise DatasetError(f"{path}: not a readable HDF5 file ({err})") from err
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise DatasetError(f"{path}: arrays have different lengths {lengths}")
    n = lengths["observations"]
    timeouts = arrays["timeouts"].astype(bool)
    keep = ~timeouts
    keep[-1] = False  # the last row has no next row
    rows = np.flatnonzero(keep)
    episode_end = np.zeros(n, dtype=bool)
    episode_end[:-1] = timeouts[1:]  # the row before a dropped time-limit row
    episode_end[-2:-1] = True
    return from_arrays({
        "observations": arrays["observations"][rows],
        "actions": arrays["actions"][rows],
        "rewards": arrays["rewards"][rows].astype(np.float32) - 1.0,
        "next_observations": arrays["observations"][rows + 1],
        "terminals": arrays["terminals"][rows],
        "timeouts": episode_end[rows] & ~arrays["terminals"][rows].astype(bool),
    }, source=str(path))


LOADERS = {".npz": load_npz, ".hdf5": load_d4rl_hdf5, ".h5": load_d4rl_hdf5}


def dataset_frame(path: str | Path) -> str:
    """The coordinate frame of a dataset's positions: `d4rl` for D4RL files, else `gymnasium`."""
    return "d4rl" if Path(path).suffix.lower() in (".hdf5", ".h5") else "gymnasium"


def load_dataset(path: str | Path, env=None) -> Transitions:
    """Load a dataset by file type and, when `env` is given, check it fits the env."""
    suffix = Path(path).suffix.lower()
    if suffix not in LOADERS:
        raise DatasetError(f"{path}: unsupported dataset format {suffix!r}; "
                           f"supported: {', '.join(LOADERS)}")
    data = LOADERS[suffix](path)
    if env is not None:
        check_matches_env(data, env, source=str(path))
    return data
