"""Offline data: the transition container, loaders and dataset generators."""
from iql_lib.data.loaders import dataset_ant, dataset_frame, env_for_dataset, load_dataset
from iql_lib.data.transitions import DatasetError, Transitions, from_arrays

__all__ = ["DatasetError", "Transitions", "dataset_ant", "dataset_frame", "env_for_dataset", "from_arrays",
           "load_dataset"]
