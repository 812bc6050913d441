"""Tune the ant gait with CMA-ES: `python -m iql_lib.datagen.tune_gait [--ant d4rl]` rewrites
the shipped gait for that ant (ant_gait.json for gymnasium's, 0.05 s steps; ant_gait_d4rl.json
for D4RL's 0.1 s steps and torque; see `iql_lib.envs.antmaze`).

Objective: mean speed along the commanded world heading, on an open floor, with the
data's action noise, over 15 s rollouts that start at headings spread over one symmetry
sector (0°–67.5°) and swing the command by 45°–135° either way every 5 s, as the maze's
corners and new goals do. A fall (torso tipped past horizontal, or a hop above Ant's
healthy height) ends the rollout with a penalty. Deterministic given `--seed`.
"""
from __future__ import annotations

import argparse
import time
from multiprocessing import Pool

import numpy as np

from iql_lib.datagen.antmaze import ACTION_NOISE
from iql_lib.datagen.gait import GAIT_FILES, Gait
from iql_lib.datagen.walker import OpenFloor
from iql_lib.envs.antmaze import healthy

HEADINGS = np.deg2rad([0.0, 22.5, 45.0, 67.5])
ROLLOUT_SECONDS, SWING_SECONDS = 15.0, 5.0
FALL_PENALTY = 3.0  # m/s over the whole rollout


_FLOORS: dict[str, OpenFloor] = {}


def speed_along_commands(vector: np.ndarray, seed: int = 0, ant: str = "gymnasium") -> float:
    """Mean speed (m/s) along the commanded heading, over the objective's rollouts."""
    if ant not in _FLOORS:
        _FLOORS[ant] = OpenFloor(ant)
    floor = _FLOORS[ant]
    gait, rng = Gait.from_vector(vector, ant), np.random.default_rng(seed)
    steps, swing_every = round(ROLLOUT_SECONDS / gait.dt), round(SWING_SECONDS / gait.dt)
    if not (0.5 <= gait.frequency <= 5.0 and gait.kp > 0 and gait.kd >= 0):
        return -FALL_PENALTY
    total = 0.0
    for command in HEADINGS:
        obs = floor.reset(rng)
        for t in range(steps):
            if t > 0 and t % swing_every == 0:
                command += rng.choice([-1.0, 1.0]) * rng.uniform(np.pi / 4, 3 * np.pi / 4)
            before = obs[:2].copy()
            action = gait.action(obs, t, command) + ACTION_NOISE * rng.standard_normal(8)
            obs = floor.step(np.clip(action, -1.0, 1.0))
            total += np.dot(obs[:2] - before, [np.cos(command), np.sin(command)])
            if not healthy(obs):
                total -= FALL_PENALTY * steps * gait.dt
                break
    return total / (len(HEADINGS) * steps * gait.dt)


def tune(generations: int, seed: int, workers: int = 2, sigma: float = 0.15, ant: str = "gymnasium",
         checkpoint=None) -> Gait:
    """CMA-ES from the initial trot; returns the search distribution's final mean, which
    the noisy objective ranks far more reliably than any single lucky candidate.
    `checkpoint(gait, generation)`, when given, receives the mean every 10 generations."""
    import cma

    es = cma.CMAEvolutionStrategy(Gait.initial(ant).to_vector(), sigma,
                                  {"seed": seed + 1, "popsize": 16, "verbose": -9})
    began = time.time()
    with Pool(workers) as pool:
        for generation in range(generations):
            candidates = es.ask()
            # one set of rollouts (seed) per generation: candidates compete on equal terms
            speeds = pool.starmap(speed_along_commands, [(c, seed + generation, ant) for c in candidates])
            es.tell(candidates, [-s for s in speeds])
            if checkpoint is not None and generation % 10 == 9:
                checkpoint(Gait.from_vector(es.mean, ant), generation + 1)
            if generation % 10 == 0 or generation == generations - 1:
                print(f"generation {generation:4d}  candidates: best {max(speeds):.3f} m/s, "
                      f"median {np.median(speeds):.3f} m/s  ({time.time() - began:.0f} s)", flush=True)
    return Gait.from_vector(es.mean, ant)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m iql_lib.datagen.tune_gait", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--generations", type=int, default=220)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--ant", choices=list(GAIT_FILES), default="gymnasium",
                   help="gymnasium (0.05 s steps, gear 150) or d4rl (0.1 s steps, D4RL's torque)")
    p.add_argument("--out", default=None, help="where to write the gait (default: the shipped file "
                                               "for that ant)")
    args = p.parse_args(argv)
    out = [args.out] if args.out else []
    partial = lambda gait, generation: gait.save(*out, generations_so_far=generation, seed=args.seed)  # noqa: E731
    gait = tune(args.generations, args.seed, args.workers, ant=args.ant, checkpoint=partial)
    checked = float(np.mean([speed_along_commands(gait.to_vector(), 10_000 + i, args.ant)
                             for i in range(4)]))
    notes = dict(speed_along_commands=round(checked, 3), generations=args.generations, seed=args.seed)
    gait.save(*out, **notes)
    print(f"saved gait: {checked:.3f} m/s along the commands on fresh rollouts")


if __name__ == "__main__":
    main()
