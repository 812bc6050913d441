"""Chapter 8 (Running the experiments): the helpers between training and a submission.

- `find_antmaze_data(env_name)`: is there AntMaze data on this machine (a file named in
  an environment variable, a file in `datasets/`, a Minari dataset in the local store, or
  the dataset `iql-data generate` built)? Never touches the network.
- `run_dirs(cfg)`, `read_curves(dirs)`, `summarise(dirs)`, `results_markdown(...)`: a
  method's seeds read back from their run folders, as mean ± std across seeds.
- `training_signals(dirs)`: the healthy-training checks on `metrics.jsonl`.
- `write_submission(slot, dirs, out)`, `check_submission(out)`: the SPEC's `csv_data/`
  layout, one W&B-shaped CSV per seed under the file name the autograder expects, checked
  by `iql_lib.submission` (the checker behind `iql-check-submission`).
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from iql_lib.config import TrainConfig
from iql_lib.datagen.antmaze import default_dataset_path
from iql_lib.envs import DATASETS_DIR
from iql_lib.logs import CSV_NAME, METRIC, reached_step, read_eval_csv, read_metrics
from iql_lib.submission import SUBMISSION_SEEDS, SUBMISSION_SLOTS, check

# --- where AntMaze data can come from ----------------------------------------------------

# The official data (Minari ids) for the two tasks the course trains on.
ANTMAZE_MINARI_IDS = {
    "antmaze-umaze-v0": "D4RL/antmaze/umaze-v1",
    "antmaze-medium-diverse-v0": "D4RL/antmaze/medium-diverse-v1",
}


def data_env_var(env_name: str) -> str:
    """The environment variable that may name a task's data file:
    `antmaze-umaze-v0` -> `IQL_DATA_ANTMAZE_UMAZE_V0`."""
    return "IQL_DATA_" + env_name.upper().replace("-", "_")


def minari_store() -> Path:
    """The local Minari store, resolved as Minari resolves it (without creating it)."""
    root = os.environ.get("MINARI_DATASETS_PATH")
    return Path(root) if root else Path.home() / ".minari" / "datasets"


@dataclass(frozen=True)
class DataCheck:
    env_name: str
    dataset: str | None   # what `--offline-dataset` takes, or None when nothing was found
    how: str              # where it was found, or everywhere that was looked


def find_antmaze_data(env_name: str, *, environ: dict | None = None, datasets_dir: Path | None = None,
                      store: Path | None = None) -> DataCheck:
    """Look for `env_name`'s data, in this order: the file named by `data_env_var(env_name)`,
    `datasets/<env_name>.npz` or `.hdf5`, the Minari dataset in the local store, the
    locally generated default dataset (`$IQL_DATA_DIR`, else `~/.cache/iql-lib`)."""
    environ = os.environ if environ is None else environ
    datasets_dir = DATASETS_DIR if datasets_dir is None else Path(datasets_dir)
    store = minari_store() if store is None else Path(store)
    looked = []

    var = data_env_var(env_name)
    named = environ.get(var)
    if named:
        if Path(named).is_file():
            return DataCheck(env_name, str(named), f"${var} = {named}")
        looked.append(f"${var} names {named}, which is not a file")
    else:
        looked.append(f"${var} is not set")

    for suffix in (".npz", ".hdf5"):
        path = datasets_dir / f"{env_name}{suffix}"
        if path.is_file():
            return DataCheck(env_name, str(path), f"file {path}")
    looked.append(f"no {env_name}.npz or .hdf5 in {datasets_dir}")

    minari_id = ANTMAZE_MINARI_IDS.get(env_name)
    if minari_id is not None:
        if (store / minari_id / "data").is_dir():
            return DataCheck(env_name, f"minari:{minari_id}", f"Minari store {store / minari_id}")
        looked.append(f"Minari dataset {minari_id} is not in {store}")

    generated = default_dataset_path(env_name, environ=environ)
    if generated.is_file():
        return DataCheck(env_name, str(generated), f"generated locally, {generated}")
    looked.append(f"no generated dataset at {generated} (`iql-data generate {env_name}` builds one "
                  f"without the network, in about 6 minutes on 2 cores)")
    return DataCheck(env_name, None, "; ".join(looked))


# --- a method's seeds, read back ---------------------------------------------------------

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


def _evaluations(d: Path) -> list[dict]:
    return [m for m in read_metrics(Path(d) / "metrics.jsonl") if METRIC in m]


def summarise(dirs: list[Path]) -> dict:
    """Final-checkpoint statistics across seeds: Eval_AverageReturn (mean, std), the best
    episode of the final evaluation (Eval_MaxReturn), the curve's peak, and success rate
    (NaN when not logged). The one place that computes a method's mean ± std: the demo's
    summary and `iql-report` read their numbers from here."""
    final = [_evaluations(d)[-1] for d in dirs]
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


# --- healthy training signals ------------------------------------------------------------

@dataclass(frozen=True)
class Signal:
    name: str
    healthy: bool | None   # None: not enough log points to judge
    detail: str


def _quarters(values: np.ndarray) -> tuple[float, float]:
    """Mean of the second and of the last quarter of a loss curve."""
    q = max(1, len(values) // 4)
    return float(values[q:2 * q].mean()), float(values[-q:].mean())


def _settles(name: str, values: np.ndarray, what: str, growth: float = 1.25) -> Signal:
    """Healthy when the last quarter's mean is at most `growth` times the second quarter's."""
    if len(values) < 8:
        return Signal(name, None, f"only {len(values)} log points: too short a run to judge")
    middle, late = _quarters(values)
    peak = float(values.max())
    healthy = late <= growth * middle
    trend = "still growing" if late > growth * middle else ("falling" if late < 0.8 * middle else "level")
    return Signal(name, healthy, f"{what}: peak {peak:.3g}, 2nd quarter {middle:.3g}, last quarter "
                                 f"{late:.3g} ({trend})")


def training_signals(dirs: list[Path]) -> list[Signal]:
    """The checks a learner makes on a method's `metrics.jsonl` files, averaged across seeds.

    - V loss and Q loss: finite and levelling off or falling over the last half (both start
      near 0 because every network starts near 0, rise while returns propagate back, then
      should stop growing); not judged while the mean value is still moving (warm-up);
    - the learned values stay inside what any policy can score, [−1/(1−γ), 0], for a reward
      of −1 per step and 0 at the goal;
    - actor loss: no runaway, with its expected sign (≥ 0 for a discrete policy, whose log
      probabilities are ≤ 0; usually negative for a continuous one, whose densities exceed 1);
    - Eval_AverageReturn ends above where it started.
    """
    config = json.loads((Path(dirs[0]) / "config.json").read_text())
    logs = [[m for m in read_metrics(Path(d) / "metrics.jsonl") if "Actor_Loss" in m] for d in dirs]
    length = min(len(rows) for rows in logs)

    def curve(key: str) -> np.ndarray | None:
        if length == 0 or key not in logs[0][0]:
            return None
        return np.array([[row[key] for row in rows[:length]] for rows in logs]).mean(axis=0)

    signals = []
    lowest = -1.0 / (1.0 - config["gamma"])
    value_key = "V_Mean" if curve("V_Mean") is not None else "Q_Mean"
    values = curve(value_key)
    warming = None  # why the losses cannot be judged yet, if so
    if values is not None and len(values) >= 8:
        middle, late = _quarters(values)
        if abs(late - middle) > 0.1 * max(abs(late), 1.0):
            warming = (f"the values are still spreading out ({value_key} {middle:.2f} in the 2nd quarter, "
                       f"{late:.2f} in the last): train longer before judging the losses")

    for key, label in (("Critic_V_Loss", "V loss"), ("Critic_Q_Loss", "Q loss")):
        losses = curve(key)
        if losses is None:
            continue
        if not np.all(np.isfinite(losses)):
            signals.append(Signal(label, False, "became NaN or infinite"))
        elif warming:
            signals.append(Signal(label, None, warming))
        else:
            signals.append(_settles(label, losses, "mean across seeds"))

    if values is not None:
        late = float(values[-max(1, len(values) // 4):].mean())
        inside = lowest - 1e-6 <= late <= 1e-6
        where = "inside" if inside else ("below the lowest value any policy can have" if late < lowest
                                         else "above 0, the most any state is worth")
        signals.append(Signal(f"values ({value_key})", inside,
                              f"last quarter {late:.2f}, {where}: range [{lowest:.0f}, 0] for γ = "
                              f"{config['gamma']}"))

    actor = curve("Actor_Loss")
    if actor is not None:
        discrete = config["env_name"].lower().startswith("pointmass")
        expected = "≥ 0 (discrete policy)" if discrete else "usually < 0 (continuous policy)"
        head = f"final {actor[-1]:.3g}, expected sign {expected}; "
        if not np.all(np.isfinite(actor)):
            signals.append(Signal("actor loss", False, "became NaN or infinite"))
        elif discrete and actor[-1] < 0:
            signals.append(Signal("actor loss", False, head + "a discrete policy's loss cannot be negative"))
        elif warming:
            signals.append(Signal("actor loss", None, head + warming))
        else:
            base = _settles("actor loss", np.abs(actor), "its size", growth=2.0)
            signals.append(Signal("actor loss", base.healthy, head + base.detail))

    _, returns = read_curves(dirs)
    start, end = float(returns[:, 0].mean()), float(returns[:, -1].mean())
    signals.append(Signal("Eval_AverageReturn climbs", end > start,
                          f"{start:.1f} at step 0, {end:.1f} at the end (mean across seeds)"))
    return signals


def signals_markdown(methods: dict[str, list[Path]]) -> str:
    """The checks of every finished method as a Markdown table."""
    mark = {True: "✓ healthy", False: "✗ look closer", None: "– too short to judge"}
    lines = ["| method | signal | verdict | detail |", "|---|---|---|---|"]
    for label, dirs in methods.items():
        if not finished(dirs):
            lines.append(f"| {label} | – | not trained yet | – |")
            continue
        for s in training_signals(dirs):
            lines.append(f"| {label} | {s.name} | {mark[s.healthy]} | {s.detail} |")
    return "\n".join(lines) + "\n"


# --- the csv_data/ submission ------------------------------------------------------------

_PER_SEED_KEYS = ("seed", "run_name", "resume", "out")


def write_submission(slot: str, dirs: list[Path], out: str | Path = "csv_data", *,
                     practice: bool = False) -> list[Path]:
    """Copy the three seeds' `eval.csv` into `out/<slot>/<stem>_seed<k>.csv`.

    Refuses anything the autograder would reject: not exactly seeds 1, 2, 3; runs that
    differ in anything but the seed (e.g. two ζ values); an unfinished run; the wrong
    algorithm; or the wrong task (`practice=True` lets any task through, to try the
    layout with PointMass runs). CSVs already in the slot's folder are replaced.
    """
    if slot not in SUBMISSION_SLOTS:
        raise ValueError(f"unknown slot {slot!r}; the SPEC's slots are {sorted(SUBMISSION_SLOTS)}")
    spec = SUBMISSION_SLOTS[slot]
    dirs = [Path(d) for d in dirs]
    configs = []
    for d in dirs:
        if not (d / "config.json").exists():
            raise FileNotFoundError(f"{d}: no config.json (was this run trained?)")
        configs.append(json.loads((d / "config.json").read_text()))
    seeds = sorted(c["seed"] for c in configs)
    if tuple(seeds) != SUBMISSION_SEEDS:
        raise ValueError(f"{slot} needs exactly seeds {list(SUBMISSION_SEEDS)}, got {seeds}")
    shared = [{k: v for k, v in c.items() if k not in _PER_SEED_KEYS} for c in configs]
    for c in shared[1:]:
        differ = sorted(k for k in c if c[k] != shared[0].get(k))
        if differ:
            raise ValueError(f"{slot}: the three runs must differ only in their seed; they also "
                             f"differ in {differ} (one folder holds one ζ only)")
    if shared[0]["algo"] != spec.algo:
        raise ValueError(f"{slot} holds {spec.algo} runs, these are {shared[0]['algo']}")
    if shared[0]["env_name"] != spec.env_name and not practice:
        raise ValueError(f"{slot} holds {spec.env_name} runs, these are {shared[0]['env_name']} "
                         f"(pass practice=True to try the layout with other runs)")
    if not finished(dirs):
        raise ValueError(f"{slot}: not every run reached its final step ({[str(d) for d in dirs]})")

    folder = Path(out) / spec.folder
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.csv"):
        old.unlink()
    written = []
    for d, c in sorted(zip(dirs, configs), key=lambda pair: pair[1]["seed"]):
        target = folder / f"{spec.stem}_seed{c['seed']}.csv"
        shutil.copyfile(d / CSV_NAME, target)
        written.append(target)
    return written


def check_submission(out: str | Path = "csv_data", slots: list[str] | None = None, *,
                     practice: bool = False) -> list[str]:
    """What `iql-check-submission out` would fail, one line each (an empty list when all is
    well). `slots` defaults to all four of the SPEC's; `practice=True` checks the layout of a
    folder written from other runs (PointMass) and skips the task's final step and bars."""
    return [f"{Path(out) / c.file}: {c.message}; fix: {c.fix}"
            for c in check(out, slots=slots, practice=practice) if not c.ok]
