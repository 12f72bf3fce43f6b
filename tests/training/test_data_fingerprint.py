"""The data fingerprint a checkpoint carries: its value must never change between versions."""

from __future__ import annotations

import hashlib

import torch

from vae_collapse.training.checkpoints import data_fingerprint


def test_the_fingerprint_is_the_sha256_of_shape_dtype_and_bytes():
    data = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 7
    expected = hashlib.sha256(b"(3, 4)|torch.float32|" + data.numpy().tobytes()).hexdigest()[:16]
    assert data_fingerprint(data) == expected  # checkpoints written by earlier versions still match
    assert data_fingerprint(data.t().contiguous().t()) == expected  # the layout in memory does not count
    assert data_fingerprint(data[:2]) != expected
    assert data_fingerprint(torch.zeros(0, 4)) == hashlib.sha256(b"(0, 4)|torch.float32|").hexdigest()[:16]
