"""Data held on the model's device: batches are sliced there, in the same order as on the CPU.

No GPU here, so the "meta" device stands in for one: a tensor that lives elsewhere.
"""

from __future__ import annotations

import torch

from vae_collapse.data import SyntheticPPCADataModule, TensorBatches


def test_shuffled_batches_of_data_on_another_device_stay_there():
    data = torch.arange(40.0).reshape(20, 2)
    batches = list(TensorBatches(data.to("meta"), batch_size=6, shuffle=True, seed=3))
    assert [b.device.type for b in batches] == ["meta"] * 4
    assert [len(b) for b in batches] == [6, 6, 6, 2]


def test_hold_on_moves_the_training_split_once_and_the_loader_follows():
    dm = SyntheticPPCADataModule(data_dim=4, spectrum=[2.0], sigma2=0.1, n_train=30, n_test=5, batch_size=8)
    loader = dm.train_dataloader()
    same = dm.train_data
    dm.hold_on(torch.device("cpu"))
    assert dm.train_data is same  # already there: no copy
    dm.hold_on("meta")
    assert dm.train_data.device.type == "meta"
    assert dm.test_data.device.type == "cpu"  # read once at the end: left where it is
    assert [b.device.type for b in loader] == ["meta"] * 4  # the loader made before follows
