"""What importing torch holds, and which memory limit lets it run: address space or data.

    python benchmarks/sandbox_memory.py [PYTHON ...]   # writes benchmarks/results/sandbox_memory.json

For each interpreter (this one by default; e.g. a virtual environment with torch's CPU
build and one with its CUDA build), fresh children import torch and multiply two
matrices: one without limits reads /proc/self/status (VmSize: the address space, what
RLIMIT_AS counts; VmData: what RLIMIT_DATA counts; VmRSS: memory in use), then one per
limit, set before the import at the sandbox's memory limit, imports and then allocates
10 MB at a time until MemoryError: how far a memory hog gets under that limit.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from autograder.sandbox import MiB, Limits  # noqa: E402

CHILD = """
import json, resource, sys
limit, status = sys.argv[1], {}
if limit != "none":
    which = getattr(resource, limit)
    resource.setrlimit(which, (int(sys.argv[2]), int(sys.argv[2])))
try:
    import torch
    torch.randn(256, 256) @ torch.randn(256, 256)
except BaseException as err:
    print(json.dumps({"imports": f"{type(err).__name__}: {err}"}))
    sys.exit()
for line in open("/proc/self/status"):
    key, _, value = line.partition(":")
    if key in ("VmSize", "VmData", "VmRSS"):
        status[key + "_MiB"] = int(value.split()[0]) // 1024
hog = []
if limit != "none":
    try:
        while True:
            hog.append(bytearray(10_000_000))
    except MemoryError:
        pass
print(json.dumps({"imports": "ok", "torch": torch.__version__, **status, "hog_MB": 10 * len(hog)}))
"""


def measure(python: str, limit: str, limit_bytes: int) -> dict:
    done = subprocess.run([python, "-c", CHILD, limit, str(limit_bytes)], capture_output=True, text=True,
                          env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pythons", nargs="*", default=[sys.executable])
    args = parser.parse_args()
    limit_bytes = Limits().memory_bytes
    results = {}
    for python in args.pythons:
        results[python] = {limit: measure(python, limit, limit_bytes) for limit in ("none", "RLIMIT_AS", "RLIMIT_DATA")}
        for limit, found in results[python].items():
            print(f"{python}  {limit:<11} {json.dumps(found)}", flush=True)
    out = HERE / "results" / "sandbox_memory.json"
    out.write_text(json.dumps({"measured": time.strftime("%Y-%m-%d"), "limit_MiB": limit_bytes // MiB,
                               "interpreters": results}, indent=2) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
