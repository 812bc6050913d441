"""Dataset loaders: a path (or, later, a hub id) in, a checked `Transitions` out."""
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


LOADERS = {".npz": load_npz}


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
