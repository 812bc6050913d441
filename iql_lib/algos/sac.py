"""SAC (Haarnoja et al., 2018): the online learner that teaches the data's ant to walk.

Not one of the course's offline methods: it trains the walker whose actions fill the
AntMaze datasets (`iql_lib.datagen.walker`), as an RL-trained policy filled D4RL's and
OGBench's. Each step, in this order:
1. Critic: both Qs toward y = r + γ(1 − d)(min Q̄(s', a') − α log π(a'|s')), a' ~ π(·|s').
2. Actor: minimise α log π(a_π|s) − min Q(s, a_π) over reparameterised a_π ~ π(·|s).
3. Entropy weight: α = exp(log_alpha) follows −log_alpha · (log π(a_π|s) + H̄), so the
   policy's entropy settles near the target H̄ = −(action dimensions).
4. Polyak update of the target Qs.
The two policy samples come in as `noise`, as in AWAC, so the step is a pure function.
"""
from __future__ import annotations

import torch

from iql_lib.algos.base import Algorithm, TwinQ
from iql_lib.algos.nets import SquashedGaussianPolicy


class SAC(Algorithm):
    trained = ("policy", "q_net", "log_alpha")
    noise_draws = 2

    def __init__(self, ob_dim, ac_dim, cfg):
        super().__init__(ob_dim, ac_dim, False, cfg)
        self.q = TwinQ(ob_dim, ac_dim, False, cfg)
        self.target_entropy = -float(ac_dim)

    def make_policy_module(self):
        return SquashedGaussianPolicy(self.ob_dim, self.ac_dim, self.cfg.hidden_size, self.cfg.n_layers)

    def build(self):
        params = super().build()
        params["q_net"] = self.q.build()
        params["q_target"] = params["q_net"].clone()
        params["log_alpha"] = torch.zeros(1)
        return params

    def sample_with_log_prob(self, theta, obs, noise):
        return self.policy_template.sample_with_log_prob(self.policy(theta, obs), noise)

    def step(self, state, batch, noise):
        cfg, state = self.cfg, dict(state)
        obs, actions = batch["obs"], batch["actions"]
        alpha = state["log_alpha"].exp().squeeze(0)

        # 1. critic: soft TD target from the policy's next action
        with torch.no_grad():
            next_actions, next_log_prob = self.sample_with_log_prob(state["policy"], batch["next_obs"], noise[0])
            next_q = self.q.min(state["q_target"], batch["next_obs"], next_actions) - alpha * next_log_prob
            y = batch["rewards"] + cfg.gamma * (1.0 - batch["terminals"]) * next_q

        def critic_loss(theta):
            q = self.q(theta, obs, actions)
            return ((q - y) ** 2).mean(dim=-1).sum(), q

        critic_loss, q = self.descend(critic_loss, state, "q_net", has_aux=True)

        # 2. actor: the critic's value of a reparameterised sample, less its entropy bonus
        def actor_loss(theta):
            policy_actions, log_prob = self.sample_with_log_prob(theta, obs, noise[1])
            return (alpha * log_prob - self.q.min(state["q_net"], obs, policy_actions)).mean(), log_prob

        actor_loss, log_prob = self.descend(actor_loss, state, "policy", has_aux=True)

        # 3. entropy weight toward the target entropy
        entropy_gap = (log_prob + self.target_entropy).detach().mean()
        alpha_loss = self.descend(lambda log_alpha: -(log_alpha * entropy_gap).sum(), state, "log_alpha")

        # 4. target Qs trail the online Qs
        state["q_target"] = torch.lerp(state["q_target"], state["q_net"], cfg.polyak_tau)
        return state, {"Critic_Q_Loss": critic_loss / 2, "Actor_Loss": actor_loss, "Alpha_Loss": alpha_loss,
                       "Alpha": alpha, "Entropy": -log_prob.mean(),
                       "Q_Mean": q.min(dim=0).values.mean()}
