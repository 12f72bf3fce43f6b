"""Words for a setting: its noise policy, its data and model, and a file-name slug."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from vae_collapse.report.aggregate import Group, bracketed, differing_keys


@dataclass(frozen=True)
class Policy:
    kind: str  # fixed | learned | kl_anneal | anneal | optimal | other
    text: str
    sigma2: float | None  # the fixed sigma^2 where there is one
    order: tuple  # sorts a table: kind first, then the swept value


KIND_ORDER = ("fixed", "learned", "kl_anneal", "anneal", "optimal", "other")


def _cls(target: Any) -> str:
    return str(target or "").rsplit(".", 1)[-1]


def policy_from(noise: dict[str, Any], final_beta: float | None = None) -> Policy:
    """The noise policy of a flattened ``noise.*`` node (keys without the ``noise.`` prefix).

    ``final_beta``: the runs' last KL weight (``train/beta``); below 1 the warm-up was cut off by
    the end of the run, and the text says so rather than promise the plain ELBO.
    """
    cls = _cls(noise.get("_target_"))
    if cls == "FixedNoise":
        s2 = float(noise.get("sigma2"))
        return Policy("fixed", f"fixed σ² = {s2:g}", s2, (KIND_ORDER.index("fixed"), s2))
    if cls == "LearnedNoise":
        init = float(noise.get("init", 1.0))
        return Policy("learned", f"learned σ², init {init:g}", None, (KIND_ORDER.index("learned"), init))
    if cls == "KLAnnealing":
        base = policy_from({k[len("base."):]: v for k, v in noise.items() if k.startswith("base.")})
        warmup = int(noise.get("warmup_steps", 0))
        start = float(noise.get("start", 0.0))
        head = "plain ELBO (no warm-up)" if warmup == 0 else f"KL annealing β: {start:g}→1 over {warmup} steps"
        if warmup and final_beta is not None and math.isfinite(final_beta) and final_beta < 1.0 - 1e-9:
            shown = f"{final_beta:.2g}" if f"{final_beta:.2g}" != "1" else f"{final_beta:.6f}".rstrip("0")
            head += f" (cut off by the run's end at β = {shown})"
        return Policy("kl_anneal", f"{head}, {base.text}", base.sigma2, (KIND_ORDER.index("kl_anneal"), warmup))
    if cls == "AnnealedNoise":
        text = (f"σ² annealed {float(noise.get('start')):g}→{float(noise.get('end')):g} "
                f"over {noise.get('steps')} steps, then {noise.get('then')}")
        return Policy("anneal", text, None, (KIND_ORDER.index("anneal"), 0))
    if cls == "OptimalNoise":
        return Policy("optimal", "σ² = mean squared error (optimal)", None, (KIND_ORDER.index("optimal"), 0))
    return Policy("other", cls or "unknown noise", None, (KIND_ORDER.index("other"), 0))


def _sub(flat: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {k[len(prefix) + 1:]: v for k, v in flat.items() if k.startswith(prefix + ".")}


def _closed_form(group: Group) -> bool:
    """model=ppca: the linear VAE set to pPCA's maximum-likelihood solution, with no gradient steps."""
    return group.get("model.fit") == "closed_form"


def policy(group: Group) -> Policy:
    found = policy_from(_sub(group.flat, "noise"), group.stat("train/beta").mean)
    if _closed_form(group) and found.kind == "learned":  # nothing starts from the init: σ² is σ²_ML
        return replace(found, text="σ² = σ²_ML (closed form)")
    return found


def warmup_cut_off(group: Group) -> bool:
    """Whether the group's KL warm-up was longer than its runs: they ended with beta (train/beta) below 1."""
    beta = group.stat("train/beta").mean
    return bool(group.get("noise.warmup_steps")) and math.isfinite(beta) and beta < 1.0 - 1e-9


def _widths(value: Any) -> str:
    return "-".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)


def architecture_text(group: Group) -> str:
    """Widths and non-linearity of a deep model ("1024-512 relu"), a linear VAE's encoder; "" if none."""
    parts = []
    for key in ("model.hidden", "model.channels"):
        if group.get(key) is not None:
            parts.append(_widths(group.get(key)))
    if group.get("model.activation"):
        parts.append(str(group.get("model.activation")))
    encoder = group.get("model.encoder")
    if encoder and encoder != "linear":
        hidden = group.get("model.encoder_hidden")
        parts.append(f"{encoder} encoder" + (f" {_widths(hidden)}" if hidden else ""))
    return " ".join(parts)


