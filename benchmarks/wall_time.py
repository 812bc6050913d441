"""Wall time of what users run: one 50k-step PointMass IQL run (3 seeds) and `make demo`.

    python benchmarks/wall_time.py      # writes benchmarks/results/wall_time_<device>.json

Machines differ, so the same run also times one plain PyTorch IQL step of the PointMass
networks (`benchmarks/plain_torch.py`): the yardstick the targets were set against.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.throughput import pointmass_problem, time_plain  # noqa: E402


def timed(cmd: list[str]) -> float:
    print("$", " ".join(cmd), flush=True)
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - start


def main() -> None:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with tempfile.TemporaryDirectory() as tmp:
        results = {
            "pointmass_iql_50k_3_seeds_s": timed([str(BIN / "iql-train"), "--algo", "iql", "--seed", "1", "2", "3",
                                                  "--out", f"{tmp}/runs", "--quiet"]),
            "stitching_demo_s": timed([str(BIN / "iql-demo"), "stitching", "--runs-dir", f"{tmp}/demo_runs",
                                       "--out", f"{tmp}/demo_results"]),
        }
    results["plain_pytorch_pointmass_iql_step_ms"] = time_plain(pointmass_problem(quick=False), "iql",
                                                               torch.device(device))["ms_per_seed_step"]
    results["device"] = device
    print(json.dumps(results, indent=2))
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / f"wall_time_{device}.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
