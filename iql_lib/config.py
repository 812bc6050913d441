"""Hyperparameters: the one place where defaults live.

Every entry point (CLI, demo, notebooks, tests) builds a `TrainConfig` from here, so a
default changed here changes everywhere (docs/design.md, "Hyperparameters"): PointMass
uses small networks and a short horizon, AntMaze the IQL paper's settings.
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

INSTALLATION_FILE = Path(__file__).with_name("installation.toml")


def installation_default(name: str, fallback):
    """`name`'s default in this installation. A release may ship `installation.toml` beside
    this module to set its own (the student bundle's says `blanks = "notebooks"`: students
    have no solutions/); the repository ships none, so `fallback` holds."""
    if INSTALLATION_FILE.exists():
        return tomllib.loads(INSTALLATION_FILE.read_text()).get(name, fallback)
    return fallback


@dataclass
class TrainConfig:
    """Everything one training run needs to know, saved as the run's `config.json`."""

    algo: str = "iql"                 # iql | awac | bc
    env_name: str = "PointmassMedium-v0"
    offline_dataset: str | None = None  # None: the env's default dataset
    download: bool = False            # may fetch a minari: dataset over the network
    seeds: list[int] = field(default_factory=lambda: [1])
    exp_name: str | None = None       # None: derived from algo and its knobs

    # optimisation
    num_timesteps: int = 50_000       # gradient steps
    batch_size: int = 256
    learning_rate: float = 1e-3
    gamma: float = 0.95
    hidden_size: int = 64
    n_layers: int = 2
    grad_clip: float = 10.0
    polyak_tau: float = 0.005

    # algorithm knobs
    expectile: float = 0.9            # IQL ζ
    temperature: float = 0.1          # λ in exp(A / λ), IQL and AWAC
    max_weight: float = 50.0          # clamp on the advantage weights
    filter_top_percent: float | None = None  # filtered BC: keep the top p % trajectories
    normalize_observations: bool = False  # feed the networks (s − mean) / std of the dataset's states
    actor_lr_schedule: str = "constant"  # constant | cosine (the actor's rate decays to 0 over num_timesteps)

    # evaluation and logging
    eval_freq: int = 2_000
    eval_episodes: int = 20
    eval_mode: str = "sample"         # sample | greedy
    log_freq: int = 500               # losses are read back from the device this often

    # tracking (iql_lib/training/tracking.py): mirrors of metrics.jsonl beside the run
    wandb: bool = False
    wandb_project: str = "iql-from-absolute-zero"
    tensorboard: bool = False

    device: str = "auto"
    compile: str = "auto"             # auto | on | off (auto: on for runs of 10k+ steps)
    blanks: str = installation_default("blanks", "solutions")
    out: str = "runs"
    resume: bool = False

    def run_name(self, seed: int) -> str:
        return f"{self.exp_name or default_exp_name(self)}_{self.env_name}_seed{seed}"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# Per-family defaults. Keys are TrainConfig fields.
ENV_FAMILY_DEFAULTS: dict[str, dict] = {
    "pointmass": dict(learning_rate=1e-3, gamma=0.95, hidden_size=64, eval_mode="sample",
                      num_timesteps=50_000, eval_freq=2_000, eval_episodes=20),
    "antmaze": dict(learning_rate=3e-4, gamma=0.99, hidden_size=256, eval_mode="greedy",
                    num_timesteps=300_000, eval_freq=10_000, eval_episodes=50),
}


def env_family(env_name: str) -> str:
    return "antmaze" if env_name.lower().startswith("antmaze") else "pointmass"


def default_exp_name(cfg: TrainConfig) -> str:
    if cfg.algo == "iql":
        return f"iql_zeta_{cfg.expectile:g}"
    if cfg.algo == "bc" and cfg.filter_top_percent is not None:
        return f"filtered_bc_top{cfg.filter_top_percent:g}"
    if cfg.algo == "awac":
        return f"awac_lambda_{cfg.temperature:g}"
    return cfg.algo


@dataclass
class WalkerConfig:
    """The online SAC that trains the AntMaze data's walker (`iql_lib.datagen.walker`) on
    D4RL's ant: OGBench's recipe (256×256 networks, batch 256, learned entropy weight)."""

    seed: int = 0
    total_steps: int = 400_000        # environment steps, one gradient step each after `learning_starts`
    learning_starts: int = 5_000      # uniform random actions until then
    batch_size: int = 256
    learning_rate: float = 3e-4
    gamma: float = 0.99
    hidden_size: int = 256
    n_layers: int = 2
    grad_clip: float = float("inf")
    polyak_tau: float = 0.005
    episode_steps: int = 1_000
    command_every: int = 100          # steps between fresh random directions
    eval_freq: int = 10_000
    eval_rollouts: int = 8            # of the walking test (24 for acceptance)
    checkpoint_freq: int = 10_000
    compile: bool = False

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def make_config(env_name: str = "PointmassMedium-v0", **overrides) -> TrainConfig:
    """Config for `env_name`: family defaults first, then explicit overrides (None = keep)."""
    values = dict(ENV_FAMILY_DEFAULTS[env_family(env_name)])
    values.update({k: v for k, v in overrides.items() if v is not None})
    unknown = set(values) - {f.name for f in dataclasses.fields(TrainConfig)}
    if unknown:
        raise TypeError(f"unknown config fields: {sorted(unknown)}")
    cfg = TrainConfig(env_name=env_name, **values)
    validate_config(cfg)
    return cfg


def validate_config(cfg: TrainConfig) -> None:
    checks = [
        (cfg.algo in ("iql", "awac", "bc"), f"--algo must be iql, awac or bc, got {cfg.algo!r}"),
        (0.0 < cfg.expectile < 1.0, f"--iql-expectile must lie in (0, 1), got {cfg.expectile}"),
        (cfg.temperature > 0, f"--temperature must be positive, got {cfg.temperature}"),
        (cfg.num_timesteps > 0, "--num-timesteps must be positive"),
        (cfg.eval_freq > 0, "--eval-freq must be positive"),
        (cfg.eval_episodes > 0, "--eval-episodes must be positive"),
        (cfg.eval_mode in ("sample", "greedy"), "--eval-mode must be sample or greedy"),
        (cfg.compile in ("auto", "on", "off"), "--compile must be auto, on or off"),
        (cfg.actor_lr_schedule in ("constant", "cosine"), "--actor-lr-schedule must be constant or cosine"),
        (len(cfg.seeds) == len(set(cfg.seeds)) and cfg.seeds, "--seed needs distinct values"),
        (cfg.filter_top_percent is None or 0 < cfg.filter_top_percent <= 100,
         "--filter-top-percent must lie in (0, 100]"),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(message)
