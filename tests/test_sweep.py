"""`iql-sweep` on a real Ray cluster: `ray start --head` on 127.0.0.1 with its own ports, temp
dir and token, joined with --address. A tiny PointMass grid (2 configurations × 2 seeds) must
write what iql-train writes, survive a killed worker, and skip finished trials on a rerun."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest
import torch

from iql_lib.training.run_folder import read_eval_csv, read_metrics

BIN = Path(sys.executable).parent
BUDGET = ["--seed", "1", "2", "--num-timesteps", "600", "--eval-freq", "200", "--eval-episodes", "3",
          "--compile", "off", "--device", "cpu"]
STEPS = [0, 200, 400, 600]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cluster_processes(temp_dir: str) -> list[psutil.Process]:
    """Every process of the cluster started in `temp_dir`, workers included."""
    found = {}
    for p in psutil.process_iter(["cmdline"]):
        if temp_dir in " ".join(p.info["cmdline"] or []):
            for q in [p, *p.children(recursive=True)]:
                found[q.pid] = q
    return list(found.values())


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A Ray head on 127.0.0.1 (2 CPUs), stopped at the end by killing its own processes only."""
    temp_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths have a length limit
    token = tmp_path_factory.mktemp("ray-auth") / "token"
    token.write_text(secrets.token_hex(32))
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token),
           "RAY_USAGE_STATS_ENABLED": "0"}
    port = _free_port()
    subprocess.run([str(BIN / "ray"), "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
                    "--ray-client-server-port", str(_free_port()), "--num-cpus", "2", "--temp-dir", temp_dir,
                    "--include-dashboard=false", "--disable-usage-stats"],
                   env=env, check=True, timeout=180, capture_output=True)
    try:
        yield f"127.0.0.1:{port}", env
    finally:
        procs = _cluster_processes(temp_dir)
        for p in procs:
            p.terminate()
        for p in psutil.wait_procs(procs, timeout=3)[1]:
            p.kill()
        shutil.rmtree(temp_dir, ignore_errors=True)


def _sweep(address, env, out, *extra) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "iql-sweep"), "--address", address, "--out", str(out), *BUDGET, *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _trial_workers(name: str) -> list[psutil.Process]:
    """The Ray worker processes running trial `name` (Ray titles them `ray::<task name>`)."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmdline = p.info["cmdline"] or []
        if cmdline and cmdline[0].startswith(f"ray::trial {name} "):
            found.append(p)
    return found


def _mid_trial(run_dir: Path) -> bool:
    """A checkpoint after step 0 exists and the run is not finished."""
    try:
        steps = read_eval_csv(run_dir / "eval.csv")[0]
    except (OSError, ValueError, IndexError):
        return False
    return (run_dir / "checkpoint.pt").exists() and 200 <= steps[-1] < STEPS[-1]


def _assert_every_step_once(run_dir: Path) -> None:
    assert read_eval_csv(run_dir / "eval.csv")[0] == STEPS
    logged = [(m["step"], tuple(sorted(m))) for m in read_metrics(run_dir / "metrics.jsonl")]
    assert len(logged) == len(set(logged))


def _same_state(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_state(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same_state(x, y) for x, y in zip(a, b))
    return a == b


@pytest.fixture(scope="module")
def swept(cluster, tmp_path_factory):
    """The sweep of ζ ∈ {0.9, 0.5}, with the ζ = 0.5 trial's worker killed mid-trial."""
    address, env = cluster
    out = tmp_path_factory.mktemp("sweep")
    sweep = _sweep(address, env, out, "--iql-expectile", "0.9", "0.5", "--no-report")
    victims = [out / f"iql_zeta_0.5_PointmassMedium-v0_seed{seed}" for seed in (1, 2)]
    _wait_for(lambda: all(map(_mid_trial, victims)), 240, "the ζ = 0.5 trial's first checkpoints")
    [worker] = _trial_workers("iql_zeta_0.5")
    worker.kill()
    output, _ = sweep.communicate(timeout=300)
    assert sweep.returncode == 0, output
    return out, output


