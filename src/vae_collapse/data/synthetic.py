"""Data from a known probabilistic PCA model, so fitted models can be checked
against the truth.

The model (Tipping & Bishop) is ``x = W z + mu + sqrt(sigma2) * eps`` with
``z ~ N(0, I_k)`` and ``eps ~ N(0, I_n)``, hence ``x ~ N(mu, W W^T + sigma2 I)``.
``W = U diag(sqrt(spectrum))`` with U a random n x k matrix with orthonormal
columns, so ``spectrum[j]`` is the squared norm of column j of W: the data
covariance has eigenvalues ``spectrum[j] + sigma2`` along U's columns and
``sigma2`` in the remaining n - k directions. ``mu ~ N(0, mean_scale^2 I)``;
a non-zero mean makes models learn their bias too (mean_scale=0 gives mu=0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

# Independent random streams per purpose, so e.g. changing n_val leaves the
# truth, the training set and the test set unchanged.
_STREAM_TRUTH, _STREAM_TRAIN, _STREAM_VAL, _STREAM_TEST = range(4)


@dataclass(frozen=True)
class PPCATruth:
    """The generating parameters, in float64."""

    W: torch.Tensor  # (n, k)
    mu: torch.Tensor  # (n,)
    sigma2: torch.Tensor  # scalar

    @property
    def data_dim(self) -> int:
        return self.W.shape[0]

    @property
    def latent_dim(self) -> int:
        return self.W.shape[1]

    def covariance(self) -> torch.Tensor:
        """Marginal covariance of x: W W^T + sigma2 I."""
        eye = torch.eye(self.data_dim, dtype=self.W.dtype)
        return self.W @ self.W.T + self.sigma2 * eye


@dataclass(frozen=True)
class PPCASample:
    truth: PPCATruth
    train: torch.Tensor
    val: torch.Tensor | None
    test: torch.Tensor | None


def _generator(*key: int) -> torch.Generator:
    state = np.random.SeedSequence(list(key)).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


# Samples are drawn in blocks of this many rows, each block from its own seed,
# so a split of n rows is the first n rows of any larger split: growing n_train
# only appends data. (torch.randn on n rows is not a prefix of randn on more.)
_BLOCK_ROWS = 4096


def make_truth(
    data_dim: int, spectrum: Sequence[float], sigma2: float, seed: int = 0, mean_scale: float = 1.0
) -> PPCATruth:
    spectrum = [float(s) for s in spectrum]
    k = len(spectrum)
    if data_dim < 1:
        raise ValueError(f"data_dim={data_dim}: must be positive")
    if not 1 <= k <= data_dim:
        raise ValueError(f"spectrum has {k} entries: need between 1 and data_dim={data_dim}")
    if not all(0 <= s < math.inf for s in spectrum):  # written so that nan fails too
        raise ValueError(f"spectrum={spectrum}: entries are variances and must be >= 0 and finite")
    if not 0 < sigma2 < math.inf:
        raise ValueError(f"sigma2={sigma2}: must be positive and finite")
    if not math.isfinite(mean_scale):
        raise ValueError(f"mean_scale={mean_scale}: must be finite")
    g = _generator(seed, _STREAM_TRUTH)
    gauss = torch.randn(data_dim, k, generator=g, dtype=torch.float64)
    q, r = torch.linalg.qr(gauss)
    # Sign-fixing makes U Haar-distributed rather than biased by QR's convention.
    signs = torch.sign(torch.diagonal(r))
    u = q * torch.where(signs == 0, 1.0, signs)
    w = u * torch.tensor(spectrum, dtype=torch.float64).sqrt()
    mu = mean_scale * torch.randn(data_dim, generator=g, dtype=torch.float64)
    return PPCATruth(W=w, mu=mu, sigma2=torch.tensor(float(sigma2), dtype=torch.float64))


def sample_ppca(
    truth: PPCATruth, n: int, seed: int = 0, stream: int = _STREAM_TRAIN
) -> torch.Tensor:
    """``n`` float64 draws of x, shape (n, data_dim); row i depends only on
    (seed, stream, i), not on n."""
    k, d = truth.latent_dim, truth.data_dim
    blocks = []
    for block in range(-(-n // _BLOCK_ROWS)):
        g = _generator(seed, stream, block)
        noise = torch.randn(_BLOCK_ROWS, k + d, generator=g, dtype=torch.float64)
        blocks.append(noise[: n - block * _BLOCK_ROWS])
    noise = torch.cat(blocks)
    z, eps = noise[:, :k], noise[:, k:]
    return z @ truth.W.T + truth.mu + truth.sigma2.sqrt() * eps


def sample_splits(
    truth: PPCATruth,
    n_train: int,
    n_test: int = 0,
    n_val: int = 0,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> PPCASample:
    """Draw the splits from ``truth``: generated in float64, returned in
    ``dtype``. Deterministic given the arguments; empty splits are None."""
    if n_train < 1:
        raise ValueError(f"n_train={n_train}: must be positive")
    for label, count in (("n_test", n_test), ("n_val", n_val)):
        if count < 0:
            raise ValueError(f"{label}={count}: must be >= 0")

    def split(count: int, stream: int) -> torch.Tensor | None:
        if count == 0:
            return None
        return sample_ppca(truth, count, seed, stream).to(dtype)

    return PPCASample(
        truth=truth,
        train=split(n_train, _STREAM_TRAIN),
        val=split(n_val, _STREAM_VAL),
        test=split(n_test, _STREAM_TEST),
    )


def make_ppca_data(
    data_dim: int,
    spectrum: Sequence[float],
    sigma2: float,
    n_train: int,
    n_test: int = 0,
    n_val: int = 0,
    seed: int = 0,
    mean_scale: float = 1.0,
    dtype: torch.dtype = torch.float32,
) -> PPCASample:
    """A fresh truth from ``seed`` and the splits drawn from it."""
    truth = make_truth(data_dim, spectrum, sigma2, seed=seed, mean_scale=mean_scale)
    return sample_splits(truth, n_train, n_test=n_test, n_val=n_val, seed=seed, dtype=dtype)
