"""The course's stitching experiment (P2.3), run end to end: `iql-demo stitching`.

IQL (ζ = 0.9), IQL (ζ = 0.2) and filtered BC (top 10 %) train on the shipped PointMass
stitching dataset; each method trains all its seeds batched in one worker process, and
the methods share the cores. The summary
compares each method's final evaluation with the dataset's best and mean trajectory
returns, and draws trajectories and learning curves; `iql-report` builds its P2.3 table
from the same functions (`stitching_summary`, `stitching_table`, `final_policies`).
"""
from __future__ import annotations

import argparse
import json
import os
import queue
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from iql_lib.course_sets import STITCHING_ENV as ENV_NAME
from iql_lib.course_sets import STITCHING_METHODS
from iql_lib.runs import read_curves
from iql_lib.runs import summarise as summarise_seeds
from iql_lib.tables import MeanStd, Table
from iql_lib.trial import Trial, train_trial
FINAL_POLICY_EPISODES = 100  # episodes per seed when the final policies are re-evaluated


def stitching_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="iql-demo",
        description="Run the course's PointMass stitching experiment: IQL (ζ=0.9, ζ=0.2) and "
                    "filtered BC (top 10 %), several seeds each, then print and save the results.")
    p.add_argument("experiment", choices=["stitching"], help="which experiment to run")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--num-timesteps", type=int, default=None, help="gradient steps per run (default 50000)")
    p.add_argument("--eval-freq", type=int, default=None, help="evaluate every N steps (default 2000)")
    p.add_argument("--eval-episodes", type=int, default=None, help="episodes per evaluation (default 20)")
    p.add_argument("--eval-mode", choices=["sample", "greedy"], default=None)
    p.add_argument("--offline-dataset", default=None, help="dataset (default: the shipped one)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="methods trained in parallel processes (default: one per core)")
    p.add_argument("--compile", choices=["auto", "on", "off"], default="auto",
                   help="compile the update (auto: for runs of 10k+ steps)")
    p.add_argument("--runs-dir", default="runs/stitching", help="where the run directories go")
    p.add_argument("--out", default="results/stitching", help="where the summary and figures go")
    p.add_argument("--blanks", default="solutions", help="where the six IQL blanks come from")
    p.add_argument("--fresh", action="store_true", help="retrain runs that already finished")
    return p


def _run_job(trial: Trial, threads: int, progress_queue) -> None:
    """Worker: train one method, all its seeds batched; reports progress to `progress_queue`."""
    train_trial(trial, threads, on_log=lambda step, _: progress_queue.put((trial.name, step)))


def run_stitching(args: argparse.Namespace) -> dict:
    from iql_lib.envs import env_spec

    dataset = args.offline_dataset or env_spec(ENV_NAME).default_dataset
    jobs = [Trial(method, dict(knobs, env_name=ENV_NAME, offline_dataset=dataset, out=args.runs_dir,
                               seeds=args.seeds, num_timesteps=args.num_timesteps, eval_freq=args.eval_freq,
                               eval_episodes=args.eval_episodes, eval_mode=args.eval_mode,
                               blanks=args.blanks, compile=args.compile))
            for method, knobs in STITCHING_METHODS.items()]
    if args.fresh:
        for trial in jobs:
            trial.clear()

    todo = [trial for trial in jobs if not trial.finished]
    print(f"stitching: {len(jobs)} methods × {len(args.seeds)} seeds ({len(todo)} methods to train) "
          f"on {ENV_NAME}, {args.workers} worker(s)")
    if todo:
        _train_in_parallel(todo, args.workers)
    summary = summarise(jobs, dataset, Path(args.out))
    print((Path(args.out) / "summary.md").read_text())
    print(f"wrote {args.out}/summary.json, summary.md and figures")
    return summary


def _train_in_parallel(jobs: list[Trial], workers: int) -> None:
    import multiprocessing as mp

    workers = max(1, min(workers, len(jobs)))
    threads = max(1, (os.cpu_count() or 1) // workers)
    context = mp.get_context("spawn")  # fresh interpreters: no inherited torch threads
    with context.Manager() as manager, ProcessPoolExecutor(workers, mp_context=context) as pool:
        progress = manager.Queue()
        futures = [pool.submit(_run_job, trial, threads, progress) for trial in jobs]
        done_steps = {trial.name: 0 for trial in jobs}
        total = sum(trial.cfg.num_timesteps for trial in jobs)
        with tqdm(total=total, desc="training", unit="step", dynamic_ncols=True) as bar:
            while not all(f.done() for f in futures):
                try:
                    method, step = progress.get(timeout=0.5)
                except queue.Empty:
                    continue
                bar.update(step - done_steps[method])
                done_steps[method] = step
        for future in futures:
            future.result()  # re-raise a worker's error here


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
    from iql_lib.plots import plot_learning_curves

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
    from iql_lib.evaluate import evaluate_pointmass
    from iql_lib.plots import plot_trajectories
    from iql_lib.train import load_policy

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
