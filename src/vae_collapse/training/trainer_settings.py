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


def _or_null(accepts: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or accepts(value)


# key: (accepts the value, what it must be). null, where Lightning takes it, is Lightning's default.
_RANGES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "log_every_n_steps": (_or_null(_int_at_least(1)), "an integer >= 1 (metrics are logged every that many steps)"),
    "num_sanity_val_steps": (_or_null(_int_at_least(-1)), "an integer >= 0, or -1 for the whole validation split"),
    "check_val_every_n_epoch": (_or_null(_int_at_least(1)), "an integer >= 1, or null"),
    "gradient_clip_val": (_or_null(lambda v: isinstance(v, (int, float)) and v >= 0), "a number >= 0, or null"),
    # The step-based schedules, the tracker and the checkpoints count one batch per optimiser step.
    "accumulate_grad_batches": (lambda v: v == 1 and not isinstance(v, bool),
                                "1 (one batch per step here; for larger steps raise dataset.batch_size)"),
}


def _shown(value: Any) -> str:
    return "null" if value is None else str(value)


def check_trainer_settings(trainer: Any, model: Any, optimizer_target: str | None, gradient_steps: bool = True) -> None:
    """One line for a ``trainer.*`` value out of range, or one this model or optimiser cannot use.

    ``gradient_steps``: False for a closed-form optimiser (optimizer=em), which steps by itself.
    """
    for key, (accepts, requirement) in _RANGES.items():
        if key in trainer and not accepts(trainer[key]):
            raise ConfigError(f"trainer.{key}={_shown(trainer[key])}: must be {requirement}")
    if not gradient_steps and trainer.get("gradient_clip_val") is not None:
        raise ConfigError(f"trainer.gradient_clip_val={trainer.gradient_clip_val}: the closed-form optimiser "
                          "(optimizer=em) takes no gradient steps to clip; drop it")
    precision = str(trainer.get("precision"))
    if precision == "16-true" and "Adam" in (optimizer_target or ""):
        raise ConfigError(f"trainer.precision={precision} holds the weights in float16, where Adam's eps (1e-8) "
                          "rounds to 0: the first step gives NaN; use 16-mixed or bf16-mixed (or bf16-true for the "
                          "deep models)")
    if precision in ("16-true", "bf16-true") and isinstance(model, LinearVAE):
        raise ConfigError(f"trainer.precision={precision}: the linear models' exact log p(x) and closed forms need "
                          "a Cholesky factorisation, which torch lacks in 16-bit floats; use bf16-mixed, 16-mixed, "
                          "32-true or 64-true")
