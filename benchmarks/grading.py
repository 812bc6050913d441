"""Time to grade one student's full course, in the sandbox and without it.

    python benchmarks/grading.py [--rounds 5]   # writes benchmarks/results/grading.json

Grades the reference notebooks (`solutions/`, every graded cell passes) as one student,
`--rounds` times with the bubblewrap sandbox and as many without, alternating, so that a
machine whose load drifts weighs on both alike. nbgrader's record (autograde and
feedback, run once per class) is not part of these times.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from autograder.course import SOLUTIONS  # noqa: E402
from autograder.grade import course_cells, grade_student  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    cells = course_cells()
    times = {"sandboxed": [], "unsandboxed": []}
    for _ in range(args.rounds):
        for mode in times:
            started = time.perf_counter()
            graded = grade_student(SOLUTIONS, cells, sandboxed=mode == "sandboxed")
            times[mode].append(time.perf_counter() - started)
            failed = [gid for notebook in graded.values() for gid, outputs in notebook.items()
                      if any(o["output_type"] == "error" for o in outputs)]
            assert not failed, f"the reference failed {failed} ({mode})"
            print(f"{mode:<12} {times[mode][-1]:6.1f} s", flush=True)
    summary = {mode: {"mean_s": statistics.mean(t), "std_s": statistics.stdev(t) if len(t) > 1 else 0.0,
                      "runs_s": t} for mode, t in times.items()}
    summary["overhead_s"] = summary["sandboxed"]["mean_s"] - summary["unsandboxed"]["mean_s"]
    summary["graded_cells"] = sum(len(c) for c in cells.values())
    out = HERE / "results" / "grading.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    for mode in times:
        print(f"{mode:<12} {summary[mode]['mean_s']:.1f} ± {summary[mode]['std_s']:.1f} s per student")
    print(f"sandbox overhead {summary['overhead_s']:+.1f} s per student; written to {out}")


if __name__ == "__main__":
    main()
