"""Every option of every config group composes, validates and instantiates."""

from __future__ import annotations

import pytest
import torch
from omegaconf import open_dict

from tests.conftest import CONF_DIR
from vae_collapse.config import ConfigError, build, check_node
from vae_collapse.training.run import validate

GROUPS = ["dataset", "model", "noise", "optimizer", "lr_scheduler", "trainer", "logger"]


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def _experiments() -> list[str]:
    return _options("experiment")


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS for o in _options(g)])
def test_every_group_option_composes_and_builds(compose_config, group, option):
    cfg = compose_config(f"{group}={option}", "dataset=synthetic_ppca", "model.latent_dim=3") if group not in (
        "dataset",
        "model",
    ) else compose_config(f"{group}={option}", "model.latent_dim=3")
    validate(cfg)
    node = cfg[group]
    if group == "dataset":
        datamodule = build(node, group)
        assert datamodule.data_dim > 0
    elif group == "noise":
        assert float(build(node, group).sigma2().detach()) > 0
    elif group == "model":
        noise = build(cfg.noise, "noise")
        model = build(node, group, data_dim=784, sample_shape=(1, 28, 28), noise=noise)
        assert model.latent_dim == 3
        terms = model(torch.rand(5, 784))
        assert terms.recon.shape == (5,) and terms.kl_per_dim.shape == (5, 3)
    elif group == "optimizer":
        assert isinstance(build(node, group)([torch.nn.Parameter(torch.zeros(1))]), torch.optim.Optimizer)
    elif group == "lr_scheduler":
        optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])
        scheduler = build(node, group)(optimizer)
        optimizer.step()
        scheduler.step()
    elif group == "trainer":
        if node.accelerator == "gpu" and not torch.cuda.is_available():
            check_node(node, group, ("logger", "callbacks", "default_root_dir", "plugins", "enable_checkpointing"))
            return  # composes and validates; building needs the GPUs it asks for
        trainer = build(node, group, logger=False, callbacks=[], default_root_dir=str(cfg.paths.output_dir))
        assert trainer.max_steps == cfg.trainer.max_steps
    elif group == "logger":
        for key, sub in node.items():
            check_node(sub, f"logger.{key}")


@pytest.mark.parametrize("base", _options("noise/base"))
def test_kl_annealing_composes_with_every_base_policy(compose_config, base):
    cfg = compose_config("noise=kl_anneal", f"noise/base={base}", "dataset=synthetic_ppca", "model.latent_dim=3")
    validate(cfg)
    noise = build(cfg.noise, "noise")
    assert type(noise.base).__name__.lower().startswith(base) and noise.beta(0) == 0.0
    assert float(noise.sigma2().detach()) == pytest.approx(0.1 if base == "fixed" else 1.0)


@pytest.mark.parametrize("experiment", _experiments())
def test_every_experiment_preset_composes_and_validates(compose_config, experiment):
    cfg = compose_config(f"experiment={experiment}")
    validate(cfg)
    assert cfg.name == experiment


@pytest.mark.parametrize("experiment", ["linear_mnist_1k", "linear_mnist"])
@pytest.mark.parametrize("noise", _options("noise"))
def test_linear_presets_compose_with_every_noise_policy(compose_config, experiment, noise):
    """The linear presets are documented with `noise=fixed noise.sigma2=1.0`: they must not pin
    keys of one policy. (The deep presets are each about one policy and set its keys.)"""
    validate(compose_config(f"experiment={experiment}", f"noise={noise}"))


@pytest.mark.parametrize(
    "override,message",
    [
        ("noise.sigma2=-1.0", "noise.sigma2=-1.0 must be > 0"),
        ("noise.sigma2=abc", "noise.sigma2='abc': expected float"),
        ("+noise.colour=red", "noise.colour: unknown key for FixedNoise"),
        ("model.elbo=exact", "model.elbo='exact': expected 'analytic' | 'stochastic'"),
    ],
)
def test_bad_values_name_the_key(compose_config, override, message):
    cfg = compose_config("noise=fixed", override)
    with pytest.raises(ConfigError) as info:
        validate(cfg)
        build(cfg.noise, "noise")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_key_of_another_data_set_is_named_with_the_keys_this_one_takes(compose_config):
    """SyntheticPPCADataModule hands **kwargs to its base: the check knows the base's keys too."""
    cfg = compose_config("experiment=deep_mnist_fixed_sigma", "dataset=synthetic_ppca")
    with pytest.raises(ConfigError) as info:
        check_node(cfg.dataset, "dataset")
    assert str(info.value).startswith("dataset.subset: unknown key for SyntheticPPCADataModule; valid keys: data_dim")
    assert "batch_size" in str(info.value)


def test_a_wrong_value_from_another_key_names_that_key(compose_config):
    # The user set paths.data_dir, not dataset.cache_dir, which only copies it.
    cfg = compose_config("paths.data_dir=null")
    with pytest.raises(ConfigError, match=r"^dataset.cache_dir=null \(from \$\{paths.data_dir\}\): expected str$"):
        check_node(cfg.dataset, "dataset")


def test_latent_size_above_data_dimension_is_rejected(compose_config):
    cfg = compose_config("dataset=synthetic_ppca", "model.latent_dim=21")
    noise = build(cfg.noise, "noise")
    with pytest.raises(ConfigError, match="model.latent_dim=21 must be between 1 and the data dimension 20"):
        build(cfg.model, "model", data_dim=20, sample_shape=(20,), noise=noise)


