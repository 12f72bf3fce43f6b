"""Small generated run directories, shaped like the ones ``vae-collapse`` writes.

Numbers are chosen so the tests can check the report's arithmetic by hand.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

LINEAR = "vae_collapse.models.LinearVAE"
MLP = "vae_collapse.models.MLPVAE"
EIGVALS = [5.0, 3.0, 2.0, 1.0, 0.5, 0.2, 0.1, 0.05]


def noise_fixed(sigma2: float) -> dict:
    return {"_target_": "vae_collapse.models.FixedNoise", "sigma2": sigma2}


def noise_learned(init: float) -> dict:
    return {"_target_": "vae_collapse.models.LearnedNoise", "init": init, "min_sigma2": 1e-6}


def noise_kl(warmup: int, sigma2: float = 0.1) -> dict:
    return {"_target_": "vae_collapse.models.KLAnnealing", "warmup_steps": warmup, "start": 0.0,
            "base": noise_fixed(sigma2)}


def noise_anneal(shape: str = "linear") -> dict:
    return {"_target_": "vae_collapse.models.AnnealedNoise", "start": 10.0, "end": 0.1, "steps": 50, "shape": shape,
            "then": "learned", "min_sigma2": 1e-6}


def noise_optimal() -> dict:
    return {"_target_": "vae_collapse.models.OptimalNoise", "min_sigma2": 1e-6, "init": 1.0}


def config(name: str, seed: int, run_dir: Path, noise: dict, model: str = MLP, k: int = 4,
           elbo: str = "analytic", steps: int = 100) -> dict:
    return {
        "name": name,
        "seed": seed,
        "eval": {"_target_": "vae_collapse.training.measurements.EvalSettings", "eps": 0.01, "delta": 0.01},
        "dataset": {"_target_": "vae_collapse.data.IDXImageDataModule", "name": "mnist", "subset": 100,
                    "batch_size": None, "seed": seed},
        "model": {"_target_": model, "latent_dim": k, **({"elbo": elbo, "fit": "gradient"} if model == LINEAR else {})},
        "noise": noise,
        "trainer": {"_target_": "lightning.pytorch.Trainer", "max_steps": steps},
        "logger": {"wandb": {"project": "vae-collapse", "save_dir": str(run_dir)}},
        "paths": {"output_dir": str(run_dir), "data_dir": "/nowhere"},
    }


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def make_run(run_dir: Path, cfg: dict, metrics: dict | None, status: str = "completed", reason: str | None = None,
             overrides: list[str] | None = None) -> Path:
    """A run directory: .hydra/ always, summary.json unless ``metrics`` is None (an unfinished run)."""
    (run_dir / ".hydra").mkdir(parents=True, exist_ok=True)
    (run_dir / ".hydra" / "config.yaml").write_text(json.dumps(cfg))  # JSON is YAML
    (run_dir / ".hydra" / "overrides.yaml").write_text(json.dumps(overrides or []))
    if metrics is not None:
        summary = {"status": status, "reason": reason, "metrics": metrics, "run_dir": str(run_dir), "config": cfg}
        (run_dir / "summary.json").write_text(json.dumps(summary))
    return run_dir


def collapse_curve(run_dir: Path, kl_dims: list[float]) -> None:
    eps = np.logspace(-4, 1, 11)
    write_csv(run_dir / "collapse_curve.csv", ["eps", "collapsed_fraction"],
              [[e, float(np.mean(np.array(kl_dims) < e))] for e in eps])
    write_csv(run_dir / "kl_per_dim.csv", ["dim", "mean_kl", "collapsed"],
              [[i, v, v < 0.01] for i, v in enumerate(kl_dims)])


def spectrum(run_dir: Path) -> None:
    write_csv(run_dir / "data_spectrum.csv", ["index", "eigenvalue"], [[i + 1, v] for i, v in enumerate(EIGVALS)])


def metrics_log(run_dir: Path, elbos: list[float], optimum: float) -> None:
    """Lightning's CSV log: a step-0 reference row, per-step rows, and the final row without an epoch."""
    rows = [["", 0, optimum, ""]]
    rows += [[i * 10 + 9, i * 10 + 9, "", e] for i, e in enumerate(elbos)]
    rows += [["", len(elbos) * 10, optimum, elbos[-1] + 0.01]]
    write_csv(run_dir / "csv" / "metrics.csv", ["epoch", "step", "ppca/log_px", "train/elbo"], rows)


def trajectory(run_dir: Path, active: list[int], k: int = 4) -> None:
    rows = []
    for i, a in enumerate(active):
        kl = [0.5 if d < a else 0.0 for d in range(k)]
        rows.append([i * 20, min(1.0, i * 0.25), 0.1, a, *kl])
    write_csv(run_dir / "collapse_trajectory.csv",
              ["step", "beta", "sigma2", "active_dims", *[f"kl_dim_{d}" for d in range(k)]], rows)


def deep_metrics(elbo: float, active: int, k: int = 4, sigma2: float = 0.1, iwae: float | None = None) -> dict:
    return {"train/elbo": elbo, "test/elbo": elbo - 1.0, "test/log_px_iwae": iwae if iwae is not None else elbo + 0.5,
            "train/sigma2": sigma2, "collapse/active_dims": active, "collapse/collapsed_fraction": 1 - active / k,
            "collapse/active_units": max(active - 1, 0),
            "ppca/active_dims": int(sum(v > sigma2 for v in EIGVALS[:k])), "ppca/log_px": 50.0}


