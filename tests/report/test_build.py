"""The report from generated run directories: every figure, the tables, the runs left out."""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from vae_collapse.report import build_report

from . import fakes

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    assert path.is_file(), path
    assert path.read_bytes()[:8] == PNG_SIGNATURE, path
    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 200 and pixels.shape[1] > 300
    assert pixels[..., :3].std() > 0.01  # not a blank canvas


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    paths = fakes.make_tree(root)
    report = build_report([root], root / "report", wandb_mode="disabled")
    return root, paths, report, json.loads(report.json_path.read_text())


def test_every_figure_is_drawn_as_a_valid_png(built):
    root, _, report, _ = built
    numbers = sorted({f.number for f in report.figures})
    assert numbers == [1, 2, 3, 4, 5, 7]
    assert report.not_drawn == {}
    ids = [f.id for f in report.figures]
    assert len(ids) == len(set(ids))
    for fig in report.figures:
        assert fig.file.parent == root / "report"
        assert_png(fig.file)
    # Nothing half-written is left beside them.
    assert not [p for p in (root / "report").iterdir() if p.name.startswith(".")]


def test_report_md_embeds_every_figure_and_lists_the_runs_left_out(built):
    root, paths, report, _ = built
    text = report.markdown_path.read_text()
    for fig in report.figures:
        assert f"]({fig.file.name})" in text
    left_out = text[text.index("## Runs not used"):]
    for key, status in (("failed", "failed"), ("unfinished", "unfinished"), ("nan", "diverged"), ("diverged", "diverged")):
        line = next(line for line in left_out.splitlines() if str(paths[key].resolve()) in line)
        assert line.startswith(f"| {status} |")
    assert "RuntimeError: boom" in left_out
    assert "noise.sigma2=2.0 seed=2" in left_out  # the unfinished job says which one it was


def test_report_json_holds_the_numbers_the_figures_show(built):
    _, _, report, data = built
    assert data["runs"]["total"] == 21
    assert data["runs"]["by_status"] == {"completed": 17, "failed": 1, "unfinished": 1, "diverged": 2}
    fig4 = next(f for f in data["figures"] if f["number"] == 4)
    # Several files share a figure number: each says which data and model it shows, here and in REPORT.md.
    assert "k=4" in fig4["setting"], fig4["setting"]
    assert f"*{fig4['setting']}*" in report.markdown_path.read_text()
    fixed = {row["noise.sigma2"]: row for row in fig4["data"]["fixed"]}
    assert sorted(fixed) == [0.01, 0.5, 2.0]
    assert fixed[0.5]["train/elbo"] == {"mean": 42.0, "std": pytest.approx(math.sqrt(8.0)), "n": 2}
    assert fixed[0.5]["collapse/active_dims"]["mean"] == 2.5
    # The linear theory from the spectrum: eigenvalues 5, 3, 2, 1 of k = 4 above sigma2.
    theory = dict(zip(fig4["data"]["theory"]["sigma2"], fig4["data"]["theory"]["active_dims"]))
    for s2, count in theory.items():
        assert count == sum(v > s2 for v in fakes.EIGVALS[:4])
    assert fixed[2.0]["ppca/active_dims"]["mean"] == 2  # 5 and 3 are above 2
    # The count at eps = 0.1, off the collapse curves. sigma2 = 0.5: KLs 1.0, 0.5 (seed 0) and 1.0, 0.5,
    # 0.2 (seed 1) are all above 0.1, as at 0.01. sigma2 = 0.01: the latent at KL 0.05 drops out.
    assert fixed[0.5]["active_dims_at_10eps"] == {"mean": 2.5, "std": pytest.approx(math.sqrt(0.5)), "n": 2}
    assert fixed[0.01]["collapse/active_dims"]["mean"] == 4
    assert fixed[0.01]["active_dims_at_10eps"] == {"mean": 3.0, "std": 0.0, "n": 2}
    assert fixed[0.5]["collapse/active_units"]["mean"] == 1.5
    learned = {row["label"]: row for row in fig4["data"]["learned"]}
    assert learned["learned_fake [noise.init=1]"]["train/sigma2"]["mean"] == pytest.approx(0.4)


