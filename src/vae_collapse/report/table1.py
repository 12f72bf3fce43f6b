"""Table 6 of the issue, like the paper's Table 1: ELBO, IWAE log-likelihood and collapse per noise policy."""

from __future__ import annotations

from dataclasses import dataclass

from vae_collapse.report.aggregate import Group, Stat, differing_keys, label_with
from vae_collapse.report.describe import data_text, model_text, policy

# The number columns are named by their metric (the names of summary.json and W&B).
COLUMNS = ("experiment", "data", "model", "noise policy", "train/elbo", "test/log_px_iwae",
           "collapse/collapsed_fraction", "n", "budget")


def budget_text(group: Group) -> str:
    """Steps trained and what the IWAE bound was taken on: rows of other budgets sit side by side."""
    steps = group.stat("time/steps")
    parts = [f"{steps.mean:,.0f} steps" if steps.n else "steps n/a"]
    images = group.stat("test/iwae_examples")
    samples = sorted({k for k in map(_iwae_samples, group.runs) if k})
    if images.n:
        k_text = f" K={' or '.join(f'{k:,.0f}' for k in samples)}" if samples else ""
        parts.append(f"IWAE{k_text} on {images.mean:,.0f} test images")
    return "; ".join(parts)


def _measured_with(run, metric: str, key: str) -> float | None:
    """The eval.<key> ``metric`` was measured with: a later vae-collapse-eval's where the value came
    from it, else the run's own."""
    settings = run.eval_settings if metric in run.from_eval else (run.config.get("eval") or {})
    value = settings.get(key) if isinstance(settings, dict) else None
    if value is None and metric in run.from_eval:  # an eval.json from before it kept its settings
        given = [o.split("=", 1)[1] for o in run.eval_overrides if o.startswith(f"eval.{key}=")]
        try:
            value = float(given[-1]) if given else (run.config.get("eval") or {}).get(key)
        except ValueError:
            value = None
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _iwae_samples(run) -> float | None:
    """K of the run's IWAE bound."""
    return _measured_with(run, "test/log_px_iwae", "iwae_samples")


def eps_of(group: Group) -> list[float]:
    """The eps (or eps's) the setting's collapsed fractions were measured at."""
    found = {_measured_with(run, "collapse/collapsed_fraction", "eps") for run in group.runs}
    return sorted(float(e) for e in found if e is not None) or [0.01]


def _other_cells(group: Group) -> tuple[str, ...]:
    """What a row says besides its experiment column: the name, data, model and noise policy."""
    return (group.name, data_text(group), model_text(group), policy(group).text)


def experiment_texts(groups: list[Group]) -> list[str]:
    """Each row's experiment name, plus the keys that tell it from the rows that read alike in every other column.

    Only rows that would otherwise read alike are compared: a key the other columns already tell
    apart (sigma^2, the data, the model) is not said twice, nor is one that only another row has
    (the schedule shape of an annealed sigma^2 beside an optimal one); a key they do not show
    (noise.shape: linear against cosine) is named.
    """
    alike: dict[tuple[str, ...], list[Group]] = {}
    for group in groups:
        alike.setdefault(_other_cells(group), []).append(group)
    return [label_with(group, differing_keys(alike[_other_cells(group)])) for group in groups]


@dataclass
class Row:
    group: Group
    experiment: str  # the name and what tells the row from those that read alike (experiment_texts)
    train_elbo: Stat
    test_iwae: Stat
    collapsed: Stat
    eps: list[float]  # more than one where the seeds were measured at different eps

    def cells(self) -> list[str]:
        return [self.experiment, data_text(self.group), model_text(self.group),
                policy(self.group).text, self.train_elbo.fmt(show_n=False, decimals=2),
                self.test_iwae.fmt(show_n=False, decimals=2),
                f"{self.collapsed.fmt(show_n=False, decimals=2)} (eps={' or '.join(f'{e:g}' for e in self.eps)})",
                str(self.group.n),
                budget_text(self.group)]

    def as_dict(self) -> dict:
        return {"label": self.group.label, "experiment": self.group.name, "data": data_text(self.group),
                "model": model_text(self.group), "policy": policy(self.group).text,
                "policy_kind": policy(self.group).kind, "seeds": self.group.seeds,
                "train/elbo": self.train_elbo.as_dict(), "test/log_px_iwae": self.test_iwae.as_dict(),
                "collapse/collapsed_fraction": self.collapsed.as_dict(),
                "eval.eps": self.eps[0] if len(self.eps) == 1 else self.eps,
                "budget": budget_text(self.group)}


def rows(groups: list[Group]) -> list[Row]:
    """One row per setting: grouped by data and model, then by noise policy and its value."""
    ordered = sorted(groups, key=lambda g: (data_text(g), model_text(g), policy(g).order, g.label))
    return [Row(g, text, g.stat("train/elbo"), g.stat("test/log_px_iwae"), g.stat("collapse/collapsed_fraction"),
                eps_of(g))
            for g, text in zip(ordered, experiment_texts(ordered))]
