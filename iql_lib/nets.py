"""Networks: plain MLPs, twin Q-functions, and the two policy heads.

Discrete envs use a Q-network with one output per action and a categorical policy;
continuous envs use Q(s, a) on the concatenated input and a Gaussian policy with a
tanh-squashed mean and a state-independent log-std. Distributions skip argument
validation: it costs time every step, and a NaN is caught by the trainer's loss check.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Categorical, Independent, Normal


def mlp(in_dim: int, out_dim: int, hidden_size: int, n_layers: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(n_layers):
        layers += [nn.Linear(in_dim if i == 0 else hidden_size, hidden_size), nn.ReLU()]
    layers.append(nn.Linear(hidden_size if n_layers else in_dim, out_dim))
    return nn.Sequential(*layers)


class QNetwork(nn.Module):
    """Q(s, a) → [B]. Discrete: one head per action, picked by the integer action."""

    def __init__(self, ob_dim: int, ac_dim: int, discrete: bool, hidden_size: int, n_layers: int):
        super().__init__()
        self.discrete = discrete
        in_dim = ob_dim if discrete else ob_dim + ac_dim
        self.net = mlp(in_dim, ac_dim if discrete else 1, hidden_size, n_layers)

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        if self.discrete:
            return self.net(obs).gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
        return self.net(torch.cat([obs, actions], dim=-1)).squeeze(-1)


class TwinQ(nn.Module):
    """Two independent Q-networks evaluated together."""

    def __init__(self, *args, **kwargs):
        super().__init__()
        self.q1 = QNetwork(*args, **kwargs)
        self.q2 = QNetwork(*args, **kwargs)

    def forward(self, obs, actions) -> tuple[torch.Tensor, torch.Tensor]:
        return self.q1(obs, actions), self.q2(obs, actions)

    def min(self, obs, actions) -> torch.Tensor:
        return torch.minimum(*self(obs, actions))


class CategoricalPolicy(nn.Module):
    def __init__(self, ob_dim: int, n_actions: int, hidden_size: int, n_layers: int):
        super().__init__()
        self.logits = mlp(ob_dim, n_actions, hidden_size, n_layers)

    def forward(self, obs: torch.Tensor) -> Categorical:
        return Categorical(logits=self.logits(obs), validate_args=False)

    def log_prob(self, obs, actions) -> torch.Tensor:
        return self(obs).log_prob(actions.long())

    def act(self, obs: torch.Tensor, greedy: bool) -> torch.Tensor:
        dist = self(obs)
        return dist.probs.argmax(-1) if greedy else dist.sample()


class GaussianPolicy(nn.Module):
    """N(tanh(μ(s)), σ²) with a learned state-independent log σ; actions clipped to [−1, 1]."""

    def __init__(self, ob_dim: int, ac_dim: int, hidden_size: int, n_layers: int):
        super().__init__()
        self.mean = mlp(ob_dim, ac_dim, hidden_size, n_layers)
        self.log_std = nn.Parameter(torch.zeros(ac_dim))

    def forward(self, obs: torch.Tensor) -> Independent:
        std = self.log_std.clamp(-5.0, 2.0).exp()
        return Independent(Normal(torch.tanh(self.mean(obs)), std, validate_args=False), 1,
                           validate_args=False)

    def log_prob(self, obs, actions) -> torch.Tensor:
        return self(obs).log_prob(actions)

    def act(self, obs: torch.Tensor, greedy: bool) -> torch.Tensor:
        dist = self(obs)
        action = dist.mean if greedy else dist.sample()
        return action.clamp(-1.0, 1.0)


def make_policy(ob_dim: int, ac_dim: int, discrete: bool, hidden_size: int, n_layers: int):
    cls = CategoricalPolicy if discrete else GaussianPolicy
    return cls(ob_dim, ac_dim, hidden_size, n_layers)
