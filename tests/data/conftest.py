"""Fixtures for the data tests."""

from __future__ import annotations

import pytest

from vae_collapse.data import idx_sources
from vae_collapse.data.idx import IDX_FILES, TRAIN_IMAGES, write_idx

from .fakes import fake_arrays, fake_md5s


@pytest.fixture
def fake_mnist(tmp_path, monkeypatch):
    """A cache root whose mnist/ folder holds a tiny fake set (train images as
    .gz, the rest plain), with the MD5 table patched to match it."""
    arrays = fake_arrays()
    monkeypatch.setitem(idx_sources.OFFICIAL_MD5, "mnist", fake_md5s(arrays))
    root = tmp_path / "cache"
    folder = root / "mnist"
    folder.mkdir(parents=True)
    for name in IDX_FILES:
        suffix = ".gz" if name == TRAIN_IMAGES else ""
        write_idx(folder / f"{name}{suffix}", arrays[name])
    return root, arrays
