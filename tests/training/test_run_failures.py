"""A run that fails after its loggers exist still ends with summary.json and finished loggers."""

from __future__ import annotations

import json

import pytest

from vae_collapse.training import run as run_module


def test_a_failure_while_computing_the_reference_is_recorded_as_failed(compose_config, tmp_path, monkeypatch):
    cfg = compose_config("dataset=synthetic_ppca", "model.latent_dim=3", "logger=csv", "eval.artifacts=false",
                         "trainer.enable_progress_bar=false")
    finished = []
    monkeypatch.setattr(run_module, "finish_loggers", lambda loggers, status, reason: finished.append(status))

    def out_of_memory(*args, **kwargs):
        raise MemoryError("cannot allocate the covariance")

    monkeypatch.setattr(run_module, "run_reference", out_of_memory)
    with pytest.raises(MemoryError):
        run_module.run_experiment(cfg)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert (summary["status"], summary["reason"]) == ("failed", "MemoryError: cannot allocate the covariance")
    assert finished == ["failed"]
