"""Reading and writing IDX files, the format MNIST and Fashion-MNIST ship in.

Layout: two zero bytes, a type code (0x08 = unsigned byte), the number of
dimensions, then one big-endian uint32 per dimension and the raw data. Images
therefore start with magic 2051 (0x0803) and labels with 2049 (0x0801). Only the
unsigned-byte type is supported: it is the only one these data sets use.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib
from pathlib import Path

import numpy as np

from .errors import DataError

UBYTE = 0x08

# The four files every MNIST-style data set ships, in its official names.
TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
IDX_FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
_GZIP_MAGIC = b"\x1f\x8b"


def decompress_if_gzip(raw: bytes) -> bytes:
    # Sniffed rather than trusted from the suffix: users place files by hand and
    # an IDX file can never start with the gzip magic (it starts with 0x0000).
    return gzip.decompress(raw) if raw[:2] == _GZIP_MAGIC else raw


def read_uncompressed(path: str | Path) -> bytes:
    """The file's bytes, gunzipped if it is gzip-compressed (whatever its name)."""
    path = Path(path)
    raw = path.read_bytes()
    try:
        return decompress_if_gzip(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path}: corrupt gzip data ({err}); delete or replace the file") from err


def md5_of_bytes(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def md5_of_file(path: str | Path) -> str:
    """MD5 of the file's uncompressed content, so a .gz and its plain twin agree."""
    return md5_of_bytes(read_uncompressed(path))


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode uncompressed IDX bytes; ``source`` names the origin in errors."""
    if len(data) < 4:
        raise DataError(f"{source}: not an IDX file (only {len(data)} bytes)")
    zero, type_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or type_code != UBYTE or ndim == 0:
        raise DataError(
            f"{source}: not an unsigned-byte IDX file (magic {data[:4].hex()}, "
            f"expected 0000 08 followed by the number of dimensions)"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{source}: IDX header is truncated ({len(data)} bytes)")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        raise DataError(
            f"{source}: IDX header says shape {dims} ({expected} bytes in all) but "
            f"the content is {len(data)} bytes; the file is truncated or corrupt"
        )
    # bytearray makes the array writable, so torch.from_numpy does not warn.
    return np.frombuffer(bytearray(data[header:]), dtype=np.uint8).reshape(dims)


def read_idx(path: str | Path) -> np.ndarray:
    """Read a plain or gzip-compressed IDX file into a uint8 array."""
    return parse_idx(read_uncompressed(path), str(path))


def encode_idx(array: np.ndarray) -> bytes:
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"IDX writing supports uint8 arrays only, got {array.dtype}")
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"IDX arrays need 1 to 255 dimensions, got {array.ndim}")
    header = struct.pack(f">HBB{array.ndim}I", 0, UBYTE, array.ndim, *array.shape)
    return header + np.ascontiguousarray(array).tobytes()


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write ``array`` as IDX; gzip-compressed when the name ends in .gz."""
    path = Path(path)
    data = encode_idx(array)
    if path.suffix == ".gz":
        # mtime=0 keeps the compressed bytes reproducible.
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
