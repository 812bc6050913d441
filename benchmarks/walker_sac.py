"""The walker's SAC on this project's engine against stable-baselines3's SAC, 10k steps each.

    python benchmarks/walker_sac.py [--steps 10000] [--no-sb3]

Both run the real direction task (`iql_lib.datagen.walker`, D4RL's ant in MuJoCo) on one
thread with the same settings: 256×256 networks, batch 256, one gradient step per
environment step after 1000 random ones. Ours runs eager and compiled (the compile time
counts). SB3 is installed once into its own venv (`benchmarks/.venv-sb3`, with this
project beside it). Writes `benchmarks/results/walker_sac_cpu.json`.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.throughput import TORCH_PIN  # noqa: E402
from iql_lib.config import WalkerConfig  # noqa: E402
from iql_lib.datagen.walker import WalkerTraining  # noqa: E402

SB3_VENV = HERE / ".venv-sb3"


def time_ours(steps: int, learning_starts: int, compile: bool) -> dict:
    cfg = WalkerConfig(total_steps=steps, learning_starts=learning_starts, eval_freq=10 * steps,
                       checkpoint_freq=10 * steps, compile=compile)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        WalkerTraining(cfg, out).run(resume=False, progress=False)
        elapsed = time.perf_counter() - start
    return {"impl": "ours, compiled" if compile else "ours, eager", "steps": steps, "seconds": elapsed,
            "steps_per_s": steps / elapsed}


def time_sb3(steps: int, learning_starts: int) -> dict:
    python = SB3_VENV / "bin" / "python"
    if not python.exists():
        print(f"installing stable-baselines3 and this project into {SB3_VENV} (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(SB3_VENV)], check=True)
        for requirement in ([TORCH_PIN], ["stable-baselines3", "-e", str(HERE.parent)]):
            subprocess.run([str(python), "-m", "pip", "install", "--quiet", *requirement], check=True)
    out = subprocess.run([str(python), str(HERE / "sb3_walker.py"), "--steps", str(steps),
                          "--learning-starts", str(learning_starts)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--learning-starts", type=int, default=1_000)
    p.add_argument("--no-sb3", action="store_true", help="skip stable-baselines3")
    args = p.parse_args()
    torch.set_num_threads(1)
    rows = [time_ours(args.steps, args.learning_starts, compile) for compile in (False, True)]
    if not args.no_sb3:
        rows.append(time_sb3(args.steps, args.learning_starts))
    for row in rows:
        print(f"{row['impl']:>20}: {row['seconds']:6.1f} s for {row['steps']} steps ({row['steps_per_s']:.0f} steps/s)")
    result = {"date": date.today().isoformat(), "machine": "CPU, one thread", "rows": rows}
    (HERE / "results" / "walker_sac_cpu.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
