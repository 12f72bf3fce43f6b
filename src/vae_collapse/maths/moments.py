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


def data_mean(x: torch.Tensor, dtype: torch.dtype = torch.float64, chunk: int = 8192) -> torch.Tensor:
    """Mean of the rows of ``x`` in ``dtype``, chunked like :func:`data_moments`."""
    mean = torch.zeros(x.shape[1], dtype=dtype, device=x.device)
    for start in range(0, x.shape[0], chunk):
        mean += x[start : start + chunk].to(dtype).sum(0)
    return mean / x.shape[0]


def data_moments(x: torch.Tensor, dtype: torch.dtype = torch.float64, chunk: int = 8192) -> DataMoments:
    """Moments of the rows of ``x`` in ``dtype``; chunked so 60k x 784 never needs a float64 copy."""
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"data_moments expects a non-empty (N, n) matrix, got shape {tuple(x.shape)}")
    num, dim = x.shape
    mean = data_mean(x, dtype, chunk)
    cov = torch.zeros(dim, dim, dtype=dtype, device=x.device)
    for start in range(0, num, chunk):
        centred = x[start : start + chunk].to(dtype) - mean
        cov += centred.T @ centred
    cov /= num
    return DataMoments(mean=mean, cov=cov, num_examples=num)


def covariance_eigenvalues(x: torch.Tensor, dtype: torch.dtype = torch.float64, block: int = 2048) -> torch.Tensor:
    """Eigenvalues of the 1/N covariance of the rows of ``x``, decreasing, length n.

    With fewer examples than dimensions (N < n) the covariance has rank below N, and its non-zero
    eigenvalues are those of the N x N Gram matrix of the centred rows; the rest are zero. Going
    through the smaller of the two matrices is what makes the ``ppca/*`` reference cheap on
    image data: 5,000 CelebA images at 64x64x3 (n = 12,288) need a 5,000^2 eigenproblem instead
    of a 12,288^2 one.
    """
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"covariance_eigenvalues expects a non-empty (N, n) matrix, got shape {tuple(x.shape)}")
    num, dim = x.shape
    if num >= dim:
        small = data_moments(x, dtype).cov
    else:
        mean = data_mean(x, dtype)
        small = torch.zeros(num, num, dtype=dtype, device=x.device)
        for start in range(0, dim, block):  # feature blocks keep the float64 copy to N x block
            centred = x[:, start : start + block].to(dtype) - mean[start : start + block]
            small += centred @ centred.T
        small /= num
    eigvals = torch.linalg.eigvalsh(small).flip(0).clamp_min(0.0)  # round-off negatives are zeros
    return torch.cat([eigvals, eigvals.new_zeros(dim - eigvals.shape[0])])


class StreamingMoments:
    """The 1/N covariance of rows that arrive in batches, without keeping them.

    Sums are taken in float64 about the first batch's mean, so that a large common offset (the
    pixel means) does not cancel digits away in E[x x^T] - E[x] E[x]^T. They stay on the rows'
    device: on a GPU the n x n products of full CelebA take seconds, on a CPU minutes.
    """

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.shift: torch.Tensor | None = None
        self.total: torch.Tensor | None = None
        self.outer: torch.Tensor | None = None
        self.count = 0

    def add(self, rows: torch.Tensor) -> None:
        if rows.device.type == "mps":  # no float64 there
            rows = rows.cpu()
        rows = rows.to(torch.float64)
        if self.shift is None:
            self.shift = rows.mean(0)
            self.total = torch.zeros(self.dim, dtype=torch.float64, device=rows.device)
            self.outer = torch.zeros(self.dim, self.dim, dtype=torch.float64, device=rows.device)
        centred = rows.to(self.shift.device) - self.shift
        self.total += centred.sum(0)
        self.outer += centred.T @ centred
        self.count += rows.shape[0]

    def covariance(self) -> torch.Tensor:
        if self.count == 0:
            raise ValueError("no rows were added")
        mean = self.total / self.count
        return self.outer / self.count - torch.outer(mean, mean)

    def eigenvalues(self) -> torch.Tensor:
        """Decreasing, on the CPU, as :func:`covariance_eigenvalues` gives them."""
        return torch.linalg.eigvalsh(self.covariance()).flip(0).clamp_min(0.0).cpu()
