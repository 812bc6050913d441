"""Command-line entry points: `iql-train`, `iql-data`, `iql-demo`, `iql-sweep`,
`iql-report`, `iql-render`, `iql-check-submission`.

Every option has a dashed spelling (`--env-name`) and the underscore spelling the
course's materials use (`--env_name`). Defaults not given on the command line come
from `iql_lib.config`, per env family. Every command runs through `_command`, so they
all fail the same way: `<command>: error: ...` and exit code 2 for what the user can
fix, 130 on Ctrl-C.
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path

from iql_lib.config import ENV_FAMILY_DEFAULTS, TrainConfig, make_config
from iql_lib.errors import UserError
from iql_lib.tracking import require_trackers

ERRORS_SHOWN_PLAINLY = (ValueError, FileNotFoundError, UserError)


def _command(prog: str, interrupted: str | None = None):
    """Wrap a command's main, which returns its exit code (None: 0): an error the user can
    fix (a bad value, a missing file) prints one line, `prog: error: ...`, and exits 2
    instead of a traceback; Ctrl-C exits 130, saying how to continue (`interrupted`) where
    the command can."""
    def wrap(main: Callable[[list[str] | None], int | None]) -> Callable[[list[str] | None], int]:
        @functools.wraps(main)
        def run(argv: list[str] | None = None) -> int:
            try:
                return main(argv) or 0
            except KeyboardInterrupt:
                print(f"{prog}: interrupted" + (f"; {interrupted}" if interrupted else ""), file=sys.stderr)
                return 130
            except ERRORS_SHOWN_PLAINLY as err:
                print(f"{prog}: error: {err}", file=sys.stderr)
                return 2
        return run
    return wrap


def _add(parser: argparse.ArgumentParser, name: str, *aliases: str, **kwargs):
    """Register `--a-b` (and aliases), plus the course's `--a_b` spelling hidden from help."""
    action = parser.add_argument(name, *aliases, **kwargs)
    underscored = ["--" + s[2:].replace("-", "_") for s in (name, *aliases) if "-" in s[2:]]
    if underscored:
        hidden = {k: v for k, v in kwargs.items() if k not in ("help", "dest")}
        parser.add_argument(*underscored, dest=action.dest, help=argparse.SUPPRESS, **hidden)


