"""The importance-weighted bound (Burda et al. 2016) from log importance weights."""

from __future__ import annotations

import math

import torch


def iwae_bound(log_weights: torch.Tensor) -> torch.Tensor:
    """log (1/K) sum_k w_k per example, for log weights of shape (K, B).

    A lower bound on log p(x) that tightens as K grows and equals the ELBO's expectation at K = 1.
    """
    num_samples = log_weights.shape[0]
    return torch.logsumexp(log_weights, dim=0) - math.log(num_samples)


def merge_iwae(partial_bounds: list[torch.Tensor], counts: list[int]) -> torch.Tensor:
    """Combine bounds computed on chunks of K_1, K_2, ... samples into the bound on all of them."""
    total = sum(counts)
    stacked = torch.stack([b + math.log(c) for b, c in zip(partial_bounds, counts)])
    return torch.logsumexp(stacked, dim=0) - math.log(total)
