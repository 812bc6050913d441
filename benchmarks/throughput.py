"""Gradient steps per second per seed: our engine next to a plain PyTorch step and d3rlpy.

Throughput is counted in seed-steps: one step of a 3-seed engine advances three
independent seeds, so it counts three.

    python benchmarks/throughput.py            # full run, writes benchmarks/results/
    python benchmarks/throughput.py --quick    # fewer steps, smaller AntMaze-shaped dataset
    python benchmarks/throughput.py --no-d3rlpy

Problems: AntMaze-shaped (29-dim observations, 8-dim actions in [−1, 1], 2×256 MLPs,
batch 256, 1M random transitions) and PointMass-shaped (the shipped stitching dataset,
5 discrete actions, 2×64 MLPs, batch 256). For IQL, AWAC and BC, with 1 and 3 seeds, on
the CPU and on CUDA when present. d3rlpy pins an older gymnasium than ours, so it is
installed into its own virtual environment (`benchmarks/.venv-d3rlpy`) and timed there.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from benchmarks.plain_torch import make_plain_agent  # noqa: E402
from iql_lib.algos import make_algorithm  # noqa: E402
from iql_lib.assignment.blank_sources import load_blanks
from iql_lib.config import make_config  # noqa: E402
from iql_lib.data import Transitions, load_dataset  # noqa: E402
from iql_lib.training.engine import Engine, ReplayTensor  # noqa: E402
from iql_lib.envs import env_spec, make_env  # noqa: E402

D3RLPY_VENV = HERE / ".venv-d3rlpy"
D3RLPY_VERSION = "2.8.1"
TORCH_PIN = "torch==2.13.0"


def antmaze_shaped(n: int) -> Transitions:
    rng = np.random.default_rng(0)
    terminals = np.zeros(n, np.float32)
    terminals[999::1000] = 1.0
    return Transitions(rng.standard_normal((n, 29), dtype=np.float32),
                       rng.uniform(-1, 1, (n, 8)).astype(np.float32), -np.ones(n, np.float32),
                       rng.standard_normal((n, 29), dtype=np.float32), terminals, np.zeros(n, np.float32))


def pointmass_problem(quick: bool) -> dict:
    """The shipped stitching dataset with the course's PointMass networks."""
    data = load_dataset(env_spec("PointmassMedium-v0").default_dataset, make_env("PointmassMedium-v0"))
    return dict(data=data, ob_dim=2, ac_dim=5, discrete=True, hidden_size=64, steps=300 if quick else 3000)


def problems(quick: bool) -> dict[str, dict]:
    return {
        "antmaze_shaped": dict(data=antmaze_shaped(100_000 if quick else 1_000_000), ob_dim=29, ac_dim=8,
                               discrete=False, hidden_size=256, steps=30 if quick else 200),
        "pointmass_shaped": pointmass_problem(quick),
    }


def _sync(device: torch.device, value: torch.Tensor) -> None:
    value.sum().item()  # waits for the device
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_engine(problem: dict, algo_name: str, n_seeds: int, device, compile: bool) -> dict:
    cfg = make_config(algo=algo_name, hidden_size=problem["hidden_size"])
    algo = make_algorithm(algo_name, problem["ob_dim"], problem["ac_dim"], problem["discrete"], cfg,
                          load_blanks("solutions"))
    engine = Engine(algo, list(range(1, n_seeds + 1)), device, compile=compile)
    replay = ReplayTensor.from_transitions(problem["data"], device)
    start = time.perf_counter()
    for _ in range(3):  # eager first step, then compilation
        metrics = engine.update(replay, 256)
    _sync(device, metrics["Actor_Loss"])
    warmup = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(problem["steps"]):
        metrics = engine.update(replay, 256)
    _sync(device, metrics["Actor_Loss"])
    elapsed = time.perf_counter() - start
    return {"impl": "ours (compiled)" if engine.compiled_step is not None else "ours (eager)",
            "seeds": n_seeds, "seed_steps_per_s": n_seeds * problem["steps"] / elapsed,
            "ms_per_seed_step": 1e3 * elapsed / problem["steps"] / n_seeds, "warmup_s": warmup,
            "replay_bytes": replay.data.numel() * replay.data.element_size(), "replay_rows": len(replay.data)}


