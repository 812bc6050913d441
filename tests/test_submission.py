"""The csv_data/ checker behind `iql-check-submission`: valid submissions in every CSV shape
pass; each way of getting one wrong fails with its file, its rule and a fix."""
from __future__ import annotations

import csv
import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from iql_lib.cli import check_submission_main
from iql_lib.training.run_folder import RunLogger
from iql_lib.assignment.submission import SUBMISSION_SLOTS, THRESHOLDS, check, load_thresholds, read_run

TASKS = load_thresholds()
# Final returns that clear the bars: AWAC never reaching the medium maze's goal (-1000) is
# the paper's result and passes.
FINAL = {"P2/1": -250.0, "P2/2": -600.0, "P1/1": -450.0, "P1/2": -1000.0}
STYLES = ["wandb", "wandb_no_minmax", "extra_columns", "run_logger"]


def run_name(slot, seed, zeta=0.9):
    knob = f"zeta_{zeta:g}" if slot.algo == "iql" else "lambda_0.1"
    return f"{slot.algo}_{knob}_{slot.env_name}_seed{seed}"


def curve(slot, final, final_step=300_000, every=10_000):
    """A learning curve over 300k steps: from never reaching the goal up to `final`."""
    worst = -TASKS[slot.task].episode_steps
    steps = list(range(0, final_step + 1, every))
    values = [final + (worst - final) * math.exp(-5 * s / final_step) for s in steps]
    return steps, [round(v, 2) for v in values[:-1]] + [final]


