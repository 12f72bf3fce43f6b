"""``dataset.batch_size: auto``: the model's own choice, settled before the config is checked.

The linear VAE and pPCA train on the whole set at once (their closed forms are full-batch, and a
full-batch step on MNIST is cheap); a deep or convolutional VAE learns from mini-batches, and one
batch of 60,000 images through a convolutional network needs gigabytes. ``auto`` lets
``vae-collapse model=conv_vae`` do the sensible thing while ``model=linear_vae`` keeps full batch.
A number or ``null`` (full batch) given by the user is never changed.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from omegaconf import DictConfig, open_dict

AUTO = "auto"
# A model class says what it wants with this class attribute (None: full batch).
ATTRIBUTE = "default_batch_size"


def _model_class(target: Any) -> type | None:
    """The model's class, or None where it cannot be imported (validation then names the problem)."""
    module, _, name = str(target or "").rpartition(".")
    try:
        return getattr(import_module(module), name, None) if module else None
    except Exception:  # noqa: BLE001 - the config check reports a bad target in one line
        return None


def resolve_batch_size(cfg: DictConfig) -> int | None:
    """Replace ``dataset.batch_size: auto`` by the model's ``default_batch_size``; returns the value."""
    dataset = cfg.get("dataset")
    if dataset is not None and isinstance(dataset.get("batch_size"), str) and dataset.get("batch_size") != AUTO:
        from vae_collapse.config.errors import ConfigError

        # The schema's "expected int | null" would leave out the default, auto.
        raise ConfigError(f"dataset.batch_size={dataset.get('batch_size')!r}: expected a number, null (the whole "
                          f"set at once) or {AUTO} (the model's choice)")
    if dataset is None or dataset.get("batch_size") != AUTO:
        return None if dataset is None else dataset.get("batch_size")
    model = cfg.get("model")
    cls = _model_class(model.get("_target_")) if model is not None else None
    value = getattr(cls, ATTRIBUTE, None)
    with open_dict(dataset):
        dataset.batch_size = value
    return value
