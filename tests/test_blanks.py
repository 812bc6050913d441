"""The six IQL blanks (docs/design.md, "The six blanks"): reference values, contract checks, stubs,
loaders, and one IQL update driven by the reference blanks.

Every numerical check compares against a closed form written here independently of the
library (numpy or plain torch arithmetic), never against the reference blanks themselves.
"""
from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from iql_lib.algos import make_algorithm
from iql_lib.algos.blanks import BLANK_CHAPTERS, BLANK_NAMES, STUBS, BlankError, Blanks
from iql_lib.assignment.blank_sources import load_blanks
from iql_lib.config import make_config
from iql_lib.training.engine import Engine
from tests.conftest import reference_blanks_module

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _seed_and_cwd(monkeypatch):
    torch.manual_seed(0)
    monkeypatch.chdir(REPO)  # `load_blanks("solutions")` looks in the working directory first


@pytest.fixture(scope="module")
def ref() -> Blanks:
    """The instructor reference, wrapped in the contract checks as IQL uses it."""
    return load_blanks("solutions").checked()


def expectile_weights(diff: np.ndarray, zeta: float) -> np.ndarray:
    return np.abs(zeta - (diff < 0).astype(np.float64))


# --- 2. expectile_loss ---------------------------------------------------------------

def test_expectile_loss_hand_values(ref):
    diff = torch.tensor([2.0, -3.0, 0.0, 0.5, -0.5])
    # ζ = 0.9: weight 0.9 where diff >= 0, 0.1 where diff < 0
    expected = torch.tensor([0.9 * 4.0, 0.1 * 9.0, 0.0, 0.9 * 0.25, 0.1 * 0.25])
    out = ref.expectile_loss(diff, 0.9)
    assert out.shape == diff.shape
    torch.testing.assert_close(out, expected)
    # ζ = 0.2 swaps which side is cheap
    torch.testing.assert_close(ref.expectile_loss(diff, 0.2),
                               torch.tensor([0.8, 7.2, 0.0, 0.05, 0.2]))


@pytest.mark.parametrize("shape", [(7,), (3, 4)])
@pytest.mark.parametrize("zeta", [0.1, 0.5, 0.9])
def test_expectile_loss_is_elementwise_without_reduction(ref, shape, zeta):
    diff = torch.randn(shape, dtype=torch.float64)
    out = ref.expectile_loss(diff, zeta)
    assert out.shape == diff.shape
    d = diff.numpy()
    np.testing.assert_allclose(out.numpy(), expectile_weights(d, zeta) * d**2, rtol=1e-6)


def test_expectile_loss_keeps_float64_precision(ref):
    diff = torch.tensor([1.0, -1.0], dtype=torch.float64)
    out = ref.expectile_loss(diff, 0.9)
    np.testing.assert_allclose(out.numpy(), [0.9, 0.1], rtol=1e-12)


def numpy_expectile(x: np.ndarray, zeta: float) -> float:
    """The ζ-expectile: the root m of sum(|ζ − 1[x < m]| (x − m)), decreasing in m."""
    lo, hi = float(x.min()), float(x.max())
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if np.sum(expectile_weights(x - mid, zeta) * (x - mid)) > 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def minimise_mean_expectile_loss(blanks: Blanks, x: torch.Tensor, zeta: float) -> float:
    """Plain gradient descent on a scalar m. The loss has curvature 2·mean(w) ∈ [0.2, 1.8]
    for ζ ∈ [0.1, 0.9], so a step of 0.5 contracts the error by at least 0.9 per step."""
    m = torch.zeros((), dtype=torch.float64, requires_grad=True)
    for _ in range(400):
        loss = blanks.expectile_loss(x - m, zeta).mean()
        (grad,) = torch.autograd.grad(loss, m)
        with torch.no_grad():
            m -= 0.5 * grad
    return m.item()


