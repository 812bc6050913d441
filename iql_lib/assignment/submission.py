"""`iql-check-submission csv_data/`: is a course submission complete and gradable?

The course's layout is four folders of three CSVs, one per seed:

    csv_data/P2/1/iql_umaze_seed{1,2,3}.csv          IQL (one zeta) on antmaze-umaze-v0
    csv_data/P2/2/iql_medium_maze_seed{1,2,3}.csv    IQL on antmaze-medium-diverse-v0
    csv_data/P1/1/awac_umaze_seed{1,2,3}.csv         AWAC on antmaze-umaze-v0
    csv_data/P1/2/awac_medium_maze_seed{1,2,3}.csv   AWAC on antmaze-medium-diverse-v0

Each CSV is a Weights & Biases chart export (or a run's own `eval.csv`, the same shape):
a `Step` column and one `<run name> - Eval_AverageReturn` column; `__MIN`/`__MAX` and
other columns may be there too. The rules, each failure naming its file and a fix:

- layout:         no file missing, extra, misnamed or in the wrong folder;
- readable:       UTF-8 CSV text (binary junk or another encoding is a failure, not a crash);
- columns:        `Step` and exactly one `<run name> - Eval_AverageReturn` column;
- values:         at least one evaluation, every Step a whole number, no empty/NaN return;
- scale:          returns on the -1-per-step scale, inside [-time limit, 0];
- final step:     the run reached its task's final step;
- one zeta:       an IQL folder holds one zeta (from the run name or a `config.json` beside it);
- distinct seeds: three different seeds (from the run name, else the file name);
- threshold:      the seeds' mean final return clears the task's bar.

Final steps, time limits and bars live in `thresholds.toml` beside this module, one line per
bar on where it comes from; an instructor passes their own with `--thresholds FILE`.

`write_submission(slot, dirs, out)` fills a slot's folder from three run folders, refusing
what these rules would reject (chapter 8, `iql-sweep --course`); `check_submission(out)`
lists what still fails, one line each.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import re
import shutil
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

from iql_lib.training.run_folder import CSV_NAME, METRIC
from iql_lib.analysis.results import finished

THRESHOLDS = Path(__file__).with_name("thresholds.toml")


# --- the course's layout ------------------------------------------------------------------

@dataclass(frozen=True)
class Slot:
    folder: str      # under csv_data/
    algo: str
    env_name: str
    task: str        # section of thresholds.toml

    @property
    def stem(self) -> str:
        """The file name before `_seed<k>.csv`."""
        return f"{self.algo}_{self.task}"

    @property
    def files(self) -> list[str]:
        return [f"{self.folder}/{self.stem}_seed{k}.csv" for k in SUBMISSION_SEEDS]

    @property
    def label(self) -> str:
        return f"{self.algo.upper()} on {self.env_name}"


SUBMISSION_SLOTS = {
    "P2/1": Slot("P2/1", "iql", "antmaze-umaze-v0", "umaze"),
    "P2/2": Slot("P2/2", "iql", "antmaze-medium-diverse-v0", "medium_maze"),
    "P1/1": Slot("P1/1", "awac", "antmaze-umaze-v0", "umaze"),
    "P1/2": Slot("P1/2", "awac", "antmaze-medium-diverse-v0", "medium_maze"),
}
SUBMISSION_SEEDS = (1, 2, 3)


# --- thresholds ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Task:
    final_step: int
    episode_steps: int
    min_final_return: dict[str, float]   # algo -> bar


class ThresholdsError(ValueError):
    """A thresholds file that cannot be used (a usage error, not a failed submission)."""


def _task(entry: dict, algo: str) -> Task:
    bars = entry["min_final_return"]
    if not all(type(v) in (int, float) for v in (entry["final_step"], entry["episode_steps"], bars[algo])):
        raise TypeError("not a number")
    return Task(int(entry["final_step"]), int(entry["episode_steps"]),
                {name: float(bar) for name, bar in bars.items()})


def load_thresholds(path: str | Path = THRESHOLDS) -> dict[str, Task]:
    """Every task the slots need, read from a TOML file laid out like `thresholds.toml`."""
    try:
        table = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ThresholdsError(f"cannot read thresholds file {path}: {err}") from None
    tasks = {}
    for slot in SUBMISSION_SLOTS.values():
        try:
            tasks[slot.task] = _task(table[slot.task], slot.algo)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ThresholdsError(f"thresholds file {path}: [{slot.task}] needs the numbers final_step, "
                                  f"episode_steps and min_final_return.{slot.algo} "
                                  f"(laid out like {THRESHOLDS})") from None
    return tasks


# --- one CSV -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    file: str        # relative to the submission folder
    rule: str
    ok: bool
    message: str
    fix: str = ""


class Problem(Exception):
    """A rule a file breaks: which rule, what is wrong, and what to do about it."""

    def __init__(self, rule: str, message: str, fix: str):
        super().__init__(message)
        self.rule, self.message, self.fix = rule, message, fix


@dataclass(frozen=True)
class Run:
    name: str
    steps: list[int]
    returns: list[float]
    zeta: float | None   # IQL's expectile, when the run name or a config.json says
    seed: int | None     # from the run name, else the file name


RUN_COLUMN = re.compile(rf"(.+) - {METRIC}")
ZETA = re.compile(r"zeta[_=-]?(\d+(?:\.\d+)?|\.\d+)", re.IGNORECASE)
SEED = re.compile(r"seed[_=-]?(\d+)", re.IGNORECASE)
REEXPORT = ("export the run's Eval_AverageReturn chart from W&B as CSV again, or copy the "
            "run's runs/<run>/eval.csv")


def _config_zeta(folder: Path) -> float | None:
    """zeta from a run's `config.json` beside the CSV, if there is a usable one."""
    try:
        return float(json.loads((folder / "config.json").read_text())["expectile"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _last_seed(text: str) -> int | None:
    found = SEED.findall(text)
    return int(found[-1]) if found else None


def _decode(path: Path) -> str:
    """The file's text; bytes that are not UTF-8 CSV text raise a Problem, never a traceback."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise Problem("readable", f"cannot be read ({err.strerror})",
                      "check the file's permissions") from None
    if b"\0" in data:
        raise Problem("readable", "holds binary data (NUL bytes), not CSV text", REEXPORT)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise Problem("readable", f"is not UTF-8 text (byte {data[err.start]:#04x} at offset {err.start})",
                      REEXPORT + ", saved as UTF-8") from None


def read_run(path: str | Path) -> Run:
    """A W&B-shaped Eval_AverageReturn CSV, or the Problem that stops it being one."""
    path = Path(path)
    reader = csv.reader(io.StringIO(_decode(path)), skipinitialspace=True)
    lines = []  # (line number as an editor shows it, cells) of the non-blank rows
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                lines.append((reader.line_num, [cell.strip() for cell in row]))
    except csv.Error as err:
        raise Problem("readable", f"is not a readable CSV ({err})", REEXPORT) from None
    if not lines:
        raise Problem("columns", "is empty: no header row", REEXPORT)
    header = lines[0][1]
    shown = ", ".join(header)
    if "Step" not in header:
        raise Problem("columns", f"has no 'Step' column (columns: {shown})",
                      "export the chart with Step as its x axis; " + REEXPORT)
    runs = [(i, m.group(1)) for i, cell in enumerate(header) if (m := RUN_COLUMN.fullmatch(cell))]
    if not runs:
        raise Problem("columns", f"has no '<run name> - {METRIC}' column, so it is not a W&B-shaped "
                                 f"export (columns: {shown})", REEXPORT)
    if len(runs) > 1:
        raise Problem("columns", f"holds {len(runs)} runs' {METRIC} columns "
                                 f"({', '.join(name for _, name in runs)}); a file holds one run",
                      "export each seed's run on its own")
    step_col, (value_col, name) = header.index("Step"), runs[0]

    steps, returns = [], []
    for n, row in lines[1:]:
        step = row[step_col] if step_col < len(row) else ""
        value = row[value_col] if value_col < len(row) else ""
        try:
            whole = float(step).is_integer()
        except ValueError:
            whole = False
        if not whole:
            raise Problem("values", f"line {n}: Step {step!r} is not a whole number", REEXPORT)
        steps.append(int(float(step)))
        try:
            number = float(value)
        except ValueError:
            number = None
        if number is None or not math.isfinite(number):
            what = "is empty" if not value else f"is {value!r}, not a finite number"
            raise Problem("values", f"line {n} (step {step}): {METRIC} {what}",
                          "submit a run whose every evaluation is a number: a NaN return means "
                          "training diverged (check its losses and retrain); an empty one, a "
                          "partial export")
        returns.append(number)
    if not steps:
        raise Problem("values", "has a header but no evaluations", REEXPORT)

    zeta, seed = ZETA.search(name), _last_seed(name)
    return Run(name, steps, returns,
               zeta=float(zeta.group(1)) if zeta else _config_zeta(path.parent),
               seed=seed if seed is not None else _last_seed(path.stem))


def check_task(run: Run, slot: Slot, task: Task) -> None:
    """Raise a Problem for the first task rule (scale, final step) the run breaks."""
    for step, value in zip(run.steps, run.returns):
        if not -task.episode_steps <= value <= 0:
            raise Problem("scale", f"the return {value:g} at step {step} is outside "
                                   f"[{-task.episode_steps}, 0], where every {slot.env_name} return lies "
                                   f"(-1 per step, 0 at the goal, {task.episode_steps}-step episodes)",
                          "submit Eval_AverageReturn itself, not the normalized score or the success rate")
    if run.steps[-1] < task.final_step:
        raise Problem("final step", f"the run stops at step {run.steps[-1]}; {slot.env_name} runs "
                                    f"train to step {task.final_step}",
                      "finish the run (iql-train ... --resume continues it) and export it again")


# --- the whole submission --------------------------------------------------------------------

def in_folder(file: str, folder: str) -> bool:
    return file == folder or file.startswith(folder + "/")


def _normalised(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _meant_for(file: str, missing: list[str]) -> str | None:
    """The missing file `file` was most likely meant to be: same name in another folder,
    the name spelled differently, or in the same folder the only gap or the same seed."""
    name = PurePosixPath(file).name
    for m in missing:
        if _normalised(PurePosixPath(m).name) == _normalised(name):
            return m
    if not name.lower().endswith(".csv"):
        return None
    here = [m for m in missing if PurePosixPath(m).parent == PurePosixPath(file).parent]
    numbers = re.findall(r"\d+", PurePosixPath(name).stem)
    same_seed = [m for m in here if numbers and _last_seed(m) == int(numbers[-1])]
    if len(same_seed) == 1:
        return same_seed[0]
    return here[0] if len(here) == 1 else None


def layout_checks(root: Path, slots: list[Slot], everywhere: bool) -> list[Check]:
    """Missing, extra, misnamed and misplaced files. `everywhere`: also look outside the
    slots' folders (every file under `root` must then be one of the slots')."""
    expected = {file: slot for slot in slots for file in slot.files}
    folders = {slot.folder for slot in slots}
    present = set()
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if path.is_dir() or any(part.startswith(".") for part in rel.parts):
            continue  # folders, and hidden files such as .DS_Store
        if rel.parent.as_posix() in folders and rel.name == "config.json":
            continue  # a run's config beside its CSVs: allowed, it can tell zeta
        if everywhere or rel.parent.as_posix() in folders:
            present.add(rel.as_posix())

    checks, missing = [], sorted(set(expected) - present)
    for file in sorted(present - set(expected)):
        meant = _meant_for(file, missing)
        if meant is None:
            checks.append(Check(file, "layout", False,
                                f"found {PurePosixPath(file).name}, which is none of the submission's "
                                f"files (each folder holds exactly three CSVs, <algo>_<task>_seed<k>.csv)",
                                "remove it"))
            continue
        missing.remove(meant)
        here, there = PurePosixPath(file), PurePosixPath(meant)
        what, fix = (("is in the wrong folder", "move it to") if here.name == there.name else
                     ("is misnamed", "rename it to") if here.parent == there.parent else
                     ("is misnamed and in the wrong folder", "move and rename it to"))
        checks.append(Check(file, "layout", False, f"{what}: it looks like seed {_last_seed(meant)} of "
                                                   f"{expected[meant].label}, {meant}", f"{fix} {meant}"))
    for slot in slots:
        empty = not any(in_folder(file, slot.folder) for file in present)
        if empty and all(file in missing for file in slot.files):
            checks.append(Check(slot.folder, "layout", False,
                                f"expected {', '.join(PurePosixPath(f).name for f in slot.files)} "
                                f"({slot.label}), found nothing",
                                f"put the three seeds' CSVs in {slot.folder}/ (chapter 8's "
                                f"write_submission does it from run folders)"))
            missing = [file for file in missing if file not in slot.files]
    for file in missing:
        checks.append(Check(file, "layout", False, f"missing: {expected[file].folder}/ holds one CSV "
                                                   f"per seed, {expected[file].stem}_seed{{1,2,3}}.csv",
                            "add this seed's CSV under this name"))
    for slot in slots:
        if not any(in_folder(c.file, slot.folder) for c in checks):
            checks.append(Check(slot.folder, "layout", True,
                                ", ".join(PurePosixPath(f).name for f in slot.files)))
    return checks


def slot_checks(root: Path, slot: Slot, task: Task, practice: bool) -> list[Check]:
    """The rules on one folder's CSVs that are there, then across its seeds."""
    checks, runs = [], {}
    for file in slot.files:
        if not (root / file).is_file():
            continue
        try:
            run = read_run(root / file)
            if not practice:
                check_task(run, slot, task)
        except Problem as err:
            checks.append(Check(file, err.rule, False, err.message, err.fix))
            continue
        runs[file] = run
        checks.append(Check(file, "csv", True, f"run {run.name}: {len(run.steps)} evaluations to step "
                                               f"{run.steps[-1]}, final return {run.returns[-1]:g}"))
    if not runs:
        return checks

    if slot.algo == "iql":
        zetas = {file: run.zeta for file, run in runs.items()}
        unknown = [file for file, zeta in zetas.items() if zeta is None]
        listed = ", ".join(f"{PurePosixPath(f).name} {z:g}" for f, z in zetas.items() if z is not None)
        if unknown:
            checks += [Check(file, "one zeta", False, f"cannot tell the run's zeta: its name "
                                                      f"({runs[file].name}) has no 'zeta_<value>' and no "
                                                      f"config.json lies beside it",
                             "name IQL runs iql_zeta_<zeta>_... (iql-train does) or put the run's "
                             "config.json in the folder") for file in unknown]
        elif len(set(zetas.values())) > 1:
            checks.append(Check(slot.folder, "one zeta", False, f"mixes zeta values ({listed})",
                                f"{slot.folder}/ holds the three seeds of one zeta (the better one): "
                                f"replace the others"))
        else:
            checks.append(Check(slot.folder, "one zeta", True, f"zeta {next(iter(zetas.values())):g}"))

    by_seed: dict[int | None, list[str]] = {}
    for file, run in runs.items():
        by_seed.setdefault(run.seed, []).append(file)
    repeated = {seed: files for seed, files in by_seed.items() if len(files) > 1}
    for seed, files in repeated.items():
        checks.append(Check(slot.folder, "distinct seeds", False,
                            f"{' and '.join(PurePosixPath(f).name for f in files)} hold the same seed "
                            f"({seed}; runs {', '.join(runs[f].name for f in files)})",
                            "export each seed's own run under its own file name"))
    if not repeated:
        checks.append(Check(slot.folder, "distinct seeds", True,
                            "seeds " + ", ".join(str(s) for s in by_seed)))

    if practice or len(runs) < len(slot.files):
        return checks
    finals = [run.returns[-1] for run in runs.values()]
    mean, bar = sum(finals) / len(finals), task.min_final_return[slot.algo]
    detail = f"mean final return {mean:.1f} over the seeds ({', '.join(f'{v:g}' for v in finals)})"
    if mean >= bar:
        checks.append(Check(slot.folder, "threshold", True, f"{detail} >= {bar:g}"))
    else:
        checks.append(Check(slot.folder, "threshold", False,
                            f"{detail} is below the bar {bar:g} for {slot.label}",
                            "look at the runs' training signals (chapter 8) and your blanks, then "
                            "retrain; where the bar comes from is in thresholds.toml"))
    return checks


def check(root: str | Path, thresholds: dict[str, Task] | None = None, slots: list[str] | None = None,
          practice: bool = False) -> list[Check]:
    """Every check on the submission folder `root`, passed and failed, folder by folder.

    `slots` limits the checks to some of the four folders (and ignores files elsewhere).
    `practice=True` checks the layout with runs of another task (chapter 8's PointMass
    fallback): it skips the rules that depend on the task (scale, final step, threshold).
    """
    root = Path(root)
    tasks = load_thresholds() if thresholds is None else thresholds
    chosen = [SUBMISSION_SLOTS[name] for name in (slots or SUBMISSION_SLOTS)]
    layout = layout_checks(root, chosen, everywhere=slots is None)
    checks = []
    for slot in chosen:
        checks += [c for c in layout if in_folder(c.file, slot.folder)]
        checks += slot_checks(root, slot, tasks[slot.task], practice)
    return checks + [c for c in layout if not any(in_folder(c.file, s.folder) for s in chosen)]


# --- writing one from run folders ------------------------------------------------------------

_PER_SEED_KEYS = ("seed", "seeds", "run_name", "resume", "out")  # "seeds": the seeds one process trained together


def write_submission(slot: str, dirs: list[Path], out: str | Path = "csv_data", *,
                     practice: bool = False) -> list[Path]:
    """Copy the three seeds' `eval.csv` into `out/<slot>/<stem>_seed<k>.csv`.

    Refuses anything the autograder would reject: not exactly seeds 1, 2, 3; runs that
    differ in anything but the seed (e.g. two ζ values); an unfinished run; the wrong
    algorithm; or the wrong task (`practice=True` lets any task through, to try the
    layout with PointMass runs). CSVs already in the slot's folder are replaced.
    """
    if slot not in SUBMISSION_SLOTS:
        raise ValueError(f"unknown slot {slot!r}; the course's slots are {sorted(SUBMISSION_SLOTS)}")
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
    well). `slots` defaults to all four of the course's; `practice=True` checks the layout of a
    folder written from other runs (PointMass) and skips the task's final step and bars."""
    return [f"{Path(out) / c.file}: {c.message}; fix: {c.fix}"
            for c in check(out, slots=slots, practice=practice) if not c.ok]


