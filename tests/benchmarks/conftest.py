"""The benchmarks live at the repository root, beside src/: make them importable here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture
def quick_settings(tmp_path):
    """Smallest form of every benchmark, one repeat, one thread (steady on a crowded machine)."""
    from benchmarks.common import Settings
    from benchmarks.run import find_data_dir

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield Settings(quick=True, repeats=1, data_dir=find_data_dir(), work_dir=tmp_path / "work", threads=1)
    torch.set_num_threads(threads)
