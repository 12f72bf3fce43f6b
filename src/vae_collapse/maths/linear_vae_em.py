"""Coordinate ascent on the linear VAE's full-data ELBO: variational EM, optionally over-relaxed.

Each step maximises the ELBO over one block of parameters in closed form, from the data
moments alone (O(n^2 k) per step, whatever the number of examples):

* encoder (E-step): for a decoder (W, sigma2) the best diagonal encoder is V = M^-1 W^T,
  d_i = sigma2 / M_ii with M = W^T W + sigma2 I (:func:`optimal_encoder`);
* rotation: log p(x) is unchanged by W -> W R for orthogonal R, while the diagonal encoder's
  gap 1/2 (sum log M_ii - log det M) vanishes when W^T W is diagonal. Rotating W onto its
  right singular vectors is therefore an ascent step, after which the E-step posterior is exact;
* decoder (M-step): with an exact posterior this is Tipping and Bishop's EM update,
  W' = S W (sigma2 I + M^-1 W^T S W)^-1, sigma2' = tr(S - S W M^-1 W'^T) / n, mu = data mean.

Plain EM converges linearly and slowly along directions whose eigenvalues are close. The
adaptive over-relaxation of Salakhutdinov and Roweis (ICML 2003) extrapolates along the EM
step by a factor eta, grows eta while the ELBO keeps rising, and falls back to the plain EM
step (eta = 1) whenever it does not, so the ELBO never decreases.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from vae_collapse.maths.gaussian import LOG_2PI


@dataclass(frozen=True)
class DecoderState:
    """A decoder (W, sigma2) with the products every step reuses: S W and log p(x)."""

    W: torch.Tensor  # (n, k), columns orthogonal
    sigma2: torch.Tensor  # ()
    SW: torch.Tensor  # (n, k) = S @ W
    log_px: float  # average log p(x) = the ELBO under the optimal diagonal encoder
    chol_M: torch.Tensor  # Cholesky factor of M = W^T W + sigma2 I


def orthogonalise_columns(W: torch.Tensor) -> torch.Tensor:
    """W R with R orthogonal such that (W R)^T (W R) is diagonal (largest column first)."""
    _, R = torch.linalg.eigh(W.T @ W)
    return W @ R.flip(-1)


def decoder_state(S: torch.Tensor, trace_S: torch.Tensor, W: torch.Tensor, sigma2: torch.Tensor) -> DecoderState | None:
    """Evaluate a decoder on data with 1/N covariance S; None where sigma2 <= 0 or M is singular."""
    if not bool(sigma2 > 0):
        return None
    n, k = W.shape
    M = W.T @ W + sigma2 * torch.eye(k, dtype=W.dtype, device=W.device)
    chol, info = torch.linalg.cholesky_ex(M)
    if int(info) != 0:
        return None
    SW = S @ W
    logdet_M = 2.0 * torch.log(torch.diagonal(chol)).sum()
    tr_Cinv_S = (trace_S - torch.trace(torch.cholesky_solve(W.T @ SW, chol))) / sigma2
    log_px = -0.5 * (n * LOG_2PI + (n - k) * torch.log(sigma2) + logdet_M + tr_Cinv_S)
    value = float(log_px)
    if not math.isfinite(value):
        return None
    return DecoderState(W=W, sigma2=sigma2, SW=SW, log_px=value, chol_M=chol)


def em_update(state: DecoderState, trace_S: torch.Tensor, learn_sigma2: bool,
              min_sigma2: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """One exact-posterior EM step from ``state``: the new (W, sigma2), W not yet rotated.

    The M-step's objective in sigma2, -n/2 log sigma2 - A / (2 sigma2), has one peak, so with a
    floor the constrained update is the unconstrained one raised to ``min_sigma2``.
    """
    W, sigma2, SW, chol = state.W, state.sigma2, state.SW, state.chol_M
    k = W.shape[1]
    inner = sigma2 * torch.eye(k, dtype=W.dtype, device=W.device) + torch.cholesky_solve(W.T @ SW, chol)
    W_new = torch.linalg.solve(inner.T, SW.T).T  # S W inner^-1
    if not learn_sigma2:
        return W_new, sigma2
    sigma2_new = (trace_S - (SW * torch.cholesky_solve(W_new.T, chol).T).sum()) / W.shape[0]
    return W_new, torch.clamp(sigma2_new, min=min_sigma2)


class OverRelaxedEM:
    """Ascent on the linear VAE ELBO by (over-relaxed) variational EM, from data moments.

    ``growth`` multiplies the extrapolation factor after every accepted over-relaxed step;
    ``growth = 1`` is plain EM. A learned sigma2 stays at or above ``min_sigma2`` (the noise
    policy's floor). Work in float64: the closed forms subtract traces of
    similar size, and float32 would put the last hundredth of a nat out of reach.
    """

    def __init__(self, cov: torch.Tensor, W: torch.Tensor, sigma2, learn_sigma2: bool = True,
                 growth: float = 1.1, dtype: torch.dtype = torch.float64, min_sigma2: float = 0.0) -> None:
        if growth < 1.0:
            raise ValueError(f"growth={growth} must be >= 1 (1 is plain EM)")
        self.S = cov.to(dtype)
        self.trace_S = torch.trace(self.S)
        self.learn_sigma2 = learn_sigma2
        self.growth = growth
        self.min_sigma2 = float(min_sigma2)
        self.eta = 1.0
        self.last_factor = 1.0  # the factor the last step moved by: eta where it was taken, 1 for plain EM
        sigma2 = torch.as_tensor(sigma2, dtype=dtype, device=self.S.device)
        state = decoder_state(self.S, self.trace_S, orthogonalise_columns(W.to(dtype)), sigma2)
        if state is None:
            raise ValueError("the starting decoder gives no finite log-likelihood (sigma2 <= 0 or M singular)")
        self.state = state

    def state_dict(self) -> dict[str, Any]:
        """What the next steps depend on beyond the weights: the float64 decoder and the extrapolation."""
        return {"eta": self.eta, "last_factor": self.last_factor, "W": self.state.W.clone(),
                "sigma2": self.state.sigma2.clone()}

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        """Continue exactly where :meth:`state_dict` was taken (W as saved: orthogonalising it again
        could flip its columns' signs)."""
        # A checkpoint from before the floor was kept may hold a sigma2 below it.
        sigma2 = torch.as_tensor(saved["sigma2"]).to(self.S)
        sigma2 = torch.clamp(sigma2, min=self.min_sigma2) if self.learn_sigma2 else sigma2
        state = decoder_state(self.S, self.trace_S, saved["W"].to(self.S), sigma2)
        if state is None:
            raise ValueError("the saved EM state gives no finite log-likelihood")
        self.state, self.eta = state, float(saved["eta"])
        self.last_factor = float(saved.get("last_factor", 1.0))  # absent from older checkpoints

    def step(self) -> DecoderState:
        """One ascent step; returns the new state, whose ELBO is never below the old one."""
        W_em, sigma2_em = em_update(self.state, self.trace_S, self.learn_sigma2, self.min_sigma2)
        if self.growth > 1.0 and self.eta > 1.0:
            W_try = self.state.W + self.eta * (W_em - self.state.W)
            sigma2_try = torch.clamp(self.state.sigma2 + self.eta * (sigma2_em - self.state.sigma2),
                                     min=self.min_sigma2)
            tried = decoder_state(self.S, self.trace_S, orthogonalise_columns(W_try), sigma2_try)
            if tried is not None and tried.log_px > self.state.log_px:
                self.state, self.last_factor = tried, self.eta
                self.eta *= self.growth
                return tried
        plain = decoder_state(self.S, self.trace_S, orthogonalise_columns(W_em), sigma2_em)
        if plain is not None and plain.log_px >= self.state.log_px:
            self.state = plain
        self.last_factor = 1.0
        # Restart the extrapolation from the plain step; the next over-relaxed try uses growth.
        self.eta = self.growth
        return self.state
