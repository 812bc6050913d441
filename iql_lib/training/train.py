"""The offline training loop: minibatches from a fixed dataset, periodic evaluation.

All seeds of a run train together in one `Engine` (independent parameters, optimiser
states, minibatches and RNG streams per seed), and each seed still writes its own run
directory, CSV and checkpoint, exactly as a single-seed run would. The dataset lives on
the training device; losses stay there until a log point, where they are read back
once, checked for NaN and written. Every evaluation writes a CSV row and a checkpoint;
`resume=True` continues from them.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from iql_lib.algos import Algorithm, make_algorithm
from iql_lib.assignment.blank_sources import load_blanks
from iql_lib.algos.blanks import name_unwritten_blank
from iql_lib.config import TrainConfig
from iql_lib.data import DatasetError, Transitions, env_for_dataset, load_dataset
from iql_lib.training.engine import Engine, ReplayTensor
from iql_lib.envs import env_spec, make_env
from iql_lib.envs.pointmass import PointMassEnv
from iql_lib.errors import UserError
from iql_lib.training.evaluate import EvalResult, evaluate_envs, evaluate_pointmass_seeds
from iql_lib.training.run_folder import METRIC, RunLogger
from iql_lib.analysis.plots import plot_trajectories
from iql_lib.training.tracking import make_trackers

# Compiling costs ~15-30 s on a CPU (less once cached): worth it from this many steps.
COMPILE_MIN_STEPS = 10_000
PLOT_EVERY_S = 30.0
EVAL_POOL = 25  # simulator envs stepped together in an evaluation


class TrainingDiverged(UserError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def dataset_path(cfg: TrainConfig) -> str:
    """The run's dataset: `--offline-dataset`, or the env's default (for AntMaze, the
    locally generated one, built on first use)."""
    spec = env_spec(cfg.env_name)
    path = cfg.offline_dataset or spec.default_dataset
    if path is None and spec.family == "antmaze":
        from iql_lib.datagen.antmaze import ensure_default_dataset

        path = str(ensure_default_dataset(cfg.env_name))
    if path is None:
        raise DatasetError(f"{cfg.env_name} has no default dataset; pass --offline-dataset")
    return path


def load_training_data(cfg: TrainConfig, env) -> Transitions:
    """The run's dataset, checked against `env` and filtered when asked."""
    data = load_dataset(dataset_path(cfg), env, download=cfg.download)
    if cfg.filter_top_percent is not None:
        data = data.filter_top_percent(cfg.filter_top_percent)
    return data


def build_algorithm(cfg: TrainConfig, env, blanks=None) -> Algorithm:
    discrete = hasattr(env.action_space, "n")
    ac_dim = env.action_space.n if discrete else int(np.prod(env.action_space.shape))
    ob_dim = int(np.prod(env.observation_space.shape))
    if cfg.algo == "iql" and blanks is None:
        blanks = load_blanks(cfg.blanks)
    return make_algorithm(cfg.algo, ob_dim, ac_dim, discrete, cfg, blanks)


def train(cfg: TrainConfig, seeds: list[int] | None = None, *, blanks=None, progress: bool = True,
          on_log: Callable[[int, dict], None] | None = None) -> list[Path]:
    """Train `seeds` (default `cfg.seeds`) together; returns their run directories."""
    try:
        return _train(cfg, seeds, blanks, progress, on_log)
    except NotImplementedError as err:  # a blank left unwritten: say which, and where to write it
        named = name_unwritten_blank(err)
        if named is err:
            raise
        raise named from err


# What a resumed run may change: its length, how it is evaluated, logged and where it runs.
# Everything else decides what is learned, so a rerun that changes it must start afresh.
RESUMABLE_CHANGES = {"num_timesteps", "eval_freq", "eval_episodes", "eval_mode", "log_freq", "wandb",
                     "wandb_project", "tensorboard", "device", "compile", "download", "resume", "out", "seeds"}


def check_same_training(cfg: TrainConfig, run_dir: Path) -> None:
    """Refuse to continue the checkpoint in `run_dir` with settings that change what is learned."""
    saved, _ = read_run_config(run_dir)
    changed = {k: (v, getattr(cfg, k)) for k, v in saved.to_dict().items()
               if k not in RESUMABLE_CHANGES and v != getattr(cfg, k)}
    if changed:
        listed = ", ".join(f"{k} {old!r} → {new!r}" for k, (old, new) in changed.items())
        raise UserError(f"{run_dir} was trained with other settings ({listed}); continuing it would mix "
                        f"the two. Rerun with --fresh to retrain it, or give the new settings their own "
                        f"--exp-name or --out.")


