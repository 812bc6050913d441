"""The offline training loop: minibatches from a fixed dataset, periodic evaluation.

One run = one seed. The dataset lives on the training device as a single packed
tensor, so a minibatch is one random index draw and one gather. Losses stay on the
device until a log point, where they are read back once, checked for NaN and written.
Every evaluation writes a CSV row and a checkpoint; `resume=True` continues from it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from iql_lib.algos import load_blanks, make_agent
from iql_lib.config import TrainConfig
from iql_lib.data import DatasetError, Transitions, load_dataset
from iql_lib.envs import env_spec, make_env
from iql_lib.evaluate import evaluate_pointmass
from iql_lib.logs import METRIC, RunLogger
from iql_lib.plots import plot_trajectories


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class ReplayTensor:
    """The dataset packed column-wise into one `[N, D]` tensor on the device."""

    data: torch.Tensor
    slices: dict[str, slice]
    discrete: bool

    @classmethod
    def from_transitions(cls, t: Transitions, device) -> "ReplayTensor":
        discrete = t.actions.ndim == 1
        columns = {
            "obs": t.observations,
            "actions": t.actions.reshape(len(t), -1).astype(np.float32),
            "rewards": t.rewards[:, None],
            "next_obs": t.next_observations,
            "terminals": t.terminals[:, None],
        }
        slices, start = {}, 0
        for key, value in columns.items():
            slices[key] = slice(start, start + value.shape[1])
            start += value.shape[1]
        packed = torch.as_tensor(np.concatenate(list(columns.values()), axis=1), device=device)
        return cls(packed, slices, discrete)

    def sample(self, batch_size: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        idx = torch.randint(len(self.data), (batch_size,), device=self.data.device, generator=generator)
        rows = self.data[idx]
        batch = {key: rows[:, s] for key, s in self.slices.items()}
        for key in ("rewards", "terminals"):
            batch[key] = batch[key].squeeze(-1)
        batch["actions"] = batch["actions"].squeeze(-1).long() if self.discrete else batch["actions"]
        return batch


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def load_training_data(cfg: TrainConfig, env) -> Transitions:
    """The run's dataset (the env's default unless given), filtered when asked."""
    path = cfg.offline_dataset or env_spec(cfg.env_name).default_dataset
    if path is None:
        raise DatasetError(f"{cfg.env_name} has no default dataset; pass --offline-dataset")
    data = load_dataset(path, env)
    if cfg.filter_top_percent is not None:
        data = data.filter_top_percent(cfg.filter_top_percent)
    return data


def train(cfg: TrainConfig, seed: int, *, blanks=None, progress: bool = True,
          on_log: Callable[[int, dict], None] | None = None) -> Path:
    """Train one seed; returns its run directory."""
    device = resolve_device(cfg.device)
    env = make_env(cfg.env_name)
    data = load_training_data(cfg, env)
    replay = ReplayTensor.from_transitions(data, device)
    discrete = replay.discrete
    ac_dim = env.action_space.n if discrete else int(np.prod(env.action_space.shape))
    if cfg.algo == "iql" and blanks is None:
        blanks = load_blanks(cfg.blanks)

    torch.manual_seed(seed)
    agent = make_agent(cfg.algo, data.ob_dim, ac_dim, discrete, cfg, blanks).to(device)
    generator = torch.Generator(device=device).manual_seed(seed)

    run_name = cfg.run_name(seed)
    logger = RunLogger(Path(cfg.out) / run_name, run_name)
    checkpoint = logger.load_checkpoint(map_location="cpu") if cfg.resume else None
    start_step = 0
    if checkpoint is not None:
        agent.load_checkpoint_state(checkpoint["agent"])
        generator.set_state(checkpoint["generator"])
        torch.set_rng_state(checkpoint["torch_rng"])
        if device.type == "cuda":
            torch.cuda.set_rng_state(checkpoint["cuda_rng"], device)
        start_step = checkpoint["step"]
    logger.start({**cfg.to_dict(), "seed": seed, "run_name": run_name},
                 resume_step=start_step if checkpoint is not None else None)

    greedy = cfg.eval_mode == "greedy"

    def evaluate_and_save(step: int) -> dict:
        agent.eval()
        result = evaluate_pointmass(lambda obs: agent.act(obs, greedy), env, cfg.eval_episodes,
                                    seed=seed * 1_000_003 + step, device=device)
        agent.train()
        metrics = result.metrics()
        logger.log(step, metrics)
        logger.log_eval(step, metrics[METRIC])
        logger.save_checkpoint({"step": step, "agent": agent.checkpoint_state(),
                                "generator": generator.get_state(),
                                "torch_rng": torch.get_rng_state(),
                                "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None})
        plot_trajectories(env.maze, result.trajectories, logger.dir / "eval_last_traj.png",
                          title=f"{run_name}, step {step}: return {metrics[METRIC]:.1f}")
        return metrics

    bar = tqdm(total=cfg.num_timesteps, initial=start_step, desc=run_name, disable=not progress,
               dynamic_ncols=True, leave=False)
    last_eval = evaluate_and_save(0) if start_step == 0 else {}
    pending: list[dict[str, torch.Tensor]] = []
    for step in range(start_step + 1, cfg.num_timesteps + 1):
        pending.append(agent.update(replay.sample(cfg.batch_size, generator)))
        is_eval = step % cfg.eval_freq == 0 or step == cfg.num_timesteps
        if step % cfg.log_freq == 0 or is_eval:
            losses = _mean_losses(pending, step)
            pending.clear()
            logger.log(step, losses)
            if on_log is not None:
                on_log(step, {**losses, **last_eval})
            bar.update(step - bar.n)
        if is_eval:
            last_eval = evaluate_and_save(step)
            bar.set_postfix(eval_return=f"{last_eval[METRIC]:.1f}")
    bar.close()
    return logger.dir


def _mean_losses(pending: list[dict[str, torch.Tensor]], step: int) -> dict[str, float]:
    """Average the step outputs since the last log point (one device read) and stop on NaN."""
    keys = list(pending[0])
    means = torch.stack([torch.stack([out[k] for out in pending]) for k in keys]).float().mean(dim=1)
    values = dict(zip(keys, means.tolist()))
    for key, value in values.items():
        if not math.isfinite(value):
            raise TrainingDiverged(f"{key} became {value} by step {step}; training stopped and "
                                   f"the checkpoint of the last evaluation is kept")
    return values


def load_agent(run_dir: str | Path, device: str = "cpu"):
    """Rebuild a run's agent from its `config.json` and latest checkpoint."""
    import json

    run_dir = Path(run_dir)
    saved = json.loads((run_dir / "config.json").read_text())
    seed = saved.pop("seed")
    saved.pop("run_name")
    cfg = TrainConfig(**saved)
    env = make_env(cfg.env_name)
    discrete = hasattr(env.action_space, "n")
    ac_dim = env.action_space.n if discrete else int(np.prod(env.action_space.shape))
    blanks = load_blanks(cfg.blanks) if cfg.algo == "iql" else None
    agent = make_agent(cfg.algo, int(np.prod(env.observation_space.shape)), ac_dim, discrete,
                       cfg, blanks).to(device)
    checkpoint = RunLogger(run_dir, run_dir.name).load_checkpoint(map_location=device)
    if checkpoint is None:
        raise FileNotFoundError(f"{run_dir}: no checkpoint.pt to load")
    agent.load_checkpoint_state(checkpoint["agent"])
    return agent.eval(), cfg, seed, env
