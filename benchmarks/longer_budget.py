"""IQL past the course's budget: do AntMaze reference runs keep improving after 300k steps?

The IQL paper's AntMaze numbers are at 1M steps, the course trains 300k. A finished
reference run carries on with the same command, a larger budget and `--resume` (its
checkpoint holds the networks, Adam's state and the RNG streams, so the continuation is the
run a longer budget would have been):

    cp -r runs/reference/iql_zeta_0.9_antmaze-umaze-v0_seed1 runs/longer/
    iql-train --algo iql --iql-expectile 0.9 --env-name antmaze-umaze-v0 --seed 1 \\
        --num-timesteps 1000000 --out runs/longer --resume

Stopped or finished, the runs are then summarised and kept:

    python benchmarks/longer_budget.py runs/longer/*

which prints the success rate averaged over each 100k-step stretch of evaluations, draws
every run's success curve against its task's target, and copies the runs' config, CSV and
evaluation rows into `benchmarks/results/antmaze_reference/longer_budget/`.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.antmaze_reference import REFERENCE, collect  # noqa: E402
from iql_lib.config import ENV_FAMILY_DEFAULTS  # noqa: E402
from iql_lib.analysis.plots import draw_learning_curves, save_figure  # noqa: E402
from iql_lib.analysis.results import read_evaluations  # noqa: E402

COURSE = ENV_FAMILY_DEFAULTS["antmaze"]  # the course's AntMaze budget and evaluation
STRETCH = 100_000
# the success targets for IQL ζ 0.9 (the paper: 87.5 and 70.0 at 1M steps)
TARGETS = {"antmaze-umaze-v0": 0.70, "antmaze-medium-diverse-v0": 0.40}


def success_curve(run_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """`(steps, success rates)` of a run's evaluations."""
    rows = read_evaluations(run_dir)
    return np.array([m["step"] for m in rows]), np.array([m["Eval_SuccessRate"] for m in rows])


def stretches(steps: np.ndarray, success: np.ndarray) -> dict[int, float]:
    """Mean success over the evaluations in (k − 100k, k], keyed by k, for complete stretches."""
    ends = range(STRETCH, int(steps.max()) + 1, STRETCH)
    return {k: float(success[(steps > k - STRETCH) & (steps <= k)].mean()) for k in ends}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="run folders carried on past 300k")
    p.add_argument("--out", type=Path, default=REFERENCE / "longer_budget",
                   help="where the runs and the figure are kept (default: %(default)s)")
    args = p.parse_args()
    panels: dict[str, dict] = {}
    for run_dir in args.runs:
        config = json.loads((run_dir / "config.json").read_text())
        steps, success = success_curve(run_dir)
        by_stretch = stretches(steps, success)
        print(f"{run_dir.name} (last evaluation at {steps[-1] // 1000}k): success over each 100k, "
              + ", ".join(f"to {k // 1000}k {100 * v:.0f} %" for k, v in by_stretch.items()))
        panels.setdefault(config["env_name"], {})[f"seed {config['seed']}"] = (steps, 100 * success[None])
        collect(run_dir, args.out)
    fig = Figure(figsize=(6.5 * len(panels), 4))
    for ax, (env_name, curves) in zip(np.atleast_1d(fig.subplots(1, len(panels))), panels.items()):
        draw_learning_curves(ax, curves, title=f"IQL ζ 0.9 on {env_name} past the course's {COURSE['num_timesteps'] // 1000}k",
                             reference_lines={f"target {100 * TARGETS[env_name]:.0f} %": 100 * TARGETS[env_name]},
                             ylabel=f"success rate, % of {COURSE['eval_episodes']} greedy episodes")
        ax.axvline(COURSE["num_timesteps"], ls=":", color="0.4")
    figure = save_figure(fig, args.out / "success_curves.png")
    print(f"kept in {args.out}; curves: {figure}")


if __name__ == "__main__":
    main()
