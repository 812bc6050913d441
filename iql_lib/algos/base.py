"""What every algorithm shares: its networks as flat vectors and a pure update.

An `Algorithm` describes ONE seed: `init_state(seed)` builds the initial parameters and
optimiser states, and `step(state, batch, noise)` returns the next state and the step's
metrics without side effects. The engine (`iql_lib/training/engine.py`) runs that step for many
seeds at once with `torch.func.vmap` and, optionally, compiles it. Every algorithm with
a critic reports `Q_Mean` alike: the batch mean of min(Q1, Q2)(s, a) at the batch's
actions, from the online critics before the step's update.
"""
from __future__ import annotations

import torch
from torch.func import vmap

from iql_lib.config import TrainConfig
from iql_lib.algos.nets import FlatNet, QNetwork, make_policy
from iql_lib.training.optim import adam_init, cosine_lr, descend


class Algorithm:
    trained = ("policy",)  # networks with an optimiser; the others are targets
    noise_draws = 0        # policy samples the update needs per transition (AWAC: 2)

    def __init__(self, ob_dim: int, ac_dim: int, discrete: bool, cfg: TrainConfig):
        self.ob_dim, self.ac_dim, self.discrete, self.cfg = ob_dim, ac_dim, discrete, cfg
        self.policy_args = (ob_dim, ac_dim, discrete, cfg.hidden_size, cfg.n_layers)
        self.policy_template = self.make_policy_module()
        self.policy = FlatNet(self.policy_template)
        # offline training may decay the actor's rate (TrainConfig); the walker's SAC never does
        self.actor_cosine = isinstance(cfg, TrainConfig) and cfg.actor_lr_schedule == "cosine"

    def make_policy_module(self) -> torch.nn.Module:
        """A freshly initialised policy network (the course's policies by default)."""
        return make_policy(*self.policy_args)

    # --- parameters --------------------------------------------------------------

    def build(self) -> dict[str, torch.Tensor]:
        """Fresh parameters for every network, drawn from torch's global RNG."""
        return {"policy": FlatNet.flatten(self.make_policy_module())}

    def init_state(self, seed: int) -> dict[str, torch.Tensor]:
        """Parameters seeded by `seed`, each trained one with its Adam state."""
        torch.manual_seed(seed)
        state = self.build()
        for name in self.trained:
            state[f"{name}_opt"] = adam_init(state[name])
        return state

    observation_scaling: tuple[torch.Tensor, torch.Tensor] | None = None  # (shift, scale), once set

    def scale_observations(self, shift: torch.Tensor, scale: torch.Tensor) -> None:
        """Feed every network (s − shift) / scale: fixed statistics of the dataset."""
        self.observation_scaling = (shift, scale)
        nets = [v.net if isinstance(v, TwinQ) else v for v in vars(self).values() if isinstance(v, (FlatNet, TwinQ))]
        for net in nets:
            net.input_shift, net.input_scale = shift, scale

    # --- pieces the updates share ------------------------------------------------

    def descend(self, loss_fn, state: dict, name: str, has_aux: bool = False):
        """One clipped Adam step on network `name` in `state`; returns the loss (and aux)."""
        lr = self.cfg.learning_rate
        if name == "policy" and self.actor_cosine:
            lr = cosine_lr(lr, state["policy_opt"]["t"], self.cfg.num_timesteps)
        state[name], state[f"{name}_opt"], loss, aux = descend(
            loss_fn, state[name], state[f"{name}_opt"], lr, self.cfg.grad_clip, has_aux=has_aux)
        return (loss, aux) if has_aux else loss

    def log_prob(self, theta, obs, actions):
        return self.policy_template.log_prob(self.policy(theta, obs), actions)

    def sample(self, theta, obs, noise):
        return self.policy_template.sample(self.policy(theta, obs), noise)

    def step(self, state: dict, batch: dict, noise: torch.Tensor | None):
        raise NotImplementedError


class TwinQ:
    """Two Q-networks as one: parameters stacked `[2, P]`, evaluated in one vmapped call."""

    def __init__(self, ob_dim, ac_dim, discrete, cfg: TrainConfig):
        self.args = (ob_dim, ac_dim, discrete, cfg.hidden_size, cfg.n_layers)
        self.net = FlatNet(QNetwork(*self.args))
        self._both = vmap(self.net, in_dims=(0, None, None))

    def build(self) -> torch.Tensor:
        return torch.stack([FlatNet.flatten(QNetwork(*self.args)) for _ in range(2)])

    def __call__(self, theta, obs, actions) -> torch.Tensor:
        """Q1 and Q2 at (s, a): `[2, B]`."""
        return self._both(theta, obs, actions)

    def min(self, theta, obs, actions) -> torch.Tensor:
        return self(theta, obs, actions).min(dim=0).values