# --- reports and the command line ------------------------------------------------------------

def json_report(checks: list[Check]) -> dict:
    return {"ok": all(c.ok for c in checks),
            "checks": [asdict(c) for c in checks],
            "failures": [{"file": c.file, "rule": c.rule, "message": c.message, "fix": c.fix}
                         for c in checks if not c.ok]}


def _text(c: Check) -> str:
    line = f"  {'ok  ' if c.ok else 'FAIL'} {c.rule:<14} {c.file}: {c.message}"
    return line if c.ok else f"{line}\n  {'':<19} fix: {c.fix}"


def text_report(root: Path, thresholds: Path, checks: list[Check]) -> str:
    """Folder by folder, a line per check; a failure adds its fix. ASCII only, so any
    terminal prints it."""
    lines = [f"Checking {root} (thresholds: {thresholds})"]
    slots = SUBMISSION_SLOTS.values()
    for slot in slots:
        group = [c for c in checks if in_folder(c.file, slot.folder)]
        if group:
            lines += ["", f"{slot.folder}  {slot.label}", *map(_text, group)]
    elsewhere = [c for c in checks if not any(in_folder(c.file, slot.folder) for slot in slots)]
    if elsewhere:
        lines += ["", "elsewhere", *map(_text, elsewhere)]
    failed = sum(not c.ok for c in checks)
    lines += ["", f"FAILED: {failed} problem{'s' * (failed != 1)} to fix." if failed
              else "OK: the submission passes every check."]
    return "\n".join(lines)


def submission_parser() -> argparse.ArgumentParser:
    """`iql-check-submission`'s options (the command is `iql_lib.cli.check_submission_main`)."""
    p = argparse.ArgumentParser(
        prog="iql-check-submission",
        description="Check a csv_data/ submission: layout, W&B-shaped CSVs, one zeta, distinct seeds, "
                    "finished runs and the final-return thresholds. Exit code 0: all pass; 1: a rule "
                    "fails; 2: usage error.")
    p.add_argument("folder", type=Path, help="the submission folder (csv_data/)")
    p.add_argument("--json", action="store_true", help="print a JSON report instead of text")
    p.add_argument("--thresholds", type=Path, default=THRESHOLDS,
                   help="final steps and return bars per task (default: the thresholds.toml installed with "
                        "iql_lib)")
    return p