@dataclass
class _Run:
    """What every group of seeds in one `train` call shares."""
    cfg: TrainConfig
    algo: Algorithm
    env: object
    replay: ReplayTensor
    device: torch.device
    progress: bool
    on_log: Callable[[int, dict], None] | None


def _train(cfg, seeds, blanks, progress, on_log) -> list[Path]:
    seeds = list(seeds if seeds is not None else cfg.seeds)
    device = resolve_device(cfg.device)
    env = env_for_dataset(cfg.env_name, dataset_path(cfg))
    data = load_training_data(cfg, env)
    replay = ReplayTensor.from_transitions(data, device)
    algo = build_algorithm(cfg, env, blanks)
    if cfg.normalize_observations:
        algo.scale_observations(*(torch.as_tensor(v, device=device) for v in data.observation_stats()))
    loggers = [RunLogger(Path(cfg.out) / cfg.run_name(s), cfg.run_name(s)) for s in seeds]
    checkpoints = [logger.load_checkpoint() if cfg.resume else None for logger in loggers]
    for logger, checkpoint in zip(loggers, checkpoints):
        if checkpoint is not None:
            check_same_training(cfg, logger.dir)

    # Seeds whose checkpoints stopped at different steps resume as separate groups.
    groups: dict[int, list[int]] = {}
    for i, checkpoint in enumerate(checkpoints):
        groups.setdefault(checkpoint["step"] if checkpoint else 0, []).append(i)
    run = _Run(cfg, algo, env, replay, device, progress, on_log)
    for start_step, members in sorted(groups.items()):
        _train_group(run, start_step, [seeds[i] for i in members], [loggers[i] for i in members],
                     [checkpoints[i] for i in members])
    return [logger.dir for logger in loggers]


def _train_group(run: _Run, start_step: int, seeds: list[int], loggers: list[RunLogger], checkpoints) -> None:
    cfg = run.cfg
    steps_left = cfg.num_timesteps - start_step
    compile = cfg.compile == "on" or (cfg.compile == "auto" and steps_left >= COMPILE_MIN_STEPS)
    engine = Engine(run.algo, seeds, run.device, compile=compile)
    for i, (seed, logger, checkpoint) in enumerate(zip(seeds, loggers, checkpoints)):
        if checkpoint is not None:
            engine.load_seed_state(i, checkpoint["engine"])
        config = {**cfg.to_dict(), "seed": seed, "run_name": logger.run_name}
        resume_step = start_step if checkpoint is not None else None
        logger.start(config, resume_step=resume_step)
        logger.trackers = make_trackers(cfg, logger.dir, logger.run_name, config, resume_step)
    ok = False
    try:
        _train_steps(run, start_step, engine, seeds, loggers)
        ok = True
    finally:
        for logger in loggers:
            logger.close(ok)


def _train_steps(run: _Run, start_step: int, engine: Engine, seeds: list[int], loggers: list[RunLogger]) -> None:
    """Train one group from `start_step` to the end: updates, log points, evaluations."""
    cfg, env, replay, on_log = run.cfg, run.env, run.replay, run.on_log

    last_plot = {seed: -math.inf for seed in seeds}
    evaluate = make_evaluator(cfg, env, run.device)

    def evaluate_and_save(step: int) -> dict[str, float]:
        returns = []
        results = evaluate(engine, [seed * 1_000_003 + step for seed in seeds])
        for i, (seed, logger, result) in enumerate(zip(seeds, loggers, results)):
            metrics = result.metrics()
            logger.log(step, metrics)
            logger.log_eval(step, metrics[METRIC])
            logger.save_checkpoint({"step": step, "engine": engine.seed_state(i), "input_scaling": run.algo.observation_scaling})
            if step == cfg.num_timesteps or time.monotonic() - last_plot[seed] > PLOT_EVERY_S:
                plot_trajectories(env, result.trajectories, logger.dir / "eval_last_traj.png",
                                  title=f"{logger.run_name}, step {step}: return {metrics[METRIC]:.1f}")
                last_plot[seed] = time.monotonic()
            returns.append(metrics[METRIC])
        return {METRIC: float(np.mean(returns))}

    name = loggers[0].run_name if len(seeds) == 1 else f"{cfg.exp_name or cfg.algo} seeds {seeds}"
    bar = tqdm(total=cfg.num_timesteps, initial=start_step, desc=name, disable=not run.progress,
               dynamic_ncols=True, leave=False)
    last_eval = evaluate_and_save(0) if start_step == 0 else {}
    pending: list[dict[str, torch.Tensor]] = []
    for step in range(start_step + 1, cfg.num_timesteps + 1):
        pending.append(engine.update(replay, cfg.batch_size))
        is_eval = step % cfg.eval_freq == 0 or step == cfg.num_timesteps
        if step % cfg.log_freq == 0 or is_eval:
            per_seed = _mean_losses(pending, step, seeds)
            pending.clear()
            for logger, losses in zip(loggers, per_seed):
                logger.log(step, losses)
            if on_log is not None:
                on_log(step, {**per_seed[0], **last_eval})
            bar.update(step - bar.n)
        if is_eval:
            last_eval = evaluate_and_save(step)
            bar.set_postfix(eval_return=f"{last_eval[METRIC]:.1f}",
                            compiled="yes" if engine.compiled_step is not None else "no")
    bar.close()


