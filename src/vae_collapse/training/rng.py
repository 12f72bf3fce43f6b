"""The global torch RNG, which the models sample from, kept for training alone.

Training draws its reparameterisation noise from the global RNG, and checkpoints carry its state,
so a resumed run draws the same noise as an uninterrupted one. Measurements taken along the way
(validation, the collapse tracker) sample too; run inside ``measurement_rng`` they leave the
training stream as they found it, so turning them on or off does not change what is trained.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch


@contextlib.contextmanager
def measurement_rng(device: torch.device) -> Iterator[None]:
    """Draws inside the block do not advance the training RNG (CPU, and ``device``'s if it is CUDA)."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        yield


def rng_state() -> dict[str, Any]:
    """The global RNG streams a run samples from (CUDA's where there is one)."""
    state: dict[str, Any] = {"torch_rng": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda_rng"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    if "torch_rng" in state:
        torch.set_rng_state(state["torch_rng"])
    cuda = state.get("cuda_rng")
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
