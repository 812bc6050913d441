"""A trial: one configuration's seeds trained together to the end, the unit of parallel work.

`iql sweep` (and `iql demo`, a sweep of the course's stitching set) runs trials as Ray
tasks: it hands a worker a `Trial` and calls `train_trial` there. A trial always trains with `resume=True`: run again
after a kill (a lost worker, an interrupted sweep), each seed continues from its last
checkpoint and its CSV keeps every row exactly once; a finished trial is skipped by callers
(`Trial.finished`).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable

from iql_lib.config import TrainConfig, make_config
from iql_lib.training.run_folder import RunLogger, reached_step
from iql_lib.analysis.results import run_dirs


@dataclass(frozen=True)
class Trial:
    name: str       # the experiment name: run directories are <name>_<env>_seed<k>
    config: dict    # make_config's arguments, env_name included

    @cached_property
    def cfg(self) -> TrainConfig:
        return make_config(**{**self.config, "exp_name": self.name, "resume": True})

    @property
    def run_dirs(self) -> list[Path]:
        return run_dirs(self.cfg)

    @property
    def finished(self) -> bool:
        """Every seed logged its evaluation at this trial's last step."""
        return all(reached_step(d, self.cfg.num_timesteps) for d in self.run_dirs)

    def clear(self) -> None:
        """Delete what earlier runs of this trial wrote (to retrain from scratch)."""
        for f in [f for d in self.run_dirs if d.exists() for f in d.iterdir() if f.is_file()]:
            f.unlink()


def checkpoint_step(run_dir: Path) -> int:
    """The step a seed's run resumes from: its last checkpoint's, 0 before the first."""
    checkpoint = RunLogger(run_dir, run_dir.name).load_checkpoint() if (run_dir / "checkpoint.pt").exists() else None
    return checkpoint["step"] if checkpoint else 0


def train_trial(trial: Trial, threads: int = 1, on_log: Callable[[int, dict], None] | None = None) -> dict:
    """Worker side: train `trial` to its last step with `threads` torch threads. Returns the
    trial's name and the step each seed started from (0: fresh; more: resumed from a checkpoint)."""
    import torch

    from iql_lib.training.train import train

    torch.set_num_threads(threads)
    started = {seed: checkpoint_step(d) for seed, d in zip(trial.cfg.seeds, trial.run_dirs)}
    train(trial.cfg, progress=False, on_log=on_log)
    return {"trial": trial.name, "started_at": started}
