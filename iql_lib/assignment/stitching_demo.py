"""The course's stitching experiment (P2.3) end to end: `iql demo` (`make demo`).

The demo is `iql sweep --course stitching` on a local Ray: IQL (ζ = 0.9), IQL (ζ = 0.2)
and filtered BC (top 10 %) train on the shipped PointMass stitching dataset, each method
its seeds batched in one trial, rerun to resume. Then a summary compares each method's
final evaluation with the dataset's best and mean trajectory returns, and draws
trajectories and learning curves; `iql report` builds its P2.3 table from the same
functions (`stitching_summary`, `stitching_table`, `final_policies`).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from iql_lib.assignment.course_sets import STITCHING_ENV as ENV_NAME
from iql_lib.analysis.results import read_curves
from iql_lib.analysis.results import summarise as summarise_seeds
from iql_lib.analysis.tables import MeanStd, Table
from iql_lib.parallel.trial import Trial

FINAL_POLICY_EPISODES = 100  # episodes per seed when the final policies are re-evaluated


def run_stitching(shared: dict, runs: Path, out: Path, *, num_cpus: int | None = None, fresh: bool = False) -> int:
    """Train the course's stitching set into `runs` with the settings `shared` (TrainConfig
    fields: seeds, num_timesteps, ...), unless finished, then write and print the summary in
    `out`. Returns the exit code: 0, or 1 when a method failed to train."""
    from iql_lib.envs import env_spec
    from iql_lib.parallel.sweep import course_trials, run_sweep

    dataset = shared.get("offline_dataset") or env_spec(ENV_NAME).default_dataset
    trials = course_trials(["stitching"], shared, runs.resolve())
    if fresh:
        for t in trials:
            t.trial.clear()
    if run_sweep(trials, runs.resolve(), num_cpus=num_cpus, report=False):
        return 1
    summarise([t.trial for t in trials], dataset, out)
    print((out / "summary.md").read_text())
    print(f"wrote {out}/summary.json, summary.md and figures")
    return 0


def summarise(jobs: list[Trial], dataset: str, out: Path) -> dict:
    """Build summary.json / summary.md and the figures from the finished run directories."""
    from iql_lib.data import load_dataset
    from iql_lib.envs import make_env

    out.mkdir(parents=True, exist_ok=True)
    env = make_env(ENV_NAME)
    data = load_dataset(dataset, env)
    methods = {trial.name: trial.run_dirs for trial in jobs}
    summary = stitching_summary(methods, dataset, data)
    modes = {method: final_policies(method, dirs, data, env, out / f"trajectories_{method}.png")
             for method, dirs in methods.items()}
    plot_stitching_curves(summary, methods, out / "learning_curves.png")
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "summary.md").write_text(stitching_table(summary).markdown(level=1) + "\n"
                                    + modes_table(modes).markdown())
    return summary


def stitching_summary(methods: dict[str, list[Path]], dataset: str, data) -> dict:
    """summary.json's numbers: the dataset's trajectory returns (`data` is `dataset` loaded)
    and, per method (label -> its seeds' run directories), the final evaluation across seeds."""
    returns = data.episode_returns()
    summary = {"env": ENV_NAME,
               "dataset": {"path": str(dataset), "n_trajectories": int(len(returns)),
                           "best_return": float(returns.max()), "mean_return": float(returns.mean())},
               "runs": {}}
    for method, run_dirs in methods.items():
        s = summarise_seeds(run_dirs)
        summary["runs"][method] = {"seeds": s["seeds"], "final_returns": s["final_returns"],
                                   "max_returns": s["max_returns"], "mean": s["mean"], "std": s["std"],
                                   "max_mean": s["max_return_mean"], "max_std": s["max_return_std"]}
    return summary


def plot_stitching_curves(summary: dict, methods: dict[str, list[Path]], path: Path) -> Path:
    """Each method's Eval_AverageReturn (mean ± std over seeds) against the dataset's best and mean."""
    from iql_lib.analysis.plots import plot_learning_curves

    d = summary["dataset"]
    return plot_learning_curves({method: read_curves(dirs) for method, dirs in methods.items()}, path,
                                title=f"Stitching on {summary['env']}",
                                reference_lines={"dataset best": d["best_return"],
                                                 "dataset mean": d["mean_return"]})


def final_policies(method, run_dirs, data, env, path: Path, *, blanks=None,
                   episodes_drawn_per_seed: int = 5) -> dict[str, float]:
    """Roll out every seed's final policy in both evaluation modes, FINAL_POLICY_EPISODES each.

    Returns the mean return per mode (sampled actions, as the course evaluates, and the
    policy's most likely action), and draws the configured mode's rollouts over the maze
    with the dataset faint behind them. IQL networks are rebuilt with `blanks` when given,
    else with the blanks each run's config names (see `load_policy`).
    """
    from iql_lib.training.evaluate import evaluate_pointmass
    from iql_lib.analysis.plots import plot_trajectories
    from iql_lib.training.train import load_policy

    returns = {"sample": [], "greedy": []}
    drawn = []
    for run_dir in run_dirs:
        engine, cfg, seed, _ = load_policy(run_dir, blanks=blanks)
        for mode in returns:
            generator = torch.Generator().manual_seed(10_000 + seed)
            result = evaluate_pointmass(lambda obs: engine.act(0, obs, mode == "greedy", generator),
                                        env, FINAL_POLICY_EPISODES, seed=10_000 + seed)
            returns[mode].append(result.returns.mean())
            if mode == cfg.eval_mode:
                drawn += result.trajectories[:episodes_drawn_per_seed]
    background = [env.positions_from_observations(data.observations[a:b])
                  for a, b in data.episode_bounds()]
    plot_trajectories(env, drawn, path, background=background,
                      title=f"{method}: {len(run_dirs)} seeds × {episodes_drawn_per_seed} rollouts")
    return {mode: float(np.mean(values)) for mode, values in returns.items()}


def stitching_table(summary: dict) -> Table:
    """Each method's final and best-episode return next to the dataset's best trajectory."""
    d = summary["dataset"]
    rows = [[method, str(len(r["seeds"])), MeanStd(r["mean"], r["std"]), MeanStd(r["max_mean"], r["max_std"]),
             "yes" if r["mean"] > d["best_return"] else "no"] for method, r in summary["runs"].items()]
    return Table("stitching", f"Stitching on {summary['env']}",
                 ["method", "seeds", "final Eval_AverageReturn (mean ± std)", "Eval_MaxReturn (mean ± std)",
                  "beats dataset best?"], rows,
                 caption=f"Dataset `{Path(d['path']).name}`: {d['n_trajectories']} trajectories, "
                         f"best return {d['best_return']:.1f}, mean return {d['mean_return']:.1f}.")


def modes_table(modes: dict[str, dict[str, float]]) -> Table:
    """`final_policies`' returns per method, sampled vs most likely action."""
    return Table("final_policies", "Final policies in both evaluation modes",
                 ["method", "sampled actions", "most likely action"],
                 [[method, f"{m['sample']:.1f}", f"{m['greedy']:.1f}"] for method, m in modes.items()],
                 caption=f"Re-evaluated on {FINAL_POLICY_EPISODES} episodes per seed (mean over seeds).")