@pytest.mark.parametrize("overrides, expected", [
    (("model=deep_vae",), 128),  # a deep model learns from mini-batches
    (("model=conv_vae",), 128),
    (("model=linear_vae",), None),  # the linear VAE and pPCA: the whole set at once
    (("model=ppca",), None),
    (("model=conv_vae", "dataset.batch_size=null"), None),  # the user's full batch is kept
    (("model=deep_vae", "dataset.batch_size=64"), 64),
    (("dataset=synthetic_ppca", "model=deep_vae"), 128),
    (("dataset=celeba", "model=linear_vae"), 128),  # CelebA's own default is a number
])
def test_batch_size_auto_is_the_models_choice_and_a_given_value_is_kept(compose_config, overrides, expected):
    from vae_collapse.config.batch_size import resolve_batch_size

    cfg = compose_config(*overrides)
    assert resolve_batch_size(cfg) == expected
    assert cfg.dataset.batch_size == expected
    check_node(cfg.dataset, "dataset")


def test_batch_size_auto_with_a_model_that_cannot_be_imported_is_left_to_the_config_check(compose_config):
    from vae_collapse.config.batch_size import resolve_batch_size

    cfg = compose_config("model=deep_vae", "model._target_=nowhere.Model")
    assert resolve_batch_size(cfg) is None
    with pytest.raises(ConfigError, match="model._target_"):
        validate(cfg)


def test_an_interpolation_that_cannot_be_resolved_is_one_line(compose_config):
    # It was a traceback from inside the run (and a sweep job "failed", with advice to re-run it).
    cfg = compose_config("eval.eps=${eval.nope}")
    with pytest.raises(ConfigError) as info:
        check_node(cfg.eval, "eval")
    assert str(info.value) == "eval.eps=${eval.nope}: cannot resolve it: Interpolation key 'eval.nope' not found"


@pytest.mark.parametrize("experiment", [e for e in _experiments() if e.startswith("deep_")])
def test_a_deep_preset_is_one_override_from_its_gpu_sized_run(compose_config, experiment):
    budget = "gpu_celeba" if "celeba" in experiment else "gpu_mnist"
    cpu = compose_config(f"experiment={experiment}")
    gpu = compose_config(f"experiment={experiment}", f"budget={budget}")
    validate(gpu)
    assert cpu.dataset.subset is not None and cpu.trainer.max_steps < gpu.trainer.max_steps  # the preset's CPU budget
    assert gpu.dataset.subset is None and gpu.dataset.test_subset is None and gpu.eval.iwae_examples is None
    assert gpu.trainer.accelerator == "gpu"
    assert gpu.optimizer == cpu.optimizer and gpu.noise == cpu.noise and gpu.model == cpu.model  # only the budget
    later = compose_config(f"experiment={experiment}", f"budget={budget}", "trainer.max_steps=7")
    assert later.trainer.max_steps == 7  # the command line still wins


@pytest.mark.parametrize("dataset,budget,fits", [
    ("celeba", "gpu_mnist", False), ("mnist", "gpu_celeba", False), ("synthetic_ppca", "gpu_mnist", False),
    ("mnist", "gpu_mnist", True), ("fashion_mnist", "gpu_mnist", True), ("celeba", "gpu_celeba", True),
])
def test_a_gpu_budget_is_refused_on_another_data_set(tmp_path, dataset, budget, fits):
    # It was accepted silently: budget=gpu_mnist on CelebA ran it at MNIST's length.
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", return_hydra_config=True,
                      overrides=[f"dataset={dataset}", f"budget={budget}", f"paths.output_dir={tmp_path}"])
        HydraConfig.instance().set_config(cfg)
        task = cfg.copy()
        with open_dict(task):
            del task["hydra"]
        if fits:
            validate(task)
        else:
            with pytest.raises(ConfigError, match=rf"^budget={budget} sizes a run on .* data, and this run's data "
                               rf"set is dataset={dataset}: "):
                validate(task)
    GlobalHydra.instance().clear()


def test_a_wrong_value_is_echoed_as_the_command_line_spells_it(compose_config):
    # It was Python's spelling: model.latent_dim=True, seed=None.
    with pytest.raises(ConfigError, match=r"^model\.latent_dim=true: expected int$"):
        check_node(compose_config("model.latent_dim=true").model, "model")
    with pytest.raises(ConfigError, match=r"^seed=null: expected int$"):
        validate(compose_config("seed=null"))


@pytest.mark.parametrize("dataset,fits", [("mnist", True), ("fashion_mnist", True), ("emnist", False),
                                          ("mnist_small", False)])
def test_a_gpu_budget_fits_its_data_set_by_name_not_by_substring(dataset, fits):
    from vae_collapse.training.run import _sizes

    assert _sizes("mnist", dataset) is fits


def test_a_name_that_leaves_outputs_is_refused_for_new_runs_only():
    # A run made before the rule keeps its name when resumed: name is not a key a resume may change.
    from omegaconf import OmegaConf

    from vae_collapse.training.run import _check_top_level

    with pytest.raises(ConfigError, match=r"^name=\.\./x: a name makes the folder"):
        _check_top_level(OmegaConf.create({"name": "../x", "seed": 0, "resume": None}))
    _check_top_level(OmegaConf.create({"name": "../x", "seed": 0, "resume": "outputs/old/run"}))


def test_a_list_argument_torch_indexes_past_its_end_is_named():
    """The fallback for a list whose length no annotation tells (Adam's betas are caught by check_node)."""
    from omegaconf import OmegaConf

    from vae_collapse.config.instantiate import checked_call

    node = OmegaConf.create({"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.1, "widths": [1.0]})
    with pytest.raises(ConfigError, match=r"^optimizer\.widths=\[1\.0\]: too few values$"):
        with checked_call(node, "optimizer"):
            node.widths[1]
    # A value inside a list names its key.
    with pytest.raises(ConfigError, match=r"^optimizer\.widths=\[1\.0\]: bad width 1\.0$"):
        with checked_call(node, "optimizer"):
            raise ValueError("bad width 1.0")
