"""AWAC (Nair et al., 2020): the baseline whose TD target queries the policy's actions.

Critic: y = r + γ(1 − d) min Q̄(s', a') with a' ~ π(·|s').
Actor:  advantage A = min Q(s, a) − min Q(s, a_π) with one a_π ~ π(·|s), then
        −mean(exp(A/λ) · log π(a|s)) over dataset actions.
"""
from __future__ import annotations

import copy

import torch
from torch.nn import functional as F

from iql_lib.algos.base import OfflineAgent, polyak_update
from iql_lib.nets import TwinQ


def advantage_weighted_loss(log_prob, adv, temperature: float, max_weight: float):
    """−mean(exp(A/λ) · log π(a|s)), the weights clamped and held fixed."""
    weights = torch.exp(adv / temperature).clamp(max=max_weight).detach()
    return -(weights * log_prob).mean()


class AWAC(OfflineAgent):
    def __init__(self, ob_dim, ac_dim, discrete, cfg):
        super().__init__(ob_dim, ac_dim, discrete, cfg)
        self.q_net = TwinQ(ob_dim, ac_dim, discrete=discrete, hidden_size=cfg.hidden_size,
                           n_layers=cfg.n_layers)
        self.q_target = copy.deepcopy(self.q_net).requires_grad_(False)
        self.add_optimizer("critic", self.q_net)

    def update(self, batch):
        obs, actions = batch["obs"], batch["actions"]

        # critic: bootstrap on the policy's own next action (the OOD query IQL avoids)
        with torch.no_grad():
            next_actions = self.policy(batch["next_obs"]).sample()
            next_q = self.q_target.min(batch["next_obs"], next_actions)
            y = batch["rewards"] + self.cfg.gamma * (1.0 - batch["terminals"]) * next_q
        q1, q2 = self.q_net(obs, actions)
        q1_loss, q2_loss = F.mse_loss(q1, y), F.mse_loss(q2, y)
        self.step("critic", q1_loss + q2_loss)

        # actor: one-sample advantage against the policy's action
        with torch.no_grad():
            policy_actions = self.policy(obs).sample()
            adv = self.q_net.min(obs, actions) - self.q_net.min(obs, policy_actions)
        actor_loss = advantage_weighted_loss(self.policy.log_prob(obs, actions), adv,
                                             self.cfg.temperature, self.cfg.max_weight)
        self.step("actor", actor_loss)

        polyak_update(self.q_target, self.q_net, self.cfg.polyak_tau)
        return {"Critic_Q_Loss": (q1_loss + q2_loss).detach() / 2, "Actor_Loss": actor_loss.detach(),
                "Q_Mean": q1.detach().mean(), "Advantage_Mean": adv.mean()}
