from __future__ import annotations

import gzip

import numpy as np
import pytest

from vae_collapse.data import DataError
from vae_collapse.data.idx import encode_idx, md5_of_file, read_idx, write_idx


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("shape", [(7,), (5, 28, 28), (2, 3, 4, 5)])
def test_round_trip(tmp_path, suffix, shape):
    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, size=shape, dtype=np.uint8)
    path = tmp_path / f"file{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable


def test_official_magic_numbers():
    assert encode_idx(np.zeros((2, 28, 28), np.uint8))[:4] == (2051).to_bytes(4, "big")
    assert encode_idx(np.zeros(2, np.uint8))[:4] == (2049).to_bytes(4, "big")


def test_gzip_detected_by_content_and_md5_is_of_uncompressed_bytes(tmp_path):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    plain, packed = tmp_path / "a", tmp_path / "b"  # no .gz suffix on purpose
    write_idx(plain, array)
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    np.testing.assert_array_equal(read_idx(packed), array)
    assert md5_of_file(plain) == md5_of_file(packed)


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\x00",  # too short
        b"\x00\x00\x0d\x01\x00\x00\x00\x02ab",  # float type code
        b"\x12\x34\x08\x01\x00\x00\x00\x02ab",  # bad leading bytes
        b"\x00\x00\x08\x03\x00\x00\x00\x02",  # header truncated
        b"\x00\x00\x08\x01\x00\x00\x00\x05ab",  # data shorter than header says
        b"\x00\x00\x08\x01\x00\x00\x00\x01ab",  # data longer than header says
    ],
)
def test_corrupt_file_names_the_file(tmp_path, content):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message


def test_corrupt_gzip_names_the_file(tmp_path):
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x02ab")[:-6])
    with pytest.raises(DataError, match=str(path)):
        read_idx(path)


def test_write_rejects_non_uint8(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.float32))
