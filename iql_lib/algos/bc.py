"""Behaviour cloning: maximum likelihood on the dataset's actions.

Filtered BC is the same agent trained on the top p % of trajectories
(`--filter-top-percent`); the filtering happens in the data layer, not here.
"""
from __future__ import annotations

from iql_lib.algos.base import OfflineAgent


class BC(OfflineAgent):
    def update(self, batch):
        actor_loss = -self.policy.log_prob(batch["obs"], batch["actions"]).mean()
        self.step("actor", actor_loss)
        return {"Actor_Loss": actor_loss.detach()}
