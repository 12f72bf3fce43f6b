"""Fetching the canonical .gz IDX files from a user-given mirror URL."""

from __future__ import annotations

import urllib.error
import urllib.request
import zlib

from .errors import FetchError
from .idx import IDX_FILES, decompress_if_gzip

TIMEOUT_S = 60


def fetch_from_mirror(base_url: str) -> dict[str, bytes]:
    """Download ``<base_url>/<name>.gz`` for the four official names, uncompressed."""
    files = {}
    for name in IDX_FILES:
        url = f"{base_url.rstrip('/')}/{name}.gz"
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
                raw = response.read()
        except (urllib.error.URLError, OSError, ValueError) as err:
            raise FetchError(f"downloading {url} failed: {err}") from err
        try:
            files[name] = decompress_if_gzip(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise FetchError(f"{url} is not valid gzip data: {err}") from err
    return files
