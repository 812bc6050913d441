"""`iql-report`: the course's write-up tables, built from run directories.

`iql-report runs/ [--out report/]` finds the run directories (config.json + eval.csv) in
and below the paths given, groups them into methods by their config (algorithm, task, ζ,
λ, top %, exp_name; one run per seed) and builds each of the course's tables that the
runs cover (docs/design.md, "The experiments the course runs"):

- P2.1 the ζ sweep: IQL on antmaze-umaze-v0, one row per ζ;
- P2.2 IQL on antmaze-medium-diverse-v0, and AWAC vs IQL (its best ζ) on both mazes;
  each IQL and AWAC method of P2.1/P2.2 also gets a value map: what its critic says the
  places of the maze are worth (IQL's V(s), AWAC's min Q(s, π(s))) with greedy rollouts of
  its first seed's final policy, a GIF of its best seed's ant walking one greedy episode,
  and a table of how much of each batch its actor learns from (the spread of its advantage
  weights, on every seed's final checkpoint);
- P2.3 stitching on PointmassMedium-v0: every method against the dataset's best
  trajectory, and the final policies rolled out over the maze.

Every table goes to `report.md` and `report.tex` (booktabs), with a learning-curves PNG
(mean ± std over seeds). The Markdown is printed to stdout; notes (tables skipped for
lack of runs, unfinished runs left out, plots that could not be drawn) go to stderr.
The numbers come from `iql_lib.analysis.results.summarise`, as the demo's summary.json's do.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import re
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from iql_lib.config import TrainConfig, default_exp_name
from iql_lib.training.run_folder import CSV_NAME
from iql_lib.analysis.results import best_method, finished, read_curves, summarise
from iql_lib.assignment.stitching_demo import ENV_NAME as STITCHING_ENV
from iql_lib.assignment.stitching_demo import final_policies, modes_table, plot_stitching_curves, stitching_summary, stitching_table
from iql_lib.analysis.tables import DASH, Cell, MeanStd, Table
from iql_lib.training.train import dataset_path, read_run_config

UMAZE, MEDIUM = "antmaze-umaze-v0", "antmaze-medium-diverse-v0"

# A method is the runs that agree on these (and on exp_name); its seeds must also agree on
# the budget, or their mean ± std would mix different amounts of training.
METHOD_FIELDS = ("algo", "env_name", "expectile", "temperature", "filter_top_percent")
BUDGET_FIELDS = ("num_timesteps", "eval_freq", "eval_episodes")
KNOB_NAMES = {"algo": "algo", "expectile": "ζ", "temperature": "λ", "filter_top_percent": "top %"}

# IQL paper, Table 1: D4RL normalized score after 1M steps.
PAPER_SCORES = {("iql", UMAZE): "87.5", ("iql", MEDIUM): "70.0", ("awac", UMAZE): "56.7", ("awac", MEDIUM): "0.7"}


def note(text: str) -> None:
    print(f"iql-report: {text}", file=sys.stderr)


# --- runs and methods --------------------------------------------------------------------

@dataclass
class Method:
    """The runs of one configuration, one per seed, in seed order."""

    label: str
    config: TrainConfig   # the first seed's: the seeds agree on METHOD_FIELDS and BUDGET_FIELDS
    dirs: list[Path]

    @cached_property
    def stats(self) -> dict:
        return summarise(self.dirs)


def find_runs(paths: list[str]) -> list[Path]:
    """The run directories (config.json and eval.csv) at and below `paths`."""
    found: dict[Path, Path] = {}
    for path in map(Path, paths):
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or directory")
        for config in sorted(path.rglob("config.json")):
            if (config.parent / CSV_NAME).is_file():
                found.setdefault(config.parent.resolve(), config.parent)
    if not found:
        raise ValueError(f"no runs found in {', '.join(paths)}: a run directory holds config.json and "
                         f"{CSV_NAME} (iql-train writes them to runs/<exp_name>_<env>_seed<k>/)")
    return list(found.values())


def group_methods(run_dirs: list[Path]) -> list[Method]:
    """The runs grouped into methods; unfinished runs are left out, with a note."""
    groups: dict[tuple, list[tuple[int, TrainConfig, Path]]] = {}
    for run_dir in run_dirs:
        cfg, seed = read_run_config(run_dir)
        name = cfg.exp_name or default_exp_name(cfg)
        groups.setdefault((name, *(getattr(cfg, f) for f in METHOD_FIELDS)), []).append((seed, cfg, run_dir))
    methods = []
    for (name, *_), runs in groups.items():
        runs.sort(key=lambda run: run[0])
        _check_runs(f"{name} on {runs[0][1].env_name}", runs)
        done = []
        for _, cfg, run_dir in runs:
            if finished([run_dir]):
                done.append(run_dir)
            else:
                note(f"left out {run_dir}: unfinished (no evaluation at its last step, {cfg.num_timesteps}, yet)")
        if done:
            methods.append(Method(name, runs[0][1], done))
    _disambiguate(methods)
    return methods


def _check_runs(name: str, runs: list[tuple[int, TrainConfig, Path]]) -> None:
    """One method's runs must be distinct seeds trained on one budget."""
    budgets: dict[tuple, list[str]] = {}
    seen: dict[int, Path] = {}
    for seed, cfg, run_dir in runs:
        if seed in seen:
            raise ValueError(f"{name} has seed {seed} twice: {seen[seed]} and {run_dir}; pass only one of them")
        seen[seed] = run_dir
        budgets.setdefault(tuple(getattr(cfg, f) for f in BUDGET_FIELDS), []).append(f"seed {seed} ({run_dir})")
    if len(budgets) > 1:
        mix = "; ".join(f"{steps} steps, evaluated every {freq} on {episodes} episodes: {', '.join(who)}"
                        for (steps, freq, episodes), who in budgets.items())
        raise ValueError(f"{name} mixes runs of different budgets: {mix}. Report one budget at a time "
                         f"(pass only its folders), or give the runs different --exp-name")


