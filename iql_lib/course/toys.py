"""Chapter 2's toy: a critic queried off the data's support misleads whoever climbs it.

One state, one continuous action a in [-3, 3], and a logged dataset whose actions cover
only about [-1, 1]. The true expected reward r(a) = a - a^4/10 (which is Q, for one step)
rises across the data and falls steeply past it. A small ReLU network fitted to the
logged (a, r) pairs matches r where the data are and carries on roughly in a straight
line beyond them; an actor that does gradient ascent on the fitted Q walks off the data
to the edge of the action range, where the fit is far too high.

`bootstrap()` repeats the fit with a TD target for a state that recurs (discount γ):
built on the actor's action, the off-support error enters every target; built on V, the
ζ-expectile of Q over the dataset's own actions, it never does. V comes from
`expectiles.expectile` (chapter 3's closed form), not from the learner's blanks.
Everything runs on the CPU in seconds and is reproducible from a seed.
"""
from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from iql_lib.course.expectiles import expectile
from iql_lib.algos.nets import mlp

ACTION_LOW, ACTION_HIGH = -3.0, 3.0


@contextmanager
def one_thread():
    """Run torch on one thread: these networks are tiny, and extra threads only wait on
    each other (badly so on a busy machine). Restores the previous setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def true_q(a):
    """The true Q (expected one-step reward) of action a: a - a^4/10, numpy or torch."""
    return a - a**4 / 10


def best_true_action() -> tuple[float, float]:
    """The true optimum over the whole action range: a* = 2.5^(1/3) ≈ 1.357, Q ≈ 1.018."""
    a = 2.5 ** (1 / 3)
    return a, float(true_q(a))


@dataclass(frozen=True)
class ToyData:
    """Logged actions and rewards, both `[N, 1]` float32 tensors."""

    actions: torch.Tensor
    rewards: torch.Tensor

    @property
    def support(self) -> tuple[float, float]:
        """The lowest and highest logged action."""
        return float(self.actions.min()), float(self.actions.max())

    @property
    def best_logged_action(self) -> float:
        """The logged action with the highest true Q (the data's best, not the world's)."""
        return float(self.actions[true_q(self.actions).argmax()])


def make_toy_data(n: int = 512, action_std: float = 0.3, clip: float = 1.0,
                  reward_noise: float = 0.1, seed: int = 0) -> ToyData:
    """A behaviour policy a ~ N(0, action_std) clipped to [-clip, clip]; r = Q(a) + noise."""
    g = torch.Generator().manual_seed(seed)
    actions = (torch.randn(n, 1, generator=g) * action_std).clamp(-clip, clip)
    rewards = true_q(actions) + reward_noise * torch.randn(n, 1, generator=g)
    return ToyData(actions, rewards)


def make_q_network(hidden_size: int = 64, n_layers: int = 2, seed: int = 0) -> nn.Module:
    """A ReLU MLP from the action `[B, 1]` to Q `[B, 1]` (the single state is implicit),
    initialised from `seed` without touching torch's global random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return mlp(1, 1, hidden_size, n_layers)


def fit_q(q_net: nn.Module, actions: torch.Tensor, targets: torch.Tensor, steps: int = 1000,
          lr: float = 3e-3) -> list[float]:
    """Full-batch Adam on the squared error between Q(a) and the targets, in place (a
    network that was fitted before is warm-started). Returns the loss of every step."""
    optimiser = torch.optim.Adam(q_net.parameters(), lr=lr)
    losses = []
    with one_thread():
        for _ in range(steps):
            loss = (q_net(actions) - targets).pow(2).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
    return losses


def q_at(q_net: nn.Module, actions) -> np.ndarray:
    """Q at the given actions (a float, an array or a tensor) as a flat numpy array."""
    a = torch.as_tensor(np.asarray(actions, dtype=np.float32)).reshape(-1, 1)
    with torch.no_grad():
        return q_net(a).flatten().numpy().astype(np.float64)


