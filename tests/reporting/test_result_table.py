"""The table a run prints when it ends."""

from __future__ import annotations

from pathlib import Path

from vae_collapse.reporting.table import result_table


def test_the_iwae_row_says_how_many_test_images_it_covers_and_counts_are_not_called_nats():
    metrics = {"train/elbo": -100.25, "ppca/log_px": -99.0, "collapse/active_dims": 3, "test/log_px": 663.2,
               "test/log_px_iwae": 655.6, "test/iwae_examples": 1200}
    lines = result_table(metrics, "completed", {"summary": Path("s.json")}).splitlines()
    assert lines[0] == "Result (completed); log-likelihoods and ELBOs in nats per example:"
    rows = [" ".join(line.split()) for line in lines[1:]]
    assert "test/log_px_iwae 655.6 (on 1,200 test images)" in rows
    assert "ppca/log_px - train/elbo 1.25" in rows and "collapse/active_dims 3" in rows
    assert not any("iwae_examples" in row for row in rows) and rows[-1] == "summary s.json"
