"""Behaviour cloning: maximum likelihood on the dataset's actions.

Filtered BC is the same algorithm trained on the top p % of trajectories
(`--filter-top-percent`); the filtering happens in the data layer, not here.
"""
from __future__ import annotations

from iql_lib.algos.base import Algorithm


class BC(Algorithm):
    def step(self, state, batch, noise):
        state = dict(state)

        def actor_loss(theta):
            return -self.log_prob(theta, batch["obs"], batch["actions"]).mean()

        loss = self.descend(actor_loss, state, "policy")
        return state, {"Actor_Loss": loss}
