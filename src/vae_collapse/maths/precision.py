"""Numbers as a reader expects them: the value a parameter was set to, not its float32 rounding."""

from __future__ import annotations

import torch

_REDUCED = (torch.float16, torch.bfloat16, torch.float32)


def plain_float(value: torch.Tensor) -> float:
    """A scalar tensor as the shortest decimal that is the same number at the tensor's precision.

    A sigma^2 of 0.1 held in float32 is 0.10000000149011612 as a Python float; summary.json
    and the report should say 0.1, the number the model trains with (0.1 in bfloat16 too).
    """
    number = float(value.detach())
    if value.dtype not in _REDUCED or not torch.isfinite(value.detach()):
        return number
    # float32 needs at most 9 significant digits to round-trip; the 16-bit types fewer.
    for digits in range(1, 10):
        candidate = float(f"{number:.{digits}g}")
        if float(torch.tensor(candidate, dtype=value.dtype)) == number:
            return candidate
    return number
