"""A researcher's own noise policy, model or data module, from a folder outside the package
(docs/extending.md): found, validated like the built-in ones, and errors in it named in one line."""

from __future__ import annotations

import json
import re
import shlex
import sys

import numpy as np
import pytest
from omegaconf import OmegaConf

from tests.conftest import ROOT

from vae_collapse.config import ConfigError
from vae_collapse.config.instantiate import check_node

USER_MODULE = '''
import torch
from vae_collapse.models import MLPVAE
from vae_collapse.models.noise import ObservationNoise


class HalvingNoise(ObservationNoise):
    """sigma^2 halves every `every` steps."""

    def __init__(self, start: float = 1.0, every: int = 10) -> None:
        super().__init__()
        if every < 1:
            raise ValueError(f"every={every} must be >= 1")
        self.start, self.every = start, every

    def sigma2(self, step: int = 0) -> torch.Tensor:
        return torch.tensor(self.start * 0.5 ** (step // self.every))


class WideVAE(MLPVAE):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)


class WiderVAE(WideVAE):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
'''


@pytest.fixture
def user_folder(tmp_path, monkeypatch):
    (tmp_path / "my_ext.py").write_text(USER_MODULE)
    (tmp_path / "broken_ext.py").write_text("class Oops(\n")
    (tmp_path / "needs_dep.py").write_text("import some_missing_dependency.sub\n\nclass Noise:\n    pass\n")
    (tmp_path / "needs_sub.py").write_text("import json.no_such_submodule\n\nclass Noise:\n    pass\n")
    (tmp_path / "my_pkg").mkdir()
    (tmp_path / "my_pkg" / "__init__.py").write_text("")
    (tmp_path / "my_pkg" / "ext.py").write_text("import some_missing_dependency\n\nclass Noise:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("my_ext", "broken_ext", "needs_dep", "needs_sub", "my_pkg", "my_pkg.ext"):
        sys.modules.pop(name, None)


@pytest.mark.parametrize("node,message", [
    ({"_target_": "broken_ext.Oops"}, "noise._target_=broken_ext.Oops: cannot be imported (SyntaxError: "),
    ({"_target_": "not_there.Noise"},
     "cannot be imported (ModuleNotFoundError: No module named 'not_there'; is its folder on PYTHONPATH?)"),
    ({"_target_": "needs_dep.Noise"},  # found, but what it imports is not
     "(ModuleNotFoundError: No module named 'some_missing_dependency'; its module imports "
     "some_missing_dependency: not installed in this environment, or its folder is not on PYTHONPATH)"),
    ({"_target_": "needs_sub.Noise"},  # an installed package without that submodule: nothing to install
     "its module imports json.no_such_submodule, which json does not have)"),
    ({"_target_": "my_pkg.ext.Noise"},  # inside a package, Hydra's getattr fallback must not hide the cause
     "(ModuleNotFoundError: No module named 'some_missing_dependency'; its module imports some_missing_dependency"),
    ({"_target_": "my_ext.HalvingNoise", "start": "???"}, "noise.start: has no value (??? in the config)"),
    ({"_target_": "my_ext.HalvingNoise", "every": "often"}, "noise.every='often': expected int"),
])
def test_errors_in_a_users_noise_policy_are_one_line(user_folder, node, message):
    with pytest.raises(ConfigError, match=None) as raised:
        check_node(OmegaConf.create(node), "noise")
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_keys_are_checked_through_a_users_chain_of_subclasses(user_folder):
    node = OmegaConf.create({"_target_": "my_ext.WiderVAE", "hiden": [4]})
    with pytest.raises(ConfigError, match=r"model.hiden: unknown key for WiderVAE; valid keys: .*hidden"):
        check_node(node, "model", ("data_dim", "sample_shape", "noise"))


def _documented_example() -> tuple[dict[str, str], list[str]]:
    """docs/extending.md's files ({path: text}) and its command, split into words."""
    text = (ROOT / "docs" / "extending.md").read_text()
    files, command = {}, None
    for block in re.findall(r"```(?:python|yaml|bash)\n(.*?)```", text, flags=re.S):
        first, _, body = block.partition("\n")
        if first.startswith("# file: "):
            files[first[len("# file: "):].strip()] = body
        elif first == "# command":
            command = shlex.split(body)
    assert files and command, "docs/extending.md lost its example"
    return files, command


def test_the_documented_extension_example_runs(run_cli, tmp_path):
    """A noise policy, a model and a data set from the user's own folder, in one run."""
    files, command = _documented_example()
    for path, body in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(body)
    np.save(tmp_path / "my_project" / "rows.npy", np.random.default_rng(0).normal(size=(300, 12)).astype(np.float32))
    env = dict(word.split("=", 1) for word in command[: command.index("vae-collapse")])
    args = command[command.index("vae-collapse") + 1 :]
    result = run_cli(*args, "trainer.max_steps=25", "noise.every=10", "logger=csv", "eval.iwae_samples=0",
                     "trainer.enable_progress_bar=false", "hydra.run.dir=run", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    metrics = summary["metrics"]
    assert summary["config"]["model"]["_target_"] == "my_ext.SkipVAE"
    # Steps 0..24 ran; the final measurements are at step 25: 2.0 halved twice.
    assert metrics["train/sigma2"] == 0.5
    assert metrics["ppca/sigma2"] == 0.5  # the linear reference where the schedule ended
    assert metrics["collapse/latent_dim"] == 16 and "test/elbo" in metrics and "ppca/residual_dims" in metrics

    without_path = [a for a in args if not a.startswith("dataset.path=")]
    missing = run_cli(*without_path, "hydra.run.dir=run2", env=env)
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines()[-1] == (
        "vae-collapse: error: dataset.path: has no value (??? in the config); give one with dataset.path=...")
    unreadable = run_cli(*without_path, "dataset.path=my_project/nothing.npy", "hydra.run.dir=run3", env=env)
    assert unreadable.returncode == 1
    assert unreadable.stderr.strip().splitlines()[-1].startswith(
        "vae-collapse: error: dataset.path=my_project/nothing.npy: cannot read it as a .npy file")
    assert not (tmp_path / "run2").exists() and not (tmp_path / "run3").exists()


def test_a_key_the_users_option_lacks_is_named_with_the_keys_it_has(run_cli, tmp_path):
    (tmp_path / "conf" / "noise").mkdir(parents=True)
    (tmp_path / "conf" / "noise" / "mine.yaml").write_text("_target_: vae_collapse.models.FixedNoise\nsigma2: 0.5\n")
    result = run_cli(f"hydra.searchpath=[file://{tmp_path / 'conf'}]", "noise=mine", "noise.init=3",
                     "dataset=synthetic_ppca")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "vae-collapse: error: cannot override noise.init: noise=mine has no key init (its keys: sigma2); "
        "init is a key of noise=learned and noise=optimal (select one first)")
