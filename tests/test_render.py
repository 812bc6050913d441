"""Rendered rollouts (`iql_lib.rendering`): real MuJoCo frames of the ant's states, the
files they make read back, `iql-render` on PointMass and AntMaze runs, `iql-data render`,
the report's GIFs, and the error without an offscreen OpenGL."""
from __future__ import annotations

import os
import subprocess
import sys

import imageio.v2 as imageio
import numpy as np
import pytest
import torch
from PIL import Image

from iql_lib.cli import data_main, render_main, train_main
from iql_lib.datagen import antmaze as datagen
from iql_lib.envs.antmaze import SCALE
from iql_lib.training.evaluate import evaluate_envs
from iql_lib.rendering.antmaze import AntMazeCamera
from iql_lib.rendering.episodes import Episode, collector_episode
from iql_lib.rendering.films import play_run
from iql_lib.rendering.gl import prefer_offscreen_gl
from iql_lib.training.train import load_policy
from iql_lib.analysis.antmaze_value_maps import greedy_act

UMAZE = "antmaze-umaze-v0"


def read_back(path) -> tuple[int, tuple[int, int]]:
    """(frames, (width, height)) of an MP4 or GIF, as a player decodes it."""
    if path.suffix == ".gif":
        with Image.open(path) as gif:
            return gif.n_frames, gif.size
    with imageio.get_reader(path) as video:
        return video.count_frames(), tuple(video.get_meta_data()["size"])


@pytest.fixture(scope="module")
def collector():
    """The first 40 steps of umaze's default (minari-style) collector, seed 0, and its maker."""
    maker = datagen.EpisodeMaker(UMAZE)
    return maker, collector_episode(maker, seed=0, index=0, max_steps=40)


@pytest.fixture(scope="module")
def antmaze_run(tmp_path_factory):
    """IQL trained 20 steps on a tiny d4rl-style umaze dataset: its run folder."""
    root = tmp_path_factory.mktemp("antmaze")
    data, extra = datagen.generate(UMAZE, 1200, seed=3, style="d4rl", progress=False)
    data.save_npz(root / "umaze.npz", **extra)
    assert train_main(["--env-name", UMAZE, "--offline-dataset", str(root / "umaze.npz"), "--num-timesteps", "20",
                       "--eval-freq", "20", "--eval-episodes", "1", "--hidden-size", "32", "--out", str(root),
                       "--quiet"]) == 0
    return next(root.glob(f"iql_*_{UMAZE}_seed1"))


def test_offscreen_gl_is_egl_here_unless_the_user_chose(monkeypatch):
    assert prefer_offscreen_gl({}) == "egl"  # Mesa's EGL: .ci/run installs it
    chosen = {"MUJOCO_GL": "osmesa"}
    assert prefer_offscreen_gl(chosen) == "osmesa" and chosen == {"MUJOCO_GL": "osmesa"}
    assert os.environ["MUJOCO_GL"] == "egl"  # set when iql_lib was imported, before MuJoCo was


def test_the_caption_counts_the_return_and_marks_success_and_falls():
    """A collector's ant walks on after its goal, and may fall on its back after it."""
    reached, on_back = np.arange(6) == 2, np.arange(7) >= 4
    episode = Episode("run", np.zeros((7, 29)), np.where(reached, 0.0, -1.0), reached, np.zeros(2), on_back)
    assert [episode.status(t) for t in range(7)] == ["running"] * 3 + ["success"] + ["fell"] * 3
    assert episode.caption(2) == "step 2/6   return -2"
    assert episode.caption(3) == "step 3/6   return -2   success at step 3"
    assert episode.caption(6) == "step 6/6   return -5   success at step 3   fell at step 4"


def test_frames_are_mujocos_pictures_of_the_ants_state(collector):
    maker, episode = collector
    camera = AntMazeCamera(maker.env, width=160, height=120)
    first, last = (camera.frame(episode.observations[: t + 1], episode.goal) for t in (0, len(episode)))
    assert first.shape == (120, 320, 3) and first.std() > 20  # a scene, not a blank
    assert np.array_equal(first, camera.frame(episode.observations[:1], episode.goal))  # the state decides
    moved = np.linalg.norm(episode.observations[-1, :2] - episode.observations[0, :2])
    assert moved > 0.3 and np.abs(first[:, :160].astype(int) - last[:, :160]).mean() > 5  # the follow view moves
    # the top view marks the ant where it is: blue over the grey floor, at its x-y on the map
    fovy = camera._views["top"].fovy
    for frame, (x, y) in ((first, episode.observations[0, :2]), (last, episode.observations[-1, :2])):
        top = frame[:, 160:].astype(int)
        row, col = round(60 - y * 120 / fovy), round(80 + x * 120 / fovy)
        r, g, b = top[row, col]
        assert b > r + 60, f"no marker at the ant's place ({row}, {col}): {top[row, col]}"
    away = np.array([round(60 - episode.goal[1] * 120 / fovy), round(80 + episode.goal[0] * 120 / fovy)])
    r, g, b = first[away[0], 160 + away[1]].astype(int)
    assert r > g + 60 and r > b + 60  # the goal, in red
    assert SCALE * 5 < fovy < SCALE * 6  # the whole 5-cell maze, a little around it
    camera.close()


