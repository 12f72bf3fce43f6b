"""CelebA from a folder the user already has (it cannot be fetched here).

The folder is the official ``img_align_celeba`` (``000001.jpg`` ...
``202599.jpg``, 178x218 RGB), optionally with the official
``list_eval_partition.txt`` inside it or next to it. Without the partition
file the official index ranges decide the split, which is what the file says
for the official images anyway.

Preprocessing is a choice, the common CelebA-64 one: a centre crop of
``crop_size`` (148) pixels, which keeps the face and drops most background,
then a PIL bilinear resize to ``image_size`` (Pillow widens the filter when
shrinking, so this averages like an area resize rather than aliasing). It is
the same as torchvision's ``CenterCrop(148)`` then ``Resize(64)`` on PIL
images, so numbers stay comparable with work that used that pipeline.

Decoding is ~0.5-1 ms per JPEG on one core, minutes for the whole set (threads
gave no speed-up, so it stays serial); with ``cache_dir`` the uint8 result is
kept as .npy and later runs skip the JPEGs entirely.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from .cache import populate
from .datamodule import InMemoryDataModule, Splits, _check_range
from .errors import DataError
from .idx_sources import images_to_tensor
from ..reporting.console import say

IMAGES_FOLDER = "img_align_celeba"
PARTITION_FILE = "list_eval_partition.txt"
# The Kaggle copy ships the same table as CSV with a header.
PARTITION_ALTERNATIVES = (PARTITION_FILE, "list_eval_partition.csv")

IMAGE_WIDTH, IMAGE_HEIGHT = 178, 218

# Official split by image number (list_eval_partition.txt agrees with these).
NUM_TRAIN = 162_770
NUM_VAL = 19_867
NUM_TEST = 19_962
SPLIT_RANGES = {
    "train": (1, NUM_TRAIN),
    "val": (NUM_TRAIN + 1, NUM_TRAIN + NUM_VAL),
    "test": (NUM_TRAIN + NUM_VAL + 1, NUM_TRAIN + NUM_VAL + NUM_TEST),
}
PARTITION_CODES = {"0": "train", "1": "val", "2": "test"}
# The constructor parameter that sizes each split, for error messages.
_PARAM = {"train": "subset", "val": "val_size", "test": "test_subset"}

# A bar for a handful of files would only be noise in test and notebook output.
PROGRESS_MIN_FILES = 1000

_OFFICIAL_NAME = re.compile(r"^(\d+)\.jpg$", re.IGNORECASE)
_JPEG_SUFFIXES = (".jpg", ".jpeg")
_OTHER_IMAGE_SUFFIXES = (".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm")


def not_found(root: str | Path) -> DataError:
    return DataError(
        f"CelebA images not found in {root}{_what_is_there(Path(root))}: put the official aligned images "
        f"({IMAGES_FOLDER}/*.jpg, and {PARTITION_FILE}) there, or set dataset.root=<folder> "
        "($CELEBA_ROOT sets it for new runs)"
    )


def _what_is_there(root: Path) -> str:
    """Other images where the JPEGs were looked for (converted to PNG, say): worth saying, they are not read."""
    if not root.is_dir():
        return " (no such folder)"
    counts: dict[str, int] = {}
    for folder in (root, root / IMAGES_FOLDER):
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    suffix = Path(entry.name).suffix.lower()
                    if suffix in _OTHER_IMAGE_SUFFIXES and entry.is_file():
                        counts[suffix] = counts.get(suffix, 0) + 1
        except OSError:
            continue
    if not counts:
        return ""
    found = ", ".join(f"{n:,} {suffix} files" for suffix, n in sorted(counts.items()))
    return f" (it has {found}; only JPEG, the official format, is read)"


def _jpeg_names(folder: Path) -> tuple[list[str], dict[str, int]]:
    """The JPEGs' names, and how many images of other formats lie beside them (not read)."""
    names, others = [], {}
    try:
        with os.scandir(folder) as entries:
            for e in entries:
                suffix = Path(e.name).suffix.lower()
                if suffix in _JPEG_SUFFIXES and e.is_file():
                    names.append(e.name)
                elif suffix in _OTHER_IMAGE_SUFFIXES and e.is_file():
                    others[suffix] = others.get(suffix, 0) + 1
    except OSError:
        pass
    return names, others


