"""Wall time of the course's PointMass set on Ray vs one run after another, and Ray's start-up.

    python benchmarks/sweep_wall_time.py    # writes benchmarks/results/sweep_wall_time_<device>.json

The set is P2.3 (`iql-sweep --course stitching`): IQL ζ = 0.9, IQL ζ = 0.2 and filtered BC
(top 10 %), 3 seeds each, 50k steps. The sweep trains each configuration's seeds in one Ray
task with one core; the baseline runs the same three `iql-train --seed 1 2 3` commands one
after another, each with one thread too (on a CPU shared with other work, two threads per
run measured several times slower here, not faster). Ray's overhead: starting a local Ray,
the first task's round trip (a worker process starting), and shutting Ray down. The load
average is recorded too: the numbers mean little on a machine busy with other work.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.wall_time import timed  # noqa: E402
from iql_lib.parallel.cluster import connect  # noqa: E402
from iql_lib.assignment.course_sets import COURSE_SETS  # noqa: E402

FLAGS = {"algo": "--algo", "expectile": "--iql-expectile", "filter_top_percent": "--filter-top-percent",
         "exp_name": "--exp-name"}


def _noop() -> int:
    return os.getpid()


def ray_overhead() -> dict:
    import ray

    start = time.perf_counter()
    connect()
    started = time.perf_counter()
    ray.get(ray.remote(_noop).remote())
    first_task = time.perf_counter()
    ray.shutdown()
    return {"ray_start_s": started - start, "ray_first_task_s": first_task - started,
            "ray_shutdown_s": time.perf_counter() - first_task}


def main() -> None:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    results = {"device": device, "cpus": os.cpu_count(), "load_average_before": os.getloadavg()}
    results.update(ray_overhead())
    with tempfile.TemporaryDirectory() as tmp:
        results["iql_sweep_course_stitching_s"] = timed([str(BIN / "iql-sweep"), "--course", "stitching",
                                                         "--out", f"{tmp}/sweep", "--no-report"])
        os.environ["OMP_NUM_THREADS"] = results["one_after_another_threads"] = "1"
        results["one_after_another_s"] = sum(
            timed([str(BIN / "iql-train"), "--seed", "1", "2", "3", "--out", f"{tmp}/serial", "--quiet",
                   *[arg for key, value in c.knobs.items() for arg in (FLAGS[key], f"{value:g}" if
                                                                       isinstance(value, float) else str(value))]])
            for c in COURSE_SETS["stitching"])
    results["load_average_after"] = os.getloadavg()
    print(json.dumps(results, indent=2))
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / f"sweep_wall_time_{device}.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
