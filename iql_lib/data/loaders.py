"""Dataset loaders: a path in, a checked `Transitions` out, plus the frame it lives in.

Formats: our npz container; Minari datasets (`minari:D4RL/antmaze/umaze-v1`) from the
local Minari store, downloaded only when asked; and legacy D4RL AntMaze HDF5 files
(observations, actions, rewards, terminals, timeouts, infos/goal, infos/qpos, infos/qvel).
D4RL data is in D4RL's frame, Minari data in gymnasium-robotics' (`dataset_frame`); a D4RL
step is 0.1 s of a weaker ant, a Minari step 0.05 s (`dataset_ant`). An AntMaze task
trained on either is built in the frame and with the ant of its data.
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


MINARI_PREFIX = "minari:"


def load_minari(dataset_id: str, download: bool = False) -> Transitions:
    """A Minari dataset as IQL trains on it: goal-env observations flattened to
    `[achieved_goal (x, y), observation]` (D4RL's 29-dim layout), rewards `r − 1`."""
    import minari

    try:
        dataset = minari.load_dataset(dataset_id, download=download)
    except FileNotFoundError as err:
        raise DatasetError(f"Minari dataset {dataset_id!r} is not in the local store "
                           f"({minari.storage.get_dataset_path()}); add --download to fetch it "
                           f"(needs the network), or run `minari download {dataset_id}`") from err
    columns = {k: [] for k in ("observations", "actions", "rewards", "next_observations", "terminals",
                               "timeouts")}
    for episode in dataset.iterate_episodes():
        obs = episode.observations
        if isinstance(obs, dict):
            obs = np.concatenate([obs["achieved_goal"], obs["observation"]], axis=-1)
        columns["observations"].append(obs[:-1])
        columns["next_observations"].append(obs[1:])
        columns["actions"].append(episode.actions)
        columns["rewards"].append(np.asarray(episode.rewards, dtype=np.float32) - 1.0)
        columns["terminals"].append(episode.terminations)
        columns["timeouts"].append(episode.truncations)
    if not columns["observations"]:
        raise DatasetError(f"Minari dataset {dataset_id!r} has no episodes")
    return from_arrays({k: np.concatenate(v) for k, v in columns.items()}, source=f"minari:{dataset_id}")


LOADERS = {".npz": load_npz, ".hdf5": load_d4rl_hdf5, ".h5": load_d4rl_hdf5}


def npz_entries(path: str | Path, *keys: str) -> dict:
    """Small entries of an npz file (e.g. its `frame` or `task`), read in one opening;
    a key is None when the file is not an npz archive, cannot be read, or lacks it
    (loading the file reports why)."""
    found = dict.fromkeys(keys)
    if str(path).startswith(MINARI_PREFIX) or Path(path).suffix.lower() != ".npz":
        return found
    try:
        with np.load(path, allow_pickle=False) as npz:
            found.update({key: npz[key][()] for key in keys if key in npz.files})
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, TypeError, AttributeError):
        pass
    return found


def dataset_frame(path: str | Path) -> str:
    """The coordinate frame of a dataset's positions: `d4rl` for D4RL files, `gymnasium`
    for Minari; an npz file says so itself (a `frame` entry), else `gymnasium`."""
    if Path(str(path)).suffix.lower() in (".hdf5", ".h5"):
        return "d4rl"
    frame = npz_entries(path, "frame")["frame"]
    return "gymnasium" if frame is None else str(frame)


def dataset_ant(path: str | Path) -> str:
    """The ant whose steps a dataset records (`iql_lib.envs.antmaze.ANTS`): `d4rl` (0.1 s
    steps, D4RL's torque) for D4RL files, `gymnasium` (0.05 s) for Minari; an npz file
    says so itself (an `ant` entry), else `gymnasium` (files made before ants were recorded)."""
    if Path(str(path)).suffix.lower() in (".hdf5", ".h5"):
        return "d4rl"
    ant = npz_entries(path, "ant")["ant"]
    return "gymnasium" if ant is None else str(ant)


def env_for_dataset(env_name: str, path: str | Path):
    """Env `env_name` built in the frame and with the ant (step duration, torque) of the data at `path`."""
    from iql_lib.envs import make_env

    return make_env(env_name, frame=dataset_frame(path), ant=dataset_ant(path))


def convert(source: str | Path, out: str | Path, download: bool = False) -> Transitions:
    """Write any supported dataset as our npz container, recording its frame and ant."""
    data = load_dataset(source, download=download)
    data.save_npz(out, frame=np.array(dataset_frame(source)), ant=np.array(dataset_ant(source)))
    return data


def load_dataset(path: str | Path, env=None, download: bool = False) -> Transitions:
    """Load a dataset by file type (or `minari:<id>`) and, when `env` is given, check it
    fits the env. Only `download=True` may touch the network (Minari)."""
    if str(path).startswith(MINARI_PREFIX):
        data = load_minari(str(path)[len(MINARI_PREFIX):], download=download)
    else:
        suffix = Path(path).suffix.lower()
        if suffix not in LOADERS:
            raise DatasetError(f"{path}: unsupported dataset format {suffix!r}; supported: "
                               f"{', '.join(LOADERS)} files and {MINARI_PREFIX}<dataset id>")
        data = LOADERS[suffix](path)
    if env is not None:
        check_matches_env(data, env, source=str(path))
    return data
