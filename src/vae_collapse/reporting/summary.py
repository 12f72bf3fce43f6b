"""summary.json: the final value of every metric under its logged name, the status and the config."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any
from vae_collapse.reporting.atomic import atomic_open

SUMMARY_FILE = "summary.json"
# Left by a sweep job that bad input stopped before it started: its one-line error. Re-running
# cannot finish such a job, so sweep summaries and reports tell it apart from an unfinished one.
REJECTED_FILE = "rejected.txt"
# Left by a run that a bug stopped: the traceback its one-line console message points to.
TRACEBACK_FILE = "traceback.txt"
# Written by a run with eval.track_every_n_steps (training.collapse_tracker): collapse along the way.
TRAJECTORY_FILE = "collapse_trajectory.csv"
# What Hydra writes into a run folder before the run itself starts.
HYDRA_ONLY = frozenset({".hydra", "cli.log"})


def jsonable(value: Any) -> Any:
    """Plain JSON values: tensors and numpy scalars as numbers, paths as strings, and NaN or Inf
    (JSON has neither) as the strings "nan" and "inf", visible rather than silently null."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, os.PathLike):
        return str(value)
    return value


def write_json_atomic(path: Path, payload: dict) -> None:
    """Write to a temporary file in the same folder, then rename: a crash never leaves half a file."""
    with atomic_open(path) as handle:
        json.dump(jsonable(payload), handle, indent=2, sort_keys=False, allow_nan=False)
        handle.write("\n")


def write_summary(
    directory: Path, status: str, metrics: dict[str, Any], config: dict, reason: str | None = None, **extra: Any
) -> Path:
    payload = {
        "status": status,
        "reason": reason,
        "metrics": dict(sorted(metrics.items())),
        **extra,
        "config": config,
    }
    path = directory / SUMMARY_FILE
    write_json_atomic(path, payload)
    return path