def find_images(root: Path) -> tuple[Path, list[str]]:
    """The folder holding the JPEGs and their names (unordered).

    ``root`` may be the images folder itself or a folder above it (the
    official archive unpacks to ``img_align_celeba/``; Kaggle's nests it twice).
    """
    for folder in (root, root / IMAGES_FOLDER, root / IMAGES_FOLDER / IMAGES_FOLDER):
        names, others = _jpeg_names(folder)
        if names:
            if others:
                found = ", ".join(f"{n:,} {suffix} file{'s' if n != 1 else ''}" for suffix, n in sorted(others.items()))
                say(f"vae-collapse: warning: {folder} also holds {found}; only its {len(names):,} JPEGs (the official "
                    "format) are read", err=True)
            return folder, names
    raise not_found(root)


def find_partition(root: Path, images: Path) -> Path | None:
    seen = []
    for folder in (images, images.parent, root):
        if folder in seen:
            continue
        seen.append(folder)
        for name in PARTITION_ALTERNATIVES:
            if (folder / name).is_file():
                return folder / name
    return None


def read_partition(path: Path) -> dict[str, list[str]]:
    """Image names of each split, in file order."""
    splits: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read the partition file ({err})") from err
    for number, line in enumerate(lines, start=1):
        fields = [f for f in re.split(r"[,\s]+", line.strip()) if f]
        if not fields:
            continue
        if number == 1 and fields == ["image_id", "partition"]:
            continue
        if len(fields) != 2 or fields[1] not in PARTITION_CODES:
            raise DataError(
                f"{path}, line {number}: expected '<image>.jpg <0|1|2>', got {line.strip()!r}; "
                f"replace it with the official {PARTITION_FILE} or remove it"
            )
        splits[PARTITION_CODES[fields[1]]].append(fields[0])
    return splits


def partition_by_number(names: Sequence[str]) -> dict[str, list[str]]:
    """The official split of the officially named files, each in numeric order."""
    numbered = []
    for name in names:
        match = _OFFICIAL_NAME.match(name)
        if match:
            numbered.append((int(match.group(1)), name))
    numbered.sort()
    splits: dict[str, list[str]] = {}
    for split, (low, high) in SPLIT_RANGES.items():
        splits[split] = [name for i, name in numbered if low <= i <= high]
    return splits


def _decode_image(path: Path, crop_size: int, image_size: int) -> tuple[np.ndarray, tuple[int, int]]:
    """uint8 (3, image_size, image_size): centre crop, then bilinear resize; and the file's (width, height)."""
    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
    # Pillow reports bad files through several exception types.
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise DataError(
            f"{path}: cannot read this image ({err}); replace it with the official file"
        ) from err
    width, height = img.size
    if width < crop_size or height < crop_size:
        raise DataError(
            f"{path}: is {width}x{height}, smaller than crop_size={crop_size}; "
            f"use the official aligned {IMAGE_WIDTH}x{IMAGE_HEIGHT} images"
        )
    # Rounded like torchvision's CenterCrop, so the same pixels are kept.
    left = int(round((width - crop_size) / 2.0))
    top = int(round((height - crop_size) / 2.0))
    img = img.crop((left, top, left + crop_size, top + crop_size))
    if crop_size != image_size:
        img = img.resize((image_size, image_size), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1), (width, height)


