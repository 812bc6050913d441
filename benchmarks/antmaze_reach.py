"""How far from the goal do trained AntMaze runs succeed? Their final greedy policies started
in every free cell of the maze (`iql_lib.analysis.reach`).

A run that fails from the task's start may still succeed nearer the goal; how far its
success reaches, in metres and in env steps at its data's speed, is how much of the path
the run has learned at its budget. For finished runs with their checkpoints:

    python benchmarks/antmaze_reach.py runs/reference/iql_zeta_0.9_antmaze-medium-diverse-v0_seed*

prints per run the success from each distance, its reach and how many failed episodes
ended with the ant on its back (and how close to a wall), and keeps a figure per run
(success per start cell over the maze with the falls marked, success against distance) and
the numbers (`reach.json`) in `benchmarks/results/antmaze_reference/reach/`.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.antmaze_reference import REFERENCE  # noqa: E402
from iql_lib.analysis.reach import plot_reach, run_reach  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="AntMaze run folders with a checkpoint")
    p.add_argument("--episodes", type=int, default=10, help="greedy episodes per start cell (default %(default)s)")
    p.add_argument("--out", type=Path, default=REFERENCE / "reach",
                   help="where the figures and reach.json are kept (default: %(default)s)")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    kept = args.out / "reach.json"
    table = json.loads(kept.read_text()) if kept.exists() else {}
    for run_dir in args.runs:
        reach = run_reach(run_dir, episodes=args.episodes)
        distances, success = reach.by_distance()
        print(f"{run_dir.name}: " + "; ".join(reach.lines()))
        flips = reach.by_distance(reach.flipped)[1]
        print("  success (ended on its back) by distance: "
              + ", ".join(f"{d:g} m {100 * s:.0f} % ({100 * f:.0f} %)" for d, s, f in zip(distances, success, flips)))
        plot_reach(reach, args.out / f"{run_dir.name}.png",
                   title=f"{run_dir.name}\nsuccess of the final greedy policy per start cell")
        table[run_dir.name] = {"episodes_per_cell": reach.episodes, "data_speed_m_per_s": round(reach.speed, 4),
                               "reach_m": reach.reach(), "start_m": reach.start_metres,
                               "data_wall_distance_median_m": round(reach.data_wall_metres, 3),
                               "cells": [{"cell": list(c), "metres": float(m), "success": float(s),
                                          "flipped": float(f)}
                                         for c, m, s, f in zip(reach.cells, reach.metres, reach.success,
                                                               reach.flipped)],
                               "falls": [{"cell_coordinates": [round(float(v), 3) for v in xy],
                                          "wall_distance_m": round(float(d), 3)}
                                         for xy, d in zip(reach.fall_positions, reach.fall_wall_metres())]}
    kept.write_text(json.dumps(table, indent=1) + "\n")
    print(f"kept in {args.out}")


if __name__ == "__main__":
    main()
