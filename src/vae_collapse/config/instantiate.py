"""The one instantiate helper: check a ``_target_`` node against its constructor, then build it.

The constructor's signature is the schema: its parameter names are the valid keys and its
type annotations the valid types, so a schema never drifts from the code it describes.
Range checks live in the constructors (they raise ``ValueError`` naming the parameter);
this module adds the config path, so ``noise.sigma2=-1`` fails as
``noise.sigma2=-1 must be > 0``.
"""

from __future__ import annotations

import collections.abc
import inspect
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
import types
import typing
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError
import torch

from vae_collapse.config.errors import ConfigError, as_typed

_SPECIAL_KEYS = {"_target_", "_partial_", "_recursive_", "_convert_", "_args_"}
# The Trainer settings that can need an optional package (torch_xla, deepspeed, transformer_engine).
_DEVICE_KEYS = ("accelerator", "strategy", "precision", "plugins")
_DEVICE_DEFAULTS = ("auto", "None", "32-true", "32")  # Lightning's own: they need nothing extra
# Annotations no YAML value can satisfy: torch's "lr: float | Tensor" must still refuse "abc".
_NOT_FROM_CONFIG = {"torch.Tensor"}


def _qualname(annotation: Any) -> str:
    return f"{getattr(annotation, '__module__', '')}.{getattr(annotation, '__name__', '')}"


def _describe(annotation: Any) -> str:
    if annotation is type(None):
        return "null"
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_describe(a) for a in typing.get_args(annotation) if _qualname(a) not in _NOT_FROM_CONFIG)
    if origin in (list, tuple, typing.Sequence, collections.abc.Sequence):
        args = typing.get_args(annotation)
        return f"list of {_describe(args[0])}" if args else "list"
    return getattr(annotation, "__name__", str(annotation))


