"""Figures 2 and 5: the linear VAE against pPCA's closed form.

Figure 2: the training ELBO over steps against the closed-form optimum ``ppca/log_px``, the
analytic and the stochastic ELBO on one plot. Figure 5: the data covariance spectrum against
the learned squared column norms, which the theory puts at max(lambda_i - sigma^2, 0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.ticker import FuncFormatter

from vae_collapse.report import curves
from vae_collapse.report.aggregate import Group, families
from vae_collapse.report.describe import distinct_titles, family_title, policy, unique_slugs
from vae_collapse.report.plotting import FigureResult, band, colours, new_figure, save, seeds_text, suptitle, wrapped

# Analytic and stochastic runs of one setting share a figure.
LINEAR_FAMILY_IGNORES = ("name", "model.elbo")
# Panels of Figure 5 beyond this many groups would be unreadably small.
MAX_SPECTRUM_PANELS = 4


def linear_groups(groups: list[Group]) -> list[Group]:
    return [g for g in groups if str(g.get("model._target_", "")).endswith("LinearVAE")
            and g.get("model.fit", "gradient") == "gradient"]


def _elbo_kind(group: Group) -> str:
    return str(group.get("model.elbo", "analytic"))


def training_figures(groups: list[Group], out_dir: Path) -> list[FigureResult]:
    results = []
    fams = [f for f in families(linear_groups(groups), LINEAR_FAMILY_IGNORES)
            if any(curves.training_curve(r.run_dir) for g in f for r in g.runs)]
    for fam, slug, setting in zip(fams, unique_slugs([f[0] for f in fams], with_policy=True), _settings(fams)):
        results.append(_training_figure(fam, out_dir, f"fig2_linear_elbo_{slug}", setting))
    return results


def _settings(fams: list[list[Group]]) -> list[str]:
    """Noise policy, data, model and budget of each figure, told apart where they read alike (Adam and EM)."""
    return distinct_titles(fams, [f"{policy(f[0]).text}: {family_title(f[0], elbo=False)}" for f in fams])


def _training_figure(fam: list[Group], out_dir: Path, stem: str, setting: str) -> FigureResult:
    fig = new_figure(13.0, 4.8)
    ax_elbo, ax_gap = fig.subplots(1, 2)
    optimum = fam[0].stat("ppca/log_px")
    data = {"ppca/log_px": optimum.as_dict(), "groups": []}
    styles = {"analytic": ("tab:blue", "-"), "stochastic": ("tab:orange", "-")}
    for index, group in enumerate(fam):
        found = [c for c in (curves.training_curve(r.run_dir) for r in group.runs) if c is not None]
        if not found:
            continue
        colour, line = styles.get(_elbo_kind(group), (colours(len(fam), "tab10")[index], "--"))
        steps, mean, std, n = curves.mean_curve(found)
        kind = _elbo_kind(group)
        label = f"{kind} ELBO, {policy(group).text} ({seeds_text(n)})"
        band(ax_elbo, steps, mean, std, colour, label, linestyle=line)
        final = group.stat("train/elbo")
        taken = group.stat("time/steps")  # the runs' own count; max_steps is -1 where epochs bounded them
        last_step = float(taken.mean) if taken.n else float(steps[-1])
        ax_elbo.errorbar([last_step], [final.mean], yerr=[final.std or 0.0], color=colour, marker="D",
                         markersize=6, linestyle="none", label=f"{kind}: exact final ELBO {final.fmt(decimals=2)}")
        group_optimum = group.stat("ppca/log_px").mean
        gap = group_optimum - mean
        positive = gap > 0
        ax_gap.plot(steps[positive], gap[positive], color=colour, linestyle=line, linewidth=1.4,
                    marker="o" if positive.sum() <= 2 else None, markersize=4,  # a short run's one logged point
                    label=f"{kind} ELBO")
        final_gap = group_optimum - final.mean
        if final_gap > 0:
            ax_gap.plot([last_step], [final_gap], color=colour, marker="D", linestyle="none",
                        label=f"{kind}: exact final gap {final_gap:.3g}")
        xs, ys = curves.thin(steps, mean)
        data["groups"].append({
            "label": group.label, "elbo": kind, "n": n, "seeds": group.seeds,
            "train/elbo": final.as_dict(), "ppca/log_px - train/elbo": final_gap, "final step": last_step,
            "train/sigma2": group.stat("train/sigma2").as_dict(),
            "curve": {"step": xs, "train/elbo": ys},  # the mean over seeds of the logged curve
        })
    if optimum.n:
        ax_elbo.axhline(optimum.mean, color="k", linestyle=":", linewidth=1.4,
                        label=f"closed-form pPCA optimum {optimum.mean:.2f}")
    for ax in (ax_elbo, ax_gap):
        ax.set_xlabel("training step")
        ax.grid(True, alpha=0.3)
    ax_elbo.set_ylabel("training ELBO  [nats per example]")
    ax_elbo.set_title("Training ELBO")
    ax_elbo.legend(fontsize=8, loc="best")  # "lower right" hid the curve of an ELBO far below the optimum
    ax_gap.set_yscale("log")
    # Plain numbers: over less than a decade matplotlib labels minor ticks as 1.7×10^3. Minor
    # ticks are labelled only there; over several decades their labels would overlap.
    ax_gap.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax_gap.yaxis.set_minor_formatter(FuncFormatter(
        lambda value, _: f"{value:g}" if np.log10(max(ax_gap.get_ylim()) / min(ax_gap.get_ylim())) < 1.2 else ""))
    ax_gap.set_ylabel("pPCA optimum − ELBO  [nats per example, log scale]")
    ax_gap.set_title("Distance to the closed-form optimum")
    ax_gap.legend(fontsize=8, loc="upper right")
    # A family shares its noise policy (only name and model.elbo may differ): say it once, up top.
    suptitle(fig, f"Linear VAE against pPCA, {setting}")
    path = save(fig, out_dir, stem)
    kinds = sorted({_elbo_kind(g) for g in fam})
    how = {"analytic": "analytic: the exact ELBO of each batch",
           "stochastic": "stochastic: one reparameterised sample per example"}
    caption = (
        f"Training ELBO of the linear VAE with {policy(fam[0]).text} per step (the CSV log; "
        + "; ".join(how.get(k, k) for k in kinds)
        + "), the exact ELBO of the final parameters (diamond), and the closed-form pPCA log-likelihood "
        "optimum for the same data and latent size (dotted). Right: the distance to that optimum on a log scale, "
        "with the final exact gap (diamond)."
    )
    return FigureResult(2, stem, "Linear VAE training ELBO against the pPCA optimum", path, caption, data,
                        setting=setting)


def spectrum_figures(groups: list[Group], out_dir: Path) -> list[FigureResult]:
    results = []
    fams = []
    for fam in families(linear_groups(groups), LINEAR_FAMILY_IGNORES):
        fam = [g for g in fam if any(curves.column_norms(r.run_dir) is not None for r in g.runs)]
        if fam and any(curves.data_spectrum(r.run_dir) is not None for g in fam for r in g.runs):
            fams.append(fam)
    for fam, slug, setting in zip(fams, unique_slugs([f[0] for f in fams], with_policy=True), _settings(fams)):
        results.append(_spectrum_figure(fam[:MAX_SPECTRUM_PANELS], out_dir, f"fig5_spectrum_{slug}", setting))
    return results


PANEL_WIDTH = 6.2  # inches


def _spectrum_figure(fam: list[Group], out_dir: Path, stem: str, setting: str) -> FigureResult:
    fig = new_figure(PANEL_WIDTH * len(fam), 4.8)
    axes = np.atleast_1d(fig.subplots(1, len(fam)))
    data = {"groups": []}
    for ax, group in zip(axes, fam):
        eigvals = next(s for s in (curves.data_spectrum(r.run_dir) for r in group.runs) if s is not None)
        k = int(group.get("model.latent_dim") or 0)
        sigma2 = group.stat("train/sigma2")
        shown = min(len(eigvals), max(2 * k, 10))
        index = np.arange(1, shown + 1)
        top = float(eigvals[0])
        # Log axis: zeros (collapsed columns) are drawn on a floor a little below the smallest
        # positive value shown, and never more than six decades under lambda_1.
        shown_values = [eigvals[:shown]] + [curves.column_norms(r.run_dir) for r in group.runs]
        positive = np.concatenate([v[v > 0] for v in shown_values if v is not None])
        floor = max(top * 1e-6, float(positive.min()) / 3 if positive.size else top * 1e-6)
        ax.plot(index, np.maximum(eigvals[:shown], floor), color="k", linewidth=1.6,
                label="data covariance eigenvalues λ_i")
        if sigma2.n:
            theory = eigvals[:k] - sigma2.mean  # fewer than k where the saved spectrum is short
            kept = int((theory > 0).sum())
            # Zero past the kept directions: on a log axis a line at the floor would read as a small positive value.
            ax.plot(np.arange(1, len(theory) + 1), np.where(theory > 0, theory, np.nan), color="tab:green",
                    linestyle="--", linewidth=1.4,
                    label="theory: max(λ_i − σ², 0)" + (f", zero past i = {kept}" if kept < len(theory) else ""))
            ax.axhline(sigma2.mean, color="tab:red", linestyle=":", linewidth=1.4,
                       label=f"learned σ² = {sigma2.fmt()}" if policy(group).kind != "fixed" else f"σ² = {sigma2.mean:.3g}")
        norms_by_seed = []
        for run, colour in zip(group.runs, colours(group.n, "plasma")):
            norms = curves.column_norms(run.run_dir)
            if norms is None:
                continue
            ordered = np.sort(norms)[::-1]
            norms_by_seed.append(ordered)
            ax.plot(np.arange(1, len(ordered) + 1), np.maximum(ordered, floor), linestyle="none", marker="o",
                    markersize=3, color=colour, alpha=0.8, label=f"learned ||w_j||², sorted (seed {run.seed})")
        ax.set_yscale("log")
        ax.set_ylim(floor / 2, top * 3)
        ax.set_xlabel("index i (eigenvalues and columns sorted, largest first)")
        ax.set_ylabel("variance  [data units², log scale]")
        ax.set_title(wrapped(f"{group.label}\n{policy(group).text}", PANEL_WIDTH, fontsize=10), fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
        active = [int((o > 1e-3 * top).sum()) for o in norms_by_seed]
        data["groups"].append({
            "label": group.label, "latent_dim": k, "train/sigma2": sigma2.as_dict(),
            "eigenvalues_above_sigma2": int((eigvals[:k] > sigma2.mean).sum()) if sigma2.n else None,
            "columns_above_1e-3_lambda1": active,
            "eigenvalues": [float(v) for v in eigvals[:shown]],
            "column_norms2_sorted": [[float(v) for v in o] for o in norms_by_seed],
        })
    suptitle(fig, f"Data spectrum and linear decoder columns, {setting}")
    path = save(fig, out_dir, stem)
    caption = (
        "Eigenvalues of the training data's covariance (black), the learned decoder's squared column norms "
        "sorted (dots; zero norms, i.e. collapsed columns, are drawn on the bottom edge), σ² (red) and the "
        "theory's optimum max(λ_i − σ², 0) (green): directions with variance below σ² collapse."
    )
    return FigureResult(5, stem, "Data spectrum against learned decoder column norms", path, caption, data,
                        setting=setting)
