"""A run's rollout shown in a notebook: its GIF where a person watches; under nbgrader,
which executes the notebook with no one watching, still frames in one PNG, as the course's
sliders give way to static figures there (and a GIF per run would swell every graded copy)."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from iql_lib.course.grading_run import nbgrader_execution
from iql_lib.rendering.films import camera_for, film, film_frame, frames_per_second, play_run

STILLS = 4  # frames of the static figure, evenly spread over the episode, two to a row


def show_rollout(run_dir: str | Path, *, blanks=None, gif_every: int = 4,
                 size: tuple[int, int] = (320, 240)) -> Path | None:
    """Display one greedy episode of the run's final policy (from reset seed 0, as its
    evaluations start): the GIF it writes to `<run_dir>/videos/` (every `gif_every`-th
    frame), or under nbgrader `STILLS` of its frames. Returns the GIF's path (None under
    nbgrader)."""
    from IPython.display import Image as Shown
    from IPython.display import display

    (episode,), env = play_run(run_dir, blanks=blanks)
    if nbgrader_execution() is None:
        (gif,) = film([episode], camera_for(env, width=size[0], height=size[1]),
                      Path(run_dir) / "videos" / Path(run_dir).name, frames_per_second(env), ("gif",), gif_every)
        display(Shown(filename=gif))
        return gif
    camera = camera_for(env, width=size[0] * 3 // 4, height=size[1] * 3 // 4)
    frames = [film_frame(camera, episode, t) for t in np.linspace(0, len(episode), STILLS).round().astype(int)]
    camera.close()
    png = io.BytesIO()
    Image.fromarray(np.concatenate([np.concatenate(frames[i: i + 2], axis=1) for i in range(0, STILLS, 2)])).save(
        png, format="PNG")
    display(Shown(data=png.getvalue()))
    return None
