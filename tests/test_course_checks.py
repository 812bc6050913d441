"""The course's helpers for learners: visible checks with pointed hints, fast mode, loading
the learner's blanks from the chapter notebooks, the value maps and the data-flow figure."""
from __future__ import annotations

import linecache
import shutil
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn

from iql_lib.algos.blanks import BLANK_NAMES, STUBS
from iql_lib.assignment.blank_sources import load_blanks
from iql_lib.config import make_config
from iql_lib.course import checks
from iql_lib.course.dataflow import ARROWS, BOXES, draw_iql_step
from iql_lib.course.notebook import FAST_ENV, budget, learner_blanks
from iql_lib.course.value_maps import cell_maps
from iql_lib.training.train import train

matplotlib.use("Agg")
SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"


@pytest.fixture(scope="module")
def ref():
    return load_blanks(str(SOLUTIONS))


def test_the_reference_passes_every_check(ref, capsys):
    checks.check_blanks(ref)
    assert capsys.readouterr().out.count("✓") == len(BLANK_NAMES)


@pytest.mark.parametrize("name", BLANK_NAMES)
def test_a_stub_fails_with_the_blank_and_its_chapter(name):
    with pytest.raises(NotImplementedError, match=rf"Blank \d \({name}\) is not written yet: write it in chapter \d, 0\d_\w+.ipynb, the cell `def {name}"):
        checks.CHECKS[name](getattr(STUBS, name))


def _bare_stub(*args, **kwargs):  # what nbgrader leaves in a student's notebook
    raise NotImplementedError("not written yet")


def test_an_nbgrader_stub_is_named_by_the_check():
    with pytest.raises(NotImplementedError, match=r"Blank 6 \(actor_loss\) is not written yet.*chapter 7"):
        checks.check_actor_loss(_bare_stub)


def _swapped_zeta(diff, expectile):
    return torch.abs(expectile - (diff > 0).to(diff.dtype)) * diff**2


def _reduced(diff, expectile):
    return (torch.abs(expectile - (diff < 0).to(diff.dtype)) * diff**2).mean()


def _pinball(diff, expectile):
    return torch.abs(expectile - (diff < 0).to(diff.dtype)) * diff.abs()


def _non_strict(diff, expectile):  # 1[diff <= 0] is as right as 1[diff < 0]
    return torch.abs(expectile - (diff <= 0).to(diff.dtype)) * diff**2


@pytest.mark.parametrize("wrong, hint", [
    (_swapped_zeta, "negative errors got weight ζ"),
    (_reduced, "keep one loss per sample"),
    (_pinball, "squares it"),
])
def test_expectile_loss_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(checks.BlankCheckFailed, match=hint):
        checks.check_expectile_loss(wrong)


def test_expectile_loss_accepts_a_non_strict_indicator():
    checks.check_expectile_loss(_non_strict)


def test_value_loss_mistakes_get_their_hint(ref):
    expectile_loss = ref.expectile_loss
    with pytest.raises(checks.BlankCheckFailed, match="q_target − v"):
        checks.check_value_loss(lambda q, v, z: expectile_loss(v - q.detach(), z).mean())
    with pytest.raises(checks.BlankCheckFailed, match="summed"):
        checks.check_value_loss(lambda q, v, z: expectile_loss(q.detach() - v, z).sum())


def test_value_loss_accepts_a_target_that_is_not_detached(ref, capsys):
    # IQL computes q_target without gradient, so the guide's `expectile_loss(q_target - v)`
    # is as right as a detached target
    expectile_loss = ref.expectile_loss
    checks.check_value_loss(lambda q, v, z: expectile_loss(q - v, z).mean())
    out = capsys.readouterr().out
    assert "✓ value_loss" in out and "note: gradient reaches q_target" in out


def test_value_loss_names_a_wrong_expectile_loss_it_calls():
    namespace = {"torch": torch}
    exec("def expectile_loss(diff, expectile):\n    return diff ** 2\n"
         "def value_loss(q_target, v, expectile):\n    return expectile_loss(q_target - v, expectile).mean()\n",
         namespace)
    with pytest.raises(checks.BlankCheckFailed, match=r"calls your expectile_loss.*fix blank 2"):
        checks.check_value_loss(namespace["value_loss"])


def test_a_blank_that_raises_is_named_with_its_line():
    namespace = {}
    exec(compile("def estimate_advantage(q_sa, v_s):\n    return q_sa - v_z\n", "07_stitching.ipynb (cell 4)",
                 "exec"), namespace)
    with pytest.raises(checks.LearnerError, match=r"(?s)Blank 5 \(estimate_advantage\) raised NameError.*line 2"):
        checks.check_estimate_advantage(namespace["estimate_advantage"])


