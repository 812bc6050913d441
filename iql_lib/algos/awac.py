"""AWAC (Nair et al., 2020): the baseline whose TD target queries the policy's actions.

Each step, in this order:
1. Critic: both Qs toward y = r + γ(1 − d) min Q̄(s', a') with a' ~ π(·|s').
2. Actor: advantage A = min Q(s, a) − min Q(s, a_π) with one a_π ~ π(·|s), then
   −mean(exp(A/λ) · log π(a|s)) over dataset actions, the weights clamped.
3. Polyak update of the target Qs.
The two policy samples come in as `noise` (drawn from the seed's own generator), so the
update is a pure function and seeds stay independent when batched.
"""
from __future__ import annotations

import torch

from iql_lib.algos.base import Algorithm, TwinQ


def advantage_weights(adv, temperature: float, max_weight: float):
    """exp(A/λ), clamped at `max_weight` so that no single sample can swamp a batch."""
    return torch.exp(adv / temperature).clamp(max=max_weight)


def advantage_weighted_loss(log_prob, adv, temperature: float, max_weight: float):
    """−mean(exp(A/λ) · log π(a|s)), the weights clamped and held fixed."""
    return -(advantage_weights(adv, temperature, max_weight).detach() * log_prob).mean()


class AWAC(Algorithm):
    trained = ("policy", "q_net")
    noise_draws = 2

    def __init__(self, ob_dim, ac_dim, discrete, cfg):
        super().__init__(ob_dim, ac_dim, discrete, cfg)
        self.q = TwinQ(ob_dim, ac_dim, discrete, cfg)

    def build(self):
        params = super().build()
        params["q_net"] = self.q.build()
        params["q_target"] = params["q_net"].clone()
        return params

    def step(self, state, batch, noise):
        cfg, state = self.cfg, dict(state)
        obs, actions = batch["obs"], batch["actions"]

        # 1. critic: bootstrap on the policy's own next action (the OOD query IQL avoids)
        with torch.no_grad():
            next_actions = self.sample(state["policy"], batch["next_obs"], noise[0])
            next_q = self.q.min(state["q_target"], batch["next_obs"], next_actions)
            y = batch["rewards"] + cfg.gamma * (1.0 - batch["terminals"]) * next_q

        def critic_loss(theta):
            q = self.q(theta, obs, actions)
            return ((q - y) ** 2).mean(dim=-1).sum(), q

        critic_loss, q = self.descend(critic_loss, state, "q_net", has_aux=True)

        # 2. actor: one-sample advantage against the policy's action
        with torch.no_grad():
            policy_actions = self.sample(state["policy"], obs, noise[1])
            adv = self.q.min(state["q_net"], obs, actions) - self.q.min(state["q_net"], obs, policy_actions)

        def actor_loss(theta):
            log_prob = self.log_prob(theta, obs, actions)
            return advantage_weighted_loss(log_prob, adv, cfg.temperature, cfg.max_weight)

        actor_loss = self.descend(actor_loss, state, "policy")

        # 3. target Qs trail the online Qs
        state["q_target"] = torch.lerp(state["q_target"], state["q_net"], cfg.polyak_tau)
        return state, {"Critic_Q_Loss": critic_loss / 2, "Actor_Loss": actor_loss,
                       "Q_Mean": q.min(dim=0).values.mean(), "Advantage_Mean": adv.mean()}
