"""Read an offline W&B run file (``run-<id>.wandb``) in tests, without network or wandb-core.

The file is a 7-byte ``:W&B`` header and then LevelDB's log format: 32 KiB blocks of chunks,
each with a 7-byte header (CRC32, little-endian length, type: 1 full, 2 first, 3 middle,
4 last), holding serialised ``wandb_internal_pb2.Record`` messages.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path

BLOCK = 32768
HEADER = 7


def raw_records(path: Path) -> Iterator[bytes]:
    data = Path(path).read_bytes()
    if data[:4] != b":W&B":
        raise ValueError(f"{path} is not a W&B run file")
    pos, pending = HEADER, b""
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:  # a block's tail too short for a header is padding
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + HEADER])
        if kind == 0:
            pos += left
            continue
        chunk = data[pos + HEADER:pos + HEADER + length]
        pos += HEADER + length
        if kind == 1:
            yield chunk
        elif kind == 2:
            pending = chunk
        elif kind == 3:
            pending += chunk
        elif kind == 4:
            yield pending + chunk


def run_id_and_history(path: Path) -> tuple[str | None, list[dict]]:
    """The run id of the file and its history rows as {key: value}."""
    from wandb.proto import wandb_internal_pb2 as pb

    run_id, rows = None, []
    for raw in raw_records(path):
        record = pb.Record()
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run_id = record.run.run_id
        elif kind == "history":
            rows.append({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                         for item in record.history.item})
    return run_id, rows


def run_summary_and_config(path: Path) -> tuple[dict, dict]:
    """The run's summary and config as {key: value}, the later updates winning."""
    from wandb.proto import wandb_internal_pb2 as pb

    summary, config = {}, {}
    for raw in raw_records(path):
        record = pb.Record()
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "summary":
            summary.update({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                            for item in record.summary.update})
        elif kind == "config":
            config.update({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                           for item in record.config.update})
    return summary, config