def time_plain(problem: dict, algo_name: str, device) -> dict:
    cfg = make_config(algo=algo_name, hidden_size=problem["hidden_size"])
    agent = make_plain_agent(algo_name, problem["ob_dim"], problem["ac_dim"], problem["discrete"], cfg,
                             load_blanks("solutions")).to(device)
    replay = ReplayTensor.from_transitions(problem["data"], device)
    generator = torch.Generator(device=device).manual_seed(0)
    template = agent.policy

    def step():
        batch = {k: v[0] for k, v in replay.sample(256, [generator]).items()}
        noise = template.draw_noise((2, 256, template.noise_dim), generator, device)
        return agent.update(batch, noise)

    for _ in range(5):
        step()
    steps = max(20, problem["steps"] // 3)
    start = time.perf_counter()
    for _ in range(steps):
        metrics = step()
    _sync(device, metrics["Actor_Loss"])
    elapsed = time.perf_counter() - start
    return {"impl": "plain PyTorch", "seeds": 1, "seed_steps_per_s": steps / elapsed,
            "ms_per_seed_step": 1e3 * elapsed / steps}


def ensure_d3rlpy_venv() -> Path:
    python = D3RLPY_VENV / "bin" / "python"
    if not python.exists():
        print(f"installing d3rlpy {D3RLPY_VERSION} into {D3RLPY_VENV} (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(D3RLPY_VENV)], check=True)
        for requirement in (TORCH_PIN, f"d3rlpy=={D3RLPY_VERSION}"):
            subprocess.run([str(python), "-m", "pip", "install", "--quiet", requirement], check=True)
    return python


def time_d3rlpy(problem_steps: int, quick: bool, device) -> dict | None:
    try:
        python = ensure_d3rlpy_venv()
    except subprocess.CalledProcessError as err:
        print(f"d3rlpy unavailable ({err}); skipped", file=sys.stderr)
        return None
    args = [str(python), str(HERE / "d3rlpy_iql.py"), "--steps", str(problem_steps),
            "--threads", str(torch.get_num_threads()),
            "--device", "cuda:0" if device.type == "cuda" else "cpu:0",
            "--transitions", str(100_000 if quick else 1_000_000)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["seed_steps_per_s"] = result.pop("steps_per_s")
    result["ms_per_seed_step"] = result.pop("ms_per_step")
    result["seeds"] = 1
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="few steps, 100k AntMaze-shaped transitions")
    p.add_argument("--no-d3rlpy", action="store_true", help="skip d3rlpy")
    p.add_argument("--device", default="auto", help="cpu, cuda, or auto (both when CUDA is present)")
    p.add_argument("--out", default=str(HERE / "results"))
    args = p.parse_args()

    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    if args.device != "auto":
        devices = [torch.device(args.device)]
    for device in devices:
        rows = []
        for name, problem in problems(args.quick).items():
            for algo_name in ("iql", "awac", "bc"):
                for n_seeds in (1, 3):
                    rows.append({"problem": name, "algo": algo_name,
                                 **time_engine(problem, algo_name, n_seeds, device, compile=True)})
                    print(json.dumps(rows[-1]), flush=True)
                rows.append({"problem": name, "algo": algo_name, **time_plain(problem, algo_name, device)})
                print(json.dumps(rows[-1]), flush=True)
            if name == "antmaze_shaped" and not args.no_d3rlpy:
                result = time_d3rlpy(problem["steps"], args.quick, device)
                if result is not None:
                    rows.append({"problem": name, **result})
                    print(json.dumps(rows[-1]), flush=True)
        report(rows, device, args)


def report(rows: list[dict], device: torch.device, args) -> None:
    reference = {r["problem"]: r["seed_steps_per_s"] for r in rows if r["impl"] == "d3rlpy"}
    plain = {(r["problem"], r["algo"]): r["seed_steps_per_s"] for r in rows if r["impl"] == "plain PyTorch"}
    lines = [f"device: {device} ({platform.processor() or platform.machine()}, "
             f"{torch.get_num_threads()} threads), torch {torch.__version__}", "",
             "Throughput counts seed-steps: a 3-seed step advances three seeds by one step each.", "",
             "| problem | algo | impl | seeds | seed-steps/s | ms per seed-step | × plain | × d3rlpy |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        base = plain.get((r["problem"], r["algo"]))
        d3 = reference.get(r["problem"]) if r["algo"] == "iql" else None
        x_plain = f"{r['seed_steps_per_s'] / base:.1f}" if base else "–"
        x_d3 = f"{r['seed_steps_per_s'] / d3:.1f}" if d3 else "–"
        lines.append(f"| {r['problem']} | {r['algo']} | {r['impl']} | {r['seeds']} | "
                     f"{r['seed_steps_per_s']:.0f} | {r['ms_per_seed_step']:.2f} | {x_plain} | {x_d3} |")
    memory = [r for r in rows if r["problem"] == "antmaze_shaped" and "replay_bytes" in r][:1]
    if memory:
        raw = sum(a.nbytes for a in vars(antmaze_shaped(1)).values()) * memory[0]["replay_rows"]
        lines += ["", f"Memory: {memory[0]['replay_rows']:,} AntMaze-shaped transitions take "
                      f"{memory[0]['replay_bytes'] / 2**20:.0f} MiB on the device; their raw arrays "
                      f"{raw / 2**20:.0f} MiB (ratio {memory[0]['replay_bytes'] / raw:.2f})."]
    table = "\n".join(lines)
    print(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tag = f"throughput_{device.type}{'_quick' if args.quick else ''}"
    (out / f"{tag}.json").write_text(json.dumps({"device": str(device), "torch": torch.__version__,
                                                 "threads": torch.get_num_threads(), "rows": rows}, indent=2))
    (out / f"{tag}.md").write_text(table + "\n")
    print(f"wrote {out / tag}.json and .md")


if __name__ == "__main__":
    main()
