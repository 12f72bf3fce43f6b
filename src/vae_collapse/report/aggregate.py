"""Runs that differ only in their seed form a group; a group's metrics are mean, std and n.

The standard deviation is the sample one (ddof = 1), the spread a reader expects for a few
seeds; it is undefined (None) for a single run, and shown as such rather than as 0.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from vae_collapse.config.keys import PRESENTATION_ONLY, without_keys
from vae_collapse.report.runs import Run
from vae_collapse.reporting.summary import SUMMARY_FILE

# Top-level keys that differ between repeats of one setting but do not change it: where the run
# writes (paths, logger folders), the seed itself, and the checkpoint a run was resumed from (a
# resumed run computes what the uninterrupted one would).
NOT_THE_SETTING = ("seed", "paths", "logger", "resume")
# Hydra's instantiation flags: not settings of the run.
HYDRA_FLAGS = frozenset({"_partial_", "_recursive_", "_convert_"})


@dataclass(frozen=True)
class Stat:
    mean: float
    std: float | None
    n: int

    def fmt(self, digits: int = 4, show_n: bool = True, decimals: int | None = None) -> str:
        """``mean ± std (n=3)``; a single run has no spread, and shows none.

        ``digits`` significant digits, or ``decimals`` places after the point: nats in a table
        column line up only with fixed places (-1004.87 beside -492.92, not -1005).
        """
        if self.n == 0:
            return "n/a"
        if self.std is not None and self.std <= 1e-9 * max(abs(self.mean), 1.0):
            # Seeds that agree (ppca/* of the same data) or differ by float noise (0.1 ± 1.7e-17).
            return Stat(self.mean, None, self.n).fmt(digits, show_n, decimals)
        if decimals is not None:
            mean = f"{self.mean:.{decimals}f}"
            spread = None if self.std is None else f"{self.std:.{decimals}f}"
        else:
            mean = f"{self.mean:.{digits}g}"
            spread = None if self.std is None else f"{self.std:.2g}"
        text = mean if spread is None else f"{mean} ± {spread}"
        return f"{text} (n={self.n})" if show_n else text

    def as_dict(self) -> dict[str, Any]:
        return {"mean": self.mean if self.n else None, "std": self.std, "n": self.n}


def stat(values: Iterable[float]) -> Stat:
    """Mean and sample standard deviation of the finite values; n counts the values used."""
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    n = len(finite)
    if n == 0:
        return Stat(math.nan, None, 0)
    mean = math.fsum(finite) / n
    if n == 1:
        return Stat(mean, None, 1)
    var = math.fsum((v - mean) ** 2 for v in finite) / (n - 1)
    return Stat(mean, math.sqrt(var), n)


def setting(config: dict[str, Any]) -> dict[str, Any]:
    """The config without what seed-repeats may differ in.

    Nested ``seed`` keys equal to the run's seed (e.g. ``dataset.seed: ${seed}``) go too: they
    are the same seed, resolved into another node.
    """
    seed = config.get("seed")

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if not (k == "seed" and v == seed)}
        return node

    kept = {k: strip(v) for k, v in config.items() if k not in NOT_THE_SETTING}
    # Nor is the cache folder: it only stores the data. dataset.root stays, since it names which
    # images a folder data set reads (CelebA against another copy of it).
    return without_keys(kept, (*PRESENTATION_ONLY, "dataset.cache_dir"))


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists stay values."""
    if not isinstance(node, dict):
        return {prefix: node}
    flat: dict[str, Any] = {}
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            flat.update(flatten(value, path))
        else:
            flat[path] = value
    return flat


