"""Linear encoder and decoder of the linear VAE."""

from __future__ import annotations

import torch
from torch import nn

from vae_collapse.maths.linear_vae import expected_squared_error


class LinearEncoder(nn.Module):
    """q(z | x) = N(V x + b, D), with one diagonal D shared by every x (as in the paper).

    D is stored as log standard deviations: at the optimum d_i = sigma^2 / M_ii is tiny on
    MNIST (log d ~ -8 from 0 at the start), and Adam moves a parameter by about its learning
    rate per step, so the log-std form halves the distance and the steps it takes.
    """

    def __init__(self, data_dim: int, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.V = nn.Parameter(torch.empty(latent_dim, data_dim))
        self.b = nn.Parameter(torch.zeros(latent_dim))
        self.log_std = nn.Parameter(torch.zeros(latent_dim))
        nn.init.xavier_uniform_(self.V)

    @property
    def log_d(self) -> torch.Tensor:
        return 2.0 * self.log_std

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
