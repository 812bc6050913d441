"""Instructor reference for the six IQL blanks (SPEC table).

This module is the single source of the answers until the chapter notebooks land; the
student release of `iql_lib` ships only stubs. Load it with `--blanks solutions`.
"""
import torch
from torch import nn


def make_value_network(ob_dim, hidden_size=256, n_layers=2):
    """Blank 1: V(s), an MLP from [B, ob_dim] to [B, 1]; it sees the state only."""
    layers = []
    in_dim = ob_dim
    for _ in range(n_layers):
        layers += [nn.Linear(in_dim, hidden_size), nn.ReLU()]
        in_dim = hidden_size
    layers.append(nn.Linear(in_dim, 1))
    return nn.Sequential(*layers)


def expectile_loss(diff, expectile):
    """Blank 2: |ζ − 1[diff < 0]| · diff², per sample (no reduction)."""
    weight = torch.abs(expectile - (diff < 0).to(diff.dtype))
    return weight * diff**2


def value_loss(q_target, v, expectile):
    """Blank 3: expectile regression of V toward the target Q; q_target carries no gradient."""
    return expectile_loss(q_target.detach() - v, expectile).mean()


def q_losses(q1, q2, v_net, next_obs, reward, terminal, gamma):
    """Blank 4: both Qs regress on y = r + γ(1 − d)V(s'), with y held fixed."""
    with torch.no_grad():
        next_v = v_net(next_obs).squeeze(-1)
        target = reward + gamma * (1.0 - terminal) * next_v
    return nn.functional.mse_loss(q1, target), nn.functional.mse_loss(q2, target)


def estimate_advantage(q_sa, v_s):
    """Blank 5: A(s, a) = Q(s, a) − V(s), shape [B]."""
    return q_sa - v_s


def actor_loss(log_prob, adv, temperature, max_weight=50.0):
    """Blank 6: advantage-weighted likelihood; the weights are constants, clamped."""
    weights = torch.exp(adv.detach() / temperature).clamp(max=max_weight)
    return -(weights * log_prob).mean()
