"""Command-line entry points: `iql-train`, `iql-data`, `iql-demo`.

Every option has a dashed spelling (`--env-name`) and the underscore spelling the
course's materials use (`--env_name`). Defaults not given on the command line come
from `iql_lib.config`, per env family.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from iql_lib.config import ENV_FAMILY_DEFAULTS, TrainConfig, make_config
from iql_lib.tracking import require_trackers

ERRORS_SHOWN_PLAINLY = (ValueError, FileNotFoundError, RuntimeError)


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
                                      "(default: the env's shipped dataset)")
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
    require_trackers(args.wandb, args.tensorboard)
    return make_config(args.env_name, **values)


def train_main(argv: list[str] | None = None) -> int:
    args = train_parser().parse_args(argv)
    try:
        from iql_lib.train import train

        cfg = config_from_args(args)
        for seed, run_dir in zip(cfg.seeds, train(cfg, progress=not args.quiet)):
            print(f"seed {seed}: {run_dir}")
    except KeyboardInterrupt:
        print("interrupted; rerun with --resume to continue from the last checkpoint", file=sys.stderr)
        return 130
    except ERRORS_SHOWN_PLAINLY as err:
        print(f"iql-train: error: {err}", file=sys.stderr)
        return 2
    return 0


def data_main(argv: list[str] | None = None) -> int:
    from iql_lib.envs.antmaze import TASKS

    p = argparse.ArgumentParser(
        prog="iql-data", description="Build and inspect offline datasets.",
        epilog="examples:\n"
               "  iql-data generate antmaze-umaze-v0 --transitions 1000000 --seed 0\n"
               "  iql-data info ~/.cache/iql-lib/antmaze-umaze-v0-generated-seed0.npz --plot coverage.png\n"
               "  iql-data convert minari:D4RL/antmaze/umaze-v1 umaze.npz --download",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    make = sub.add_parser("make-stitching", help="regenerate the PointMass stitching dataset")
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--out", default="datasets/pointmass_stitching_dataset.npz")
    gen = sub.add_parser("generate", help="generate a D4RL-style AntMaze dataset locally (no network)")
    gen.add_argument("task", choices=sorted(TASKS), metavar="TASK", help=f"one of {', '.join(sorted(TASKS))}")
    gen.add_argument("--transitions", type=int, default=1_000_000, help="steps to record (default 1000000)")
    gen.add_argument("--seed", type=int, default=0, help="the same seed gives the same bytes (default 0)")
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
    args = p.parse_args(argv)
    try:
        if args.command == "convert":
            from iql_lib.data.loaders import convert

            data = convert(args.source, args.out, download=args.download)
            print(f"wrote {args.out}: {len(data)} transitions, {len(data.episode_bounds())} episodes")
            return 0
        if args.command == "make-stitching":
            from iql_lib.data.stitching import generate_stitching_dataset

            data, personas = generate_stitching_dataset(args.seed)
            data.save_npz(args.out, personas=personas)
            print(f"wrote {args.out}")
            args = argparse.Namespace(dataset=args.out, env_name="PointmassMedium-v0", plot=None)
        elif args.command == "generate":
            from iql_lib.datagen.antmaze import default_dataset_path, generate_to_file

            out = args.out or default_dataset_path(args.task, args.seed)
            generate_to_file(args.task, out, args.transitions, seed=args.seed)
            print(f"wrote {out}")
            args = argparse.Namespace(dataset=str(out), env_name=args.task, plot=None)
        _print_info(args.dataset, args.env_name, args.plot)
    except ERRORS_SHOWN_PLAINLY as err:
        print(f"iql-data: error: {err}", file=sys.stderr)
        return 2
    return 0


def _print_info(path: str, env_name: str | None, plot: str | None) -> None:
    from iql_lib.data import dataset_frame, load_dataset
    from iql_lib.data.loaders import npz_entries
    from iql_lib.envs import env_spec, make_env

    env_name = env_name or npz_entries(path, "task")["task"] or "PointmassMedium-v0"
    env = make_env(env_name, frame=dataset_frame(path))
    data = load_dataset(path, env)
    returns = data.episode_returns()
    print(f"{path}: {len(data)} transitions, {len(returns)} episodes, "
          f"{int(data.terminals.sum())} reach a terminal state")
    print(f"episode return: best {returns.max():.1f}, mean {returns.mean():.1f}, "
          f"worst {returns.min():.1f}")
    antmaze = env_spec(env_name).family == "antmaze"
    if antmaze:
        from iql_lib.datagen.antmaze import describe_generated, mean_speed

        print(f"mean speed {mean_speed(data.observations, data.next_observations):.2f} m/s")
        for line in describe_generated(path):
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


def demo_main(argv: list[str] | None = None) -> int:
    from iql_lib.experiments import stitching_parser, run_stitching

    args = stitching_parser().parse_args(argv)
    try:
        run_stitching(args)
    except ERRORS_SHOWN_PLAINLY as err:
        print(f"iql-demo: error: {err}", file=sys.stderr)
        return 2
    return 0
