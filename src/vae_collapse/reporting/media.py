"""Logging the PNGs, tables and plots of a run to W&B, when a W&B logger is active.

Every function takes the trainer's logger list and is a no-op (returning False) without a
WandbLogger, so callers do not have to branch on the logging set-up. Neither lightning nor
wandb is imported at module level: wandb is only loaded once a WandbLogger is present.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

# The x axis Lightning's WandbLogger declares for every metric; media logged with a step
# must use it too, or the W&B UI cannot line them up with the scalar curves.
STEP_KEY = "trainer/global_step"


def _as_list(loggers: Any) -> list:
    if loggers is None:
        return []
    if isinstance(loggers, Iterable):
        return list(loggers)
    return [loggers]


def wandb_run(loggers: Any) -> Any | None:
    """The active wandb Run of the first WandbLogger in ``loggers`` (a list or one logger), else None.

    None also on non-zero ranks of a distributed run, where Lightning hands out a dummy
    experiment, so media are logged once.
    """
    candidates = _as_list(loggers)
    if not candidates:
        return None
    from lightning.pytorch.loggers import WandbLogger

    logger = next((lg for lg in candidates if isinstance(lg, WandbLogger)), None)
    if logger is None:
        return None
    import wandb

    experiment = logger.experiment
    return experiment if isinstance(experiment, wandb.Run) else None


def _payload_step(payload: dict[str, Any], step: int | None) -> dict[str, Any]:
    # Passing step= to run.log would fight Lightning's own step bookkeeping (W&B drops data
    # logged at a step lower than the last one); the step metric is what Lightning uses.
    if step is not None:
        payload[STEP_KEY] = int(step)
    return payload


def log_media(
    loggers: Any,
    images: Mapping[str, Path | str] | None = None,
    tables: Mapping[str, tuple[list[str], list[list]]] | None = None,
    step: int | None = None,
    plots: Mapping[str, tuple[str, str, str]] | None = None,
) -> bool:
    """Log PNGs, tables and native line plots to the active W&B run; False if there is none.

    ``images``: {key: png_path}; ``tables``: {key: (columns, rows)}; ``plots``:
    {key: (table_key, x_column, y_column)} where ``table_key`` names an entry of ``tables``.
    Everything goes out in one ``run.log`` call so the items share a step.
    """
    images = dict(images or {})
    tables = dict(tables or {})
    plots = dict(plots or {})
    # Checked before touching W&B, so a typo fails the same way with or without a logger.
    for key, spec in plots.items():
        table_key, x, y = spec
        if table_key not in tables:
            raise KeyError(f"plot {key!r} refers to table {table_key!r}, which is not among {sorted(tables)}")
        columns = list(tables[table_key][0])
        missing = [c for c in (x, y) if c not in columns]
        if missing:
            raise KeyError(f"plot {key!r}: columns {missing} are not in table {table_key!r} {columns}")

    run = wandb_run(loggers)
    if run is None:
        return False
    for key, image_path in images.items():
        if not Path(image_path).is_file():
            raise FileNotFoundError(f"image {key!r}: {image_path} does not exist")
    import wandb

    payload: dict[str, Any] = {key: wandb.Image(str(image_path)) for key, image_path in images.items()}
    built = {
        key: wandb.Table(columns=list(columns), data=[list(row) for row in rows]) for key, (columns, rows) in tables.items()
    }
    payload.update(built)
    for key, (table_key, x, y) in plots.items():
        payload[key] = wandb.plot.line(built[table_key], x, y, title=key)
    if payload:
        run.log(_payload_step(payload, step))
    return True


def log_histogram(loggers: Any, key: str, values: torch.Tensor, step: int | None = None) -> bool:
    """Log ``values`` (e.g. the mean KL of each latent dimension) as a W&B histogram.

    Non-finite entries are left out (numpy cannot bin them); False if there is no W&B run
    or nothing finite to log.
    """
    run = wandb_run(loggers)
    if run is None:
        return False
    import numpy as np
    import wandb

    if hasattr(values, "detach"):
        values = values.detach().cpu().double().numpy()
    array = np.asarray(values, dtype=np.float64).ravel()
    array = array[np.isfinite(array)]
    if array.size == 0:
        return False
    run.log(_payload_step({key: wandb.Histogram(array.tolist())}, step))
    return True
