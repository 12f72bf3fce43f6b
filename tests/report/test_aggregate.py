"""Seed aggregation: mean and sample std on known numbers, and which runs count as one setting."""

from __future__ import annotations

import math

import pytest

from vae_collapse.report.aggregate import Group, Stat, group_runs, label_with, set_aside_repeats, setting, stat
from vae_collapse.report.runs import Run, load_runs

from . import fakes


def test_mean_and_sample_std_of_known_numbers():
    s = stat([1.0, 2.0, 3.0, 4.0])
    assert s.n == 4
    assert s.mean == 2.5
    assert s.std == pytest.approx(math.sqrt(5.0 / 3.0))  # sum of squared deviations 5, over n - 1 = 3
    assert s.fmt() == "2.5 ± 1.3 (n=4)"


def test_one_run_has_no_spread_and_no_runs_no_mean():
    assert stat([7.0]) == Stat(7.0, None, 1)
    assert stat([7.0]).fmt() == "7 (n=1)"
    empty = stat([])
    assert empty.n == 0 and math.isnan(empty.mean) and empty.fmt() == "n/a"


def test_non_finite_values_are_not_averaged_and_n_says_so():
    s = stat([1.0, float("nan"), 3.0, float("inf")])
    assert (s.mean, s.n) == (2.0, 2)
    assert s.std == pytest.approx(math.sqrt(2.0))


def test_seed_and_where_the_run_wrote_are_not_part_of_the_setting(tmp_path):
    a = fakes.config("x", 0, tmp_path / "a", fakes.noise_fixed(0.1))
    b = fakes.config("x", 1, tmp_path / "b", fakes.noise_fixed(0.1))
    assert setting(a) == setting(b)
    assert "seed" not in setting(a)["dataset"]  # dataset.seed: ${seed}, resolved
    c = fakes.config("x", 1, tmp_path / "c", fakes.noise_fixed(0.2))
    assert setting(a) != setting(c)


def test_a_progress_bar_or_checkpoint_cadence_does_not_make_a_new_setting(tmp_path):
    a = fakes.config("x", 0, tmp_path / "a", fakes.noise_fixed(0.1))
    b = fakes.config("x", 1, tmp_path / "b", fakes.noise_fixed(0.1))
    a["trainer"]["enable_progress_bar"], b["trainer"]["enable_progress_bar"] = True, False
    a["checkpoint"], b["checkpoint"] = {"every_n_steps": 500}, {"every_n_steps": 0}
    assert setting(a) == setting(b)
    assert a["trainer"]["enable_progress_bar"] is True  # the run's own config is left as it was
    b["trainer"]["max_steps"] = a["trainer"]["max_steps"] + 1
    assert setting(a) != setting(b)


def test_one_written_as_1_and_as_1_0_is_one_setting(tmp_path):
    # A sweep grown from noise.sigma2=0.1,1 to 0.1,1.0,2 skips the run it has (the sweep compares
    # values); the report made two rows of sigma^2 = 1 with n = 1 each, and a repeat went unnoticed.
    def run(name: str, seed: int, sigma2: float) -> Run:
        return Run(tmp_path / name, "completed", None, {"train/elbo": -1.0},
                   fakes.config("x", seed, tmp_path / name, fakes.noise_fixed(sigma2)))

    assert sorted(g.n for g in group_runs([run("a", 0, 1), run("b", 1, 1.0), run("c", 0, 2.5)])) == [1, 2]
    statuses = sorted(r.status for r in set_aside_repeats([run("a", 0, 1), run("b", 0, 1.0)]))
    assert statuses == ["completed", "repeat"]


def test_a_nested_seed_that_is_its_own_setting_is_kept(tmp_path):
    a = fakes.config("x", 0, tmp_path / "a", fakes.noise_fixed(0.1))
    a["dataset"]["seed"] = 123  # fixed data seed, independent of the run's seed
    assert setting(a)["dataset"]["seed"] == 123


def test_groups_of_the_fake_tree_have_the_right_sizes_and_means(tmp_path):
    fakes.make_tree(tmp_path)
    runs = load_runs([tmp_path])
    groups = {g.label: g for g in group_runs(r for r in runs if r.usable)}
    fixed = groups["fixed_fake [noise.sigma2=0.5]"]
    assert fixed.n == 2 and sorted(fixed.seeds) == [0, 1]  # the failed seed-2 job is not in it
    assert fixed.stat("train/elbo").mean == 42.0
    assert fixed.stat("train/elbo").std == pytest.approx(math.sqrt(8.0))  # (40, 44): deviations +-2
    analytic = groups["linear_fake [model.elbo=analytic]"]
    assert analytic.stat("train/elbo").mean == -15.25
    assert analytic.stat("train/elbo").std == pytest.approx(9.5 / math.sqrt(2.0))
    assert groups["linear_fake [model.elbo=stochastic]"].n == 1
    assert len([g for g in groups if g.startswith("learned_fake")]) == 2


