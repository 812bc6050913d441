"""Visible tests for the six blanks: instant feedback, with a hint that names the mistake.

Each `check_<blank>(fn)` runs the learner's function on a few small inputs and compares
the result with values worked out once, by hand, for exactly those inputs (constants
here, so the checks do not spell the answers out). Results that match a usual mistake get
that mistake's hint. A blank that is still a stub fails with the chapter and cell to
write it in. The graded (hidden) tests live with the instructor.
"""
from __future__ import annotations

import torch
from torch import nn

from iql_lib.algos.blanks import BLANK_NAMES, unwritten_blank
from iql_lib.course.blank_errors import BlankNotWritten, BlankRaised, LearnerError, blank_label, blank_raised


class BlankCheckFailed(LearnerError, AssertionError):
    """A blank ran but gave the wrong answer; the message says what to change."""


def _call(name: str, fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except LearnerError:
        raise
    except NotImplementedError as err:
        raise BlankNotWritten([unwritten_blank(err) or name]) from None
    except Exception as err:  # the learner's code may raise anything: say where, briefly
        raise (blank_raised(err) or BlankRaised(f"{blank_label(name)} raised {type(err).__name__}: {err}")) from None


def _fail(name: str, hint: str, expected=None, got=None) -> BlankCheckFailed:
    detail = "" if expected is None else f"\n  expected: {_show(expected)}\n  got:      {_show(got)}"
    return BlankCheckFailed(f"{blank_label(name)}: {hint}{detail}")


def _show(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, torch.Tensor):
        return f"{[round(v, 4) for v in value.detach().flatten().tolist()]} (shape {list(value.shape)})"
    return repr(value)


def _tensor(name: str, value, shape: tuple, reduced_hint: str = "") -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise _fail(name, f"must return a torch.Tensor, returned {type(value).__name__}")
    if tuple(value.shape) != tuple(shape):
        hint = reduced_hint if value.dim() == 0 and reduced_hint else "returned the wrong shape"
        raise _fail(name, hint, f"shape {list(shape)}", f"shape {list(value.shape)}")
    return value


def _close(a: torch.Tensor, b) -> bool:
    b = torch.as_tensor(b, dtype=torch.float64)
    return a.shape == b.shape and torch.allclose(a.detach().double(), b, atol=1e-5)


def _diagnose(name: str, got: torch.Tensor, expected: list, mistakes: dict[str, list]):
    """Fail with the hint of the first known mistake `got` matches, or a plain mismatch."""
    if _close(got, expected):
        return
    for hint, wrong in mistakes.items():
        if _close(got, wrong):
            raise _fail(name, hint, torch.tensor(expected), got)
    raise _fail(name, "wrong values", torch.tensor(expected), got)


# ---------------------------------------------------------------- blank 1

def check_make_value_network(make_value_network) -> None:
    name = "make_value_network"
    for n_layers in (2, 3):
        net = _call(name, make_value_network, 4, hidden_size=32, n_layers=n_layers)
        if not isinstance(net, nn.Module):
            raise _fail(name, f"must return a torch.nn.Module, returned {type(net).__name__}")
        out = net(torch.randn(7, 4))
        if out.shape == (7,):
            raise _fail(name, "V(s) must be [B, 1] (one value per state, in a column)", "shape [7, 1]", out)
        _tensor(name, out, (7, 1))
        linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
        widths = [(m.in_features, m.out_features) for m in linears]
        expected = [(4, 32)] + [(32, 32)] * (n_layers - 1) + [(32, 1)]
        if widths != expected:
            raise _fail(name, f"n_layers={n_layers} hidden layers of hidden_size=32, then one output "
                              f"unit: the linear layers' (in, out) sizes", expected, widths)
    leaves = [m for m in net.modules() if not list(m.children())]
    if not isinstance(leaves[-1], nn.Linear):
        raise _fail(name, "the output layer must be linear: V(s) is a return, often negative, so no "
                          f"activation after it (last layer: {type(leaves[-1]).__name__})")
    if sum(isinstance(m, nn.ReLU) for m in leaves) != n_layers:
        raise _fail(name, "each hidden layer needs one ReLU after its nn.Linear")
    if not all(p.requires_grad for p in net.parameters()):
        raise _fail(name, "some parameters do not require gradients: V could not learn")
    print("✓ make_value_network: [B, ob_dim] → [B, 1], n_layers ReLU hidden layers, a linear output")


# ---------------------------------------------------------------- blank 2

# diff = [-2, -1, 0.5, 2] at ζ = 0.9, worked out by hand
_DIFF, _ZETA = [-2.0, -1.0, 0.5, 2.0], 0.9
_EXPECTILE = [0.4, 0.1, 0.225, 3.6]
_EXPECTILE_MISTAKES = {
    "negative errors got weight ζ and positive ones 1 − ζ: swap them (diff < 0 means V sits "
    "above the target, an overestimate, which costs only 1 − ζ)": [3.6, 0.9, 0.025, 0.4],
    "negative weights: take the absolute value of ζ − 1[diff < 0]": [-0.4, -0.1, 0.225, 3.6],
    "the loss grows like |diff|; the expectile loss squares it (|diff| gives a quantile)": [0.2, 0.1, 0.45, 1.8],
}
_EXPECTILE_HALF = [2.0, 0.5, 0.125, 2.0]   # ζ = 0.5: half the squared error
_EXPECTILE_GRAD = [-0.4, -0.2, 0.9, 3.6]   # d/d diff of the summed loss


def check_expectile_loss(expectile_loss) -> None:
    name = "expectile_loss"
    diff = torch.tensor(_DIFF, requires_grad=True)
    got = _tensor(name, _call(name, expectile_loss, diff, _ZETA), diff.shape,
                  "returned one number: keep one loss per sample (no .mean() or .sum() here; "
                  "value_loss takes the mean)")
    _diagnose(name, got, _EXPECTILE, _EXPECTILE_MISTAKES)
    _diagnose(name, _call(name, expectile_loss, diff.detach(), 0.5), _EXPECTILE_HALF, {})
    got.sum().backward()
    if diff.grad is None or not torch.any(diff.grad != 0):
        raise _fail(name, "no gradient reached diff: keep the computation in torch (no .item(), "
                          "numpy or .detach() on diff)")
    _diagnose(name, diff.grad, _EXPECTILE_GRAD, {})
    grid = torch.randn(2, 3)
    _tensor(name, _call(name, expectile_loss, grid, 0.7), grid.shape)
    print("✓ expectile_loss: one loss per sample, weight ζ above and 1 − ζ below, ζ = 0.5 gives "
          "half the squared error, gradients flow")


def _expectile_loss_is_right(expectile_loss) -> bool:
    try:
        got = expectile_loss(torch.tensor(_DIFF), _ZETA)
        return isinstance(got, torch.Tensor) and _close(got, _EXPECTILE)
    except Exception:  # broken or unwritten: not right
        return False


# ---------------------------------------------------------------- blank 3

def check_value_loss(value_loss) -> None:
    """In IQL's step q_target is computed without gradient, so detaching it is the
    learner's choice; only the value and V's gradient are checked."""
    name = "value_loss"
    q_target = torch.tensor([1.0, -1.0, 2.0, 0.0], requires_grad=True)
    v = torch.tensor([0.0, 0.0, 3.0, 0.0], requires_grad=True)   # errors q_target − v: [1, -1, -1, 0]
    got = _tensor(name, _call(name, value_loss, q_target, v, 0.7), ())
    if not _close(got, 0.325):
        learners = getattr(value_loss, "__globals__", {}).get("expectile_loss")
        if callable(learners) and not _expectile_loss_is_right(learners):
            raise _fail(name, "value_loss calls your expectile_loss, which is not right yet: fix blank 2 "
                              "(chapter 4) first, save it, and rerun this notebook's first cell")
    _diagnose(name, got, 0.325, {
        "summed over the batch: take the mean": 1.3,
        "the error must be q_target − v (V below its target is the underestimate, weighted ζ)": 0.425,
    })
    got.backward()
    if v.grad is None or not torch.any(v.grad != 0):
        raise _fail(name, "no gradient reached v: the loss must train V")
    _diagnose(name, v.grad, [-0.35, 0.15, 0.15, 0.0], {})
    if q_target.grad is not None and torch.any(q_target.grad != 0):
        print("note: gradient reaches q_target. IQL computes q_target without gradient, so this "
              "trains the same; q_target.detach() would make it a constant anywhere.")
    print("✓ value_loss: the mean expectile loss of q_target − v, gradient to v")


# ---------------------------------------------------------------- blank 4

def _fixed_v_net() -> nn.Linear:
    """V(s) = s₀ + 2 s₁ + 0.5, so V(s') below is easy to work out by hand."""
    net = nn.Linear(2, 1)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[1.0, 2.0]]))
        net.bias.fill_(0.5)
    return net


