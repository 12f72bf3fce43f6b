"""Linear encoder and decoder of the linear VAE."""

from __future__ import annotations

import torch
from torch import nn

from vae_collapse.maths.linear_vae import expected_squared_error


class LinearEncoder(nn.Module):
    """q(z | x) = N(V (x - mu), D), with one diagonal D shared by every x, as in the paper.

    ``centre`` is the decoder's mu, shared rather than copied: the encoder then sees centred
    data, so V's gradient carries no large rank-one term from the data mean. The implied bias
    b = -V mu is the best one once V is the optimal encoder M^-1 W^T, or once mu is the data
    mean (where pPCA's optimum puts it); in between it is a constraint. D is a
    log-variance (the reference code's form; see noise._log_parameter for why not log-std).
    """

    def __init__(self, data_dim: int, latent_dim: int, centre: nn.Parameter) -> None:
        super().__init__()
        if centre.shape != (data_dim,):
            raise ValueError(f"centre must have shape ({data_dim},), got {tuple(centre.shape)}")
        self.latent_dim = latent_dim
        self.V = nn.Parameter(torch.empty(latent_dim, data_dim))
        self.log_d = nn.Parameter(torch.zeros(latent_dim))
        self.centre = centre  # tied to the decoder's mu, like tied embeddings
        nn.init.xavier_uniform_(self.V)

    @property
    def b(self) -> torch.Tensor:
        return -(self.V @ self.centre)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return (x - self.centre) @ self.V.T, torch.exp(self.log_d)


class LinearDecoder(nn.Module):
    """p(x | z) has mean W z + mu; linear, so E_q of the squared error is exact."""

    def __init__(self, data_dim: int, latent_dim: int) -> None:
        super().__init__()
        self.W = nn.Parameter(torch.empty(data_dim, latent_dim))
        self.mu = nn.Parameter(torch.zeros(data_dim))
        nn.init.xavier_uniform_(self.W)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z @ self.W.T + self.mu

    def expected_squared_error(self, x: torch.Tensor, z_mean: torch.Tensor, z_var: torch.Tensor) -> torch.Tensor:
        return expected_squared_error(x, self.W, self.mu, z_mean, z_var)
