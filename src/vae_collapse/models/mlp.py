"""Fully connected encoders and decoders."""

from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "gelu": nn.GELU, "identity": nn.Identity}


def activation_layer(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation={name!r} must be one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def mlp(sizes: list[int], activation: str) -> nn.Sequential:
    """Linear layers through ``sizes`` with the activation between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(activation_layer(activation))
    return nn.Sequential(*layers)


def check_hidden(hidden: list[int]) -> list[int]:
    hidden = list(hidden)
    if any(h < 1 for h in hidden):
        raise ValueError(f"hidden={hidden} must hold positive layer widths")
    return hidden


class MLPEncoder(nn.Module):
    """q(z | x) = N(m(x), diag v(x)) with m and log v from one MLP trunk.

    ``activation="identity"`` gives a deep *linear* encoder (the same function class as a
    linear one, with different training dynamics), but with a per-example variance.
    """

    def __init__(self, data_dim: int, latent_dim: int, hidden: list[int], activation: str = "relu") -> None:
        super().__init__()
        hidden = check_hidden(hidden)
        self.latent_dim = latent_dim
        self.trunk = nn.Sequential(mlp([data_dim, *hidden], activation), activation_layer(activation)) if hidden else nn.Identity()
        width = hidden[-1] if hidden else data_dim
        self.mean = nn.Linear(width, latent_dim)
        self.log_var = nn.Linear(width, latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(x)
        return self.mean(h), torch.exp(self.log_var(h))


class MLPDecoder(nn.Module):
    """Mean of p(x | z): an MLP with a linear output (Gaussian likelihood, no squashing)."""

    def __init__(self, data_dim: int, latent_dim: int, hidden: list[int], activation: str = "relu") -> None:
        super().__init__()
        self.net = mlp([latent_dim, *check_hidden(hidden), data_dim], activation)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)