def without(flat: dict[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """``flat`` minus every key equal to or below one of ``keys`` (dotted prefixes)."""
    keys = tuple(keys)
    return {k: v for k, v in flat.items() if not any(k == p or k.startswith(p + ".") for p in keys)}


def key_of(flat: dict[str, Any]) -> str:
    """One text per setting; ``noise.sigma2=1`` and ``=1.0`` are one setting, as for the sweep that ran them."""
    return json.dumps(_same_numbers(flat), sort_keys=True, default=str)


def _same_numbers(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _same_numbers(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_same_numbers(v) for v in node]
    if isinstance(node, float) and node.is_integer():
        return int(node)
    return node


@dataclass
class Group:
    """Completed runs of one setting, one per seed (set_aside_repeats keeps the newest of repeats)."""

    runs: list[Run]
    flat: dict[str, Any]  # the flattened setting
    label: str = ""
    varied: dict[str, Any] = field(default_factory=dict)  # the keys that tell it from its siblings

    @property
    def name(self) -> str:
        return str(self.flat.get("name", "run"))

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def seeds(self) -> list[Any]:
        return [run.seed for run in self.runs]

    def get(self, key: str, default: Any = None) -> Any:
        return self.flat.get(key, default)

    def stat(self, metric: str) -> Stat:
        return stat(run.metrics.get(metric, math.nan) for run in self.runs)

    def metric_names(self) -> list[str]:
        return sorted({name for run in self.runs for name in run.metrics})


def _short(value: Any) -> str:
    """A value as an override would spell it (null, true), shortened where it is a class path."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, str) and value.count(".") >= 2 and " " not in value:
        return value.rsplit(".", 1)[-1]  # a _target_ path: the class name says enough
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _sort_value(value: Any) -> tuple:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def differing_keys(groups: Iterable[Group]) -> list[str]:
    """The flattened keys whose values are not the same in all ``groups`` (a missing key counts as a value)."""
    groups = list(groups)
    keys = sorted({k for g in groups for k in g.flat})
    return [k for k in keys if len({json.dumps(g.flat.get(k), default=str) for g in groups}) > 1]


def label_with(group: Group, keys: Iterable[str]) -> str:
    """The group's name, with its value of each of ``keys`` worth reading: "name [noise.sigma2=0.5]".

    Hydra's own flags (``_partial_``) go, and so do keys this group's config does not have (a run
    without ``lr_scheduler``, or with optimizer=em's keys, against one with them): the label of
    the group that has them still names them.
    """
    return bracketed(group.name, {k: group.flat[k] for k in keys
                                  if k.rsplit(".", 1)[-1] not in HYDRA_FLAGS and k in group.flat})


def bracketed(text: str, values: dict[str, Any]) -> str:
    """``text [key=value, ...]``, values spelled as overrides; ``text`` alone where there are none."""
    parts = [f"{k}={_short(v)}" for k, v in values.items()]
    return text + (f" [{', '.join(parts)}]" if parts else "")


def set_aside_repeats(runs: list[Run]) -> list[Run]:
    """Runs of one setting and seed counted once: the newest (its summary.json last written) is kept.

    A command run twice gives the same seed twice; averaged as two seeds it would halve the
    spread and double n. The others become status ``repeat``, listed with the runs not used.
    """
    newest: dict[str, Run] = {}
    for run in runs:
        if not run.usable:
            continue
        key = key_of({"setting": flatten(setting(run.config)), "seed": run.seed})
        if key not in newest or _written(run) > _written(newest[key]):
            newest[key] = run
    kept = {id(run) for run in newest.values()}
    out = []
    for run in runs:
        if run.usable and id(run) not in kept:
            twin = newest[key_of({"setting": flatten(setting(run.config)), "seed": run.seed})]
            run = replace(run, status="repeat", reason=f"same setting and seed {run.seed} as {twin.run_dir}, "
                                                       "which is newer and is used")
        out.append(run)
    return out


def _written(run: Run) -> tuple[float, str]:
    try:
        return (run.run_dir.joinpath(SUMMARY_FILE).stat().st_mtime, str(run.run_dir))
    except OSError:
        return (0.0, str(run.run_dir))


def group_runs(runs: Iterable[Run]) -> list[Group]:
    """Group usable runs by setting; label each group by what tells it from same-named groups."""
    buckets: dict[str, Group] = {}
    for run in runs:
        flat = flatten(setting(run.config))
        key = key_of(flat)
        if key not in buckets:
            buckets[key] = Group([], flat)
        buckets[key].runs.append(run)
    groups = list(buckets.values())
    by_name: dict[str, list[Group]] = {}
    for group in groups:
        by_name.setdefault(group.name, []).append(group)
    for siblings in by_name.values():
        differing = differing_keys(siblings)
        for group in siblings:
            group.varied = {k: group.flat.get(k) for k in differing}
            group.label = label_with(group, differing)
    groups.sort(key=lambda g: (g.name, [_sort_value(v) for v in g.varied.values()]))
    return groups


def families(groups: Iterable[Group], ignore: Iterable[str]) -> list[list[Group]]:
    """Groups that share everything but the ``ignore`` keys (dotted prefixes), in order."""
    ignore = tuple(ignore)
    buckets: dict[str, list[Group]] = {}
    for group in groups:
        buckets.setdefault(key_of(without(group.flat, ignore)), []).append(group)
    return list(buckets.values())


def split_by(groups: list[Group], keys: Iterable[str]) -> list[list[Group]]:
    """``groups`` in parts that agree on every one of ``keys`` (dotted), in order."""
    keys = tuple(keys)
    buckets: dict[str, list[Group]] = {}
    for group in groups:
        buckets.setdefault(key_of({k: group.get(k) for k in keys}), []).append(group)
    return list(buckets.values())
