"""The walker: D4RL's ant taught by SAC to walk along a commanded direction.

D4RL, Minari and OGBench fill their AntMaze data with a neural policy trained by RL and
steered by a waypoint planner, so the data's actions are a Markov function of what the
offline learner sees. This module trains such a policy with OGBench's recipe:

- task: D4RL's ant (`ANTS["d4rl"]`) on an open floor; the walker sees the ant's 27-dim
  body state (the AntMaze observation without x-y) and a unit direction z in the world
  frame, redrawn every `command_every` steps; its reward is the step's velocity along z
  (m/s); an unhealthy ant (tipped over, or its torso out of Ant's healthy height) ends
  the episode;
- learner: SAC (`iql_lib.algos.sac`) on the project's engine, one gradient step per
  environment step, 256×256 networks (`WalkerConfig`).

Training is deterministic given its seed and resumes from its checkpoint (the simulator's
state, the replay buffer and every RNG included). The trained policy ships as
`walker_d4rl.pt` (`iql-data walker train`, then `iql-data walker ship`); `Walker` runs it
in numpy, and `walking_test` measures it the way the gait was measured: 24 rollouts of
30 s, the command swung by 45°–135° every 5 s, N(0, 0.2) action noise.
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from iql_lib.algos.sac import SAC
from iql_lib.config import WalkerConfig
from iql_lib.training.engine import Engine, ReplayTensor
from iql_lib.envs.antmaze import ANTS, flipped, healthy, make_ant_maze

WALKER_FILE = Path(__file__).with_name("walker_d4rl.pt")
BODY_DIM, ACTION_DIM = 27, 8
INPUT_DIM = BODY_DIM + 2
RECENTRE_RADIUS = 20.0  # metres: the floor is flat, so a far-off ant is moved back to the origin
CURVE_FIELDS = ["step", "episodes", "speed", "flips", "unhealthy", "alpha", "critic_loss"]


def walker_input(observation: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """What the walker sees: the 29-dim flat ant state without x-y, then the unit direction."""
    return np.concatenate([observation[2:], direction])


def unit(angle: float) -> np.ndarray:
    return np.array([np.cos(angle), np.sin(angle)])


class OpenFloor:
    """An ant on a floor without walls, stepped straight through MuJoCo; observations are
    the flat AntMaze layout `[x, y, z, quaternion, joints, velocities]`."""

    def __init__(self, ant: str = "d4rl"):
        import mujoco

        sim = make_ant_maze([[0, 0, 0], [0, "r", 0], [0, 0, 0]])
        sim.reset(seed=0)
        self.mujoco, self.model, self.data = mujoco, sim.ant_env.model, sim.ant_env.data
        self.ant = ANTS[ant]
        self.ant.configure(self.model)

    def reset(self, rng: np.random.Generator) -> np.ndarray:
        self.mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[:] = self.model.qpos0 + rng.uniform(-0.1, 0.1, self.model.nq)
        self.data.qpos[:2] = 0.0
        self.data.qvel[:] = 0.1 * rng.standard_normal(self.model.nv)
        self.mujoco.mj_forward(self.model, self.data)
        return self.observe()

    def observe(self) -> np.ndarray:
        return np.concatenate([self.data.qpos, self.data.qvel])

    def step(self, action: np.ndarray) -> np.ndarray:
        self.data.ctrl[:] = action
        self.mujoco.mj_step(self.model, self.data, nstep=self.ant.frame_skip)
        return self.observe()

    def recentre(self) -> None:
        """Move a far-off ant back to the origin (nothing it sees changes)."""
        if np.linalg.norm(self.data.qpos[:2]) > RECENTRE_RADIUS:
            self.data.qpos[:2] = 0.0
            self.mujoco.mj_forward(self.model, self.data)

    def get_state(self) -> dict:
        d = self.data
        return {k: np.array(getattr(d, k)) for k in ("qpos", "qvel", "qacc_warmstart", "time")}

    def set_state(self, state: dict) -> None:
        for key, value in state.items():
            if key == "time":
                self.data.time = float(value)
            else:
                getattr(self.data, key)[:] = value
        self.mujoco.mj_forward(self.model, self.data)


class DirectionTask:
    """OGBench's direction task on the open floor (see the module docstring)."""

    def __init__(self, episode_steps: int, command_every: int, ant: str = "d4rl"):
        self.floor, self.episode_steps, self.command_every = OpenFloor(ant), episode_steps, command_every
        self.dt = self.floor.ant.dt

    def reset(self, rng: np.random.Generator) -> None:
        self.obs, self.t = self.floor.reset(rng), 0
        self.direction = unit(rng.uniform(-np.pi, np.pi))

    def observe(self) -> np.ndarray:
        return walker_input(self.obs, self.direction)

    def step(self, action: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float, bool, bool]:
        """One step: (the next input under the direction just walked, reward, terminated,
        truncated). A fresh direction, when due, shows in the next `observe()`."""
        before = self.obs[:2].copy()
        self.obs = self.floor.step(np.clip(action, -1.0, 1.0))
        self.t += 1
        reward = float(np.dot(self.obs[:2] - before, self.direction)) / self.dt
        next_input = self.observe()
        if self.t % self.command_every == 0:
            self.direction = unit(rng.uniform(-np.pi, np.pi))
        self.floor.recentre()
        self.obs = self.floor.observe()
        return next_input, reward, not healthy(self.obs), self.t >= self.episode_steps

    def get_state(self) -> dict:
        return {"floor": self.floor.get_state(), "t": self.t, "direction": self.direction.copy()}

    def set_state(self, state: dict) -> None:
        self.floor.set_state(state["floor"])
        self.obs, self.t, self.direction = self.floor.observe(), state["t"], np.array(state["direction"])


