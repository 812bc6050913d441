"""stable-baselines3's SAC on the walker's direction task (run inside SB3's own venv, with
this project installed there too). Usage: python benchmarks/sb3_walker.py --steps 10000
Prints one JSON line: wall seconds for `--steps` environment steps, one gradient step
each after `--learning-starts`, with the walker's settings (256×256, batch 256)."""
import argparse
import json
import time

import gymnasium as gym
import numpy as np
import stable_baselines3
import torch
from stable_baselines3 import SAC

from iql_lib.config import WalkerConfig
from iql_lib.datagen.walker import ACTION_DIM, INPUT_DIM, DirectionTask


class DirectionEnv(gym.Env):
    """`DirectionTask` behind gymnasium's API."""

    def __init__(self, cfg: WalkerConfig):
        self.task, self.rng = DirectionTask(cfg.episode_steps, cfg.command_every), np.random.default_rng(cfg.seed)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (INPUT_DIM,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (ACTION_DIM,), np.float32)

    def reset(self, *, seed=None, options=None):
        self.task.reset(self.rng)
        return self.task.observe().astype(np.float32), {}

    def step(self, action):
        _, reward, terminated, truncated = self.task.step(np.asarray(action, dtype=np.float64), self.rng)
        return self.task.observe().astype(np.float32), reward, terminated, truncated, {}


p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=10_000)
p.add_argument("--learning-starts", type=int, default=1_000)
args = p.parse_args()
torch.set_num_threads(1)
cfg = WalkerConfig()
model = SAC("MlpPolicy", DirectionEnv(cfg), learning_rate=cfg.learning_rate, buffer_size=args.steps,
            learning_starts=args.learning_starts, batch_size=cfg.batch_size, tau=cfg.polyak_tau, gamma=cfg.gamma,
            policy_kwargs=dict(net_arch=[cfg.hidden_size] * cfg.n_layers), device="cpu", seed=cfg.seed)
start = time.perf_counter()
model.learn(args.steps)
elapsed = time.perf_counter() - start
print(json.dumps({"impl": "stable-baselines3", "version": stable_baselines3.__version__, "steps": args.steps,
                  "learning_starts": args.learning_starts, "seconds": elapsed, "steps_per_s": args.steps / elapsed}))