def test_figure2_averages_the_seeds_and_keeps_the_stochastic_run_apart(built):
    _, _, _, data = built
    fig2 = next(f for f in data["figures"] if f["number"] == 2)
    by_kind = {g["elbo"]: g for g in fig2["data"]["groups"]}
    assert by_kind["analytic"]["n"] == 2 and by_kind["stochastic"]["n"] == 1
    # Per-step logs only (no step-0 reference row, no final row): steps 9, 19, 29, 39.
    assert by_kind["analytic"]["curve"]["step"] == [9.0, 19.0, 29.0, 39.0]
    assert by_kind["analytic"]["curve"]["train/elbo"] == [-100.0, -40.0, -15.5, -15.25]
    assert by_kind["analytic"]["ppca/log_px - train/elbo"] == pytest.approx(5.25)  # -10 - (-15.25)
    assert fig2["data"]["ppca/log_px"]["mean"] == -10.0
    # The final exact ELBO is drawn at the step the runs ended (time/steps), not at trainer.max_steps (100).
    assert by_kind["analytic"]["final step"] == 40.0


def test_figure5_sorts_the_column_norms_against_the_spectrum(built):
    _, _, _, data = built
    fig5 = next(f for f in data["figures"] if f["number"] == 5)
    group = fig5["data"]["groups"][0]
    assert group["column_norms2_sorted"][0] == [4.7, 2.7, 1.7, 0.2]
    assert group["eigenvalues_above_sigma2"] == 4  # sigma2 = 0.3
    # One file per noise policy in a σ² sweep: the name and the setting line say which.
    assert fig5["file"].endswith("_learned-sigma2-init-1.png") and fig5["setting"].startswith("learned σ², init 1: ")


def test_figure3_and_7_means_over_seeds(built):
    _, _, _, data = built
    fig3 = next(f for f in data["figures"] if f["number"] == 3)
    rows = {g["label"]: g for g in fig3["data"]["groups"]}
    # sigma2 = 0.5: seed 0 has 2 of 4 latents at KL 0, seed 1 has 1 -> 3/8 collapsed at eps = 0.01.
    assert rows["fixed_fake [noise.sigma2=0.5]"]["mean_curve_at_eps"] == pytest.approx(3 / 8)
    fig7 = next(f for f in data["figures"] if f["number"] == 7)
    warm = {g["warmup_steps"]: g for g in fig7["data"]["groups"]}
    assert warm[60]["active_dims_peak"] == 4 and warm[60]["active_dims_final"] == 2
    assert warm[60]["active_dims_at_warmup_end"] == 4  # step 60 is the 4th measurement
    assert warm[0]["n"] == 2


def test_table1_rows_are_mean_and_std_over_seeds(built):
    root, _, report, data = built
    rows = {(r["experiment"], r["policy"]): r for r in data["table1"]}
    row = rows[("fixed_fake", "fixed σ² = 0.5")]
    assert row["train/elbo"]["mean"] == 42.0
    assert row["collapse/collapsed_fraction"]["mean"] == pytest.approx(0.375)  # 50% and 25%
    assert row["test/log_px_iwae"]["mean"] == 42.5
    assert (root / "report" / "table1.csv").read_text().count("\n") == len(data["table1"]) + 1
    line = next(line for line in report.markdown_path.read_text().splitlines() if "| fixed σ² = 0.5 |" in line)
    assert "| 42.00 ± 2.83 | 42.50 ± 2.83 | 0.38 ± 0.18 (eps=0.01) | 2 |" in line


def test_a_half_finished_sweep_alone_still_gives_a_report(tmp_path):
    root = tmp_path / "runs"
    fakes.make_tree(root)
    report = build_report([root / "fixed"], tmp_path / "out")
    assert {f.number for f in report.figures} == {1, 3, 4}  # the spectrum comes from the runs
    assert {r.status for r in report.excluded} == {"failed", "unfinished"}
    assert set(report.not_drawn) == {2, 5, 7}
    text = report.markdown_path.read_text()
    assert "Not drawn: needs linear VAE runs" in text


def test_a_learned_sigma2_sweep_alone_is_drawn_against_eps_and_sigma2(tmp_path):
    """A learned sweep has its own budget in practice, so it never shares a family with fixed runs."""
    root = tmp_path / "runs"
    fakes.make_tree(root)
    report = build_report([root / "learned"], tmp_path / "out")
    figures = {f.number: f for f in report.figures}
    assert {3, 4} <= set(figures)
    caption = figures[4].caption
    assert "learned-σ² runs (squares)" in caption
    # The fakes have no test ELBO, ppca/log_px or data spectrum for the learned runs: not drawn, not described.
    assert not any(word in caption for word in ("fixed", "test ELBO", "crosses", "black step", "dashed", "dotted"))
    assert "solid" not in figures[3].caption and "dashed: σ² learned" in figures[3].caption
    learned = figures[4].data["learned"]
    assert [row["seeds"] for row in learned] == [[0, 1], [0, 1]]
    assert [row["train/sigma2"]["mean"] for row in learned] == pytest.approx([0.06, 0.4])


