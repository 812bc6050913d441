"""Shared test helpers."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from iql_lib.algos.blanks import BLANK_NAMES
from iql_lib.config import make_config
from iql_lib.training.run_folder import RunLogger

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"

# Generated AntMaze data lives in a per-user cache; the suite (and every notebook kernel
# it starts) sees an empty one, so no test depends on what this machine built before; it is
# removed when the suite's interpreter exits.
DATA_DIR = tempfile.TemporaryDirectory(prefix="iql-test-data-")
os.environ["IQL_DATA_DIR"] = DATA_DIR.name

# Likewise the grader's kept reference checks: each session runs the real check once, then
# reuses it, and no session reuses one kept by an earlier run.
CHECK_CACHE = tempfile.TemporaryDirectory(prefix="iql-test-checks-")
os.environ["IQL_CHECK_CACHE"] = CHECK_CACHE.name


def reference_blanks_module() -> str:
    """The six reference blanks as the text of a Python module, taken from the solution
    cells of the chapter notebooks (the one place the answers live)."""
    functions = {}
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            for name in BLANK_NAMES:
                if cell["metadata"].get("nbgrader", {}).get("solution") and f"def {name}(" in source:
                    functions[name] = "\n".join(line for line in source.splitlines()
                                                if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
    assert sorted(functions) == sorted(BLANK_NAMES), f"solution cells found: {sorted(functions)}"
    return "import torch\nfrom torch import nn\n\n\n" + "\n\n\n".join(functions[n] for n in BLANK_NAMES) + "\n"


def fake_runs(root: Path, *, algo="iql", env_name="PointmassMedium-v0", seeds=(1, 2, 3), expectile=0.9,
              gamma=0.95, returns=None, steps=(0, 500, 1000), n_logs=40, v_loss=None, v_mean=-10.0,
              actor_loss=None, exp_name=None, successes=None) -> list[Path]:
    """Run folders as the trainer writes them, with chosen curves (no training); every
    evaluation succeeds unless `successes` gives each seed's rates."""
    cfg = make_config(env_name, algo=algo, expectile=expectile, gamma=gamma, seeds=list(seeds),
                      num_timesteps=steps[-1], out=str(root), exp_name=exp_name)
    dirs = []
    for i, seed in enumerate(cfg.seeds):
        logger = RunLogger(Path(cfg.out) / cfg.run_name(seed), cfg.run_name(seed))
        logger.start({**cfg.to_dict(), "seed": seed, "run_name": logger.run_name}, resume_step=None)
        curve = returns[i] if returns is not None else np.linspace(-150, -30 - i, len(steps))
        t = np.linspace(0, 1, n_logs)
        v = v_loss if v_loss is not None else 0.05 * (1 - np.exp(-10 * t))
        a = actor_loss if actor_loss is not None else 0.4 + 0.2 * np.exp(-5 * t)
        mean_value = np.broadcast_to(np.asarray(v_mean, dtype=float), (n_logs,))
        for k in range(n_logs):
            losses = {"Critic_Q_Loss": 4 * float(v[k]), "Actor_Loss": float(a[k]), "Q_Mean": mean_value[k]}
            if algo == "iql":
                losses.update(Critic_V_Loss=float(v[k]), V_Mean=mean_value[k])
            logger.log(int(steps[-1] * (k + 1) / n_logs), losses)
        rates = successes[i] if successes is not None else np.ones(len(steps))
        for step, value, rate in zip(steps, curve, rates):
            logger.log(step, {"Eval_AverageReturn": float(value), "Eval_MaxReturn": float(value) + 10,
                              "Eval_SuccessRate": float(rate)})
            logger.log_eval(step, float(value))
        dirs.append(logger.dir)
    return dirs
