"""Each benchmark in its smallest form: the code paths run and report; no timing is asserted."""

from __future__ import annotations

import json
import math

import pytest


def _measured(figure, key):
    assert figure.key == key
    assert not figure.note.startswith("failed"), figure.note
    for number in (figure.value, figure.baseline, figure.ratio):
        assert number is not None and math.isfinite(number) and number > 0
    json.dumps(figure.to_json(), default=str)  # what the runner writes


def test_fig1_framework_and_plain_loop_both_train(quick_settings):
    from benchmarks import fig1_linear_overhead

    figure = fig1_linear_overhead.run(quick_settings)
    _measured(figure, "fig1")
    assert figure.details["framework"]["n"] == 1


def test_fig2_fast_path_matches_per_example_values(quick_settings):
    from benchmarks import fig2_fast_path

    figure = fig2_fast_path.run(quick_settings)
    _measured(figure, "fig2")
    assert figure.met is True  # identical ELBO and gradients in float64
    assert figure.details["elbo_relative_difference"] < 1e-10


def test_fig3_reports_a_missing_preset_cleanly(quick_settings):
    from benchmarks import fig3_time_to_solution

    quick_settings.preset = "no_such_preset"
    figure = fig3_time_to_solution.run(quick_settings)
    assert figure.value is None and figure.met is None
    assert figure.note.startswith("preset missing") and "no_such_preset" in figure.note


def test_fig4_one_epoch_through_both_loops(quick_settings):
    from benchmarks import fig4_deep_overhead

    figure = fig4_deep_overhead.run(quick_settings)
    _measured(figure, "fig4")
    assert figure.details["steps_per_epoch"] == 5


def test_fig7_batched_iwae_agrees_with_exact_log_px(quick_settings):
    from benchmarks import fig7_iwae

    figure = fig7_iwae.run(quick_settings)
    _measured(figure, "fig7")
    # At the pPCA optimum the posterior is exact up to the diagonal: IWAE sits at log p(x).
    assert figure.details["linear_iwae"] == pytest.approx(figure.details["linear_exact_log_px"], abs=0.5)


def test_runner_prints_the_table_and_writes_json(quick_settings, tmp_path, capsys):
    from benchmarks.run import main

    out = tmp_path / "latest.json"
    assert main(["--quick", "--only", "fig3", "--preset", "no_such_preset", "--out", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert [f["key"] for f in payload["figures"]] == ["fig3"]
    assert len(payload["machine"]["loadavg_start"]) == 3
    printed = capsys.readouterr().out
    assert "fig3" in printed and "preset missing" in printed


def test_runner_rejects_an_unknown_figure(capsys):
    from benchmarks.run import main

    assert main(["--only", "fig9"]) == 2
    assert "unknown figure fig9" in capsys.readouterr().err


@pytest.mark.slow
def test_fig3_runs_a_preset_and_reads_its_summary(quick_settings):
    from benchmarks import fig3_time_to_solution

    quick_settings.preset = "linear_mnist_1k"
    figure = fig3_time_to_solution.run(quick_settings, ["dataset=synthetic_ppca", "~dataset.subset", "model.latent_dim=4",
                                                        "trainer.max_steps=30", "logger=csv", "eval.iwae_samples=0"])
    _measured(figure, "fig3")
    assert figure.details["steps"] == 30
    assert figure.details["ppca_gap_nats"] == pytest.approx(0.0, abs=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["startup", "fig5_sweep", "fig6_memory"])
def test_subprocess_benchmarks(quick_settings, name):
    import importlib

    figure = importlib.import_module(f"benchmarks.{name}").run(quick_settings)
    _measured(figure, figure.key)


def test_report_renders_the_json_as_markdown(quick_settings, tmp_path):
    from benchmarks.report import markdown
    from benchmarks.run import main

    out = tmp_path / "latest.json"
    main(["--quick", "--only", "fig3", "--preset", "no_such_preset", "--out", str(out)])
    text = markdown(json.loads(out.read_text()))
    assert text.splitlines()[0].startswith("| figure |") and "preset missing" in text
