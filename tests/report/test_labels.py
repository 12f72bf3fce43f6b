"""What tells settings apart where the report names them: Table 1's experiment column, and the
legends and axes of Figures 3 and 4."""

from __future__ import annotations

import os

import pytest

from vae_collapse.report import aggregate, fig_collapse, table1
from vae_collapse.report.aggregate import group_runs, set_aside_repeats
from vae_collapse.report.runs import load_runs

from . import fakes


def _groups(root):
    return group_runs(run for run in load_runs([root]) if run.usable)


def test_table1_names_the_key_that_tells_alike_rows_apart_and_no_other(tmp_path):
    # One experiment: an annealed sigma^2 in two schedule shapes, an optimal one, and a fixed one
    # with a longer budget. Only the shapes read alike in the other columns.
    settings = [("linear", fakes.noise_anneal("linear"), 100), ("cosine", fakes.noise_anneal("cosine"), 100),
                ("optimal", fakes.noise_optimal(), 100), ("fixed", fakes.noise_fixed(0.1), 200)]
    for job, noise, steps in settings:
        d = tmp_path / job
        fakes.make_run(d, fakes.config("deep", 0, d, noise, steps=steps), fakes.deep_metrics(10.0, 2))
    rows = [row.cells() for row in table1.rows(_groups(tmp_path))]
    annealed = [cells for cells in rows if cells[3].startswith("σ² annealed")]
    assert len(annealed) == 2 and annealed[0][1:4] == annealed[1][1:4]  # data, model and policy alike
    assert sorted(cells[0] for cells in rows) == ["deep", "deep", "deep [noise.shape=cosine]", "deep [noise.shape=linear]"]


@pytest.fixture
def drawn(monkeypatch):
    """Per figure stem of fig_collapse, per axes: its legend labels and labelled x ticks, read before
    saving (which clears the figure)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    seen = {}
    save = fig_collapse.save

    def record(fig, out_dir, stem):
        FigureCanvasAgg(fig).draw()
        seen[stem] = [{"legend": ax.get_legend_handles_labels()[1], "xticks": _labelled_xticks(ax)} for ax in fig.axes]
        return save(fig, out_dir, stem)

    monkeypatch.setattr(fig_collapse, "save", record)
    return seen


def _labelled_xticks(ax) -> list[str]:
    lo, hi = ax.get_xlim()
    return [label.get_text() for label, x in zip(ax.get_xticklabels(), ax.get_xticks())
            if label.get_text() and lo <= x <= hi]


def test_figure3_legend_counts_the_seeds_once(tmp_path, drawn):
    fakes.make_tree(tmp_path)
    (figure,) = fig_collapse.collapse_figures(_groups(tmp_path / "learned"), tmp_path / "out")
    labels = [label for label in drawn[figure.id][0]["legend"] if label.startswith("learned")]
    assert labels == ["learned σ², init 0.01 → σ² = 0.06 ± 0.014 (n=2)", "learned σ², init 1 → σ² = 0.4 ± 0.14 (n=2)"]


def test_figure4_labels_the_sigma2_axis_of_a_learned_sweep(tmp_path, drawn):
    # Final sigma^2 0.06 and 0.4: the axis spans 0.02 to 1.2, a single power of ten inside it.
    fakes.make_tree(tmp_path)
    (figure,) = fig_collapse.sigma2_figures(_groups(tmp_path / "learned"), tmp_path / "out")
    for axes in drawn[figure.id]:
        assert len(axes["xticks"]) >= 3, axes["xticks"]
        assert {"0.06", "0.4"} <= set(axes["xticks"])  # the sweep's own values, where the squares are


def test_the_newest_repeat_is_judged_by_the_summary_file(tmp_path, monkeypatch):
    """aggregate reads the runs' SUMMARY_FILE (vae_collapse.reporting.summary), not a copy of its name."""
    monkeypatch.setattr(aggregate, "SUMMARY_FILE", "renamed.json")
    for name, when in (("old", 1_000_000), ("new", 2_000_000)):
        d = tmp_path / name
        fakes.make_run(d, fakes.config("x", 0, d, fakes.noise_fixed(0.5)), fakes.deep_metrics(1.0, 2))
        (d / "renamed.json").write_text("{}")
        os.utime(d / "renamed.json", (when, when))
        os.utime(d / "summary.json", (3_000_000 - when, 3_000_000 - when))  # the other way round
    runs = {run.run_dir.name: run for run in set_aside_repeats(load_runs([tmp_path]))}
    assert (runs["new"].status, runs["old"].status) == ("completed", "repeat")


def test_panel_titles_wrap_to_the_panel_and_keep_their_own_line_breaks():
    from vae_collapse.report.plotting import wrapped

    label = "linear_mnist_1k [" + ", ".join(f"key{i}.name=value{i}" for i in range(8)) + "]"
    lines = wrapped(f"{label}\nlearned σ², init 1", 6.2, fontsize=10).split("\n")
    assert len(lines) > 2 and lines[-1] == "learned σ², init 1"
    assert max(len(line) for line in lines) <= int(6.2 * 10 * 12 / 10)


def test_titles_do_not_break_inside_a_short_parenthesis():
    from vae_collapse.report.plotting import wrapped

    title = "KL annealing over training (fixed σ² = 0.1): mnist (10000 train), MLPVAE k=32 (1024-512 relu), 3000 steps"
    for inches in (4, 5, 6, 7, 8):
        lines = wrapped(title, inches).split("\n")
        assert " ".join(lines) == title and "\u00a0" not in "".join(lines)
        for line in lines:
            assert line.count("(") == line.count(")"), (inches, lines)
