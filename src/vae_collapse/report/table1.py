"""Table 6 of the issue, like the paper's Table 1: ELBO, IWAE log-likelihood and collapse per noise policy."""

from __future__ import annotations

from dataclasses import dataclass

from vae_collapse.report.aggregate import Group, Stat
from vae_collapse.report.describe import data_text, model_text, policy

# The number columns are named by their metric (the names of summary.json and W&B).
COLUMNS = ("experiment", "data", "model", "noise policy", "train/elbo", "test/log_px_iwae",
           "collapse/collapsed_fraction", "n")


def experiment_text(group: Group) -> str:
    """The experiment name, plus what else (not the noise, which has its own column) tells it apart."""
    extra = [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
             for k, v in group.varied.items() if not k.startswith("noise.")]
    return group.name + (f" [{', '.join(extra)}]" if extra else "")


@dataclass
class Row:
    group: Group
    train_elbo: Stat
    test_iwae: Stat
    collapsed: Stat
    eps: float

    def cells(self) -> list[str]:
        return [experiment_text(self.group), data_text(self.group), model_text(self.group),
                policy(self.group).text, self.train_elbo.fmt(show_n=False, decimals=2),
                self.test_iwae.fmt(show_n=False, decimals=2),
                f"{self.collapsed.fmt(show_n=False, decimals=2)} (eps={self.eps:g})", str(self.group.n)]

    def as_dict(self) -> dict:
        return {"label": self.group.label, "experiment": self.group.name, "data": data_text(self.group),
                "model": model_text(self.group), "policy": policy(self.group).text,
                "policy_kind": policy(self.group).kind, "seeds": self.group.seeds,
                "train/elbo": self.train_elbo.as_dict(), "test/log_px_iwae": self.test_iwae.as_dict(),
                "collapse/collapsed_fraction": self.collapsed.as_dict(), "eval.eps": self.eps}


def rows(groups: list[Group]) -> list[Row]:
    """One row per setting: grouped by data and model, then by noise policy and its value."""
    ordered = sorted(groups, key=lambda g: (data_text(g), model_text(g), policy(g).order, g.label))
    return [Row(g, g.stat("train/elbo"), g.stat("test/log_px_iwae"), g.stat("collapse/collapsed_fraction"), float(g.get("eval.eps", 0.01)))
            for g in ordered]