def _disambiguate(methods: list[Method]) -> None:
    """Methods that share a name on one task (`--exp-name iql_umaze` for two ζ, in two
    folders) get the knobs that tell them apart added to their label."""
    namesakes: dict[tuple[str, str], list[Method]] = {}
    for m in methods:
        namesakes.setdefault((m.config.env_name, m.label), []).append(m)
    for same in (group for group in namesakes.values() if len(group) > 1):
        differ = [f for f in KNOB_NAMES if len({getattr(m.config, f) for m in same}) > 1]
        for m in same:
            m.label += " (" + ", ".join(f"{KNOB_NAMES[f]} = {getattr(m.config, f)}" for f in differ) + ")"


# --- the tables --------------------------------------------------------------------------

@dataclass
class Section:
    """One of the course's tables: what it shows, its figures (file names in the report
    folder) and the methods it used."""

    tables: list[Table]
    figures: list[str]
    methods: list[Method]

    def markdown(self) -> str:
        return ("\n".join(t.markdown() for t in self.tables) + "\n"
                + "".join(f"![{figure}]({figure})\n" for figure in self.figures))


def _success(m: Method) -> Cell:
    rate, std = m.stats["success_rate"], m.stats["success_rate_std"]
    return DASH if math.isnan(rate) else MeanStd(100 * rate, 100 * std, digits=0)


COLUMNS = {  # name: (header, cell of a method)
    "task": ("task", lambda m: m.config.env_name),
    "method": ("method", lambda m: m.label),
    "zeta": ("ζ", lambda m: f"{m.config.expectile:g}"),
    "seeds": ("seeds", lambda m: str(len(m.dirs))),
    "steps": ("steps", lambda m: str(m.config.num_timesteps)),
    "return": ("final Eval_AverageReturn (mean ± std)", lambda m: MeanStd(m.stats["mean"], m.stats["std"])),
    "success": ("success rate % (mean ± std)", _success),
    "paper": ("IQL paper: D4RL score at 1M steps", lambda m: PAPER_SCORES.get((m.config.algo, m.config.env_name), DASH)),
}
ANTMAZE_CAPTION = "Final checkpoint, mean ± std over seeds; success rate × 100 is D4RL's normalized score."


