"""Data: MNIST-family images and synthetic pPCA samples as in-memory tensors."""

from .batches import TensorBatches
from .celeba import CelebAFolderDataModule
from .datamodule import (
    IDXImageDataModule,
    InMemoryDataModule,
    Splits,
    SyntheticPPCADataModule,
)
from .errors import DataError
from .synthetic import PPCATruth

__all__ = [
    "CelebAFolderDataModule",
    "DataError",
    "IDXImageDataModule",
    "InMemoryDataModule",
    "PPCATruth",
    "Splits",
    "SyntheticPPCADataModule",
    "TensorBatches",
]
