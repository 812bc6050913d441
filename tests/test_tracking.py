"""Tracking: `iql-train --wandb --tensorboard` mirrors every scalar of metrics.jsonl, read back
with wandb's own reader (offline mode, no network) and TensorBoard's event reader."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from iql_lib.cli import train_main
from iql_lib.training.run_folder import read_metrics
from iql_lib.training.tracking import IDS_FILE, TENSORBOARD_DIR, wandb_logged_in, wandb_mode

BIN = Path(sys.executable).parent


def test_offline_unless_logged_in(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    assert not wandb_logged_in({"HOME": str(home)})
    assert wandb_mode({"HOME": str(home)}) == "offline"
    assert wandb_mode({"HOME": str(home), "WANDB_API_KEY": "x" * 40}) == "online"
    (home / ".netrc").write_text("machine example.org login user password secret\n")
    assert wandb_mode({"HOME": str(home)}) == "offline"  # credentials for another host only
    (home / ".netrc").write_text("machine api.wandb.ai login user password " + "k" * 40 + "\n")
    assert wandb_mode({"HOME": str(home)}) == "online"
    assert wandb_mode({"HOME": str(home), "WANDB_BASE_URL": "https://wandb.mylab.edu"}) == "offline"
    assert wandb_mode({"HOME": str(home), "WANDB_MODE": "disabled"}) == "disabled"  # the user's choice wins


def _wandb_history(run_dir: Path) -> dict[int, dict]:
    """The offline W&B run's history rows by step, through `wandb leet inspect --json`."""
    [offline] = (run_dir / "wandb").glob("offline-run-*")
    out = subprocess.run([str(BIN / "wandb"), "leet", "inspect", "--json", str(offline)], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return {int(r["history"]["step"].get("num", 0)): r["history"]["item"] for r in records if r["type"] == "history"}


def test_wandb_and_tensorboard_mirror_metrics(tmp_path, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for var in ("WANDB_API_KEY", "WANDB_DIR", "WANDB_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no netrc, no ~/.config/wandb of the user
    for var in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    out = tmp_path / "runs"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two seeds in lockstep on a shared 2-core machine
    try:
        assert train_main(["--algo", "iql", "--seed", "1", "2", "--num-timesteps", "400", "--eval-freq", "200",
                           "--eval-episodes", "3", "--compile", "off", "--device", "cpu", "--out", str(out),
                           "--use-wandb", "--tensorboard", "--quiet"]) == 0
    finally:
        torch.set_num_threads(threads)

    for seed in (1, 2):
        run_dir = out / f"iql_zeta_0.9_PointmassMedium-v0_seed{seed}"
        rows = read_metrics(run_dir / "metrics.jsonl")
        expected: dict[int, dict] = {}
        for row in rows:
            expected.setdefault(row["step"], {}).update({k: v for k, v in row.items() if k != "step"})
        assert {0, 200, 400} <= set(expected) and "Critic_V_Loss" in expected[200]

        history = _wandb_history(run_dir)
        assert sorted(history) == sorted(expected)
        for step, scalars in expected.items():
            assert {k: history[step][k] for k in scalars} == pytest.approx(scalars, rel=1e-9)
        [offline] = (run_dir / "wandb").glob("offline-run-*")
        assert offline.name.endswith("-" + json.loads((run_dir / IDS_FILE).read_text())["wandb_id"])

        events = EventAccumulator(str(run_dir / TENSORBOARD_DIR))
        events.Reload()
        assert set(events.Tags()["scalars"]) == {k for scalars in expected.values() for k in scalars}
        for tag in events.Tags()["scalars"]:
            logged = {e.step: e.value for e in events.Scalars(tag)}
            assert logged == pytest.approx({s: v[tag] for s, v in expected.items() if tag in v}, rel=1e-6)
