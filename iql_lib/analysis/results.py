"""A method's seeds, read back from their run folders.

A method is one configuration trained on several seeds, one run folder each
(`<exp_name>_<env>_seed<k>/`, written by `train`). Here: where those folders are, whether
every seed finished, their learning curves side by side, and the final checkpoint as mean ±
std across seeds. Chapter 8, `iql demo`, `iql report`, `iql sweep` and the reference-run
benchmark all read their numbers from `summarise`.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from iql_lib.config import TrainConfig
from iql_lib.training.run_folder import CSV_NAME, METRIC, reached_step, read_eval_csv, read_metrics


def run_dirs(cfg: TrainConfig) -> list[Path]:
    """The run folders `train(cfg)` writes, one per seed (they may not exist yet)."""
    return [Path(cfg.out) / cfg.run_name(seed) for seed in cfg.seeds]


def finished(dirs: list[Path]) -> bool:
    """Every seed's run exists and logged its final evaluation."""
    return all((d / "config.json").exists()
               and reached_step(d, json.loads((d / "config.json").read_text())["num_timesteps"]) for d in dirs)


def read_curves(dirs: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """`(steps [T], returns [n_seeds, T])` from the seeds' CSVs, cut to the steps all share."""
    read = [read_eval_csv(Path(d) / CSV_NAME) for d in dirs]
    length = min(len(steps) for steps, _ in read)
    steps = np.array(read[0][0][:length])
    for other, _ in read[1:]:
        if list(other[:length]) != list(steps):
            raise ValueError(f"seeds of {dirs[0].parent} were evaluated at different steps")
    return steps, np.array([values[:length] for _, values in read], dtype=float)


def read_evaluations(d: Path) -> list[dict]:
    """A run's evaluation rows from its metrics.jsonl, in step order."""
    return [m for m in read_metrics(Path(d) / "metrics.jsonl") if METRIC in m]


LATE_EVALUATIONS = 5  # a curve that swings between evaluations reads steadier over its last few


def summarise(dirs: list[Path]) -> dict:
    """Final-checkpoint statistics across seeds: Eval_AverageReturn (mean, std), the best
    episode of the final evaluation (Eval_MaxReturn), the curve's peak, and success rate
    (NaN when not logged), at the final evaluation and averaged over each seed's last
    `LATE_EVALUATIONS`. The one place that computes a method's mean ± std: the demo's
    summary and `iql-report` read their numbers from here."""
    evaluations = [read_evaluations(d) for d in dirs]
    final = [e[-1] for e in evaluations]
    late = [[m.get("Eval_SuccessRate", np.nan) for m in e[-LATE_EVALUATIONS:]] for e in evaluations]
    _, curves = read_curves(dirs)
    seeds = [json.loads((Path(d) / "config.json").read_text())["seed"] for d in dirs]
    returns = np.array([m[METRIC] for m in final])
    best_episode = np.array([m["Eval_MaxReturn"] for m in final])
    success = np.array([m.get("Eval_SuccessRate", np.nan) for m in final])
    return {
        "seeds": seeds,
        "step": int(final[0]["step"]),
        "final_returns": returns.tolist(),
        "max_returns": best_episode.tolist(),
        "mean": float(returns.mean()),
        "std": float(returns.std()),
        "max_return_mean": float(best_episode.mean()),
        "max_return_std": float(best_episode.std()),
        "peak_mean": float(curves.max(axis=1).mean()),
        "success_rate": float(success.mean()),
        "success_rate_std": float(success.std()),
        "late_success_rate": float(np.mean([np.mean(seed) for seed in late])),
    }


def results_markdown(methods: dict[str, list[Path]], *, dataset_best: float | None = None) -> str:
    """One row per method (label -> its seeds' run folders): the results table as Markdown.
    Methods without finished runs get a row that says so."""
    header = ("| method | env | seeds | final Eval_AverageReturn (mean ± std) | max return: best episode "
              "of the final evaluation (mean ± std) | peak of the curve (mean) | success rate |")
    lines = [header, "|---|---|---|---|---|---|---|"]
    for label, dirs in methods.items():
        if not finished(dirs):
            lines.append(f"| {label} | – | – | not trained yet | – | – | – |")
            continue
        s = summarise(dirs)
        env = json.loads((Path(dirs[0]) / "config.json").read_text())["env_name"]
        lines.append(f"| {label} | {env} | {len(s['seeds'])} | {s['mean']:.1f} ± {s['std']:.1f} "
                     f"| {s['max_return_mean']:.1f} ± {s['max_return_std']:.1f} | {s['peak_mean']:.1f} "
                     f"| {100 * s['success_rate']:.0f} % |")
    if dataset_best is not None:
        lines += ["", f"The dataset's best trajectory returns {dataset_best:.1f}."]
    return "\n".join(lines) + "\n"


def best_method(methods: dict[str, list[Path]]) -> str | None:
    """The label with the highest final mean Eval_AverageReturn among finished methods."""
    scores = {label: summarise(dirs)["mean"] for label, dirs in methods.items() if finished(dirs)}
    return max(scores, key=scores.get) if scores else None


def best_seed(dirs: list[Path]) -> Path:
    """The seed's run folder with the highest final Eval_AverageReturn (the first on a tie):
    the run to watch when one run shows what a method can do."""
    return dirs[int(np.argmax(summarise(dirs)["final_returns"]))]