class Walker:
    """The walker's policy in numpy: its mean action (`tanh μ`) for an ant state and a
    direction. Loads the shipped weights by default."""

    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray]]):
        self.layers = layers

    @classmethod
    def from_policy(cls, algo: SAC, theta: torch.Tensor) -> "Walker":
        params = algo.policy.unflatten(theta.detach().cpu())
        names = sorted({n.rsplit(".", 1)[0] for n in params}, key=lambda n: int(n.split(".")[-1]))
        return cls([(params[f"{n}.weight"].numpy().astype(np.float64), params[f"{n}.bias"].numpy().astype(np.float64))
                    for n in names])

    @classmethod
    def load(cls, path: str | Path = WALKER_FILE) -> "Walker":
        saved = torch.load(path, weights_only=True)
        cfg = WalkerConfig(**{k: v for k, v in saved["config"].items() if k in WalkerConfig.__dataclass_fields__})
        return cls.from_policy(SAC(INPUT_DIM, ACTION_DIM, cfg), saved["policy"])

    def __call__(self, observation: np.ndarray, direction: np.ndarray) -> np.ndarray:
        x = walker_input(observation, direction)
        for i, (w, b) in enumerate(self.layers):
            x = w @ x + b
            if i < len(self.layers) - 1:
                x = np.maximum(x, 0.0)
        return np.tanh(x[:ACTION_DIM])


@dataclass
class WalkStats:
    speed: float     # m/s along the commanded direction, mean over rollouts
    flips: int       # rollouts in which the ant tipped past horizontal
    unhealthy: int   # rollouts that left Ant's healthy range at some step (flips included)
    rollouts: int