def make_evaluator(cfg: TrainConfig, env, device) -> Callable:
    """`evaluate(engine, eval_seeds) -> [EvalResult]`, one per seed of `engine`, seed `k`
    evaluated with env and policy noise seeded by `eval_seeds[k]`. PointMass runs every
    seed's episodes together in numpy; simulator envs run each seed's episodes on a pool
    stepped in lockstep (built once, reused every evaluation)."""
    greedy = cfg.eval_mode == "greedy"

    def generators(eval_seeds: list[int]) -> list[torch.Generator]:
        return [torch.Generator(device=device).manual_seed(s) for s in eval_seeds]

    if isinstance(env, PointMassEnv):
        def evaluate(engine: Engine, eval_seeds: list[int]) -> list[EvalResult]:
            policy_noise = generators(eval_seeds)
            return evaluate_pointmass_seeds(lambda obs: engine.act_all(obs, greedy, policy_noise), env,
                                            cfg.eval_episodes, eval_seeds, device=device)
        return evaluate

    pool = [env] + [make_env(cfg.env_name, frame=env.frame, ant=env.ant.name)
                    for _ in range(min(cfg.eval_episodes, EVAL_POOL) - 1)]

    def evaluate_seed(engine: Engine, index: int, eval_seed: int, generator: torch.Generator) -> EvalResult:
        return evaluate_envs(lambda obs: engine.act(index, obs, greedy, generator), pool, cfg.eval_episodes,
                             seed=eval_seed, device=device)

    def evaluate(engine: Engine, eval_seeds: list[int]) -> list[EvalResult]:
        return [evaluate_seed(engine, i, s, g) for i, (s, g) in enumerate(zip(eval_seeds, generators(eval_seeds)))]
    return evaluate


def _mean_losses(pending: list[dict[str, torch.Tensor]], step: int, seeds: list[int]) -> list[dict]:
    """Per seed, the step outputs averaged since the last log point (one device read);
    stops the run on NaN or inf."""
    keys = list(pending[0])
    means = torch.stack([torch.stack([out[k] for out in pending]) for k in keys]).float().mean(dim=1)
    rows = means.T.tolist()  # [S][k]
    per_seed = [dict(zip(keys, row)) for row in rows]
    for seed, losses in zip(seeds, per_seed):
        for key, value in losses.items():
            if not math.isfinite(value):
                raise TrainingDiverged(f"{key} became {value} by step {step} (seed {seed}); training "
                                       f"stopped and the checkpoint of the last evaluation is kept")
    return per_seed


def read_run_config(run_dir: str | Path) -> tuple[TrainConfig, int]:
    """A run's `config.json` as `(cfg, seed)`, `cfg.seeds == [seed]`; a ValueError that
    names the file when it is missing, not JSON, or not a config this library wrote."""
    path = Path(run_dir) / "config.json"
    try:
        saved = json.loads(path.read_text())
        seed = saved.pop("seed")
        saved.pop("run_name", None)
        return TrainConfig(**{**saved, "seeds": [seed]}), seed
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"{path}: unreadable config.json ({type(err).__name__}: {err})") from None


def load_policy(run_dir: str | Path, device: str = "cpu", blanks=None):
    """A finished or interrupted run's policy: `(engine, cfg, seed, env)`, where
    `engine.act(0, obs, greedy, generator)` acts with the checkpointed parameters.
    An IQL run's networks are rebuilt with `blanks` when given (a learner's), else with
    the blanks its config names."""
    run_dir = Path(run_dir)
    cfg, seed = read_run_config(run_dir)
    checkpoint = RunLogger(run_dir, run_dir.name).load_checkpoint()
    if checkpoint is None:  # before the env: an AntMaze env may need its default dataset generated
        raise FileNotFoundError(f"{run_dir}: no checkpoint.pt to load")
    env = env_for_dataset(cfg.env_name, dataset_path(cfg))
    algo = build_algorithm(cfg, env, blanks)
    if checkpoint.get("input_scaling") is not None:  # a run that normalised its observations
        algo.scale_observations(*(v.to(device) for v in checkpoint["input_scaling"]))
    engine = Engine(algo, [seed], torch.device(device), compile=False)
    engine.load_seed_state(0, checkpoint["engine"])
    return engine, cfg, seed, env
