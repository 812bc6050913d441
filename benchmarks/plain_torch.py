"""IQL, AWAC and BC written the obvious way: separate modules, torch.optim, eager.

This is the yardstick for the engine: `benchmarks/throughput.py` times it next to ours,
and the equivalence tests check that one engine step (vmapped, compiled or not) leaves
the same parameters as one step of this code. It shares nothing with the engine but the
network templates and the six blanks.
"""
from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn import functional as F

from iql_lib.algos.nets import QNetwork, make_policy


class PlainAgent(nn.Module):
    def __init__(self, ob_dim, ac_dim, discrete, cfg):
        super().__init__()
        self.cfg = cfg
        self.policy = make_policy(ob_dim, ac_dim, discrete, cfg.hidden_size, cfg.n_layers)
        self.optimizers = {"policy": torch.optim.Adam(self.policy.parameters(), lr=cfg.learning_rate)}

    def twin_q(self, ob_dim, ac_dim, discrete):
        make = lambda: QNetwork(ob_dim, ac_dim, discrete, self.cfg.hidden_size, self.cfg.n_layers)  # noqa: E731
        self.q1, self.q2 = make(), make()
        self.q1_target, self.q2_target = copy.deepcopy(self.q1), copy.deepcopy(self.q2)
        self.optimizers["q_net"] = torch.optim.Adam([*self.q1.parameters(), *self.q2.parameters()],
                                                    lr=self.cfg.learning_rate)

    def min_q(self, obs, actions, target=False):
        q1, q2 = (self.q1_target, self.q2_target) if target else (self.q1, self.q2)
        return torch.minimum(q1(obs, actions), q2(obs, actions))

    def log_prob(self, obs, actions):
        return self.policy.log_prob(self.policy(obs), actions)

    def sample(self, obs, noise):
        return self.policy.sample(self.policy(obs), noise)

    def step(self, name, loss):
        optimizer = self.optimizers[name]
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], self.cfg.grad_clip)
        optimizer.step()

    @torch.no_grad()
    def polyak(self):
        for target, online in ((self.q1_target, self.q1), (self.q2_target, self.q2)):
            for pt, p in zip(target.parameters(), online.parameters()):
                pt.mul_(1 - self.cfg.polyak_tau).add_(self.cfg.polyak_tau * p)


class PlainBC(PlainAgent):
    def update(self, batch, noise=None):
        loss = -self.log_prob(batch["obs"], batch["actions"]).mean()
        self.step("policy", loss)
        return {"Actor_Loss": loss.detach()}


class PlainAWAC(PlainAgent):
    def __init__(self, ob_dim, ac_dim, discrete, cfg):
        super().__init__(ob_dim, ac_dim, discrete, cfg)
        self.twin_q(ob_dim, ac_dim, discrete)

    def update(self, batch, noise):
        cfg, obs, actions = self.cfg, batch["obs"], batch["actions"]
        with torch.no_grad():
            next_actions = self.sample(batch["next_obs"], noise[0])
            y = batch["rewards"] + cfg.gamma * (1 - batch["terminals"]) * \
                self.min_q(batch["next_obs"], next_actions, target=True)
        critic_loss = F.mse_loss(self.q1(obs, actions), y) + F.mse_loss(self.q2(obs, actions), y)
        self.step("q_net", critic_loss)
        with torch.no_grad():
            adv = self.min_q(obs, actions) - self.min_q(obs, self.sample(obs, noise[1]))
            weights = torch.exp(adv / cfg.temperature).clamp(max=cfg.max_weight)
        actor_loss = -(weights * self.log_prob(obs, actions)).mean()
        self.step("policy", actor_loss)
        self.polyak()
        return {"Critic_Q_Loss": critic_loss.detach() / 2, "Actor_Loss": actor_loss.detach()}


class PlainIQL(PlainAgent):
    def __init__(self, ob_dim, ac_dim, discrete, cfg, blanks):
        super().__init__(ob_dim, ac_dim, discrete, cfg)
        self.blanks = blanks
        self.v_net = blanks.make_value_network(ob_dim, hidden_size=cfg.hidden_size, n_layers=cfg.n_layers)
        self.optimizers["v_net"] = torch.optim.Adam(self.v_net.parameters(), lr=cfg.learning_rate)
        self.twin_q(ob_dim, ac_dim, discrete)

    def update(self, batch, noise=None):
        cfg, b, obs, actions = self.cfg, self.blanks, batch["obs"], batch["actions"]
        with torch.no_grad():
            q_target = self.min_q(obs, actions, target=True)
        v_loss = b.value_loss(q_target, self.v_net(obs).squeeze(-1), cfg.expectile)
        self.step("v_net", v_loss)

        with torch.no_grad():
            adv = b.estimate_advantage(self.min_q(obs, actions), self.v_net(obs).squeeze(-1))
        actor_loss = b.actor_loss(self.log_prob(obs, actions), adv, cfg.temperature, max_weight=cfg.max_weight)
        self.step("policy", actor_loss)

        q1_loss, q2_loss = b.q_losses(self.q1(obs, actions), self.q2(obs, actions), self.v_net,
                                      batch["next_obs"], batch["rewards"], batch["terminals"], cfg.gamma)
        self.step("q_net", q1_loss + q2_loss)
        self.polyak()
        return {"Critic_V_Loss": v_loss.detach(), "Critic_Q_Loss": (q1_loss + q2_loss).detach() / 2,
                "Actor_Loss": actor_loss.detach()}


def make_plain_agent(algo, ob_dim, ac_dim, discrete, cfg, blanks=None) -> PlainAgent:
    if algo == "iql":
        return PlainIQL(ob_dim, ac_dim, discrete, cfg, blanks)
    return {"awac": PlainAWAC, "bc": PlainBC}[algo](ob_dim, ac_dim, discrete, cfg)


def load_flat_state(agent: PlainAgent, state: dict) -> None:
    """Copy one seed's engine parameters (flat vectors) into the plain modules."""
    from torch.nn.utils import vector_to_parameters

    vector_to_parameters(state["policy"], agent.policy.parameters())
    if "v_net" in state:
        vector_to_parameters(state["v_net"], agent.v_net.parameters())
    if "q_net" in state:
        for i, (online, target) in enumerate(((agent.q1, agent.q1_target), (agent.q2, agent.q2_target))):
            vector_to_parameters(state["q_net"][i], online.parameters())
            vector_to_parameters(state["q_target"][i], target.parameters())


def flat_state(agent: PlainAgent) -> dict:
    """The plain modules' parameters in the engine's layout."""
    from torch.nn.utils import parameters_to_vector as flat

    state = {"policy": flat(agent.policy.parameters()).detach()}
    if hasattr(agent, "v_net"):
        state["v_net"] = flat(agent.v_net.parameters()).detach()
    if hasattr(agent, "q1"):
        state["q_net"] = torch.stack([flat(agent.q1.parameters()), flat(agent.q2.parameters())]).detach()
        state["q_target"] = torch.stack([flat(agent.q1_target.parameters()),
                                         flat(agent.q2_target.parameters())]).detach()
    return state