def test_only_unfinished_runs_give_a_report_that_says_so(tmp_path):
    d = tmp_path / "sweep" / "0"
    fakes.make_run(d, fakes.config("x", 0, d, fakes.noise_fixed(0.1)), None)
    report = build_report([tmp_path / "sweep"], tmp_path / "out")
    assert report.figures == [] and report.groups == []
    data = json.loads(report.json_path.read_text())
    assert data["excluded"][0]["status"] == "unfinished"
    assert "1 run directories: 0 completed, 1 not used" in report.markdown_path.read_text()


def test_rebuilding_into_a_folder_inside_the_runs_does_not_read_the_report(tmp_path):
    fakes.make_tree(tmp_path)
    sweep = tmp_path / "kl"  # one figure: quick to build twice
    first = build_report([sweep], sweep / "report")
    second = build_report([sweep], sweep / "report")
    assert len(first.runs) == len(second.runs) == 4
    assert [f.id for f in first.figures] == [f.id for f in second.figures]
    assert np.array_equal(matplotlib.image.imread(first.figures[0].file), matplotlib.image.imread(second.figures[0].file))


def test_every_setting_rounds_counts_sorts_seeds_and_says_why_a_value_is_missing(built):
    _, _, report, _ = built
    text = report.markdown_path.read_text()
    table = text.split("## Every setting")[1].split("## Runs not used")[0]
    row = next(line for line in table.splitlines() if "| fixed σ² = 0.5 |" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == "0, 1"
    assert cells[8] == "2.5 ± 0.7"  # collapse/active_dims of seeds 2 and 3: one decimal, not 2.5 ± 0.7071
    assert cells[9].isdigit()  # ppca/active_dims, the same for both seeds: a whole number, no spread
    assert cells[10] == "n/a"  # the fakes predate ppca/residual_dims
    assert "`ppca/residual_dims` n/a: not in these runs' summary.json" in table


def test_figure4_of_a_fixed_sweep_describes_every_series_it_draws(built):
    _, _, report, _ = built
    fig4 = next(f for f in report.figures if f.number == 4 and f.data["fixed"])
    for clause in ("train ELBO of the fixed-σ² runs", "test ELBO", "exact log-likelihood at the same σ² (crosses)",
                   "count at eps = 0.1 (dashed)", "active units (dotted)", "(black step)", "latents that carry"):
        assert clause in fig4.caption, clause


def test_a_setting_run_twice_with_one_seed_counts_once_the_newest(tmp_path):
    import os

    runs = {}
    for name, elbo, when in (("first", 10.0, 1_000_000), ("again", 12.0, 2_000_000), ("seed1", 20.0, 1_500_000)):
        d = tmp_path / "runs" / name
        fakes.make_run(d, fakes.config("x", 1 if name == "seed1" else 0, d, fakes.noise_fixed(0.5)),
                       fakes.deep_metrics(elbo, 2, sigma2=0.5))
        os.utime(d / "summary.json", (when, when))
        runs[name] = d
    report = build_report([tmp_path / "runs"], tmp_path / "out")
    (group,) = report.groups
    assert sorted(run.run_dir.name for run in group.runs) == ["again", "seed1"]
    assert group.stat("train/elbo").mean == 16.0  # (12 + 20) / 2, not (10 + 12 + 20) / 3
    (repeat,) = report.excluded
    assert (repeat.run_dir, repeat.status) == (runs["first"], "repeat")
    assert repeat.reason == f"same setting and seed 0 as {runs['again']}, which is newer and is used"


def test_rebuilding_with_fewer_runs_removes_the_figures_no_longer_drawn(tmp_path):
    fakes.make_tree(tmp_path / "runs")
    out = tmp_path / "report"
    full = build_report([tmp_path / "runs"], out)
    (out / "notes.png").write_bytes(b"the user's own file")
    part = build_report([tmp_path / "runs" / "fixed"], out)  # only the fixed sigma^2 sweep now
    kept = {f.file.name for f in part.figures}
    gone = {f.file.name for f in full.figures} - kept
    assert gone and kept
    assert sorted(p.name for p in out.glob("*.png")) == sorted(kept | {"notes.png"})  # only a report's own files go
    assert not (out / "table1.csv").exists() or part.table


def test_an_unfinished_run_continued_in_another_folder_is_listed_as_continued_there(tmp_path):
    runs = tmp_path / "runs"
    first, later, killed, other = runs / "seed=0", runs / "resumed", runs / "killed", runs / "seed=1"
    fakes.make_run(first, fakes.config("x", 0, first, fakes.noise_fixed(0.5)), {"train/elbo": 1.0},
                   status="interrupted", reason="SIGTERM")
    fakes.make_run(killed, fakes.config("x", 2, killed, fakes.noise_fixed(0.5)), None)  # SIGKILL: no summary
    fakes.make_run(other, fakes.config("x", 1, other, fakes.noise_fixed(0.5)), None)  # killed, never continued
    fakes.make_run(later, fakes.config("x", 0, later, fakes.noise_fixed(0.5)), fakes.deep_metrics(12.0, 2, sigma2=0.5))
    again, last = runs / "again", runs / "last"
    fakes.make_run(again, fakes.config("x", 2, again, fakes.noise_fixed(0.5)), {"train/elbo": 3.0},
                   status="interrupted", reason="SIGINT")
    fakes.make_run(last, fakes.config("x", 2, last, fakes.noise_fixed(0.5)), {"train/elbo": 4.0},
                   status="interrupted", reason="SIGTERM")
    own = runs / "own"  # resumed, then interrupted again, in its own folder
    fakes.make_run(own, fakes.config("x", 3, own, fakes.noise_fixed(0.5)), {"train/elbo": 5.0},
                   status="interrupted", reason="SIGTERM")
    (tmp_path / "elsewhere").symlink_to(runs)
    written_as = {first: runs / "sub" / ".." / first.name,  # resume=../runs/... from another folder
                  killed: tmp_path / "elsewhere" / killed.name}  # a symbolic link to the same folder
    for run, source in ((later, first), (again, killed), (last, again), (own, own)):
        summary = json.loads((run / "summary.json").read_text())
        summary["resumed_from"] = str(written_as.get(source, source) / "checkpoints" / "last.ckpt")
        (run / "summary.json").write_text(json.dumps(summary))
    report = build_report([runs], tmp_path / "out")
    left_out = {run.run_dir.name: (run.status, run.reason) for run in report.excluded}
    assert left_out == {
        "seed=0": ("continued", f"continued in {later} (completed there)"),
        "killed": ("continued", f"continued in {again}, then in {last} (interrupted there)"),
        "again": ("continued", f"continued in {last} (interrupted there)"),
        "last": ("interrupted", "SIGTERM"),
        "own": ("interrupted", "SIGTERM"),
        "seed=1": ("unfinished", "no summary.json (still running, stopped, or never started)"),
    }
    assert f"| continued | {first} |" in report.markdown_path.read_text()


@pytest.mark.parametrize("kl_dims_by_sigma2, says", [
    ({0.1: [1.0, 1.0, 1.0, 1.0], 1.0: [1.0, 1.0, 0.0, 0.0]}, "the collapsed fraction grows with fixed σ²: 0.00 at"),
    ({0.1: [1.0, 1.0, 0.0, 0.0], 1.0: [1.0, 1.0, 1.0, 1.0]}, "does not grow steadily with fixed σ²: 0.50 at σ² = 0.1"),
    ({0.1: [1.0, 1.0, 1.0, 1.0], 1.0: [1.0, 1.0, 1.0, 1.0]}, "every fixed σ² collapses about the same fraction"),
])
def test_the_sweep_caption_says_what_the_fixed_sigma2_curves_show(tmp_path, kl_dims_by_sigma2, says):
    """The caption reads the trend off the runs: the paper's claim is not written in where they do not show it."""
    for sigma2, kl_dims in kl_dims_by_sigma2.items():
        d = tmp_path / "sweep" / f"noise.sigma2={sigma2}"
        fakes.make_run(d, fakes.config("sweep", 0, d, fakes.noise_fixed(sigma2)), fakes.deep_metrics(-90.0, 2))
        fakes.collapse_curve(d, kl_dims)
    figures = {f.number: f for f in build_report([tmp_path / "sweep"], tmp_path / "out").figures}
    assert says in figures[3].caption
    assert "Larger fixed σ² collapses more" not in figures[3].caption


def test_table1_says_each_rows_budget(tmp_path):
    for sigma2, steps, images in ((0.1, 50, 200), (1.0, 200, 2000)):
        d = tmp_path / "runs" / f"noise.sigma2={sigma2}"
        metrics = {**fakes.deep_metrics(-90.0, 2, iwae=-95.0), "time/steps": steps, "test/iwae_examples": images}
        cfg = fakes.config("mixed", 0, d, fakes.noise_fixed(sigma2))
        cfg["eval"]["iwae_samples"] = 100
        fakes.make_run(d, cfg, metrics)
    report = build_report([tmp_path / "runs"], tmp_path / "out")
    budgets = [row.as_dict()["budget"] for row in report.table]
    assert budgets == ["50 steps; IWAE K=100 on 200 test images", "200 steps; IWAE K=100 on 2,000 test images"]
    assert "| budget |" in report.markdown_path.read_text()


def test_a_sweep_measured_at_two_eps_gets_a_figure_for_each(tmp_path):
    """Settings alike but for eval.eps were one family: one figure, both curves under one label, marked at the first eps."""
    for eps in (0.01, 0.1):
        for sigma2, kl_dims in ((0.1, [1.0, 1.0, 1.0, 1.0]), (1.0, [1.0, 0.05, 0.0, 0.0])):
            d = tmp_path / f"eps{eps}" / f"noise.sigma2={sigma2}"
            cfg = fakes.config("sweep", 0, d, fakes.noise_fixed(sigma2))
            cfg["eval"]["eps"] = eps
            fakes.make_run(d, cfg, fakes.deep_metrics(-90.0, 2, sigma2=sigma2))
            fakes.collapse_curve(d, kl_dims)
    report = build_report([tmp_path / "eps0.01", tmp_path / "eps0.1"], tmp_path / "out")
    for number in (3, 4):
        figures = [f for f in report.figures if f.number == number]
        assert len(figures) == 2, number
        assert sorted("(0.1, 0.01)" in f.setting for f in figures) == [False, True], [f.setting for f in figures]
    for fig in (f for f in report.figures if f.number == 3):
        assert len(fig.data["groups"]) == 2  # one curve per sigma^2, not four


def test_a_report_stopped_while_drawing_leaves_a_folder_the_next_report_takes(tmp_path, monkeypatch):
    from vae_collapse.report import fig_collapse

    fakes.make_tree(tmp_path / "runs")
    out = tmp_path / "report"

    def stopped(groups, out_dir):
        (out_dir / "fig3_collapse_x.png").write_bytes(b"half a figure")
        raise KeyboardInterrupt

    monkeypatch.setattr(fig_collapse, "collapse_figures", stopped)
    with pytest.raises(KeyboardInterrupt):
        build_report([tmp_path / "runs"], out)
    monkeypatch.undo()
    report = build_report([tmp_path / "runs"], out)  # was refused: "not written by vae-collapse-report"
    assert json.loads(report.json_path.read_text())["figures"]
    # Only a report's own names count: a user's figure.png beside runs' reports is no reason to refuse.
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "figure.png").write_bytes(b"mine")
    assert build_report([tmp_path / "runs"], tmp_path / "mine").figures
    assert (tmp_path / "mine" / "figure.png").read_bytes() == b"mine"


