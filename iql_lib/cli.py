"""The command line: `iql <verb>` (`main`), and each verb's own entry point, which the
older `iql-train`, `iql-data`, ... scripts still name.

One meaning per flag across verbs: `--seed` takes one or more seeds, `--out` is where
the results go, and training resumes by default (a rerun continues each seed from its last
checkpoint and leaves finished ones alone) with `--fresh` to retrain. Every option has a
dashed spelling (`--env-name`) and the underscore spelling the course's materials use
(`--env_name`). Defaults not given on the command line come from `iql_lib.config`, per
env family. Every command runs through `_command`, so they all fail the same way:
`<command>: error: ...` and exit code 2 for what the user can fix, 130 on Ctrl-C.
"""
from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from iql_lib.config import ENV_FAMILY_DEFAULTS, TrainConfig, make_config
from iql_lib.errors import UserError
from iql_lib.training.tracking import require_trackers

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
               "  iql-train --exp-name iql_zeta_0.9   # run again: continues where a killed run stopped\n"
               "  iql-train --fresh --exp-name iql_zeta_0.9   # retrain from step 0",
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
    _add(p, "--actor-lr-schedule", choices=["constant", "cosine"],
         help="the actor's learning rate: constant, or decayed along a cosine to 0 at the last step "
              "(as the IQL authors' code does; default constant)")
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
    _add(p, "--out", help="parent folder of the run directories (default: runs)")
    add_resume_options(p, "retrain each seed from step 0 (default: continue each seed from its last "
                          "checkpoint; a finished seed is left as it is)")
    _add(p, "--quiet", action="store_true", help="no progress bar")
    add_tracking_options(p)
    return p


def add_resume_options(p: argparse.ArgumentParser, fresh_help: str) -> None:
    """--fresh, and --resume: the default, which older command lines still spell out."""
    _add(p, "--fresh", action="store_true", help=fresh_help)
    _add(p, "--resume", action="store_true", help="the default (older command lines spell it out)")


def resume_from_args(args: argparse.Namespace) -> bool:
    if args.fresh and args.resume:
        raise UserError("--fresh and --resume contradict each other: give one")
    return not args.fresh


def add_tracking_options(p: argparse.ArgumentParser) -> None:
    """--wandb / --use-wandb, --wandb-project, --tensorboard (iql-train and iql-sweep)."""
    _add(p, "--wandb", "--use-wandb", action="store_true",
         help="log every scalar of metrics.jsonl to Weights & Biases, one run per seed (offline unless "
              "you are logged in; `wandb sync` uploads later)")
    _add(p, "--wandb-project", help="W&B project (default iql-from-absolute-zero)")
    _add(p, "--tensorboard", action="store_true", help="also write TensorBoard event files to <run>/tensorboard/")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    values = {k: v for k, v in vars(args).items() if k not in ("env_name", "quiet", "fresh")}
    values["resume"] = resume_from_args(args)
    values["download"] = args.download or None
    values["wandb"] = args.wandb or None
    values["tensorboard"] = args.tensorboard or None
    values["normalize_observations"] = args.normalize_observations or None
    require_trackers(args.wandb, args.tensorboard)
    return make_config(args.env_name, **values)


@_command("iql-train", interrupted="rerun the same command to continue from the last checkpoint")
def train_main(argv: list[str] | None = None) -> None:
    args = train_parser().parse_args(argv)
    from iql_lib.training.run_folder import reached_step
    from iql_lib.training.train import train  # after parsing: --help needs no torch

    cfg = config_from_args(args)
    finished = {s for s in cfg.seeds if cfg.resume and reached_step(Path(cfg.out) / cfg.run_name(s), cfg.num_timesteps)}
    for seed, run_dir in zip(cfg.seeds, train(cfg, progress=not args.quiet)):
        print(f"seed {seed}: {run_dir}" + (" (finished already; --fresh retrains it)" if seed in finished else ""))


