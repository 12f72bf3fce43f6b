"""The ``vae-collapse`` console script: the Hydra app.

Known user errors (a bad config value, a missing data file) end the run with one line on
stderr and exit status 1, never a traceback wall.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from vae_collapse.config import ConfigError


def _config_dir() -> str:
    """conf/ of this checkout (editable install), or VAE_COLLAPSE_CONF."""
    if os.environ.get("VAE_COLLAPSE_CONF"):
        return str(Path(os.environ["VAE_COLLAPSE_CONF"]).resolve())
    return str(Path(__file__).resolve().parents[2] / "conf")


def _user_errors() -> tuple[type[Exception], ...]:
    from vae_collapse.data import DataError

    return (ConfigError, DataError)


@hydra.main(version_base="1.3", config_path=_config_dir(), config_name="config")
def _app(cfg: DictConfig) -> float | None:
    from vae_collapse.training.run import run_experiment

    try:
        metrics = run_experiment(cfg)
    except _user_errors() as exc:
        print(f"vae-collapse: error: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    # Returned to Hydra so that sweepers (e.g. Optuna) can maximise it.
    return metrics.get("val/elbo", metrics.get("train/elbo"))


def _one_line(exc: BaseException) -> str:
    """Hydra's composition errors span several lines; keep the facts, drop the search path."""
    parts: list[str] = []
    options: list[str] = []
    for line in str(exc).splitlines():
        if line.startswith("Config search path") or line.startswith("Set the environment variable"):
            break
        if line.startswith("\t"):
            options.append(line.strip())
        elif line.strip():
            parts.append(line.strip().rstrip(":").rstrip("."))
    message = "; ".join(parts)
    if options:
        message += ": " + ", ".join(options)
    return message or type(exc).__name__


def main() -> None:
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    # Let composition errors reach us instead of Hydra's multi-line report.
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")
    try:
        _app()
    except (HydraException, OmegaConfBaseException) as exc:
        print(f"vae-collapse: error: {_one_line(exc)}", file=sys.stderr, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
