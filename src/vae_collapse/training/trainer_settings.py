"""Trainer settings that Lightning accepts but a run cannot use, refused in one line before it starts.

Lightning takes them when the Trainer is built; what goes wrong shows only later: a NaN at the
first step, no Cholesky factorisation in the final measurements, or metrics silently not logged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vae_collapse.config import ConfigError
from vae_collapse.models.linear_vae import LinearVAE


def _int_at_least(low: int) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, int) and not isinstance(value, bool) and value >= low


# key: (accepts the value, what it must be). None is Lightning's default wherever it is allowed.
_RANGES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "log_every_n_steps": (_int_at_least(1), "an integer >= 1 (metrics are logged every that many steps)"),
    "num_sanity_val_steps": (_int_at_least(-1), "an integer >= 0, or -1 for the whole validation split"),
    "check_val_every_n_epoch": (lambda v: v is None or _int_at_least(1)(v), "an integer >= 1, or null"),
    "accumulate_grad_batches": (_int_at_least(1), "an integer >= 1"),
    "gradient_clip_val": (lambda v: v is None or (isinstance(v, (int, float)) and v >= 0), "a number >= 0, or null"),
}


def check_trainer_settings(trainer: Any, model: Any, optimizer_target: str | None) -> None:
    """One line for a ``trainer.*`` value out of range, or a precision this model or optimiser cannot use."""
    for key, (accepts, requirement) in _RANGES.items():
        if key in trainer and not accepts(trainer[key]):
            raise ConfigError(f"trainer.{key}={trainer[key]}: must be {requirement}")
    precision = str(trainer.get("precision"))
    if precision == "16-true" and "Adam" in (optimizer_target or ""):
        raise ConfigError(f"trainer.precision={precision} holds the weights in float16, where Adam's eps (1e-8) "
                          "rounds to 0: the first step gives NaN; use 16-mixed or bf16-mixed (or bf16-true for the "
                          "deep models)")
    if precision in ("16-true", "bf16-true") and isinstance(model, LinearVAE):
        raise ConfigError(f"trainer.precision={precision}: the linear models' exact log p(x) and closed forms need "
                          "a Cholesky factorisation, which torch lacks in 16-bit floats; use bf16-mixed, 16-mixed, "
                          "32-true or 64-true")
