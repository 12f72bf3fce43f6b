"""Every row of docs/bad-inputs.md: exit 1, one error line naming what is wrong, earlier results untouched.

The rows are independent console-script runs that each spend most of their time importing torch
and Lightning, so they are started two at a time as soon as the first row's test asks for them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from tests.conftest import ROOT, SCRIPT
from tests.framework.bad_input_table import DEFAULT_ROWS, QUICK, ROWS, BadInput, markdown

BY_ID = {row.id: row for row in ROWS}


def _env(extra: dict[str, str], tmp: Path) -> dict[str, str]:
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "VAE_COLLAPSE_DATA": str(tmp / "data")}
    env.update({k: v.format(tmp=tmp) for k, v in extra.items()})
    return env


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)


def _results(folder: Path) -> dict[str, str]:
    """sha256 of every file a run left, except Hydra's record of the latest invocation."""
    hashes = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and rel.name != "cli.log":
            hashes[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def _setup(row: BadInput, tmp: Path) -> None:
    if row.setup == "corrupt_idx":
        folder = tmp / "data" / "mnist"
        folder.mkdir(parents=True)
        (folder / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 100)
    elif row.setup == "junk_ckpt":
        (tmp / "junk.ckpt").write_bytes(os.urandom(2048))
    elif row.setup == "foreign_folder":
        (tmp / "mine").mkdir()
        (tmp / "mine" / "notes.txt").write_text("a user's own file\n")
    elif row.setup == "foreign_ckpt":
        torch.save({"state_dict": {"layer.weight": torch.zeros(2, 2)}, "epoch": 3}, tmp / "foreign.ckpt")


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Path:
    """One completed run that every row's output folder starts as a copy of."""
    folder = tmp_path_factory.mktemp("baseline")
    run = folder / "run"
    result = _run([*QUICK, f"hydra.run.dir={run}"], folder, _env({}, folder))
    assert result.returncode == 0, result.stderr[-3000:]
    return run


@pytest.fixture(scope="module")
def outcomes(request, baseline, tmp_path_factory):
    """Starts the selected rows, two at a time; row id -> future of (result, folders)."""
    selected = [item.callspec.params["row_id"] for item in request.session.items
                if getattr(item, "originalname", "") == "test_bad_input_row" and hasattr(item, "callspec")]

    def launch(row: BadInput):
        tmp = tmp_path_factory.mktemp(row.id)
        run = tmp / "run"
        shutil.copytree(baseline, run)
        _setup(row, tmp)
        fill = {"run": run, "base": baseline, "tmp": tmp}
        args = [a.format(**fill) for a in row.args]
        multirun = args[:1] == ["-m"]
        # A sweep goes into a folder of its own (a run's folder is refused as one: row sweep-into-a-run).
        args = (["-m"] if multirun else []) + [*QUICK, f"hydra.run.dir={run}", f"hydra.sweep.dir={tmp / 'sweep'}",
                                               *args[1 if multirun else 0:]]
        before = _results(run)
        result = _run(args, tmp, _env(row.env, tmp))
        return result, run, before, fill

    pool = ThreadPoolExecutor(max_workers=2)
    futures: dict[str, Future] = {row_id: pool.submit(launch, BY_ID[row_id]) for row_id in selected}
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize(
    "row_id", [pytest.param(row.id, marks=[] if row.id in DEFAULT_ROWS else [pytest.mark.slow]) for row in ROWS]
)
def test_bad_input_row(outcomes, row_id):
    row = BY_ID[row_id]
    result, run, before, fill = outcomes[row_id].result()
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one error line, got:\n{result.stderr[-3000:]}"
    assert lines[0].startswith("vae-collapse: error: "), lines[0]
    assert row.error.format(**fill) in lines[0], lines[0]
    assert _results(run) == before, "earlier results in the output folder changed"
    if row.setup == "foreign_folder":  # not a byte added, the job's log included
        assert sorted(p.name for p in (fill["tmp"] / "mine").iterdir()) == ["notes.txt"]
    if row.setup == "corrupt_idx":
        assert (fill["tmp"] / "data" / "mnist" / "train-images-idx3-ubyte").exists(), "a user's file was deleted"


def test_table_has_at_least_twenty_rows_and_unique_ids():
    assert len(ROWS) >= 20
    assert len(BY_ID) == len(ROWS)


def test_document_matches_the_table():
    doc = (ROOT / "docs" / "bad-inputs.md").read_text()
    assert doc == markdown(), "regenerate: .venv/bin/python -m tests.framework.bad_input_table > docs/bad-inputs.md"
