"""First and second moments of a data set: all the full-batch linear VAE needs."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DataMoments:
    """Mean and 1/N covariance of a data set (the normalisation a full-batch ELBO sees)."""

    mean: torch.Tensor  # (n,)
    cov: torch.Tensor  # (n, n)
    num_examples: int

    @property
    def dim(self) -> int:
        return self.mean.shape[0]


def data_moments(x: torch.Tensor, dtype: torch.dtype = torch.float64, chunk: int = 8192) -> DataMoments:
    """Moments of the rows of ``x`` in ``dtype``; chunked so 60k x 784 never needs a float64 copy."""
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"data_moments expects a non-empty (N, n) matrix, got shape {tuple(x.shape)}")
    num, dim = x.shape
    mean = torch.zeros(dim, dtype=dtype, device=x.device)
    for start in range(0, num, chunk):
        mean += x[start : start + chunk].to(dtype).sum(0)
    mean /= num
    cov = torch.zeros(dim, dim, dtype=dtype, device=x.device)
    for start in range(0, num, chunk):
        centred = x[start : start + chunk].to(dtype) - mean
        cov += centred.T @ centred
    cov /= num
    return DataMoments(mean=mean, cov=cov, num_examples=num)
