from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from vae_collapse.data import TensorBatches


def rows(n: int = 23, dim: int = 3) -> torch.Tensor:
    # Column 0 holds the row index, so batches tell which rows they contain.
    return torch.arange(n, dtype=torch.float64)[:, None].repeat(1, dim)


def epoch_rows(loader) -> list[list[int]]:
    return [batch[:, 0].long().tolist() for batch in loader]


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("batch_size", [1, 5, 22])
def test_every_row_once_per_epoch(shuffle, batch_size):
    data = rows()
    ds = TensorBatches(data, batch_size, shuffle=shuffle, seed=3)
    loader = DataLoader(ds, batch_size=None)
    assert len(loader) == len(ds) == -(-23 // batch_size)
    for _ in range(3):
        batches = epoch_rows(loader)
        assert len(batches) == len(ds)
        assert all(len(b) == batch_size for b in batches[:-1])
        flat = [i for b in batches for i in b]
        assert sorted(flat) == list(range(23))
        if not shuffle:
            assert flat == list(range(23))


def test_unshuffled_batches_are_views():
    data = rows()
    batch = next(iter(TensorBatches(data, 5)))
    assert batch.data_ptr() == data.data_ptr()


def test_shuffles_differ_by_epoch_and_repeat_by_seed():
    a = TensorBatches(rows(), 4, shuffle=True, seed=0)
    b = TensorBatches(rows(), 4, shuffle=True, seed=0)
    c = TensorBatches(rows(), 4, shuffle=True, seed=1)
    a_epochs = [epoch_rows(a) for _ in range(3)]
    assert a_epochs[0] != a_epochs[1] != a_epochs[2]
    assert [epoch_rows(b) for _ in range(3)] == a_epochs
    assert epoch_rows(c) != a_epochs[0]


def test_set_epoch_reproduces_an_epoch():
    ds = TensorBatches(rows(), 4, shuffle=True, seed=7)
    epochs = [epoch_rows(ds) for _ in range(3)]
    ds.set_epoch(1)
    assert epoch_rows(ds) == epochs[1]


@pytest.mark.parametrize("batch_size", [None, 23, 100])
def test_full_batch_is_the_tensor_itself(batch_size):
    data = rows()
    ds = TensorBatches(data, batch_size, shuffle=True)
    loader = DataLoader(ds, batch_size=None)
    assert len(loader) == 1
    for _ in range(2):
        (batch,) = list(loader)
        assert batch is data


def test_drop_last():
    ds = TensorBatches(rows(), 5, drop_last=True)
    assert len(ds) == 4
    assert [len(b) for b in ds] == [5, 5, 5, 5]


@pytest.mark.parametrize("batch_size", [0, -3])
def test_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        TensorBatches(rows(), batch_size)


def test_empty_data_rejected():
    with pytest.raises(ValueError):
        TensorBatches(torch.empty(0, 3))


def test_set_epoch_can_leave_out_the_batches_a_resumed_run_already_trained_on():
    data = torch.arange(10.0).reshape(10, 1)
    whole = list(TensorBatches(data, batch_size=3, shuffle=True, seed=4))
    resumed = TensorBatches(data, batch_size=3, shuffle=True, seed=4)
    resumed.set_epoch(0, skip_batches=2)
    rest = list(resumed)
    assert len(rest) == 2 and all(torch.equal(a, b) for a, b in zip(rest, whole[2:]))
    assert len(list(resumed)) == 4  # only the first epoch after a resume is shortened
