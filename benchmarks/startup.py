"""Start-up: seconds from the command to the first training step of a short run.

Measured through ``benchmarks.probe`` (the console script plus a timestamp at the first step).
Baseline in the same run: a bare ``python -c "import lightning.pytorch"``, the floor of any
Lightning command on this machine. Also reported: our own modules' share of the import time.
"""

from __future__ import annotations

import os

import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import ROOT, Figure, Settings, cli_env, median, spread, tail

SHORT_RUN = ["dataset=synthetic_ppca", "model.latent_dim=4", "trainer.max_steps=50",
             "trainer.enable_progress_bar=false", "eval.artifacts=false"]


def probe_run(args: list[str], settings: Settings, cwd: Path, probe_file: Path, env_extra: dict | None = None,
              timeout: float = 900) -> dict:
    """Run the console script through the probe; wall seconds and seconds to each first step."""
    cwd.mkdir(parents=True, exist_ok=True)
    probe_file.unlink(missing_ok=True)
    env = cli_env(settings, VAE_COLLAPSE_PROBE=str(probe_file), **(env_extra or {}))
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "benchmarks.probe", *args], cwd=cwd, timeout=timeout,
                            env={**env, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)},
                            capture_output=True, text=True,
                            stdin=subprocess.DEVNULL)
    wall = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"run failed ({result.returncode}): {tail(result.stderr)}")
    firsts = [float(line) - started for line in probe_file.read_text().split()] if probe_file.exists() else []
    return {"wall": wall, "first_steps": firsts}


def import_floor(module: str = "lightning.pytorch") -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True, stdin=subprocess.DEVNULL)
    return time.monotonic() - started


def own_import_share() -> dict[str, float]:
    """Seconds that ``python -X importtime`` charges to our package and to W&B / matplotlib."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import vae_collapse.cli, vae_collapse.training.run"],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, check=True)
    own = wandb = plotting = 0.0
    for line in result.stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[0].startswith("import time:"):
            continue
        try:
            self_us = int(parts[0].split(":")[1])
        except ValueError:
            continue
        name = parts[2].strip()
        if name.startswith("vae_collapse"):
            own += self_us
        elif name.split(".")[0] == "wandb":
            wandb += self_us
        elif name.split(".")[0] == "matplotlib":
            plotting += self_us
    return {"vae_collapse_s": own / 1e6, "wandb_s": wandb / 1e6, "matplotlib_s": plotting / 1e6}


def run(settings: Settings) -> Figure:
    repeats = 1 if settings.quick else settings.repeats
    work = settings.work_dir / "startup"
    firsts, floors, walls = [], [], []
    for i in range(repeats):
        out = probe_run([*SHORT_RUN, "logger=csv", f"hydra.run.dir={work / f'run{i}'}"], settings, work,
                        work / "probe.txt")
        if not out["first_steps"]:
            raise RuntimeError("the run never reached a training step")
        firsts.append(out["first_steps"][0])
        walls.append(out["wall"])
        floors.append(import_floor())
    value, baseline = median(firsts), median(floors)
    imports = own_import_share()
    return Figure(
        key="startup", title="Start-up: command to first training step (short synthetic run, CSV logger)",
        value=value, baseline=baseline, unit="s", ratio=value / baseline,
        ratio_meaning="to first step / bare `import lightning.pytorch`", target="reported; heavy optional imports lazy",
        met=imports["wandb_s"] == 0.0,
        details={"to_first_step": spread(firsts), "import_lightning": spread(floors), "run_wall": spread(walls),
                 "imports_at_startup": imports,
                 "note": "matplotlib is imported by torchmetrics (inside Lightning), not by vae_collapse"},
    )