def climb_q(q_net: nn.Module, start: float = 0.0, steps: int = 300, lr: float = 0.05,
            low: float = ACTION_LOW, high: float = ACTION_HIGH) -> np.ndarray:
    """A deterministic actor (think DDPG's actor, or a Gaussian policy's mean) improved by
    gradient ascent on the learned Q, kept inside [low, high]. Returns its path
    (`steps + 1` actions, the start first)."""
    a = torch.tensor([[float(start)]], requires_grad=True)
    path = [float(start)]
    with one_thread():
        for _ in range(steps):
            (grad,) = torch.autograd.grad(q_net(a).sum(), a)
            with torch.no_grad():
                a += lr * grad
                a.clamp_(low, high)
            path.append(a.item())
    return np.asarray(path)


class QueryLog(nn.Module):
    """Wraps a Q-network and records every action it is evaluated at."""

    def __init__(self, q_net: nn.Module):
        super().__init__()
        self.q_net = q_net
        self.queried: list[torch.Tensor] = []

    def forward(self, actions: torch.Tensor) -> torch.Tensor:
        self.queried.append(actions.detach().flatten().clone())
        return self.q_net(actions)

    @property
    def count(self) -> int:
        return sum(len(q) for q in self.queried)

    @property
    def range(self) -> tuple[float, float]:
        """The lowest and highest action Q was asked about."""
        every = torch.cat(self.queried)
        return float(every.min()), float(every.max())


def in_sample_value(q_net: nn.Module, actions: torch.Tensor, zeta: float) -> float:
    """V = the ζ-expectile of Q over the dataset's own actions: Q is evaluated nowhere else."""
    return expectile(q_at(q_net, actions), zeta)


def value_table(q_net: nn.Module, data: ToyData, zetas=(0.5, 0.7, 0.9, 0.99, 0.999),
                actor_action: float | None = None) -> list[dict]:
    """For each ζ: the in-sample V next to the in-data mean and max of the learned Q, the
    true Q of the best logged action and (when given) the learned and true Q at the
    actor's action."""
    q_data = q_at(q_net, data.actions)
    rows = []
    for z in zetas:
        row = {"zeta": z, "V": expectile(q_data, z), "data_mean": float(q_data.mean()),
               "data_max": float(q_data.max()), "true_best_logged": float(true_q(data.best_logged_action))}
        if actor_action is not None:
            row["actor_predicted"] = float(q_at(q_net, actor_action)[0])
            row["actor_true"] = float(true_q(actor_action))
        rows.append(row)
    return rows


def support_error(q_net: nn.Module, data: ToyData) -> float:
    """Mean |learned Q - true Q| over the logged actions: how well the fit matches where
    it was trained."""
    a = data.actions.flatten().numpy().astype(np.float64)
    return float(np.abs(q_at(q_net, a) - true_q(a)).mean())


def drift_survey(seeds, n: int = 512, steps: int = 1000, climb_steps: int = 300) -> list[dict]:
    """Data, fit and actor ascent once per seed. Each row: the actor's final action, the
    learned and true Q there, whether it left the logged support, and the fit's error on
    the support."""
    rows = []
    for seed in seeds:
        data = make_toy_data(n=n, seed=seed)
        net = make_q_network(seed=seed)
        fit_q(net, data.actions, data.rewards, steps=steps)
        end = float(climb_q(net, steps=climb_steps)[-1])
        low, high = data.support
        rows.append({"seed": seed, "final_action": end, "learned_q": float(q_at(net, end)[0]),
                     "true_q": float(true_q(end)), "left_support": not low <= end <= high,
                     "support_error": support_error(net, data)})
    return rows


@dataclass
class BootstrapRun:
    """One run of `bootstrap`: the state's value estimate after each round and where Q was
    evaluated to build the targets."""

    target: str
    zeta: float | None
    gamma: float
    estimates: list[float] = field(default_factory=list)
    actor_actions: list[float] = field(default_factory=list)
    queried: tuple[float, float] = (np.nan, np.nan)
    q_net: nn.Module | None = None

    @property
    def label(self) -> str:
        return "target from the actor's action" if self.target == "policy" else f"target from V (ζ = {self.zeta})"