def _matches(value: Any, annotation: Any) -> bool:
    """True when ``value`` fits ``annotation``; annotations it does not understand accept anything."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return True
    if annotation is type(None):
        return value is None
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return value in typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in typing.get_args(annotation))
    if origin in (list, tuple, typing.Sequence, collections.abc.Sequence):
        if not isinstance(value, (list, tuple, ListConfig)):
            return False
        args = typing.get_args(annotation)
        return not args or all(_matches(v, args[0]) for v in value)
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if _qualname(annotation) in _NOT_FROM_CONFIG:
        return False
    return True


def _signature(target: Any) -> tuple[dict[str, inspect.Parameter], dict[str, Any], bool]:
    fn = target.__init__ if inspect.isclass(target) else target
    params = dict(inspect.signature(fn).parameters)
    params.pop("self", None)
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # third-party annotations may not resolve; then types are not checked
        hints = {}
    open_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    if open_kwargs and inspect.isclass(target):
        # A subclass that passes **kwargs on to its base takes the base's keys, and only those:
        # followed through a user's own subclasses, as far as a class of this package.
        base = next((c for c in target.__mro__[1:] if "__init__" in c.__dict__ and c is not object), None)
        if base is not None and any(c.__module__.startswith("vae_collapse.") for c in base.__mro__):
            base_params, base_hints, open_kwargs = _signature(base)
            params = {k: v for k, v in params.items() if v.kind is not inspect.Parameter.VAR_KEYWORD}
            params.update({k: v for k, v in base_params.items() if k not in params})
            hints = {**base_hints, **hints}
    passed_on = getattr(target, "kwargs_passed_to", None) if open_kwargs and inspect.isclass(target) else None
    if passed_on is not None:
        # A class that hands **kwargs to third-party callables (W&B's logger and wandb.init) names
        # them, so that their keys, and only those, are accepted and typed.
        for fn in passed_on():
            for name, param in inspect.signature(fn).parameters.items():
                if name != "self" and param.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL):
                    params.setdefault(name, param)
            try:
                hints = {**typing.get_type_hints(fn), **hints}
            except Exception:  # noqa: BLE001 - unresolvable annotations: keys checked, types not
                pass
        params = {k: v for k, v in params.items() if v.kind is not inspect.Parameter.VAR_KEYWORD}
        open_kwargs = False
    return params, hints, open_kwargs


def _import_target(name: str, path: str) -> Any:
    """The object a ``_target_`` names, or a ConfigError that says why it cannot be imported.

    Hydra logs its own multi-line account first and words every failure as "is it installed?";
    the first cause (a SyntaxError in the user's module, a missing module) is what to fix.
    """
    hydra_log = logging.getLogger("hydra.utils")
    was_disabled, hydra_log.disabled = hydra_log.disabled, True
    try:
        return get_object(name)
    except Exception as exc:
        chain = _cause_chain(exc)
        # The first missing module says what to fix; Hydra's later tries (getattr on the package)
        # only add an AttributeError about it.
        root = next((e for e in chain if isinstance(e, ModuleNotFoundError)), chain[-1])
        reason = f"{type(root).__name__}: {str(root).strip().splitlines()[0] if str(root).strip() else ''}".rstrip(": ")
        if isinstance(root, ModuleNotFoundError) and root.name:
            reason += "; " + _missing_module_hint(name, root.name)
        raise ConfigError(f"{path}._target_={name}: cannot be imported ({reason})") from None
    finally:
        hydra_log.disabled = was_disabled


def _cause_chain(exc: BaseException) -> list[BaseException]:
    chain = [exc]
    while (chain[-1].__cause__ or chain[-1].__context__) is not None and len(chain) < 20:
        chain.append(chain[-1].__cause__ or chain[-1].__context__)
    return chain


def _missing_module_hint(target: str, missing: str) -> str:
    """What to do about ``missing`` when importing ``target``: the path, or an install."""
    from importlib.util import find_spec

    if target == missing or target.startswith(missing + "."):
        return "is its folder on PYTHONPATH?"  # the target's own module (or package) is not found
    top = missing.split(".")[0]
    try:
        top_found = find_spec(top) is not None
    except (ImportError, ValueError):
        top_found = False
    if top_found:
        return f"its module imports {missing}, which {top} does not have"
    return f"its module imports {missing}: not installed in this environment, or its folder is not on PYTHONPATH"


def check_node(node: DictConfig, path: str, supplied: tuple[str, ...] = ()) -> None:
    """Raise ConfigError if ``node`` names an unknown target, key or a value of the wrong type.

    ``supplied`` are the parameters the caller passes at build time (e.g. ``data_dim``).
    """
    if not isinstance(node, DictConfig):  # `eval=1`: a plain value where settings belong
        raise ConfigError(f"{path}={node}: {path} holds settings, not a value; set one of them, e.g. {path}.<key>=...")
    if "_target_" not in node:
        raise ConfigError(f"{path}: expected a config with a _target_, got {OmegaConf.to_yaml(node).strip()!r}")
    target_name = node._target_
    target = _import_target(target_name, path)
    params, hints, open_kwargs = _signature(target)
    for key in node.keys():
        if OmegaConf.is_missing(node, key):  # "???" in a config: a value the user must give
            raise ConfigError(f"{path}.{key}: has no value (??? in the config); give one with {path}.{key}=...")
    for key in node.keys():
        if key in _SPECIAL_KEYS:
            continue
        _check_resolves(node, key, path)
        if key in supplied:
            raise ConfigError(f"{path}.{key}: set by the framework at run time, remove it from the config")
        if key not in params:
            if open_kwargs:
                continue
            valid = ", ".join(k for k in params if k not in supplied and params[k].kind is not inspect.Parameter.VAR_POSITIONAL)
            raise ConfigError(f"{path}.{key}: unknown key for {target.__name__}; valid keys: {valid}")
        if isinstance(node[key], DictConfig) and "_target_" in node[key]:
            check_node(node[key], f"{path}.{key}")  # a nested object, e.g. the base noise of KL annealing
            continue
        value = OmegaConf.to_container(node, resolve=True)[key] if OmegaConf.is_config(node[key]) else node[key]
        annotation = hints.get(key, inspect.Parameter.empty)
        if inspect.isclass(annotation) and issubclass(annotation, torch.nn.Module):
            # A nested object is a config node; a name here is an option of its config group.
            group = f"{path.replace('.', '/')}/{key}"
            raise ConfigError(f"{path}.{key}={value!r} is a name, not a config node (of type {annotation.__name__}); "
                              f"choose an option of its group with {group}={value}")
        if not _matches(value, annotation):
            raise ConfigError(f"{path}.{key}={as_typed(value)}{_from_interpolation(node, key)}: expected "
                              f"{_describe(annotation)}")
        # A pair such as Adam's betas (tuple[float, float]): torch checks its length only inside the first step.
        fixed = typing.get_args(annotation) if typing.get_origin(annotation) is tuple else ()
        if isinstance(value, list) and fixed and Ellipsis not in fixed and len(value) != len(fixed):
            default = params[key].default
            like = f", like the default {list(default)}" if isinstance(default, tuple) else ""
            raise ConfigError(f"{path}.{key}={as_typed(value)}: expected {len(fixed)} values{like}")


def _from_interpolation(node: DictConfig, key: str) -> str:
    """" (from ${paths.data_dir})" where the value came from another key: that is the one to fix."""
    if not OmegaConf.is_interpolation(node, key):
        return ""
    return f" (from {OmegaConf.to_container(node, resolve=False)[key]})"


def _check_resolves(node: DictConfig, key: str, path: str) -> None:
    """A ${...} that cannot be resolved (an unset environment variable, a key that does not exist) is
    bad input too: one line naming the key and the interpolation, not a traceback from inside the run."""
    try:
        OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node[key]) else node[key]
    except InterpolationResolutionError as exc:
        raw = OmegaConf.to_container(node, resolve=False)[key]
        why = str(exc).strip().splitlines()[0]
        raise ConfigError(f"{path}.{key}={raw}: cannot resolve it: {why}") from None


def build(node: DictConfig, path: str, **supplied: Any) -> Any:
    """Check, then instantiate ``node``; any ValueError or TypeError becomes a one-line ConfigError."""
    check_node(node, path, tuple(supplied))
    try:
        return instantiate(node, **supplied)
    except InstantiationException as exc:
        cause = exc.__cause__ or exc
        nested = re.search(r"full_key: (\S+)", str(exc))
        if nested and nested.group(1).startswith(f"{path}."):
            path, node = nested.group(1), OmegaConf.select(node, nested.group(1)[len(path) + 1 :])
        # Lightning reports bad Trainer arguments as MisconfigurationException, naming them in backticks,
        # and a setting whose package is missing (accelerator=tpu needs torch_xla) as an ImportError.
        if isinstance(cause, (ValueError, TypeError, ImportError)) or type(cause).__name__ == "MisconfigurationException":
            error = one_line_error(cause, node, path)
            if isinstance(cause, ImportError) and str(error).startswith(f"{path}: "):  # no key named
                settings = ", ".join(f"{path}.{key}={node[key]}" for key in _DEVICE_KEYS
                                     if key in node and str(node[key]) not in _DEVICE_DEFAULTS)
                which = f"one of {settings}" if "," in settings else settings
                error = ConfigError(f"{error} (a package that {which} needs)" if settings else str(error))
            raise error from None
        raise


@contextmanager
def checked_call(node: DictConfig, path: str) -> Iterator[None]:
    """Name the config key when a factory built from ``node`` (``_partial_: true``) rejects a value.

    torch checks an optimiser's or a scheduler's arguments only when it is called with the
    parameters; calling it once on the real model before any data is read turns
    ``optimizer.lr=-1`` into one line instead of a traceback from inside the training loop.
    """
    try:
        yield
    except (ValueError, TypeError) as exc:
        raise one_line_error(exc, node, path) from None
    except IndexError:
        # A list argument too short, indexed past its end; only where one list could be the one.
        lists = [key for key in node.keys() if key not in _SPECIAL_KEYS and OmegaConf.is_list(node[key])]
        if len(lists) != 1:
            raise
        raise ConfigError(f"{path}.{lists[0]}={OmegaConf.to_container(node[lists[0]], resolve=True)}: "
                          "too few values") from None


def one_line_error(cause: BaseException, node: DictConfig, path: str) -> ConfigError:
    """A ConfigError that names the full config key a constructor's message is about."""
    message = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    quoted = re.match(r"`(\w+)`(.*)", message)
    if quoted and quoted.group(1) in node:
        message = f"{quoted.group(1)}={node[quoted.group(1)]}:{quoted.group(2)}"
    # Constructors word range errors as "param=value ..."; name the full config key.
    if message.startswith(f"{path}."):
        return ConfigError(message)
    key = message.split("=", 1)[0]
    if key in node:
        return ConfigError(f"{path}.{message}")
    # Third-party messages ("Invalid learning rate: -1") name the value, not the key.
    # Only where no value appears as a word: several that do make the message ambiguous, not vaguer.
    named = _keys_with_value_in(message, node)
    culprit = named[0] if len(named) == 1 else None if named else _key_with_value_inside(message, node)
    if culprit is not None:
        return ConfigError(f"{path}.{culprit}={node[culprit]}: {message}")
    return ConfigError(f"{path}: {message}")


def _key_with_value_inside(message: str, node: DictConfig) -> str | None:
    """The one key whose word-like value appears inside a word of ``message`` in any case
    (accelerator=cuda in "`CUDAAccelerator` can not run"), or None when that is ambiguous."""
    lowered = message.lower()
    found = [key for key in node.keys()
             if key not in _SPECIAL_KEYS and isinstance(node[key], str) and re.fullmatch(r"[A-Za-z_]{3,}", node[key])
             and node[key].lower() in lowered]
    return found[0] if len(found) == 1 else None


def _keys_with_value_in(message: str, node: DictConfig) -> list[str]:
    """The keys whose values appear as words in ``message``."""
    found = []
    for key in node.keys():
        if key in _SPECIAL_KEYS or node[key] is None:
            continue
        # A list's elements count (Adam's "Invalid beta parameter at index 1: 1.5" is betas=[0.9,1.5]).
        values = list(node[key]) if OmegaConf.is_list(node[key]) else [] if OmegaConf.is_config(node[key]) else [node[key]]
        if any(not OmegaConf.is_config(value) and value is not None
               and re.search(rf"(?<![\w.]){re.escape(str(value))}(?![\w.])", message) for value in values):
            found.append(key)
    return found