def test_failed_diverged_and_unfinished_runs_are_kept_apart(tmp_path):
    paths = fakes.make_tree(tmp_path)
    runs = {r.run_dir: r for r in load_runs([tmp_path])}
    assert runs[paths["failed"].resolve()].status == "failed"
    assert runs[paths["failed"].resolve()].reason == "RuntimeError: boom"
    assert runs[paths["unfinished"].resolve()].status == "unfinished"
    assert runs[paths["unfinished"].resolve()].overrides == ["noise.sigma2=2.0", "seed=2"]
    assert runs[paths["nan"].resolve()].status == "diverged"  # "completed" with a NaN ELBO
    assert runs[paths["diverged"].resolve()].status == "diverged"
    assert sum(not r.usable for r in runs.values()) == 4


def test_an_unfinished_run_whose_folder_later_refused_a_job_is_still_unfinished(tmp_path):
    from vae_collapse.report.runs import load_run

    paths = fakes.make_tree(tmp_path)
    folder = paths["unfinished"]
    (folder / "rejected.txt").write_text("this folder already holds another run (3000 there, 2000 here)\n")
    assert load_run(folder).status == "rejected"  # nothing to resume: the refused job is all there is
    (folder / "checkpoints").mkdir()
    (folder / "checkpoints" / "last.ckpt").write_bytes(b"a checkpoint")
    run = load_run(folder)
    assert run.status == "unfinished"  # it resumes; listed as bad input, it looked safe to delete
    assert run.reason.endswith("; a later job into this folder was refused: this folder already holds another run "
                               "(3000 there, 2000 here)")


def test_a_summary_written_by_another_tool_is_not_a_run_and_hides_none_below_it(tmp_path):
    paths = fakes.make_tree(tmp_path / "multirun")
    runs = load_runs([tmp_path / "multirun"])
    (tmp_path / "multirun" / "summary.json").write_text('{"accuracy": 0.9, "status": "completed"}')
    (tmp_path / "multirun" / "fixed" / "other").mkdir()
    (tmp_path / "multirun" / "fixed" / "other" / "summary.json").write_text('{"status": "completed"}')
    assert [r.run_dir for r in load_runs([tmp_path / "multirun"])] == [r.run_dir for r in runs]
    assert [r.run_dir for r in load_runs([paths["failed"]])] == [paths["failed"].resolve()]


def test_runs_are_found_once_whether_named_directly_or_through_a_parent(tmp_path):
    fakes.make_tree(tmp_path)
    once = load_runs([tmp_path])
    twice = load_runs([tmp_path, tmp_path / "fixed", tmp_path / "fixed" / "0"])
    assert [r.run_dir for r in once] == [r.run_dir for r in twice]
    assert all(isinstance(r, Run) for r in once)


def test_labels_name_what_differs_without_hydra_flags_or_keys_a_setting_lacks():
    from pathlib import Path

    adam = {"name": "x", "seed": 0, "optimizer": {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 0.001}}
    em = {**adam, "optimizer": {"_target_": "vae_collapse.training.em_optimizer.VariationalEM", "_partial_": True,
                                "over_relaxation": 1.1}}
    runs = [Run(Path(n), "completed", None, {"train/elbo": 1.0}, c) for n, c in (("a", adam), ("b", em))]
    labels = sorted(g.label for g in group_runs(runs))
    assert labels == ["x [optimizer._target_=Adam, optimizer.lr=0.001]",
                      "x [optimizer._target_=VariationalEM, optimizer.over_relaxation=1.1]"]


def test_fixed_decimals_line_up_nats_of_different_magnitude():
    assert stat([-1004.871, -1004.869]).fmt(show_n=False, decimals=2) == "-1004.87 ± 0.00"
    assert stat([-492.92]).fmt(decimals=2) == "-492.92 (n=1)"
    assert stat([-1004.87]).fmt(4) == "-1005 (n=1)"  # significant digits, the default elsewhere


def test_collapse_curves_of_runs_written_before_the_column_rename_still_read(tmp_path):
    from vae_collapse.report.curves import collapse_curve

    for column in ("collapsed_fraction", "fraction_collapsed"):
        run_dir = tmp_path / column
        run_dir.mkdir()
        (run_dir / "collapse_curve.csv").write_text(f"eps,{column}\n0.1,0.5\n0.01,0.25\n")
        eps, fraction = collapse_curve(run_dir)
        assert list(eps) == [0.01, 0.1] and list(fraction) == [0.25, 0.5]
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "collapse_curve.csv").write_text("eps,something\n0.1,0.5\n")
    assert collapse_curve(tmp_path / "other") is None