def _fixed_sweep(root: Path, name: str, lr: float = 1e-3, sigma2s=(0.1, 1.0)) -> None:
    for sigma2, kl_dims in ((0.1, [1.0, 1.0, 1.0, 1.0]), (1.0, [1.0, 0.05, 0.0, 0.0])):
        if sigma2 not in sigma2s:
            continue
        d = root / name / f"noise.sigma2={sigma2}"
        cfg = fakes.config(name, 0, d, fakes.noise_fixed(sigma2))
        cfg["optimizer"] = {"_target_": "torch.optim.Adam", "lr": lr}
        fakes.make_run(d, cfg, fakes.deep_metrics(-90.0, 2, sigma2=sigma2))
        fakes.collapse_curve(d, kl_dims)


def test_two_sweeps_of_one_config_under_two_names_are_two_figures_each_named(tmp_path):
    # One figure held both: each sigma^2 twice in the legend under one label, and twice on the trend line.
    _fixed_sweep(tmp_path, "first")
    _fixed_sweep(tmp_path, "second")
    report = build_report([tmp_path / "first", tmp_path / "second"], tmp_path / "out")
    for number in (3, 4):
        figures = [f for f in report.figures if f.number == number]
        assert len(figures) == 2, number
        assert sorted(f.setting.rsplit(" [", 1)[-1] for f in figures) == ["name=first]", "name=second]"]
    for fig in (f for f in report.figures if f.number == 3):
        labels = [g["policy"] for g in fig.data["groups"]]
        assert len(labels) == len(set(labels)) == 2


