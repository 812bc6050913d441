"""What every offline agent shares: the policy, optimiser steps, acting, checkpoints."""
from __future__ import annotations

import torch
from torch import nn

from iql_lib.config import TrainConfig
from iql_lib.nets import make_policy


class OfflineAgent(nn.Module):
    """Base class. Subclasses build their networks and implement `update(batch)`.

    `update` takes a minibatch dict (`obs`, `actions`, `rewards`, `next_obs`,
    `terminals`) and returns a dict of detached scalar tensors; it never calls `.item()`,
    so the device is not synchronised inside a step.
    """

    def __init__(self, ob_dim: int, ac_dim: int, discrete: bool, cfg: TrainConfig):
        super().__init__()
        self.cfg = cfg
        self.discrete = discrete
        self.policy = make_policy(ob_dim, ac_dim, discrete, cfg.hidden_size, cfg.n_layers)
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.add_optimizer("actor", self.policy)

    def add_optimizer(self, name: str, module: nn.Module) -> None:
        self.optimizers[name] = torch.optim.Adam(module.parameters(), lr=self.cfg.learning_rate,
                                                 foreach=True)

    def step(self, name: str, loss: torch.Tensor) -> None:
        """One optimiser step on `loss` with gradient-norm clipping."""
        optimizer = self.optimizers[name]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for group in optimizer.param_groups for p in group["params"]]
        nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
        optimizer.step()

    @torch.no_grad()
    def act(self, obs: torch.Tensor, greedy: bool) -> torch.Tensor:
        return self.policy.act(obs, greedy)

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def checkpoint_state(self) -> dict:
        return {"model": self.state_dict(),
                "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()}}

    def load_checkpoint_state(self, state: dict) -> None:
        self.load_state_dict(state["model"])
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])


@torch.no_grad()
def polyak_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """target ← (1 − τ) target + τ online."""
    for p_target, p in zip(target.parameters(), online.parameters()):
        p_target.lerp_(p, tau)