def walking_test(act: Callable[[np.ndarray, np.ndarray], np.ndarray], rollouts: int = 24, seconds: float = 30.0,
                 swing_seconds: float = 5.0, noise: float = 0.2, seed: int = 0, floor: OpenFloor | None = None
                 ) -> WalkStats:
    """`act(observation, direction)` on the open floor: each rollout starts at a random
    heading, swings the command by 45°–135° either way every `swing_seconds`, and adds
    N(0, noise²) to every action, as the data's collection does."""
    floor = floor or OpenFloor("d4rl")
    rng = np.random.default_rng(seed)
    steps, swing = round(seconds / floor.ant.dt), round(swing_seconds / floor.ant.dt)
    distance, flips, unhealthy = 0.0, 0, 0
    for _ in range(rollouts):
        obs, heading = floor.reset(rng), rng.uniform(-np.pi, np.pi)
        fell = left_range = False
        for t in range(steps):
            if t > 0 and t % swing == 0:
                heading += rng.choice([-1.0, 1.0]) * rng.uniform(np.pi / 4, 3 * np.pi / 4)
            before = obs[:2].copy()
            action = act(obs, unit(heading)) + noise * rng.standard_normal(ACTION_DIM)
            obs = floor.step(np.clip(action, -1.0, 1.0))
            distance += float(np.dot(obs[:2] - before, unit(heading)))
            fell, left_range = fell or flipped(obs), left_range or not healthy(obs)
        flips += fell
        unhealthy += left_range
    return WalkStats(distance / (rollouts * steps * floor.ant.dt), flips, unhealthy, rollouts)


class WalkerTraining:
    """One SAC run on the direction task, in `out/`: `curve.csv` (a walking test every
    `eval_freq` steps), `checkpoint.pt` (everything needed to continue bit for bit) and,
    at the end, `walker.pt` (the policy, loadable by `Walker.load`) and `curve.png`."""

    def __init__(self, cfg: WalkerConfig, out: str | Path, device: str = "cpu"):
        self.cfg, self.out = cfg, Path(out)
        self.task = DirectionTask(cfg.episode_steps, cfg.command_every)
        self.test_floor = OpenFloor()  # the walking test's own ant, reset every rollout
        self.algo = SAC(INPUT_DIM, ACTION_DIM, cfg)
        self.engine = Engine(self.algo, [cfg.seed], torch.device(device), compile=cfg.compile)
        self.replay = ReplayTensor.empty(cfg.total_steps, INPUT_DIM, ACTION_DIM, device)
        self.rng = np.random.default_rng(cfg.seed)
        self.step, self.episodes, self.metrics = 0, 0, {}
        self.task.reset(self.rng)

    @property
    def checkpoint(self) -> Path:
        return self.out / "checkpoint.pt"

    def save(self) -> None:
        state = {"config": self.cfg.to_dict(), "step": self.step, "episodes": self.episodes,
                 "engine": self.engine.seed_state(0), "replay": self.replay.data[:self.replay.filled].clone(),
                 "rng": self.rng.bit_generator.state, "task": self.task.get_state()}
        tmp = self.checkpoint.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.checkpoint)  # a run killed while saving keeps its last checkpoint

    def restore(self) -> None:
        state = torch.load(self.checkpoint, weights_only=False)
        if state["config"] != self.cfg.to_dict():
            raise ValueError(f"{self.checkpoint} was written with another configuration; use --fresh to start over")
        self.step, self.episodes = state["step"], state["episodes"]
        self.engine.load_seed_state(0, state["engine"])
        self.replay.data[:len(state["replay"])] = state["replay"]
        self.replay.filled = len(state["replay"])
        self.rng.bit_generator.state = state["rng"]
        self.task.set_state(state["task"])

    def walker(self) -> Walker:
        return Walker.from_policy(self.algo, self.engine.state["policy"][0])

    def run(self, resume: bool = True, progress: bool = True) -> Path:
        from tqdm.auto import tqdm

        cfg = self.cfg
        self.out.mkdir(parents=True, exist_ok=True)
        curve = self.out / "curve.csv"
        if resume and self.checkpoint.exists():
            self.restore()
            kept = [row for row in csv.DictReader(curve.open()) if int(row["step"]) <= self.step] \
                if curve.exists() else []
        else:
            kept = []
        with curve.open("w", newline="") as f:  # rows past the checkpoint are made again
            csv.DictWriter(f, CURVE_FIELDS).writerows([dict(zip(CURVE_FIELDS, CURVE_FIELDS))] + kept)
        bar = tqdm(total=cfg.total_steps, initial=self.step, desc="training the walker (SAC)", unit="step",
                   disable=not progress, smoothing=0.05)
        generator = self.engine.generators[0]
        while self.step < cfg.total_steps:
            obs = self.task.observe()
            if self.step < cfg.learning_starts:
                action = self.rng.uniform(-1.0, 1.0, ACTION_DIM)
            else:
                action = self.engine.act(0, torch.as_tensor(obs[None], dtype=torch.float32), False,
                                         generator)[0].numpy().astype(np.float64)
            next_obs, reward, terminated, truncated = self.task.step(action, self.rng)
            self.replay.append(obs, action, reward, next_obs, terminated)
            if terminated or truncated:
                self.episodes += 1
                self.task.reset(self.rng)
            if self.replay.filled >= cfg.learning_starts:
                self.metrics = self.engine.update(self.replay, cfg.batch_size)
            self.step += 1
            bar.update()
            if self.step % cfg.eval_freq == 0 or self.step == cfg.total_steps:
                self._log(curve, bar)
            if self.step % cfg.checkpoint_freq == 0 or self.step == cfg.total_steps:
                self.save()
        bar.close()
        torch.save({"config": cfg.to_dict(), "step": self.step,
                    "policy": self.engine.state["policy"][0].detach().cpu().clone()}, self.out / "walker.pt")
        plot_curve(curve, self.out / "curve.png")
        return self.out / "walker.pt"

    def _log(self, curve: Path, bar) -> None:
        stats = walking_test(self.walker(), rollouts=self.cfg.eval_rollouts, seed=self.step, floor=self.test_floor)
        row = {"step": self.step, "episodes": self.episodes, "speed": round(stats.speed, 4), "flips": stats.flips,
               "unhealthy": stats.unhealthy,
               "alpha": round(float(self.metrics["Alpha"][0]), 5) if self.metrics else "",
               "critic_loss": round(float(self.metrics["Critic_Q_Loss"][0]), 5) if self.metrics else ""}
        with curve.open("a", newline="") as f:
            csv.DictWriter(f, CURVE_FIELDS).writerow(row)
        bar.set_postfix(speed=f"{stats.speed:.2f} m/s", flips=f"{stats.flips}/{stats.rollouts}")


