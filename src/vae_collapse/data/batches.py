"""Minibatches cut straight from one in-memory tensor.

A map-style Dataset would index every sample and collate them back together,
which costs far more than the models themselves on MNIST-sized data. Here each
batch is one slice or one index_select of the whole tensor.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import IterableDataset


class TensorBatches(IterableDataset):
    """Yields batches of rows of ``data``; use with ``DataLoader(ds, batch_size=None)``.

    ``batch_size`` None (or >= N) gives one full batch per epoch: the tensor
    itself, not a copy, and never shuffled since order within a batch does not
    matter. Otherwise, with ``shuffle``, every epoch takes a new permutation
    that depends only on ``(seed, epoch)``, so a run resumed at epoch k sees the
    same batches as an uninterrupted one (see ``set_epoch``). The last batch
    may be smaller unless ``drop_last``.
    """

    def __init__(
        self,
        data: torch.Tensor,
        batch_size: int | None = None,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        super().__init__()
        if data.ndim == 0 or len(data) == 0:
            raise ValueError(f"TensorBatches needs at least one row, got shape {tuple(data.shape)}")
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size={batch_size}: must be positive or None (full batch)")
        self.data = data
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.epoch = 0
        self.skip_batches = 0  # of the next epoch only: where a run resumed mid-epoch left off

    @property
    def full_batch(self) -> bool:
        return self.batch_size is None or self.batch_size >= len(self.data)

    def __len__(self) -> int:
        if self.full_batch:
            return 1
        n, b = len(self.data), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:
        """Which epoch the next ``iter()`` produces (it counts up by itself), and how many of its
        first batches to leave out (those a resumed run had already trained on)."""
        self.epoch = epoch
        self.skip_batches = skip_batches

    def _permutation(self, epoch: int) -> torch.Tensor:
        # SeedSequence mixes (seed, epoch) so nearby seeds give unrelated orders.
        state = np.random.SeedSequence([self.seed, epoch]).generate_state(1, np.uint64)[0]
        generator = torch.Generator().manual_seed(int(state))
        return torch.randperm(len(self.data), generator=generator)

    def __iter__(self) -> Iterator[torch.Tensor]:
        epoch, skip = self.epoch, self.skip_batches
        self.epoch += 1
        self.skip_batches = 0
        if self.full_batch:
            yield self.data
            return
        order = self._permutation(epoch) if self.shuffle else None
        if order is not None:
            # Drawn on the CPU, so a seed gives the same batches on every device.
            order = order.to(self.data.device)
        for start in range(skip * self.batch_size, len(self) * self.batch_size, self.batch_size):
            stop = start + self.batch_size
            if order is None:
                yield self.data[start:stop]
            else:
                # Gathering per batch avoids holding a second shuffled copy of
                # the whole data set.
                yield self.data.index_select(0, order[start:stop])