def decode_images(
    folder: Path, names: Sequence[str], crop_size: int, image_size: int, desc: str = ""
) -> np.ndarray:
    """uint8 (N, 3, image_size, image_size), filled in place to avoid a second copy.

    Images of another size than the aligned set's are decoded, with one warning for the call (a
    split; pixels read back from the cache are not warned about again): the centre crop assumes
    faces aligned as there, and CelebA's in-the-wild folder has the same file names.
    """
    out = np.empty((len(names), 3, image_size, image_size), dtype=np.uint8)
    other_size: list[tuple[str, tuple[int, int]]] = []
    with tqdm(
        total=len(names),
        desc=desc or "Decoding CelebA",
        unit="img",
        file=sys.stderr,
        disable=len(names) < PROGRESS_MIN_FILES,
    ) as bar:
        for i, name in enumerate(names):
            out[i], size = _decode_image(folder / name, crop_size, image_size)
            if size != (IMAGE_WIDTH, IMAGE_HEIGHT):
                other_size.append((name, size))
            bar.update(1)
    if other_size:
        name, (width, height) = other_size[0]
        say(f"vae-collapse: warning: {folder}: {len(other_size):,} of {len(names):,} images are not the aligned "
            f"{IMAGE_WIDTH}x{IMAGE_HEIGHT} (e.g. {name}: {width}x{height}); the centre crop expects the aligned "
            "faces of img_align_celeba, not the in-the-wild img_celeba", err=True)
    return out


def cache_name(split: str, folder: Path, names: Sequence[str], image_size: int, crop_size: int) -> str:
    """The cache file of these images at this size.

    The digest covers each file's name, size and modification time: another selection of the
    same length, another folder whose files have the same names, or an image replaced in place
    is another entry, while a folder moved elsewhere (``mv`` keeps both) still finds its cache.
    Reading the pixels would be exact but costs what the cache saves.
    """
    digest = hashlib.sha1()
    for name in names:
        info = (folder / name).stat()
        digest.update(f"{name}\t{info.st_size}\t{info.st_mtime_ns}\n".encode("utf-8"))
    return f"{split}-{len(names)}-{image_size}px-crop{crop_size}-{digest.hexdigest()[:12]}.npy"


def _load_cached(path: Path, shape: tuple[int, ...], mmap: bool = False) -> np.ndarray:
    try:
        array = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: unreadable cache file ({err}); delete it to rebuild") from err
    if array.dtype != np.uint8 or array.shape != shape:
        raise DataError(
            f"{path}: cached array is {array.dtype} {array.shape}, expected uint8 {shape}; "
            f"delete it to rebuild"
        )
    return array


