"""The short human-readable table a run prints when it ends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# The rows a reader looks at first; every other metric is in summary.json.
HEADLINE = (
    "train/elbo",
    "ppca/log_px",
    "train/log_px",
    "train/elbo_gap",
    "train/sigma2",
    "ppca/sigma2",
    "collapse/active_dims",
    "ppca/active_dims",
    "ppca/residual_dims",
    "collapse/active_units",
    "train/aligned_columns",  # linear decoders: columns on pPCA's principal directions
    "test/elbo",
    "test/log_px",
    "test/log_px_iwae",
)


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return str(value)
    return f"{value:.6g}" if abs(value) < 1e5 else f"{value:.1f}"


def result_table(metrics: dict[str, Any], status: str, files: dict[str, Path]) -> str:
    rows = [(name, _fmt(metrics[name])) for name in HEADLINE if name in metrics]
    if "train/elbo" in metrics and "ppca/log_px" in metrics:
        rows.append(("ppca/log_px - train/elbo", _fmt(metrics["ppca/log_px"] - metrics["train/elbo"])))
    if "test/log_px_iwae" in metrics and "test/iwae_examples" in metrics:
        # The bound may cover fewer test images than test/elbo and test/log_px: not comparable then.
        rows = [(name, f"{value}  (on {metrics['test/iwae_examples']:,} test images)" if name == "test/log_px_iwae"
                 else value) for name, value in rows]
    width = max([len(name) for name, _ in rows] + [10])
    lines = [f"Result ({status}); log-likelihoods and ELBOs in nats per example:"]
    lines += [f"  {name:<{width}}  {value}" for name, value in rows]
    lines.append("Files:")
    lines += [f"  {label:<{width}}  {path}" for label, path in files.items()]
    return "\n".join(lines)
