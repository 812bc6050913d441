"""`iql-sweep`: many configurations trained on Ray, locally or on a cluster, resumable.

A sweep is a grid (algorithm × task × ζ × λ × dataset × top %, from flags or a TOML file)
or named course sets (`--course p1 p2 stitching`, iql_lib/assignment/course_sets.py). Every
configuration is one trial: its seeds train batched in one Ray task, as `iql-train --seed
1 2 3` does, into `--out/<exp_name>_<env>_seed<k>/`. Trials are resumable: a task whose
worker dies is retried and continues from its checkpoints, a rerun of the same command
skips finished trials and resumes the others, and the CSVs keep every row exactly once.
While it runs, a table shows each trial's step, last return and ETA. At the end, `--out`
holds the runs, `sweep.json` (every trial, its status and where it started), `csv_data/`
in the course's submission layout (course sets p1/p2), and `report/` (iql-report's tables).
"""
from __future__ import annotations

import itertools
import json
import shutil
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from iql_lib.config import TrainConfig, default_exp_name, make_config
from iql_lib.assignment.course_sets import COURSE_SETS
from iql_lib.training.run_folder import CSV_NAME, METRIC, read_eval_csv
from iql_lib.parallel.trial import Trial, train_trial

# Axes a grid may sweep (lists; each configuration takes one value of each) ...
AXES = ("algo", "env_name", "expectile", "temperature", "offline_dataset", "filter_top_percent")
# ... and the settings every configuration shares.
SHARED = ("seeds", "num_timesteps", "eval_freq", "eval_episodes", "eval_mode", "batch_size", "learning_rate",
          "gamma", "hidden_size", "device", "compile", "blanks", "wandb", "wandb_project", "tensorboard")
# What an algorithm ignores: a grid over it would repeat the same run.
IGNORED = {"bc": ("expectile", "temperature"), "awac": ("expectile",), "iql": ()}
# Knobs a run name does not already carry, added when swept: `iql_zeta_0.9_lambda_0.3`.
NAME_SUFFIX = {"temperature": "lambda_{:g}", "filter_top_percent": "top{:g}", "expectile": "zeta_{:g}"}


@dataclass
class SweepTrial:
    trial: Trial
    slot: str | None = None     # csv_data/ folder, for course sets
    status: str = "queued"      # queued | running | done | skipped | failed
    started_at: dict | None = None
    error: str | None = None


# --- which trials ----------------------------------------------------------------------------

def read_grid_file(path: str) -> dict:
    """A TOML sweep file: axes as lists (`expectile = [0.5, 0.9]`), shared settings as values."""
    try:
        grid = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ValueError(f"cannot read sweep file {path}: {err}") from None
    unknown = sorted(set(grid) - set(AXES) - set(SHARED))
    if unknown:
        raise ValueError(f"sweep file {path}: unknown keys {unknown}; axes are {list(AXES)}, shared "
                         f"settings {list(SHARED)}")
    return {k: (v if isinstance(v, list) or k not in AXES else [v]) for k, v in grid.items()}


def _absolute(value: str | None) -> str | None:
    """A path the workers can open wherever they start (a name like `solutions` or a
    `minari:` id stays as it is)."""
    return str(Path(value).resolve()) if value and Path(value).exists() else value


def grid_trials(grid: dict, out: Path) -> list[SweepTrial]:
    """One trial per distinct configuration of the grid's axes."""
    axes = {k: grid.get(k) or [None] for k in AXES}
    shared = {k: grid[k] for k in SHARED if grid.get(k) is not None}
    swept = {k for k, values in axes.items() if len(values) > 1}
    trials: dict[str, SweepTrial] = {}
    for values in itertools.product(*axes.values()):
        knobs = {k: v for k, v in zip(axes, values) if v is not None}
        algo = knobs.get("algo", "iql")
        knobs = {k: v for k, v in knobs.items() if k not in IGNORED.get(algo, ())}
        config = {**knobs, **shared, "offline_dataset": _absolute(knobs.get("offline_dataset")),
                  "blanks": _absolute(shared.get("blanks")), "out": str(out)}
        cfg = make_config(**config)  # checks the values
        name = default_exp_name(cfg)
        for knob in sorted(swept & set(NAME_SUFFIX) - set(IGNORED.get(algo, ()))):
            suffix = NAME_SUFFIX[knob].format(getattr(cfg, knob)) if getattr(cfg, knob) is not None else None
            if suffix and suffix not in name:
                name += "_" + suffix
        if "offline_dataset" in swept and cfg.offline_dataset:
            name += "_" + Path(cfg.offline_dataset.split(":")[-1]).stem.replace("/", "-")
        same = trials.setdefault(f"{name}_{cfg.env_name}", SweepTrial(Trial(name, config)))
        if same.trial.cfg != Trial(name, config).cfg:
            raise ValueError(f"two configurations of the grid would both be named {name} on {cfg.env_name} "
                             f"({same.trial.config} and {config}); sweep them in separate --out folders")
    return list(trials.values())