def bootstrap(data: ToyData, q_net: nn.Module, target: str = "policy", zeta: float = 0.9,
              gamma: float = 0.8, rounds: int = 10, steps_per_round: int = 200,
              climb_steps: int = 300) -> BootstrapRun:
    """Fitted Q-iteration on a state that recurs forever: each round builds the targets
    y = r + γ·b from the current Q, then refits (a copy of) `q_net` to them, warm-started.

    target="policy": b = Q(a_π) where a_π is where `climb_q` ends (an actor-based target,
    as in AWAC or DDPG); target="expectile": b = V, the ζ-expectile of Q over the logged
    actions (IQL's target). `estimates[k]` is b at round k: the value the algorithm
    currently claims for the state.
    """
    if target not in ("policy", "expectile"):
        raise ValueError(f"target must be 'policy' or 'expectile', got {target!r}")
    net = copy.deepcopy(q_net)
    run = BootstrapRun(target, zeta if target == "expectile" else None, gamma, q_net=net)
    lowest, highest = np.inf, -np.inf
    for _ in range(rounds):
        log = QueryLog(net)
        if target == "policy":
            a_pi = float(climb_q(log, steps=climb_steps)[-1])
            b = float(q_at(log, a_pi)[0])
            run.actor_actions.append(a_pi)
        else:
            b = in_sample_value(log, data.actions, zeta)
        low, high = log.range
        lowest, highest = min(lowest, low), max(highest, high)
        run.estimates.append(b)
        fit_q(net, data.actions, data.rewards + gamma * b, steps=steps_per_round)
    run.queried = (lowest, highest)
    return run


# ---------------------------------------------------------------- figures

def _shade_support(ax, data: ToyData):
    low, high = data.support
    ax.axvspan(low, high, color="tab:green", alpha=0.08, lw=0)


