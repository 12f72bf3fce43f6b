"""Figure 5: a sweep of 8 short runs, three ways, and the fixed cost each run pays.

1. one process per run (a shell loop over the console script);
2. one multirun with Hydra's basic launcher (runs in turn, one process);
3. one multirun with the joblib launcher, 2 workers (if hydra-joblib-launcher is installed).
Every run logs to W&B offline, as by default. The fixed costs: start-up (command to first
step, from the per-process runs) and W&B start and finish (init + finish of an offline run,
timed in a process of its own).
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import time

from benchmarks.common import Figure, Settings, cli_env, median, run_cli, spread, tail
from benchmarks.startup import SHORT_RUN, probe_run

WANDB_COST = r"""
import json, sys, time
from pathlib import Path
started = time.perf_counter()
from vae_collapse.reporting.loggers import finish_loggers
from vae_collapse.reporting.wandb_logger import RunWandbLogger
import wandb
imported = time.perf_counter() - started
costs = []
for i in range(int(sys.argv[2])):
    t = time.perf_counter()
    logger = RunWandbLogger(mode="offline", save_dir=str(Path(sys.argv[1]) / f"w{i}"), project="bench", name=f"r{i}")
    logger.log_hyperparams({"a": 1})
    logger.log_metrics({"train/elbo": 1.0}, step=0)
    finish_loggers([logger], "completed")
    costs.append(time.perf_counter() - t)
print(json.dumps({"import_s": imported, "start_finish_s": costs}))
"""


def joblib_available() -> bool:
    try:
        return importlib.util.find_spec("hydra_plugins.hydra_joblib_launcher") is not None
    except ModuleNotFoundError:  # no Hydra plugin installed at all
        return False


def wandb_cost(settings: Settings, repeats: int) -> dict:
    import json

    folder = settings.work_dir / "fig5" / "wandb-cost"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    result = subprocess.run([sys.executable, "-c", WANDB_COST, str(folder), str(repeats)], capture_output=True,
                            text=True, env=cli_env(settings), stdin=subprocess.DEVNULL, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"W&B timing failed: {tail(result.stderr)}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def run(settings: Settings) -> Figure:
    runs = 2 if settings.quick else 8
    seeds = ",".join(str(s) for s in range(runs))
    work = settings.work_dir / "fig5"
    shutil.rmtree(work, ignore_errors=True)
    details: dict = {"runs": runs, "run": " ".join(SHORT_RUN)}

    started = time.monotonic()
    firsts, walls = [], []
    for seed in range(runs):
        out = probe_run([*SHORT_RUN, f"seed={seed}", f"hydra.run.dir={work / 'single' / str(seed)}"], settings,
                        work, work / "probe.txt")
        walls.append(out["wall"])
        firsts.extend(out["first_steps"])
    per_process = time.monotonic() - started
    details["per_process"] = {"wall_s": per_process, "run_wall": spread(walls), "to_first_step": spread(firsts)}

    basic, _ = _multirun([*SHORT_RUN, f"seed={seeds}"], settings, work / "basic")
    details["basic"] = {"wall_s": basic, "per_run_s": basic / runs}
    if joblib_available():
        joblib, _ = _multirun([*SHORT_RUN, f"seed={seeds}", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
                              settings, work / "joblib")
        details["joblib_2_workers"] = {"wall_s": joblib, "per_run_s": joblib / runs}
        note = ""
    else:
        details["joblib_2_workers"] = None
        note = "joblib launcher not installed (pip install -e '.[launchers]'); that way is skipped"
    cost = wandb_cost(settings, 1 if settings.quick else 5)
    details["fixed_cost_per_run"] = {
        "start_up_to_first_step_s": median(firsts) if firsts else None,
        "wandb_import_s": cost["import_s"],
        "wandb_start_finish_s": spread(cost["start_finish_s"]),
    }
    return Figure(
        key="fig5", title=f"Sweep of {runs} short runs: one process each vs basic launcher vs joblib (2 workers)",
        value=basic, baseline=per_process, unit="s wall", ratio=per_process / basic,
        ratio_meaning="speed-up of the basic-launcher multirun over one process per run", target="reported",
        details=details, note=note,
    )


def _multirun(args: list[str], settings: Settings, sweep_dir) -> tuple[float, object]:
    result, wall = run_cli(["-m", *args, f"hydra.sweep.dir={sweep_dir}"], settings, sweep_dir.parent)
    if result.returncode != 0:
        raise RuntimeError(f"multirun failed ({result.returncode}): {tail(result.stderr)}")
    return wall, result
