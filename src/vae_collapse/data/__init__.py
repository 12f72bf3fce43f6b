"""Data: MNIST-family images and synthetic pPCA samples as in-memory tensors."""

from .batches import TensorBatches
from .datamodule import (
    IDXImageDataModule,
    InMemoryDataModule,
    Splits,
    SyntheticPPCADataModule,
)
from .errors import DataError
from .synthetic import PPCATruth

__all__ = [
    "DataError",
    "IDXImageDataModule",
    "InMemoryDataModule",
    "PPCATruth",
    "Splits",
    "SyntheticPPCADataModule",
    "TensorBatches",
]
