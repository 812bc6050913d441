"""Evaluation: roll the policy out for many episodes at once and summarise the returns.

PointMass episodes advance together through `PointMassDynamics` (one numpy operation
per step for all episodes). Simulator envs (AntMaze) step a pool of envs in lockstep.
Either way the policy acts on all live episodes in one forward pass.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from iql_lib.envs.pointmass import PointMassEnv


@dataclass
class EvalResult:
    returns: np.ndarray              # [n_episodes]
    lengths: np.ndarray              # [n_episodes]
    successes: np.ndarray            # [n_episodes] bool
    trajectories: list[np.ndarray]   # positions per episode, [T + 1, 2] ([T·substeps + 1, 2] with substeps)
    final_observations: np.ndarray | None = None  # [n_episodes, ob_dim]: where each ended (simulator envs)
    first_where: np.ndarray | None = None  # [n_episodes, 2]: position at the first step meeting `first_where`
                                           # (NaN: none did)

    def metrics(self) -> dict[str, float]:
        return {
            "Eval_AverageReturn": float(self.returns.mean()),
            "Eval_StdReturn": float(self.returns.std()),
            "Eval_MaxReturn": float(self.returns.max()),
            "Eval_MinReturn": float(self.returns.min()),
            "Eval_SuccessRate": float(self.successes.mean()),
            "Eval_NormalizedScore": float(100.0 * self.successes.mean()),  # D4RL's, for AntMaze
            "Eval_AverageEpLen": float(self.lengths.mean()),
        }


def evaluate_pointmass(act, env: PointMassEnv, n_episodes: int, seed: int,
                       device: str | torch.device = "cpu", substeps: bool = False) -> EvalResult:
    """Run `n_episodes` episodes of `env` in lockstep.

    `act(obs_tensor) -> action_tensor` is the policy (sampling or greedy, the caller's
    choice). `seed` fixes the env noise, so an evaluation can be repeated exactly. With
    `substeps`, the trajectories hold every sub-step of the dynamics (the path the point
    took, for drawing) instead of one position per step.
    """
    (result,) = evaluate_pointmass_seeds(lambda obs: act(obs[0])[None], env, n_episodes, [seed], device, substeps)
    return result


def evaluate_pointmass_seeds(act, env: PointMassEnv, n_episodes: int, seeds: list[int],
                             device: str | torch.device = "cpu", substeps: bool = False) -> list[EvalResult]:
    """`evaluate_pointmass` for several policies at once: policy `k` runs its episodes
    with env noise seeded by `seeds[k]`, exactly as it would alone, and all of them
    advance in one array operation per step.

    `act(obs [K, n, ob_dim]) -> actions [K, n]` acts for every policy.
    """
    dyn = env.dynamics
    rngs = [np.random.default_rng(seed) for seed in seeds]
    k, n = len(seeds), n_episodes
    pos = np.repeat(dyn.start[None], k * n, axis=0)
    alive = np.ones(k * n, dtype=bool)
    returns = np.zeros(k * n)
    lengths = np.zeros(k * n, dtype=np.int64)
    successes = np.zeros(k * n, dtype=bool)
    paths = [pos.copy()]
    for _ in range(env.max_episode_steps):
        obs = torch.as_tensor(dyn.observe(pos).reshape(k, n, -1), device=device)
        actions = act(obs).cpu().numpy().reshape(k * n)
        noise = np.concatenate([rng.normal(0.0, dyn.noise, size=(n, 2)) for rng in rngs])
        through = np.where(alive[None, :, None], dyn.move_through(pos, actions, noise), pos)
        pos = through[-1]
        reached = alive & dyn.at_goal(pos)
        returns -= alive & ~reached
        lengths += alive
        successes |= reached
        alive &= ~reached
        paths.extend(through if substeps else [pos])
        if not alive.any():
            break
    stacked = np.stack(paths, axis=1)  # [k * n, T·per_step + 1, 2]
    per_step = dyn.substeps if substeps else 1
    trajectories = [stacked[i, : lengths[i] * per_step + 1] for i in range(k * n)]
    return [EvalResult(returns[block], lengths[block], successes[block], trajectories[block])
            for block in (slice(j * n, (j + 1) * n) for j in range(k))]


def shortest_path_reference(env: PointMassEnv, n_episodes: int = 200, seed: int = 0) -> EvalResult:
    """The shortest-path policy on the real (noisy) env: the optimal-return reference."""
    from iql_lib.envs.pointmass import shortest_path_actions

    def act(obs):
        positions = env.positions_from_observations(obs.numpy())
        return torch.as_tensor(shortest_path_actions(env.maze, positions))

    return evaluate_pointmass(act, env, n_episodes, seed)


def evaluate_envs(act, envs: list, n_episodes: int, seed: int, device: str | torch.device = "cpu",
                  options: dict | None = None, first_where=None) -> EvalResult:
    """Run `n_episodes` episodes on a pool of gymnasium envs stepped in lockstep.

    Episode `i` resets with seed `seed + i` (and the reset `options`, e.g. an AntMaze
    start cell) whatever the pool size, so a pool of one (sequential evaluation) and a
    pool of many give the same episodes for a deterministic policy. With `first_where(obs)
    -> bool` (e.g. "the ant is on its back"), each episode's position at the first step
    that meets it is kept too.
    """
    returns, lengths, successes, trajectories, finals = [], [], [], [], []
    marked = np.full((n_episodes, 2), np.nan)
    for first in range(0, n_episodes, len(envs)):
        pool = envs[: min(len(envs), n_episodes - first)]
        obs = np.stack([env.reset(seed=seed + first + i, options=options)[0] for i, env in enumerate(pool)])
        alive = np.ones(len(pool), dtype=bool)
        ret, length, success = np.zeros(len(pool)), np.zeros(len(pool), dtype=np.int64), np.zeros(len(pool), bool)
        paths = [[env.positions_from_observations(o)] for env, o in zip(pool, obs)]
        while alive.any():
            live = np.flatnonzero(alive)
            actions = act(torch.as_tensor(obs[live], dtype=torch.float32, device=device)).cpu().numpy()
            for i, action in zip(live, actions):
                obs[i], reward, terminated, truncated, info = pool[i].step(action)
                ret[i] += reward
                length[i] += 1
                success[i] |= bool(info.get("is_success", terminated))
                paths[i].append(pool[i].positions_from_observations(obs[i]))
                alive[i] = not (terminated or truncated)
                if first_where is not None and np.isnan(marked[first + i, 0]) and first_where(obs[i]):
                    marked[first + i] = paths[i][-1]
        returns += list(ret)
        lengths += list(length)
        successes += list(success)
        trajectories += [np.array(p) for p in paths]
        finals += list(obs)
    return EvalResult(np.array(returns), np.array(lengths), np.array(successes), trajectories, np.array(finals),
                      None if first_where is None else marked)
