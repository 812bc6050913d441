"""The AntMaze reference runs behind `iql_lib/assignment/thresholds.toml`.

Train them with the course's defaults (300k steps, 3 seeds, 50 greedy evaluation episodes
every 10k steps):

    python benchmarks/antmaze_reference.py --commands     # prints the nine iql-train commands

On this project's 2-core CPU one configuration takes about 2.5 hours with one thread
(IQL: 42 steps/s for three seeds batched, compiled, plus the evaluations); on two free
cores, split its seeds over two processes (`--seed 1 2` and `--seed 3`, same `--out`).
Then collect and summarise them:

    python benchmarks/antmaze_reference.py runs/reference

Collecting copies each finished run's `config.json`, `eval.csv` and the evaluation rows of
its `metrics.jsonl` into `benchmarks/results/antmaze_reference/<style>/`, `<style>` being
the data the run trained on (`minari`, umaze's default generated data, or `d4rl`,
medium-diverse's; `tests/test_reference_runs.py` checks the bars against the runs on each
task's default data), and prints per configuration the final Eval_AverageReturn (mean ±
std over seeds), the success rate, and the bar the thresholds' rule gives: mean − 2 std,
rounded down to a multiple of 5 (at least the scale's floor).
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from iql_lib.analysis import results  # noqa: E402
from iql_lib.config import make_config  # noqa: E402
from iql_lib.assignment.course_sets import ANTMAZE_REFERENCE  # noqa: E402
from iql_lib.data.loaders import npz_entries  # noqa: E402
from iql_lib.datagen.antmaze import LEGACY_STYLE, default_dataset_path  # noqa: E402
from iql_lib.training.run_folder import CSV_NAME, METRIC  # noqa: E402
from iql_lib.assignment.submission import SUBMISSION_SEEDS, SUBMISSION_SLOTS, load_thresholds  # noqa: E402

REFERENCE = HERE / "results" / "antmaze_reference"   # one folder per data style
TASKS = {slot.env_name: load_thresholds()[slot.task] for slot in SUBMISSION_SLOTS.values()}  # by env name
# (algo, task, ζ, filtered BC's top %) of every configuration the course's AntMaze experiments
# run (P1, P2) and the baselines they are read against, the most telling first
CONFIGS = [(c.knobs["algo"], c.env_name, c.knobs.get("expectile"), c.knobs.get("filter_top_percent"))
           for c in ANTMAZE_REFERENCE]


def run_dirs(root: Path, algo: str, task: str, expectile: float | None, top: float | None = None) -> list[Path]:
    """The seeds' run directories of one configuration below `root`, as iql-train names them."""
    cfg = make_config(task, algo=algo, expectile=expectile, filter_top_percent=top,
                      seeds=list(SUBMISSION_SEEDS), out=str(root))
    return results.run_dirs(cfg)


def command(algo: str, task: str, expectile: float | None, top: float | None, out: str) -> str:
    zeta = f" --iql-expectile {expectile:g}" if expectile is not None else ""
    filtered = f" --filter-top-percent {top:g}" if top is not None else ""
    return (f"iql-train --algo {algo}{zeta}{filtered} --env-name {task} "
            f"--seed {' '.join(map(str, SUBMISSION_SEEDS))} --out {out}")


def data_style(run_dir: Path) -> str:
    """The style of the generated data a run trained on (its file's `style`; a file made
    before styles were recorded is `minari`)."""
    config = json.loads((run_dir / "config.json").read_text())
    path = config["offline_dataset"] or default_dataset_path(config["env_name"])
    if not str(path).endswith(".npz") or not Path(path).is_file():
        raise ValueError(f"{run_dir}: reference runs train on generated data; {path} is not such a file here")
    return str(npz_entries(path, "style")["style"] or LEGACY_STYLE)


def collect(run_dir: Path, into: Path) -> None:
    """A run's config, CSV and evaluation rows (its loss rows are left behind)."""
    target = into / run_dir.name
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run_dir / "config.json", target / "config.json")
    shutil.copyfile(run_dir / CSV_NAME, target / CSV_NAME)
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    rows = [line for line in lines if METRIC in json.loads(line)]
    (target / "metrics.jsonl").write_text("\n".join(rows) + "\n")


def bar(stats: dict, episode_steps: int) -> int:
    """The thresholds' rule for a measured configuration: mean − 2 std, down to a multiple of
    5, and never below the scale's floor (−episode_steps, a run that never reaches the goal)."""
    return max(-episode_steps, 5 * math.floor((stats["mean"] - 2 * stats["std"]) / 5))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="?", help="folder holding the finished reference runs")
    p.add_argument("--commands", action="store_true", help="print the training commands and stop")
    p.add_argument("--out", default="runs/reference", help="--out of the printed commands")
    args = p.parse_args()
    if args.commands or args.runs is None:
        print("\n".join(command(*config, args.out) for config in CONFIGS))
        return
    print("| algo | task | ζ / top % | final Eval_AverageReturn | seeds | success rate | "
          f"success, mean of the last {results.LATE_EVALUATIONS} evaluations | mean − 2 std → bar |")
    print("|---|---|---|---|---|---|---|---|")
    for algo, task, expectile, top in CONFIGS:
        dirs = run_dirs(Path(args.runs), algo, task, expectile, top)
        knob = expectile or (f"top {top:g} %" if top else "–")
        if not results.finished(dirs):
            print(f"| {algo} | {task} | {knob} | not finished | | | | |")
            continue
        style = data_style(dirs[0])
        for d in dirs:
            collect(d, REFERENCE / style)
        s = results.summarise(dirs)
        seeds = ", ".join(f"{r:.1f}" for r in s["final_returns"])
        print(f"| {algo} | {task} ({style} data) | {knob} | {s['mean']:.1f} ± {s['std']:.1f} | {seeds} | "
              f"{100 * s['success_rate']:.0f} ± {100 * s['success_rate_std']:.0f} % | "
              f"{100 * s['late_success_rate']:.0f} % | {bar(s, TASKS[task].episode_steps)} |")
    print(f"collected into {REFERENCE}/<style>")


if __name__ == "__main__":
    main()
