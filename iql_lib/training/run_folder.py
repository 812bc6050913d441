"""Run directories: config, metrics, the W&B-export-shaped CSV, and checkpoints.

Layout of `runs/<exp_name>_<env>_seed<k>/`:
- `config.json`    the full TrainConfig and the seed;
- `metrics.jsonl`  one JSON object per log point (every scalar, with its step);
- `eval.csv`       `Step, <run> - Eval_AverageReturn, ...__MIN, ...__MAX`, the shape of
                   a Weights & Biases chart export, ready for `csv_data/` submissions;
- `checkpoint.pt`  written at every evaluation, atomically (a kill never leaves half a file).

Rows are flushed as they are written. On resume, rows logged after the checkpoint's
step are dropped and re-logged by the resumed run, so no row is lost or duplicated.
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

# torch is imported where checkpoints need it, so CSV tools (iql-check-submission) start fast.

CSV_NAME = "eval.csv"
METRIC = "Eval_AverageReturn"


def csv_header(run_name: str) -> list[str]:
    return ["Step", f"{run_name} - {METRIC}", f"{run_name} - {METRIC}__MIN", f"{run_name} - {METRIC}__MAX"]


def read_eval_csv(path: str | Path) -> tuple[list[int], list[float]]:
    """Steps and Eval_AverageReturn values of a CSV this module wrote."""
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    return [int(r[0]) for r in rows], [float(r[1]) for r in rows]


def reached_step(run_dir: str | Path, step: int) -> bool:
    """Whether the run in `run_dir` logged its evaluation at `step` as its last row."""
    path = Path(run_dir) / CSV_NAME
    return path.exists() and read_eval_csv(path)[0][-1:] == [step]


def read_metrics(path: str | Path) -> list[dict]:
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


class RunLogger:
    def __init__(self, run_dir: str | Path, run_name: str):
        self.dir = Path(run_dir)
        self.run_name = run_name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.metrics_path = self.dir / "metrics.jsonl"
        self.csv_path = self.dir / CSV_NAME
        self.checkpoint_path = self.dir / "checkpoint.pt"
        self.trackers: list = []  # W&B / TensorBoard mirrors of every `log` (iql_lib/training/tracking.py)

    def start(self, config: dict, resume_step: int | None) -> None:
        """Fresh run: write config and empty logs. Resume: cut the logs back to `resume_step`.
        Either way `config.json` records what the run now follows (a resume may extend the
        budget with a larger `--num-timesteps`)."""
        (self.dir / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        if resume_step is None:
            self.metrics_path.write_text("")
            with open(self.csv_path, "w", newline="") as fh:
                csv.writer(fh).writerow(csv_header(self.run_name))
            return
        kept = [m for m in read_metrics(self.metrics_path) if m["step"] <= resume_step]
        self.metrics_path.write_text("".join(json.dumps(m) + "\n" for m in kept))
        with open(self.csv_path, newline="") as fh:
            rows = list(csv.reader(fh))
        with open(self.csv_path, "w", newline="") as fh:
            csv.writer(fh).writerows([rows[0]] + [r for r in rows[1:] if int(r[0]) <= resume_step])

    def log(self, step: int, metrics: dict[str, float]) -> None:
        with open(self.metrics_path, "a") as fh:
            fh.write(json.dumps({"step": step, **metrics}) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        for tracker in self.trackers:
            tracker.log(step, metrics)

    def close(self, ok: bool = True) -> None:
        """Finish the trackers (`ok=False`: the run stopped on an error)."""
        for tracker in self.trackers:
            tracker.close(ok)
        self.trackers = []

    def log_eval(self, step: int, value: float) -> None:
        with open(self.csv_path, "a", newline="") as fh:
            csv.writer(fh).writerow([step, value, value, value])
            fh.flush()
            os.fsync(fh.fileno())

    def save_checkpoint(self, state: dict) -> None:
        import torch

        tmp = self.checkpoint_path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.checkpoint_path)

    def load_checkpoint(self) -> dict | None:
        """The latest checkpoint (tensors on the CPU), or None before the first one."""
        if not self.checkpoint_path.exists():
            return None
        import torch

        return torch.load(self.checkpoint_path, map_location="cpu", weights_only=False)
