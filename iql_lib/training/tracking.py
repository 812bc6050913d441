"""Experiment tracking beside a run: Weights & Biases and TensorBoard mirror `metrics.jsonl`.

`iql-train --wandb` (the course's `--use-wandb`) opens one W&B run per seed, named as the
course names runs (`<exp_name>_<env>_seed<k>`, grouped by experiment), and logs every
scalar of every `metrics.jsonl` row at its step. It runs offline unless the user is
logged in (an API key in `$WANDB_API_KEY` or in the netrc file, found without touching
the network); `wandb sync <run>/wandb/offline-run-*` uploads an offline run later.
`--tensorboard` writes event files to `<run>/tensorboard/`. Both are optional extras
(`pip install 'iql-lib[tracking]'`); the run directory's CSV and JSONL stay the source
of truth, and a resumed run picks up where its checkpoint left off (TensorBoard hides the
events logged after it; W&B keeps the steps it already had, since it ignores steps it
has seen).
"""
from __future__ import annotations

import json
import netrc
import os
import secrets
import shutil
from pathlib import Path
from urllib.parse import urlparse

from iql_lib.errors import UserError

TRACKING_EXTRA = "pip install 'iql-lib[tracking]'"
TENSORBOARD_DIR = "tensorboard"
IDS_FILE = "tracking.json"  # the run's W&B id, so a resumed run continues the same W&B run


def wandb_logged_in(environ: dict | None = None) -> bool:
    """Whether W&B has credentials here: `$WANDB_API_KEY`, or a netrc entry for the W&B host
    (`$WANDB_BASE_URL`, default api.wandb.ai). Reads files only, never the network."""
    environ = os.environ if environ is None else environ
    if environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(environ.get("WANDB_BASE_URL") or "https://api.wandb.ai").hostname
    path = environ.get("NETRC") or Path(environ.get("HOME") or Path.home()) / ".netrc"
    try:
        return netrc.netrc(path).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def wandb_mode(environ: dict | None = None) -> str:
    """`$WANDB_MODE` when the user set it, else online when logged in, offline otherwise."""
    environ = os.environ if environ is None else environ
    return environ.get("WANDB_MODE") or ("online" if wandb_logged_in(environ) else "offline")


def require_trackers(wandb: bool, tensorboard: bool) -> None:
    """Fail before training when a requested tracker is not installed."""
    for wanted, module, flag in ((wandb, "wandb", "--wandb"), (tensorboard, "tensorboard", "--tensorboard")):
        if wanted:
            try:
                __import__(module)
            except ImportError:
                raise UserError(f"{flag} needs the {module} package: {TRACKING_EXTRA}") from None


class WandbTracker:
    """One W&B run per seed; a resumed seed continues the W&B run it started."""

    def __init__(self, run_dir: Path, run_name: str, config: dict, resume_step: int | None):
        import wandb

        ids_path = run_dir / IDS_FILE
        ids = json.loads(ids_path.read_text()) if resume_step is not None and ids_path.exists() else {}
        run_id = ids.get("wandb_id") or secrets.token_hex(4)
        ids_path.write_text(json.dumps({"wandb_id": run_id}) + "\n")
        self.run = wandb.init(
            project=config["wandb_project"], name=run_name, group=run_name.rsplit("_seed", 1)[0],
            id=run_id, resume="allow", config=config, mode=wandb_mode(),
            dir=os.environ.get("WANDB_DIR") or str(run_dir), reinit="create_new",
            settings=wandb.Settings(silent=True, console="off", x_disable_stats=True))

    def log(self, step: int, metrics: dict[str, float]) -> None:
        self.run.log(metrics, step=step)

    def close(self, ok: bool) -> None:
        self.run.finish(exit_code=0 if ok else 1)


class TensorBoardTracker:
    """Scalar event files in `<run>/tensorboard/`; a resume purges the events after its step."""

    def __init__(self, run_dir: Path, resume_step: int | None):
        from torch.utils.tensorboard import SummaryWriter

        log_dir = run_dir / TENSORBOARD_DIR
        if resume_step is None:
            shutil.rmtree(log_dir, ignore_errors=True)  # a fresh run replaces the old one's events
        self.writer = SummaryWriter(str(log_dir), purge_step=None if resume_step is None else resume_step + 1)

    def log(self, step: int, metrics: dict[str, float]) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, step)
        self.writer.flush()

    def close(self, ok: bool) -> None:
        self.writer.close()


def make_trackers(cfg, run_dir: Path, run_name: str, config: dict, resume_step: int | None) -> list:
    """The trackers `cfg` asks for (`cfg.wandb`, `cfg.tensorboard`), started for one seed's run."""
    trackers = []
    if cfg.wandb:
        trackers.append(WandbTracker(run_dir, run_name, config, resume_step))
    if cfg.tensorboard:
        trackers.append(TensorBoardTracker(run_dir, resume_step))
    return trackers
