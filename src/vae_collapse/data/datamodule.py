"""Lightning data modules for data sets that fit in memory as one tensor.

Every split is a single float tensor of flattened samples, served by
TensorBatches (see batches.py). Batches are plain tensors, not tuples: the
models here are unsupervised, so labels are kept on the side only.
"""

from __future__ import annotations

import dataclasses
import math

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader

from .batches import TensorBatches
from .errors import DataError
from .idx_sources import (
    IMAGE_SHAPE,
    NUM_TEST,
    NUM_TRAIN,
    SOURCES,
    ensure_idx_dataset,
    images_to_tensor,
    labels_to_tensor,
    read_split,
)
from .synthetic import PPCATruth, make_truth, sample_splits

SPLIT_NAMES = ("train", "val", "test")


@dataclass
class Splits:
    train: torch.Tensor  # (N, n) float
    val: torch.Tensor | None  # None when there is no validation split
    test: torch.Tensor | None
    sample_shape: tuple[int, ...]  # e.g. (1, 28, 28); flat data has (n,)
    train_labels: torch.Tensor | None = None  # int64, where the data set has labels
    val_labels: torch.Tensor | None = None
    test_labels: torch.Tensor | None = None


class InMemoryDataModule(pl.LightningDataModule):
    """Base class: subclasses implement ``_load() -> Splits`` (and, if they
    fetch anything, ``prepare_data``).

    ``batch_size`` None means full-batch training. Without a validation split
    ``val_dataloader`` returns ``[]``, which Lightning 2.6 accepts and skips
    (it warns "Total length of `list` across ranks is zero"); pass
    ``limit_val_batches=0`` when ``has_val`` is False to avoid the warning, and
    do not monitor validation metrics then.

    The data properties load the data on first use, so a model can be sized
    from ``data_dim`` before ``Trainer.fit`` calls ``setup``.
    """

    def __init__(
        self,
        batch_size: int | None = None,
        eval_batch_size: int = 10000,
        shuffle: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size={batch_size}: must be positive, or null for full batch")
        if eval_batch_size < 1:
            raise ValueError(f"eval_batch_size={eval_batch_size}: must be positive")
        _check_range("seed", seed, 0, 2**32 - 1)  # numpy's range; torch would take more, numpy not
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.shuffle = shuffle
        self.seed = seed
        self._splits: Splits | None = None
        self._train_batches: TensorBatches | None = None
        self._resume_epoch: int | None = None
        self._resume_skip = 0

    def _load(self) -> Splits:
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self._splits is None:
            splits = _as_float32(self._load(), type(self).__name__)
            _check_splits(splits, type(self).__name__)
            self._splits = splits

    @property
    def splits(self) -> Splits:
        self.setup()
        assert self._splits is not None
        return self._splits

    # Set by subclasses that know their shape before loading, so that models can be
    # built (and bad latent sizes rejected) before a data set is fetched.
    known_sample_shape: tuple[int, ...] | None = None

    @property
    def data_dim(self) -> int:
        return math.prod(self.sample_shape)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return self.known_sample_shape or self.splits.sample_shape

    @property
    def train_data(self) -> torch.Tensor:
        return self.splits.train

    @property
    def val_data(self) -> torch.Tensor | None:
        return self.splits.val

    @property
    def test_data(self) -> torch.Tensor | None:
        return self.splits.test

    @property
    def num_train(self) -> int:
        return len(self.splits.train)

    @property
    def is_full_batch(self) -> bool:
        """Every training step sees the whole training set (so its moments are all a linear model needs)."""
        return self.batch_size is None or self.batch_size >= self.num_train

    @property
    def has_val(self) -> bool:
        return self.splits.val is not None

    @property
    def has_test(self) -> bool:
        return self.splits.test is not None

    def hold_on(self, device: torch.device | str) -> None:
        """Keep the training split on ``device`` (the model's), so batches are sliced there.

        Lightning would otherwise copy every batch to the device; here the data crosses once.
        The other splits stay where they are: they are only read once, at the end.
        """
        device = torch.device(device)
        splits = self.splits
        if splits.train.device != device:
            splits.train = splits.train.to(device)
            if self._train_batches is not None:
                self._train_batches.data = splits.train

    def split_data(self, split: str) -> torch.Tensor | None:
        if split not in SPLIT_NAMES:
            raise ValueError(f"split={split!r}: choose one of {SPLIT_NAMES}")
        return getattr(self.splits, split)

    def train_dataloader(self) -> DataLoader:
        # One TensorBatches per module, so its epoch counter (the shuffle
        # order) carries on if Lightning asks for the loader again.
        if self._train_batches is None:
            self._train_batches = TensorBatches(
                self.train_data, self.batch_size, shuffle=self.shuffle, seed=self.seed
            )
            if self._resume_epoch is not None:
                self._train_batches.set_epoch(self._resume_epoch, self._resume_skip)
        return _loader(self._train_batches)

    def val_dataloader(self) -> DataLoader | list:
        return self.eval_dataloader("val") if self.has_val else []

    def test_dataloader(self) -> DataLoader | list:
        return self.eval_dataloader("test") if self.has_test else []

    def eval_dataloader(self, split: str) -> DataLoader:
        """Unshuffled batches of ``eval_batch_size`` over 'train', 'val' or 'test'."""
        data = self.split_data(split)
        if data is None:
            raise ValueError(f"this data module has no {split} split")
        return _loader(TensorBatches(data, self.eval_batch_size))

    def state_dict(self) -> dict[str, Any]:
        """Where the shuffled batches stand, saved in checkpoints: a resumed run, even one stopped
        in the middle of an epoch, trains on the same batches as an uninterrupted one."""
        batches = self._train_batches
        if batches is None:
            return {}
        done = self._batches_done_this_epoch()
        if 0 < done < len(batches):  # mid-epoch: the iterator has already moved to this epoch
            return {"train_epoch": batches.epoch - 1, "train_batches_done": done}
        return {"train_epoch": batches.epoch}

    def _batches_done_this_epoch(self) -> int:
        # Lightning pre-fetches a batch, so the iterator cannot say how many were trained on.
        trainer = getattr(self, "trainer", None)
        try:
            return int(trainer.fit_loop.epoch_loop.batch_progress.current.processed)
        except AttributeError:
            return 0

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        epoch = state_dict.get("train_epoch")
        if epoch is None:
            return
        self._resume_epoch = int(epoch)
        self._resume_skip = int(state_dict.get("train_batches_done", 0))
        if self._train_batches is not None:
            self._train_batches.set_epoch(self._resume_epoch, self._resume_skip)


def _loader(batches: TensorBatches) -> DataLoader:
    # A DataLoader draws a seed from the global torch RNG each time it is iterated, unless it has a
    # generator of its own. The models sample from the global RNG (which checkpoints carry), so that
    # draw would shift a run resumed mid-epoch, or one that validates, off the uninterrupted run's noise.
    return DataLoader(batches, batch_size=None, generator=torch.Generator())


def _as_float32(splits: Splits, owner: str) -> Splits:
    """Rows as float32, the models' dtype: a user's NumPy data is float64 unless told otherwise."""
    changed = {}
    for name in SPLIT_NAMES:
        data = getattr(splits, name)
        if data is None or data.dtype == torch.float32:
            continue
        if not data.is_floating_point():  # e.g. raw uint8 pixels: the scale is the data set's choice
            raise DataError(f"{owner}: its {name} split holds {data.dtype}; expected floating-point rows "
                            "(scale integer pixels yourself, e.g. x / 255)")
        changed[name] = data.float()
    return dataclasses.replace(splits, **changed) if changed else splits


def _check_splits(splits: Splits, owner: str) -> None:
    """What a data module's ``_load`` returned: a DataError (one line) that names the module."""
    n = splits.train.shape[1] if splits.train.ndim == 2 else None
    for name in SPLIT_NAMES:
        data = getattr(splits, name)
        if data is None:
            continue
        if data.ndim != 2 or data.shape[1] != n or len(data) == 0:
            raise DataError(f"{owner}: its {name} split has shape {tuple(data.shape)}; expected (N>0, {n}), "
                            f"flat rows of the same width in every split")
    if math.prod(splits.sample_shape) != n:
        raise DataError(f"{owner}: sample_shape {splits.sample_shape} does not hold the {n} values of a row")


def _check_range(param: str, value: int, low: int, high: int | None, why: str = "") -> None:
    if high is None:
        if value < low:
            raise ValueError(f"dataset.{param}={value}: must be at least {low}")
    elif not low <= value <= high:
        raise ValueError(f"dataset.{param}={value}: must be between {low} and {high}{why}")


class IDXImageDataModule(InMemoryDataModule):
    """MNIST or Fashion-MNIST, pixels as x/255 in [0, 1], flattened to 784.

    Validation is the LAST ``val_size`` images of the official 60k training
    file; training is the first ``subset`` of the remaining images in file
    order, so a small subset keeps the same images when val_size changes (as
    long as the two do not overlap); test is the first ``test_subset`` of the
    10k test images (0 for none).
    """

    def __init__(
        self,
        name: str,
        cache_dir: str,
        subset: int | None = None,
        val_size: int = 0,
        test_subset: int | None = None,
        mirror_url: str | None = None,
        **base: Any,
    ) -> None:
        super().__init__(**base)
        if name not in SOURCES:
            raise ValueError(f"dataset.name={name!r}: choose one of {sorted(SOURCES)}")
        if not str(cache_dir).strip():
            raise ValueError("cache_dir='' must name a folder (it is paths.data_dir by default: "
                             "$VAE_COLLAPSE_DATA, or ~/.cache/vae-collapse where that is unset)")
        _check_range("val_size", val_size, 0, NUM_TRAIN - 1)
        if subset is not None:
            _check_range(
                "subset",
                subset,
                1,
                NUM_TRAIN - val_size,
                f" (the {NUM_TRAIN} training images minus val_size={val_size})",
            )
        if test_subset is not None:
            _check_range("test_subset", test_subset, 0, NUM_TEST)
        self.name = name
        self.known_sample_shape = IMAGE_SHAPE
        self.cache_dir = os.path.expanduser(str(cache_dir))
        self.subset = subset
        self.val_size = val_size
        self.test_subset = test_subset
        self.mirror_url = mirror_url or None
        self._folder = None

    def prepare_data(self) -> None:
        self._folder = ensure_idx_dataset(self.name, self.cache_dir, self.mirror_url)

    def _load(self) -> Splits:
        # Also verifies the files, in processes where prepare_data did not run.
        folder = self._folder or ensure_idx_dataset(self.name, self.cache_dir, self.mirror_url)
        images, labels = read_split(folder, "train")
        n_rest = len(images) - self.val_size
        n_train = n_rest if self.subset is None else self.subset
        if n_rest < 1 or n_train > n_rest:
            raise DataError(
                f"{folder}: has {len(images)} training images, too few for "
                f"subset={self.subset} plus val_size={self.val_size}"
            )
        test_images, test_labels = read_split(folder, "test")
        n_test = len(test_images)
        if self.test_subset is not None:
            n_test = min(self.test_subset, n_test)
        has_val, has_test = self.val_size > 0, n_test > 0
        return Splits(
            train=images_to_tensor(images[:n_train]),
            val=images_to_tensor(images[n_rest:]) if has_val else None,
            test=images_to_tensor(test_images[:n_test]) if has_test else None,
            sample_shape=IMAGE_SHAPE,
            train_labels=labels_to_tensor(labels[:n_train]),
            val_labels=labels_to_tensor(labels[n_rest:]) if has_val else None,
            test_labels=labels_to_tensor(test_labels[:n_test]) if has_test else None,
        )


class SyntheticPPCADataModule(InMemoryDataModule):
    """Samples of a known pPCA model (see synthetic.py); ``truth`` holds it.

    ``seed`` fixes both the data and the shuffle order.
    """

    def __init__(
        self,
        data_dim: int,
        spectrum: Sequence[float],
        sigma2: float,
        n_train: int,
        n_test: int = 10000,
        n_val: int = 0,
        seed: int = 0,
        mean_scale: float = 1.0,
        **base: Any,
    ) -> None:
        super().__init__(seed=seed, **base)
        _check_range("n_train", n_train, 1, None)
        _check_range("n_test", n_test, 0, None)
        _check_range("n_val", n_val, 0, None)
        self.n_train, self.n_test, self.n_val = n_train, n_test, n_val
        self.known_sample_shape = (data_dim,)
        # Built now (cheap) so bad parameters fail at construction and the
        # truth is known before any data is drawn.
        self.truth: PPCATruth = make_truth(
            data_dim,
            [float(s) for s in spectrum],
            float(sigma2),
            seed=seed,
            mean_scale=float(mean_scale),
        )

    def _load(self) -> Splits:
        sample = sample_splits(
            self.truth, self.n_train, n_test=self.n_test, n_val=self.n_val, seed=self.seed
        )
        return Splits(
            train=sample.train,
            val=sample.val,
            test=sample.test,
            sample_shape=(self.truth.data_dim,),
        )
