"""A later ``vae-collapse-eval`` fills in what a run's summary.json lacks, and nothing else."""

from __future__ import annotations

import json

import pytest

from vae_collapse.report import build_report
from vae_collapse.report.runs import EVAL_FILE, load_run

from . import fakes


def _run(tmp_path, seed=0, steps=100):
    run_dir = tmp_path / "sweep" / str(seed)
    metrics = {**fakes.deep_metrics(elbo=-10.0, active=2, sigma2=0.5), "time/steps": steps}
    return fakes.make_run(run_dir, fakes.config("deep", seed, run_dir, fakes.noise_fixed(0.5)), metrics)


def _evaluate(run_dir, metrics, step=100, overrides=(), settings=None):
    (run_dir / EVAL_FILE).parent.mkdir(parents=True, exist_ok=True)
    (run_dir / EVAL_FILE).write_text(json.dumps({"checkpoint": str(run_dir / "checkpoints" / "last.ckpt"),
                                                 "global_step": step, "overrides": list(overrides),
                                                 "eval": settings or {}, "metrics": metrics}))


def test_metrics_the_summary_lacks_come_from_eval_json_and_its_own_are_kept(tmp_path):
    run_dir = _run(tmp_path)
    _evaluate(run_dir, {"ppca/residual_dims": 3, "collapse/active_dims": 99, "train/elbo": 0.0},
              overrides=["eval.iwae_samples=0"])
    run = load_run(run_dir)
    assert run.metrics["ppca/residual_dims"] == 3
    assert run.metrics["collapse/active_dims"] == 2 and run.metrics["train/elbo"] == -10.0
    assert run.from_eval == ["ppca/residual_dims"] and run.eval_overrides == ["eval.iwae_samples=0"]


@pytest.mark.parametrize("content", ["{not json", json.dumps([1, 2]), json.dumps({"metrics": "none"})])
def test_an_unreadable_eval_json_is_ignored(tmp_path, content):
    run_dir = _run(tmp_path)
    (run_dir / EVAL_FILE).parent.mkdir(parents=True)
    (run_dir / EVAL_FILE).write_text(content)
    run = load_run(run_dir)
    assert run.usable and "ppca/residual_dims" not in run.metrics and run.from_eval == []


def test_an_eval_of_an_earlier_checkpoint_is_stale_and_ignored(tmp_path):
    run_dir = _run(tmp_path, steps=200)  # resumed and trained on after the eval at step 100
    _evaluate(run_dir, {"ppca/residual_dims": 3}, step=100)
    run = load_run(run_dir)
    assert "ppca/residual_dims" not in run.metrics and run.from_eval == []


def test_the_report_shows_the_evaluated_numbers_and_says_where_they_came_from(tmp_path):
    for seed, residual in ((0, 1), (1, 3)):
        _evaluate(_run(tmp_path, seed), {"ppca/residual_dims": residual}, overrides=["eval.iwae_samples=0"])
    report = build_report([tmp_path / "sweep"], tmp_path / "out")
    assert report.groups[0].stat("ppca/residual_dims").mean == pytest.approx(2.0)
    text = report.markdown_path.read_text()
    assert "n/a: not in these runs' summary.json" not in text
    assert ("From a later `vae-collapse-eval` (`<run folder>/eval/eval.json`, measured with "
            "`eval.iwae_samples=0`), not in the run's summary.json: `ppca/residual_dims` of 2 runs.") in text


def test_table1_names_k_of_an_iwae_bound_measured_later(tmp_path):
    """The run trained with eval.iwae_samples=0; the bound, and its K, are the later measurement's."""
    run_dir = _run(tmp_path)
    summary = json.loads((run_dir / "summary.json").read_text())
    del summary["metrics"]["test/log_px_iwae"]
    (run_dir / "summary.json").write_text(json.dumps(summary))
    _evaluate(run_dir, {"test/log_px_iwae": -9.5, "test/iwae_examples": 500},
              overrides=["eval.iwae_samples=1000"], settings={"iwae_samples": 1000, "eps": 0.01})
    (row,) = build_report([tmp_path / "sweep"], tmp_path / "out").table
    assert row.as_dict()["budget"] == "100 steps; IWAE K=1,000 on 500 test images"
    assert row.test_iwae.mean == pytest.approx(-9.5)


def test_table1_names_the_eps_of_a_collapsed_fraction_measured_later(tmp_path):
    run_dir = _run(tmp_path)  # trained with eval.eps=0.01
    summary = json.loads((run_dir / "summary.json").read_text())
    del summary["metrics"]["collapse/collapsed_fraction"]
    (run_dir / "summary.json").write_text(json.dumps(summary))
    _evaluate(run_dir, {"collapse/collapsed_fraction": 1.0}, overrides=["eval.eps=50"], settings={"eps": 50})
    (row,) = build_report([tmp_path / "sweep"], tmp_path / "out").table
    assert row.cells()[6] == "1.00 (eps=50)" and row.as_dict()["eval.eps"] == 50


def test_an_older_eval_json_without_its_settings_gives_the_eps_of_its_overrides(tmp_path):
    run_dir = _run(tmp_path)
    summary = json.loads((run_dir / "summary.json").read_text())
    del summary["metrics"]["collapse/collapsed_fraction"]
    (run_dir / "summary.json").write_text(json.dumps(summary))
    _evaluate(run_dir, {"collapse/collapsed_fraction": 1.0}, overrides=["eval.eps=50"])  # no "eval" settings
    (row,) = build_report([tmp_path / "sweep"], tmp_path / "out").table
    assert row.eps == [50.0]