def course_trials(sets: list[str], shared: dict, out: Path) -> list[SweepTrial]:
    """The configurations of the named course sets, with the csv_data/ folder each fills."""
    trials = []
    for name in sets:
        for c in COURSE_SETS[name]:
            config = {**c.knobs, "env_name": c.env_name, **shared, "blanks": _absolute(shared.get("blanks")),
                      "offline_dataset": _absolute(shared.get("offline_dataset")), "out": str(out)}
            c.config(**{k: v for k, v in config.items() if k != "env_name"})  # checks the values
            trials.append(SweepTrial(Trial(c.name, config), slot=c.slot))
    return trials


# --- the live table ------------------------------------------------------------------------

def _progress(run_dir: Path) -> tuple[int, float | None]:
    """A seed's last logged step and last Eval_AverageReturn (from its files)."""
    step, value = 0, None
    try:  # the trial may be writing (or, resuming, cutting back) these files right now
        lines = (run_dir / "metrics.jsonl").read_text().splitlines()
        step = json.loads(lines[-1])["step"] if lines else 0
        returns = read_eval_csv(run_dir / CSV_NAME)[1]
        value = returns[-1] if returns else None
    except (OSError, ValueError, KeyError, IndexError):
        pass
    return step, value


def _modified_since(path: Path, when: float) -> bool:
    try:
        return path.stat().st_mtime >= when
    except OSError:
        return False


class ProgressTable:
    """Trial, status, step, last return and ETA, read from the run directories."""

    def __init__(self, trials: list[SweepTrial], stream=sys.stdout):
        self.trials, self.stream = trials, stream
        self.seen: dict[str, tuple[float, int]] = {}   # trial -> (time, step) when first seen moving
        self.tty = stream.isatty()
        self.started = time.time()
        self.lines_drawn, self.last_text, self.last_print = 0, "", 0.0

    def rows(self) -> list[list[str]]:
        rows, now = [], time.monotonic()
        for t in self.trials:
            cfg: TrainConfig = t.trial.cfg
            progress = [_progress(d) for d in t.trial.run_dirs]
            step = min(s for s, _ in progress)
            returns = [r for _, r in progress if r is not None]
            status = t.status
            if status == "queued" and any(_modified_since(d / "metrics.jsonl", self.started)
                                          for d in t.trial.run_dirs):
                status = "running"
            first = self.seen.setdefault(t.trial.name, (now, step)) if status == "running" else None
            eta = "–"
            if first and step > first[1]:
                eta = _duration((cfg.num_timesteps - step) * (now - first[0]) / (step - first[1]))
            rows.append([f"{t.trial.name} on {cfg.env_name}", str(len(cfg.seeds)), status,
                         f"{step}/{cfg.num_timesteps}", f"{sum(returns) / len(returns):.1f}" if returns else "–",
                         eta if status == "running" else "–"])
        return rows

    def text(self) -> str:
        header = ["trial", "seeds", "status", "step", f"last {METRIC} (mean)", "ETA"]
        rows = [header] + self.rows()
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows)

    def show(self, final: bool = False) -> None:
        """Redraw in place on a terminal; elsewhere print when it changed (at most every 30 s)."""
        text = self.text()
        if self.tty:
            if self.lines_drawn:
                self.stream.write(f"\x1b[{self.lines_drawn}F\x1b[J")
            self.stream.write(text + "\n")
            self.lines_drawn = text.count("\n") + 1
        elif text != self.last_text and (final or time.monotonic() - self.last_print >= 30):
            self.stream.write(text + "\n\n")
            self.last_text, self.last_print = text, time.monotonic()
        self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


