"""Linear encoder and decoder of the linear VAE."""

from __future__ import annotations

import torch
from torch import nn

from vae_collapse.maths.linear_vae import expected_squared_error


class LinearEncoder(nn.Module):
    """q(z | x) = N(V x + b, D), with one diagonal D shared by every x (as in the paper)."""

    def __init__(self, data_dim: int, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.V = nn.Parameter(torch.empty(latent_dim, data_dim))
        self.b = nn.Parameter(torch.zeros(latent_dim))
        self.log_d = nn.Parameter(torch.zeros(latent_dim))
        nn.init.xavier_uniform_(self.V)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x @ self.V.T + self.b, torch.exp(self.log_d)


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
