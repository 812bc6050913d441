"""Offline data: the transition container, loaders and dataset generators."""
from iql_lib.data.loaders import load_dataset
from iql_lib.data.transitions import DatasetError, Transitions, from_arrays

__all__ = ["DatasetError", "Transitions", "from_arrays", "load_dataset"]
