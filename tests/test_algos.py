"""The baselines' updates, checked against closed forms on the engine's own networks."""
from __future__ import annotations

import pytest
import torch

from iql_lib.algos import make_algorithm
from iql_lib.algos.awac import advantage_weighted_loss
from iql_lib.config import make_config
from iql_lib.training.engine import Engine

B = 32


def batch(discrete: bool, ob_dim: int = 3, ac_dim: int = 2) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    actions = (torch.randint(0, 5, (B,), generator=g) if discrete
               else torch.rand(B, ac_dim, generator=g) * 2 - 1)
    return {"obs": torch.randn(B, ob_dim, generator=g), "actions": actions,
            "rewards": -torch.ones(B), "next_obs": torch.randn(B, ob_dim, generator=g),
            "terminals": (torch.rand(B, generator=g) < 0.2).float()}


def engine(algo: str, discrete: bool) -> Engine:
    cfg = make_config(algo=algo, hidden_size=16)
    return Engine(make_algorithm(algo, 3, 5 if discrete else 2, discrete, cfg), [0],
                  torch.device("cpu"), compile=False)


def noise(e: Engine) -> torch.Tensor | None:
    if not e.algo.noise_draws:
        return None
    shape = (1, e.algo.noise_draws, B, e.algo.policy_template.noise_dim)
    return e.algo.policy_template.draw_noise(shape, torch.Generator().manual_seed(1), "cpu")


@pytest.mark.parametrize("discrete", [True, False])
def test_bc_loss_is_the_negative_log_likelihood(discrete):
    bc, data = engine("bc", discrete), batch(discrete)
    nll = lambda: -bc.algo.log_prob(bc.state["policy"][0], data["obs"], data["actions"]).mean()  # noqa: E731
    before = nll()
    metrics = bc.step({k: v[None] for k, v in data.items()}, None)
    assert metrics["Actor_Loss"][0].item() == pytest.approx(before.item())
    assert nll() < before


@pytest.mark.parametrize("discrete", [True, False])
def test_awac_update_trains_critic_and_actor_and_trails_the_target(discrete):
    awac = engine("awac", discrete)
    before = {k: v[0].clone() for k, v in awac.state.items() if not k.endswith("_opt")}
    metrics = awac.step({k: v[None] for k, v in batch(discrete).items()}, noise(awac))
    after = {k: v[0] for k, v in awac.state.items() if not k.endswith("_opt")}
    assert set(metrics) == {"Critic_Q_Loss", "Actor_Loss", "Q_Mean", "Advantage_Mean"}
    assert all(torch.isfinite(v).all() for v in metrics.values())
    assert not torch.equal(before["q_net"], after["q_net"])
    assert not torch.equal(before["policy"], after["policy"])
    tau = awac.algo.cfg.polyak_tau
    torch.testing.assert_close(after["q_target"],
                               before["q_target"] + tau * (after["q_net"] - before["q_target"]))


def test_awac_samples_come_from_the_policy():
    """Gumbel-max and reparameterised Gaussian draws follow π (checked on frequencies)."""
    awac = engine("awac", discrete=True)
    template = awac.algo.policy_template
    head = torch.tensor([[2.0, 0.0, -1.0, 0.5, 0.0]]).expand(20_000, 5)
    draws = template.sample(head, template.draw_noise(head.shape, torch.Generator().manual_seed(0), "cpu"))
    freq = torch.bincount(draws, minlength=5).float() / len(draws)
    torch.testing.assert_close(freq, torch.softmax(head[0], -1), atol=0.01, rtol=0)


def test_awac_weights_are_clamped_constants():
    log_prob = torch.tensor([-1.0, -2.0, -0.5], requires_grad=True)
    adv = torch.tensor([10.0, 0.0, -0.1], requires_grad=True)
    loss = advantage_weighted_loss(log_prob, adv, temperature=0.1, max_weight=50.0)
    weights = torch.tensor([50.0, 1.0, torch.exp(torch.tensor(-1.0)).item()])
    assert loss.item() == pytest.approx(-(weights * log_prob.detach()).mean().item())
    loss.backward()
    assert torch.allclose(log_prob.grad, -weights / 3)
    assert adv.grad is None


@pytest.mark.parametrize("algo", ["iql", "awac"])
def test_q_mean_is_the_same_quantity_in_every_algorithm(algo):
    """`Q_Mean`: the batch mean of min(Q1, Q2)(s, a) at the batch's actions, from the online
    critics before the step."""
    from iql_lib.assignment.blank_sources import load_blanks

    cfg = make_config(algo=algo, hidden_size=16)
    blanks = load_blanks("solutions") if algo == "iql" else None
    e = Engine(make_algorithm(algo, 3, 2, False, cfg, blanks), [0], torch.device("cpu"), compile=False)
    data = batch(False)
    before = e.algo.q.min(e.state["q_net"][0], data["obs"], data["actions"]).mean()
    metrics = e.step({k: v[None] for k, v in data.items()}, noise(e))
    torch.testing.assert_close(metrics["Q_Mean"][0], before)


def test_cosine_actor_schedule_follows_half_a_cosine_to_zero():
    from iql_lib.training.optim import cosine_lr

    t = torch.tensor([0.0, 25.0, 50.0, 100.0, 150.0])
    expected = 3e-4 * torch.tensor([1.0, (1 + 2**-0.5) / 2, 0.5, 0.0, 0.0])
    torch.testing.assert_close(cosine_lr(3e-4, t, 100), expected)


@pytest.mark.parametrize("algo", ["bc", "awac"])
def test_cosine_actor_schedule_stops_only_the_actor_at_the_horizon(algo):
    """Past `num_timesteps` the actor's rate is 0: the policy stays put, the critic still learns."""
    cfg = make_config(algo=algo, hidden_size=16, actor_lr_schedule="cosine", num_timesteps=10)
    e = Engine(make_algorithm(algo, 3, 2, False, cfg), [0], torch.device("cpu"), compile=False)
    e.state["policy_opt"]["t"] = torch.full_like(e.state["policy_opt"]["t"], 10.0)
    before = {k: v[0].clone() for k, v in e.state.items() if not k.endswith("_opt")}
    e.step({k: v[None] for k, v in batch(False).items()}, noise(e))
    torch.testing.assert_close(e.state["policy"][0], before["policy"], rtol=0, atol=0)
    if "q_net" in before:
        assert not torch.equal(e.state["q_net"][0], before["q_net"])


def test_constant_actor_schedule_moves_the_policy_past_the_horizon():
    e = engine("bc", discrete=False)
    e.state["policy_opt"]["t"] = torch.full_like(e.state["policy_opt"]["t"], 1e6)
    before = e.state["policy"][0].clone()
    e.step({k: v[None] for k, v in batch(False).items()}, None)
    assert not torch.equal(e.state["policy"][0], before)
