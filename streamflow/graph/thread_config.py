"""What a run's config and checkpoints name for its thread: the ``configurable`` keys a run's durability
and breakpoints travel under, the thread address a config gives, the checkpoint channels of the next step's
inputs and ``Send`` packets, a subgraph's namespace part and the ids of a step's tasks (see
:mod:`streamflow.graph.persistence`).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from ..errors import InvalidArgumentError

__all__ = [
    "BREAKPOINT_KEYS",
    "check_breakpoints",
    "Durability",
    "DURABILITY_KEY",
    "durability_of",
    "require_thread",
    "SENDS",
    "START_CHANNEL",
    "subgraph_ns_part",
    "task_id_for",
    "with_breakpoints",
    "with_durability",
]

SENDS = "__pregel_tasks"
"""The channel holding the ``Send`` packets of the next step (LangGraph's name)."""

START_CHANNEL = "__start__"
"""The channel an input checkpoint holds the run's input in (LangGraph's ``START``)."""

Durability = Literal["sync", "async", "exit"]
"""When a run with a checkpointer saves its checkpoints (LangGraph's ``durability``): ``"sync"`` and
``"async"`` (the default) after the input and each superstep (``"sync"`` before the next step starts, and each
task's writes as it finishes; ``"async"`` a step's writes with the checkpoint after it, in the background
while the run goes on on the SQL savers, all written before the run ends), ``"exit"`` once, when the run ends
(finished or failed), with the writes of the step it ended in."""

DURABILITY_KEY = "__pregel_durability"
"""The ``configurable`` key a run's durability travels under (LangGraph's)."""

BREAKPOINT_KEYS = ("__streamflow_interrupt_before", "__streamflow_interrupt_after")
"""The ``configurable`` keys a run's ``interrupt_before``/``interrupt_after`` (given to ``invoke()`` or
``stream()``) travel under to the root graph."""

_TASK_IDS = uuid.UUID("6ba7b812-9dad-11d1-80b4-00c04fd430c8")

_NEEDS_THREAD = (
    "Checkpointer requires one or more of the following 'configurable' keys: thread_id, checkpoint_ns, checkpoint_id"
)


def with_durability(config: Mapping[str, Any] | None, durability: str | None) -> Mapping[str, Any] | None:
    """``config`` with ``durability`` under ``configurable`` (unchanged when it is None).

    :raises InvalidArgumentError: for a durability other than ``"sync"``, ``"async"`` or ``"exit"``
    """
    if durability is None:
        return config
    if durability not in ("sync", "async", "exit"):
        raise InvalidArgumentError(f"durability must be 'sync', 'async' or 'exit'; got {durability!r}")
    config = dict(config or {})
    config["configurable"] = {**(config.get("configurable") or {}), DURABILITY_KEY: durability}
    return config


def check_breakpoints(nodes: Iterable[str], before: Any, after: Any) -> tuple[Any, Any]:
    """``interrupt_before``/``interrupt_after`` checked against the graph's ``nodes``: None, ``"*"`` (every
    node) or a list of node names (as a tuple).

    :raises InvalidArgumentError: (a ValueError) ``"Interrupt node `x` not found"`` (LangGraph's words) for a
        name that is no node, or for a value that is neither ``"*"`` nor a list of names
    """
    known = list(nodes)
    out: list[Any] = []
    for given in (before, after):
        if given is None or given == "*":
            out.append(given)
            continue
        if isinstance(given, str) or not isinstance(given, Iterable):
            raise InvalidArgumentError(
                f'interrupt_before/interrupt_after take "*" or a list of node names; got {given!r}'
            )
        names = tuple(given)
        for name in names:
            if name not in known:
                raise InvalidArgumentError(f"Interrupt node `{name}` not found (the graph's nodes: {known})")
        out.append(names)
    return out[0], out[1]


def with_breakpoints(config: Mapping[str, Any] | None, before: Any, after: Any) -> Mapping[str, Any] | None:
    """``config`` carrying a run's ``interrupt_before``/``interrupt_after`` (checked values) to its root
    graph (unchanged when both are None)."""
    if before is None and after is None:
        return config
    config = dict(config or {})
    configurable = dict(config.get("configurable") or {})
    for key, value in zip(BREAKPOINT_KEYS, (before, after), strict=True):
        if value is not None:
            configurable[key] = value
    config["configurable"] = configurable
    return config


def durability_of(config: Mapping[str, Any]) -> str:
    """The durability a run's config asks for (``"async"`` by default)."""
    configurable = config.get("configurable")
    return str(configurable.get(DURABILITY_KEY) or "async") if isinstance(configurable, Mapping) else "async"


def require_thread(config: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """``(thread_id, checkpoint_ns, checkpoint_id)`` of a run's config.

    :raises InvalidArgumentError: (a ValueError, with LangGraph's message) when the config has no
        ``configurable`` ``thread_id``
    """
    configurable = config.get("configurable")
    if not isinstance(configurable, Mapping) or configurable.get("thread_id") in (None, ""):
        raise InvalidArgumentError(_NEEDS_THREAD)
    checkpoint_id = configurable.get("checkpoint_id") or None
    return str(configurable["thread_id"]), str(configurable.get("checkpoint_ns") or ""), checkpoint_id


def subgraph_ns_part(subgraph: Any, node: str, task_id: str) -> str:
    """The namespace part of a subgraph node's run: ``"<node>:<task id>"``, or the node's name alone for a
    subgraph compiled with ``checkpointer=True`` (its checkpoints are kept there run after run, as LangGraph)."""
    return node if getattr(subgraph, "checkpointer", None) is True else f"{node}:{task_id}"


def task_id_for(checkpoint_id: str, ns: str, step: int, path: tuple[Any, ...]) -> str:
    """The id of the task at ``path`` of the step after checkpoint ``checkpoint_id``: the same every time it
    is worked out, so writes saved for it are found again on resume (a version 5 UUID's string, as
    ``str(uuid.uuid5(...))`` gives it, without building a ``UUID``)."""
    h = hashlib.sha1(_TASK_IDS_BYTES + f"{checkpoint_id}|{ns}|{step}|{path!r}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


_TASK_IDS_BYTES = _TASK_IDS.bytes
_VARIANT = {c: f"{int(c, 16) & 0x3 | 0x8:x}" for c in "0123456789abcdef"}
"""A UUID's 17th hex digit with the RFC 4122 variant bits set."""
