"""The grading sandbox: one bubblewrap container per job, with limits, and how it ended.

A job is one or more graded cells of one chapter for one student (see `runner.py`).
`run_job` starts `python runner.py` inside `bwrap` with:
- a read-only view of the system, Python, `iql_lib` and `datasets/` only: no
  `solutions/`, no grading course (gradebook, other students), no home folder;
- a private `/tmp` and a `/scratch` working folder (small tmpfs, the only writable
  places, discarded afterwards); no network; its own PID, IPC and UTS namespaces, so the
  student's code sees no other process and cannot signal the grader; run by a normal
  user, its own user namespace too (as root, the runner drops to `nobody` instead);
- limits: CPU seconds and wall-clock seconds, memory (data: see `runner._limit`), processes,
  file size, and output, which the grader reads with a cap; the whole container is
  killed when any of them is exceeded, and `--die-with-parent` takes it down with us.
`sandboxed=False` runs the same runner as a plain child process (limits, no isolation).
"""
from __future__ import annotations

import json
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNNER = Path(__file__).with_name("runner.py")
BWRAP = "bwrap"
MiB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """What one job may use. `cpu_s` counts the graded cells' CPU time (imports excluded);
    `wall_s` the whole job, imports included."""
    cpu_s: int = 60
    wall_s: int = 120
    memory_bytes: int = 3072 * MiB
    processes: int = 64
    file_bytes: int = 16 * MiB
    scratch_bytes: int = 64 * MiB
    output_chars: int = 1_000_000

    def for_runner(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in ("wall_s", "scratch_bytes")}


@dataclass
class JobResult:
    """What came back: per grade_id the verdict (`passed`) and its details, and how the
    job ended when it did not finish (`stopped`, a sentence for the feedback)."""
    passed: dict[str, bool] = field(default_factory=dict)
    details: dict[str, dict] = field(default_factory=dict)
    stopped: str | None = None
    output: str = ""
    seconds: float = 0.0


def unavailable() -> str | None:
    """Why the sandbox cannot run here, or None when bwrap starts a container."""
    if shutil.which(BWRAP) is None:
        return "bwrap (bubblewrap) is not installed: apt-get install bubblewrap"
    probe = [BWRAP, "--ro-bind", "/", "/", "--unshare-pid", "--unshare-net",
             *([] if os.getuid() == 0 else ["--unshare-user"]), "true"]
    done = subprocess.run(probe, capture_output=True, text=True)
    if done.returncode != 0:
        return f"bwrap cannot create its namespaces here ({done.stderr.strip()[:200]})"
    return None


def bwrap_version() -> str:
    """bubblewrap's version, e.g. "bubblewrap 0.8.0" (part of a passing check's key)."""
    return subprocess.run([BWRAP, "--version"], capture_output=True, text=True).stdout.strip()


def _bwrap(limits: Limits) -> list[str]:
    python_homes = sorted({sys.prefix, sys.base_prefix})
    command = [BWRAP, "--die-with-parent", "--new-session", "--clearenv",
               "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
               "--hostname", "grader"]
    if os.getuid() == 0:  # the runner drops to nobody itself (the process limit ignores root)
        command += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        command += ["--unshare-user"]
    # The private folders first, so that what is bound below stays visible when it lives
    # under one of them (a checkout or a virtual environment in /tmp).
    private = {"/tmp": 16 * MiB, "/scratch": limits.scratch_bytes}
    for folder, size in private.items():
        command += ["--perms", "1777", "--size", str(size), "--tmpfs", folder]
    visible = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc/ld.so.cache", "/etc/alternatives", "/etc/fonts",
               *python_homes, str(REPO / "iql_lib"), str(REPO / "datasets")]
    parents = sorted({str(p) for path in visible for p in Path(path).parents if str(p) not in ("/", *private)})
    for parent in parents:  # readable by the unprivileged user the runner becomes
        command += ["--perms", "0755", "--dir", parent]
    for path in visible:
        command += ["--ro-bind-try", path, path]
    command += ["--ro-bind", str(RUNNER), "/grader/runner.py", "--proc", "/proc", "--dev", "/dev",
                # bwrap makes / and /dev as the user who starts it: read-only, so that the
                # student's code, running as that user when it is not root, writes nowhere else
                "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/scratch"]
    for key, value in _environment("/scratch").items():
        command += ["--setenv", key, value]
    return command + [sys.executable, "-I", "-B", "/grader/runner.py"]


