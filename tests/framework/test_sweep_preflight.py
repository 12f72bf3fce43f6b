"""A sweep checks every job's values before the first one starts (vae_collapse.training.sweep_preflight)."""

from __future__ import annotations

from pathlib import Path

from tests.framework.bad_input_table import QUICK
from vae_collapse.reporting.summary import REJECTED_FILE
from vae_collapse.training.sweep_preflight import describe, job_label


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr[-3000:]
    return lines[0]


def test_a_bad_value_in_the_last_job_refuses_the_sweep_before_the_first_job_trains(run_cli, tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli("-m", *QUICK, "noise=fixed", "noise.sigma2=0.5,-1", f"hydra.sweep.dir={sweep}")
    assert result.returncode == 1
    line = _one_line(result.stderr)
    assert line == ("vae-collapse: error: 1 of the sweep's 2 jobs would be refused, so none was started: "
                    "noise.sigma2=-1 must be > 0 and finite (job noise.sigma2=-1); fix the overrides and run the "
                    "sweep again (to leave each job to check itself, add '~hydra.callbacks.sweep_preflight')"), line
    assert "Launching" not in result.stdout + result.stderr
    assert not sweep.exists()  # not even Hydra's multirun.yaml


def test_a_refused_sweep_leaves_the_sweep_already_in_its_folder_as_it_was(run_cli, tmp_path):
    sweep = tmp_path / "sweep"
    assert run_cli("-m", *QUICK, "noise=fixed", "noise.sigma2=0.2,0.5", f"hydra.sweep.dir={sweep}").returncode == 0
    before = {p: p.read_bytes() for p in sorted(sweep.rglob("*")) if p.is_file()}
    refused = run_cli("-m", *QUICK, "noise=fixed", "noise.sigma2=0.5,0.7,abc", f"hydra.sweep.dir={sweep}")
    assert refused.returncode == 1
    assert "noise.sigma2='abc': expected float (job noise.sigma2=abc)" in _one_line(refused.stderr)
    after = {p: p.read_bytes() for p in sorted(sweep.rglob("*")) if p.is_file()}
    assert after == before
    assert not list(sweep.rglob(REJECTED_FILE))


def test_each_error_is_named_once_with_the_jobs_it_refuses(run_cli, tmp_path):
    result = run_cli("-m", *QUICK, "noise=fixed", "noise.sigma2=1.0,-1,abc", "seed=0,1,2",
                     f"hydra.sweep.dir={tmp_path / 'sweep'}")
    line = _one_line(result.stderr)
    assert line.startswith("vae-collapse: error: 6 of the sweep's 9 jobs would be refused"), line
    assert "noise.sigma2=-1 must be > 0 and finite (jobs [noise.sigma2=-1,seed=0], [noise.sigma2=-1,seed=1] and 1 more)" in line
    assert "noise.sigma2='abc': expected float (jobs [noise.sigma2=abc,seed=0], [noise.sigma2=abc,seed=1] and 1 more)" in line


def test_a_presets_own_sweep_is_checked_without_reading_its_data(run_cli, tmp_path):
    # deep_mnist_fixed_sigma sweeps 6 sigma2 x 3 seeds in its config; there is no MNIST in tmp_path.
    result = run_cli("-m", "experiment=deep_mnist_fixed_sigma", "optimizer.lr=-1", f"hydra.sweep.dir={tmp_path / 'sweep'}",
                     env={"VAE_COLLAPSE_DATA": str(tmp_path / "no-data")})
    line = _one_line(result.stderr)
    assert line.startswith("vae-collapse: error: 18 of the sweep's 18 jobs would be refused, so none was started: "
                           "optimizer.lr=-1"), line
    assert "[noise.sigma2=0.01,seed=0], [noise.sigma2=0.01,seed=1] and 16 more" in line
    assert not (tmp_path / "no-data").exists()


def test_a_refusal_that_needs_the_data_is_still_made_by_its_job(run_cli, tmp_path):
    # The EM optimiser needs the whole data set in one batch: known only once the data is read.
    sweep = tmp_path / "sweep"
    result = run_cli("-m", *QUICK, "optimizer=em", "dataset.batch_size=null,10", f"hydra.sweep.dir={sweep}")
    assert result.returncode == 1
    assert "2 jobs: 1 completed, 1 rejected; rejected by bad input: dataset.batch_size=10" in result.stderr.splitlines()[-1]
    assert (sweep / "dataset.batch_size=10" / REJECTED_FILE).is_file()


def test_the_line_stays_short_however_many_errors():
    refused = [(f"noise.sigma2={v}", f"error {v}") for v in range(5)]
    line = describe(40, refused)
    assert line.startswith("5 of the sweep's 40 jobs would be refused")
    assert "error 0 (job noise.sigma2=0); error 1" in line and "error 3" not in line
    assert line.endswith("and 2 more errors")


def test_a_job_is_named_as_its_folder_is():
    assert job_label(["seed=1", "+model.extra=2", "noise.sigma2=1.0", "logger=csv"], {"noise.sigma2", "seed", "model.extra"}) \
        == "model.extra=2,noise.sigma2=1.0,seed=1"


def test_jobs_are_checked_as_their_launcher_gives_them_their_config(run_cli, tmp_path):
    # ${hydra:job.num} is each job's number, and a ${...} on the command line is the job's to resolve.
    sweep = tmp_path / "sweep"
    result = run_cli("-m", *QUICK, "noise=fixed", "noise.sigma2=0.5,1", "seed=${hydra:job.num}", f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Warning" not in result.stderr and "warn" not in result.stderr, result.stderr[-2000:]
    refused = run_cli("-m", *QUICK, "noise=fixed", "noise.sigma2=0.5,-1", "seed=${hydra:job.num}", f"hydra.sweep.dir={sweep}2")
    assert "would be refused" in _one_line(refused.stderr)


def test_devices_are_left_to_the_machines_the_jobs_run_on(run_cli, tmp_path):
    # A sweep sent to Slurm's GPU nodes from a login node without a GPU: the check does not refuse it for that.
    result = run_cli("-m", *QUICK, "trainer=gpu", "hydra/launcher=submitit_slurm", "noise=fixed", "noise.sigma2=0.5,-1",
                     f"hydra.sweep.dir={tmp_path / 's'}")
    line = _one_line(result.stderr)
    assert "noise.sigma2=-1 must be > 0" in line and "gpu" not in line.lower(), line


def test_devices_are_checked_where_the_jobs_run_here(run_cli, tmp_path):
    # budget=gpu_mnist on a machine without a GPU started every job, each refused, each leaving a folder.
    import torch

    if torch.cuda.is_available():
        import pytest

        pytest.skip("this machine has the GPU the jobs ask for")
    for launcher in ([], ["hydra/launcher=joblib"]):
        sweep = tmp_path / f"g{len(launcher)}"
        result = run_cli("-m", *QUICK, "trainer=gpu", *launcher, "noise=fixed", "noise.sigma2=0.5,1", f"hydra.sweep.dir={sweep}")
        line = _one_line(result.stderr)
        assert result.returncode == 1 and line.startswith("vae-collapse: error: 2 of the sweep's 2 jobs would be refused, "
                                                          "so none was started: trainer.accelerator=gpu"), line
        assert not sweep.exists()


def test_which_launchers_run_their_jobs_here():
    from omegaconf import OmegaConf

    from vae_collapse.training.sweep_preflight import runs_here

    def launcher(target: str):
        return OmegaConf.create({"hydra": {"launcher": {"_target_": target}}})

    assert runs_here(launcher("hydra._internal.core_plugins.basic_launcher.BasicLauncher"))
    assert runs_here(launcher("hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"))
    ours = OmegaConf.load(Path(__file__).resolve().parents[2] / "conf/hydra/launcher/joblib.yaml")._target_
    assert runs_here(launcher(ours))  # hydra/launcher=joblib
    assert runs_here(launcher("hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher"))
    assert not runs_here(launcher("hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"))


def test_a_job_is_named_without_hydras_escapes():
    assert job_label([r"noise.sigma2=$\{oc.env\:X\}"], {"noise.sigma2"}) == "noise.sigma2=${oc.env:X}"


def test_a_refused_key_the_preset_sweeps_is_named_as_the_presets():
    # `-m experiment=deep_mnist_fixed_sigma noise=learned`: the user never typed noise.sigma2.
    from omegaconf import OmegaConf

    from vae_collapse.training.sweep_preflight import _preset_sweep_hint

    refused = [("noise.sigma2=0.01,seed=0", "noise.sigma2: unknown key for LearnedNoise; valid keys: init")]
    config = OmegaConf.create({"hydra": {"sweeper": {"params": {"noise.sigma2": "0.01,0.1", "seed": "0,1"}},
                                         "overrides": {"task": ["experiment=deep_mnist_fixed_sigma", "noise=learned"]}}})
    assert _preset_sweep_hint(config, refused).startswith(
        "; noise.sigma2 is swept by the preset's hydra.sweeper.params (0.01,0.1), which the command line can narrow")
    config.hydra.overrides.task.append("noise.sigma2=0.5,1")  # the user's own sweep: the user's own error
    assert _preset_sweep_hint(config, refused) == ""
