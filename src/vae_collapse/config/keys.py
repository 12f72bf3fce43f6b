"""Config keys that do not change what a run computes, and removing dotted keys from a plain config."""

from __future__ import annotations

import copy
from typing import Any

# How a run shows progress, how often it logs and saves: a re-run that changes only these is the
# same run (resume, skip) and the same setting (report families).
PRESENTATION_ONLY = ("trainer.enable_progress_bar", "trainer.enable_model_summary", "trainer.log_every_n_steps",
                     "checkpoint")
# Where a run's data lives now (a folder moved to another disk or machine). The data itself may not
# change: a resumed run and vae-collapse-eval refuse data whose fingerprint differs from the checkpoint's.
RELOCATABLE_KEYS = ("dataset.root", "dataset.cache_dir")
# Keys that do not change which run this is (where it writes, how it logs, how it shows progress).
IDENTITY_IGNORED = ("paths", "logger", "resume", *PRESENTATION_ONLY, *RELOCATABLE_KEYS)


def without_keys(config: dict[str, Any], dotted_keys: tuple[str, ...]) -> dict[str, Any]:
    """A deep copy of ``config`` without the given keys (``"trainer.max_steps"``, ``"paths"``)."""
    config = copy.deepcopy(config)
    for dotted in dotted_keys:
        *parents, leaf = dotted.split(".")
        node: Any = config
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(leaf, None)
    return config