def test_expectile_loss_minimiser_is_the_expectile(ref):
    x = torch.randn(40, dtype=torch.float64) * 2.0 + 1.0
    found = {z: minimise_mean_expectile_loss(ref, x, z) for z in (0.1, 0.5, 0.9)}
    for zeta, m in found.items():
        assert m == pytest.approx(numpy_expectile(x.numpy(), zeta), abs=1e-6)
    assert found[0.5] == pytest.approx(x.mean().item(), abs=1e-6)
    assert x.mean().item() < found[0.9] < x.max().item()
    assert x.min().item() < found[0.1] < x.mean().item()


# --- 3. value_loss -------------------------------------------------------------------

def test_value_loss_value_and_gradient(ref):
    zeta, batch = 0.7, 6
    q_target = torch.randn(batch, dtype=torch.float64, requires_grad=True)
    v = torch.randn(batch, dtype=torch.float64, requires_grad=True)
    loss = ref.value_loss(q_target, v, zeta)
    assert loss.shape == ()

    d = (q_target - v).detach().numpy()
    w = expectile_weights(d, zeta)
    assert loss.item() == pytest.approx(np.mean(w * d**2), rel=1e-6)

    loss.backward()
    assert q_target.grad is None  # the target is held fixed
    np.testing.assert_allclose(v.grad.numpy(), -2.0 * w * d / batch, rtol=1e-6)


# --- 4. q_losses ---------------------------------------------------------------------

@pytest.fixture
def q_setup(ref):
    batch, ob_dim = 5, 3
    v_net = ref.make_value_network(ob_dim, hidden_size=8, n_layers=2)
    return dict(
        q1=torch.randn(batch, requires_grad=True),
        q2=torch.randn(batch, requires_grad=True),
        v_net=v_net,
        next_obs=torch.randn(batch, ob_dim),
        reward=torch.randn(batch),
        terminal=torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0]),
    )


def td_target(s, gamma):
    with torch.no_grad():
        next_v = s["v_net"](s["next_obs"])[:, 0]
    return s["reward"] + gamma * (1.0 - s["terminal"]) * next_v


def test_q_losses_values_and_gradients(ref, q_setup):
    s, gamma = q_setup, 0.9
    loss1, loss2 = ref.q_losses(gamma=gamma, **s)
    y = td_target(s, gamma)
    q1, q2 = s["q1"].detach(), s["q2"].detach()
    torch.testing.assert_close(loss1, ((q1 - y) ** 2).mean())
    torch.testing.assert_close(loss2, ((q2 - y) ** 2).mean())

    (loss1 + loss2).backward()
    assert all(p.grad is None for p in s["v_net"].parameters())  # y is a constant
    torch.testing.assert_close(s["q1"].grad, 2.0 * (q1 - y) / len(y))
    torch.testing.assert_close(s["q2"].grad, 2.0 * (q2 - y) / len(y))


def test_q_losses_terminal_target_is_reward(ref, q_setup):
    s = dict(q_setup, terminal=torch.ones(5))
    s["q2"] = s["reward"].clone().requires_grad_()  # q2 = r exactly → zero loss
    loss1, loss2 = ref.q_losses(gamma=0.99, **s)
    torch.testing.assert_close(loss1, ((s["q1"].detach() - s["reward"]) ** 2).mean())
    assert loss2.item() == 0.0


def test_q_losses_follow_gamma(ref, q_setup):
    s = q_setup
    losses = {}
    for gamma in (0.0, 0.5, 0.99):
        losses[gamma] = ref.q_losses(gamma=gamma, **s)[0]
        y = td_target(s, gamma)
        torch.testing.assert_close(losses[gamma], ((s["q1"].detach() - y) ** 2).mean())
    torch.testing.assert_close(losses[0.0], ((s["q1"].detach() - s["reward"]) ** 2).mean())
    assert losses[0.5] != losses[0.99]


# --- 5. estimate_advantage and actor_loss -------------------------------------------

def test_estimate_advantage(ref):
    q, v = torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.5, -1.0, 0.5])
    adv = ref.estimate_advantage(q, v)
    assert adv.shape == (3,)
    torch.testing.assert_close(adv, torch.tensor([0.5, -1.0, 0.0]))


