"""Chapter 8 (Running the experiments): what the chapter adds to the library's run tools.

- `find_antmaze_data(env_name)`: is there AntMaze data on this machine (a file named in
  an environment variable, a file in `datasets/`, a Minari dataset in the local store, or
  the dataset `iql-data generate` built)? Never touches the network.
- `training_signals(dirs)`, `signals_markdown(methods)`: the healthy-training checks on
  `metrics.jsonl`.

The chapter reads its methods' seeds back with `iql_lib.analysis.results` (`run_dirs`, `summarise`,
`results_markdown`, ...) and packs `csv_data/` with `iql_lib.assignment.submission`
(`write_submission`, `check_submission`).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from iql_lib.datagen.antmaze import default_dataset_path
from iql_lib.envs import DATASETS_DIR
from iql_lib.training.run_folder import read_metrics
from iql_lib.analysis.results import finished, read_curves

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
    if values is not None:
        middle, late = _quarters(values)
        inside = lowest - 1e-6 <= late <= 1e-6
        # values still moving inside the range are a warm-up; moving outside it, a divergence
        if len(values) >= 8 and inside and abs(late - middle) > 0.1 * max(abs(late), 1.0):
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
