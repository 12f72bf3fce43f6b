"""Convolutional encoder and decoder for image tensors (e.g. 1x28x28 MNIST, 3x64x64 CelebA).

Data stays flat (B, C*H*W) between modules; the convolutions view it as images, so no
copy of the data set is made per model.
"""

from __future__ import annotations

import torch
from torch import nn

from vae_collapse.models.mlp import activation_layer


def _final_size(sample_shape: tuple[int, ...], channels: list[int]) -> tuple[int, int]:
    if len(sample_shape) != 3:
        shape = "x".join(str(n) for n in sample_shape)
        raise ValueError(f"a convolutional model needs images (channels, height, width); this dataset's samples "
                         f"are {shape} values (use model=deep_vae for them, or an image dataset such as mnist)")
    _, height, width = sample_shape
    factor = 2 ** len(channels)
    if not channels or any(c < 1 for c in channels):
        raise ValueError(f"channels={channels} must be a non-empty list of positive widths")
    if height % factor or width % factor:
        raise ValueError(f"channels={channels}: {len(channels)} stride-2 layers need H and W divisible by {factor}, "
                         f"got {height}x{width} images (change the layers, or the data set's image size: "
                         f"dataset.image_size for celeba)")
    return height // factor, width // factor


class ConvEncoder(nn.Module):
    """Stride-2 4x4 convolutions, then linear heads for the posterior mean and log-variance."""

    def __init__(self, sample_shape: tuple[int, ...], latent_dim: int, channels: list[int], activation: str = "relu") -> None:
        super().__init__()
        self.sample_shape = tuple(sample_shape)
        self.latent_dim = latent_dim
        h, w = _final_size(self.sample_shape, channels)
        layers: list[nn.Module] = []
        previous = self.sample_shape[0]
        for width in channels:
            layers += [nn.Conv2d(previous, width, 4, stride=2, padding=1), activation_layer(activation)]
            previous = width
        self.trunk = nn.Sequential(*layers, nn.Flatten())
        features = previous * h * w
        self.mean = nn.Linear(features, latent_dim)
        self.log_var = nn.Linear(features, latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(x.view(-1, *self.sample_shape))
        return self.mean(h), torch.exp(self.log_var(h))


class ConvDecoder(nn.Module):
    """The encoder mirrored: linear to a small feature map, stride-2 transposed convolutions up."""

    def __init__(self, sample_shape: tuple[int, ...], latent_dim: int, channels: list[int], activation: str = "relu") -> None:
        super().__init__()
        self.sample_shape = tuple(sample_shape)
        h, w = _final_size(self.sample_shape, channels)
        widths = list(reversed(channels))
        self.start_shape = (widths[0], h, w)
        self.project = nn.Sequential(nn.Linear(latent_dim, widths[0] * h * w), activation_layer(activation))
        layers: list[nn.Module] = []
        for i, width in enumerate(widths):
            out = widths[i + 1] if i + 1 < len(widths) else self.sample_shape[0]
            layers.append(nn.ConvTranspose2d(width, out, 4, stride=2, padding=1))
            if i + 1 < len(widths):
                layers.append(activation_layer(activation))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.project(z).view(-1, *self.start_shape)
        return self.net(h).flatten(1)
