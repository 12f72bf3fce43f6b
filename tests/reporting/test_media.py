"""Media go to W&B only when a WandbLogger is there, and then land in the run's files."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import pytest
import torch
from lightning.pytorch.loggers import CSVLogger

from vae_collapse.reporting.figures import save_collapse_curve, save_image_grid
from vae_collapse.reporting.media import log_histogram, log_media, wandb_run


@pytest.fixture
def png(tmp_path) -> Path:
    return save_image_grid(torch.rand(4, 1, 8, 8), tmp_path / "figs" / "recon.png", nrow=2)


@pytest.fixture
def offline_wandb(tmp_path, monkeypatch):
    """A real offline WandbLogger writing under tmp_path; the run is always finished."""
    import wandb
    from lightning.pytorch.loggers import WandbLogger

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    # Keep wandb's settings and caches out of the home directory.
    for var in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(var, str(tmp_path / "wandb_home"))
    with warnings.catch_warnings():
        # Lightning 2.6 passes anonymous=None, which wandb 0.31 warns about; harmless.
        warnings.simplefilter("ignore")
        logger = WandbLogger(mode="offline", save_dir=tmp_path, project="t")
    try:
        yield logger
    finally:
        wandb.finish()
        # wandb's process-wide setup remembers this test's directories; a later in-process run
        # (the report's W&B upload) would write its history under them.
        wandb.teardown()


def run_files(tmp_path: Path) -> Path:
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1, runs
    return runs[0] / "files"


def test_without_wandb_nothing_is_logged(tmp_path, png):
    csv = CSVLogger(tmp_path / "csv")
    table = {"collapse/curve": (["eps", "fraction"], [[0.1, 0.5]])}
    for loggers in (None, [], [csv], csv):
        assert wandb_run(loggers) is None
        assert log_media(loggers, {"media/reconstructions": png}, table) is False
        assert log_histogram(loggers, "val/kl_dim", torch.rand(5)) is False
    # Nothing was written for W&B, and the logger wrote nothing either.
    assert not (tmp_path / "wandb").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figs"]


def test_wandb_is_not_imported_without_a_wandb_logger(tmp_path, monkeypatch, png):
    # A None entry in sys.modules makes any `import wandb` raise ImportError.
    monkeypatch.setitem(sys.modules, "wandb", None)
    csv = CSVLogger(tmp_path / "csv")
    assert log_media([csv], {"media/reconstructions": png}, {"t": (["a"], [[1]])}) is False
    assert log_histogram([csv], "val/kl_dim", torch.rand(3)) is False


def test_plot_must_refer_to_a_logged_table(png):
    with pytest.raises(KeyError, match="not among"):
        log_media(None, {}, {"collapse/curve": (["eps", "f"], [])}, plots={"collapse/plot": ("nope", "eps", "f")})
    with pytest.raises(KeyError, match="columns"):
        log_media(None, {}, {"collapse/curve": (["eps", "f"], [])}, plots={"collapse/plot": ("collapse/curve", "x", "f")})


def test_offline_wandb_run_gets_images_tables_plots_and_histograms(tmp_path, monkeypatch, png, offline_wandb):
    csv = CSVLogger(tmp_path / "csv")
    eps = torch.logspace(-3, 0, 5)
    fraction = torch.linspace(0.0, 1.0, 5)
    curve_png = save_collapse_curve(eps, fraction, tmp_path / "figs" / "collapse.png")
    rows = [[float(e), float(f)] for e, f in zip(eps, fraction)]

    # The WandbLogger is found behind another logger.
    run = wandb_run([csv, offline_wandb])
    assert run is offline_wandb.experiment
    payloads = []
    real_log = run.log
    monkeypatch.setattr(run, "log", lambda data, *a, **kw: (payloads.append(dict(data)), real_log(data, *a, **kw)))
    logged = log_media(
        [csv, offline_wandb],
        images={"media/reconstructions": png, "collapse/curve_png": curve_png},
        tables={"collapse/curve": (["eps", "collapsed_fraction"], rows)},
        step=3,
        plots={"collapse/curve_plot": ("collapse/curve", "eps", "collapsed_fraction")},
    )
    assert logged is True
    assert log_histogram([offline_wandb], "val/kl_dim", torch.tensor([0.0, 0.5, 2.0, float("nan")]), step=3)
    with pytest.raises(FileNotFoundError):
        log_media([offline_wandb], {"media/missing": tmp_path / "missing.png"}, {})

    import wandb

    media, histogram = payloads
    assert isinstance(media["media/reconstructions"], wandb.Image)
    assert isinstance(media["collapse/curve"], wandb.Table)
    assert media["trainer/global_step"] == 3 and histogram["trainer/global_step"] == 3
    assert "collapse/curve_plot" in media
    assert isinstance(histogram["val/kl_dim"], wandb.Histogram)
    assert sum(histogram["val/kl_dim"].histogram) == 3  # the NaN was left out

    wandb.finish()
    files = run_files(tmp_path)
    images = sorted((files / "media" / "images").rglob("*.png"))
    assert len(images) == 2
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in images)
    assert {p.read_bytes() for p in images} == {png.read_bytes(), curve_png.read_bytes()}
    tables = sorted((files / "media" / "table").rglob("*.table.json"))
    assert tables, list(files.rglob("*"))
    contents = [json.loads(p.read_text()) for p in tables]
    assert any(c["columns"] == ["eps", "collapsed_fraction"] and len(c["data"]) == 5 for c in contents)


def test_the_spectra_behind_ppca_reach_wandb_as_tables(tmp_path, offline_wandb, monkeypatch):
    from vae_collapse.models import FixedNoise, MLPVAE
    from vae_collapse.reporting.artifacts import write_spectrum_artifacts

    from vae_collapse.reporting import artifacts

    monkeypatch.setattr(artifacts, "MAX_WANDB_ROWS", 5)  # W&B gets the largest eigenvalues only, the CSV all
    model = MLPVAE(data_dim=6, latent_dim=2, sample_shape=(6,), noise=FixedNoise(1.0), hidden=[4])
    residual = torch.tensor([3.0, 0.5, 0.1], dtype=torch.float64)
    files = write_spectrum_artifacts(tmp_path / "run", torch.rand(40, 6), model, residual_eigvals=residual,
                                     sigma2=1.0, loggers=[offline_wandb], step=7)
    assert files["data_spectrum"].read_text().count("\n") == 7  # header and 6 eigenvalues
    assert {"data_spectrum", "residual_spectrum", "spectrum"} <= set(files)
    import wandb

    wandb.finish()
    tables = [json.loads(p.read_text()) for p in (run_files(tmp_path) / "media" / "table").rglob("*.table.json")]
    by_rows = {len(t["data"]): t for t in tables}
    assert set(by_rows) == {5, 3}  # the data's largest 5 eigenvalues of 6, the residual's 3
    assert by_rows[3]["columns"] == ["index", "eigenvalue"] and by_rows[3]["data"][0] == [1, 3.0]
    assert [row[0] for row in by_rows[5]["data"]] == [1, 2, 3, 4, 5]
    names = {p.name.split("_")[0] for p in (run_files(tmp_path) / "media" / "table" / "ppca").glob("*.table.json")}
    assert names == {"data", "residual"}
