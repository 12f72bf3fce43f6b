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
from vae_collapse.report.aggregate import Group, bracketed, differing_keys, families, split_by, stat
from vae_collapse.report.describe import distinct_titles, family_title, policy, unique_slugs
from vae_collapse.report.plotting import FigureResult, band, colours, new_figure, save, suptitle

# Fixed- and learned-sigma^2 settings of one data set, model and budget share a figure, whatever
# else their evaluation did (IWAE samples, tracking) ...
SWEEP_FAMILY_IGNORES = ("name", "noise", "eval")
# ... but not a collapse measured with other (eps, delta): the figures mark and count at one eps.
MEASURED_WITH = ("eval.eps", "eval.delta")


def sweep_families(groups: list[Group]) -> list[list[Group]]:
    """Fixed- and learned-sigma^2 settings by family; fixed first (by sigma^2), then learned.

    A family may hold only one kind: a learned-sigma^2 sweep with its own budget is a figure of
    its own, not dropped for want of fixed runs beside it. A single learned setting is not a sweep.
    """
    fams = families([g for g in groups if policy(g).kind in ("fixed", "learned")], SWEEP_FAMILY_IGNORES)
    fams = [part for fam in fams for part in split_by(fam, MEASURED_WITH)]
    fams = [part for fam in fams for part in _apart_where_alike(fam)]
    # One learned setting alone is not a sweep (a plain run of the default config).
    fams = [f for f in fams if len(f) > 1 or policy(f[0]).kind == "fixed"]
    return [sorted(fam, key=lambda g: policy(g).order) for fam in fams]


def _apart_where_alike(fam: list[Group]) -> list[list[Group]]:
    """``fam`` split where two fixed settings have one sigma^2 (two sweeps of one config under two
    names): the trend line holds one point per sigma^2. The split is by the keys in which those
    settings differ. Learned settings that read alike stay together, told apart in the legend."""
    by_text: dict[str, list[Group]] = {}
    for group in fam:
        if policy(group).kind == "fixed":
            by_text.setdefault(policy(group).text, []).append(group)
    keys = sorted({k for alike in by_text.values() if len(alike) > 1 for k in differing_keys(alike)})
    return split_by(fam, keys) if keys else [fam]


def _legend_texts(groups: list[Group]) -> dict[int, str]:
    """Each group's policy in words, with its values of the keys that tell it from another that
    reads the same (learned from one init at two noise.lr_scale)."""
    by_text: dict[str, list[Group]] = {}
    for group in groups:
        by_text.setdefault(policy(group).text, []).append(group)
    texts = {}
    for text, alike in by_text.items():
        keys = differing_keys(alike) if len(alike) > 1 else []
        for group in alike:
            texts[id(group)] = bracketed(text, {k: group.get(k) for k in keys})
    return texts


def _titles(fams: list[list[Group]]) -> list[str]:
    return distinct_titles(fams, [_setting(fam) for fam in fams])


def _setting(fam: list[Group]) -> str:
    """Data, model and budget; and the collapse measure where it is not the default (0.01, 0.01),
    which tells apart the figures of one sweep measured at two eps."""
    eps, delta = fam[0].get("eval.eps", 0.01), fam[0].get("eval.delta", 0.01)
    measure = "" if (eps, delta) == (0.01, 0.01) else f", collapse at (eps, delta) = ({eps:g}, {delta:g})"
    return family_title(fam[0]) + measure


def collapse_figures(groups: list[Group], out_dir: Path) -> list[FigureResult]:
    fams = [f for f in sweep_families(groups)
            if any(curves.collapse_curve(r.run_dir) is not None for g in f for r in g.runs)]
    return [_collapse_figure(f, out_dir, f"fig3_collapse_{s}", title)
            for f, s, title in zip(fams, unique_slugs([f[0] for f in fams]), _titles(fams))]