def test_figures_that_would_read_the_same_name_the_setting_that_tells_them_apart(tmp_path):
    # The presets' fixed and learned sweeps differ in their learning rate: their figures had one title.
    _fixed_sweep(tmp_path, "sweep", lr=2e-3)
    for init in (0.1, 1.0):
        d = tmp_path / "learned" / f"noise.init={init}"
        cfg = fakes.config("sweep", 0, d, fakes.noise_learned(init))
        cfg["optimizer"] = {"_target_": "torch.optim.Adam", "lr": 1e-3}
        fakes.make_run(d, cfg, fakes.deep_metrics(-80.0, 3, sigma2=0.2))
        fakes.collapse_curve(d, [1.0, 0.5, 0.2, 0.0])
    report = build_report([tmp_path / "sweep", tmp_path / "learned"], tmp_path / "out")
    settings = sorted(f.setting for f in report.figures if f.number == 3)
    assert len(settings) == 2 and settings[0] != settings[1]
    assert [s.rsplit(" [", 1)[-1] for s in settings] == ["optimizer.lr=0.001]", "optimizer.lr=0.002]"]


def test_a_kl_warmup_longer_than_its_run_is_reported_as_cut_off(tmp_path):
    # Table 1 and figure 7 promised the plain ELBO where the run ended at beta = 0.12, and the
    # "active dims at the end of the warm-up" were the run's last ones.
    for warmup, beta in ((0, 1.0), (1000, 0.12), (130, 1.0)):  # the last ended after its last measurement (120)
        d = tmp_path / "kl" / f"noise.warmup_steps={warmup}"
        fakes.make_run(d, fakes.config("kl", 0, d, fakes.noise_kl(warmup), steps=120),
                       {**fakes.deep_metrics(30.0, 2), "train/beta": beta})
        fakes.trajectory(d, [4, 4, 3, 3, 2, 2, 2])
    report = build_report([tmp_path / "kl"], tmp_path / "out")
    data = json.loads(report.json_path.read_text())
    policies = sorted(r["policy"] for r in data["table1"])
    assert policies == ["KL annealing β: 0→1 over 1000 steps (cut off by the run's end at β = 0.12), fixed σ² = 0.1",
                        "KL annealing β: 0→1 over 130 steps, fixed σ² = 0.1",
                        "plain ELBO (no warm-up), fixed σ² = 0.1"]
    fig7 = next(f for f in data["figures"] if f["number"] == 7)
    warm = {g["warmup_steps"]: g for g in fig7["data"]["groups"]}
    assert warm[1000]["active_dims_at_warmup_end"] is None and warm[0]["active_dims_at_warmup_end"] == 4
    assert warm[130]["active_dims_at_warmup_end"] is None  # not measured there, and not the last value either
    assert [warm[w]["cut_off"] for w in (0, 130, 1000)] == [False, False, True]
    assert "a warm-up marked 'cut off' is longer than its run" in fig7["caption"]


