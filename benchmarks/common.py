"""What every benchmark shares: repeated timings, the figure record, the data and the machine.

Timings on a shared 2-core machine drift with the load of other processes, so a figure is
never an absolute time on its own: each repeat times the candidate and its baseline back to
back (interleaved), and the figure is the ratio of the medians over the repeats.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).parent / "vae-collapse"
MNIST_DIR_ENV = "VAE_COLLAPSE_DATA"
DEFAULT_DATA_DIR = "/tmp/vc-data"


@dataclass
class Settings:
    """How hard to run: ``quick`` shrinks every benchmark to a smoke test of its code path."""

    quick: bool = False
    repeats: int = 5
    data_dir: str | None = None  # a folder holding mnist/ IDX files; None: synthetic data of MNIST's shape
    work_dir: Path = field(default_factory=lambda: ROOT / "benchmarks" / "results" / "work")
    preset: str = "linear_mnist_em"  # figure 3's experiment preset
    deep_examples: int = 60000  # figure 4's epoch: all of MNIST unless told otherwise
    iwae_images: int = 10000  # figure 7's test images
    threads: int | None = None  # torch threads here and in the runs started; None: torch's default


@dataclass
class Figure:
    """One figure of the table: a measured value, its baseline, their ratio and the target."""

    key: str
    title: str
    value: float | None = None  # the candidate's figure (e.g. steps/s through the framework)
    baseline: float | None = None  # the same figure of the baseline, same run
    unit: str = ""
    ratio: float | None = None  # value / baseline, or as stated in ``ratio_meaning``
    ratio_meaning: str = ""
    target: str = ""
    met: bool | None = None  # None where the figure has no target or could not be measured
    details: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def interleaved(candidates: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Call each function once per repeat, in turn, so slow phases of the machine hit all alike.

    Each function returns its own measurement (seconds, or a rate); the lists are per name.
    """
    results: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            results[name].append(float(fn()))
    return results


def spread(values: list[float]) -> dict[str, float]:
    return {"median": median(values), "min": min(values), "max": max(values), "n": len(values)}


def mnist_folder(settings: Settings) -> Path | None:
    """The folder with mnist/ IDX files if there is one (never fetched by a benchmark)."""
    if not settings.data_dir:
        return None
    folder = Path(settings.data_dir)
    return folder if (folder / "mnist" / "train-images-idx3-ubyte").exists() else None


def mnist_like(settings: Settings, n_train: int = 60000, n_test: int = 10000) -> tuple[torch.Tensor, torch.Tensor, str]:
    """(train, test, source): real MNIST through the data module when cached, else uniform noise of its shape."""
    folder = mnist_folder(settings)
    if folder is not None:
        from vae_collapse.data import IDXImageDataModule

        dm = IDXImageDataModule(name="mnist", cache_dir=str(folder), subset=n_train, test_subset=n_test)
        dm.setup()
        return dm.train_data, dm.test_data, f"MNIST ({folder})"
    generator = torch.Generator().manual_seed(0)
    train = torch.rand(n_train, 784, generator=generator)
    test = torch.rand(n_test, 784, generator=generator)
    return train, test, "synthetic uniform data of MNIST's shape (no MNIST cache found)"


def machine() -> dict[str, Any]:
    """What the numbers were measured on, including how busy the machine was."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "loadavg_start": list(os.getloadavg()),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()
        info["memory_gib"] = round(int(mem[1]) / 2**20, 1)
    except OSError:
        pass
    try:
        import lightning

        info["lightning"] = lightning.__version__
    except ImportError:
        pass
    return info


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Environment of a console-script run: offline W&B, the data cache, no colour."""
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "HYDRA_FULL_ERROR": "1"}
    if settings.data_dir:
        env[MNIST_DIR_ENV] = settings.data_dir
    if settings.threads:
        env["OMP_NUM_THREADS"] = str(settings.threads)
    env.update(extra)
    return env


def run_cli(args: list[str], settings: Settings, cwd: Path, timeout: float = 900,
            env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, float]:
    """Run the console script; returns the process and its wall time in seconds."""
    cwd.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result = subprocess.run([str(SCRIPT), *args], cwd=cwd, env=env or cli_env(settings), capture_output=True,
                            text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return result, time.perf_counter() - started


def tail(text: str, lines: int = 5) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