# --- running it -------------------------------------------------------------------------------

def run_sweep(trials: list[SweepTrial], out: Path, *, address: str | None = None, num_cpus: int | None = None,
              cpus_per_trial: int = 1, max_retries: int = 3, report: bool = True) -> int:
    """Train the unfinished trials on Ray, then write sweep.json, csv_data/ and report/.
    Returns the exit code: 0 when every trial finished, 1 when one failed."""
    from iql_lib.parallel.cluster import run_tasks

    names = [f"{t.trial.name}_{t.trial.cfg.env_name}" for t in trials]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise ValueError(f"the sweep holds {clash} twice (two configurations with one run name)")
    out.mkdir(parents=True, exist_ok=True)
    for t in trials:
        t.status = "skipped" if t.trial.finished else "queued"
    todo = [t for t in trials if t.status == "queued"]
    print(f"iql-sweep: {len(trials)} trials, {len(trials) - len(todo)} finished already (skipped), "
          f"{len(todo)} to train on {'a local Ray' if address is None else 'the Ray cluster at ' + address}; "
          f"runs in {out}")
    table = ProgressTable(trials)
    start = time.monotonic()
    if todo:
        for done in run_tasks(train_trial, [(t.trial, cpus_per_trial) for t in todo], address=address,
                              num_cpus=num_cpus, cpus_per_task=cpus_per_trial, max_retries=max_retries,
                              names=[f"trial {t.trial.name} {t.trial.cfg.env_name}" for t in todo],
                              on_tick=table.show):
            t = todo[done.index]
            if done.error is None:
                t.status, t.started_at = "done", done.value["started_at"]
            else:
                t.status, t.error = "failed", str(done.error).strip().splitlines()[-1]
            table.show()
    table.show(final=True)
    print(f"iql-sweep: trained {len(todo)} trials in {_duration(time.monotonic() - start)}")
    for t in todo:
        resumed = {seed: step for seed, step in (t.started_at or {}).items() if step}
        if resumed:
            print(f"  {t.trial.name} on {t.trial.cfg.env_name}: resumed from checkpoints at {resumed}")
        if t.error:
            print(f"  {t.trial.name} on {t.trial.cfg.env_name}: FAILED: {t.error}", file=sys.stderr)
    _write_summary(trials, out / "sweep.json")
    if any(t.slot for t in trials):
        write_course_csvs(trials, out / "csv_data")
    if report:
        _report(out)
    return 1 if any(t.status == "failed" for t in trials) else 0


def _write_summary(trials: list[SweepTrial], path: Path) -> None:
    path.write_text(json.dumps([{"trial": t.trial.name, "env_name": t.trial.cfg.env_name, "status": t.status,
                                 "seeds": t.trial.cfg.seeds, "run_dirs": [str(d) for d in t.trial.run_dirs],
                                 "started_at": t.started_at, "error": t.error, "slot": t.slot}
                                for t in trials], indent=2) + "\n")


def write_course_csvs(trials: list[SweepTrial], csv_data: Path) -> None:
    """The course's csv_data/ from the finished course trials: one folder per slot, and for
    P2/1 the ζ with the best final return; then `iql-check-submission`'s verdict."""
    from iql_lib.analysis.results import best_method
    from iql_lib.assignment.submission import check_submission, write_submission

    slots: dict[str, dict[str, list[Path]]] = {}
    for t in trials:
        if t.slot and t.trial.finished:
            slots.setdefault(t.slot, {})[t.trial.name] = t.trial.run_dirs
    written = []
    for slot, methods in sorted(slots.items()):
        chosen = best_method(methods)
        try:
            write_submission(slot, methods[chosen], csv_data)
            written.append(slot)
            print(f"iql-sweep: csv_data/{slot} from {chosen}")
        except ValueError as err:
            print(f"iql-sweep: no csv_data/{slot}: {err}", file=sys.stderr)
    for failure in check_submission(csv_data, slots=written) if written else []:
        print(f"iql-sweep: iql-check-submission: {failure}", file=sys.stderr)


def _report(out: Path) -> None:
    from iql_lib.analysis.report import build_report

    shutil.rmtree(out / "report", ignore_errors=True)
    try:
        print(build_report([str(out)], out / "report"), end="")
    except ValueError as err:
        print(f"iql-sweep: no report: {err}", file=sys.stderr)