def make_tree(root: Path) -> dict[str, Path]:
    """A folder like `make reproduce` leaves, shrunk: linear runs, a fixed and a learned sigma^2
    sweep (with a failed job and a job that never finished), KL-annealing runs, a diverged run."""
    paths: dict[str, Path] = {}
    # Linear: analytic seeds 0 and 1, stochastic seed 0.
    for job, (elbo, seed) in enumerate([("analytic", 0), ("analytic", 1), ("stochastic", 0)]):
        d = root / "linear" / str(job)
        cfg = config("linear_fake", seed, d, noise_learned(1.0), model=LINEAR, k=4, elbo=elbo)
        finals = {"analytic": [-20.0, -10.5][seed], "stochastic": -11.0}[elbo]
        make_run(d, cfg, {"train/elbo": finals, "ppca/log_px": -10.0, "train/sigma2": 0.3,
                          "collapse/active_dims": 4, "collapse/collapsed_fraction": 0.0, "ppca/active_dims": 4,
                          "time/steps": 40},
                 overrides=[f"model.elbo={elbo}", f"seed={seed}"])
        metrics_log(d, [-100.0, -40.0, -15.0 - seed, finals], -10.0)
        spectrum(d)
        write_csv(d / "decoder_column_norms.csv", ["column", "norm2"], [[j, v] for j, v in enumerate([0.2, 4.7, 1.7, 2.7])])
        collapse_curve(d, [1.0, 0.8, 0.5, 0.3])
    (root / "linear" / "multirun.yaml").write_text("{}")
    # Fixed sigma^2 sweep: 0.01 (all active), 0.5 (two active), 2.0 (one active); seeds 0, 1.
    sweep = root / "fixed"
    job = 0
    for sigma2, elbos, active in [(0.01, (100.0, 102.0), (4, 4)), (0.5, (40.0, 44.0), (2, 3)), (2.0, (10.0, 10.0), (1, 1))]:
        for seed in (0, 1):
            d = sweep / str(job)
            make_run(d, config("fixed_fake", seed, d, noise_fixed(sigma2)),
                     deep_metrics(elbos[seed], active[seed], sigma2=sigma2), overrides=[f"noise.sigma2={sigma2}", f"seed={seed}"])
            # The fourth latent (KL 0.05) is active at eps = 0.01 and collapsed at 0.1.
            collapse_curve(d, [1.0, 0.5, 0.2, 0.05][:active[seed]] + [0.0] * (4 - active[seed]))
            spectrum(d)
            job += 1
    paths["failed"] = make_run(sweep / str(job), config("fixed_fake", 2, sweep / str(job), noise_fixed(0.5)),
                               {"time/seconds": 1.0}, status="failed", reason="RuntimeError: boom",
                               overrides=["noise.sigma2=0.5", "seed=2"])
    paths["unfinished"] = make_run(sweep / str(job + 1), config("fixed_fake", 2, sweep / str(job + 1), noise_fixed(2.0)),
                                   None, overrides=["noise.sigma2=2.0", "seed=2"])
    (sweep / "multirun.yaml").write_text("{}")
    # Learned sigma^2 from two inits.
    for job, (init, seed, s2, elbo, active) in enumerate([(0.01, 0, 0.05, 80.0, 4), (0.01, 1, 0.07, 78.0, 4),
                                                           (1.0, 0, 0.3, 60.0, 3), (1.0, 1, 0.5, 50.0, 2)]):
        d = root / "learned" / str(job)
        make_run(d, config("learned_fake", seed, d, noise_learned(init)), deep_metrics(elbo, active, sigma2=s2),
                 overrides=[f"noise.init={init}", f"seed={seed}"])
        collapse_curve(d, [1.0, 0.5, 0.2, 0.1][:active] + [0.0] * (4 - active))
    # KL annealing, warm-up 0 and 60 steps, with trajectories.
    for job, (warmup, seed) in enumerate([(0, 0), (0, 1), (60, 0), (60, 1)]):
        d = root / "kl" / str(job)
        make_run(d, config("kl_fake", seed, d, noise_kl(warmup), steps=120), deep_metrics(30.0, 2),
                 overrides=[f"noise.warmup_steps={warmup}", f"seed={seed}"])
        trajectory(d, [1, 2, 2, 2, 2, 2, 2] if warmup == 0 else [4, 4, 4, 4, 3, 2, 2])
    # A run whose ELBO went to NaN but which still says "completed", and one marked diverged.
    paths["nan"] = make_run(root / "nan_run", config("fixed_fake", 9, root / "nan_run", noise_fixed(0.01)),
                            deep_metrics(float("nan"), 4) | {"train/elbo": "nan"})
    paths["diverged"] = make_run(root / "diverged_run", config("fixed_fake", 8, root / "diverged_run", noise_fixed(0.01)),
                                 deep_metrics(1.0, 4), status="diverged", reason="non-finite loss at step 12")
    return paths