def _table(key: str, title: str, methods: list[Method], columns: list[str], caption: str) -> Table:
    """`methods` as rows of `columns`; the success-rate column only when some method logged it."""
    if all(_success(m) == DASH for m in methods):
        columns = [c for c in columns if c != "success"]
    return Table(key, title, [COLUMNS[c][0] for c in columns],
                 [[COLUMNS[c][1](m) for c in columns] for m in methods], caption)


def _curves(key: str, panels: dict[str, list[Method]], out: Path) -> str:
    """The learning-curves PNG of a table: one panel per task, mean ± std over seeds."""
    from iql_lib.analysis.plots import plot_learning_curve_panels

    path = out / f"{key}_curves.png"
    plot_learning_curve_panels({title: {m.label: read_curves(m.dirs) for m in group}
                                for title, group in panels.items()}, path)
    return path.name


def _on(methods: list[Method], algo: str, env_name: str) -> list[Method]:
    return sorted((m for m in methods if m.config.algo == algo and m.config.env_name == env_name),
                  key=lambda m: (m.config.expectile, m.label))


def _slug(label: str) -> str:
    return re.sub(r"[^\w.-]+", "_", label)


def _value_maps(key: str, methods: list[Method], out: Path, blanks=None) -> list[str]:
    """Per method, its critic's values over the maze (V for IQL, min Q(s, π(s)) for AWAC) with
    greedy rollouts of its first seed's final policy (`iql_lib.analysis.antmaze_value_maps`): why a run fails
    shows there (values flat far from the goal, rollouts stuck in the start room, ...)."""
    from iql_lib.analysis.antmaze_value_maps import plot_antmaze_value_map

    figures = []
    for m in methods:
        path = out / f"{key}_value_map_{_slug(m.label)}.png"
        try:
            plot_antmaze_value_map(m.dirs[0], path, blanks=blanks)
        except (RuntimeError, FileNotFoundError) as err:  # no checkpoint, or blanks that cannot rebuild V
            note(f"no value map for {m.label}: its final policy could not be loaded ({err})")
            continue
        figures.append(path.name)
    return figures


def _rollout_gifs(key: str, methods: list[Method], out: Path, blanks=None) -> list[str]:
    """Per method, a short GIF of one greedy episode of its best seed's final policy
    (`iql_lib.rendering`), both views at 240×180, every 5th step: how its ant walks, and
    where it stops or falls over."""
    from iql_lib.rendering.films import render_run
    from iql_lib.analysis.results import best_seed

    figures = []
    for m in methods:
        try:
            (gif,) = render_run(best_seed(m.dirs), out, size=(240, 180), formats=("gif",), gif_every=5,
                                name=f"{key}_rollout_{_slug(m.label)}", blanks=blanks, progress=False)
        except (RuntimeError, FileNotFoundError) as err:  # no checkpoint, unusable blanks, no offscreen OpenGL
            note(f"no rollout GIF for {m.label}: {err}")
            continue
        figures.append(gif.name)
    return figures


WEIGHTS_COLUMNS = {  # ActorWeights field: (header, scale, digits)
    "advantage_std": ("std of A", 1.0, 2),
    "clipped": ("weights at the clip, %", 100.0, 0),
    "effective_batch": ("effective batch (of {batch})", 1.0, 0),
    "action_error": ("greedy action's squared error", 1.0, 2),
}


