"""Adam with gradient-norm clipping, as a pure function of flat vectors.

It computes what `torch.nn.utils.clip_grad_norm_` followed by `torch.optim.Adam` (default
betas and eps, no weight decay) compute, so a step can be vmapped over seeds and
compiled into one graph. Under `vmap` every seed clips by its own gradient norm.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch.func import grad_and_value

BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


def adam_init(theta: torch.Tensor) -> dict[str, torch.Tensor]:
    zeros = torch.zeros_like(theta)
    return {"m": zeros, "v": zeros.clone(), "t": torch.zeros((), device=theta.device)}


def adam_update(theta, grad, state, lr: float, max_grad_norm: float):
    """One clipped Adam step; returns `(theta, state)`."""
    norm = torch.linalg.vector_norm(grad)
    grad = grad * torch.clamp(max_grad_norm / (norm + 1e-6), max=1.0)
    t = state["t"] + 1
    m = torch.lerp(state["m"], grad, 1 - BETA1)
    v = state["v"] * BETA2 + (1 - BETA2) * grad * grad
    step_size = lr / (1 - BETA1**t)
    denom = v.sqrt() / torch.sqrt(1 - BETA2**t) + EPS
    return theta - step_size * m / denom, {"m": m, "v": v, "t": t}


def cosine_lr(lr: float, t: torch.Tensor, horizon: int) -> torch.Tensor:
    """`lr` decayed along half a cosine to 0 at step `horizon` (t counts steps taken), the
    actor's schedule in the IQL authors' implementation."""
    return lr * 0.5 * (1 + torch.cos(torch.pi * torch.clamp(t / horizon, max=1.0)))


def descend(loss_fn: Callable, theta, state, lr: float, max_grad_norm: float, has_aux: bool = False):
    """Differentiate `loss_fn(theta)` (`-> loss`, or `-> (loss, aux)` with `has_aux`) and
    take one Adam step. Returns `(theta, state, loss, aux)`, aux None without `has_aux`."""
    grad, value = grad_and_value(loss_fn, has_aux=has_aux)(theta)
    loss, aux = value if has_aux else (value, None)
    theta, state = adam_update(theta, grad, state, lr, max_grad_norm)
    return theta, state, loss, aux
