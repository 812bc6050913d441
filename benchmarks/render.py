"""How long filming a 1000-step AntMaze episode takes: MuJoCo's offscreen frames, the
caption, the MP4 and the GIF, as `iql-render` and `iql-data render` make them.

    python benchmarks/render.py   # writes benchmarks/results/render_cpu.json

The episode is the first of medium-diverse's default data collector (1000 steps, the ant
walking the maze), filmed at 320×240 per view: the follow camera alone, the maze from
above alone, and both side by side (the default). The machine's load average is recorded
with the times, since other work on the CPU slows every frame.
"""
from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from iql_lib.datagen.antmaze import EpisodeMaker  # noqa: E402
from iql_lib.rendering.episodes import collector_episode  # noqa: E402
from iql_lib.rendering.films import camera_for, film, frames_per_second  # noqa: E402

TASK = "antmaze-medium-diverse-v0"
SIZE = (320, 240)


def main() -> None:
    maker = EpisodeMaker(TASK)
    start = time.perf_counter()
    episode = collector_episode(maker, seed=0, index=0)
    results = {
        "date": datetime.date.today().isoformat(), "task": TASK, "style": maker.style, "steps": len(episode),
        "size_per_view": list(SIZE), "MUJOCO_GL": os.environ.get("MUJOCO_GL"), "mujoco": importlib.metadata.version("mujoco"),
        "cpus": os.cpu_count(), "machine": platform.processor() or platform.machine(),
        "make_episode_s": time.perf_counter() - start, "load_average_before": os.getloadavg(), "views": {},
    }
    for views in (("follow",), ("top",), ("follow", "top")):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            files = film([episode], camera_for(maker.env, views, *SIZE), Path(out) / "episode",
                         frames_per_second(maker.env), progress=False)
            seconds = time.perf_counter() - start
            sizes = {path.suffix[1:]: path.stat().st_size for path in files}
        frames = len(episode) + 1
        results["views"]["+".join(views)] = {"seconds": seconds, "s_per_frame": seconds / frames,
                                             "s_per_1000_steps": seconds / frames * 1000, "bytes": sizes}
        print("+".join(views), json.dumps(results["views"]["+".join(views)]), flush=True)
    results["load_average_after"] = os.getloadavg()
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "render_cpu.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