def test_figure7_heatmap_columns_are_centred_on_their_steps(tmp_path, monkeypatch):
    from vae_collapse.report import fig_kl_anneal

    extents = []
    real_save = fig_kl_anneal.save

    def save(fig, *args):
        extents.extend(tuple(image.get_extent()[:2]) for ax in fig.axes for image in ax.get_images())
        return real_save(fig, *args)

    monkeypatch.setattr(fig_kl_anneal, "save", save)
    d = tmp_path / "kl" / "0"
    fakes.make_run(d, fakes.config("kl", 0, d, fakes.noise_kl(60), steps=120), fakes.deep_metrics(30.0, 2))
    fakes.trajectory(d, [4, 4, 4, 4, 3, 2, 2])  # steps 0, 20, ..., 120
    build_report([tmp_path / "kl"], tmp_path / "out")
    assert extents == [(-10.0, 130.0)]  # half a column (10 steps) either side of the first and last


def test_a_path_without_runs_beside_others_is_warned_about_and_sources_are_absolute(tmp_path, monkeypatch, capsys):
    fakes.make_tree(tmp_path / "runs")
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path)
    report = build_report([Path("runs"), Path("empty")], tmp_path / "out")
    assert "vae-collapse-report: warning: PATH empty holds no run folders; it is left out" in capsys.readouterr().err
    data = json.loads(report.json_path.read_text())
    assert data["sources"] == [str(tmp_path / "runs"), str(tmp_path / "empty")]  # readable from out/