def drift_figure(data: ToyData, q_net: nn.Module, path: np.ndarray):
    """Left: the logged actions (histogram), true Q, learned Q and the actor's path.
    Right: learned and true Q at the actor's action along its ascent."""
    import matplotlib.pyplot as plt

    fig, (ax, right) = plt.subplots(1, 2, figsize=(12, 4.3), gridspec_kw={"width_ratios": [1.6, 1]})
    grid = np.linspace(ACTION_LOW, ACTION_HIGH, 601)
    learned, truth = q_at(q_net, grid), true_q(grid)
    _shade_support(ax, data)
    ax.plot(grid, truth, color="k", lw=2, label="true Q(a)")
    ax.plot(grid, learned, color="tab:blue", lw=2, label="learned Q(a)")
    marks = path[:: max(1, len(path) // 40)]
    ax.scatter(marks, q_at(q_net, marks), c=np.linspace(0, 1, len(marks)), cmap="autumn_r", s=22,
               zorder=3, edgecolors="0.3", linewidths=0.4, label="actor's path on learned Q")
    end = float(path[-1])
    ax.plot([end, end], [true_q(end), q_at(q_net, end)[0]], color="tab:red", lw=2, ls=":", zorder=2)
    ax.annotate(f"actor ends at a = {end:.2f}\nlearned Q {q_at(q_net, end)[0]:.2f}\ntrue Q {true_q(end):.2f}",
                (end, 0.5 * (q_at(q_net, end)[0] + true_q(end))), xytext=(-200, -45), textcoords="offset points",
                fontsize=9, color="tab:red", va="center", arrowprops=dict(arrowstyle="->", color="tab:red"))
    low = min(float(true_q(end)), float(learned.min())) - 1.0
    high = max(float(learned.max()), 1.5) + 1.0
    ax.set_ylim(low, high)
    hist = ax.twinx()
    hist.hist(data.actions.flatten().numpy(), bins=40, color="tab:green", alpha=0.35)
    hist.set_ylim(0, hist.get_ylim()[1] * 3.5)
    hist.set_yticks([])
    hist.set_ylabel("logged actions (histogram)", color="tab:green")
    ax.set_xlim(ACTION_LOW - 0.05, ACTION_HIGH + 0.15)
    ax.set_xlabel("action a")
    ax.set_ylabel("Q(a)")
    ax.set_title("Fitted on the green band, climbed everywhere", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)

    steps = np.arange(len(path))
    inside = (path >= data.support[0]) & (path <= data.support[1])
    right.plot(steps, q_at(q_net, path), color="tab:blue", lw=2, label="learned Q at the actor's action")
    right.plot(steps, true_q(path), color="k", lw=2, label="true Q at the actor's action")
    if (~inside).any():
        right.axvspan(int(np.argmax(~inside)), steps[-1], color="tab:red", alpha=0.08, lw=0,
                      label="actor outside the data")
    right.set_xlabel("gradient-ascent step")
    right.set_ylabel("Q")
    right.set_title("What the actor believes vs what it gets", fontsize=10)
    right.legend(fontsize=8, loc="lower left")
    right.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def value_figure(data: ToyData, q_net: nn.Module, actor_action: float,
                 zetas=(0.5, 0.9, 0.99, 0.999)):
    """A histogram of the learned Q over the logged actions with the in-sample V at several
    ζ, the in-data max, and the learned Q at the actor's action (the extrapolated max)."""
    import matplotlib.pyplot as plt

    q_data = q_at(q_net, data.actions)
    fig, ax = plt.subplots(figsize=(9, 3.8))
    ax.hist(q_data, bins=50, color="0.8", label="learned Q at the logged actions")
    colours = plt.get_cmap("Blues")(np.linspace(0.45, 1.0, len(zetas)))
    for z, colour in zip(zetas, colours):
        v = expectile(q_data, z)
        ax.axvline(v, color=colour, lw=2, label=f"V, ζ = {z}: {v:.2f}")
    ax.axvline(q_data.max(), color="tab:green", lw=2, ls="--", label=f"max over logged actions: {q_data.max():.2f}")
    extrapolated = q_at(q_net, actor_action)[0]
    ax.axvline(extrapolated, color="tab:red", lw=2, ls=":",
               label=f"learned Q at the actor's a = {actor_action:.2f}: {extrapolated:.2f}")
    ax.set_xlabel("Q")
    ax.set_ylabel("count")
    ax.set_title("V is a statistic of Q at the logged actions; it cannot reach the extrapolated max",
                 fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def bootstrap_figure(runs: list[BootstrapRun], data: ToyData):
    """The value each run claims for the recurring state, round by round, against true
    references: the world's optimum, the best logged action, and the actor's final action,
    each played forever (value = Q/(1 - γ)). Left: actor-based targets; right: V targets."""
    import matplotlib.pyplot as plt

    gamma = runs[0].gamma
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    blues = iter(plt.get_cmap("Blues")(np.linspace(0.55, 0.95, max(1, len(runs)))))
    best = best_true_action()[1] / (1 - gamma)
    logged = float(true_q(data.best_logged_action)) / (1 - gamma)
    for run in runs:
        ax = left if run.target == "policy" else right
        colour = "tab:red" if run.target == "policy" else next(blues)
        ax.plot(np.arange(1, len(run.estimates) + 1), run.estimates, "o-", ms=3.5, color=colour,
                label=f"{run.label}: claimed value")
        if run.target == "policy":
            truth = true_q(run.actor_actions[-1]) / (1 - gamma)
            ax.axhline(truth, color=colour, ls=":", lw=1.5,
                       label=f"true value of playing the actor's a = {run.actor_actions[-1]:.2f}: {truth:.1f}")
    for ax in (left, right):
        ax.axhline(best, color="k", ls="--", lw=1.2, label=f"true optimum (a = {best_true_action()[0]:.2f}): {best:.1f}")
        ax.axhline(logged, color="tab:green", ls="--", lw=1.2,
                   label=f"true value of the best logged action: {logged:.1f}")
        ax.set_xlabel("round of fitted Q-iteration")
        ax.set_ylabel("value claimed for the state")
        ax.legend(fontsize=8, loc="upper left")
        ax.grid(alpha=0.3)
    right.set_ylim(bottom=min(0.0, right.get_ylim()[0]), top=best * 1.6)
    left.set_title(f"Target from the actor's action (γ = {gamma})", fontsize=10)
    right.set_title(f"Target from the in-sample V (γ = {gamma})", fontsize=10)
    fig.tight_layout()
    return fig
