"""`iql-render` and `iql-data render`: episodes of a trained run's policy, or of a
dataset's collector, filmed to MP4 and GIF.

A run's policy plays greedily (its mean or most likely action), episode `i` from
`reset(seed=seed + i)` as evaluations do, from the run's final checkpoint or one chosen.
Each frame shows the episode's state in the task's views (AntMaze: a camera following the
ant and the maze from above, side by side, or one of them; PointMass: its maze), under a
strip with the step, the return so far and, once they happen, success or a fall.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from iql_lib.rendering.video import FORMATS, Recording, caption

POINTMASS_FPS = 10.0  # PointMass steps have no duration of their own


def camera_for(env, views: tuple[str, ...] | None = None, width: int = 320, height: int = 240):
    """The task's camera: MuJoCo's for AntMaze, matplotlib's for PointMass; `views` None:
    all the task's views."""
    from iql_lib.envs.antmaze import AntMazeEnv

    if isinstance(env, AntMazeEnv):
        from iql_lib.rendering.antmaze import VIEWS, AntMazeCamera

        return AntMazeCamera(env, views or VIEWS, width, height)
    from iql_lib.rendering.pointmass import VIEWS, PointMassCamera

    return PointMassCamera(env, views or VIEWS, width, height)


def frames_per_second(env) -> float:
    """The episode's own pace: one frame per env step (AntMaze: 0.05 or 0.1 s)."""
    return 1.0 / env.dt if hasattr(env, "dt") else POINTMASS_FPS


def film_frame(camera, episode, t: int) -> np.ndarray:
    """Frame `t` of `episode` (its state after `t` steps), captioned."""
    status = episode.status(t)
    picture = camera.frame(episode.observations[: t + 1], episode.goal, status)
    return caption(picture, episode.title, episode.caption(t), status)


def film(episodes: list, camera, stem: str | Path, fps: float, formats: tuple[str, ...] = FORMATS,
         gif_every: int = 2, progress: bool = True) -> list[Path]:
    """Each episode `k` to `<stem>_episode<k>.mp4` / `.gif` through `camera` (closed at the end);
    returns the files written."""
    bar = tqdm(total=sum(len(e) + 1 for e in episodes), desc=f"rendering {Path(stem).name}", unit="frame",
               disable=not progress)
    written = []
    try:
        for k, episode in enumerate(episodes):
            recording = Recording(f"{stem}_episode{k}", fps, formats, gif_every)
            for t in range(len(episode) + 1):
                recording.add(lambda: film_frame(camera, episode, t))
                bar.update()
            written += recording.close()
    finally:
        bar.close()
        camera.close()
    return written


