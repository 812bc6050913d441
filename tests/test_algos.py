"""The baselines' updates: BC and AWAC, discrete and continuous."""
from __future__ import annotations

import copy

import pytest
import torch

from iql_lib.algos import make_agent
from iql_lib.algos.awac import advantage_weighted_loss
from iql_lib.config import make_config

B = 32


def batch(discrete: bool, ob_dim: int = 3, ac_dim: int = 2) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    actions = (torch.randint(0, 5, (B,), generator=g) if discrete
               else torch.rand(B, ac_dim, generator=g) * 2 - 1)
    return {"obs": torch.randn(B, ob_dim, generator=g), "actions": actions,
            "rewards": -torch.ones(B), "next_obs": torch.randn(B, ob_dim, generator=g),
            "terminals": (torch.rand(B, generator=g) < 0.2).float()}


def agent(algo: str, discrete: bool):
    torch.manual_seed(0)
    return make_agent(algo, 3, 5 if discrete else 2, discrete, make_config(algo=algo, hidden_size=16))


@pytest.mark.parametrize("discrete", [True, False])
def test_bc_loss_is_the_negative_log_likelihood(discrete):
    bc = agent("bc", discrete)
    data = batch(discrete)
    expected = -bc.policy.log_prob(data["obs"], data["actions"]).mean()
    assert bc.update(data)["Actor_Loss"] == pytest.approx(expected.item())
    assert -bc.policy.log_prob(data["obs"], data["actions"]).mean() < expected


@pytest.mark.parametrize("discrete", [True, False])
def test_awac_update_trains_critic_and_actor_and_trails_the_target(discrete):
    awac = agent("awac", discrete)
    before = copy.deepcopy(awac)
    metrics = awac.update(batch(discrete))
    assert set(metrics) == {"Critic_Q_Loss", "Actor_Loss", "Q_Mean", "Advantage_Mean"}
    assert all(torch.isfinite(v) for v in metrics.values())
    for new, old in [(awac.q_net, before.q_net), (awac.policy, before.policy)]:
        assert all(not torch.equal(a, b) for a, b in zip(new.parameters(), old.parameters()))
    tau = awac.cfg.polyak_tau
    for target, old_target, online in zip(awac.q_target.parameters(), before.q_target.parameters(),
                                          awac.q_net.parameters()):
        assert torch.allclose(target, old_target + tau * (online - old_target), atol=1e-7)


def test_awac_weights_are_clamped_constants():
    log_prob = torch.tensor([-1.0, -2.0, -0.5], requires_grad=True)
    adv = torch.tensor([10.0, 0.0, -0.1], requires_grad=True)
    loss = advantage_weighted_loss(log_prob, adv, temperature=0.1, max_weight=50.0)
    weights = torch.tensor([50.0, 1.0, torch.exp(torch.tensor(-1.0)).item()])
    assert loss.item() == pytest.approx(-(weights * log_prob.detach()).mean().item())
    loss.backward()
    assert torch.allclose(log_prob.grad, -weights / 3)
    assert adv.grad is None
