"""Shared fixtures: composing the real conf/ and running the console script like a user."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

# Under pytest-xdist (`make test` runs a worker per core) each worker, and each console script it
# starts, computes on one thread: two workers with a thread per core each would fight over the
# cores and run several times slower than one worker alone.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    if "torch" in sys.modules:  # a plugin loaded it before the variables above could count
        sys.modules["torch"].set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = ROOT / "conf"
SCRIPT = Path(sys.executable).parent / "vae-collapse"


@pytest.fixture
def compose_config(tmp_path):
    """compose_config(*overrides) -> the composed DictConfig, with outputs in tmp_path."""

    def _compose(*overrides: str):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose(
                config_name="config",
                overrides=[f"paths.output_dir={tmp_path / 'run'}", f"paths.data_dir={tmp_path / 'data'}", *overrides],
            )

    yield _compose
    GlobalHydra.instance().clear()


@pytest.fixture
def run_cli(tmp_path):
    """run_cli(*args) runs the console script in tmp_path, offline, and returns the CompletedProcess."""

    def _run(*args: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
        full_env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", **(env or {})}
        full_env.setdefault("VAE_COLLAPSE_DATA", str(tmp_path / "data"))
        return subprocess.run(
            [str(SCRIPT), *args],
            cwd=tmp_path,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    return _run
