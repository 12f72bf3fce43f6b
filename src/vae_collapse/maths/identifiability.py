"""Whether a linear decoder sits on pPCA's principal directions: the identifiability the ELBO adds.

pPCA's likelihood is the same for W and W R with any rotation R, so gradient ascent on it can
stop anywhere on that orbit. The linear VAE's ELBO (diagonal encoder covariance) is not: at its
maximum W^T W is diagonal and the columns lie on the top eigenvectors of the data covariance, up
to sign and order. Gradient training reaches the optimal ELBO value fast and turns into that
rotation slowly, so the value alone does not say whether a run got there; these numbers do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

# A column whose squared norm is below this fraction of the largest is collapsed: it has no direction.
USED_COLUMN = 1e-3
# |cos| above this counts a column as on its principal direction (an angle under about 8 degrees).
ALIGNED = 0.99


@dataclass(frozen=True)
class Identifiability:
    used_columns: int  # columns that are not collapsed
    aligned_columns: int  # of those, the ones within ALIGNED of their own one of the top ``used_columns`` eigenvectors
    min_alignment: float  # the worst such column's best |cos| (1.0: every used column on a principal direction)
    gram_off_diagonal: float  # max |(W^T W)_ij|, i != j, over used columns, relative to the largest diagonal

    def metrics(self, stage: str = "train") -> dict[str, float]:
        return {f"{stage}/aligned_columns": self.aligned_columns, f"{stage}/column_alignment": self.min_alignment,
                f"{stage}/gram_off_diagonal": self.gram_off_diagonal}


def identifiability(W: torch.Tensor, eigvecs: torch.Tensor) -> Identifiability:
    """``W`` (n, k) against ``eigvecs`` (n, n or more than k columns, by decreasing eigenvalue).

    Computed on the CPU in float64 (MPS has no float64). A W that is not finite (a diverged run)
    has no direction: every number is NaN.
    """
    W = W.detach().cpu().to(torch.float64)
    if not bool(torch.isfinite(W).all()):
        return Identifiability(W.shape[1], 0, math.nan, math.nan)
    norms2 = W.square().sum(0)
    if float(norms2.max()) == 0.0:
        return Identifiability(0, 0, 1.0, 0.0)
    used = W[:, norms2 > USED_COLUMN * norms2.max()]
    m = used.shape[1]
    directions = eigvecs[:, :m].cpu().to(torch.float64)
    cosines = (directions.T @ used).abs() / used.norm(dim=0)  # (m eigenvectors, m columns)
    best, which = cosines.max(dim=0)
    # Two columns on one eigenvector count once: the claim is one column per direction.
    aligned = len(set(which[best > ALIGNED].tolist()))
    gram = used.T @ used
    off = (gram - torch.diag(torch.diagonal(gram))).abs().max() / torch.diagonal(gram).max()
    return Identifiability(m, aligned, float(best.min()), float(off))