def play_run(run_dir: str | Path, episodes: int = 1, seed: int = 0, checkpoint: str | Path | None = None,
             max_steps: int | None = None, blanks=None):
    """`episodes` greedy episodes of a run's policy: `(episodes, env)`. `checkpoint`: a
    checkpoint file of this run to act with instead of its last (`checkpoint.pt`)."""
    import torch

    from iql_lib.rendering.episodes import play
    from iql_lib.training.train import load_policy

    run_dir = Path(run_dir)
    engine, _, _, env = load_policy(run_dir, blanks=blanks)
    if checkpoint is not None:
        engine.load_seed_state(0, torch.load(checkpoint, map_location="cpu", weights_only=False)["engine"])
    generator = torch.Generator()  # greedy actions draw nothing from it

    def act(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return engine.act(0, torch.as_tensor(obs[None], dtype=torch.float32), True, generator)[0].numpy()

    return [play(env, act, seed + i, f"{run_dir.name}: episode {i}", max_steps) for i in range(episodes)], env


def render_run(run_dir: str | Path, out: str | Path | None = None, *, episodes: int = 1, seed: int = 0,
               checkpoint: str | Path | None = None, views: tuple[str, ...] | None = None,
               size: tuple[int, int] = (320, 240), formats: tuple[str, ...] = FORMATS, gif_every: int = 2,
               max_steps: int | None = None, name: str | None = None, blanks=None,
               progress: bool = True) -> list[Path]:
    """A run's greedy episodes filmed to `out` (default `<run_dir>/videos`) as
    `<name>_episode<k>` (default name: the run's folder's)."""
    played, env = play_run(run_dir, episodes, seed, checkpoint, max_steps, blanks)
    out = Path(out) if out is not None else Path(run_dir) / "videos"
    return film(played, camera_for(env, views, *size), out / (name or Path(run_dir).name), frames_per_second(env),
                formats, gif_every, progress)


def render_collector(task: str, out: str | Path, *, style: str | None = None, seed: int = 0, episodes: int = 2,
                     views: tuple[str, ...] | None = None, size: tuple[int, int] = (320, 240),
                     formats: tuple[str, ...] = FORMATS, gif_every: int = 2, max_steps: int | None = None,
                     progress: bool = True) -> list[Path]:
    """The first `episodes` episodes of the dataset `iql-data generate TASK --style STYLE
    --seed SEED` writes, made again by its collector and filmed to `out`."""
    from iql_lib.datagen.antmaze import EpisodeMaker
    from iql_lib.rendering.episodes import collector_episode

    maker = EpisodeMaker(task, style)
    played = [collector_episode(maker, seed, i, max_steps) for i in range(episodes)]
    return film(played, camera_for(maker.env, views, *size), Path(out) / f"{task}-{maker.style}-seed{seed}",
                frames_per_second(maker.env), formats, gif_every, progress)


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 320x240, got {text!r}") from None
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise argparse.ArgumentTypeError(f"width and height must be even and at least 16, got {text!r}")
    return width, height


def add_film_options(p: argparse.ArgumentParser, episodes: int) -> None:
    """The options iql-render and iql-data render share: which views, size, files, where."""
    p.add_argument("--episodes", type=int, default=episodes, help=f"episodes to film (default {episodes})")
    p.add_argument("--max-steps", type=int, help="cut each episode after this many steps (default: its end)")
    p.add_argument("--view", choices=["follow", "top", "both"], default="both",
                   help="AntMaze: the camera that follows the ant, the maze from above with the goal, or both "
                        "side by side (default both); PointMass has the maze only")
    p.add_argument("--size", type=_size, default=(320, 240), metavar="WxH",
                   help="pixels of each view (default 320x240)")
    p.add_argument("--format", dest="formats", nargs="+", choices=FORMATS, default=list(FORMATS),
                   help="files to write (default: mp4 gif)")
    p.add_argument("--gif-every", type=int, default=2,
                   help="the GIF keeps every k-th frame and plays k times faster (default 2)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def film_options(args: argparse.Namespace) -> dict:
    """`add_film_options`' values as `render_run` / `render_collector` keywords."""
    return dict(episodes=args.episodes, max_steps=args.max_steps, size=args.size, formats=tuple(args.formats),
                views=None if args.view == "both" else (args.view,), gif_every=args.gif_every,
                progress=not args.quiet)


def render_parser() -> argparse.ArgumentParser:
    """`iql-render`'s options (the command is `iql_lib.cli.render_main`)."""
    p = argparse.ArgumentParser(
        prog="iql-render",
        description="Film a trained run's policy acting greedily, as MP4 and GIF: on AntMaze a camera "
                    "following the ant beside the maze from above, on PointMass the maze; the step, the "
                    "return so far and success or a fall on every frame.",
        epilog="examples:\n"
               "  iql-render runs/iql_zeta_0.9_antmaze-umaze-v0_seed1\n"
               "  iql-render runs/iql_zeta_0.9_antmaze-umaze-v0_seed1 --episodes 3 --view follow --format mp4\n"
               "  iql-render RUN --checkpoint kept/checkpoint_100k.pt --out videos/",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a run directory (config.json and checkpoint.pt)")
    p.add_argument("--checkpoint", help="a checkpoint file of this run to act with (default: the run's "
                                        "checkpoint.pt, its last evaluation's)")
    p.add_argument("--seed", type=int, default=0,
                   help="episode i starts from reset(seed=SEED + i), as evaluations do (default 0)")
    p.add_argument("--out", help="where the files go (default RUN/videos)")
    p.add_argument("--blanks", help="the six IQL blanks to rebuild an IQL policy with (default: the run's)")
    add_film_options(p, episodes=1)
    return p
