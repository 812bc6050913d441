"""Batched AntMaze evaluation speed: env steps per second and a 100-episode umaze run.

    python benchmarks/antmaze_eval.py   # writes benchmarks/results/antmaze_eval_cpu.json

The policy is an untrained 2×256 tanh-Gaussian mean (the course's network size), so
episodes run to the 700-step limit: the worst case for evaluation time.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from iql_lib.envs import make_env  # noqa: E402
from iql_lib.training.evaluate import evaluate_envs  # noqa: E402
from iql_lib.algos.nets import GaussianPolicy  # noqa: E402


def main(task: str = "antmaze-umaze-v0", episodes: int = 100) -> None:
    torch.manual_seed(0)
    policy = GaussianPolicy(29, 8, 256, 2)
    act = lambda obs: policy.mode(policy(obs))  # noqa: E731
    results = {"task": task, "episodes": episodes}
    for pool_size in (1, 25):
        start = time.perf_counter()
        pool = [make_env(task) for _ in range(pool_size)]
        build = time.perf_counter() - start
        with torch.no_grad():
            n = episodes if pool_size > 1 else 4
            start = time.perf_counter()
            result = evaluate_envs(act, pool, n, seed=0)
            elapsed = time.perf_counter() - start
        steps = int(result.lengths.sum())
        results[f"pool_{pool_size}"] = {"episodes": n, "env_steps": steps, "seconds": elapsed,
                                        "env_steps_per_s": steps / elapsed, "build_envs_s": build}
        print(json.dumps(results[f"pool_{pool_size}"]), flush=True)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "antmaze_eval_cpu.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
