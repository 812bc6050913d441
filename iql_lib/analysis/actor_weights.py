"""How much of its data an advantage-weighted actor learns from.

IQL and AWAC fit π to the dataset's actions weighted by w = min(exp(A/λ), max_weight).
When the advantages A spread far wider than the temperature λ, the weights span many
orders of magnitude: a few samples carry each batch and the rest hardly count. Kish's
effective sample size (Σw)²/Σw² says how many equally weighted samples a batch is worth
(the whole batch for equal weights, 1 when one sample carries it all).

`actor_weights(run_dir)` measures this on a run's checkpoint over dataset states, next to
how closely its greedy actions follow the data's (the one number BC, which has no
weights, gets too). `iql-report` tabulates it under the AntMaze tables.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from iql_lib.algos import AWAC, IQL
from iql_lib.algos.awac import advantage_weights
from iql_lib.data import load_dataset
from iql_lib.training.engine import Engine
from iql_lib.training.train import dataset_path, load_policy

STATES = 20_000  # dataset transitions one measurement draws


@dataclass(frozen=True)
class ActorWeights:
    advantage_std: float    # std of A over the states; NaN without weights (BC)
    clipped: float          # share of the weights at max_weight
    effective_batch: float  # (Σw)²/Σw² of a batch of `batch_size`, the mean over batches
    batch_size: int
    action_error: float     # continuous actions: mean ‖greedy π(s) − a‖²; discrete: share of s where they differ


def effective_batch_size(weights: torch.Tensor) -> torch.Tensor:
    """(Σw)²/Σw² along the last axis; 0 where every weight is 0 (a batch that teaches nothing)."""
    squares = (weights ** 2).sum(-1)
    return torch.where(squares > 0, weights.sum(-1) ** 2 / squares, 0.0)


def advantages(engine: Engine, obs: torch.Tensor, actions: torch.Tensor,
               generator: torch.Generator) -> torch.Tensor | None:
    """The advantages that weight seed 0's actor at (s, a), as its update computes them:
    IQL min Q(s, a) − V(s); AWAC min Q(s, a) − min Q(s, a_π) with one a_π ~ π(·|s) drawn
    from `generator`; None for BC."""
    algo, state = engine.algo, engine.state
    if isinstance(algo, IQL):
        q_sa = algo.q.min(state["q_net"][0], obs, actions)
        return algo.blanks.estimate_advantage(q_sa, algo.v(state["v_net"][0], obs))
    if isinstance(algo, AWAC):
        sampled = engine.act(0, obs, False, generator)
        return algo.q.min(state["q_net"][0], obs, actions) - algo.q.min(state["q_net"][0], obs, sampled)
    return None


@torch.no_grad()
def actor_weights(run_dir: str | Path, *, states: int = STATES, seed: int = 0, blanks=None) -> ActorWeights:
    """`ActorWeights` of a run's checkpoint on `states` dataset transitions drawn with
    `seed`, cut into batches of the run's batch size."""
    engine, cfg, _, env = load_policy(run_dir, blanks=blanks)
    data = load_dataset(dataset_path(cfg), env)
    rows = np.random.default_rng(seed).choice(len(data.observations), min(states, len(data.observations)),
                                              replace=False)
    obs, actions = torch.as_tensor(data.observations[rows]), torch.as_tensor(data.actions[rows])
    greedy = engine.act(0, obs, True, torch.Generator())
    if engine.algo.discrete:
        action_error = (greedy != actions).float().mean().item()
    else:
        action_error = ((greedy - actions) ** 2).sum(-1).mean().item()
    adv = advantages(engine, obs, actions, torch.Generator().manual_seed(seed))
    if adv is None:
        return ActorWeights(math.nan, math.nan, math.nan, cfg.batch_size, action_error)
    weights = advantage_weights(adv, cfg.temperature, cfg.max_weight)
    batch = min(cfg.batch_size, len(weights))
    batches = weights[: len(weights) // batch * batch].view(-1, batch)
    return ActorWeights(adv.std().item(), (weights >= cfg.max_weight).float().mean().item(),
                        effective_batch_size(batches).mean().item(), batch, action_error)
