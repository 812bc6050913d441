"""The training engine: several seeds as one batched, optionally compiled, update.

Each seed keeps its own parameters, optimiser states, minibatches and RNG stream (one
`torch.Generator` per seed draws its minibatch indices and policy noise), so a batch of
seeds computes exactly what separate runs would; `torch.func.vmap` turns the
algorithm's one-seed `step` into a step over all seeds, and `torch.compile` fuses it
into one graph (CUDA graphs on a GPU). The eager path runs the same function
uncompiled: it is the fallback and the reference. The first step always runs eagerly,
so a broken blank fails with its own message before anything is compiled.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import torch
from torch.func import vmap
from torch.utils._pytree import tree_flatten, tree_map

from iql_lib.algos import Algorithm
from iql_lib.data import Transitions


def is_compiler_error(err: Exception) -> bool:
    """Whether torch.compile raised `err` because it could not compile the step (dynamo's own
    errors, inductor's lowering and C++ build failures): then the engine goes on eagerly.
    Anything else (out of memory, a bug) propagates. Imported here, as compiling does."""
    from torch._dynamo.exc import TorchDynamoException
    from torch._inductor.exc import CppCompileError, LoweringException

    return isinstance(err, (TorchDynamoException, CppCompileError, LoweringException))


@dataclass
class ReplayTensor:
    """Transitions packed column-wise into one `[N, D]` tensor on the device; minibatches
    come from its first `filled` rows (all of them for a dataset; an online learner's
    buffer fills as it acts)."""

    data: torch.Tensor
    slices: dict[str, slice]
    discrete: bool
    filled: int

    @staticmethod
    def _layout(widths: dict[str, int]) -> dict[str, slice]:
        slices, start = {}, 0
        for key, width in widths.items():
            slices[key] = slice(start, start + width)
            start += width
        return slices

    @classmethod
    def from_transitions(cls, t: Transitions, device) -> "ReplayTensor":
        columns = {
            "obs": t.observations,
            "actions": t.actions.reshape(len(t), -1).astype(np.float32),
            "rewards": t.rewards[:, None],
            "next_obs": t.next_observations,
            "terminals": t.terminals[:, None],
        }
        packed = torch.as_tensor(np.concatenate(list(columns.values()), axis=1), device=device)
        return cls(packed, cls._layout({k: v.shape[1] for k, v in columns.items()}), t.actions.ndim == 1, len(t))

    @classmethod
    def empty(cls, capacity: int, ob_dim: int, ac_dim: int, device) -> "ReplayTensor":
        """Room for `capacity` continuous-action transitions, none yet."""
        slices = cls._layout({"obs": ob_dim, "actions": ac_dim, "rewards": 1, "next_obs": ob_dim, "terminals": 1})
        return cls(torch.zeros(capacity, slices["terminals"].stop, device=device), slices, False, 0)

    def append(self, obs, action, reward: float, next_obs, terminal: bool) -> None:
        row = np.concatenate([obs, action, [reward], next_obs, [float(terminal)]]).astype(np.float32)
        self.data[self.filled] = torch.from_numpy(row)
        self.filled += 1

    def sample(self, batch_size: int, generators: list[torch.Generator]) -> dict[str, torch.Tensor]:
        """One minibatch per generator, `[S, B, ...]`: S index draws, one gather."""
        device = self.data.device
        idx = torch.stack([torch.randint(self.filled, (batch_size,), device=device, generator=g)
                           for g in generators])
        rows = self.data[idx]
        batch = {key: rows[..., s] for key, s in self.slices.items()}
        for key in ("rewards", "terminals"):
            batch[key] = batch[key].squeeze(-1)
        batch["actions"] = batch["actions"].squeeze(-1).long() if self.discrete else batch["actions"]
        return batch


def _stack(states: list[dict]) -> dict:
    return tree_map(lambda *leaves: torch.stack(leaves), *states)


class Engine:
    """Trains `len(seeds)` independent copies of one algorithm in lockstep."""

    def __init__(self, algo: Algorithm, seeds: list[int], device: torch.device, compile: bool):
        self.algo, self.device = algo, device
        self.state = tree_map(lambda t: t.to(device), _stack([algo.init_state(s) for s in seeds]))
        self.generators = [torch.Generator(device=device).manual_seed(s) for s in seeds]
        self.eager_step = vmap(algo.step, in_dims=(0, 0, 0 if algo.noise_draws else None))
        self.batched_policy = vmap(algo.policy)
        self.compile = compile
        self.compiled_step = None
        self.warm = False

    def _noise(self, batch_size: int) -> torch.Tensor | None:
        algo = self.algo
        if not algo.noise_draws:
            return None
        shape = (algo.noise_draws, batch_size, algo.policy_template.noise_dim)
        return torch.stack([algo.policy_template.draw_noise(shape, g, self.device) for g in self.generators])

    def update(self, replay: ReplayTensor, batch_size: int) -> dict[str, torch.Tensor]:
        """One step for every seed on its own minibatch; returns each metric as `[S]`."""
        return self.step(replay.sample(batch_size, self.generators), self._noise(batch_size))

    def step(self, batch: dict[str, torch.Tensor], noise: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """One step for every seed on the given `[S, B, ...]` batch (no host sync)."""
        if self.compiled_step is not None:
            try:
                # After the first compiled call no guard can fail (same shapes every step),
                # so skip evaluating them: ~0.1 ms a step on a CPU.
                if self.device.type == "cuda":
                    torch.compiler.cudagraph_mark_step_begin()  # outputs feed the next step
                with torch.compiler.set_stance(skip_guard_eval_unsafe=self.warm):
                    self.state, metrics = self.compiled_step(self.state, batch, noise)
                self.warm = True
                # CUDA-graph outputs are overwritten by the next replay; metrics wait for a log point
                return {k: v.clone() for k, v in metrics.items()} if self.device.type == "cuda" else metrics
            except Exception as err:
                if not is_compiler_error(err):  # step 1 ran eagerly: a compiler error is never the algorithm's
                    raise
                print(f"torch.compile failed ({type(err).__name__}: {str(err).splitlines()[0][:120]}); "
                      f"continuing with the eager step", file=sys.stderr)
                self.compile, self.compiled_step = False, None
        self.state, metrics = self.eager_step(self.state, batch, noise)
        if self.compile and self.compiled_step is None:  # the first step ran eagerly: blanks checked
            # Every engine compiles the same vmapped code anew; allow many in one process.
            torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
            from iql_lib.training.thin_matmuls import ThinMatmulsTransposed  # imports inductor: 1.5 s, compiling only

            options = ({"triton.cudagraphs": True} if self.device.type == "cuda" else
                       {"cpp_wrapper": True, "post_grad_custom_post_pass": ThinMatmulsTransposed()})
            self.compiled_step = torch.compile(self.eager_step, fullgraph=True, dynamic=False, options=options)
        return metrics

    def act(self, index: int, obs: torch.Tensor, greedy: bool, generator: torch.Generator) -> torch.Tensor:
        """Seed `index`'s policy at `obs` `[N, ob_dim]`: its best action or a sample."""
        return self._act(self.state["policy"][index: index + 1], obs[None], greedy, [generator])[0]

    def act_all(self, obs: torch.Tensor, greedy: bool, generators: list[torch.Generator]) -> torch.Tensor:
        """Every seed's policy at its own observations `[S, N, ob_dim]`, in one batched
        forward; seed `k` draws its samples from `generators[k]`, as `act` would."""
        return self._act(self.state["policy"], obs, greedy, generators)

    @torch.no_grad()
    def _act(self, theta, obs, greedy, generators) -> torch.Tensor:
        template = self.algo.policy_template
        head = self.batched_policy(theta, obs)
        if greedy:
            return template.mode(head)
        shape = head.shape[1:-1] + (template.noise_dim,)
        return template.sample(head, torch.stack([template.draw_noise(shape, g, obs.device) for g in generators]))

    def seed_state(self, index: int) -> dict:
        return {"params": tree_map(lambda t: t[index].detach().cpu().clone(), self.state),
                "generator": self.generators[index].get_state()}

    def load_seed_state(self, index: int, saved: dict) -> None:
        """Put one seed's `seed_state()` back in slot `index`."""
        leaves, spec = tree_flatten(self.state)
        saved_leaves, saved_spec = tree_flatten(saved["params"])
        if spec != saved_spec:
            raise ValueError("checkpoint does not match this algorithm's networks "
                             "(was it written by another --algo or network size?)")
        for leaf, value in zip(leaves, saved_leaves):
            leaf[index] = value.to(self.device)
        self.generators[index].set_state(saved["generator"])
