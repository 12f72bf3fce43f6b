"""W&B group and run names: a sweep's names carry what varies between its jobs, nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.conf import HydraConf
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import OmegaConf

from vae_collapse.training.run_identity import command_line_sweeps, run_identity


@pytest.fixture
def hydra_job(tmp_path):
    """Install a Hydra job config as Hydra does in a job, and take it away again."""

    def install(mode: RunMode, task: list[str], params: dict | None, command_line: list[str] | None,
                sweeper: str = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"):
        sweep_dir = tmp_path / "2026-11-26_15-00-00"
        sweep_dir.mkdir(exist_ok=True)
        if command_line is not None:
            OmegaConf.save({"hydra": {"overrides": {"task": command_line}}}, sweep_dir / "multirun.yaml")
        hydra = {"mode": mode, "sweep": {"dir": str(sweep_dir)}, "sweeper": {"_target_": sweeper, "params": params},
                 "overrides": {"task": task}, "job": {"num": 3, "override_dirname": ",".join(sorted(task))}}
        HydraConfig.instance().set_config(OmegaConf.create({"hydra": OmegaConf.merge(OmegaConf.structured(HydraConf), hydra)}))

    yield install
    HydraConfig.instance().cfg = None


CFG = OmegaConf.create({"name": "deep_mnist_fixed_sigma"})
JOB = ["experiment=deep_mnist_fixed_sigma", "dataset.subset=1000", "noise.sigma2=1.0", "seed=0", "logger=wandb"]


def test_a_sweep_job_is_named_by_the_preset_and_command_line_sweeps_only(hydra_job):
    hydra_job(RunMode.MULTIRUN, JOB, {"noise.sigma2": "0.1,1.0", "seed": "0,1"}, ["experiment=deep_mnist_fixed_sigma",
                                                                               "dataset.subset=1000", "logger=wandb"])
    assert run_identity(CFG, Path("unused")) == ("deep_mnist_fixed_sigma-2026-11-26_15-00-00", "3-noise.sigma2=1.0,seed=0")
    hydra_job(RunMode.MULTIRUN, JOB, None, ["experiment=deep_mnist_fixed_sigma", "dataset.subset=1000",
                                           "noise.sigma2=0.1,1.0", "seed=range(2)", "logger=wandb"])
    assert run_identity(CFG, Path("unused"))[1] == "3-noise.sigma2=1.0,seed=0"


def test_without_a_readable_sweep_record_the_name_falls_back_to_all_overrides(hydra_job):
    hydra_job(RunMode.MULTIRUN, JOB, None, None)
    assert run_identity(CFG, Path("unused"))[1] == "3-" + ",".join(sorted(JOB))


def test_a_single_run_is_named_by_its_folder(hydra_job, tmp_path):
    hydra_job(RunMode.RUN, JOB, None, None)
    assert run_identity(CFG, tmp_path / "2026-11-26_15-00-00") == ("deep_mnist_fixed_sigma", "2026-11-26_15-00-00")


def test_outside_hydra_the_run_folder_names_the_run(tmp_path):
    assert run_identity(CFG, tmp_path / "here") == ("deep_mnist_fixed_sigma", "here")


def test_bad_sweep_records_give_no_sweep_keys(tmp_path):
    (tmp_path / "broken.yaml").write_text("hydra: [unclosed\n")
    assert command_line_sweeps(tmp_path / "broken.yaml") == set()
    assert command_line_sweeps(tmp_path / "missing.yaml") == set()


def test_added_keys_count_as_swept_whichever_side_has_the_plus(hydra_job):
    task = ["+model.extra=2", "seed=0", "dataset.subset=1000"]
    hydra_job(RunMode.MULTIRUN, task, {"+model.extra": "1,2", "seed": "0,1"}, ["dataset.subset=1000"])
    assert run_identity(CFG, Path("unused"))[1] == "3-+model.extra=2,seed=0"
    hydra_job(RunMode.MULTIRUN, task, None, ["+model.extra=1,2", "seed=0,1", "dataset.subset=1000"])
    assert run_identity(CFG, Path("unused"))[1] == "3-+model.extra=2,seed=0"


def test_another_sweeper_names_runs_by_every_override(hydra_job):
    """Optuna writes no multirun.yaml: one left by an earlier sweep in the folder must not be read."""
    hydra_job(RunMode.MULTIRUN, JOB, {"noise.sigma2": "interval(0.1, 2)"}, ["dataset.subset=5"],
              sweeper="hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper")
    assert run_identity(CFG, Path("unused"))[1] == "3-" + ",".join(sorted(JOB))