def _environment(home: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": home, "MPLCONFIGDIR": f"{home}/.matplotlib",
            "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "IQL_COURSE_FAST": "1", "LANG": "C.UTF-8"}


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _how_it_ended(code: int | None, limits: Limits) -> str:
    if code is None:
        return "it did not exit"
    number = -code if code < 0 else code - 128 if code > 128 else 0
    if number == signal.SIGXCPU:
        return f"it ran past its CPU-time limit ({limits.cpu_s} s) and was stopped"
    if number == signal.SIGXFSZ:
        return f"it wrote a file past the size limit ({limits.file_bytes // MiB} MiB) and was stopped"
    if number == signal.SIGKILL:
        return "it was killed (SIGKILL): past its CPU-time limit, or out of memory"
    if number:
        return f"its process was killed by {_signal_name(number)}"
    return f"its process exited (code {code}) before the test finished: os._exit() or a crash?"


def run_job(job: dict, limits: Limits = Limits(), sandboxed: bool = True) -> JobResult:
    """Run one job (setup + units, see runner.py) and collect its verdicts."""
    nonce = secrets.token_hex(16)
    read_end, write_end = os.pipe()
    payload = json.dumps({**job, "nonce": nonce, "verdict_fd": write_end, "limits": limits.for_runner(),
                          "drop_root": sandboxed and os.getuid() == 0,
                          "cwd": "/scratch" if sandboxed else ".", "writable": ["/tmp"] if sandboxed else []}).encode()
    with tempfile.TemporaryDirectory(prefix="iql-grade-") as scratch:
        if sandboxed:
            command, env = _bwrap(limits), None
        else:
            command, env = [sys.executable, "-I", "-B", str(RUNNER)], _environment(scratch)
        started = time.monotonic()
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                pass_fds=(write_end,), cwd=scratch, env=env, start_new_session=True)
        os.close(write_end)
        result = JobResult()
        try:
            try:
                proc.stdin.write(payload)
                proc.stdin.close()
            except BrokenPipeError:
                pass
            result.stopped, result.output = _collect(proc, read_end, nonce, limits, started, result)
        finally:
            _kill(proc)
            os.close(read_end)
        result.seconds = time.monotonic() - started
    return result


def _collect(proc, verdicts_fd: int, nonce: str, limits: Limits, started: float, result: JobResult):
    """Read output (capped) and verdicts until the job exits or breaks a limit."""
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ, "output")
    selector.register(verdicts_fd, selectors.EVENT_READ, "verdicts")
    output, pending, stopped = bytearray(), b"", None
    open_streams = 2
    while open_streams:
        left = limits.wall_s - (time.monotonic() - started)
        if left <= 0:
            stopped = f"it ran past its wall-clock limit ({limits.wall_s} s) and was stopped"
            break
        for key, _ in selector.select(timeout=min(left, 1.0)):
            chunk = os.read(key.fd, 65536)
            if not chunk:
                selector.unregister(key.fileobj)
                open_streams -= 1
            elif key.data == "output":
                output += chunk
                if len(output) > limits.output_chars:
                    stopped = f"it printed more than the output limit ({limits.output_chars:,} characters) and was stopped"
                    open_streams = 0
                    break
            else:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    _accept(line, nonce, result)
    selector.close()
    if stopped is None:
        try:
            code = proc.wait(timeout=max(1.0, limits.wall_s - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            code = None
        if code != 0:
            stopped = _how_it_ended(code, limits)
    return stopped, output[: 20_000].decode(errors="replace")


def _accept(line: bytes, nonce: str, result: JobResult):
    """Keep a verdict line only if it carries the job's nonce; the first verdict per cell wins."""
    try:
        message = json.loads(line)
    except ValueError:
        return
    if not isinstance(message, dict) or message.get("nonce") != nonce or not isinstance(message.get("grade_id"), str):
        return
    grade_id = message["grade_id"]
    if "passed" in message and grade_id not in result.passed:
        result.passed[grade_id] = message["passed"] is True
    elif "passed" not in message and grade_id in result.passed and grade_id not in result.details:
        result.details[grade_id] = message


def _kill(proc: subprocess.Popen):
    """Kill the job's process group (bwrap; its PID namespace dies with it)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
    proc.stdout.close()