@_command("iql-data")
def data_main(argv: list[str] | None = None) -> None:
    from iql_lib.datagen.antmaze import DEFAULT_STYLES, MAZE_TEST_TASK, STYLES, UNMEASURED_TASKS_STYLE
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
    test = walker_sub.add_parser("test", help="the walking test (speed along the command and flips on the open "
                                              "floor), then the maze test (falls and goals in the maze)")
    test.add_argument("weights", nargs="?", help="a walker.pt (default: the shipped walker)")
    test.add_argument("--rollouts", type=int, default=24, help="30-second rollouts on the open floor (default 24)")
    test.add_argument("--maze-episodes", type=int, default=200,
                      help=f"1000-step navigate episodes in {MAZE_TEST_TASK} (default 200; 0 skips the test)")
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
    gen.add_argument("--style", choices=sorted(STYLES),
                     help=f"the data mode (default: {defaults}{UNMEASURED_TASKS_STYLE} on the other tasks). "
                          "walker: D4RL's procedure and D4RL's kind of controller, the learned walker (SAC) "
                          "heading for D4RL's noisy waypoints; navigate: the walker with OGBench's procedure, "
                          "a new goal whenever one is reached; d4rl: D4RL's procedure, one goal per 1000-step "
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
    render.add_argument("--style", choices=sorted(STYLES), help="the data mode (default: the task's)")
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
        from iql_lib.datagen.antmaze import MAZE_TEST_TASK, maze_test

        tested = walker.Walker.load(args.weights or walker.WALKER_FILE)
        stats = walker.walking_test(tested, rollouts=args.rollouts)
        print(f"open floor: {stats.speed:.2f} m/s along the command; {stats.flips} flips and {stats.unhealthy} "
              f"rollouts out of the healthy range, in {stats.rollouts} rollouts of 30 s")
        if args.maze_episodes > 0:
            maze = maze_test(tested, episodes=args.maze_episodes)
            print(f"maze: {maze.falls} falls and {maze.goals_reached} goals reached in {args.maze_episodes} "
                  f"navigate episodes of {MAZE_TEST_TASK}")
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
        from iql_lib.analysis.plots import plot_coverage, plot_trajectories

        if antmaze:
            plot_coverage(env, data.observations[:, :2], plot, title=f"{Path(path).name}: visited x-y")
        else:
            trajectories = [env.positions_from_observations(data.observations[a:b])
                            for a, b in data.episode_bounds()]
            plot_trajectories(env, trajectories, plot, title=Path(path).name)
        print(f"wrote {plot}")


def sweep_parser() -> argparse.ArgumentParser:
    from iql_lib.assignment.course_sets import COURSE_SETS
    from iql_lib.envs import ENV_SPECS
    from iql_lib.parallel.sweep import SHARED

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
    _share_train_options(shared, [dest for dest in SHARED if dest != "seeds"])
    ray = p.add_argument_group("where and how")
    _add(ray, "--address", help="a running Ray cluster (host:port, or auto); default: a local Ray")
    _add(ray, "--num-cpus", type=int, help="cores of the local Ray (default: all)")
    _add(ray, "--cpus-per-trial", type=int, default=1, help="cores (torch threads) per trial (default 1)")
    _add(ray, "--max-retries", type=int, default=3, help="retries of a trial whose worker died (default 3)")
    _add(ray, "--out", default="runs/sweep", help="the runs, sweep.json, csv_data/ and report/ (runs/sweep)")
    add_resume_options(ray, "retrain every trial from scratch (default: skip finished trials, resume the others)")
    _add(ray, "--no-report", action="store_true", help="skip iql-report's tables at the end")
    return p


@_command("iql-sweep", interrupted="rerun the same command to resume (finished trials are skipped)")
def sweep_main(argv: list[str] | None = None) -> int:
    from iql_lib.parallel.sweep import AXES, SHARED, course_trials, grid_trials, read_grid_file, run_sweep

    args = sweep_parser().parse_args(argv)
    flags = {k: v for k, v in vars(args).items() if k in AXES + SHARED and v not in (None, False)}
    grid = {**(read_grid_file(args.grid) if args.grid else {}), **flags}
    grid.setdefault("seeds", [1, 2, 3])
    require_trackers(grid.get("wandb", False), grid.get("tensorboard", False))
    out = Path(args.out).resolve()
    fresh = not resume_from_args(args)
    if args.course:
        if args.grid or any(k in grid for k in AXES):
            raise ValueError("--course runs the course's configurations: give no grid (--grid, --algo, "
                             "--env-name, --iql-expectile, ...) with it")
        trials = course_trials(args.course, grid, out)
    else:
        trials = grid_trials(grid, out)
    if fresh:
        for t in trials:
            t.trial.clear()
    return run_sweep(trials, out, address=args.address, num_cpus=args.num_cpus,
                     cpus_per_trial=args.cpus_per_trial, max_retries=args.max_retries,
                     report=not args.no_report)


def _share_train_options(group, dests: list[str]) -> None:
    """iql-train's own options for `dests`, underscore spellings included, so the verbs never drift."""
    for action in train_parser()._actions:
        if action.dest in dests:
            group._add_action(action)


DEMO_SHARED = ("seeds", "num_timesteps", "eval_freq", "eval_episodes", "eval_mode", "offline_dataset", "device",
               "compile", "blanks")


def demo_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="iql-demo",
        description="Run the course's PointMass stitching experiment (P2.3): `iql sweep --course stitching` on "
                    "a local Ray (IQL ζ=0.9, ζ=0.2 and filtered BC top 10 %, each method's seeds batched in one "
                    "trial), then print and save the summary and figures. Rerun to resume: finished methods "
                    "are skipped.")
    p.add_argument("experiment", nargs="?", default="stitching", choices=["stitching"],
                   help="which experiment to run (default: stitching)")
    _add(p, "--seed", "--seeds", dest="seeds", type=int, nargs="+", default=[1, 2, 3],
         help="seeds of every method (default 1 2 3)")
    _share_train_options(p, [dest for dest in DEMO_SHARED if dest != "seeds"])
    _add(p, "--out", default="runs/stitching",
         help="the runs, and summary.json, summary.md and the figures (default: runs/stitching)")
    _add(p, "--runs-dir", help="the runs here instead, the summary staying in --out (older command lines)")
    _add(p, "--num-cpus", "--workers", dest="num_cpus", type=int,
         help="cores of the local Ray, one method training on each (default: all)")
    add_resume_options(p, "retrain every method from scratch (default: skip finished methods, resume the others)")
    return p