def check_q_losses(q_losses) -> None:
    name = "q_losses"
    v_net = _fixed_v_net()
    next_obs = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # V(s') = 1.5, 2.5, 3.5
    reward = torch.tensor([1.0, 0.0, -1.0])
    terminal = torch.tensor([0.0, 0.0, 1.0])
    q1 = torch.tensor([2.0, 2.0, 0.0], requires_grad=True)
    q2 = torch.tensor([3.0, 2.25, -1.0], requires_grad=True)
    out = _call(name, q_losses, q1, q2, v_net, next_obs, reward, terminal, 0.9)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise _fail(name, "must return a pair (loss of Q1, loss of Q2)", "a tuple of 2 scalars", out)
    loss1, loss2 = (_tensor(name, loss, (), "") for loss in out)
    _diagnose(name, torch.stack([loss1, loss2]), [0.395, 0.140833], {
        "a terminal transition has no future: y = r there (the (1 − d) factor is missing)": [1.6025, 3.448333],
        "γ is missing: y = r + γ(1 − d)V(s')": [0.5, 0.104167],
        "V(s') is [B, 1]: squeeze it to [B] before the sum, or [B] + [B, 1] broadcasts to [B, B]":
            [1.235, 0.380833],
        "each Q needs its own loss: Q1 against y and Q2 against y": [0.395, 0.395],
    })
    (loss1 + loss2).backward()
    if v_net.weight.grad is not None and torch.any(v_net.weight.grad != 0):
        raise _fail(name, "V received gradient from the Q loss: compute the target y under "
                          "torch.no_grad() (y is a fixed regression target)")
    if q1.grad is None or q2.grad is None:
        raise _fail(name, "no gradient reached q1 or q2: the losses must train both Qs")
    print("✓ q_losses: both Qs regress on y = r + γ(1 − d)V(s'), and V gets no gradient")


