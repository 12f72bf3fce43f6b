"""The report's training curves: a run resumed into a folder of its own is drawn from its first step."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tests.report.fakes import write_csv
from vae_collapse.report.curves import training_curve


def _part(folder: Path, steps: range, offset: float, resumed_from: Path | None = None,
          at: int | None = None, write_step: bool = True) -> Path:
    """A run folder whose CSV logs train/elbo = step + offset, and a final row without an epoch."""
    rows = [[s, 0, s + offset] for s in steps] + [[steps[-1] + 1, "", 999.0]]
    write_csv(folder / "csv" / "metrics.csv", ["step", "epoch", "train/elbo"], rows)
    summary = {"status": "completed", "metrics": {},
               "resumed_from": str(resumed_from / "checkpoints" / "last.ckpt") if resumed_from else None}
    if write_step:
        summary["resumed_at_step"] = at
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def test_a_resumed_run_takes_the_steps_before_its_checkpoint_from_the_run_it_continued(tmp_path):
    # The first run logged 30 steps, but its checkpoint at step 20 is the one resumed: its rows
    # 20-29 are not the resumed run's history and must not be drawn.
    first = _part(tmp_path / "first", range(30), 0.0)
    second = _part(tmp_path / "second", range(20, 40), 0.5, resumed_from=first, at=20)
    third = _part(tmp_path / "third", range(40, 50), 0.25, resumed_from=second, at=40)
    steps, values = training_curve(third)
    assert steps.tolist() == list(range(50))
    assert values.tolist() == [s + (0.0 if s < 20 else 0.5 if s < 40 else 0.25) for s in range(50)]


def test_a_summary_without_the_resume_step_is_joined_where_its_rows_begin(tmp_path):
    first = _part(tmp_path / "first", range(30), 0.0)
    second = _part(tmp_path / "second", range(20, 40), 0.5, resumed_from=first, write_step=False)
    steps, values = training_curve(second)
    assert steps.tolist() == list(range(40)) and values[19] == 19.0 and values[20] == 20.5


def test_a_run_whose_earlier_folder_is_gone_or_itself_keeps_its_own_rows(tmp_path):
    gone = _part(tmp_path / "second", range(20, 40), 0.5, resumed_from=tmp_path / "deleted", at=20)
    assert training_curve(gone)[0].tolist() == list(range(20, 40))
    own = _part(tmp_path / "own", range(0, 40), 0.0, resumed_from=tmp_path / "own", at=20)
    steps, values = training_curve(own)
    assert steps.tolist() == list(range(40)) and np.array_equal(values, np.arange(40.0))