def _collapse_figure(fam: list[Group], out_dir: Path, stem: str, setting: str) -> FigureResult:
    fixed = [g for g in fam if policy(g).kind == "fixed"]
    learned = [g for g in fam if policy(g).kind == "learned"]
    fig = new_figure(10.0, 5.0)
    ax = fig.add_subplot()
    data = {"groups": []}
    fixed_at: list[tuple[float, float]] = []  # (fixed sigma^2, mean curve at eps_mark), by sigma^2
    delta = fam[0].get("eval.delta", 0.01)
    eps_mark = fam[0].get("eval.eps", 0.01)
    styles = [(g, c, "-", "o") for g, c in zip(fixed, colours(len(fixed), "viridis"))]
    styles += [(g, c, "--", "s") for g, c in zip(learned, colours(len(learned), "autumn"))]
    texts = _legend_texts(fam)
    for group, colour, line, marker in styles:
        found = [c for c in (curves.collapse_curve(r.run_dir) for r in group.runs) if c is not None]
        if not found:
            continue
        eps, mean, std, n = curves.mean_curve(found, log_x=True)
        p = policy(group)
        label = texts[id(group)]
        if p.kind == "learned":
            # The seed count closes the label once, below: the stat's own "(n=...)" would repeat it.
            label += f" → σ² = {group.stat('train/sigma2').fmt(3, show_n=False)}"
        band(ax, eps, mean, std, colour, f"{label} (n={n})", linestyle=line)
        at = float(np.interp(np.log(eps_mark), np.log(eps), mean))
        if p.kind == "fixed":
            fixed_at.append((p.sigma2, at))
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
    suptitle(fig, f"Collapse against eps: {setting}")  # wrapped: a long setting ran off the axes' title
    ax.grid(True, which="major", alpha=0.3)
    # Outside the axes: the curves fill the plot from corner to corner.
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    path = save(fig, out_dir, stem)
    kinds = [text for text, present in (("solid: σ² fixed", fixed), ("dashed: σ² learned (its final value in the "
                                                                       "legend)", learned)) if present]
    caption = (
        f"Fraction of latent dimensions whose KL is below eps for at least {1 - delta:.0%} of the evaluation "
        f"examples, against eps; {', '.join(kinds)}. Lines are the mean over the n seeds in the legend, bands ±1 "
        "standard deviation." + _fixed_trend(fixed_at, eps_mark)
    )
    return FigureResult(3, stem, "Collapse against eps across a sigma^2 sweep", path, caption, data,
                        setting=setting)


def _fixed_trend(points: list[tuple[float, float]], eps: float) -> str:
    """What the fixed-sigma^2 curves show at ``eps``, read off them: the paper's claim is not assumed."""
    if len(points) < 2:
        return ""
    values = [value for _, value in points]
    shown = ", ".join(f"{value:.2f} at σ² = {sigma2:g}" for sigma2, value in points)
    if max(values) - min(values) < 0.005:
        return f" At eps = {eps:g} every fixed σ² collapses about the same fraction ({shown})."
    if all(later >= earlier - 0.005 for earlier, later in zip(values, values[1:])):
        return f" At eps = {eps:g} the collapsed fraction grows with fixed σ²: {shown}."
    return f" At eps = {eps:g} the collapsed fraction does not grow steadily with fixed σ²: {shown}."


def sigma2_figures(groups: list[Group], out_dir: Path) -> list[FigureResult]:
    # A sweep needs two settings with a known sigma^2 to be drawn against sigma^2.
    fams = [f for f in sweep_families(groups) if len([x for x in map(_sigma2_of, f) if x]) >= 2]
    return [_sigma2_figure(f, out_dir, f"fig4_sigma2_{s}", title)
            for f, s, title in zip(fams, unique_slugs([f[0] for f in fams]), _titles(fams))]


def _sigma2_of(group: Group) -> float | None:
    """The fixed sigma^2, or the mean final learned one; None where unknown or not positive."""
    value = policy(group).sigma2 if policy(group).kind == "fixed" else group.stat("train/sigma2").mean
    return value if value is not None and np.isfinite(value) and value > 0 else None


def _active_at(group: Group, eps: float) -> list[float]:
    """Per run: latents not (eps, delta)-collapsed, read off its collapse curve at the grid point nearest eps."""
    k = int(group.get("model.latent_dim") or 0)
    counts = []
    for run in group.runs:
        curve = curves.collapse_curve(run.run_dir)
        if curve is not None and k:
            grid, fraction = curve
            counts.append(k * (1.0 - fraction[np.argmin(np.abs(np.log(grid) - np.log(eps)))]))
    return counts


def _per_run(group: Group, metric: str) -> list[float]:
    values = [run.metrics.get(metric) for run in group.runs]
    return [float(v) for v in values if v is not None and np.isfinite(float(v))]


# Series that share sigma^2 values are drawn a little apart along the (log) axis, so that equal
# counts stay visible side by side instead of hiding one another.
NUDGE = 10 ** 0.03