class CelebAFolderDataModule(InMemoryDataModule):
    """CelebA from a local ``img_align_celeba`` folder, as (N, 3*S*S) floats
    x/255 in [0, 1], flattened in CHW order; ``sample_shape`` is (3, S, S).

    Splits follow the official partition (``list_eval_partition.txt`` if found,
    else the official index ranges by file number). Training is the first
    ``subset`` training images in file order, validation the first
    ``val_size`` validation images and test the first ``test_subset`` test
    images; None takes the whole split and 0 leaves val or test out.

    Only the selected images are decoded. With ``cache_dir`` the uint8 pixels
    of each selection are saved once in ``<cache_dir>/celeba/`` and reused while
    the files keep their names, sizes and modification times. Memory:
    the full training split is ~8 GB as float32, hence ``subset``.
    """

    def __init__(
        self,
        root: str,
        image_size: int = 64,
        crop_size: int = 148,
        subset: int | None = None,
        val_size: int | None = None,
        test_subset: int | None = None,
        cache_dir: str | None = None,
        **base: Any,
    ) -> None:
        super().__init__(**base)
        if root is None or not str(root).strip():
            raise ValueError("dataset.root is empty (is $CELEBA_ROOT set to ''?): set it to the img_align_celeba "
                             "folder")
        _check_range("image_size", image_size, 1, None)
        _check_range(
            "crop_size", crop_size, 1, IMAGE_WIDTH, " (the width of the aligned images)"
        )
        if subset is not None:
            _check_range("subset", subset, 1, NUM_TRAIN, " (the official training images)")
        if val_size is not None:
            _check_range("val_size", val_size, 0, NUM_VAL, " (the official validation images)")
        if test_subset is not None:
            _check_range("test_subset", test_subset, 0, NUM_TEST, " (the official test images)")
        self.root = Path(os.path.expanduser(str(root)))
        self.image_size = image_size
        self.crop_size = crop_size
        self.subset = subset
        self.val_size = val_size
        self.test_subset = test_subset
        self.cache_dir = Path(os.path.expanduser(str(cache_dir))) if cache_dir else None
        self.known_sample_shape = self.image_shape

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (3, self.image_size, self.image_size)

    def _select(self) -> tuple[Path, dict[str, list[str]], list[str]]:
        """The images folder, the names to load for each split, and warnings for the splits left empty."""
        folder, names = find_images(self.root)
        partition_path = find_partition(self.root, folder)
        if partition_path is not None:
            partition = read_partition(partition_path)
            source = str(partition_path)
        else:
            partition = partition_by_number(names)
            source = "the official index ranges (no partition file found)"
            if not any(partition.values()):
                raise DataError(
                    f"{folder}: no images named like the official ones (000001.jpg ...) and "
                    f"no {PARTITION_FILE}; add the official partition file or the official images"
                )
        wanted = {"train": self.subset, "val": self.val_size, "test": self.test_subset}
        selected = {}
        for split, count in wanted.items():
            available = partition[split]
            if count is not None and count > len(available):
                raise DataError(
                    f"{folder}: has {len(available)} {split} images by {source}, fewer than "
                    f"dataset.{_PARAM[split]}={count}"
                )
            selected[split] = available if count is None else available[:count]
        if not selected["train"]:
            raise DataError(f"{folder}: no training images by {source}")
        skipped = {"val": "collapse is measured on the training images", "test": "no test/* metrics"}
        warnings = [
            f"vae-collapse: warning: {folder}: no {split} images by {source}; {consequence}"
            for split, consequence in skipped.items()
            if not selected[split] and wanted[split] != 0
        ]
        present = set(names)
        for split, chosen in selected.items():
            missing = [n for n in chosen if n not in present]
            if missing:
                raise DataError(
                    f"{folder}: {len(missing)} of the {len(chosen)} {split} images listed in "
                    f"{source} are missing (first: {missing[0]}); add them or set "
                    f"dataset.{_PARAM[split]} lower"
                )
        return folder, selected, warnings

    def _pixels(self, folder: Path, split: str, names: list[str]) -> np.ndarray:
        shape = (len(names), *self.image_shape)
        desc = f"Decoding CelebA {split}"
        if self.cache_dir is None:
            return decode_images(folder, names, self.crop_size, self.image_size, desc)
        final = self.cache_dir / "celeba"
        name = cache_name(split, folder, names, self.image_size, self.crop_size)
        if not (final / name).is_file():

            def build(out_dir: Path, _scratch: Path) -> None:
                pixels = decode_images(folder, names, self.crop_size, self.image_size, desc)
                np.save(out_dir / name, pixels)

            # Atomic, so a killed run never leaves a short array to be trusted.
            # The check maps the file rather than reading gigabytes twice.
            populate(final, [name], build, lambda path: _load_cached(path, shape, mmap=True))
        return _load_cached(final / name, shape)

    def _load(self) -> Splits:
        folder, selected, warnings = self._select()
        tensors = {
            split: images_to_tensor(self._pixels(folder, split, names)) if names else None
            for split, names in selected.items()
        }
        # After decoding, so that a bad image's error is the only line of a failed run.
        for warning in warnings:
            say(warning, err=True)
        return Splits(
            train=tensors["train"],
            val=tensors["val"],
            test=tensors["test"],
            sample_shape=self.image_shape,
        )

