"""The data modules inside a real (tiny, CPU) Lightning run."""

from __future__ import annotations

import warnings

import lightning.pytorch as pl
import pytest
import torch

from vae_collapse.data import InMemoryDataModule, Splits, SyntheticPPCADataModule


class Recorder(pl.LightningModule):
    """Records the batches it sees; the loss only exists to drive the loop."""

    def __init__(self, data_dim: int) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(data_dim, 1)
        self.train_batches: list[torch.Tensor] = []
        self.val_batches: list[torch.Tensor] = []

    def training_step(self, batch, batch_idx):
        self.train_batches.append(batch.detach().clone())
        return self.layer(batch).pow(2).mean()

    def validation_step(self, batch, batch_idx):
        self.val_batches.append(batch)
        self.log("val_loss", self.layer(batch).pow(2).mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def fit(dm: InMemoryDataModule, epochs: int = 2, **trainer_kwargs) -> Recorder:
    model = Recorder(dm.data_dim)
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **trainer_kwargs,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's advice about workers etc.
        trainer.fit(model, datamodule=dm)
    return model


def synthetic(**kwargs) -> SyntheticPPCADataModule:
    params = {"data_dim": 3, "spectrum": [2.0], "sigma2": 0.1, "n_train": 10, "n_test": 4}
    return SyntheticPPCADataModule(**{**params, **kwargs})


def test_full_batch_training_without_validation():
    dm = synthetic()
    model = fit(dm)
    assert len(model.train_batches) == 2
    assert all(torch.equal(b, dm.train_data) for b in model.train_batches)
    assert model.val_batches == []  # the empty val_dataloader is skipped cleanly


def test_minibatches_and_validation():
    dm = synthetic(n_val=5, batch_size=4, eval_batch_size=2)
    model = fit(dm)
    assert [len(b) for b in model.train_batches] == [4, 4, 2] * 2
    first, second = (torch.cat(model.train_batches[i : i + 3]) for i in (0, 3))
    key = lambda x: sorted(x[:, 0].tolist())  # noqa: E731
    assert key(first) == key(second) == key(dm.train_data)
    assert not torch.equal(first, second)  # a new order each epoch
    # Validation: sanity check (2 batches) plus one pass per epoch, in order.
    assert [len(b) for b in model.val_batches[-3:]] == [2, 2, 1]
    assert torch.equal(torch.cat(model.val_batches[-3:]), dm.val_data)


def test_no_shuffle_keeps_file_order():
    dm = synthetic(batch_size=4, shuffle=False)
    model = fit(dm, epochs=1)
    assert torch.equal(torch.cat(model.train_batches), dm.train_data)


def test_state_dict_resumes_the_shuffle_sequence():
    dm = synthetic(batch_size=3)
    loader = dm.train_dataloader()
    epochs = [torch.cat(list(loader)) for _ in range(3)]
    state = dm.state_dict()
    assert state == {"train_epoch": 3}
    resumed = synthetic(batch_size=3)
    resumed.load_state_dict({"train_epoch": 1})
    assert torch.equal(torch.cat(list(resumed.train_dataloader())), epochs[1])


def test_eval_dataloader():
    dm = synthetic(n_val=3, eval_batch_size=3, batch_size=2)
    batches = list(dm.eval_dataloader("train"))
    assert [len(b) for b in batches] == [3, 3, 3, 1]
    assert torch.equal(torch.cat(batches), dm.train_data)
    assert torch.equal(torch.cat(list(dm.eval_dataloader("test"))), dm.test_data)
    with pytest.raises(ValueError, match="split='nope'"):
        dm.eval_dataloader("nope")
    with pytest.raises(ValueError, match="no val split"):
        synthetic().eval_dataloader("val")


def test_setup_loads_once():
    calls = []

    class Counting(InMemoryDataModule):
        def _load(self) -> Splits:
            calls.append(1)
            return Splits(train=torch.zeros(4, 6), val=None, test=None, sample_shape=(2, 3))

    dm = Counting()
    assert dm.data_dim == 6 and dm.sample_shape == (2, 3)  # loads lazily
    dm.setup("fit")
    dm.setup("test")
    assert len(calls) == 1


def test_inconsistent_splits_rejected():
    class Bad(InMemoryDataModule):
        def _load(self) -> Splits:
            return Splits(
                train=torch.zeros(4, 6), val=torch.zeros(2, 5), test=None, sample_shape=(6,)
            )

    from vae_collapse.data import DataError

    with pytest.raises(DataError, match="Bad: its val split"):
        Bad().setup()


@pytest.mark.parametrize("train,sample_shape,message", [
    (torch.zeros(0, 3), (3,), "MyData: its train split has shape (0, 3); expected (N>0, 3)"),
    (torch.zeros(5, 3), (2, 2), "MyData: sample_shape (2, 2) does not hold the 3 values of a row"),
])
def test_a_user_data_module_with_bad_splits_gets_one_line_naming_it(train, sample_shape, message):
    from vae_collapse.data import DataError

    class MyData(InMemoryDataModule):
        def _load(self) -> Splits:
            return Splits(train=train, val=None, test=None, sample_shape=sample_shape)

    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        MyData().setup("fit")


def test_a_user_data_module_may_return_float64_rows():
    class NumpyDefault(InMemoryDataModule):
        def _load(self) -> Splits:
            return Splits(train=torch.rand(5, 3, dtype=torch.float64), val=None, test=None, sample_shape=(3,))

    data = NumpyDefault()
    data.setup("fit")
    assert data.train_data.dtype == torch.float32


def test_integer_rows_are_refused_in_one_line():
    from vae_collapse.data import DataError

    class RawBytes(InMemoryDataModule):
        def _load(self) -> Splits:
            return Splits(train=torch.zeros(5, 3, dtype=torch.uint8), val=None, test=None, sample_shape=(3,))

    with pytest.raises(DataError, match=r"RawBytes: its train split holds torch.uint8; expected floating-point rows"):
        RawBytes().setup("fit")