@_command("iql-demo", interrupted="rerun the same command to resume (finished methods are skipped)")
def demo_main(argv: list[str] | None = None) -> int:
    args = demo_parser().parse_args(argv)
    from iql_lib.assignment.stitching_demo import run_stitching

    shared = {k: v for k, v in vars(args).items() if k in DEMO_SHARED and v is not None}
    return run_stitching(shared, Path(args.runs_dir or args.out), Path(args.out), num_cpus=args.num_cpus,
                         fresh=not resume_from_args(args))


@_command("iql-report")
def report_main(argv: list[str] | None = None) -> None:
    from iql_lib.assignment.blank_sources import load_blanks
    from iql_lib.analysis.report import build_report, report_parser

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
    from iql_lib.assignment.submission import check, json_report, load_thresholds, submission_parser, text_report

    args = submission_parser().parse_args(argv)
    if not args.folder.is_dir():
        raise FileNotFoundError(f"no folder {args.folder}")
    checks = check(args.folder, load_thresholds(args.thresholds))
    print(json.dumps(json_report(checks), indent=2) if args.json
          else text_report(args.folder, args.thresholds, checks))
    return 0 if all(c.ok for c in checks) else 1


# --- iql <verb> -------------------------------------------------------------------------------

# Each verb's entry point as "module:function", imported only when the verb runs: `iql --help`
# needs no torch, and no library module imports the course or the instructors' tools.
VERBS: dict[str, tuple[str, str]] = {
    "train": ("iql_lib.cli:train_main", "train IQL, AWAC or BC on a fixed dataset (iql-train)"),
    "sweep": ("iql_lib.cli:sweep_main", "train a grid of configurations, or the course's sets, on Ray (iql-sweep)"),
    "demo": ("iql_lib.cli:demo_main", "the course's stitching experiment end to end (iql-demo, make demo)"),
    "data": ("iql_lib.cli:data_main", "generate, convert, inspect and film offline datasets (iql-data)"),
    "report": ("iql_lib.cli:report_main", "the course's write-up tables and figures from run folders (iql-report)"),
    "render": ("iql_lib.cli:render_main", "film a run's policy as MP4 and GIF (iql-render)"),
    "check": ("iql_lib.cli:check_submission_main",
              "check a csv_data/ submission against the course's bars (iql-check-submission)"),
    "grade": ("iql_lib.course.grade:main", "check your chapter notebooks' blanks and quiz (iql-grade)"),
    "lab": ("iql_lib.course.lab:main", "open the course's notebooks in JupyterLab (make lab)"),
    "release": ("autograder.release:main",
                "instructors: regenerate notebooks/ from solutions/, or build the student bundle"),
    "grade-class": ("autograder.grade:main",
                    "instructors: grade every student's notebooks in a sandbox into grades.csv (make grade)"),
    "formgrader": ("autograder.formgrader:main", "instructors: JupyterLab on nbgrader's Formgrader (make formgrader)"),
}
INSTRUCTORS = "autograder"  # the instructors' package: in the course's repository, not installed


def iql_parser() -> argparse.ArgumentParser:
    """For `iql --help` and a missing or unknown verb; the verbs parse their own options."""
    p = argparse.ArgumentParser(prog="iql", description="Offline RL with IQL: the library's and the course's "
                                                        "commands. `iql <verb> --help` shows a verb's options.")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="<verb>")
    for verb, (_, about) in VERBS.items():
        verbs.add_parser(verb, help=about)
    return p


def _entry_point(verb: str) -> Callable[[list[str]], int | None]:
    module, function = VERBS[verb][0].split(":")
    if module.split(".")[0] == INSTRUCTORS and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m autograder.<tool>` run here would find it
    try:
        return getattr(importlib.import_module(module), function)
    except ModuleNotFoundError as err:
        if err.name != INSTRUCTORS:
            raise
        raise UserError(f"`iql {verb}` is for instructors: run it in the course's repository, which holds "
                        f"{INSTRUCTORS}/") from None


@_command("iql")
def main(argv: list[str] | None = None) -> int | None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in VERBS:
        iql_parser().parse_args(argv)  # prints the help, or the usage error naming the verbs
        return 2
    return _entry_point(argv[0])(argv[1:])