def train_parser() -> argparse.ArgumentParser:
    from iql_lib.envs import ENV_SPECS

    pm, am = ENV_FAMILY_DEFAULTS["pointmass"], ENV_FAMILY_DEFAULTS["antmaze"]
    p = argparse.ArgumentParser(
        prog="iql-train",
        description="Train an offline RL agent (IQL, AWAC or BC) on a fixed dataset and log "
                    "evaluations to runs/<exp_name>_<env>_seed<k>/.",
        epilog="examples:\n"
               "  iql-train --algo iql --iql-expectile 0.9 --seed 1 2 3\n"
               "  iql-train --algo bc --filter-top-percent 10 --exp-name filtered_bc\n"
               "  iql-train --algo iql --blanks notebooks   # the six blanks of your chapter notebooks\n"
               "  iql-train --resume --exp-name iql_zeta_0.9   # continue a killed run",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _add(p, "--algo", choices=["iql", "awac", "bc"], default="iql", help="algorithm (default: iql)")
    _add(p, "--env-name", default="PointmassMedium-v0", choices=sorted(ENV_SPECS), metavar="ENV",
         help=f"environment id: {', '.join(sorted(ENV_SPECS))} (default: PointmassMedium-v0)")
    _add(p, "--offline-dataset", help="dataset: a .npz or D4RL .hdf5 file, or minari:<dataset id> "
                                      "(default: PointmassMedium-v0's shipped data, or an antmaze task's "
                                      "generated data, built on first use; the other PointMass mazes have none)")
    _add(p, "--download", action="store_true",
         help="fetch a minari: dataset that is not in the local Minari store (needs the network)")
    _add(p, "--iql-expectile", dest="expectile", type=float, help="IQL expectile ζ (default 0.9)")
    _add(p, "--temperature", "--awac-lambda", dest="temperature", type=float,
         help="λ in the actor weights exp(A/λ), IQL and AWAC (default 0.1)")
    _add(p, "--seed", dest="seeds", type=int, nargs="+",
         help="one or more seeds (default 1); several train together in one batched engine")
    _add(p, "--num-timesteps", type=int,
         help=f"gradient steps (default {pm['num_timesteps']} PointMass, {am['num_timesteps']} AntMaze)")
    _add(p, "--eval-freq", type=int, help="evaluate every N gradient steps")
    _add(p, "--eval-episodes", type=int, help="episodes per evaluation")
    _add(p, "--eval-mode", choices=["sample", "greedy"],
         help="sample actions from the policy, or take its most likely/mean action "
              "(default: sample on PointMass, greedy on AntMaze)")
    _add(p, "--filter-top-percent", type=float, help="train on the top p %% of trajectories by return")
    _add(p, "--normalize-observations", action="store_true",
         help="feed every network the observations standardised by the dataset's mean and std "
              "(as CORL's IQL does on AntMaze; off by default)")
    _add(p, "--exp-name", help="experiment name (default: from the algorithm and its knobs)")
    _add(p, "--batch-size", type=int, help="minibatch size (default 256)")
    _add(p, "--learning-rate", "--lr", type=float, help="Adam learning rate")
    _add(p, "--gamma", "--discount", dest="gamma", type=float, help="discount γ")
    _add(p, "--hidden-size", type=int, help="MLP width")
    _add(p, "--device", help="auto (default), cpu, cuda or cuda:N")
    _add(p, "--compile", choices=["auto", "on", "off"],
         help="compile the update with torch.compile (auto: for runs of 10k+ steps; off: eager)")
    _add(p, "--blanks", help=f"where the six IQL blanks come from: solutions, stubs, a .py file, a "
                             f"notebook, a folder of notebooks, or a module name (default: {TrainConfig.blanks})")
    _add(p, "--resume", action="store_true", help="continue each seed from its last checkpoint")
    _add(p, "--out", help="parent folder of the run directories (default: runs)")
    _add(p, "--quiet", action="store_true", help="no progress bar")
    add_tracking_options(p)
    return p


def add_tracking_options(p: argparse.ArgumentParser) -> None:
    """--wandb / --use-wandb, --wandb-project, --tensorboard (iql-train and iql-sweep)."""
    _add(p, "--wandb", "--use-wandb", action="store_true",
         help="log every scalar of metrics.jsonl to Weights & Biases, one run per seed (offline unless "
              "you are logged in; `wandb sync` uploads later)")
    _add(p, "--wandb-project", help="W&B project (default iql-from-absolute-zero)")
    _add(p, "--tensorboard", action="store_true", help="also write TensorBoard event files to <run>/tensorboard/")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    values = {k: v for k, v in vars(args).items() if k not in ("env_name", "quiet")}
    values["resume"] = args.resume or None
    values["download"] = args.download or None
    values["wandb"] = args.wandb or None
    values["tensorboard"] = args.tensorboard or None
    values["normalize_observations"] = args.normalize_observations or None
    require_trackers(args.wandb, args.tensorboard)
    return make_config(args.env_name, **values)


@_command("iql-train", interrupted="rerun with --resume to continue from the last checkpoint")
def train_main(argv: list[str] | None = None) -> None:
    args = train_parser().parse_args(argv)
    from iql_lib.train import train  # after parsing: --help needs no torch

    cfg = config_from_args(args)
    for seed, run_dir in zip(cfg.seeds, train(cfg, progress=not args.quiet)):
        print(f"seed {seed}: {run_dir}")


@_command("iql-data")
def data_main(argv: list[str] | None = None) -> None:
    from iql_lib.datagen.antmaze import DEFAULT_STYLES, STYLE_ANT, UNMEASURED_TASKS_STYLE
    from iql_lib.envs.antmaze import TASKS
    from iql_lib.rendering.films import add_film_options

    p = argparse.ArgumentParser(
        prog="iql-data", description="Build and inspect offline datasets.",
        epilog="examples:\n"
               "  iql-data generate antmaze-medium-diverse-v0 --transitions 1000000 --seed 0\n"
               "  iql-data info ~/.cache/iql-lib/antmaze-medium-diverse-v0-d4rl-seed0.npz --plot coverage.png\n"
               "  iql-data convert minari:D4RL/antmaze/umaze-v1 umaze.npz --download\n"
               "  iql-data render antmaze-medium-diverse-v0 --episodes 2 --out videos/\n"
               "  iql-data walker train --out runs/walker && iql-data walker ship runs/walker/walker.pt",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    walker = sub.add_parser("walker", help="train, test and ship the learned walker behind the walker-style data")
    walker_sub = walker.add_subparsers(dest="walker_command", required=True)
    train = walker_sub.add_parser("train", help="SAC on D4RL's ant walking along commanded directions "
                                                "(resumes from OUT/checkpoint.pt unless --fresh)")
    train.add_argument("--out", default="runs/walker", help="run folder (default: runs/walker)")
    train.add_argument("--steps", type=int, help="environment steps (default 400000)")
    train.add_argument("--seed", type=int, help="the same seed gives the same walker (default 0)")
    train.add_argument("--fresh", action="store_true", help="start over, ignoring a checkpoint")
    train.add_argument("--compile", action="store_true", help="compile the SAC step (torch.compile; faster)")
    test = walker_sub.add_parser("test", help="the walking test: speed along the command and flips")
    test.add_argument("weights", nargs="?", help="a walker.pt (default: the shipped walker)")
    test.add_argument("--rollouts", type=int, default=24, help="30-second rollouts (default 24)")
    ship = walker_sub.add_parser("ship", help="copy a trained walker into the package")
    ship.add_argument("weights", help="the walker.pt a training wrote, or its checkpoint.pt (the walker at "
                                      "the checkpoint's step)")
    make = sub.add_parser("make-stitching", help="regenerate the PointMass stitching dataset")
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--out", default="datasets/pointmass_stitching_dataset.npz")
    gen = sub.add_parser("generate", help="generate an AntMaze dataset locally, walker, d4rl or minari style "
                                          "(no network)")
    gen.add_argument("task", choices=sorted(TASKS), metavar="TASK", help=f"one of {', '.join(sorted(TASKS))}")
    gen.add_argument("--transitions", type=int, default=1_000_000, help="steps to record (default 1000000)")
    gen.add_argument("--seed", type=int, default=0, help="the same seed gives the same bytes (default 0)")
    defaults = "".join(f"{style} on {task}, " for task, style in DEFAULT_STYLES.items())
    gen.add_argument("--style", choices=sorted(STYLE_ANT),
                     help=f"the data mode (default: {defaults}{UNMEASURED_TASKS_STYLE} on the other tasks). "
                          "walker: D4RL's procedure and D4RL's kind of controller, the learned walker (SAC) "
                          "heading for D4RL's noisy waypoints; d4rl: D4RL's procedure, one goal per 1000-step "
                          "episode kept after it is reached, with the tuned gait, on D4RL's ant (0.1 s steps, "
                          "its torque); minari: a new goal whenever one is reached, "
                          "a flip ends the episode, gymnasium's ant (0.05 s steps), like Minari's regenerated data")
    gen.add_argument("--workers", type=int, help="processes making episodes side by side; the bytes do not "
                                                 "depend on it (default: the machine's cores, at most 4)")
    gen.add_argument("--out", help="the .npz file to write (default: the task's default dataset in the "
                                   "data folder, $IQL_DATA_DIR or ~/.cache/iql-lib)")
    info = sub.add_parser("info", help="episodes, returns and a plot of a dataset")
    info.add_argument("dataset", help="a .npz or D4RL .hdf5 file, or minari:<dataset id>")
    info.add_argument("--env-name", "--env_name", help="the env it belongs to (default: the task a generated "
                                                       "file names, else PointmassMedium-v0)")
    info.add_argument("--plot", help="write a plot here (PNG): trajectories, or the visited x-y for AntMaze")
    conv = sub.add_parser("convert", help="write a D4RL or Minari dataset as our npz container")
    conv.add_argument("source", help="a D4RL .hdf5 file or minari:<dataset id>")
    conv.add_argument("out", help="the .npz file to write (it records the data's frame)")
    conv.add_argument("--download", action="store_true", help="fetch a minari: dataset (needs the network)")
    render = sub.add_parser("render", help="film episodes of an AntMaze dataset's collector (MP4 and GIF), as "
                                           "`generate` with the same task, style and seed makes them")
    render.add_argument("task", choices=sorted(TASKS), metavar="TASK", help=f"one of {', '.join(sorted(TASKS))}")
    render.add_argument("--style", choices=sorted(STYLE_ANT), help="the data mode (default: the task's)")
    render.add_argument("--seed", type=int, default=0, help="the dataset's seed (default 0)")
    render.add_argument("--out", default="videos", help="where the files go (default videos/)")
    add_film_options(render, episodes=2)
    args = p.parse_args(argv)
    if args.command == "walker":
        return _walker_command(args)
    if args.command == "render":
        from iql_lib.rendering.films import film_options, render_collector

        for path in render_collector(args.task, args.out, style=args.style, seed=args.seed, **film_options(args)):
            print(f"wrote {path}")
        return
    if args.command == "convert":
        from iql_lib.data.loaders import convert

        data = convert(args.source, args.out, download=args.download)
        print(f"wrote {args.out}: {len(data)} transitions, {len(data.episode_bounds())} episodes")
        return
    if args.command == "make-stitching":
        from iql_lib.data.stitching import generate_stitching_dataset

        data, personas = generate_stitching_dataset(args.seed)
        data.save_npz(args.out, personas=personas)
        print(f"wrote {args.out}")
        args = argparse.Namespace(dataset=args.out, env_name="PointmassMedium-v0", plot=None)
    elif args.command == "generate":
        from iql_lib.datagen.antmaze import default_dataset_path, default_workers, generate_to_file

        out = args.out or default_dataset_path(args.task, args.seed, style=args.style)
        generate_to_file(args.task, out, args.transitions, seed=args.seed, style=args.style,
                         workers=default_workers() if args.workers is None else args.workers)
        print(f"wrote {out}")
        args = argparse.Namespace(dataset=str(out), env_name=args.task, plot=None)
    _print_info(args.dataset, args.env_name, args.plot)


def _walker_command(args: argparse.Namespace) -> None:
    import torch

    from iql_lib.config import WalkerConfig
    from iql_lib.datagen import walker

    torch.set_num_threads(1)  # the walker's small networks gain nothing from more; leave cores to others
    if args.walker_command == "train":
        chosen = {"seed": args.seed, "total_steps": args.steps, "compile": args.compile or None}
        cfg = WalkerConfig(**{k: v for k, v in chosen.items() if v is not None})
        print(f"wrote {walker.WalkerTraining(cfg, args.out).run(resume=not args.fresh)}")
    elif args.walker_command == "test":
        stats = walker.walking_test(walker.Walker.load(args.weights or walker.WALKER_FILE), rollouts=args.rollouts)
        print(f"{stats.speed:.2f} m/s along the command; {stats.flips} flips and {stats.unhealthy} rollouts "
              f"out of the healthy range, in {stats.rollouts} rollouts of 30 s")
    else:
        path = walker.ship(args.weights)
        step = torch.load(path, weights_only=True)["step"]
        print(f"shipped {args.weights} (step {step}) as {path} ({path.stat().st_size / 1e6:.2f} MB)")


def _print_info(path: str, env_name: str | None, plot: str | None) -> None:
    from iql_lib.data import env_for_dataset, load_dataset
    from iql_lib.data.loaders import npz_entries
    from iql_lib.envs import env_spec

    env_name = env_name or npz_entries(path, "task")["task"] or "PointmassMedium-v0"
    env = env_for_dataset(env_name, path)
    data = load_dataset(path, env)
    returns = data.episode_returns()
    print(f"{path}: {len(data)} transitions, {len(returns)} episodes, "
          f"{int(data.terminals.sum())} terminal transitions")
    print(f"episode return: best {returns.max():.1f}, mean {returns.mean():.1f}, "
          f"worst {returns.min():.1f}")
    antmaze = env_spec(env_name).family == "antmaze"
    if antmaze:
        from iql_lib.data.antmaze_diagnostics import diagnose
        from iql_lib.datagen.antmaze import describe_generated

        ant = env.ant
        print(f"ant: {ant.name} (one step is {ant.dt:g} s, frame skip {ant.frame_skip}; {ant.gear:g} of torque "
              f"per unit action)")
        goals = npz_entries(path, "goals")["goals"]
        for line in describe_generated(path) + diagnose(data, ant.dt, goals).lines():
            print(line)
    if plot:
        from iql_lib.plots import plot_coverage, plot_trajectories

        if antmaze:
            plot_coverage(env, data.observations[:, :2], plot, title=f"{Path(path).name}: visited x-y")
        else:
            trajectories = [env.positions_from_observations(data.observations[a:b])
                            for a, b in data.episode_bounds()]
            plot_trajectories(env, trajectories, plot, title=Path(path).name)
        print(f"wrote {plot}")


def sweep_parser() -> argparse.ArgumentParser:
    from iql_lib.course_sets import COURSE_SETS
    from iql_lib.envs import ENV_SPECS
    from iql_lib.sweep import SHARED

    p = argparse.ArgumentParser(
        prog="iql-sweep",
        description="Train a grid of configurations, or the course's sets, on Ray (a local Ray on this "
                    "machine's cores, or a cluster with --address). Each configuration trains its seeds "
                    "batched in one task; rerun the same command to resume: finished trials are skipped, "
                    "the others continue from their checkpoints.",
        epilog="examples:\n"
               "  iql-sweep --course stitching                         # P2.3 on PointMass, 3 seeds\n"
               "  iql-sweep --course p1 p2 --address 10.0.0.5:6379     # the AntMaze parts on a cluster\n"
               "  iql-sweep --iql-expectile 0.5 0.7 0.8 0.9 0.95 --env-name antmaze-umaze-v0\n"
               "  iql-sweep --grid my_sweep.toml --out runs/my_sweep",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    what = p.add_argument_group("what to train (a grid: every combination of the values given)")
    _add(what, "--course", nargs="+", choices=sorted(COURSE_SETS),
         help="the course's sets: p1 (AWAC, two mazes), p2 (IQL ζ sweep, medium-diverse), baselines (BC "
              "and filtered BC, two mazes), stitching (P2.3)")
    _add(what, "--grid", help="a TOML file: axes as lists (expectile = [0.5, 0.9]), shared settings as values; "
                              "flags given here override it")
    _add(what, "--algo", nargs="+", choices=["iql", "awac", "bc"], help="algorithms (default iql)")
    _add(what, "--env-name", nargs="+", choices=sorted(ENV_SPECS), metavar="ENV", help="tasks")
    _add(what, "--iql-expectile", dest="expectile", nargs="+", type=float, help="IQL ζ values")
    _add(what, "--temperature", "--awac-lambda", dest="temperature", nargs="+", type=float, help="λ values")
    _add(what, "--offline-dataset", nargs="+", help="datasets")
    _add(what, "--filter-top-percent", nargs="+", type=float, help="train on the top p %% of trajectories")
    shared = p.add_argument_group("every configuration (as in iql-train)")
    _add(shared, "--seed", dest="seeds", type=int, nargs="+", help="seeds, batched in each trial (default 1 2 3)")
    for action in train_parser()._actions:  # iql-train's own options, so the two never drift
        if action.dest in SHARED and action.dest != "seeds":
            shared._add_action(action)
    ray = p.add_argument_group("where and how")
    _add(ray, "--address", help="a running Ray cluster (host:port, or auto); default: a local Ray")
    _add(ray, "--num-cpus", type=int, help="cores of the local Ray (default: all)")
    _add(ray, "--cpus-per-trial", type=int, default=1, help="cores (torch threads) per trial (default 1)")
    _add(ray, "--max-retries", type=int, default=3, help="retries of a trial whose worker died (default 3)")
    _add(ray, "--out", default="runs/sweep", help="the runs, sweep.json, csv_data/ and report/ (runs/sweep)")
    _add(ray, "--fresh", action="store_true", help="retrain finished trials from scratch")
    _add(ray, "--no-report", action="store_true", help="skip iql-report's tables at the end")
    return p


@_command("iql-sweep", interrupted="rerun the same command to resume (finished trials are skipped)")
def sweep_main(argv: list[str] | None = None) -> int:
    from iql_lib.sweep import AXES, SHARED, course_trials, grid_trials, read_grid_file, run_sweep

    args = sweep_parser().parse_args(argv)
    flags = {k: v for k, v in vars(args).items() if k in AXES + SHARED and v not in (None, False)}
    grid = {**(read_grid_file(args.grid) if args.grid else {}), **flags}
    grid.setdefault("seeds", [1, 2, 3])
    require_trackers(grid.get("wandb", False), grid.get("tensorboard", False))
    out = Path(args.out).resolve()
    if args.course:
        if args.grid or any(k in grid for k in AXES):
            raise ValueError("--course runs the course's configurations: give no grid (--grid, --algo, "
                             "--env-name, --iql-expectile, ...) with it")
        trials = course_trials(args.course, grid, out)
    else:
        trials = grid_trials(grid, out)
    if args.fresh:
        for t in trials:
            t.trial.clear()
    return run_sweep(trials, out, address=args.address, num_cpus=args.num_cpus,
                     cpus_per_trial=args.cpus_per_trial, max_retries=args.max_retries,
                     report=not args.no_report)


@_command("iql-demo", interrupted="rerun the same command to resume (finished runs are skipped)")
def demo_main(argv: list[str] | None = None) -> None:
    from iql_lib.experiments import stitching_parser, run_stitching

    run_stitching(stitching_parser().parse_args(argv))


@_command("iql-report")
def report_main(argv: list[str] | None = None) -> None:
    from iql_lib.algos import load_blanks
    from iql_lib.report import build_report, report_parser

    args = report_parser().parse_args(argv)
    blanks = load_blanks(args.blanks) if args.blanks else None
    print(build_report(args.runs, Path(args.out), blanks), end="")


@_command("iql-render")
def render_main(argv: list[str] | None = None) -> None:
    from iql_lib.rendering.films import film_options, render_parser, render_run

    args = render_parser().parse_args(argv)
    for path in render_run(args.run, args.out, seed=args.seed, checkpoint=args.checkpoint, blanks=args.blanks,
                           **film_options(args)):
        print(f"wrote {path}")


@_command("iql-check-submission")
def check_submission_main(argv: list[str] | None = None) -> int:
    """Exit code 0: every check passes; 1: a rule fails; 2: usage error (no such folder, an
    unusable thresholds file)."""
    from iql_lib.submission import check, json_report, load_thresholds, submission_parser, text_report

    args = submission_parser().parse_args(argv)
    if not args.folder.is_dir():
        raise FileNotFoundError(f"no folder {args.folder}")
    checks = check(args.folder, load_thresholds(args.thresholds))
    print(json.dumps(json_report(checks), indent=2) if args.json
          else text_report(args.folder, args.thresholds, checks))
    return 0 if all(c.ok for c in checks) else 1
