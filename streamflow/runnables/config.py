"""LangChain's ``RunnableConfig``: what a Runnable call is told besides its input.

Mirrors ``langchain_core.runnables.config``. A config is a plain dict; the keys streamflow reads are
``tags`` (list of str), ``metadata`` (mapping), ``run_name`` (str), ``run_id`` (str or UUID: the id of the
run it starts), ``max_concurrency`` (int, for ``batch``), ``recursion_limit`` (int) and ``configurable``
(mapping); ``callbacks`` is accepted and ignored (views of the run's channel take the place of callback
handlers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from ..errors import InvalidArgumentError

__all__ = ["RunnableConfig", "check_config", "ensure_config", "merge_configs"]


class RunnableConfig(TypedDict, total=False):
    """The config of a Runnable call (LangChain's keys; every one optional)."""

    tags: list[str]
    """Tags of the call, inherited by the calls it makes."""
    metadata: dict[str, Any]
    """Metadata of the call, inherited by the calls it makes."""
    callbacks: Any
    """Accepted for compatibility and ignored."""
    run_name: str
    """Name of the call in events (default: the Runnable's name)."""
    max_concurrency: int | None
    """Calls ``batch``/``abatch`` run at the same time at most (default: no limit)."""
    recursion_limit: int
    """Supersteps a graph run may take (graphs only)."""
    configurable: dict[str, Any]
    """Values for configurable fields, passed on to graphs and to functions that take ``config``."""
    run_id: Any
    """The id of the run this call starts (a UUID or str); a new one when absent."""


_KEYS = frozenset(RunnableConfig.__annotations__)


def check_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return ``config`` as a new dict, checked.

    :raises InvalidArgumentError: when ``config`` is not a mapping, ``tags`` is not a list of strings,
        ``metadata`` or ``configurable`` is not a mapping, or ``run_name`` is not a string
    """
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise InvalidArgumentError(f"config must be a mapping (a RunnableConfig dict), got {type(config).__name__}")
    tags = config.get("tags")
    if tags is not None and (isinstance(tags, str) or not all(isinstance(t, str) for t in tags)):
        raise InvalidArgumentError(f"config['tags'] must be a list of strings, got {tags!r}")
    for key in ("metadata", "configurable"):
        value = config.get(key)
        if value is not None and not isinstance(value, Mapping):
            raise InvalidArgumentError(f"config[{key!r}] must be a mapping, got {value!r}")
    name = config.get("run_name")
    if name is not None and not isinstance(name, str):
        raise InvalidArgumentError(f"config['run_name'] must be a string, got {name!r}")
    return dict(config)


def ensure_config(config: Mapping[str, Any] | None = None) -> RunnableConfig:
    """A full config: ``config``'s keys over the defaults (empty tags, metadata and configurable).

    :raises InvalidArgumentError: as :func:`check_config`
    """
    out: dict[str, Any] = {"tags": [], "metadata": {}, "callbacks": None, "recursion_limit": 25, "configurable": {}}
    out.update(check_config(config))
    return out  # type: ignore[return-value]


def _dedup(tags: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(tags))


def merge_configs(*configs: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge configs left to right as LangChain does: ``tags`` joined (no repeats), ``metadata`` and
    ``configurable`` merged key by key, any other key taken from the last config that has it.

    :raises InvalidArgumentError: as :func:`check_config`, for any of them
    """
    out: dict[str, Any] = {}
    for config in configs:
        for key, value in check_config(config).items():
            if key == "tags":
                out["tags"] = _dedup([*out.get("tags", ()), *(value or ())])
            elif key in ("metadata", "configurable"):
                out[key] = {**out.get(key, {}), **(value or {})}
            else:
                out[key] = value
    return out
