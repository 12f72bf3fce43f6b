"""Observation noise sigma^2 of the Gaussian decoder p(x | z) = N(f(z), sigma^2 I).

A module of its own, because the paper's central point is about it: with sigma^2 fixed,
every direction whose data variance is at most sigma^2 collapses, and learning sigma^2 is
what lets the model keep those directions.

Every policy answers three questions, each at a training step:
- ``sigma2_for(squared_error, dim, step)``: sigma^2 for this batch (``optimal`` needs the
  reconstructions; every other policy ignores them);
- ``beta(step)``: the weight of the KL term in the training loss (1 except KL annealing);
- ``reference_sigma2()``: the value the linear theory should be evaluated at, or None when
  sigma^2 is fitted (then pPCA fits it too, sigma^2_ML).

beta and sigma^2 are two views of one knob. For a Gaussian decoder with fixed sigma^2,
  E_q[log p(x|z)] - beta KL = -E||x - f(z)||^2 / (2 sigma^2) - beta KL + const
                            = beta * ( -E||x - f(z)||^2 / (2 beta sigma^2) - KL ) + const,
so training with KL weight beta has the same optimum as the plain ELBO with sigma^2' = beta sigma^2.
KL annealing from beta = 0 therefore *starts* at sigma^2' = 0 and ends at the plain ELBO's
sigma^2: it changes the path, not the objective that training ends on.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from vae_collapse.maths.precision import plain_float

AnnealShape = Literal["linear", "cosine", "exponential"]


class ObservationNoise(nn.Module):
    """Base class: a scalar sigma^2, possibly a function of the training step."""

    learned: bool = False
    # The optimiser's learning rate for this module's parameters is lr * lr_scale. Adam moves
    # log sigma^2 by about lr per step whatever the gradient, so from sigma^2 = 10 at lr 1e-3 it
    # takes ~2,300 steps just to reach 1; a larger scale tells that travel from a local optimum.
    lr_scale: float = 1.0

    def sigma2(self, step: int = 0) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def sigma2_for(self, squared_error: torch.Tensor, dim: int, step: int = 0) -> torch.Tensor:
        """sigma^2 for a batch whose per-example squared errors are ``squared_error``."""
        return self.sigma2(step)

    def beta(self, step: int = 0) -> float:
        """The KL weight in the loss of training step ``step``: the step taken after ``step`` updates (global_step)."""
        return 1.0

    @property
    def fitted_to_reconstructions(self) -> bool:
        """Whether sigma^2 is the reconstructions' mean squared error (``optimal``): the final
        measurements then fit it to the whole training split (:meth:`fit_to`) first."""
        return False

    def fit_to(self, mean_squared_error: float, dim: int) -> None:
        """Set sigma^2 to the ELBO's maximiser for a split with this mean per-example squared error."""
        raise TypeError(f"{type(self).__name__} does not fit sigma^2 to the reconstructions")

    def reference_sigma2(self, last_step: int | None = None) -> float | None:
        """The sigma^2 the run ends at where it is not fitted; None where it is (pPCA's ML value then).

        ``last_step`` is the run's last step, where a schedule that ends later is cut off. This
        default takes sigma^2 at that step (step 0 when the run has no known end), which is right
        for any schedule that is a function of the step.
        """
        if self.learned:
            return None
        return plain_float(self.sigma2(0 if last_step is None else last_step))

    def sigma2_floor(self) -> float:
        """The least sigma^2 a fitted policy can reach (its ``min_sigma2``); 0 where none is fitted.

        Where it lies above pPCA's sigma^2_ML, the reference and the closed-form fit take it
        instead: pPCA's likelihood rises towards sigma^2_ML on either side, so the floor is
        the best sigma^2 this policy can hold.
        """
        return float(getattr(self, "min_sigma2", 0.0)) if self.learned else 0.0

    def unfinished_schedule(self, last_step: int) -> str | None:
        """Why a run that stops at ``last_step`` does not reach this policy's end, or None."""
        return None

    def set_sigma2(self, value: float) -> None:
        """Place the policy at a given sigma^2 (used by closed-form solutions)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be set to a value")

    def extra_repr(self) -> str:
        return f"sigma2={float(self.sigma2().detach()):.6g}, learned={self.learned}"


def _check_variance(name: str, value: float, above: float = 0.0, floor_name: str | None = None) -> None:
    """A variance setting: finite and above ``above`` (0, or the floor ``floor_name``); inf would only diverge."""
    bound = f"{floor_name}={above}" if floor_name else f"{above:g}"
    if not (value > above and math.isfinite(value)):
        raise ValueError(f"{name}={value} must be > {bound} and finite")
    f32 = torch.finfo(torch.float32)
    if not f32.tiny <= value <= f32.max:  # 1e-50 would be 0 in training, 1e39 inf
        raise ValueError(f"{name}={value} must be between {f32.tiny:.2g} and {f32.max:.2g} "
                         "(float32, in which training computes by default, holds no other)")


def _check_floor(min_sigma2: float) -> None:
    if not (min_sigma2 >= 0 and math.isfinite(min_sigma2)):
        raise ValueError(f"min_sigma2={min_sigma2} must be >= 0 and finite")


def _log_parameter(value: float, floor: float) -> nn.Parameter:
    """theta with floor + exp(theta) = value: the log of the variance above the floor.

    Log-variance, as in the paper's reference code. A log-std parameter (twice the log-range
    per Adam step) reaches sigma^2_ML sooner on MNIST but then settles further from the
    optimum: W has less time to follow sigma^2 down, and the end is stiffer.
    """
    return nn.Parameter(torch.tensor(math.log(value - floor)))


class FixedNoise(ObservationNoise):
    """sigma^2 held at a value: a beta-VAE on squared error (see the module docstring)."""

    def __init__(self, sigma2: float = 1.0) -> None:
        super().__init__()
        _check_variance("sigma2", sigma2)
        self.value = float(sigma2)  # as given: float32 would make 0.1 into 0.10000000149
        self.register_buffer("_sigma2", torch.tensor(self.value))

    def sigma2(self, step: int = 0) -> torch.Tensor:
        return self._sigma2

    def _apply(self, fn, *args, **kwargs):
        # .double() would widen the float32 copy of 0.1 (0.10000000149); the exact float64
        # measurements need the value as given.
        super()._apply(fn, *args, **kwargs)
        with torch.no_grad():
            self._sigma2.fill_(self.value)
        return self

    def reference_sigma2(self, last_step: int | None = None) -> float | None:
        return self.value

    def set_sigma2(self, value: float) -> None:
        _check_variance("sigma2", value)
        self.value = float(value)
        self._sigma2.fill_(value)


class LearnedNoise(ObservationNoise):
    """sigma^2 = min_sigma2 + exp(theta), trained with the other parameters.

    The log parameterisation keeps the step size relative to sigma^2; the floor keeps the
    likelihood bounded when the reconstructions become exact (constant pixels on MNIST).
    """

    learned = True

    def __init__(self, init: float = 1.0, min_sigma2: float = 1e-6, lr_scale: float = 1.0) -> None:
        super().__init__()
        _check_floor(min_sigma2)
        _check_variance("init", init, min_sigma2, "min_sigma2")
        if not (lr_scale > 0 and math.isfinite(lr_scale)):
            raise ValueError(f"lr_scale={lr_scale} must be > 0 and finite")
        self.min_sigma2 = float(min_sigma2)
        self.lr_scale = float(lr_scale)
        self.log_var_excess = _log_parameter(init, min_sigma2)

    def sigma2(self, step: int = 0) -> torch.Tensor:
        return self.min_sigma2 + torch.exp(self.log_var_excess)

    def set_sigma2(self, value: float) -> None:
        with torch.no_grad():
            self.log_var_excess.fill_(math.log(max(value - self.min_sigma2, 1e-30)))


class OptimalNoise(ObservationNoise):
    """sigma^2 = the batch's mean squared error per dimension: the ELBO's maximiser in sigma^2.

    Recomputed every step from the current reconstructions (the sigma-VAE choice). It is
    treated as a constant in the gradient; at the maximum the derivative through sigma^2
    vanishes, so the other parameters' gradients are the same either way.
    """

    learned = True

    def __init__(self, min_sigma2: float = 1e-6, init: float = 1.0) -> None:
        super().__init__()
        _check_floor(min_sigma2)
        _check_variance("init", init)
        self.min_sigma2 = float(min_sigma2)
        # Only what is reported before the first step; every fitted value is at least the floor.
        self.register_buffer("_last", torch.tensor(max(float(init), self.min_sigma2)))

    def sigma2(self, step: int = 0) -> torch.Tensor:
        return self._last

    @property
    def fitted_to_reconstructions(self) -> bool:
        return True

    def sigma2_for(self, squared_error: torch.Tensor, dim: int, step: int = 0) -> torch.Tensor:
        if not self.training:
            # Evaluation scores the model at one sigma^2, whatever the evaluation batch (refitting
            # per batch would make test/elbo depend on the batch size): the last training batch's
            # during training, the whole training split's (fit_to) in the final measurements.
            return self._last
        value = torch.clamp(squared_error.detach().mean() / dim, min=self.min_sigma2)
        self._last.copy_(value)
        return value

    def fit_to(self, mean_squared_error: float, dim: int) -> None:
        self._last.fill_(max(mean_squared_error / dim, self.min_sigma2))


def anneal_value(start: float, end: float, progress: float, shape: AnnealShape) -> float:
    """Interpolate from ``start`` (progress 0) to ``end`` (progress 1), both exactly."""
    t = min(max(progress, 0.0), 1.0)
    if shape not in ("linear", "cosine", "exponential"):
        raise ValueError(f"shape={shape!r} must be 'linear', 'cosine' or 'exponential'")
    if t in (0.0, 1.0):  # the formulas round: linear 10 -> 0.1 ends at 0.09999999999999964
        return start if t == 0.0 else end
    if shape == "linear":
        return start + (end - start) * t
    if shape == "cosine":
        return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * t))
    return start * (end / start) ** t  # exponential


class AnnealedNoise(ObservationNoise):
    """sigma^2 moves from ``start`` to ``end`` over ``steps`` steps, then stays fixed or turns learned."""

    def __init__(
        self,
        start: float = 10.0,
        end: float = 1.0,
        steps: int = 1000,
        shape: AnnealShape = "linear",
        then: Literal["fixed", "learned"] = "fixed",
        min_sigma2: float = 1e-6,
    ) -> None:
        super().__init__()
        _check_floor(min_sigma2)
        for name, value in (("start", start), ("end", end)):
            _check_variance(name, value, min_sigma2, "min_sigma2")
        if steps < 0:
            raise ValueError(f"steps={steps} must be >= 0")
        if then not in ("fixed", "learned"):
            raise ValueError(f"then={then!r} must be 'fixed' or 'learned'")
        anneal_value(start, end, 0.0, shape)  # validates the shape
        self.start, self.end, self.steps, self.shape, self.then = float(start), float(end), steps, shape, then
        self.learned = then == "learned"
        self.min_sigma2 = float(min_sigma2)
        self.log_var_excess = _log_parameter(end, min_sigma2) if self.learned else None
        # Only its device and dtype are read (sigma2 follows the module); kept under this name so
        # that checkpoints, whose state dicts hold it, still load.
        self.register_buffer("_scheduled", torch.tensor(float(start)))

    def scheduled(self, step: int) -> float:
        """The schedule's value at ``step`` (``end`` from ``steps`` on), whatever ``then`` says."""
        return anneal_value(self.start, self.end, step / self.steps if self.steps else 1.0, self.shape)

    def sigma2(self, step: int = 0) -> torch.Tensor:
        if step >= self.steps and self.log_var_excess is not None:
            return self.min_sigma2 + torch.exp(self.log_var_excess)
        return torch.full_like(self._scheduled, self.scheduled(step))

    def reference_sigma2(self, last_step: int | None = None) -> float | None:
        # Training steps are 0 .. last_step - 1: a run of noise.steps steps or fewer never
        # learns sigma^2, and is measured at the scheduled value where it stopped.
        if last_step is not None and last_step <= self.steps:
            return self.scheduled(last_step)
        return None if self.learned else self.end

    def unfinished_schedule(self, last_step: int) -> str | None:
        # Training steps are 0 .. last_step - 1: noise.end is trained with only if last_step > steps.
        constant = self.start == self.end
        if last_step > self.steps or last_step <= 0 or (constant and not self.learned):
            return None
        learn = "no step is left to learn sigma2 (noise.then=learned)"
        if last_step == self.steps:
            parts = [] if constant else [f"no step trains at noise.end={self.end:g} (the last trains with "
                                         f"{self.scheduled(last_step - 1):.4g})"]
            parts += [learn] if self.learned else []
            return (f"noise.steps={self.steps} is as long as the run: {' and '.join(parts)}; the final measurements "
                    f"and ppca/* use {self.end:g}")
        ends = self.scheduled(last_step)
        never = " and is never learned (noise.then=learned)" if self.learned else ""
        where = "sigma2 stays at" if constant else "sigma2 ends at"
        not_end = "" if constant else f", not noise.end={self.end:g}"
        return (f"noise.steps={self.steps} is longer than the run ({last_step} steps): {where} "
                f"{ends:.4g}{not_end}{never}; ppca/* uses {ends:.4g}")


