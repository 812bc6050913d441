"""How much of each batch an advantage-weighted actor learns from (`iql_lib.analysis.actor_weights`).
The same on a trained AntMaze run, and in `iql-report`: tests/test_datagen.py."""
from __future__ import annotations

import math

import pytest
import torch

from iql_lib.analysis.actor_weights import actor_weights, advantages, effective_batch_size
from iql_lib.algos.awac import advantage_weights
from iql_lib.cli import train_main
from iql_lib.data import load_dataset
from iql_lib.training.train import dataset_path, load_policy


def trained(tmp_path, name: str, *argv: str):
    """A 200-step PointMass run named `name` (its folder, with a checkpoint)."""
    assert train_main(["--num-timesteps", "200", "--eval-freq", "200", "--eval-episodes", "1", "--hidden-size", "32",
                       "--exp-name", name, "--out", str(tmp_path), "--quiet", *argv]) == 0
    return next(tmp_path.glob(f"{name}_*_seed1"))


def test_effective_batch_size_closed_forms():
    assert effective_batch_size(torch.ones(256)).item() == pytest.approx(256)
    assert effective_batch_size(torch.tensor([1e6, 1.0, 1.0, 1.0])).item() == pytest.approx(1, abs=1e-5)
    k_equal_among_zeros = torch.zeros(2, 10)
    k_equal_among_zeros[0, :3], k_equal_among_zeros[1, :7] = 5.0, 0.1
    assert effective_batch_size(k_equal_among_zeros).tolist() == pytest.approx([3, 7])
    assert effective_batch_size(torch.zeros(5)).item() == 0  # weights underflowed: nothing counts


def test_the_weights_are_exp_a_over_lambda_clamped_at_max_weight():
    adv = torch.tensor([-1.0, 0.0, 0.1 * math.log(2), 5.0])
    assert advantage_weights(adv, 0.1, 50.0).tolist() == pytest.approx([math.exp(-10), 1, 2, 50])


def test_awacs_advantage_of_the_policys_own_sample_is_zero(tmp_path):
    engine, cfg, _, env = load_policy(trained(tmp_path, "awac", "--algo", "awac"))
    obs = torch.as_tensor(load_dataset(dataset_path(cfg), env).observations[:500])
    own = engine.act(0, obs, False, torch.Generator().manual_seed(5))
    assert torch.all(advantages(engine, obs, own, torch.Generator().manual_seed(5)) == 0)
    assert advantages(engine, obs, own, torch.Generator().manual_seed(6)).abs().max() > 0


def test_bc_has_no_weights_only_its_distance_to_the_data(tmp_path):
    bc = actor_weights(trained(tmp_path, "bc", "--algo", "bc"))
    assert math.isnan(bc.advantage_std) and math.isnan(bc.effective_batch) and math.isnan(bc.clipped)
    assert 0 <= bc.action_error <= 1  # PointMass's actions are discrete: the share of states where they differ