def write_csv(path, run, steps, values, style="wandb"):
    """One run's Eval_AverageReturn in the shape of a W&B chart export: every cell quoted,
    with or without the `__MIN`/`__MAX` columns, or with extra columns around it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    col = f"{run} - Eval_AverageReturn"
    header = {"wandb": ["Step", col, col + "__MIN", col + "__MAX"],
              "wandb_no_minmax": ["Step", col],
              "extra_columns": ["Wall time", "Step", f"{run} - Eval_SuccessRate", col, col + "__MAX"]}[style]
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh, quoting=csv.QUOTE_ALL if style.startswith("wandb") else csv.QUOTE_MINIMAL)
        out.writerow(header)
        for step, value in zip(steps, values):
            cells = {"Step": step, col: value, col + "__MIN": value, col + "__MAX": value,
                     "Wall time": 1.7e9 + step / 100, f"{run} - Eval_SuccessRate": ""}
            out.writerow([cells[h] for h in header])


def copy_run_logger_csv(path, run, steps, values, runs):
    """The curve logged by our own RunLogger into `runs/<run>/eval.csv`, copied to `path`
    (what chapter 8's write_submission does)."""
    logger = RunLogger(runs / run, run)
    logger.start({"run_name": run}, resume_step=None)
    for step, value in zip(steps, values):
        logger.log_eval(step, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(logger.csv_path, path)


def make_submission(root, style="wandb"):
    for slot in SUBMISSION_SLOTS.values():
        for seed, file in enumerate(slot.files, start=1):
            run, (steps, values) = run_name(slot, seed), curve(slot, FINAL[slot.folder])
            if style == "run_logger":
                copy_run_logger_csv(root / file, run, steps, values, runs=root.parent / "runs")
            else:
                write_csv(root / file, run, steps, values, style)
    return root


def failures(root, **kwargs):
    return [c for c in check(root, **kwargs) if not c.ok]


@pytest.fixture
def sub(tmp_path):
    return make_submission(tmp_path / "csv_data")


# --- valid submissions ---------------------------------------------------------------------

@pytest.mark.parametrize("style", STYLES)
def test_a_valid_submission_passes_in_every_csv_shape(tmp_path, style):
    root = make_submission(tmp_path / "csv_data", style)
    checks = check(root)
    assert [c for c in checks if not c.ok] == []
    rules = {(c.file, c.rule) for c in checks}
    assert ("P2/1", "one zeta") in rules and ("P1/2", "threshold") in rules
    assert ("P2/2/iql_medium_maze_seed3.csv", "csv") in rules


def test_the_run_name_zeta_and_seed_are_read_from_the_header(sub):
    run = read_run(sub / "P2/1/iql_umaze_seed2.csv")
    assert run.name == "iql_zeta_0.9_antmaze-umaze-v0_seed2"
    assert (run.zeta, run.seed, run.steps[-1], run.returns[-1]) == (0.9, 2, 300_000, -250.0)
    write_csv(sub.parent / "iql_seed7.csv", "my_run_zeta0.7", [0], [-700.0])
    other = read_run(sub.parent / "iql_seed7.csv")  # the seed from the file name when the run has none
    assert (other.zeta, other.seed) == (0.7, 7)


def test_zeta_comes_from_a_config_json_when_the_run_name_has_none(sub):
    slot = SUBMISSION_SLOTS["P2/1"]
    for seed, file in enumerate(slot.files, start=1):
        write_csv(sub / file, f"umaze_run_seed{seed}", *curve(slot, -250.0))
    assert [(c.file, c.rule) for c in failures(sub)] == [(f, "one zeta") for f in slot.files]
    (sub / "P2/1/config.json").write_text(json.dumps({"algo": "iql", "expectile": 0.9}))
    assert failures(sub) == []


# --- each way to get it wrong --------------------------------------------------------------

def move(src, dst):
    return lambda sub: (sub / src).rename(sub / dst)


def copy(src, dst):
    return lambda sub: shutil.copyfile(sub / src, sub / dst)


def write_bytes(file, data):
    return lambda sub: (sub / file).write_bytes(data)


def in_latin1(file):
    """The same CSV saved in Latin-1 by a spreadsheet, with an accent in the run name."""
    def edit(sub):
        (sub / file).write_bytes((sub / file).read_text().replace("zeta", "z\xe9ta").encode("latin-1"))
    return edit


def edit_header(old, new, file="P1/1/awac_umaze_seed1.csv"):
    def edit(sub):
        header, *rows = (sub / file).read_text().splitlines(keepends=True)
        (sub / file).write_text(header.replace(old, new) + "".join(rows))
    return edit


def set_value(value, file="P1/2/awac_medium_maze_seed1.csv"):
    """Line 6 (step 40000) of a W&B export gets `value` as its Eval_AverageReturn."""
    def edit(sub):
        lines = (sub / file).read_text().splitlines(keepends=True)
        cells = lines[5].split(",")
        lines[5] = ",".join([cells[0], value, *cells[2:]])
        (sub / file).write_text("".join(lines))
    return edit


def rewrite_each(files, **kwargs):
    def edit(sub):
        for file in files:
            rewrite(sub, file, **kwargs)
    return edit


def rewrite(sub, file, run=None, points=None):
    slot = next(s for s in SUBMISSION_SLOTS.values() if file in s.files)
    run = run or run_name(slot, slot.files.index(file) + 1)
    write_csv(sub / file, run, *(points or curve(slot, FINAL[slot.folder])))


UMAZE_AWAC, MEDIUM_IQL = SUBMISSION_SLOTS["P1/1"], SUBMISSION_SLOTS["P2/2"]
ENCODED = "P2/1/iql_umaze_seed1.csv"
BROKEN = {  # case: (how to break a valid submission, [(file, rule, words of the message)])
    "missing file": (lambda sub: (sub / "P2/2/iql_medium_maze_seed3.csv").unlink(),
                     [("P2/2/iql_medium_maze_seed3.csv", "layout", "missing")]),
    "missing folder": (lambda sub: shutil.rmtree(sub / "P1"),
                       [("P1/1", "layout", "found nothing"), ("P1/2", "layout", "found nothing")]),
    "extra file": (copy("P1/1/awac_umaze_seed1.csv", "P1/1/awac_umaze_seed4.csv"),
                   [("P1/1/awac_umaze_seed4.csv", "layout", "found awac_umaze_seed4.csv")]),
    "stray file": (lambda sub: (sub / "notes.txt").write_text("todo"), [("notes.txt", "layout", "none of")]),
    "misnamed file": (move("P1/2/awac_medium_maze_seed2.csv", "P1/2/awac_medium_seed2.csv"),
                      [("P1/2/awac_medium_seed2.csv", "layout", "misnamed")]),
    "misplaced file": (move("P2/2/iql_medium_maze_seed1.csv", "P2/iql_medium_maze_seed1.csv"),
                       [("P2/iql_medium_maze_seed1.csv", "layout", "wrong folder")]),
    "no run column": (edit_header("awac_lambda_0.1_antmaze-umaze-v0_seed1 - ", ""),
                      [("P1/1/awac_umaze_seed1.csv", "columns", "'<run name> - Eval_AverageReturn'")]),
    "other metric": (edit_header("Eval_AverageReturn", "Eval_SuccessRate"),
                     [("P1/1/awac_umaze_seed1.csv", "columns", "'<run name> - Eval_AverageReturn'")]),
    "no Step column": (edit_header('"Step"', '"global_step"'),
                       [("P1/1/awac_umaze_seed1.csv", "columns", "'Step'")]),
    "mixed zeta": (rewrite_each(["P2/1/iql_umaze_seed3.csv"], run="iql_zeta_0.2_antmaze-umaze-v0_seed3"),
                   [("P2/1", "one zeta", "iql_umaze_seed3.csv 0.2")]),
    "duplicate seeds": (copy("P1/1/awac_umaze_seed1.csv", "P1/1/awac_umaze_seed2.csv"),
                        [("P1/1", "distinct seeds", "hold the same seed (1")]),
    "truncated run": (rewrite_each(["P2/2/iql_medium_maze_seed2.csv"],
                                   points=curve(MEDIUM_IQL, -600.0, final_step=150_000)),
                      [("P2/2/iql_medium_maze_seed2.csv", "final step", "stops at step 150000")]),
    "NaN": (set_value('"nan"'), [("P1/2/awac_medium_maze_seed1.csv", "values", "line 6 (step 40000)")]),
    "empty value": (set_value(""), [("P1/2/awac_medium_maze_seed1.csv", "values", "is empty")]),
    "binary junk": (write_bytes(ENCODED, bytes(range(256)) * 4), [(ENCODED, "readable", "binary")]),
    "bad encoding": (in_latin1(ENCODED), [(ENCODED, "readable", "not UTF-8")]),
    "empty file": (write_bytes(ENCODED, b""), [(ENCODED, "columns", "empty")]),
    "wrong scale": (rewrite_each(["P1/1/awac_umaze_seed3.csv"], points=([0, 300_000], [0.0, 56.7])),
                    [("P1/1/awac_umaze_seed3.csv", "scale", "outside [-700, 0]")]),
    "below threshold": (rewrite_each(UMAZE_AWAC.files, points=curve(UMAZE_AWAC, -680.0)),
                        [("P1/1", "threshold", "below the bar -625")]),
}


@pytest.mark.parametrize("case", BROKEN)
def test_each_mistake_fails_with_its_file_rule_and_fix(sub, case):
    breakage, expected = BROKEN[case]
    breakage(sub)
    found = failures(sub)
    assert [(c.file, c.rule) for c in found] == [(file, rule) for file, rule, _ in expected]
    for c, (_, _, text) in zip(found, expected):
        assert text in c.message and c.fix


def test_practice_skips_only_the_task_rules(sub):
    rewrite(sub, "P2/2/iql_medium_maze_seed2.csv", points=([0, 500, 1000], [-150.0, -90.0, -40.0]))
    assert [c.rule for c in failures(sub)] == ["final step"]
    assert failures(sub, practice=True) == []
    assert failures(sub, slots=["P1/1"]) == []


# --- the command line ----------------------------------------------------------------------

def test_cli_exit_codes_and_text_report(sub, capsys):
    assert check_submission_main([str(sub)]) == 0
    assert "OK: the submission passes every check." in capsys.readouterr().out
    (sub / "P2/2/iql_medium_maze_seed3.csv").unlink()
    assert check_submission_main([str(sub)]) == 1
    out = capsys.readouterr().out
    assert "FAIL layout" in out and "P2/2/iql_medium_maze_seed3.csv: missing" in out and "fix: add" in out
    with pytest.raises(SystemExit) as usage:
        check_submission_main([])
    assert usage.value.code == 2
    assert check_submission_main([str(sub / "nowhere")]) == 2
    assert "no folder" in capsys.readouterr().err


def test_cli_json_report(sub, capsys):
    assert check_submission_main([str(sub), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["failures"] == [] and len(report["checks"]) == 4 * 7 - 2
    (sub / "P2/1/iql_umaze_seed1.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    assert check_submission_main([str(sub), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert report["failures"] == [{"file": "P2/1/iql_umaze_seed1.csv", "rule": "readable",
                                   "message": "holds binary data (NUL bytes), not CSV text",
                                   "fix": report["failures"][0]["fix"]}]


def test_cli_reads_an_instructors_thresholds(sub, tmp_path, capsys):
    strict = re.sub(r"^iql = .*$", "iql = -100", THRESHOLDS.read_text(), count=1, flags=re.M)  # umaze's IQL bar
    (tmp_path / "strict.toml").write_text(strict)
    assert check_submission_main([str(sub), "--thresholds", str(tmp_path / "strict.toml")]) == 1
    assert "below the bar -100" in capsys.readouterr().out
    (tmp_path / "broken.toml").write_text(strict.replace("final_step = 300_000", "final_step = 'all'"))
    assert check_submission_main([str(sub), "--thresholds", str(tmp_path / "broken.toml")]) == 2
    assert "[umaze] needs the numbers final_step" in capsys.readouterr().err
    assert check_submission_main([str(sub), "--thresholds", str(tmp_path / "missing.toml")]) == 2


def test_console_script_prints_no_traceback_on_junk(sub):
    (sub / "P1/2/awac_medium_maze_seed1.csv").write_bytes(b"\xff\xfe\x00S\x00t\x00e\x00p" + bytes(range(200)))
    (sub / "P1/2/awac_medium_maze_seed2.csv").write_bytes(b"Step,\xe9\xe8\n1,2\n")
    script = Path(sys.executable).with_name("iql-check-submission")
    result = subprocess.run([str(script), str(sub)], capture_output=True, text=True, check=False)
    assert result.returncode == 1, result.stderr
    assert result.stderr == "" and "Traceback" not in result.stdout
    assert "awac_medium_maze_seed1.csv: holds binary data" in result.stdout
    assert "awac_medium_maze_seed2.csv: is not UTF-8 text (byte 0xe9" in result.stdout