# ---------------------------------------------------------------- blank 5

def check_estimate_advantage(estimate_advantage) -> None:
    name = "estimate_advantage"
    q_sa = torch.tensor([1.0, 2.0, -3.0])
    v_s = torch.tensor([0.5, 2.5, -1.0])
    got = _tensor(name, _call(name, estimate_advantage, q_sa, v_s), q_sa.shape)
    _diagnose(name, got, [0.5, -0.5, -2.0], {
        "the sign is flipped: A = Q(s, a) − V(s), positive when the action beats the state's value":
            [-0.5, 0.5, 2.0],
    })
    print("✓ estimate_advantage: A = Q(s, a) − V(s), one per sample")


# ---------------------------------------------------------------- blank 6

def check_actor_loss(actor_loss) -> None:
    name = "actor_loss"
    log_prob = torch.tensor([-1.0, -2.0, -0.5], requires_grad=True)
    adv = torch.tensor([0.1, -0.2, 1.0], requires_grad=True)
    got = _tensor(name, _call(name, actor_loss, log_prob, adv, 0.5, max_weight=5.0), ())
    # weights e^0.2, e^-0.4 and min(e^2, 5) = 5
    _diagnose(name, got, 1.687348, {
        "the weights must be clamped at max_weight (e^{A/λ} explodes for large advantages)": 2.085524,
        "the sign: minimising −mean(w · log π) raises the likelihood of well-weighted actions": -1.687348,
        "divide the advantage by the temperature: w = exp(A / λ)": 1.228436,
        "summed over the batch: take the mean": 5.062043,
    })
    got.backward()
    if adv.grad is not None and torch.any(adv.grad != 0):
        print("note: gradient reaches adv through the weights. IQL computes adv without gradient, so "
              "this trains the same; adv.detach() would make the weights constants anywhere.")
    if log_prob.grad is None or not torch.any(log_prob.grad != 0):
        raise _fail(name, "no gradient reached log_prob: the loss must train the policy")
    _diagnose(name, log_prob.grad, [-0.407134, -0.22344, -1.666667], {})
    print("✓ actor_loss: −mean(min(exp(A/λ), max_weight) · log π), gradient to log π")


CHECKS = {name: globals()[f"check_{name}"] for name in BLANK_NAMES}


def check_blanks(blanks) -> None:
    """Run all six visible checks on a `Blanks` object (or anything with the six names)."""
    for name in BLANK_NAMES:
        CHECKS[name](getattr(blanks, name))
