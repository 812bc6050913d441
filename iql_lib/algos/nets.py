"""Networks as templates plus flat parameter vectors.

The engine keeps every network's parameters in one flat vector per seed (`[P]`, or
`[S, P]` for S seeds), so an optimiser step is a few whole-vector operations and a
compiled step has few inputs. `FlatNet` pairs a module template with the layout of its
flat vector and calls the template with any vector, e.g. inside `torch.func.vmap`.

Discrete envs use a Q-network with one output per action and a categorical policy;
continuous envs use Q(s, a) on the concatenated input and a Gaussian policy whose mean
is tanh-squashed and whose log-std is a state-independent parameter. The online SAC that
trains the data's walker uses a squashed Gaussian: tanh of a sample, σ a function of s.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.func import functional_call


def mlp(in_dim: int, out_dim: int, hidden_size: int, n_layers: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(n_layers):
        layers += [nn.Linear(in_dim if i == 0 else hidden_size, hidden_size), nn.ReLU()]
    layers.append(nn.Linear(hidden_size if n_layers else in_dim, out_dim))
    return nn.Sequential(*layers)


class FlatNet:
    """A module template whose parameters live in a flat vector. With `input_shift` and
    `input_scale` set, its first input (the observation) is fed as (x − shift) / scale."""

    def __init__(self, template: nn.Module):
        self.template = template
        self.input_shift: torch.Tensor | None = None
        self.input_scale: torch.Tensor | None = None
        self.names, self.shapes, self.sizes = [], [], []
        for name, p in template.named_parameters():
            self.names.append(name)
            self.shapes.append(p.shape)
            self.sizes.append(p.numel())

    @staticmethod
    def flatten(module: nn.Module) -> torch.Tensor:
        return torch.cat([p.detach().reshape(-1) for p in module.parameters()])

    def unflatten(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        chunks = torch.split(theta, self.sizes, dim=-1)
        return {n: c.reshape(*theta.shape[:-1], *s) for n, c, s in zip(self.names, chunks, self.shapes)}

    def __call__(self, theta: torch.Tensor, obs: torch.Tensor, *inputs):
        if self.input_shift is not None:
            obs = (obs - self.input_shift) / self.input_scale
        return functional_call(self.template, self.unflatten(theta), (obs, *inputs))


class QNetwork(nn.Module):
    """Q(s, a) → [B]. Discrete: one head per action, picked by the integer action."""

    def __init__(self, ob_dim: int, ac_dim: int, discrete: bool, hidden_size: int, n_layers: int):
        super().__init__()
        self.discrete = discrete
        self.net = mlp(ob_dim if discrete else ob_dim + ac_dim, ac_dim if discrete else 1,
                       hidden_size, n_layers)

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        if self.discrete:
            return self.net(obs).gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
        return self.net(torch.cat([obs, actions], dim=-1)).squeeze(-1)


class CategoricalPolicy(nn.Module):
    """π(a|s) = softmax(logits(s)); its head is the logits."""

    discrete = True

    def __init__(self, ob_dim: int, n_actions: int, hidden_size: int, n_layers: int):
        super().__init__()
        self.logits = mlp(ob_dim, n_actions, hidden_size, n_layers)
        self.noise_dim = n_actions

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.logits(obs)

    @staticmethod
    def log_prob(head: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(head, dim=-1).gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)

    @staticmethod
    def sample(head: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Gumbel-max: argmax(logits + g) with g ~ Gumbel(0, 1) is a sample of π."""
        return torch.argmax(head + noise, dim=-1)

    @staticmethod
    def mode(head: torch.Tensor) -> torch.Tensor:
        return torch.argmax(head, dim=-1)

    @staticmethod
    def draw_noise(shape, generator: torch.Generator, device) -> torch.Tensor:
        u = torch.rand(shape, generator=generator, device=device).clamp_(1e-10, 1.0 - 1e-7)
        return -torch.log(-torch.log(u))


class GaussianPolicy(nn.Module):
    """π(a|s) = N(tanh(μ(s)), σ²), σ a learned state-independent vector; its head is
    `[mean, log_std]` concatenated, so acting and likelihoods need one forward."""

    discrete = False
    LOG_STD_RANGE = (-5.0, 2.0)

    def __init__(self, ob_dim: int, ac_dim: int, hidden_size: int, n_layers: int):
        super().__init__()
        self.mean = mlp(ob_dim, ac_dim, hidden_size, n_layers)
        self.log_std = nn.Parameter(torch.zeros(ac_dim))
        self.noise_dim = ac_dim

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        mean = torch.tanh(self.mean(obs))
        log_std = self.log_std.clamp(*self.LOG_STD_RANGE).expand_as(mean)
        return torch.cat([mean, log_std], dim=-1)

    @staticmethod
    def log_prob(head: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        mean, log_std = head.chunk(2, dim=-1)
        z = (actions - mean) * torch.exp(-log_std)
        return (-0.5 * z**2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)

    @staticmethod
    def sample(head: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        mean, log_std = head.chunk(2, dim=-1)
        return (mean + torch.exp(log_std) * noise).clamp(-1.0, 1.0)

    @staticmethod
    def mode(head: torch.Tensor) -> torch.Tensor:
        return head.chunk(2, dim=-1)[0]

    @staticmethod
    def draw_noise(shape, generator: torch.Generator, device) -> torch.Tensor:
        return torch.randn(shape, generator=generator, device=device)


class SquashedGaussianPolicy(nn.Module):
    """SAC's policy: a = tanh(u), u ~ N(μ(s), σ(s)²), both from one MLP; its head is
    `[μ, log σ]`. The tanh keeps actions in [−1, 1] and enters the log-likelihood."""

    discrete = False
    LOG_STD_RANGE = (-5.0, 2.0)

    def __init__(self, ob_dim: int, ac_dim: int, hidden_size: int, n_layers: int):
        super().__init__()
        self.net = mlp(ob_dim, 2 * ac_dim, hidden_size, n_layers)
        self.noise_dim = ac_dim

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        mean, log_std = self.net(obs).chunk(2, dim=-1)
        return torch.cat([mean, log_std.clamp(*self.LOG_STD_RANGE)], dim=-1)

    @staticmethod
    def sample_with_log_prob(head: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A reparameterised sample and its log-likelihood `[B]`. With a = tanh(u),
        log π(a) = log N(u) − Σ log(1 − tanh²u), and log(1 − tanh²u) = 2(log 2 − u − softplus(−2u))."""
        mean, log_std = head.chunk(2, dim=-1)
        u = mean + torch.exp(log_std) * noise
        log_prob = (-0.5 * noise**2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        log_prob = log_prob - (2.0 * (math.log(2.0) - u - nn.functional.softplus(-2.0 * u))).sum(-1)
        return torch.tanh(u), log_prob

    @classmethod
    def sample(cls, head: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return cls.sample_with_log_prob(head, noise)[0]

    @staticmethod
    def mode(head: torch.Tensor) -> torch.Tensor:
        return torch.tanh(head.chunk(2, dim=-1)[0])

    draw_noise = staticmethod(GaussianPolicy.draw_noise)


def make_policy(ob_dim: int, ac_dim: int, discrete: bool, hidden_size: int, n_layers: int) -> nn.Module:
    cls = CategoricalPolicy if discrete else GaussianPolicy
    return cls(ob_dim, ac_dim, hidden_size, n_layers)