def _q_losses(target_fn):
    def q_losses(q1, q2, v_net, next_obs, reward, terminal, gamma):
        y = target_fn(v_net, next_obs, reward, terminal, gamma)
        return nn.functional.mse_loss(q1, y), nn.functional.mse_loss(q2, y)
    return q_losses


@pytest.mark.parametrize("target, hint", [
    (lambda v, s, r, d, g: r + g * (1 - d) * v(s).squeeze(-1), "V received gradient"),
    (lambda v, s, r, d, g: (r + g * v(s).squeeze(-1)).detach(), "terminal transition has no future"),
    (lambda v, s, r, d, g: (r + (1 - d) * v(s).squeeze(-1)).detach(), "γ is missing"),
])
def test_q_losses_mistakes_get_their_hint(target, hint):
    with pytest.raises(checks.BlankCheckFailed, match=hint):
        checks.check_q_losses(_q_losses(target))


def test_actor_loss_and_advantage_mistakes_get_their_hint():
    with pytest.raises(checks.BlankCheckFailed, match="sign is flipped"):
        checks.check_estimate_advantage(lambda q, v: v - q)
    with pytest.raises(checks.BlankCheckFailed, match="clamped"):
        checks.check_actor_loss(lambda lp, a, t, max_weight=50.0: -(torch.exp(a.detach() / t) * lp).mean())
    with pytest.raises(checks.BlankCheckFailed, match="summed over the batch"):
        checks.check_actor_loss(lambda lp, a, t, max_weight=50.0: -(torch.exp(a.detach() / t).clamp(max=max_weight) * lp).sum())


def test_actor_loss_accepts_weights_that_are_not_detached(capsys):
    # IQL computes adv without gradient, so the weights are constants either way
    checks.check_actor_loss(lambda lp, a, t, max_weight=50.0: -(torch.exp(a / t).clamp(max=max_weight) * lp).mean())
    out = capsys.readouterr().out
    assert "✓ actor_loss" in out and "note: gradient reaches adv" in out


def test_value_network_mistakes_get_their_hint(ref):
    with pytest.raises(checks.BlankCheckFailed, match=r"\[B, 1\]"):
        checks.check_make_value_network(lambda d, hidden_size=256, n_layers=2: nn.Sequential(
            nn.Linear(d, hidden_size), nn.ReLU(), nn.Linear(hidden_size, 1), nn.Flatten(0)))
    with pytest.raises(checks.BlankCheckFailed, match="output layer must be linear"):
        checks.check_make_value_network(lambda d, hidden_size=256, n_layers=2: nn.Sequential(
            *ref.make_value_network(d, hidden_size, n_layers), nn.ReLU()))
    with pytest.raises(checks.BlankCheckFailed, match="one ReLU after"):
        checks.check_make_value_network(lambda d, hidden_size=256, n_layers=2: nn.Sequential(
            *[m for m in ref.make_value_network(d, hidden_size, n_layers) if not isinstance(m, nn.ReLU)]))


def test_budget_follows_the_fast_mode_variable(monkeypatch):
    monkeypatch.delenv(FAST_ENV, raising=False)
    assert budget(50_000, 800) == 50_000
    monkeypatch.setenv(FAST_ENV, "1")
    assert budget(50_000, 800) == 800
    monkeypatch.setenv(FAST_ENV, "0")
    assert budget(50_000, 800) == 50_000


def test_learner_blanks_come_from_the_notebooks_and_the_kernel_wins(tmp_path, capsys):
    for path in SOLUTIONS.glob("*.ipynb"):
        shutil.copy(path, tmp_path / path.name)
    blanks = learner_blanks(folder=tmp_path)
    out = capsys.readouterr().out
    assert "blank 2 expectile_loss" in out and "04_expectile_loss.ipynb" in out
    assert "blank 5 estimate_advantage" in out and "07_stitching.ipynb" in out
    checks.check_estimate_advantage(blanks.estimate_advantage)

    def estimate_advantage(q_sa, v_s):  # what the learner just ran in the kernel
        return v_s - q_sa

    mine = learner_blanks({"estimate_advantage": estimate_advantage}, folder=tmp_path)
    assert mine.estimate_advantage is estimate_advantage
    assert "estimate_advantage   from this notebook" in capsys.readouterr().out