def _actor_weights(key: str, title: str, methods: list[Method], blanks=None) -> list[Table]:
    """Per method, how much of each batch its actor learns from (`iql_lib.analysis.actor_weights`)
    on every seed's final checkpoint, mean ± std over seeds: weights that span many orders
    of magnitude leave the actor a few samples per batch."""
    from iql_lib.analysis.actor_weights import STATES, actor_weights

    rows, batch = [], None
    for m in methods:
        try:
            seeds = [actor_weights(d, blanks=blanks) for d in m.dirs]
        except (RuntimeError, FileNotFoundError) as err:  # no checkpoint, or blanks that cannot rebuild V
            note(f"no actor weights for {m.label}: its final policies could not be loaded ({err})")
            continue
        batch = seeds[0].batch_size
        rows.append([m.label] + [MeanStd(scale * float(np.mean([getattr(w, f) for w in seeds])),
                                         scale * float(np.std([getattr(w, f) for w in seeds])), digits)
                                 for f, (_, scale, digits) in WEIGHTS_COLUMNS.items()])
    if not rows:
        return []
    header = ["method"] + [h.format(batch=batch) for h, _, _ in WEIGHTS_COLUMNS.values()]
    caption = (f"The actor's weights min(exp(A/λ), max_weight) on {STATES:,} dataset states per seed's final "
               "checkpoint, mean ± std over seeds. Effective batch: (Σw)²/Σw², the number of equally weighted "
               "samples a batch is worth. Squared error: between the greedy action and the data's.")
    return [Table(f"{key}_actor_weights", f"{title}: what each actor learns from", header, rows, caption)]


def iql_table(methods: list[Method], out: Path, key: str, title: str, env_name: str,
              blanks=None) -> Section | str:
    """IQL on one maze, a row per ζ (P2.1 on umaze, P2.2 on medium-diverse), with learning
    curves and each ζ's value map."""
    iql = _on(methods, "iql", env_name)
    if not iql:
        return f"{title} (no IQL runs on that task)"
    best = best_method({m.label: m.dirs for m in iql})
    table = _table(key, title, iql, ["method", "zeta", "seeds", "steps", "return", "success"],
                   f"{ANTMAZE_CAPTION} Highest final return: {best}.")
    return Section([table, *_actor_weights(key, title, iql, blanks)],
                   [_curves(key, {env_name: iql}, out), *_value_maps(key, iql, out, blanks),
                    *_rollout_gifs(key, iql, out, blanks)], iql)


def awac_vs_iql(methods: list[Method], out: Path) -> Section | str:
    """P2.2: on each maze, the AWAC runs next to IQL with its best ζ, and the paper's scores;
    each AWAC method's value map and rollout GIF (IQL's are under its own tables)."""
    title = "P2.2: AWAC vs IQL on the AntMaze tasks"
    panels = {}
    for env_name in (UMAZE, MEDIUM):
        iql = _on(methods, "iql", env_name)
        best = best_method({m.label: m.dirs for m in iql})
        panels[env_name] = _on(methods, "awac", env_name) + [m for m in iql if m.label == best]
    if not any(m.config.algo == "awac" for group in panels.values() for m in group):
        return f"{title} (no AWAC runs on either maze)"
    panels = {env_name: group for env_name, group in panels.items() if group}
    rows = [m for group in panels.values() for m in group]
    table = _table("p2_2_awac_vs_iql", title, rows,
                   ["task", "method", "seeds", "steps", "return", "success", "paper"],
                   f"{ANTMAZE_CAPTION} IQL: the ζ with the highest final return on each maze.")
    figures, weights = [_curves("p2_2_awac_vs_iql", panels, out)], []
    for env_name, group in panels.items():
        awac, key = [m for m in group if m.config.algo == "awac"], f"p2_2_awac_vs_iql_{env_name}"
        figures += _value_maps(key, awac, out) + _rollout_gifs(key, awac, out)
        weights += _actor_weights(key, f"AWAC on {env_name}", awac)
    return Section([table, *weights], figures, rows)


