"""Numbers as a reader expects them: the value a parameter was set to, not its float32 rounding."""

from __future__ import annotations

import numpy as np
import torch


def plain_float(value: torch.Tensor) -> float:
    """A scalar tensor as the shortest decimal that is the same number at the tensor's precision.

    A sigma^2 of 0.1 held in float32 is 0.10000000149011612 as a Python float; summary.json
    and the report should say 0.1, the number the model trains with.
    """
    number = float(value.detach())
    if value.dtype in (torch.float16, torch.bfloat16, torch.float32):
        return float(str(np.float32(number)))
    return number
