"""The run's copy of its config in ``<run dir>/.hydra/``, written by the run instead of by Hydra.

Hydra writes config.yaml, hydra.yaml and overrides.yaml into the output folder before the task
starts, so a command that is then refused (bad input, or a folder that holds another run) would
rewrite the files of the run already there. conf/hydra/default.yaml turns that off
(``hydra.output_subdir: null``), and the run writes the same three files itself: at once into a
folder that holds no run yet, and into one that does only once the run there is accepted
(resumed in place); a completed run that is skipped keeps its own.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from vae_collapse.reporting.atomic import atomic_open
from vae_collapse.reporting.summary import SUMMARY_FILE
from vae_collapse.training.checkpoints import CHECKPOINT_DIR, LAST

HYDRA_DIR = ".hydra"


def holds_a_run(run_dir: Path) -> bool:
    return (run_dir / SUMMARY_FILE).is_file() or (run_dir / CHECKPOINT_DIR / LAST).is_file()


def write_hydra_files(run_dir: Path, task_config: DictConfig) -> None:
    """Hydra's three files, with ``task_config`` as config.yaml (a resumed run's is its checkpoint's).

    Nothing outside a Hydra job (``run_experiment`` called from Python)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return
    full = HydraConfig.instance().cfg
    files = {
        "config.yaml": task_config,
        "hydra.yaml": OmegaConf.masked_copy(full, "hydra"),
        "overrides.yaml": full.hydra.overrides.task,
    }
    for name, content in files.items():
        with atomic_open(run_dir / HYDRA_DIR / name) as handle:
            handle.write(OmegaConf.to_yaml(content))
