"""Figures 3 and 4: collapse against eps and against sigma^2 across a noise sweep.

Figure 3: the fraction of (eps, delta)-collapsed latents against eps, one curve per fixed
sigma^2 plus each learned-sigma^2 setting, mean and spread over seeds. Figure 4: ELBO and
active dimensions against sigma^2, with the linear theory's prediction
#{i <= k : lambda_i > sigma^2} drawn over the measured values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.ticker import FuncFormatter, NullFormatter

from vae_collapse.report import curves
from vae_collapse.report.aggregate import Group, Stat, families, stat
from vae_collapse.report.describe import family_title, policy, unique_slugs
from vae_collapse.report.plotting import FigureResult, band, colours, new_figure, save, seeds_text

# Fixed- and learned-sigma^2 settings of one data set, model and budget share a figure.
SWEEP_FAMILY_IGNORES = ("name", "noise", "eval")


def sweep_families(groups: list[Group]) -> list[list[Group]]:
    """Families with at least one fixed-sigma^2 setting; fixed first (by sigma^2), then learned."""
    out = []
    for fam in families([g for g in groups if policy(g).kind in ("fixed", "learned")], SWEEP_FAMILY_IGNORES):
        if any(policy(g).kind == "fixed" for g in fam):
            out.append(sorted(fam, key=lambda g: policy(g).order))
    return out


def collapse_figures(groups: list[Group], out_dir: Path) -> list[FigureResult]:
    fams = [f for f in sweep_families(groups)
            if any(curves.collapse_curve(r.run_dir) is not None for g in f for r in g.runs)]
    return [_collapse_figure(f, out_dir, f"fig3_collapse_{s}") for f, s in zip(fams, unique_slugs([f[0] for f in fams]))]


def _collapse_figure(fam: list[Group], out_dir: Path, stem: str) -> FigureResult:
    fixed = [g for g in fam if policy(g).kind == "fixed"]
    learned = [g for g in fam if policy(g).kind == "learned"]
    fig = new_figure(8.0, 5.0)
    ax = fig.add_subplot()
    data = {"groups": []}
    delta = fam[0].get("eval.delta", 0.01)
    eps_mark = fam[0].get("eval.eps", 0.01)
    styles = [(g, c, "-", "o") for g, c in zip(fixed, colours(len(fixed), "viridis"))]
    styles += [(g, c, "--", "s") for g, c in zip(learned, colours(len(learned), "autumn"))]
    for group, colour, line, marker in styles:
        found = [c for c in (curves.collapse_curve(r.run_dir) for r in group.runs) if c is not None]
        if not found:
            continue
        eps, mean, std, n = curves.mean_curve(found, log_x=True)
        p = policy(group)
        label = p.text
        if p.kind == "learned":
            label += f" → σ² = {group.stat('train/sigma2').fmt(3)}"
        band(ax, eps, mean, std, colour, f"{label} ({seeds_text(n)})", linestyle=line)
        at = float(np.interp(np.log(eps_mark), np.log(eps), mean))
        data["groups"].append({"label": group.label, "policy": p.text, "n": n, "seeds": group.seeds,
                               "mean_curve_at_eps": at,  # the mean curve read off at eps (the stat below averages runs)
                               "collapse/collapsed_fraction": group.stat("collapse/collapsed_fraction").as_dict(),
                               "curve": {"eps": [float(e) for e in eps], "mean": [float(m) for m in mean],
                                         "std": [float(s) for s in std]}})
    ax.axvline(eps_mark, color="grey", linestyle=":", linewidth=1.0, label=f"eps = {eps_mark:g} (the table's value)")
    ax.set_xscale("log")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("eps: KL threshold  [nats]")
    ax.set_ylabel(f"fraction of latent dimensions (eps, {delta:g})-collapsed")
    ax.set_title(f"Collapse against eps: {family_title(fam[0])}", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    path = save(fig, out_dir, stem)
    caption = (
        f"Fraction of latent dimensions whose KL is below eps for at least {1 - delta:.0%} of the evaluation "
        "examples, against eps; solid: σ² fixed, dashed: σ² learned (its final value in the legend). Bands are ±1 "
        "standard deviation over seeds. Larger fixed σ² collapses more dimensions."
    )
    return FigureResult(3, stem, "Collapse against eps across a sigma^2 sweep", path, caption, data,
                        setting=family_title(fam[0]))


def sigma2_figures(groups: list[Group], out_dir: Path) -> list[FigureResult]:
    # A sweep needs two settings with a known sigma^2 to be drawn against sigma^2.
    fams = [f for f in sweep_families(groups) if len([x for x in map(_sigma2_of, f) if x]) >= 2]
    return [_sigma2_figure(f, out_dir, f"fig4_sigma2_{s}") for f, s in zip(fams, unique_slugs([f[0] for f in fams]))]


def _sigma2_of(group: Group) -> float | None:
    """The fixed sigma^2, or the mean final learned one; None where unknown or not positive."""
    value = policy(group).sigma2 if policy(group).kind == "fixed" else group.stat("train/sigma2").mean
    return value if value is not None and np.isfinite(value) and value > 0 else None


def _active_at(group: Group, eps: float) -> Stat:
    """Latents not (eps, delta)-collapsed, read off each run's collapse curve at the grid point nearest eps."""
    k = int(group.get("model.latent_dim") or 0)
    counts = []
    for run in group.runs:
        curve = curves.collapse_curve(run.run_dir)
        if curve is not None and k:
            grid, fraction = curve
            counts.append(k * (1.0 - fraction[np.argmin(np.abs(np.log(grid) - np.log(eps)))]))
    return stat(counts)


