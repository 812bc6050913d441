"""IQL (Kostrikov et al., 2021): value learning that never queries an unseen action.

Each step, in this order (SPEC):
1. V update: expectile regression of V(s) toward min of the two *target* Qs at the
   dataset action (blanks 2, 3).
2. Actor update: advantage A = min Q(s, a) − V(s) from the online Qs and the
   just-updated V, then advantage-weighted likelihood (blanks 5, 6).
3. Q update: both online Qs toward y = r + γ(1 − d) V(s') (blank 4).
4. Polyak update of the target Qs.
The six blanks are called through `self.blanks`; no action is sampled from the policy.
"""
from __future__ import annotations

import copy

import torch

from iql_lib.algos.base import OfflineAgent, polyak_update
from iql_lib.algos.blanks import Blanks
from iql_lib.nets import TwinQ


class IQL(OfflineAgent):
    def __init__(self, ob_dim, ac_dim, discrete, cfg, blanks: Blanks):
        super().__init__(ob_dim, ac_dim, discrete, cfg)
        self.blanks = blanks.checked()
        self.v_net = self.blanks.make_value_network(ob_dim, hidden_size=cfg.hidden_size,
                                                    n_layers=cfg.n_layers)
        self.q_net = TwinQ(ob_dim, ac_dim, discrete=discrete, hidden_size=cfg.hidden_size,
                           n_layers=cfg.n_layers)
        self.q_target = copy.deepcopy(self.q_net).requires_grad_(False)
        self.add_optimizer("v", self.v_net)
        self.add_optimizer("critic", self.q_net)

    def update(self, batch):
        obs, actions = batch["obs"], batch["actions"]

        # 1. V toward the ζ-expectile of target Q over dataset actions
        with torch.no_grad():
            q_target = self.q_target.min(obs, actions)
        v = self.v_net(obs).squeeze(-1)
        v_loss = self.blanks.value_loss(q_target, v, self.cfg.expectile)
        self.step("v", v_loss)

        # 2. actor: advantage-weighted regression on dataset actions
        with torch.no_grad():
            adv = self.blanks.estimate_advantage(self.q_net.min(obs, actions),
                                                 self.v_net(obs).squeeze(-1))
        actor_loss = self.blanks.actor_loss(self.policy.log_prob(obs, actions), adv,
                                            self.cfg.temperature, max_weight=self.cfg.max_weight)
        self.step("actor", actor_loss)

        # 3. both Qs toward r + γ(1 − d) V(s')
        q1, q2 = self.q_net(obs, actions)
        q1_loss, q2_loss = self.blanks.q_losses(q1, q2, self.v_net, batch["next_obs"],
                                                batch["rewards"], batch["terminals"], self.cfg.gamma)
        self.step("critic", q1_loss + q2_loss)

        # 4. target Qs trail the online Qs
        polyak_update(self.q_target, self.q_net, self.cfg.polyak_tau)
        return {"Critic_V_Loss": v_loss.detach(), "Critic_Q_Loss": (q1_loss + q2_loss).detach() / 2,
                "Actor_Loss": actor_loss.detach(), "V_Mean": v.detach().mean(),
                "Q_Mean": q_target.mean(), "Advantage_Mean": adv.mean()}