@pytest.mark.parametrize("max_weight", [50.0, 2.0])
def test_actor_loss_value_and_gradient(ref, max_weight):
    temperature = 0.1
    # exp(adv/λ) = [e^-5, 1, e^1, e^10]; e^10 > 50 always clamps, e^1 > 2 clamps too when max_weight = 2
    adv = torch.tensor([-0.5, 0.0, 0.1, 1.0], dtype=torch.float64, requires_grad=True)
    log_prob = torch.tensor([-1.0, -2.0, -0.5, -3.0], dtype=torch.float64, requires_grad=True)
    weights = np.minimum(np.exp(adv.detach().numpy() / temperature), max_weight)
    assert weights[-1] == max_weight  # the clamp binds

    loss = ref.actor_loss(log_prob, adv, temperature, max_weight=max_weight)
    assert loss.item() == pytest.approx(-np.mean(weights * log_prob.detach().numpy()), rel=1e-12)

    loss.backward()
    np.testing.assert_allclose(log_prob.grad.numpy(), -weights / 4, rtol=1e-12)
    assert adv.grad is None  # the weights are constants


def test_actor_loss_default_max_weight_is_50(ref):
    adv, log_prob = torch.tensor([5.0]), torch.tensor([-1.0])
    assert ref.actor_loss(log_prob, adv, 0.1).item() == pytest.approx(50.0)


# --- 6. make_value_network -----------------------------------------------------------

@pytest.mark.parametrize("n_layers", [1, 2, 3])
def test_make_value_network_architecture(ref, n_layers):
    ob_dim, hidden = 4, 8
    net = ref.make_value_network(ob_dim, hidden_size=hidden, n_layers=n_layers)
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    relus = [m for m in net.modules() if isinstance(m, nn.ReLU)]
    assert len(linears) == n_layers + 1
    assert len(relus) == n_layers
    assert linears[0].in_features == ob_dim  # state only, no action input
    assert [l.out_features for l in linears] == [hidden] * n_layers + [1]
    assert net(torch.randn(6, ob_dim)).shape == (6, 1)


def test_make_value_network_hidden_layers_are_relu(ref):
    """With zero output bias and all-ones output weights, V(s) = sum of the last hidden
    ReLU activations, which is never negative, whatever the input."""
    net = ref.make_value_network(3, hidden_size=8, n_layers=1)
    last = [m for m in net.modules() if isinstance(m, nn.Linear)][-1]
    with torch.no_grad():
        last.weight.fill_(1.0)
        last.bias.zero_()
        first = [m for m in net.modules() if isinstance(m, nn.Linear)][0]
        x = torch.randn(32, 3)
        expected = torch.relu(first(x)).sum(-1, keepdim=True)
        torch.testing.assert_close(net(x), expected)


# --- 7. contract checks --------------------------------------------------------------

def _reference_unchecked() -> Blanks:
    return load_blanks("solutions")


def _v_net_returning_b(ob_dim, hidden_size=256, n_layers=2):
    return nn.Sequential(nn.Linear(ob_dim, 1), nn.Flatten(0))


