"""The console script with one addition: the time of each run's first training step.

Run as ``python -m benchmarks.probe <overrides>`` with VAE_COLLAPSE_PROBE=<file>; every time a
run takes its first step, ``time.monotonic()`` (one clock for all processes on Linux) is
appended to the file, so the caller can measure from launch to first step. The hook is set on
the class before the app starts; nothing else about the run changes.
"""

from __future__ import annotations

import os
import sys
import time


def _install(path: str) -> None:
    from vae_collapse.training.lit_module import VAEModule

    def on_train_batch_start(self, batch, batch_idx):
        if self.global_step == 0 and batch_idx == 0:
            with open(path, "a") as handle:
                handle.write(f"{time.monotonic()!r}\n")

    VAEModule.on_train_batch_start = on_train_batch_start


def main() -> None:
    path = os.environ.get("VAE_COLLAPSE_PROBE")
    if path:
        _install(path)
    from vae_collapse.cli import main as cli_main

    sys.argv = ["vae-collapse", *sys.argv[1:]]
    cli_main()


if __name__ == "__main__":
    main()