def test_learned_settings_that_read_alike_stay_beside_the_fixed_sweep_told_apart(tmp_path):
    # Split by their noise.lr_scale, each learned setting was left alone and dropped from figures 3 and 4.
    _fixed_sweep(tmp_path, "sweep")
    for lr_scale in (1.0, 10.0):
        d = tmp_path / "learned" / f"noise.lr_scale={lr_scale}"
        noise = {**fakes.noise_learned(1.0), "lr_scale": lr_scale}
        cfg = fakes.config("sweep", 0, d, noise)
        cfg["optimizer"] = {"_target_": "torch.optim.Adam", "lr": 1e-3}
        fakes.make_run(d, cfg, fakes.deep_metrics(-80.0, 3, sigma2=0.2))
        fakes.collapse_curve(d, [1.0, 0.5, 0.2, 0.0])
    report = build_report([tmp_path / "sweep", tmp_path / "learned"], tmp_path / "out")
    fig3 = [f for f in report.figures if f.number == 3]
    assert len(fig3) == 1
    policies = sorted(g["policy"] for g in fig3[0].data["groups"])
    assert len(fig3[0].data["groups"]) == 4 and policies[:2] == ["fixed σ² = 0.1", "fixed σ² = 1"]
    assert len([f for f in report.figures if f.number == 4]) == 1


def test_linear_figures_of_adam_and_em_runs_say_which_is_which(tmp_path):
    # Figures 2 and 5 of an Adam run and an EM run of one setting had one title between them.
    for name, optimizer in (("adam", {"_target_": "torch.optim.Adam", "lr": 1e-3}),
                            ("em", {"_target_": "vae_collapse.training.em_optimizer.VariationalEM"})):
        d = tmp_path / name
        cfg = fakes.config("linear_fake", 0, d, fakes.noise_learned(1.0), model=fakes.LINEAR)
        cfg["optimizer"] = optimizer
        fakes.make_run(d, cfg, {"train/elbo": -11.0, "ppca/log_px": -10.0, "train/sigma2": 0.3, "time/steps": 40})
        fakes.metrics_log(d, [-100.0, -40.0, -11.0], -10.0)
        fakes.spectrum(d)
        fakes.write_csv(d / "decoder_column_norms.csv", ["column", "norm2"], [[j, v] for j, v in enumerate([4.7, 2.7, 1.7, 0.2])])
    report = build_report([tmp_path / "adam", tmp_path / "em"], tmp_path / "out")
    for number in (2, 5):
        settings = sorted(f.setting for f in report.figures if f.number == number)
        assert len(settings) == 2 and settings[0] != settings[1], (number, settings)
        assert any("VariationalEM" in s for s in settings), settings


def test_a_completed_run_whose_folder_later_refused_a_job_is_used_and_the_refusal_listed(tmp_path):
    paths = fakes.make_tree(tmp_path)
    refusal = "noise.sigma2=-1 must be > 0"
    folder = tmp_path / "linear" / "0"
    (folder / "rejected.txt").write_text(refusal + "\n")
    (paths["failed"] / "rejected.txt").write_text(refusal + "\n")  # not used: listed once, under "Runs not used"
    report = build_report([tmp_path], tmp_path / "out")
    assert [r.run_dir for r in report.refused_later] == [folder]
    assert all(r.run_dir != folder for r in report.excluded)
    text = report.markdown_path.read_text()
    assert "## Later jobs refused" in text and f"| completed | {folder} | {refusal} |" in text
    listed = json.loads(report.json_path.read_text())["refused_later"]
    assert listed == [{"run_dir": str(folder), "status": "completed", "reason": refusal}]
