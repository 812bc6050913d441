"""The six student blanks: one object holding six callables, their stubs and checks.

IQL never implements its six key pieces itself: it calls a `Blanks` object. Where those
callables come from is the learner's choice (`--blanks`, loaded by
`iql_lib.assignment.blank_sources`). The library itself ships only stubs that say which
chapter fills them. Every call is checked, so a blank that returns the wrong shape fails
with its own name and both shapes, not deep inside a loss.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from iql_lib.errors import UserError

BLANK_NAMES = ("make_value_network", "expectile_loss", "value_loss", "q_losses",
               "estimate_advantage", "actor_loss")

# Where each blank is taught (shown in stub errors and hints).
BLANK_CHAPTERS = {
    "make_value_network": "chapter 5 (Three networks)",
    "expectile_loss": "chapter 4 (Where the expectile comes from)",
    "value_loss": "chapter 5 (Three networks)",
    "q_losses": "chapter 6 (IQL vs AWAC)",
    "estimate_advantage": "chapter 7 (Stitching)",
    "actor_loss": "chapter 7 (Stitching)",
}


class BlankError(UserError):
    """A blank broke its contract (wrong shape, dtype or type)."""


class UnwrittenBlank(NotImplementedError, UserError):
    """A blank still raises `NotImplementedError`: says which one, and where to write it."""


@dataclass(frozen=True)
class Blanks:
    make_value_network: Callable[..., nn.Module]
    expectile_loss: Callable[[torch.Tensor, float], torch.Tensor]
    value_loss: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]
    q_losses: Callable[..., tuple[torch.Tensor, torch.Tensor]]
    estimate_advantage: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    actor_loss: Callable[..., torch.Tensor]
    source: str = "unknown"

    @classmethod
    def from_namespace(cls, namespace: dict, source: str) -> "Blanks":
        missing = [name for name in BLANK_NAMES if not callable(namespace.get(name))]
        if missing:
            raise BlankError(f"{source} does not define blank(s) {missing}; it must define all of "
                             f"{list(BLANK_NAMES)}")
        return cls(**{name: namespace[name] for name in BLANK_NAMES}, source=source)

    def checked(self) -> "Blanks":
        """The same blanks, each wrapped in a contract check (what IQL actually calls)."""
        wrapped = {name: _CHECKS[name](getattr(self, name)) for name in BLANK_NAMES}
        return Blanks(**wrapped, source=self.source)


# --- stubs: what the student release of iql_lib contains ------------------------------

def not_written_message(name: str) -> str:
    number = BLANK_NAMES.index(name) + 1
    return (f"Blank {number} ({name}) is not written yet: write it in {BLANK_CHAPTERS[name]}, "
            f"then train with --blanks <your notebooks folder or module>.")


def unwritten_blank(err: BaseException) -> str | None:
    """The blank whose body raised `err`: the innermost blank on its traceback, if any."""
    frames = []
    tb = err.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    return next((name for name in reversed(frames) if name in BLANK_NAMES), None)


def name_unwritten_blank(err: NotImplementedError) -> NotImplementedError:
    """`err` restated with the blank (and chapter) whose body raised it; `err` itself when
    no blank is on the way."""
    name = unwritten_blank(err)
    return err if name is None else UnwrittenBlank(not_written_message(name))


def _stub(name: str) -> Callable:
    def stub(*args, **kwargs):
        raise UnwrittenBlank(not_written_message(name))

    stub.__name__ = name
    return stub


STUBS = Blanks(**{name: _stub(name) for name in BLANK_NAMES}, source="stubs")


# --- contract checks ----------------------------------------------------------------

def _fail(name: str, what: str, expected, got) -> BlankError:
    number = BLANK_NAMES.index(name) + 1
    return BlankError(f"Blank {number} ({name}) returned {what}: expected {expected}, got {got}")


def _check_tensor(name: str, value, expected_shape: tuple, what: str = "a tensor"):
    if not isinstance(value, torch.Tensor):
        raise _fail(name, what, f"a torch.Tensor of shape {list(expected_shape)}", type(value).__name__)
    if tuple(value.shape) != tuple(expected_shape):
        raise _fail(name, f"{what} of the wrong shape", list(expected_shape), list(value.shape))
    if not value.is_floating_point():
        raise _fail(name, f"{what} of the wrong dtype", "a floating-point dtype", value.dtype)
    return value


def _check_make_value_network(fn):
    def make_value_network(ob_dim, hidden_size=256, n_layers=2):
        net = fn(ob_dim, hidden_size=hidden_size, n_layers=n_layers)
        if not isinstance(net, nn.Module):
            raise _fail("make_value_network", "a non-module", "a torch.nn.Module", type(net).__name__)
        with torch.no_grad():
            _check_tensor("make_value_network", net(torch.zeros(3, ob_dim)), (3, 1),
                          "a network whose output")
        return net
    return make_value_network


def _check_expectile_loss(fn):
    def expectile_loss(diff, expectile):
        return _check_tensor("expectile_loss", fn(diff, expectile), diff.shape)
    return expectile_loss


def _check_value_loss(fn):
    def value_loss(q_target, v, expectile):
        return _check_tensor("value_loss", fn(q_target, v, expectile), ())
    return value_loss


def _check_q_losses(fn):
    def q_losses(q1, q2, v_net, next_obs, reward, terminal, gamma):
        out = fn(q1, q2, v_net, next_obs, reward, terminal, gamma)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise _fail("q_losses", "the wrong number of losses", "a pair (loss1, loss2)", repr(type(out)))
        return tuple(_check_tensor("q_losses", loss, (), "a loss") for loss in out)
    return q_losses


def _check_estimate_advantage(fn):
    def estimate_advantage(q_sa, v_s):
        return _check_tensor("estimate_advantage", fn(q_sa, v_s), q_sa.shape)
    return estimate_advantage


def _check_actor_loss(fn):
    def actor_loss(log_prob, adv, temperature, max_weight=50.0):
        return _check_tensor("actor_loss", fn(log_prob, adv, temperature, max_weight=max_weight), ())
    return actor_loss


_CHECKS = {
    "make_value_network": _check_make_value_network,
    "expectile_loss": _check_expectile_loss,
    "value_loss": _check_value_loss,
    "q_losses": _check_q_losses,
    "estimate_advantage": _check_estimate_advantage,
    "actor_loss": _check_actor_loss,
}


# --- loading -------------------------------------------------------------------------