def model_text(group: Group, elbo: bool = True) -> str:
    model = _cls(group.get("model._target_"))
    k = group.get("model.latent_dim")
    if _closed_form(group):
        return f"pPCA k={k} (closed form)"
    arch = architecture_text(group)
    extra = f", {group.get('model.elbo')} ELBO" if elbo and model == "LinearVAE" and group.get("model.elbo") else ""
    return f"{model} k={k}" + (f" ({arch})" if arch else "") + extra


def _data_name(group: Group) -> str:
    """mnist, CelebA, ...: the dataset's own name, else its class without the DataModule/Folder suffixes."""
    return group.get("dataset.name") or _cls(group.get("dataset._target_")).replace("DataModule", "").replace("Folder", "")


def _folder_text(path: Any) -> str:
    """The last two components of a folder ("data/celeba"): the last alone reads alike for two copies of
    one data set (~/a/celeba, ~/b/celeba), and the whole path is long in a title."""
    parts = Path(str(path)).parts
    return str(Path(*parts[-2:])) if parts else str(path)


def data_words(group: Group) -> tuple[str, list[str]]:
    """The data set's name and its details ("1000 train", the user's folder)."""
    name = _data_name(group)
    if group.get("dataset.image_size"):
        name += f" {group.get('dataset.image_size')}x{group.get('dataset.image_size')}"
    subset = group.get("dataset.subset") or group.get("dataset.n_train")
    details = [f"{subset} train" if subset else "all train"]
    if group.get("dataset.root"):  # a user's folder: two of them must not read alike
        details.append(f"from {_folder_text(group.get('dataset.root'))}/")
    return name, details


def data_text(group: Group) -> str:
    name, details = data_words(group)
    return f"{name} ({', '.join(details)})"


def _budget(group: Group) -> str:
    """"8000 steps", or "20 epochs" where the run was bounded by epochs (max_steps -1)."""
    if _closed_form(group):
        return "no steps"
    steps = group.get("trainer.max_steps")
    if steps is not None and int(steps) >= 0:
        return f"{steps} steps"
    epochs = group.get("trainer.max_epochs")
    return f"{epochs} epochs" if epochs is not None and int(epochs) >= 0 else "no step limit"


def budget_text(group: Group) -> str:
    batch = group.get("dataset.batch_size")
    return f"{_budget(group)}, " + (f"batch {batch}" if batch else "full batch")


def family_title(group: Group, elbo: bool = True) -> str:
    """Data, model and budget; ``elbo=False`` where a figure compares the ELBO kinds."""
    return f"{data_text(group)}, {model_text(group, elbo)}, {budget_text(group)}"


def slug(group: Group) -> str:
    name = _data_name(group)
    subset = group.get("dataset.subset") or group.get("dataset.n_train")
    parts = [str(name), f"n{subset}" if subset else "", _cls(group.get("model._target_")), f"k{group.get('model.latent_dim')}",
             architecture_text(group).replace(" ", "_"),
             _budget(group).replace(" ", "")]
    text = "_".join(p for p in parts if p).lower()
    return re.sub(r"[^a-z0-9_]+", "-", text)


def policy_slug(group: Group) -> str:
    """The noise policy in a file name: "fixed σ² = 0.5" -> "fixed-sigma2-0.5"."""
    text = policy(group).text.replace("σ²", "sigma2").replace("β", "beta").replace("→", "-to-").lower()
    return re.sub(r"[^a-z0-9.]+", "-", text).strip("-")


def unique_slugs(groups: list[Group], with_policy: bool = False) -> list[str]:
    """One slug per family representative; repeats get -2, -3, ... so files never clash.

    ``with_policy`` where a figure is drawn once per noise policy (Figures 2 and 5 of a σ² sweep),
    so that its files tell the settings apart by name.
    """
    seen: dict[str, int] = {}
    out = []
    for group in groups:
        base = slug(group) + (f"_{policy_slug(group)}" if with_policy else "")
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return out


def distinct_titles(fams: list[list[Group]], titles: list[str]) -> list[str]:
    """The figures' ``titles``, one per family; where two read the same, each names its own value
    of the keys that are constant within it and tell it from the other (optimizer.lr=0.002)."""
    titles = list(titles)
    for title in set(titles):
        same = [i for i, t in enumerate(titles) if t == title]
        if len(same) < 2:
            continue
        constant = [{k: v for k, v in fams[i][0].flat.items() if all(k in g.flat and g.flat[k] == v for g in fams[i])}
                    for i in same]
        telling = [k for k in differing_keys([Group([], c) for c in constant]) if all(k in c for c in constant)]
        # The legend names the noise policies; the title only where nothing else tells them apart.
        telling = [k for k in telling if not k.startswith("noise.")] or telling
        for i, values in zip(same, constant):
            titles[i] = bracketed(titles[i], {k: values[k] for k in telling})
    return titles