def _seed_series(ax, xs, runs: list[list[float]], colour, marker: str, linestyle: str, label: str,
                 nudge: float = 1.0) -> None:
    """The seed mean joined across sigma^2, with every seed's own value as a faint dot.

    Integer counts over a few seeds are often skewed (5, 3, 9, 17, 3): a +-1 std bar would
    reach below every seed, the dots show what the seeds did.
    """
    x = np.asarray(xs, dtype=float) * nudge
    means = [float(np.mean(v)) if v else np.nan for v in runs]
    ax.plot(x, means, color=colour, marker=marker, linestyle=linestyle, markersize=6, label=label, zorder=3)
    dots = [(xi, v) for xi, values in zip(x, runs) for v in values]
    if any(len(v) > 1 for v in runs):
        ax.scatter([d[0] for d in dots], [d[1] for d in dots], color=colour, marker=marker, s=14, alpha=0.35,
                   linewidths=0, zorder=2)


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


# At most this many labels along a sigma^2 axis: "0.0126" beside its neighbours stays apart.
MAX_TICKS = 8
# At least this many: a log axis spanning a decade or two labels only one or two powers of ten.
MIN_TICKS = 3


def _sigma2_ticks(swept: list[float | None], lo: float, hi: float) -> list[float]:
    """Labelled sigma^2 ticks: the sweep's values (fixed ones first, in the order given), then, where
    fewer than MIN_TICKS, the powers of ten in [lo, hi] and then their 2 and 5 multiples.

    A value closer than 1/MAX_TICKS of the axis (in log) to one already kept is dropped: learned
    values fall anywhere (0.0106 beside a fixed 0.01), and their labels would overlap.
    """
    gap = np.log10(hi / lo) / MAX_TICKS
    kept: list[float] = []

    def add(values) -> None:
        for value in values:
            if value and lo <= value <= hi and all(abs(np.log10(value / k)) >= gap for k in kept):
                kept.append(float(value))

    add(swept)
    if len(kept) < MIN_TICKS:
        decades = range(int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi))) + 1)
        add(step * 10.0 ** d for step in (1, 2, 5) for d in decades)  # a wide axis keeps its decades
    return sorted(kept)


