"""Every JSON file the project writes (summary.json, eval.json, report.json) is valid JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

from vae_collapse.reporting.summary import write_json_atomic


def test_non_finite_tensor_numpy_and_path_values_become_plain_json(tmp_path):
    path = tmp_path / "eval.json"
    write_json_atomic(path, {"metrics": {"test/elbo": torch.tensor(float("nan")), "test/log_px_iwae": -math.inf,
                                         "collapse/active_dims": np.int64(3), "n": 7},
                             "curve": [(0.1, float("inf"))], "where": Path("/runs/a")})
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text  # bare NaN is not JSON; strict readers refuse it
    assert json.loads(text) == {"metrics": {"test/elbo": "nan", "test/log_px_iwae": "-inf",
                                            "collapse/active_dims": 3, "n": 7},
                                "curve": [[0.1, "inf"]], "where": "/runs/a"}
