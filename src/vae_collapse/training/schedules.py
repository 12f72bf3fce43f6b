"""Learning-rate schedules that torch does not ship as one class."""

from __future__ import annotations

import math

import torch
from torch.optim.lr_scheduler import CosineAnnealingLR, ExponentialLR, LambdaLR

# The schedules' lengths default to trainer.max_steps, which is -1 in a run bounded by epochs.
_FOLLOWS_MAX_STEPS = (" (by default it is trainer.max_steps; in a run bounded by trainer.max_epochs "
                      "give lr_scheduler.{key}=<steps>)")


def constant_then_cosine(
    optimizer: torch.optim.Optimizer, total_steps: int, decay_steps: int, final_factor: float = 0.0
) -> LambdaLR:
    """Hold the optimiser's lr, then decay it along a half cosine over the last ``decay_steps``.

    A run shorter than ``decay_steps`` (a quick ``trainer.max_steps=...`` override) decays over
    all of its steps.

    Full-batch Adam at a constant rate reaches the neighbourhood of the optimum and then hovers
    (each step moves every parameter by about the rate); the decay lets it settle. Holding the
    rate first keeps the fast approach: decaying from the start slows the long early climb.
    """
    if total_steps < 1:
        raise ValueError(f"total_steps={total_steps} must be >= 1{_FOLLOWS_MAX_STEPS.format(key='total_steps')}")
    if decay_steps < 0:
        raise ValueError(f"decay_steps={decay_steps} must be >= 0")
    if not 0.0 <= final_factor <= 1.0:
        raise ValueError(f"final_factor={final_factor} must be in [0, 1]")
    decay_steps = min(decay_steps, total_steps)
    decay_start = total_steps - decay_steps

    def factor(step: int) -> float:
        if step < decay_start or decay_steps == 0:
            return 1.0
        progress = min(1.0, (step - decay_start) / decay_steps)
        return final_factor + (1.0 - final_factor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return LambdaLR(optimizer, factor)


def cosine(optimizer: torch.optim.Optimizer, T_max: int, eta_min: float = 0.0) -> CosineAnnealingLR:  # noqa: N803
    """torch's CosineAnnealingLR with its length checked: torch takes T_max = -1 (the lr then jumps
    between two values every step) and fails on 0 only inside the training loop."""
    if T_max < 1:
        raise ValueError(f"T_max={T_max} must be >= 1{_FOLLOWS_MAX_STEPS.format(key='T_max')}")
    if eta_min < 0:
        raise ValueError(f"eta_min={eta_min} must be >= 0")
    return CosineAnnealingLR(optimizer, T_max=T_max, eta_min=eta_min)


def schedule_length(scheduler_cfg) -> int | None:
    """The steps a schedule from conf/lr_scheduler is built for (None: it has no end)."""
    for key in ("total_steps", "T_max"):
        value = scheduler_cfg.get(key) if scheduler_cfg is not None else None
        if isinstance(value, int):
            return value
    return None


def exponential(optimizer: torch.optim.Optimizer, gamma: float) -> ExponentialLR:
    """lr multiplied by ``gamma`` every step; torch accepts any gamma, a negative one flips the lr's sign."""
    if not 0.0 < gamma <= 1.0:
        raise ValueError(f"gamma={gamma} must be in (0, 1] (the lr is multiplied by it every step)")
    return ExponentialLR(optimizer, gamma)