def test_iql_data_render_writes_files_that_play(tmp_path, capsys):
    assert data_main(["render", UMAZE, "--episodes", "1", "--max-steps", "30", "--size", "160x120",
                      "--out", str(tmp_path), "--quiet"]) == 0
    gif, mp4 = sorted(tmp_path.iterdir())
    assert (gif.name, mp4.name) == (f"{UMAZE}-minari-seed0_episode0.gif", f"{UMAZE}-minari-seed0_episode0.mp4")
    assert f"wrote {mp4}" in capsys.readouterr().out
    frames, size = read_back(mp4)
    assert frames == 31 and size[0] == 320 and size[1] > 120  # both views, under the caption strip
    assert read_back(gif) == (16, size)  # every 2nd frame
    with imageio.get_reader(mp4) as video:
        start, end = video.get_data(0).astype(int), video.get_data(30)
    assert np.abs(start - end).mean() > 3  # the ant walked


def test_iql_render_films_a_pointmass_run(tmp_path, capsys):
    assert train_main(["--num-timesteps", "20", "--eval-freq", "20", "--eval-episodes", "1", "--out",
                       str(tmp_path), "--quiet", "--compile", "off"]) == 0
    run = next(tmp_path.glob("iql_*_seed1"))
    assert render_main([str(run), "--max-steps", "12", "--size", "200x160", "--format", "gif", "--gif-every", "1",
                        "--quiet"]) == 0
    (gif,) = (run / "videos").iterdir()
    frames, (width, height) = read_back(gif)
    assert frames == 13 and width == 200 and height > 160
    assert render_main([str(run), "--view", "follow"]) == 2
    assert "PointMass has one view" in capsys.readouterr().err


def test_a_rendered_episode_is_the_evaluations_and_a_chosen_checkpoint_acts(antmaze_run, tmp_path):
    (episode,), env = play_run(antmaze_run)
    engine = load_policy(antmaze_run)[0]
    evaluation = evaluate_envs(greedy_act(engine), [env], 1, seed=0)
    assert episode.rewards.sum() == evaluation.returns[0]
    assert np.allclose(episode.observations[:, :2], evaluation.trajectories[0])
    checkpoint = torch.load(antmaze_run / "checkpoint.pt", weights_only=False)
    checkpoint["engine"]["params"]["policy"] += 0.3  # another policy
    torch.save(checkpoint, tmp_path / "other.pt")
    (other,), _ = play_run(antmaze_run, checkpoint=tmp_path / "other.pt", max_steps=20)
    assert not np.allclose(other.observations, episode.observations[:21])


def test_iql_render_films_an_antmaze_run(antmaze_run, tmp_path):
    assert render_main([str(antmaze_run), "--max-steps", "8", "--view", "top", "--size", "96x72",
                        "--out", str(tmp_path), "--quiet"]) == 0
    gif, mp4 = sorted(tmp_path.iterdir())
    assert [gif.name, mp4.name] == [f"{antmaze_run.name}_episode0.{suffix}" for suffix in ("gif", "mp4")]
    (gif_frames, gif_size), (mp4_frames, mp4_size) = read_back(gif), read_back(mp4)
    assert (gif_frames, mp4_frames) == (5, 9) and gif_size == mp4_size and mp4_size[0] == 96 and mp4_size[1] > 72


def test_the_report_shows_the_best_seeds_ant(antmaze_run, tmp_path):
    from iql_lib.analysis.report import build_report

    markdown = build_report([str(antmaze_run)], tmp_path)
    gif = "p2_1_zeta_sweep_rollout_iql_zeta_0.9_episode0.gif"
    assert f"![{gif}]({gif})" in markdown
    (episode,), _ = play_run(antmaze_run)  # the episode it shows
    frames, size = read_back(tmp_path / gif)
    assert frames == -(-(len(episode) + 1) // 5) and size[0] == 480  # every 5th step, both views of 240 pixels


def test_without_an_offscreen_gl_the_error_names_the_packages(tmp_path):
    """Where no offscreen backend loads, MUJOCO_GL stays unset and MuJoCo takes GLFW, which
    needs a display: the same as choosing GLFW with none."""
    environ = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    run = subprocess.run(
        [sys.executable, "-c", "import sys; from iql_lib.cli import data_main; sys.exit(data_main(sys.argv[1:]))",
         "render", UMAZE, "--episodes", "1", "--max-steps", "2", "--out", str(tmp_path), "--quiet"],
        capture_output=True, text=True, env={**environ, "MUJOCO_GL": "glfw"}, timeout=120)
    assert run.returncode != 0 and "MuJoCo could not render offscreen (MUJOCO_GL=glfw" in run.stderr
    assert "apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri" in run.stderr and "libosmesa6" in run.stderr
    assert not list(tmp_path.iterdir())
