"""Where Figure 1's covariance spectrum comes from: a data set named on the command line, a
``data_spectrum.csv`` (a file or the run folder holding it), or the runs being reported."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vae_collapse.report import curves
from vae_collapse.report.aggregate import Group
from vae_collapse.report.describe import data_words
from vae_collapse.report.errors import ReportError


@dataclass(frozen=True)
class SpectrumSource:
    eigvals: np.ndarray  # decreasing
    description: str


def from_csv(path: Path) -> SpectrumSource:
    csv_path = path / "data_spectrum.csv" if path.is_dir() else path
    eigvals = curves.data_spectrum(csv_path.parent) if csv_path.name == "data_spectrum.csv" else None
    if eigvals is None:
        table = curves.read_columns(csv_path)
        if table is None or "eigenvalue" not in table:
            raise ReportError(f"--spectrum-from {path}: expected a data_spectrum.csv with an 'eigenvalue' column "
                              "(or a run folder holding one)")
        eigvals = np.sort(table["eigenvalue"])[::-1]
    return SpectrumSource(eigvals, f"{csv_path}")


DATA_ROOTS = ("dataset", "paths", "seed")  # _data_part's keys


def _root_key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~").split(".", 1)[0].split("@", 1)[0]


def _looks_like_path(item: str) -> bool:
    """A path, not an override: no '=', or one that exists (a sweep's job folder, noise.sigma2=1/),
    or a '/' or leading '.' or '~' before its '=' (no config key has them)."""
    key = item.split("=", 1)[0]
    return "=" not in item or Path(item).exists() or "/" in key or key.startswith((".", "~/"))


def _compose(overrides: list[str]):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from vae_collapse.cli import _config_dir

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=_config_dir(), version_base="1.3"):
            return compose(config_name="config", overrides=list(overrides))
    finally:
        GlobalHydra.instance().clear()


def _data_part(cfg) -> dict:
    """What decides which examples the data set holds (the seed draws subsets)."""
    from omegaconf import OmegaConf

    return {key: OmegaConf.to_container(cfg, resolve=False).get(key) for key in DATA_ROOTS}


def from_overrides(overrides: list[str]) -> SpectrumSource:
    """Compose conf/ with these overrides (e.g. ``dataset=mnist dataset.subset=1000``, or
    ``experiment=linear_mnist_1k``) and compute the training split's covariance spectrum, as a
    run on that data would."""
    from omegaconf import OmegaConf

    from vae_collapse.config import build
    from vae_collapse.config.batch_size import resolve_batch_size
    from vae_collapse.maths.moments import covariance_eigenvalues

    paths = [o for o in overrides if _looks_like_path(o)]
    if paths:
        # --spectrum-from takes every word after it: run folders named after it land here
        folders = " (run folders go before --spectrum-from: PATH ... --spectrum-from ...)" \
            if any(Path(o).is_dir() or "=" in o for o in paths) else ""
        missing = " (no such file or folder)" if any("=" in o and not Path(o).exists() for o in paths) else ""
        raise ReportError(f"--spectrum-from {' '.join(paths)}{missing}: expected Hydra overrides such as dataset=mnist "
                          f"dataset.subset=1000, or the path of a data_spectrum.csv{folders}")
    cfg = _compose(overrides)
    # An override of another key (model.latent_dim=3) that leaves the data as it is would change
    # only the caption: a mistake. A preset (experiment=...) or budget that sets the data is taken.
    data = _data_part(cfg)
    idle = [o for i, o in enumerate(overrides) if _root_key(o) not in DATA_ROOTS
            and _data_part(_compose(overrides[:i] + overrides[i + 1:])) == data]
    if idle:
        raise ReportError(f"--spectrum-from {' '.join(idle)}: does not change the data (dataset.*, paths.*, seed); "
                          "give overrides that choose it, e.g. dataset=mnist dataset.subset=1000 or an experiment=")
    resolve_batch_size(cfg)  # only the data is read: any batch size gives the same spectrum
    OmegaConf.resolve(cfg.dataset)
    datamodule = build(cfg.dataset, "dataset")
    datamodule.prepare_data()
    datamodule.setup("fit")
    x = datamodule.train_data
    eigvals = covariance_eigenvalues(x.reshape(x.shape[0], -1)).numpy()
    # Named as the runs' figures name data sets (describe.data_words), and no parentheses: titles add their own.
    name = cfg.dataset.get("name") or str(cfg.dataset.get("_target_", "data")).rsplit(".", 1)[-1]
    name = name.replace("DataModule", "").replace("Folder", "")
    return SpectrumSource(eigvals, f"{name}, {x.shape[0]} train; --spectrum-from {' '.join(overrides)}")


def resolve(spectrum_from: list[str] | None) -> SpectrumSource | None:
    if not spectrum_from:
        return None
    if len(spectrum_from) == 1 and _looks_like_path(spectrum_from[0]):
        path = Path(spectrum_from[0])
        if not path.exists():
            raise ReportError(f"--spectrum-from {path}: no such file or folder; give a data_spectrum.csv, the run "
                              "folder holding one, or overrides such as dataset=mnist")
        return from_csv(path)
    return from_overrides(spectrum_from)


def from_groups(groups: list[Group]) -> SpectrumSource | None:
    """The spectrum saved by a reported run, a linear one first (the paper draws Figure 1 for it)."""
    ranked = sorted(groups, key=lambda g: not str(g.get("model._target_", "")).endswith("LinearVAE"))
    for group in ranked:
        for run in group.runs:
            eigvals = curves.data_spectrum(run.run_dir)
            if eigvals is not None:
                name, details = data_words(group)
                return SpectrumSource(eigvals, ", ".join([name, *details, f"saved by run {run.run_dir.parent.name}/"
                                                          f"{run.run_dir.name}"]))
    return None