class KLAnnealing(ObservationNoise):
    """The usual KL warm-up: beta from ``start`` to 1 over ``warmup_steps``, sigma^2 from ``base``.

    With a fixed ``base``, by the equivalence in the module docstring, this is an annealing of the
    effective sigma^2 from start * sigma^2 up to sigma^2: the baseline the paper argues against.
    (With a learned or optimal base the equivalence is only approximate: the KL weight does not
    scale the -D/2 log sigma^2 term through which sigma^2 itself is fitted.)
    """

    def __init__(self, base: ObservationNoise, warmup_steps: int = 1000, start: float = 0.0) -> None:
        super().__init__()
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps={warmup_steps} must be >= 0")
        if not 0.0 <= start <= 1.0:
            raise ValueError(f"start={start} must be in [0, 1]")
        self.base = base
        self.lr_scale = base.lr_scale
        self.warmup_steps = warmup_steps
        self.start = float(start)
        self.learned = base.learned

    def sigma2(self, step: int = 0) -> torch.Tensor:
        return self.base.sigma2(step)

    def sigma2_for(self, squared_error: torch.Tensor, dim: int, step: int = 0) -> torch.Tensor:
        return self.base.sigma2_for(squared_error, dim, step)

    def sigma2_floor(self) -> float:
        return self.base.sigma2_floor()

    @property
    def fitted_to_reconstructions(self) -> bool:
        return self.base.fitted_to_reconstructions

    def fit_to(self, mean_squared_error: float, dim: int) -> None:
        self.base.fit_to(mean_squared_error, dim)

    def beta(self, step: int = 0) -> float:
        if self.warmup_steps == 0:
            return 1.0
        return anneal_value(self.start, 1.0, step / self.warmup_steps, "linear")

    def reference_sigma2(self, last_step: int | None = None) -> float | None:
        return self.base.reference_sigma2(last_step)

    def unfinished_schedule(self, last_step: int) -> str | None:
        # Training steps are 0 .. last_step - 1: beta = 1 is used only if last_step > warmup_steps.
        base = self.base.unfinished_schedule(last_step)
        if last_step > self.warmup_steps or self.start == 1.0:
            return base
        beta = (f"noise.warmup_steps={self.warmup_steps} is not shorter than the run ({last_step} steps): its "
                f"schedule ends at beta = {self.beta(last_step):.3g} (summary.json's train/beta; its last step trains "
                f"with {self.beta(last_step - 1):.3g}), so the run never trains the plain ELBO")
        return beta if base is None else f"{beta}; and {base}"  # the base's sigma2 schedule is cut off too

    def set_sigma2(self, value: float) -> None:
        self.base.set_sigma2(value)
