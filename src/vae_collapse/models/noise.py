"""Observation noise sigma^2 of the Gaussian decoder p(x | z) = N(f(z), sigma^2 I).

A module of its own, because the paper's central point is about it: with sigma^2 fixed,
every direction whose data variance is at most sigma^2 collapses, and learning sigma^2
is what lets the model keep those directions. Each policy answers ``sigma2(step)`` so
that schedules can depend on the training step.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class ObservationNoise(nn.Module):
    """Base class: a scalar sigma^2, possibly a function of the training step."""

    learned: bool = False

    def sigma2(self, step: int = 0) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def set_sigma2(self, value: float) -> None:
        """Place the policy at a given sigma^2 (used by closed-form solutions)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be set to a value")

    def extra_repr(self) -> str:
        return f"sigma2={float(self.sigma2()):.6g}, learned={self.learned}"


class FixedNoise(ObservationNoise):
    """sigma^2 held at a value: a beta-VAE on squared error with beta = 2 sigma^2 (up to constants)."""

    def __init__(self, sigma2: float = 1.0) -> None:
        super().__init__()
        if not sigma2 > 0:
            raise ValueError(f"sigma2={sigma2} must be > 0")
        self.register_buffer("_sigma2", torch.tensor(float(sigma2)))

    def sigma2(self, step: int = 0) -> torch.Tensor:
        return self._sigma2

    def set_sigma2(self, value: float) -> None:
        self._sigma2.fill_(value)


class LearnedNoise(ObservationNoise):
    """sigma^2 = min_sigma2 + exp(theta), trained with the other parameters.

    The log parameterisation keeps the step size relative to sigma^2; the floor keeps the
    likelihood bounded when the reconstructions become exact (constant pixels on MNIST).
    """

    learned = True

    def __init__(self, init: float = 1.0, min_sigma2: float = 1e-6) -> None:
        super().__init__()
        if not min_sigma2 >= 0:
            raise ValueError(f"min_sigma2={min_sigma2} must be >= 0")
        if not init > min_sigma2:
            raise ValueError(f"init={init} must be > min_sigma2={min_sigma2}")
        self.min_sigma2 = float(min_sigma2)
        self.log_excess = nn.Parameter(torch.tensor(math.log(init - min_sigma2)))

    def sigma2(self, step: int = 0) -> torch.Tensor:
        return self.min_sigma2 + torch.exp(self.log_excess)

    def set_sigma2(self, value: float) -> None:
        with torch.no_grad():
            self.log_excess.fill_(math.log(max(value - self.min_sigma2, 1e-30)))
