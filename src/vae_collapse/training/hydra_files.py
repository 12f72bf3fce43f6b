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

from vae_collapse.config import ConfigError
from vae_collapse.reporting.atomic import atomic_open
from vae_collapse.reporting.summary import REJECTED_FILE, SUMMARY_FILE
from vae_collapse.training.checkpoints import CHECKPOINT_DIR, LAST

HYDRA_DIR = ".hydra"


def holds_a_run(run_dir: Path) -> bool:
    """Whether the folder has a run's records: its summary, its checkpoint, or (a run killed before
    either) its config; not the config of an attempt that bad input stopped (rejected.txt)."""
    if (run_dir / SUMMARY_FILE).is_file() or (run_dir / CHECKPOINT_DIR / LAST).is_file():
        return True
    return (run_dir / HYDRA_DIR / "config.yaml").is_file() and not (run_dir / REJECTED_FILE).is_file()


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
        path = run_dir / HYDRA_DIR / name
        try:
            with atomic_open(path) as handle:
                handle.write(OmegaConf.to_yaml(content))
        except OSError as exc:  # a full disk, or a .hydra that is not a writable folder
            raise ConfigError(f"cannot write {path} ({exc.strerror or exc}); give a writable folder with "
                              "hydra.run.dir=... or hydra.sweep.dir=...") from None