def plot_curve(curve: Path, out: Path) -> None:
    """Speed along the command, and flips, against training steps."""
    from matplotlib.figure import Figure

    rows = list(csv.DictReader(curve.open()))
    if not rows:
        return
    steps = [int(r["step"]) / 1000 for r in rows]
    fig = Figure(figsize=(6, 3.2))
    ax = fig.subplots()
    ax.plot(steps, [float(r["speed"]) for r in rows], marker="o", label="speed along the command")
    ax.set(xlabel="environment steps (thousands)", ylabel="m/s", title="walker training (SAC, D4RL's ant)")
    twin = ax.twinx()
    twin.bar(steps, [int(r["flips"]) for r in rows], width=max(steps) / 60, color="tab:red", alpha=0.4,
             label="flips in the test")
    twin.set_ylabel("flips")
    twin.yaxis.get_major_locator().set_params(integer=True)
    fig.legend(loc="upper left", bbox_to_anchor=(0.12, 0.88), fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


def ship(weights: str | Path, to: str | Path = WALKER_FILE) -> Path:
    """Copy the policy of a trained `walker.pt`, or of a training's `checkpoint.pt` (the walker
    at that step: what `--steps <step>` trains), into the package with its config and step."""
    saved = torch.load(weights, weights_only=False)
    if "engine" in saved:
        saved = {"config": saved["config"], "step": saved["step"], "policy": saved["engine"]["params"]["policy"]}
    torch.save({"config": saved["config"], "step": saved["step"], "policy": saved["policy"].to(torch.float32)}, to)
    return Path(to)