@pytest.mark.slow
def test_sweep_on_a_cluster_writes_what_iql_train_writes(swept, tmp_path):
    out, output = swept
    summary = {t["trial"]: t for t in json.loads((out / "sweep.json").read_text())}
    assert {name: t["status"] for name, t in summary.items()} == {"iql_zeta_0.9": "done", "iql_zeta_0.5": "done"}
    assert "trial" in output and "last Eval_AverageReturn" in output  # the progress table
    reference = tmp_path / "reference"
    jobs = [subprocess.Popen([str(BIN / "iql-train"), "--iql-expectile", zeta, "--exp-name", f"iql_zeta_{zeta}",
                              "--out", str(reference), "--quiet", *BUDGET],
                             env={**os.environ, "OMP_NUM_THREADS": "1"}) for zeta in ("0.9", "0.5")]
    assert [job.wait(timeout=300) for job in jobs] == [0, 0]
    for zeta in ("0.9", "0.5"):
        for seed in (1, 2):
            name = f"iql_zeta_{zeta}_PointmassMedium-v0_seed{seed}"
            ours, theirs = out / name, reference / name
            _assert_every_step_once(ours)
            for f in ("eval.csv", "metrics.jsonl"):
                assert (ours / f).read_text() == (theirs / f).read_text(), f"{name}/{f}"
            config, expected = (json.loads((d / "config.json").read_text()) for d in (ours, theirs))
            assert {k: v for k, v in config.items() if k not in ("out", "resume")} == \
                   {k: v for k, v in expected.items() if k not in ("out", "resume")}
            assert _same_state(torch.load(ours / "checkpoint.pt", weights_only=False),
                               torch.load(theirs / "checkpoint.pt", weights_only=False))
            assert (ours / "eval_last_traj.png").stat().st_size > 0


@pytest.mark.slow
def test_a_killed_worker_resumes_its_trial_from_the_checkpoint(swept):
    out, output = swept
    summary = {t["trial"]: t for t in json.loads((out / "sweep.json").read_text())}
    resumed = summary["iql_zeta_0.5"]["started_at"]
    assert all(step >= 200 for step in resumed.values()), resumed  # not retrained from step 0
    assert set(summary["iql_zeta_0.9"]["started_at"].values()) == {0}
    assert "iql_zeta_0.5 on PointmassMedium-v0: resumed from checkpoints" in output
    for seed in (1, 2):
        _assert_every_step_once(out / f"iql_zeta_0.5_PointmassMedium-v0_seed{seed}")


@pytest.mark.slow
def test_a_restarted_sweep_skips_finished_trials_and_resumes_the_rest(swept, cluster):
    address, env = cluster
    out, _ = swept
    finished = {d: (d / "eval.csv").stat().st_mtime_ns for d in out.glob("iql_zeta_0.[59]_*")}

    # Interrupt a sweep that adds ζ = 0.7 (Ctrl-C once its first checkpoint is written) ...
    sweep = _sweep(address, env, out, "--iql-expectile", "0.9", "0.5", "0.7", "--no-report")
    new = [out / f"iql_zeta_0.7_PointmassMedium-v0_seed{seed}" for seed in (1, 2)]
    _wait_for(lambda: all(map(_mid_trial, new)), 240, "the ζ = 0.7 trial's first checkpoints")
    sweep.send_signal(signal.SIGINT)
    output, _ = sweep.communicate(timeout=60)
    assert sweep.returncode == 130, output
    assert "2 finished already (skipped)" in output
    _wait_for(lambda: not _trial_workers("iql_zeta_0.7"), 60, "the interrupted trial's worker to stop")

    # ... and run it again: the finished trials are left alone, the new one resumes.
    sweep = _sweep(address, env, out, "--iql-expectile", "0.9", "0.5", "0.7", "--no-report")
    output, _ = sweep.communicate(timeout=300)
    assert sweep.returncode == 0, output
    assert "3 trials, 2 finished already (skipped), 1 to train" in output
    summary = {t["trial"]: t for t in json.loads((out / "sweep.json").read_text())}
    assert [summary[z]["status"] for z in ("iql_zeta_0.9", "iql_zeta_0.5", "iql_zeta_0.7")] == \
           ["skipped", "skipped", "done"]
    assert all(step >= 200 for step in summary["iql_zeta_0.7"]["started_at"].values())
    assert {d: (d / "eval.csv").stat().st_mtime_ns for d in finished} == finished
    for seed in (1, 2):
        _assert_every_step_once(out / f"iql_zeta_0.7_PointmassMedium-v0_seed{seed}")