def _sigma2_figure(fam: list[Group], out_dir: Path, stem: str, setting: str) -> FigureResult:
    fixed = [g for g in fam if policy(g).kind == "fixed"]
    learned = [g for g in fam if policy(g).kind == "learned"]
    texts = _legend_texts(fam)
    fig = new_figure(14.0, 5.0)
    ax_elbo, ax_dims = fig.subplots(1, 2)
    data: dict = {"fixed": [], "learned": []}
    xs = [x for x in map(_sigma2_of, fam) if x]
    lo, hi = min(xs) / 3, max(xs) * 3
    eps = float(fam[0].get("eval.eps", 0.01))
    # The caption says what was drawn, clause by clause, and nothing else.
    left: list[str] = []
    right: list[str] = []
    if fixed:
        s2 = [policy(g).sigma2 for g in fixed]
        for metric, colour, name, nudge in (("train/elbo", "tab:blue", "train ELBO", 1 / NUDGE),
                                            ("test/elbo", "tab:cyan", "test ELBO", NUDGE)):
            if any(_per_run(g, metric) for g in fixed):
                _seed_series(ax_elbo, s2, [_per_run(g, metric) for g in fixed], colour, "o", "-",
                             f"σ² fixed: {name}", nudge)
                left.append(f"the {name} of the fixed-σ² runs")
        if any(_per_run(g, "ppca/log_px") for g in fixed):
            ax_elbo.plot(s2, [g.stat("ppca/log_px").mean for g in fixed], linestyle="none", marker="x", markersize=9,
                         color="k", zorder=4, label="pPCA optimum's exact log p(x) (ppca/log_px)")
            left.append("the pPCA optimum's exact log-likelihood at the same σ² (crosses)")
        _seed_series(ax_dims, s2, [_per_run(g, "collapse/active_dims") for g in fixed], "tab:blue", "o", "-",
                     f"σ² fixed: measured active dims (eps = {eps:g})")
        right.append(f"the measured active dimensions at eps = {eps:g} of the fixed-σ² runs")
        # The count at one eps can hang on latents that carry almost nothing (docs/deep-vaes.md):
        # the same count at a 10x larger eps, and active units, show whether it does.
        wider = [_active_at(g, 10 * eps) for g in fixed]
        units = [_per_run(g, "collapse/active_units") for g in fixed]
        if any(wider):
            _seed_series(ax_dims, s2, wider, "tab:purple", "v", "--", f"σ² fixed: active dims at eps = {10 * eps:g}",
                         1 / NUDGE)
            right.append(f"the count at eps = {10 * eps:g} (dashed)")
        if any(units):
            _seed_series(ax_dims, s2, units, "tab:green", "^", ":", "σ² fixed: active units (Cov of mean > 0.01)", NUDGE)
            right.append("the active units (dotted)")
        ppca_dims = [g.stat("ppca/active_dims") for g in fixed]
        if any(d.n for d in ppca_dims):
            ax_dims.plot(s2, [d.mean for d in ppca_dims], linestyle="none", marker="x", markersize=9, markeredgewidth=2,
                         color="k", zorder=4, label="pPCA optimum's active dims (ppca/active_dims)")
            right.append("the pPCA reference each run logged (ppca/active_dims, crosses)")
        for g, x, p, w in zip(fixed, s2, ppca_dims, wider):
            data["fixed"].append({"label": g.label, "noise.sigma2": float(x), "train/elbo": g.stat("train/elbo").as_dict(),
                                  "test/elbo": g.stat("test/elbo").as_dict(), "ppca/log_px": g.stat("ppca/log_px").as_dict(),
                                  "collapse/active_dims": g.stat("collapse/active_dims").as_dict(),
                                  "ppca/active_dims": p.as_dict(),
                                  # not logged by runs: read off their collapse curves at 10 x eps
                                  "active_dims_at_10eps": stat(w).as_dict(),
                                  "collapse/active_units": g.stat("collapse/active_units").as_dict(),
                                  "seeds": g.seeds})
    for g, colour in zip(learned, colours(len(learned), "autumn")):
        s2 = g.stat("train/sigma2")
        e = g.stat("train/elbo")
        d = g.stat("collapse/active_dims")
        text = f"{texts[id(g)]} (n={g.n})"
        # Each seed at its own final sigma^2, the mean as a larger square.
        seed_x = [run.metrics.get("train/sigma2") for run in g.runs]
        for ax, metric, value in ((ax_elbo, "train/elbo", e), (ax_dims, "collapse/active_dims", d)):
            ax.plot([s2.mean], [value.mean], color=colour, marker="s", markersize=8, linestyle="none", label=text,
                    zorder=3)
            pairs = [(x, run.metrics.get(metric)) for x, run in zip(seed_x, g.runs)
                     if x is not None and run.metrics.get(metric) is not None]
            if len(pairs) > 1:
                ax.scatter(*zip(*pairs), color=colour, marker="s", s=14, alpha=0.4, linewidths=0, zorder=2)
        data["learned"].append({"label": g.label, "train/sigma2": s2.as_dict(), "train/elbo": e.as_dict(),
                                "collapse/active_dims": d.as_dict(), "seeds": g.seeds})
    if learned:
        left.append("the train ELBO of the learned-σ² runs (squares)")
        right.append("the measured active dimensions of the learned-σ² runs (squares)")
    theory = _theory_curve(fam, lo, hi)
    if theory is not None:
        grid, count, k = theory
        ax_dims.step(grid, count, where="post", color="k", linewidth=1.2, alpha=0.7,
                     label="linear theory: #{i ≤ k : λ_i > σ²}")
        ax_dims.axhline(k, color="grey", linestyle=":", linewidth=1.0, label=f"all k = {k} latents")
        data["theory"] = {"sigma2": [float(v) for v in grid[::10]], "active_dims": [int(v) for v in count[::10]]}
        right.append("the linear theory's prediction, the number of the top k covariance eigenvalues of the "
                     "training data above σ² (black step)")
    ticks = _sigma2_ticks([policy(g).sigma2 for g in fixed] + [_sigma2_of(g) for g in learned], lo, hi)
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
    ax_dims.set_ylabel(f"active latent dimensions (not ({eps:g}, {fam[0].get('eval.delta', 0.01):g})-collapsed)")
    ax_dims.set_title("Collapse against σ²: measured vs linear theory")
    suptitle(fig, f"Across the σ² sweep: {setting}")
    path = save(fig, out_dir, stem)
    parts = []
    if fixed:
        parts.append("σ² fixed: circles, the seed mean joined across σ², each seed's value a faint dot beside it "
                     "(series drawn slightly apart along σ² so that equal values stay visible)")
    if learned:
        parts.append("σ² learned: squares at the seeds' mean final σ², each seed's own final σ² a faint square")
    compared = any("dashed" in clause or "dotted" in clause for clause in right)
    why = (" Where the counts at eps, at ten times eps and the active units part, latents that carry almost nothing "
           "decide the count at eps." if compared else "")
    caption = (f"Against σ², left: {'; '.join(left) or 'nothing the runs logged'}. Right: "
               f"{'; '.join(right) or 'nothing the runs logged'}.{why} " + "; ".join(parts) + ".")
    return FigureResult(4, stem, "ELBO and collapse against sigma^2, with the linear theory", path, caption, data,
                        setting=setting)