def test_value_maps_of_a_trained_iql_run(tmp_path, ref):
    cfg = make_config(algo="iql", num_timesteps=300, eval_freq=300, eval_episodes=2, compile="off",
                      out=str(tmp_path))
    (run,) = train(cfg, blanks=ref, progress=False)
    maps = cell_maps(run)
    free = ~np.isnan(maps.values)
    assert maps.values.shape == (6, 6) and free.sum() == 21  # the medium maze's corridor
    assert np.isfinite(maps.advantages[free]).all() and np.isnan(maps.advantages[~free]).all()
    best = maps.advantages[free].argmax(-1)
    assert set(np.unique(maps.best_action_names()[free])) <= {"stay", "-y", "+y", "-x", "+x"}
    moves = np.abs(maps.arrows[free]).sum(-1) > 0
    assert np.array_equal(moves, best != 0)  # an arrow unless "stay" is best


def test_value_maps_refuse_a_bc_run(tmp_path):
    cfg = make_config(algo="bc", num_timesteps=10, eval_freq=10, eval_episodes=1, compile="off", out=str(tmp_path))
    (run,) = train(cfg, progress=False)
    with pytest.raises(ValueError, match="need an IQL run"):
        cell_maps(run)


def test_data_flow_figure_names_every_box_and_renders(tmp_path):
    assert {name for arrow in ARROWS for name in arrow[:2]} == set(BOXES)
    ax = draw_iql_step()
    texts = " ".join(t.get_text() for t in ax.texts)
    for number in range(1, 7):
        assert f"blank {number}" in texts or f"blanks {number}" in texts or f", {number}" in texts
    ax.figure.savefig(tmp_path / "step.png")
    assert (tmp_path / "step.png").stat().st_size > 10_000


def test_under_autograde_the_blanks_come_from_the_submission(tmp_path, monkeypatch):
    submitted = tmp_path / "submitted" / "ada" / "iql"
    graded = tmp_path / "autograded" / "ada" / "iql"
    submitted.mkdir(parents=True)
    graded.mkdir(parents=True)
    for path in SOLUTIONS.glob("*.ipynb"):
        shutil.copy(path, submitted / path.name)
    shutil.copy(SOLUTIONS / "04_expectile_loss.ipynb", graded)  # graded so far: chapter 4 only
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    blanks = learner_blanks(folder=graded, verbose=False)
    assert blanks.source == f"notebooks in {submitted}"
    monkeypatch.delenv("NBGRADER_EXECUTION")
    with pytest.raises(Exception, match="does not define blank"):
        learner_blanks(folder=graded, verbose=False)


def test_errors_from_a_blank_name_the_blank_and_its_cell():
    from iql_lib.algos.blanks import BlankError
    from iql_lib.course import blank_errors as errors

    namespace, source = {}, "def value_loss(q_target, v, expectile):\n    return q_target.nope\n"
    name = "05_three_networks.ipynb (cell 10)"  # as the notebook loader names a cell's code
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    exec(compile(source, name, "exec"), namespace)
    with pytest.raises(AttributeError) as info:
        (lambda fn: fn(torch.zeros(2), torch.zeros(2), 0.9))(namespace["value_loss"])  # the library calls it
    lines = errors.blank_raised(info.value)._render_traceback_()
    assert len(lines) <= 6 and "Blank 3 (value_loss) raised AttributeError" in lines[0], lines
    assert any("return q_target.nope" in line for line in lines) and "05_three_networks.ipynb" in "".join(lines)
    contract = BlankError("Blank 4 (q_losses) returned a loss of the wrong shape: expected [], got [3]")
    assert "06_iql_vs_awac.ipynb, the cell `def q_losses(…)`" in str(errors.blank_raised(contract))
    assert errors.blank_raised(ValueError("the library's own error")) is None


@pytest.mark.slow
def test_a_kernel_shows_a_blanks_error_in_a_few_lines():
    """In a real kernel, IPython prints the short message in place of the traceback."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in (
        "import torch\nfrom iql_lib.course.blank_errors import show_blank_errors_short\nshow_blank_errors_short()",
        "def actor_loss(log_prob, adv, temperature, max_weight=50.0):\n    return -(log_prob * adv).mean(0, 1)",
        "from iql_lib.training.train import train\nactor_loss(torch.zeros(3), torch.zeros(3), 0.1)",
        "1 / 0",
    )])
    NotebookClient(notebook, timeout=120, allow_errors=True, kernel_name="python3").execute()
    short, other = (cell.outputs[0] for cell in notebook.cells[2:])
    assert short.ename == "TypeError" and len(short.traceback) <= 6, short.traceback
    assert "Blank 6 (actor_loss) raised TypeError" in short.traceback[0]
    assert "07_stitching.ipynb" in "\n".join(short.traceback)
    assert other.ename == "ZeroDivisionError" and len(other.traceback) > 1  # not a blank: IPython's own