def test_a_grid_names_each_configuration_once(tmp_path):
    from iql_lib.parallel.sweep import grid_trials, read_grid_file

    path = tmp_path / "sweep.toml"
    path.write_text('algo = ["iql", "bc"]\nexpectile = [0.5, 0.9]\ntemperature = [0.1, 0.3]\n'
                    'seeds = [1, 2, 3]\nnum_timesteps = 1000\n')
    trials = grid_trials(read_grid_file(str(path)), tmp_path)
    names = [t.trial.name for t in trials]
    assert names == ["iql_zeta_0.5_lambda_0.1", "iql_zeta_0.5_lambda_0.3", "iql_zeta_0.9_lambda_0.1",
                     "iql_zeta_0.9_lambda_0.3", "bc"]  # BC ignores ζ and λ: one run, not four
    assert [t.trial.cfg.temperature for t in trials[:2]] == [0.1, 0.3]
    assert all(t.trial.cfg.seeds == [1, 2, 3] and t.trial.cfg.num_timesteps == 1000 for t in trials)
    assert all(t.trial.cfg.out == str(tmp_path) and t.trial.cfg.resume for t in trials)
    same_name = {"offline_dataset": [str(tmp_path / "a" / "data.npz"), str(tmp_path / "b" / "data.npz")]}
    with pytest.raises(ValueError, match="would both be named iql_zeta_0.9_data"):
        grid_trials(same_name, tmp_path)
    blanks = grid_trials({"expectile": [0.9], "blanks": "solutions"}, tmp_path)[0].trial.cfg.blanks
    assert Path(blanks).is_absolute() and Path(blanks).name == "solutions"  # workers may start elsewhere
    path.write_text("expectile = [0.5]\nzeta = [0.9]\n")
    with pytest.raises(ValueError, match="unknown keys \\['zeta'\\]"):
        read_grid_file(str(path))


def test_a_course_set_ends_with_csv_data_and_the_report(tmp_path, capsys):
    """P2's umaze trials, already finished: skipped, then csv_data/P2/1 from the better ζ and P2.1's table."""
    from iql_lib.parallel.sweep import course_trials, run_sweep
    from tests.conftest import fake_runs

    out = tmp_path / "sweep"
    best = fake_runs(out, env_name="antmaze-umaze-v0", expectile=0.9, returns=[[-700, -300, -200]] * 3)
    fake_runs(out, env_name="antmaze-umaze-v0", expectile=0.2, returns=[[-700, -600, -500]] * 3)
    trials = [t for t in course_trials(["p2"], {"seeds": [1, 2, 3], "num_timesteps": 1000}, out)
              if t.trial.cfg.env_name == "antmaze-umaze-v0"]
    assert run_sweep(trials, out) == 0
    for seed, run_dir in zip((1, 2, 3), best):
        assert (out / "csv_data" / "P2" / "1" / f"iql_umaze_seed{seed}.csv").read_text() == \
               (run_dir / "eval.csv").read_text()
    captured = capsys.readouterr()
    assert "2 finished already (skipped), 0 to train" in captured.out
    assert "csv_data/P2/1 from iql_zeta_0.9" in captured.out
    assert "the run stops at step 1000; antmaze-umaze-v0 runs train to step 300000" in captured.err
    assert "P2.1" in (out / "report" / "report.md").read_text()
