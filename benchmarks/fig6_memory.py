"""Figure 6: peak resident memory of full-MNIST runs: a deep MLP VAE and the linear VAE.

Each run is the console script in a fresh wrapper process whose RUSAGE_CHILDREN maximum is
the peak RSS of the largest process of the run: the Python process, or W&B's service process
where that is larger (telling them apart needs per-process polling, docs/performance.md). Baseline in the same run: the same wrapper around a process that
only imports the framework, the floor every run pays. Target: each run under 1.5 GiB.
"""

from __future__ import annotations

import json
import subprocess
import sys

from benchmarks.common import SCRIPT, Figure, Settings, cli_env, median, spread, tail

TARGET_GIB = 1.5
WRAPPER = r"""
import json, resource, subprocess, sys
result = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, capture_output=True, text=True)
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"rc": result.returncode, "peak_kib": peak_kib, "stderr": result.stderr[-2000:]}))
"""

DEEP = ["experiment=deep_mnist_learned_sigma", "dataset.subset=null", "dataset.val_size=0", "dataset.test_subset=null"]
LINEAR = ["experiment=linear_mnist"]


def peak_gib(command: list[str], settings: Settings, cwd) -> float:
    cwd.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([sys.executable, "-c", WRAPPER, *command], capture_output=True, text=True, cwd=cwd,
                            env=cli_env(settings), stdin=subprocess.DEVNULL, timeout=1800)
    out = json.loads(result.stdout.strip().splitlines()[-1])
    if out["rc"] != 0:
        raise RuntimeError(f"{' '.join(command[:4])} ... failed ({out['rc']}): {tail(out['stderr'])}")
    return out["peak_kib"] / 2**20


def run(settings: Settings) -> Figure:
    work = settings.work_dir / "fig6"
    steps = 5 if settings.quick else 100
    common = [f"trainer.max_steps={steps}", "trainer.enable_progress_bar=false"]
    if settings.quick:  # the smallest data that still takes each code path
        deep = [*DEEP[:1], "dataset=synthetic_ppca", "~dataset.subset", "~dataset.val_size", "~dataset.test_subset",
                "dataset.batch_size=16", "model.latent_dim=4", "model.hidden=[16]"]
        linear = ["dataset=synthetic_ppca", "model.latent_dim=4"]
    else:
        deep, linear = DEEP, LINEAR
    # A peak of memory, unlike a time, does not drift with the machine's load: one run each.
    repeats = 1
    peaks: dict[str, list[float]] = {"deep": [], "linear": [], "floor": []}
    for i in range(repeats):
        peaks["deep"].append(peak_gib([str(SCRIPT), *deep, *common, f"hydra.run.dir={work / f'deep{i}'}"], settings, work))
        peaks["linear"].append(peak_gib([str(SCRIPT), *linear, *common, f"hydra.run.dir={work / f'linear{i}'}"],
                                        settings, work))
        peaks["floor"].append(peak_gib([sys.executable, "-c", "import vae_collapse.cli, vae_collapse.training.run"],
                                       settings, work))
    deep_gib, linear_gib, floor = (median(peaks[k]) for k in ("deep", "linear", "floor"))
    worst = max(deep_gib, linear_gib)
    return Figure(
        key="fig6", title="Peak RSS of full-MNIST runs (deep MLP VAE, linear VAE)",
        value=worst, baseline=floor, unit="GiB", ratio=worst / floor, ratio_meaning="larger run / import-only floor",
        target=f"each < {TARGET_GIB} GiB", met=None if settings.quick else worst < TARGET_GIB,
        details={"deep_gib": spread(peaks["deep"]), "linear_gib": spread(peaks["linear"]),
                 "import_floor_gib": spread(peaks["floor"]), "steps": steps,
                 "deep_run": " ".join(deep), "linear_run": " ".join(linear)},
    )
