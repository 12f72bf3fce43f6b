"""A sweep job's folder and W&B names carry what varies between the sweep's jobs, nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.conf import HydraConf
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import OmegaConf

from vae_collapse.training.run_identity import run_identity
from vae_collapse.training.sweep_jobs import command_line_sweeps, current_job, folder_name


@pytest.fixture
def hydra_job(tmp_path):
    """Install a Hydra job config as Hydra does in a job, and take it away again."""

    def install(mode: RunMode, task: list[str], params: dict | None, command_line: list[str] | None,
                sweeper: str = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper", num: int = 3):
        sweep_dir = tmp_path / "2026-11-26_15-00-00"
        sweep_dir.mkdir(exist_ok=True)
        if command_line is not None:
            OmegaConf.save({"hydra": {"overrides": {"task": command_line}}}, sweep_dir / "multirun.yaml")
        hydra = {"mode": mode, "sweep": {"dir": str(sweep_dir)}, "sweeper": {"_target_": sweeper, "params": params},
                 "overrides": {"task": task}, "job": {"num": num, "override_dirname": ",".join(sorted(task))}}
        HydraConfig.instance().set_config(OmegaConf.create({"hydra": OmegaConf.merge(OmegaConf.structured(HydraConf), hydra)}))

    yield install
    HydraConfig.instance().cfg = None


CFG = OmegaConf.create({"name": "deep_mnist_fixed_sigma"})
JOB = ["experiment=deep_mnist_fixed_sigma", "dataset.subset=1000", "seed=0", "noise.sigma2=1.0", "logger=wandb"]
# What names a job of a sweep that varies nothing: the overrides that change the run (not logger=).
RUN_CHANGING = ",".join(sorted(o for o in JOB if not o.startswith("logger")))


def _names() -> tuple[str | None, str]:
    """(the job's folder, its W&B name)"""
    return current_job(), run_identity(CFG, Path("unused"))[1]


def test_a_sweep_job_is_named_by_the_preset_and_command_line_sweeps_only(hydra_job):
    hydra_job(RunMode.MULTIRUN, JOB, {"noise.sigma2": "0.1,1.0", "seed": "0,1"}, ["experiment=deep_mnist_fixed_sigma",
                                                                               "dataset.subset=1000", "logger=wandb"])
    assert run_identity(CFG, Path("unused")) == ("deep_mnist_fixed_sigma-2026-11-26_15-00-00", "noise.sigma2=1.0,seed=0")
    assert current_job() == "noise.sigma2=1.0,seed=0"  # keys sorted, whatever the command line's order
    hydra_job(RunMode.MULTIRUN, JOB, None, ["experiment=deep_mnist_fixed_sigma", "dataset.subset=1000",
                                           "seed=range(2)", "noise.sigma2=0.1,1.0", "logger=wandb"])
    assert _names() == ("noise.sigma2=1.0,seed=0", "noise.sigma2=1.0,seed=0")


def test_the_folder_does_not_depend_on_the_jobs_place_in_the_sweep(hydra_job):
    """A value added to a sweep renumbers the jobs after it; their folders stay where they were."""
    hydra_job(RunMode.MULTIRUN, JOB, None, ["noise.sigma2=0.1,1.0", "seed=0"], num=1)
    first = current_job()
    hydra_job(RunMode.MULTIRUN, JOB, None, ["noise.sigma2=0.1,0.5,1.0", "seed=0"], num=2)
    assert current_job() == first == "noise.sigma2=1.0"


def test_a_sweep_that_varies_nothing_names_its_job_by_the_overrides_that_change_the_run(hydra_job):
    hydra_job(RunMode.MULTIRUN, JOB, None, ["seed=0"])  # -m with single values only
    assert _names() == (RUN_CHANGING,) * 2
    hydra_job(RunMode.MULTIRUN, [*JOB, "paths.data_dir=/d", "trainer.enable_progress_bar=false", "++checkpoint.x=1"],
              None, ["seed=0"])
    assert _names() == (RUN_CHANGING,) * 2
    hydra_job(RunMode.MULTIRUN, [], None, [])
    assert _names() == ("3", "3")


def test_without_a_readable_sweep_record_the_name_falls_back_to_all_overrides(hydra_job):
    hydra_job(RunMode.MULTIRUN, JOB, None, None)
    assert _names() == (RUN_CHANGING,) * 2


def test_a_single_run_is_named_by_its_folder(hydra_job, tmp_path):
    hydra_job(RunMode.RUN, JOB, None, None)
    assert run_identity(CFG, tmp_path / "2026-11-26_15-00-00") == ("deep_mnist_fixed_sigma", "2026-11-26_15-00-00")
    assert current_job() is None


def test_outside_hydra_the_run_folder_names_the_run(tmp_path):
    assert run_identity(CFG, tmp_path / "here") == ("deep_mnist_fixed_sigma", "here")
    assert current_job() is None


def test_bad_sweep_records_give_no_sweep_keys(tmp_path):
    (tmp_path / "broken.yaml").write_text("hydra: [unclosed\n")
    assert command_line_sweeps(tmp_path / "broken.yaml") == set()
    assert command_line_sweeps(tmp_path / "missing.yaml") == set()


def test_added_keys_count_as_swept_whichever_side_has_the_plus_and_name_the_key_without_it(hydra_job):
    task = ["seed=0", "+model.extra=2", "dataset.subset=1000"]
    hydra_job(RunMode.MULTIRUN, task, {"+model.extra": "1,2", "seed": "0,1"}, ["dataset.subset=1000"])
    assert _names() == ("model.extra=2,seed=0",) * 2
    hydra_job(RunMode.MULTIRUN, task, None, ["+model.extra=1,2", "seed=0,1", "dataset.subset=1000"])
    assert _names() == ("model.extra=2,seed=0",) * 2
    task = ["seed=0", "++model.extra=2", "dataset.subset=1000"]
    hydra_job(RunMode.MULTIRUN, task, None, ["++model.extra=1,2", "seed=0,1", "dataset.subset=1000"])
    assert _names() == ("model.extra=2,seed=0",) * 2


def test_values_that_are_paths_or_long_stay_one_folder(hydra_job):
    hydra_job(RunMode.MULTIRUN, ["dataset.root=/data/celeba", "seed=0"], None, ["dataset.root=/data/celeba,/b", "seed=0"])
    assert current_job() == "dataset.root=-data-celeba"
    values = [f"+model.k{i}={'x' * 30}" for i in range(10)]
    hydra_job(RunMode.MULTIRUN, values, None, [v + ",y" for v in values])
    name = current_job()
    assert len(name.encode()) <= 200 and name.startswith("model.k0=xxx")
    other = [v.replace("k9=", "k9=z") for v in values]
    hydra_job(RunMode.MULTIRUN, other, None, [v + ",y" for v in other])
    assert current_job() != name  # two labels alike in their first 190 characters stay apart


def test_another_sweeper_numbers_its_jobs_and_names_runs_by_every_override(hydra_job):
    """Optuna writes no multirun.yaml: one left by an earlier sweep in the folder must not be read."""
    hydra_job(RunMode.MULTIRUN, JOB, {"noise.sigma2": "interval(0.1, 2)"}, ["dataset.subset=5"],
              sweeper="hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper")
    assert _names() == ("3", "3-" + ",".join(sorted(JOB)))


def test_the_resolver_names_the_folder_hydra_makes(hydra_job):
    from vae_collapse.training.sweep_jobs import register_resolver

    register_resolver()
    hydra_job(RunMode.MULTIRUN, JOB, None, ["noise.sigma2=0.1,1.0", "seed=0,1"])
    cfg = OmegaConf.merge(HydraConfig.get() and {"hydra": HydraConfig.get()}, {"subdir": "${sweep_job:}"})
    assert cfg.subdir == "noise.sigma2=1.0,seed=0"
