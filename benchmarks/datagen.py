"""The local AntMaze generator: time to generate, how well the gait follows the planner, and
what the data offers about the evaluation goal.

    python benchmarks/datagen.py                       # 1M transitions per task, d4rl style
    python benchmarks/datagen.py --style minari --transitions 100000  # quicker, the other style
Writes benchmarks/results/datagen_<style>_cpu.json: per task, transitions per second and
the minutes 1M takes, waypoints and commanded goals reached, falls, mean speed, rewarded
transitions, episodes reaching the evaluation goal, the share of time near the commanded
goal; the same figures again without action noise ("normal walking").
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from iql_lib.data.antmaze_diagnostics import diagnose
from iql_lib.datagen import antmaze as datagen
from iql_lib.envs.antmaze import ANTS

HERE = Path(__file__).resolve().parent
TASKS = ("antmaze-umaze-v0", "antmaze-medium-diverse-v0")


def measure(task: str, transitions: int, seed: int, style: str, action_noise: float = datagen.ACTION_NOISE) -> dict:
    start = time.perf_counter()
    data, extra = datagen.generate(task, transitions, seed=seed, style=style, action_noise=action_noise)
    seconds = time.perf_counter() - start
    stats = {k[len("stats_"):]: int(v) for k, v in extra.items() if k.startswith("stats_")}
    waypoints = stats["waypoints_reached"] + stats["waypoints_missed"]
    return dict(transitions=transitions, seconds=round(seconds, 1),
                transitions_per_s=round(transitions / seconds), minutes_per_million=round(1e6 / transitions * seconds / 60, 2),
                waypoint_reach_rate=round(stats["waypoints_reached"] / max(waypoints, 1), 4),
                goal_reach_rate=round(stats["goals_reached"] / max(stats["goals_commanded"], 1), 4),
                **stats, **{k: round(v, 4) if isinstance(v, float) else v for k, v in vars(
                    diagnose(data, ANTS[datagen.STYLES[style].ant].dt, extra["goals"])).items()})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--transitions", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--style", choices=list(datagen.STYLES), default="d4rl")
    args = p.parse_args()
    results = {task: measure(task, args.transitions, args.seed, args.style) for task in TASKS}
    quick = min(args.transitions, 100_000)
    results["without_action_noise"] = {task: measure(task, quick, args.seed, args.style, 0.0) for task in TASKS}
    print(json.dumps(results, indent=2))
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / f"datagen_{args.style}_cpu.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
