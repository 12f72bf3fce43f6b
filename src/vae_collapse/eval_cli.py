"""``vae-collapse-eval CHECKPOINT_OR_RUN_DIR``: measure a saved model again, later.

It rebuilds the model from the checkpoint's own config, checks that the data is the data the
run was trained on (the checkpoint's fingerprint), and repeats the run's final measurements:
ELBOs, exact and IWAE log-likelihoods, collapse, the pPCA reference, and the CSVs, figures and
media. The numbers equal what the run reported (the IWAE draws are seeded the same way), except
for a ``noise=optimal`` run from before 2026-11-28: its sigma^2 is now fitted to the whole training
split, where such a run reported the last training batch's. Results
go to ``<run dir>/eval/`` (or ``--out``), never over the run's own files.

``eval.*`` settings may be changed, e.g. ``eval.eps=0.1 eval.iwae_samples=1000``: the same model
measured with another collapse threshold or a tighter bound, without training again. Each key
is given once. Measuring again into the same folder replaces its eval.json (the one
``vae-collapse-report`` reads) and the files it came with, and says so, with the settings of the
measurement it replaces. Which folders it may write to: vae_collapse.training.eval_folder.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from omegaconf import OmegaConf

from vae_collapse.reporting.console import ctrl_c_is_one_line

PROG = "vae-collapse-eval"


def _apply_overrides(cfg, overrides: list[str]):
    from vae_collapse.config import ConfigError
    from vae_collapse.config.keys import RELOCATABLE_KEYS

    seen: dict[str, str] = {}
    for item in overrides:
        key = item.split("=", 1)[0]
        if key in seen:  # OmegaConf would keep the last one without a word
            raise ConfigError(f"{key} is given twice ({seen[key]}, {item}); give it once")
        seen[key] = item
        if key in RELOCATABLE_KEYS and "=" in item and OmegaConf.select(cfg, key, default="<absent>") != "<absent>":
            continue  # the data has moved; the fingerprint check still refuses other data
        if key in RELOCATABLE_KEYS and "=" in item:  # a place this run's data set does not have
            own = [k for k in RELOCATABLE_KEYS if OmegaConf.select(cfg, k, default="<absent>") != "<absent>"]
            target = str(OmegaConf.select(cfg, "dataset._target_", default="")).rsplit(".", 1)[-1]
            where = f"where its data lives is {' or '.join(own)}" if own else "it reads no data folder"
            raise ConfigError(f"{item}: this run's data set ({target or 'its dataset'}) has no {key}; {where}")
        if "=" not in item or not key.startswith("eval."):
            raise ConfigError(f"{item}: only eval.* settings, and where the data lives now "
                              f"({', '.join(RELOCATABLE_KEYS)}), can change here (e.g. eval.eps=0.1); "
                              "to change anything else, train again")
        if key.split(".")[1] not in cfg.eval:
            raise ConfigError(f"{key}: unknown key; eval's keys: {', '.join(k for k in cfg.eval if k != '_target_')}")
    return OmegaConf.merge(cfg, OmegaConf.from_dotlist(overrides))


def _earlier_settings(earlier: dict) -> str:
    """The overrides of an earlier measurement (its eval.json), in words."""
    if earlier.get("status") == "measuring":
        return "one that was stopped before it ended"
    overrides = earlier.get("overrides")
    if not isinstance(overrides, list):
        return "settings not recorded"
    return " ".join(map(str, overrides)) or "the run's own eval settings"


def evaluate_checkpoint(where: str, out: Path | None = None,
                        overrides: list[str] = ()) -> tuple[dict, dict[str, Path], str]:
    """Measure the checkpoint; its metrics, the files written, and what was measured (for the table's title)."""
    import torch

    from vae_collapse.config import ConfigError, build
    from vae_collapse.maths import ppca
    from vae_collapse.maths.moments import covariance_eigenvalues, data_moments
    from vae_collapse.reporting.summary import write_json_atomic
    from vae_collapse.training.eval_folder import (
        RESULTS, check_out, earlier_measurement, mark_measuring, remove_stale, run_key,
    )
    from vae_collapse.training.checkpoints import (
        CHECKPOINT_DIR, META_KEY, check_same_data, checkpoint_file, data_fingerprint, load_weights, read_checkpoint,
        run_folder_of,
    )
    from vae_collapse.training.measurements import final_measurements, wants_eigenvectors
    from vae_collapse.training.reference import run_reference

    path = checkpoint_file(where)
    checkpoint = read_checkpoint(path, where)
    meta = checkpoint[META_KEY]
    cfg = _apply_overrides(OmegaConf.create(meta["config"]), list(overrides))
    run_dir = run_folder_of(path)
    if out is None and run_dir is None:
        raise ConfigError(f"{path}: is not in a run's {CHECKPOINT_DIR}/ folder, so there is no <run dir>/eval "
                          "to write to; say where with --out <folder>")
    out = out or run_dir / "eval"
    key = run_key(meta)
    check_out(out, path, run_dir, key)

    datamodule = build(cfg.dataset, "dataset")
    noise = build(cfg.noise, "noise")
    model = build(cfg.model, "model", data_dim=datamodule.data_dim, sample_shape=datamodule.sample_shape, noise=noise)
    eval_settings = build(cfg.eval, "eval")
    datamodule.prepare_data()
    datamodule.setup("fit")
    check_same_data(meta, data_fingerprint(datamodule.train_data), path)
    state = {k[len("model."):]: v for k, v in checkpoint["state_dict"].items() if k.startswith("model.")}
    load_weights(model, state, path)
    step = int(checkpoint.get("global_step", 0))
    spec = None  # the eigenvectors too where the run had them: its alignment metrics are measured again
    if wants_eigenvectors(model, datamodule.data_dim):
        spec = ppca.spectrum(data_moments(datamodule.train_data))
    eigvals = spec.eigvals if spec is not None else covariance_eigenvalues(datamodule.train_data)
    metrics = dict(run_reference(eigvals, model, noise, step or None))
    results = out / RESULTS
    earlier = earlier_measurement(out)
    if earlier is not None:  # re-measuring is what this is for, but the report reads only the latest
        print(f"{PROG}: replacing the earlier measurement in {out} ({_earlier_settings(earlier)})",
              file=sys.stderr, flush=True)
    out.mkdir(parents=True, exist_ok=True)  # only now: a refused checkpoint or missing data leaves no folder
    mark_measuring(out, path, key, earlier)
    torch.manual_seed(cfg.seed)  # as the run did before its final measurements
    final, files = final_measurements(model, datamodule, eval_settings, out, [], step, eigvals,
                                      metrics.get("ppca/sigma2"), spec)
    metrics.update(final)
    settings = {k: v for k, v in OmegaConf.to_container(cfg.eval, resolve=True).items() if k != "_target_"}
    names = sorted(str(p.resolve().relative_to(out.resolve())) for p in files.values()
                   if out.resolve() in p.resolve().parents)
    write_json_atomic(results, {"checkpoint": os.path.abspath(path), "run_key": key, "global_step": step,
                                "overrides": list(overrides), "eval": settings, "files": names,
                                "metrics": dict(sorted(metrics.items()))})
    remove_stale(out, earlier, list(files.values()))
    planned = cfg.trainer.get("max_steps")
    stepped = cfg.model.get("fit", "gradient") != "closed_form"  # a closed-form fit is done at step 0
    short = (f", before the run's end at step {planned:,}" if stepped and isinstance(planned, int) and 0 <= step < planned
             else "")
    return metrics, {"results": results, **files}, f"evaluated at step {step:,}{short}"


def _argument_problem(checkpoint: str | None, overrides: list[str]) -> str | None:
    """What is wrong with the positional arguments as typed, before any file is read."""
    if checkpoint is None:
        return "give a run folder or a .ckpt file, e.g. vae-collapse-eval outputs/default/<time> eval.eps=0.1"
    key = checkpoint.split("=", 1)[0]
    if "=" in checkpoint and (key.startswith("eval.") or key in ("dataset.root", "dataset.cache_dir")) \
            and not Path(checkpoint).exists():  # a sweep job's folder has '=' in its name too
        return (f"{checkpoint}: the run folder or .ckpt file comes first, then the settings, e.g. "
                f"vae-collapse-eval <run folder> {checkpoint}")
    for item in overrides:
        if "=" not in item and item.startswith("eval."):
            return f"{item}: give it a value, e.g. {item}=0.1"
    return None


@ctrl_c_is_one_line(PROG)
def main(argv: list[str] | None = None) -> None:
    from vae_collapse.report.cli import out_folder

    parser = argparse.ArgumentParser(prog=PROG, description="Measure a saved model again, later: the run's final "
                                     "measurements, with other eval.* settings if given.")
    parser.add_argument("checkpoint", nargs="?", help="a run folder (uses checkpoints/last.ckpt), its checkpoints/ folder, or a .ckpt file")
    parser.add_argument("overrides", nargs="*", metavar="eval.KEY=VALUE",
                        help="measurement settings to change, e.g. eval.eps=0.1 eval.iwae_samples=1000; "
                             "dataset.root=... or dataset.cache_dir=... where the run's data has moved")
    parser.add_argument("--out", type=out_folder, default=None, help="where to write eval.json and the figures "
                        "(default: <run dir>/eval; never a run folder)")
    args = parser.parse_intermixed_args(argv)  # eval.* settings before or after --out
    problem = _argument_problem(args.checkpoint, args.overrides)
    if problem:
        print(f"{PROG}: error: {problem}", file=sys.stderr, flush=True)
        sys.exit(2)

    if args.out is not None and args.out.exists() and not args.out.is_dir():
        print(f"{PROG}: error: --out {args.out} is a file; give a folder", file=sys.stderr, flush=True)
        sys.exit(2)

    from vae_collapse.training.checkpoint_paths import checkpoint_file, missing_checkpoint

    missing = missing_checkpoint(checkpoint_file(args.checkpoint), args.checkpoint)
    if missing:  # said before torch and Lightning are loaded, which takes seconds
        print(f"{PROG}: error: {missing}", file=sys.stderr, flush=True)
        sys.exit(1)

    from vae_collapse.config import ConfigError
    from vae_collapse.data import DataError
    from vae_collapse.reporting.table import result_table

    try:
        metrics, files, what = evaluate_checkpoint(args.checkpoint, args.out, args.overrides)
    except (ConfigError, DataError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    except OSError as exc:  # --out that cannot be made or written
        print(f"{PROG}: error: cannot write {exc.filename or args.out} ({exc.strerror or exc}); give a writable --out",
              file=sys.stderr, flush=True)
        sys.exit(1)
    print(result_table(metrics, what, files), flush=True)


if __name__ == "__main__":
    main()