def test_agreeing_seeds_show_no_spread_and_float_noise_is_not_a_spread():
    assert stat([-743.1, -743.1, -743.1]).fmt(show_n=False, decimals=2) == "-743.10"
    assert stat([0.1, 0.1 + 1e-17 * 2]).fmt(3, show_n=False) == "0.1"
    assert stat([0.002161, 0.002165]).fmt(3, show_n=False) == "0.00216 ± 2.8e-06"  # a real spread stays


def test_file_names_and_titles_carry_architecture_and_a_budget_in_steps_or_epochs():
    from vae_collapse.report.aggregate import Group
    from vae_collapse.report.describe import family_title, slug

    def group(**flat):
        return Group([], {"dataset.name": "mnist", "model._target_": "vae_collapse.models.MLPVAE", "model.latent_dim": 32,
                          "model.hidden": [1024, 512], "model.activation": "tanh", "dataset.batch_size": 128, **flat})

    assert slug(group(**{"trainer.max_steps": 8000})) == "mnist_mlpvae_k32_1024-512_tanh_8000steps"
    assert slug(group(**{"trainer.max_steps": -1, "trainer.max_epochs": 20})).endswith("_20epochs")
    assert "MLPVAE k=32 (1024-512 tanh), 20 epochs, batch 128" in family_title(
        group(**{"trainer.max_steps": -1, "trainer.max_epochs": 20}))


def test_a_closed_form_ppca_run_is_not_described_as_a_trained_linear_vae():
    from vae_collapse.report.aggregate import Group
    from vae_collapse.report.describe import budget_text, model_text, policy

    ppca = Group([], {"dataset.name": "mnist", "model._target_": "vae_collapse.models.LinearVAE", "model.latent_dim": 200,
                      "model.elbo": "analytic", "model.fit": "closed_form", "trainer.max_steps": 0,
                      "noise._target_": "vae_collapse.models.LearnedNoise", "noise.init": 1.0})
    assert model_text(ppca) == "pPCA k=200 (closed form)"
    assert budget_text(ppca).startswith("no steps")
    assert (policy(ppca).kind, policy(ppca).text) == ("learned", "σ² = σ²_ML (closed form)")
    trained = Group([], {**ppca.flat, "model.fit": None, "trainer.max_steps": 100})
    assert model_text(trained) == "LinearVAE k=200, analytic ELBO" and policy(trained).text == "learned σ², init 1"


def test_a_celeba_family_is_titled_with_its_image_size_and_folder():
    from vae_collapse.report.aggregate import Group
    from vae_collapse.report.describe import data_text, slug

    def celeba(root):
        return Group([], {"dataset._target_": "vae_collapse.data.CelebAFolderDataModule", "dataset.image_size": 64,
                          "dataset.root": root, "dataset.subset": 5000, "model._target_": "vae_collapse.models.ConvVAE",
                          "model.latent_dim": 64, "trainer.max_steps": 100})

    assert data_text(celeba("/data/celeba")) == "CelebA 64x64 (5000 train, from data/celeba/)"
    assert data_text(celeba("/data/celeba-hq/")) != data_text(celeba("/data/celeba"))
    # Two copies in folders of the same name, kept short: not the whole path.
    assert data_text(celeba("/home/me/a/celeba")) == "CelebA 64x64 (5000 train, from a/celeba/)"
    assert data_text(celeba("/home/me/b/celeba")) == "CelebA 64x64 (5000 train, from b/celeba/)"
    assert slug(celeba("/data/celeba")).startswith("celeba_n5000_convvae_k64")


def test_where_the_data_lives_is_no_setting_and_labels_spell_values_as_overrides(tmp_path):
    a = fakes.config("x", 0, tmp_path / "a", fakes.noise_fixed(0.1))
    b = fakes.config("x", 1, tmp_path / "b", fakes.noise_fixed(0.1))
    a["dataset"]["cache_dir"], b["dataset"]["cache_dir"] = "/data/one", "/scratch/two"
    assert setting(a) == setting(b)
    a["dataset"]["root"], b["dataset"]["root"] = "/data/celeba", "/data/celeba-hq"  # which images: a setting
    assert setting(a) != setting(b)
    group = Group([], {"name": "x", "dataset.test_subset": None, "dataset.shuffle": True})
    assert label_with(group, ["dataset.test_subset", "dataset.shuffle"]) == (
        "x [dataset.test_subset=null, dataset.shuffle=true]")
