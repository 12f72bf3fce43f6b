"""The foundation's acceptance runs on real MNIST, through the console script.

Minutes each (the first about 5-9 on a quiet 2-core machine), so marked ``slow``:
`make test PYTEST_ARGS="-m slow"`. CI runs the default suite only.
"""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.network]


def _metrics(run_cli, run_dir, *overrides):
    result = run_cli("experiment=linear_mnist_1k", "logger=csv", "trainer.enable_progress_bar=false",
                     f"hydra.run.dir={run_dir}", *overrides, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed"
    return summary["metrics"]


def test_linear_mnist_1k_reaches_the_ppca_optimum(run_cli, tmp_path):
    m = _metrics(run_cli, tmp_path / "run")
    assert 0.0 <= m["ppca/log_px"] - m["train/elbo"] < 0.05
    assert m["train/sigma2"] == pytest.approx(m["ppca/sigma2"], rel=0.01)


def test_fixed_sigma2_collapse_matches_the_linear_prediction(run_cli, tmp_path):
    # sigma^2 fixed converges far sooner: 6,000 steps end within 0.001 nats of its optimum.
    m = _metrics(run_cli, tmp_path / "run", "noise=fixed", "noise.sigma2=1.0", "trainer.max_steps=6000")
    assert 0 < m["ppca/active_dims"] < 200
    assert m["collapse/active_dims"] == m["ppca/active_dims"]