def stitching(methods: list[Method], out: Path, blanks=None) -> Section | str:
    """P2.3: the demo's stitching tables and figures, for whichever methods ran on its task."""
    from iql_lib.data import load_dataset
    from iql_lib.envs import make_env

    title = f"P2.3: Stitching on {STITCHING_ENV}"
    chosen = sorted((m for m in methods if m.config.env_name == STITCHING_ENV), key=lambda m: m.label)
    if not chosen:
        return f"{title} (no runs on that task)"
    datasets = sorted({dataset_path(m.config) for m in chosen})
    if len(datasets) > 1:
        raise ValueError(f"the {STITCHING_ENV} runs were trained on {len(datasets)} datasets "
                         f"({', '.join(datasets)}): report each dataset's runs separately")
    env = make_env(STITCHING_ENV)
    data = load_dataset(datasets[0], env)
    runs = {m.label: m.dirs for m in chosen}
    summary = stitching_summary(runs, datasets[0], data)
    figures = [plot_stitching_curves(summary, runs, out / "p2_3_stitching_curves.png").name]
    modes = {}
    for label, dirs in runs.items():
        path = out / f"p2_3_trajectories_{_slug(label)}.png"
        try:
            modes[label] = final_policies(label, dirs, data, env, path, blanks=blanks)
        except (RuntimeError, FileNotFoundError) as err:  # blanks that cannot rebuild the networks
            note(f"no trajectory plot for {label}: its final policy could not be loaded ({err})")
            continue
        figures.append(path.name)
    tables = [dataclasses.replace(stitching_table(summary), key="p2_3_stitching", title=title)]
    if modes:
        tables.append(dataclasses.replace(modes_table(modes), key="p2_3_final_policies"))
    return Section(tables, figures, chosen)


# --- the report --------------------------------------------------------------------------

def build_report(paths: list[str], out: Path, blanks=None) -> str:
    """Write report.md, report.tex and the figures to `out`; returns the Markdown."""
    run_dirs = find_runs(paths)
    methods = group_methods(run_dirs)
    if not methods:
        raise ValueError(f"none of the {len(run_dirs)} runs found has finished")
    out.mkdir(parents=True, exist_ok=True)
    built = [iql_table(methods, out, "p2_1_zeta_sweep", f"P2.1: IQL ζ sweep on {UMAZE}", UMAZE, blanks),
             iql_table(methods, out, "p2_2_iql_medium_diverse", f"P2.2: IQL on {MEDIUM}", MEDIUM, blanks),
             awac_vs_iql(methods, out),
             stitching(methods, out, blanks)]
    sections = [s for s in built if isinstance(s, Section)]
    for reason in (s for s in built if isinstance(s, str)):
        note(f"skipped {reason}")
    used = {id(m) for s in sections for m in s.methods}
    for m in methods:
        if id(m) not in used:
            note(f"{m.label} on {m.config.env_name} ({len(m.dirs)} runs) is in none of the course's tables")
    if not sections:
        raise ValueError("these runs cover none of the course's tables (AntMaze umaze / medium-diverse, "
                         f"{STITCHING_ENV})")

    built_from = (f"{sum(len(m.dirs) for m in methods)} runs ({len(methods)} methods): "
                  "final checkpoint, mean ± std over seeds")
    markdown = "\n".join([f"# Results\n\nBuilt by iql-report from {built_from}.\n",
                          *(s.markdown() for s in sections)])
    preamble = (f"% Tables built by iql-report from {built_from}.\n"
                "% Needs \\usepackage{booktabs}; \\input{report.tex} where the tables belong.\n")
    latex = "\n".join([preamble, *(t.latex() for s in sections for t in s.tables)])
    (out / "report.md").write_text(markdown)
    (out / "report.tex").write_text(latex)
    note(f"wrote {out / 'report.md'}, {out / 'report.tex'} and {sum(len(s.figures) for s in sections)} figures")
    return markdown


def report_parser() -> argparse.ArgumentParser:
    """`iql-report`'s options (the command is `iql_lib.cli.report_main`)."""
    p = argparse.ArgumentParser(
        prog="iql-report",
        description="Build the course's write-up tables (ζ sweep, IQL on medium-diverse, AWAC vs IQL, "
                    "stitching) from run directories: Markdown, LaTeX and learning curves.")
    p.add_argument("runs", nargs="+", help="run directories, or folders to search for them")
    p.add_argument("--out", default="report", help="where report.md, report.tex and the figures go (report/)")
    p.add_argument("--blanks", default=None,
                   help="the six IQL blanks to rebuild IQL policies with for the trajectory plots "
                        "(default: the blanks each run was trained with)")
    return p
