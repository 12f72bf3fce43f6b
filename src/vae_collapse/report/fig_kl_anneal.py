"""Figure 7: KL annealing over training, from ``collapse_trajectory.csv``.

Top: active dimensions and total KL per step for each warm-up length (mean and spread over
seeds), the end of each warm-up marked. Bottom: mean KL of every latent dimension over the
steps for the first seed of each warm-up length, so collapse returning after the warm-up shows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.ticker import MaxNLocator

from vae_collapse.report import curves
from vae_collapse.report.aggregate import Group, families
from vae_collapse.report.describe import family_title, policy, unique_slugs, warmup_cut_off
from vae_collapse.report.plotting import FigureResult, band, colours, new_figure, save, seeds_text, suptitle

ANNEAL_FAMILY_IGNORES = ("name", "noise.warmup_steps", "noise.start")
MAX_HEATMAPS = 4
KL_FLOOR = 1e-4  # nats; the colour scale is log10 KL and an exactly collapsed latent has KL 0


def _warmup_text(warmup: int) -> str:
    return "no warm-up (plain ELBO)" if warmup == 0 else f"warm-up {warmup} steps"


def anneal_figures(groups: list[Group], out_dir: Path) -> list[FigureResult]:
    fams = []
    for fam in families([g for g in groups if policy(g).kind == "kl_anneal"], ANNEAL_FAMILY_IGNORES):
        fam = [g for g in fam if any(curves.trajectory(r.run_dir) is not None for r in g.runs)]
        if fam:
            fams.append(sorted(fam, key=lambda g: policy(g).order))
    return [_anneal_figure(f, out_dir, f"fig7_kl_anneal_{s}") for f, s in zip(fams, unique_slugs([f[0] for f in fams]))]


def _anneal_figure(fam: list[Group], out_dir: Path, stem: str) -> FigureResult:
    shown = fam[:MAX_HEATMAPS]
    ncols = max(2, len(shown))
    fig = new_figure(4.6 * ncols, 8.6)
    grid = fig.add_gridspec(2, ncols * 2)
    half = ncols  # the top row's two panels each take half of the width
    ax_dims = fig.add_subplot(grid[0, :half])
    ax_kl = fig.add_subplot(grid[0, half:], sharex=ax_dims)
    data = {"groups": []}
    eps = fam[0].get("eval.eps", 0.01)
    delta = fam[0].get("eval.delta", 0.01)
    cols = colours(len(fam), "viridis")
    # Curves that coincide (e.g. every run keeps all latents) must all stay visible: each later
    # one is drawn thinner, on top, in its own dash pattern.
    cut_off = False  # a warm-up longer than the tracked run
    strokes = [(("-", "--", "-.", ":")[i % 4], max(3.2 - 0.7 * i, 1.0)) for i in range(len(fam))]
    for group, colour, (linestyle, linewidth) in zip(fam, cols, strokes):
        trajs = [t for t in (curves.trajectory(r.run_dir) for r in group.runs) if t is not None]
        warmup = int(group.get("noise.warmup_steps", 0))
        steps, dims, dims_std, n = curves.mean_curve([(t["step"], t["active_dims"]) for t in trajs])
        ended = not warmup_cut_off(group)  # from train/beta: tracking may stop short of the run's last step
        label = f"{_warmup_text(warmup)}{'' if ended else ', cut off'} ({seeds_text(len(trajs))})"
        cut_off = cut_off or not ended
        band(ax_dims, steps, dims, dims_std, colour, label, linestyle=linestyle, linewidth=linewidth)
        total = [(t["step"], t["kl"].sum(axis=1)) for t in trajs]
        s2, kl, kl_std, _ = curves.mean_curve(total)
        band(ax_kl, s2, kl, kl_std, colour, label, linestyle=linestyle, linewidth=linewidth)
        if 0 < warmup <= steps[-1]:  # a warm-up longer than the run has no end to mark
            for ax in (ax_dims, ax_kl):
                ax.axvline(warmup, color=colour, linestyle=":", linewidth=1.2)
        end = np.searchsorted(steps, warmup) if warmup > 0 else 0
        data["groups"].append({
            "label": group.label, "warmup_steps": warmup, "cut_off": not ended, "n": n, "seeds": group.seeds,
            # None where the warm-up did not end, or ended after the last measurement
            "active_dims_at_warmup_end": float(dims[end]) if ended and end < len(dims) else None,
            "active_dims_peak": float(dims.max()), "active_dims_final": float(dims[-1]),
            "collapse/active_dims": group.stat("collapse/active_dims").as_dict(),
            "curve": {"step": [float(s) for s in steps], "active_dims_mean": [float(d) for d in dims],
                      "total_kl_mean": [float(v) for v in kl]},
        })
    ax_dims.set_ylabel(f"track/active_dims: not ({eps:g}, {delta:g})-collapsed")
    ax_dims.set_title("Active latent dimensions (dotted: end of warm-up)", fontsize=10)
    ax_dims.yaxis.set_major_locator(MaxNLocator(integer=True))  # a count: no 30.5 between 30 and 31
    ax_kl.set_ylabel("track/kl: total KL(q(z|x) || p(z))  [nats per example]")
    ax_kl.set_title("KL term during training", fontsize=10)
    for ax in (ax_dims, ax_kl):
        ax.set_xlabel("training step")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="best")

    image = None
    first = {id(g): next((r, t) for r, t in ((r, curves.trajectory(r.run_dir)) for r in g.runs) if t is not None)
             for g in shown}
    # One colour scale for every panel, so the same colour is the same KL everywhere.
    top = max(np.log10(KL_FLOOR) + 1, *(np.log10(max(float(t["kl"].max()), KL_FLOOR)) for _, t in first.values()))
    for index, group in enumerate(shown):
        ax = fig.add_subplot(grid[1, 2 * index: 2 * index + 2] if len(shown) > 1 else grid[1, :])
        run, traj = first[id(group)]
        kl = np.maximum(traj["kl"], KL_FLOOR)
        order = np.argsort(-kl[-1], kind="stable")  # latents sorted by their final KL
        steps = traj["step"]
        # Each column centred on its step (measurements are evenly spaced), so that the warm-up's
        # line falls where its measurement is drawn.
        half = (steps[-1] - steps[0]) / (2 * (len(steps) - 1)) if len(steps) > 1 else 0.5
        image = ax.imshow(np.log10(kl[:, order].T), aspect="auto", origin="upper", cmap="magma",
                          vmin=np.log10(KL_FLOOR), vmax=top,
                          extent=(steps[0] - half, steps[-1] + half, kl.shape[1] - 0.5, -0.5), interpolation="nearest")
        warmup = int(group.get("noise.warmup_steps", 0))
        if 0 < warmup <= steps[-1]:
            ax.axvline(warmup, color="tab:cyan", linestyle="--", linewidth=1.2)
        ax.set_xlabel("training step")
        ax.set_ylabel("latent (sorted by final KL)")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"{_warmup_text(warmup)}: KL per latent, seed {run.seed}", fontsize=10)
    if image is not None:
        bar = fig.colorbar(image, ax=ax, label=f"log10 mean KL  [nats; floor {KL_FLOOR:g}]")
        if np.log10(KL_FLOOR) <= np.log10(eps) <= top:  # outside the bar it would not show
            bar.ax.axhline(np.log10(eps), color="tab:green", linewidth=2.0)
    base = policy(fam[0]).text.split(", ", 1)[-1]
    suptitle(fig, f"KL annealing over training ({base}): {family_title(fam[0])}")
    path = save(fig, out_dir, stem)
    examples = fam[0].get("eval.track_examples", 1000)
    caption = (
        "KL annealing: the KL weight β rises from its start to 1 over the warm-up (dotted lines), then the plain "
        "ELBO is trained" + ("; a warm-up marked 'cut off' is longer than its run, which never trains the plain ELBO"
                             if cut_off else "") + f". Top: active dimensions and total KL (`track/active_dims`, `track/kl`) measured during "
        f"training on the first {examples} evaluation examples (`eval.track_examples`), mean ± std over seeds; the "
        "final `collapse/active_dims` of Table 1 uses the whole evaluation split, so the last points can differ "
        "from it a little. The y axes start where the data do. Bottom: the mean KL of each latent dimension over "
        f"training for one seed per warm-up length, on a log colour scale; rows darker than eps (the green line on the "
        "colour bar, where eps lies within its range) are below eps on average; the dashed cyan lines are the end "
        "of the warm-up."
    )
    return FigureResult(7, stem, "KL annealing: KL per dimension and active dimensions over training", path,
                        caption, data, setting=f"{base}: {family_title(fam[0])}")