def _theory_curve(fam: list[Group], lo: float, hi: float):
    """#{i <= k : lambda_i > sigma^2} on a log grid, from the first data_spectrum.csv found."""
    k = int(fam[0].get("model.latent_dim") or 0)
    for group in fam:
        for run in group.runs:
            eigvals = curves.data_spectrum(run.run_dir)
            if eigvals is not None and k:
                grid = np.logspace(np.log10(lo), np.log10(hi), 400)
                top = eigvals[:k]
                return grid, np.array([(top > s).sum() for s in grid]), k
    return None


def _sigma2_figure(fam: list[Group], out_dir: Path, stem: str) -> FigureResult:
    fixed = [g for g in fam if policy(g).kind == "fixed"]
    learned = [g for g in fam if policy(g).kind == "learned"]
    fig = new_figure(13.0, 4.9)
    ax_elbo, ax_dims = fig.subplots(1, 2)
    data: dict = {"fixed": [], "learned": []}
    xs = [x for x in map(_sigma2_of, fam) if x]
    lo, hi = min(xs) / 3, max(xs) * 3
    if fixed:
        s2 = np.array([policy(g).sigma2 for g in fixed])
        for metric, colour, name in (("train/elbo", "tab:blue", "train ELBO"), ("test/elbo", "tab:cyan", "test ELBO")):
            st = [g.stat(metric) for g in fixed]
            if any(s.n for s in st):
                ax_elbo.errorbar(s2, [s.mean for s in st], yerr=[s.std or 0.0 for s in st], color=colour,
                                 marker="o", capsize=3, label=f"σ² fixed: {name}")
        dims = [g.stat("collapse/active_dims") for g in fixed]
        ax_dims.errorbar(s2, [d.mean for d in dims], yerr=[d.std or 0.0 for d in dims], color="tab:blue",
                         marker="o", capsize=3, label="σ² fixed: measured active dims")
        # The count at one eps can hang on latents that carry almost nothing (docs/deep-vaes.md):
        # the same count at a 10x larger eps, and active units, show whether it does.
        eps = float(fam[0].get("eval.eps", 0.01))
        wider = [_active_at(g, 10 * eps) for g in fixed]
        units = [g.stat("collapse/active_units") for g in fixed]
        if any(w.n for w in wider):
            ax_dims.errorbar(s2, [w.mean for w in wider], yerr=[w.std or 0.0 for w in wider], color="tab:purple",
                             marker="v", capsize=3, linestyle="--", label=f"σ² fixed: active dims at eps = {10 * eps:g}")
        if any(u.n for u in units):
            ax_dims.errorbar(s2, [u.mean for u in units], yerr=[u.std or 0.0 for u in units], color="tab:green",
                             marker="^", capsize=3, linestyle=":", label="σ² fixed: active units (Cov of mean > 0.01)")
        ppca_dims = [g.stat("ppca/active_dims") for g in fixed]
        ax_dims.plot(s2, [d.mean for d in ppca_dims], linestyle="none", marker="x", markersize=9, color="k",
                     label="pPCA optimum's active dims (ppca/active_dims)")
        for g, s, e, d, p, w, u in zip(fixed, s2, [g.stat("train/elbo") for g in fixed], dims, ppca_dims, wider, units):
            data["fixed"].append({"label": g.label, "noise.sigma2": float(s), "train/elbo": e.as_dict(),
                                  "test/elbo": g.stat("test/elbo").as_dict(),
                                  "collapse/active_dims": d.as_dict(), "ppca/active_dims": p.as_dict(),
                                  # not logged by runs: read off their collapse curves at 10 x eps
                                  "active_dims_at_10eps": w.as_dict(),
                                  "collapse/active_units": u.as_dict()})
    for g, colour in zip(learned, colours(len(learned), "autumn")):
        s2 = g.stat("train/sigma2")
        e = g.stat("train/elbo")
        d = g.stat("collapse/active_dims")
        text = f"{policy(g).text} ({seeds_text(g.n)})"
        ax_elbo.errorbar([s2.mean], [e.mean], xerr=[s2.std or 0.0], yerr=[e.std or 0.0], color=colour,
                         marker="s", markersize=7, capsize=3, linestyle="none", label=text)
        ax_dims.errorbar([s2.mean], [d.mean], xerr=[s2.std or 0.0], yerr=[d.std or 0.0], color=colour,
                         marker="s", markersize=7, capsize=3, linestyle="none", label=text)
        data["learned"].append({"label": g.label, "train/sigma2": s2.as_dict(), "train/elbo": e.as_dict(),
                                "collapse/active_dims": d.as_dict()})
    theory = _theory_curve(fam, lo, hi)
    if theory is not None:
        grid, count, k = theory
        ax_dims.step(grid, count, where="post", color="k", linewidth=1.2, alpha=0.7,
                     label="linear theory: #{i ≤ k : λ_i > σ²}")
        ax_dims.axhline(k, color="grey", linestyle=":", linewidth=1.0, label=f"all k = {k} latents")
        data["theory"] = {"sigma2": [float(v) for v in grid[::10]], "active_dims": [int(v) for v in count[::10]]}
    # Ticks at the σ² values run: a log axis spanning about a decade otherwise labels its minor
    # ticks too ("3×10⁻¹"), and they overlap.
    ticks = sorted({float(policy(g).sigma2) for g in fixed} or set(xs))
    for ax in (ax_elbo, ax_dims):
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ax.set_xticks(ticks)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:.3g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("σ² (fixed value, or final learned value)  [log scale]")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    ax_elbo.set_ylabel("ELBO  [nats per example]")
    ax_elbo.set_title("ELBO against σ²")
    ax_dims.set_ylabel(f"active latent dimensions (not ({fam[0].get('eval.eps', 0.01):g}, "
                       f"{fam[0].get('eval.delta', 0.01):g})-collapsed)")
    ax_dims.set_title("Collapse against σ²: measured vs linear theory")
    fig.suptitle(f"Across the σ² sweep: {family_title(fam[0])}")
    path = save(fig, out_dir, stem)
    caption = (
        "Left: training and test ELBO against σ² (fixed: circles joined; learned: squares at the final σ², "
        "error bars ±1 std over seeds in both axes). Right: measured active dimensions against the linear "
        "theory's prediction, the number of the top k covariance eigenvalues of the training data above σ² "
        "(black step; crosses: the pPCA reference logged by each run), with the measured count at ten times "
        "the eps (dashed) and the active units (dotted) where the runs have them: where these part from the "
        "count at eps, latents that carry almost nothing decide it."
    )
    return FigureResult(4, stem, "ELBO and collapse against sigma^2, with the linear theory", path, caption, data,
                        setting=family_title(fam[0]))
