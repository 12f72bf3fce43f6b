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


def main() -> None:
    _app()


if __name__ == "__main__":
    main()
