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
    """The global RNG streams a run samples from: the CPU's, and its own GPU's where it has one.

    Only the current device's: under DDP rank 0 writes the checkpoint and every rank loads it, so
    each rank restores the stream of rank 0's device, which is where all of them stood (they are
    seeded alike and draw alike). Every device's state, as rank 0's process holds it, would put the
    others back to their untouched seeded state.
    """
    state: dict[str, Any] = {"torch_rng": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda_rng"] = torch.cuda.get_rng_state(torch.cuda.current_device())
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    if "torch_rng" in state:
        torch.set_rng_state(state["torch_rng"])
    cuda = state.get("cuda_rng")
    if isinstance(cuda, torch.Tensor) and torch.cuda.is_available():  # a checkpoint from a GPU, resumed on one
        torch.cuda.set_rng_state(cuda, torch.cuda.current_device())
