"""Fashion-MNIST from Debian: the ``dataset-fashion-mnist`` package.

The .deb is downloaded (not installed) with apt-get and unpacked with
dpkg-deb; it carries the official .gz IDX files unchanged.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .commands import run_command
from .errors import FetchError
from .idx import IDX_FILES, read_uncompressed

PACKAGE = "dataset-fashion-mnist"
DESCRIPTION = f"Debian (apt-get download {PACKAGE}, ~30 MB)"
DATA_DIR = Path("usr/share/datasets/fashion-mnist")


def _apt_download(dest: Path) -> Path:
    """Download the .deb into ``dest`` and return its path."""
    if shutil.which("apt-get") is None:
        raise FetchError("apt-get not found (this route needs Debian or Ubuntu)")
    try:
        run_command(["apt-get", "download", PACKAGE], cwd=dest)
    except FetchError:
        # A fresh container often has no package lists yet; only root can
        # refresh them, and only once is worth trying.
        if os.geteuid() != 0:
            raise
        run_command(["apt-get", "update", "-qq"], cwd=dest)
        run_command(["apt-get", "download", PACKAGE], cwd=dest)
    debs = sorted(dest.glob(f"{PACKAGE}_*.deb"))
    if len(debs) != 1:
        raise FetchError(f"apt-get download left {len(debs)} .deb files in {dest}, expected 1")
    return debs[0]


def _unpack(deb: Path, dest: Path) -> Path:
    if shutil.which("dpkg-deb") is None:
        raise FetchError("dpkg-deb not found (this route needs Debian or Ubuntu)")
    run_command(["dpkg-deb", "-x", str(deb), str(dest)], cwd=deb.parent)
    return dest / DATA_DIR


def fetch_fashion_from_debian(scratch: Path) -> dict[str, bytes]:
    """The four uncompressed Fashion-MNIST IDX files, keyed by official name."""
    deb = _apt_download(scratch)
    data_dir = _unpack(deb, scratch / "unpacked")
    files = {}
    for name in IDX_FILES:
        path = data_dir / f"{name}.gz"
        if not path.is_file():
            raise FetchError(f"{deb.name} has no {DATA_DIR / path.name}")
        files[name] = read_uncompressed(path)
    return files
