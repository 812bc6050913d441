"""IQL (Kostrikov et al., 2021): value learning that never queries an unseen action.

Each step, in this order (docs/design.md, "One IQL step"):
1. V update: expectile regression of V(s) toward min of the two *target* Qs at the
   dataset action (blanks 2, 3).
2. Actor update: advantage A = min Q(s, a) − V(s) from the online Qs and the
   just-updated V, then advantage-weighted likelihood (blanks 5, 6).
3. Q update: both online Qs toward y = r + γ(1 − d) V(s') (blank 4).
4. Polyak update of the target Qs.
The six blanks are called through `self.blanks`; no action is sampled from the policy.
The online Qs are evaluated once: step 2 reads their values, step 3 differentiates
them (a vector-Jacobian product), which is what evaluating them twice would compute.
"""
from __future__ import annotations

from functools import partial

import torch
from torch.func import grad_and_value, vjp

from iql_lib.algos.base import Algorithm, TwinQ
from iql_lib.algos.blanks import Blanks
from iql_lib.algos.nets import FlatNet
from iql_lib.training.optim import adam_update


class IQL(Algorithm):
    trained = ("policy", "v_net", "q_net")

    def __init__(self, ob_dim, ac_dim, discrete, cfg, blanks: Blanks):
        super().__init__(ob_dim, ac_dim, discrete, cfg)
        self.blanks = blanks.checked()
        self.v_net = FlatNet(self._make_v_net())
        self.q = TwinQ(ob_dim, ac_dim, discrete, cfg)

    def _make_v_net(self):
        return self.blanks.make_value_network(self.ob_dim, hidden_size=self.cfg.hidden_size,
                                              n_layers=self.cfg.n_layers)

    def build(self):
        params = super().build()
        params["v_net"] = FlatNet.flatten(self._make_v_net())
        params["q_net"] = self.q.build()
        params["q_target"] = params["q_net"].clone()
        return params

    def v(self, theta, obs) -> torch.Tensor:
        return self.v_net(theta, obs).squeeze(-1)

    def step(self, state, batch, noise):
        cfg, blanks, state = self.cfg, self.blanks, dict(state)
        obs, actions = batch["obs"], batch["actions"]

        # 1. V toward the ζ-expectile of target Q over dataset actions
        with torch.no_grad():
            q_target = self.q.min(state["q_target"], obs, actions)

        def v_loss(theta):
            v = self.v(theta, obs)
            return blanks.value_loss(q_target, v, cfg.expectile), v

        v_loss, v = self.descend(v_loss, state, "v_net", has_aux=True)

        # 2. actor: advantage-weighted regression on dataset actions
        q_sa, q_vjp = vjp(lambda theta: self.q(theta, obs, actions), state["q_net"])
        with torch.no_grad():
            adv = blanks.estimate_advantage(q_sa.min(dim=0).values, self.v(state["v_net"], obs))

        def actor_loss(theta):
            log_prob = self.log_prob(theta, obs, actions)
            return blanks.actor_loss(log_prob, adv, cfg.temperature, max_weight=cfg.max_weight)

        actor_loss = self.descend(actor_loss, state, "policy")

        # 3. both Qs toward r + γ(1 − d) V(s'), V the one updated in step 1
        v_net = partial(self.v_net, state["v_net"])

        def q_loss(q):
            q1_loss, q2_loss = blanks.q_losses(q[0], q[1], v_net, batch["next_obs"], batch["rewards"],
                                               batch["terminals"], cfg.gamma)
            return q1_loss + q2_loss

        dloss_dq, q_loss = grad_and_value(q_loss)(q_sa)
        (q_grad,) = q_vjp(dloss_dq)
        state["q_net"], state["q_net_opt"] = adam_update(state["q_net"], q_grad, state["q_net_opt"],
                                                         cfg.learning_rate, cfg.grad_clip)

        # 4. target Qs trail the online Qs
        state["q_target"] = torch.lerp(state["q_target"], state["q_net"], cfg.polyak_tau)
        return state, {"Critic_V_Loss": v_loss, "Critic_Q_Loss": q_loss / 2, "Actor_Loss": actor_loss,
                       "V_Mean": v.mean(), "Q_Mean": q_sa.min(dim=0).values.mean(), "Advantage_Mean": adv.mean()}