BROKEN = {
    # name: (wrong implementation, call on the checked blanks, fragments of the message)
    "make_value_network": (_v_net_returning_b,
                           lambda b: b.make_value_network(4, hidden_size=8, n_layers=1),
                           ["Blank 1 (make_value_network)", "[3, 1]", "got [3]"]),
    "make_value_network/not a module": (lambda ob_dim, hidden_size=256, n_layers=2: (lambda x: x),
                                        lambda b: b.make_value_network(4),
                                        ["Blank 1 (make_value_network)", "torch.nn.Module", "function"]),
    "expectile_loss": (lambda diff, expectile: (diff**2).mean(),
                       lambda b: b.expectile_loss(torch.randn(4), 0.9),
                       ["Blank 2 (expectile_loss)", "expected [4]", "got []"]),
    "value_loss": (lambda q_target, v, expectile: (q_target - v) ** 2,
                   lambda b: b.value_loss(torch.randn(4), torch.randn(4), 0.9),
                   ["Blank 3 (value_loss)", "expected []", "got [4]"]),
    "q_losses": (lambda q1, q2, v_net, next_obs, reward, terminal, gamma: ((q1 - reward) ** 2).mean(),
                 lambda b: b.q_losses(torch.randn(4), torch.randn(4), nn.Linear(2, 1),
                                      torch.randn(4, 2), torch.randn(4), torch.zeros(4), 0.9),
                 ["Blank 4 (q_losses)", "pair", "Tensor"]),
    "estimate_advantage": (lambda q_sa, v_s: (q_sa - v_s).unsqueeze(-1),
                           lambda b: b.estimate_advantage(torch.randn(4), torch.randn(4)),
                           ["Blank 5 (estimate_advantage)", "expected [4]", "got [4, 1]"]),
    "actor_loss": (lambda log_prob, adv, temperature, max_weight=50.0: torch.tensor(1),
                   lambda b: b.actor_loss(torch.randn(4), torch.randn(4), 0.1),
                   ["Blank 6 (actor_loss)", "floating-point", "torch.int64"]),
    "actor_loss/float": (lambda log_prob, adv, temperature, max_weight=50.0: 1.5,
                         lambda b: b.actor_loss(torch.randn(4), torch.randn(4), 0.1),
                         ["Blank 6 (actor_loss)", "torch.Tensor of shape []", "got float"]),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_checked_blanks_reject_broken_contracts(case):
    wrong, call, fragments = BROKEN[case]
    name = case.split("/")[0]
    blanks = dataclasses.replace(_reference_unchecked(), **{name: wrong}).checked()
    with pytest.raises(BlankError) as info:
        call(blanks)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_checked_blanks_built_directly_pass_values_through():
    raw = _reference_unchecked()
    blanks = Blanks(**{name: getattr(raw, name) for name in BLANK_NAMES}).checked()
    assert blanks.source == "unknown"
    diff = torch.randn(5)
    torch.testing.assert_close(blanks.expectile_loss(diff, 0.3), raw.expectile_loss(diff, 0.3))


# --- 8. stubs ------------------------------------------------------------------------

@pytest.mark.parametrize("number,name", list(enumerate(BLANK_NAMES, start=1)))
def test_stubs_name_blank_and_chapter(number, name):
    with pytest.raises(NotImplementedError) as info:
        getattr(STUBS, name)()
    message = str(info.value)
    assert f"Blank {number} ({name})" in message
    assert "chapter" in message and BLANK_CHAPTERS[name] in message
    assert load_blanks("stubs") is STUBS


def test_iql_with_stubs_fails_at_the_value_network():
    cfg = make_config(algo="iql", hidden_size=8)
    with pytest.raises(NotImplementedError, match="make_value_network"):
        make_algorithm("iql", 2, 5, True, cfg, blanks=STUBS)


# --- 9. load_blanks ------------------------------------------------------------------

def _function_sources() -> dict[str, str]:
    text = reference_blanks_module()
    return {node.name: ast.get_source_segment(text, node)
            for node in ast.parse(text).body if isinstance(node, ast.FunctionDef)}


def _code(source: str, as_lines: bool = True) -> dict:
    """A code cell; nbformat stores `source` either as a list of lines or one string."""
    return {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
            "source": source.splitlines(keepends=True) if as_lines else source}


def _markdown(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": [text]}


def _write_notebook(path: Path, cells: list[dict]) -> Path:
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


IMPORTS = "%matplotlib inline\n!echo not-run\nimport torch\nfrom torch import nn\n"
TRAINING = ("raise RuntimeError('training cell')\n"
            "expectile_loss = None  # a top-level rebinding must be skipped too\n")


def _assert_behaves_like_reference(blanks: Blanks):
    diff = torch.tensor([1.0, -2.0])
    torch.testing.assert_close(blanks.checked().expectile_loss(diff, 0.9), torch.tensor([0.9, 0.4]))
    torch.testing.assert_close(blanks.estimate_advantage(torch.tensor([3.0]), torch.tensor([1.0])),
                               torch.tensor([2.0]))
    assert blanks.checked().make_value_network(3, hidden_size=4, n_layers=1)(torch.zeros(2, 3)).shape == (2, 1)


def test_load_solutions_by_name_by_folder_by_module(tmp_path):
    by_name = load_blanks("solutions")  # the solution cells of the chapter notebooks
    assert Path(by_name.source).resolve() == REPO / "solutions"
    _assert_behaves_like_reference(by_name)
    _assert_behaves_like_reference(load_blanks(str(REPO / "solutions")))
    module = tmp_path / "reference.py"
    module.write_text(reference_blanks_module())
    _assert_behaves_like_reference(load_blanks(str(module)))


def test_load_from_notebook_skips_magics_and_top_level_statements(tmp_path):
    funcs = _function_sources()
    cells = [_markdown("# Chapter 4\nThe expectile."), _code(IMPORTS)]
    cells += [_code(funcs[name], as_lines=(i % 2 == 0)) for i, name in enumerate(BLANK_NAMES)]
    cells.append(_code("%%time\n" + TRAINING))
    cells.append(_code(TRAINING))
    notebook = _write_notebook(tmp_path / "chapter.ipynb", cells)

    blanks = load_blanks(str(notebook))
    assert blanks.source == str(notebook)
    _assert_behaves_like_reference(blanks)


def test_load_from_notebook_later_definition_wins(tmp_path):
    funcs = _function_sources()
    wrong = "def expectile_loss(diff, expectile):\n    return diff * 0\n"
    cells = [_code(IMPORTS), _code(wrong)] + [_code(funcs[name]) for name in BLANK_NAMES]
    _assert_behaves_like_reference(load_blanks(str(_write_notebook(tmp_path / "nb.ipynb", cells))))


def test_load_from_folder_of_notebooks(tmp_path):
    funcs = _function_sources()
    first, second = BLANK_NAMES[:3], BLANK_NAMES[3:]
    _write_notebook(tmp_path / "04_expectile.ipynb",
                    [_code(IMPORTS)] + [_code(funcs[n]) for n in first] + [_code(TRAINING)])
    _write_notebook(tmp_path / "05_networks.ipynb",
                    [_code(IMPORTS)] + [_code(funcs[n]) for n in second])
    blanks = load_blanks(str(tmp_path))
    assert blanks.source == str(tmp_path)
    _assert_behaves_like_reference(blanks)


def test_load_notebook_missing_a_blank(tmp_path):
    funcs = _function_sources()
    cells = [_code(IMPORTS)] + [_code(funcs[n]) for n in BLANK_NAMES if n != "actor_loss"]
    notebook = _write_notebook(tmp_path / "partial.ipynb", cells)
    with pytest.raises(BlankError, match="actor_loss") as info:
        load_blanks(str(notebook))
    assert str(notebook) in str(info.value)


def test_load_notebook_with_syntax_error_names_the_file(tmp_path):
    notebook = _write_notebook(tmp_path / "broken.ipynb", [_code("def expectile_loss(diff:\n")])
    with pytest.raises(BlankError) as info:
        load_blanks(str(notebook))
    assert str(notebook) in str(info.value)


@pytest.mark.parametrize("name", ["missing.ipynb", "missing.py", "missing_folder", "empty_folder"])
def test_load_nonexistent_or_empty_sources(tmp_path, name):
    (tmp_path / "empty_folder").mkdir()
    with pytest.raises(BlankError):
        load_blanks(str(tmp_path / name))


def test_load_unknown_module_name():
    with pytest.raises(BlankError, match="not a notebook, .py file, folder or importable module"):
        load_blanks("no_such_blanks_module")


def test_load_missing_relative_folder_raises_blank_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BlankError):
        load_blanks("./my_notebooks")


def test_load_notebook_with_cell_magic(tmp_path):
    funcs = _function_sources()
    cells = [_code(IMPORTS), _code("%%bash\necho hello\nls -la\n")]
    cells += [_code(funcs[n]) for n in BLANK_NAMES]
    _assert_behaves_like_reference(load_blanks(str(_write_notebook(tmp_path / "nb.ipynb", cells))))


# --- 10. one IQL update --------------------------------------------------------------

def _batch(ob_dim, ac_dim, discrete, size=8):
    actions = (torch.randint(0, ac_dim, (size,)) if discrete
               else torch.rand(size, ac_dim) * 2.0 - 1.0)
    return {"obs": torch.randn(size, ob_dim), "actions": actions, "rewards": torch.randn(size),
            "next_obs": torch.randn(size, ob_dim),
            "terminals": (torch.arange(size) % 3 == 0).float()}


def _engine(ob_dim, ac_dim, discrete):
    cfg = make_config(algo="iql", hidden_size=16)
    algo = make_algorithm("iql", ob_dim, ac_dim, discrete, cfg, blanks=load_blanks("solutions"))
    return Engine(algo, [1], torch.device("cpu"), compile=False), cfg


def _networks(engine) -> dict[str, torch.Tensor]:
    return {k: v[0].clone() for k, v in engine.state.items() if not k.endswith("_opt")}


@pytest.mark.parametrize("ob_dim,ac_dim,discrete", [(2, 5, True), (3, 2, False)],
                         ids=["discrete", "continuous"])
def test_iql_update_with_reference_blanks(ob_dim, ac_dim, discrete):
    engine, cfg = _engine(ob_dim, ac_dim, discrete)
    batch = _batch(ob_dim, ac_dim, discrete)
    old = _networks(engine)

    metrics = engine.step({k: v[None] for k, v in batch.items()}, None)
    new = _networks(engine)

    assert {"Critic_V_Loss", "Critic_Q_Loss", "Actor_Loss"} <= set(metrics)
    assert all(torch.isfinite(value).all() for value in metrics.values())
    for name in ("v_net", "q_net", "policy"):
        assert not torch.equal(old[name], new[name]), f"{name} did not move"
    tau = cfg.polyak_tau
    torch.testing.assert_close(new["q_target"], old["q_target"] + tau * (new["q_net"] - old["q_target"]),
                               rtol=1e-6, atol=1e-7)


def test_iql_update_metrics_match_closed_forms():
    """Order of one step (docs/design.md): V from target Q; actor from online Q and the *new* V;
    Q toward r + γ(1 − d)V(s') with the new V; only then the Polyak step."""
    engine, cfg = _engine(2, 5, True)
    algo = engine.algo
    b = _batch(2, 5, True)
    old = _networks(engine)
    metrics = {k: v[0] for k, v in engine.step({k: v[None] for k, v in b.items()}, None).items()}
    new = _networks(engine)

    obs, actions = b["obs"], b["actions"]
    with torch.no_grad():
        d = algo.q.min(old["q_target"], obs, actions) - algo.v(old["v_net"], obs)
        w = torch.abs(cfg.expectile - (d < 0).float())
        v_loss = (w * d**2).mean()

        adv = algo.q.min(old["q_net"], obs, actions) - algo.v(new["v_net"], obs)
        weights = torch.exp(adv / cfg.temperature).clamp(max=cfg.max_weight)
        actor = -(weights * algo.log_prob(old["policy"], obs, actions)).mean()

        y = b["rewards"] + cfg.gamma * (1 - b["terminals"]) * algo.v(new["v_net"], b["next_obs"])
        q1, q2 = algo.q(old["q_net"], obs, actions)
        q_loss = (((q1 - y) ** 2).mean() + ((q2 - y) ** 2).mean()) / 2

    torch.testing.assert_close(metrics["Critic_V_Loss"], v_loss)
    torch.testing.assert_close(metrics["Actor_Loss"], actor)
    torch.testing.assert_close(metrics["Critic_Q_Loss"], q_loss)
