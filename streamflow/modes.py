"""Stream modes: each a declared filter plus a projection from events to the chunks LangGraph users know.

Layer 3. A :class:`Mode` names the event kinds it takes and turns one such event into a chunk (or skips
it). :class:`ViewSpec` combines a ``stream_mode`` (one name or a list), ``subgraphs`` and ``version`` into
what a subscription needs (kinds, namespace filter) and a function turning events into output items.
Adding a mode means adding a :class:`Mode` to :data:`MODES`; nothing in the runtime changes.

Chunk shapes (LangGraph's):

``values``
    the whole state (a dict): the input first, then the state after each superstep.
``updates``
    ``{node: update}`` for each task, in completion order (``update`` is what the node returned, or None).
``custom``
    whatever the node or tool gave its stream writer.
``tasks``
    ``{"id", "name", "input", "triggers"}`` when a task starts, ``{"id", "name", "error", "result",
    "interrupts"}`` when it ends; ``result`` is a list of ``(key, value)`` writes, ``error`` None or a
    string.
``messages``
    ``(message_chunk, metadata)`` for each token of a chat model; metadata holds ``langgraph_node``,
    ``langgraph_step``, ``langgraph_triggers``, ``langgraph_path``, ``langgraph_checkpoint_ns``, ``tags``,
    ``ls_provider`` and ``ls_model_name`` (LangGraph's keys).
``debug``
    ``{"step", "timestamp", "type": "task" | "task_result", "payload"}`` with the ``tasks`` chunk as
    payload and the event's time as an ISO 8601 string.

Output items: a single mode yields chunks, a list yields ``(mode, chunk)``; ``subgraphs=True`` prefixes the
namespace: ``(ns, chunk)`` or ``(ns, mode, chunk)``. ``version="v2"`` yields ``{"type": mode, "ns": ns,
"data": chunk}`` dicts whatever the rest (LangGraph 1.1's stream parts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import attrs

from .errors import UnknownStreamModeError
from .events import (
    ChatModelToken,
    CustomData,
    Event,
    StateUpdate,
    StateValues,
    TaskFailed,
    TaskFinished,
    TaskStarted,
)

__all__ = ["MODES", "SKIP", "STREAM_VERSIONS", "Mode", "ViewSpec", "register_mode"]


class _Skip:
    __slots__ = ()

    def __repr__(self) -> str:
        return "SKIP"


SKIP: Final = _Skip()
"""Returned by a projection for an event that yields no chunk."""

Projection = Callable[[Any], Any]
"""Event -> chunk (or :data:`SKIP`); each takes the event class it is registered for."""

STREAM_VERSIONS: tuple[str, ...] = ("v1", "v2")


@attrs.frozen
class Mode:
    """A stream mode: the event kinds it takes and, per kind, how an event becomes a chunk."""

    name: str
    """The ``stream_mode`` name."""
    projections: dict[type[Event], Projection]
    """Event class -> function returning the chunk, or :data:`SKIP`."""

    @property
    def kinds(self) -> frozenset[type[Event]]:
        """The event classes this mode takes."""
        return frozenset(self.projections)


MODES: dict[str, Mode] = {}
"""Every stream mode by name."""


def register_mode(mode: Mode) -> Mode:
    """Add ``mode`` to :data:`MODES` (replacing one of the same name) and return it."""
    MODES[mode.name] = mode
    return mode


def _task_start(event: TaskStarted) -> dict[str, Any]:
    return {"id": event.task_id, "name": event.node, "input": event.input, "triggers": list(event.triggers)}


def _task_result(event: TaskFinished) -> dict[str, Any]:
    result = event.result
    writes = list(result.items()) if isinstance(result, dict) else []
    return {"id": event.task_id, "name": event.node, "error": None, "result": writes, "interrupts": []}


def _task_error(event: TaskFailed) -> dict[str, Any]:
    error = f"{event.error_type.rpartition('.')[2]}({event.error_message!r})"
    return {"id": event.task_id, "name": event.node, "error": error, "result": [], "interrupts": []}


def _debug(kind: str, payload: Callable[[Any], dict[str, Any]]) -> Projection:
    def project(event: Event) -> dict[str, Any]:
        return {
            "step": event.step,
            "timestamp": datetime.fromtimestamp(event.ts, UTC).isoformat(),
            "type": kind,
            "payload": payload(event),
        }

    return project


register_mode(Mode("values", {StateValues: lambda e: e.values}))
register_mode(Mode("updates", {StateUpdate: lambda e: {e.node: e.update}}))
register_mode(Mode("custom", {CustomData: lambda e: e.data}))
register_mode(Mode("messages", {ChatModelToken: lambda e: (e.chunk, e.metadata)}))
register_mode(Mode("tasks", {TaskStarted: _task_start, TaskFinished: _task_result, TaskFailed: _task_error}))
register_mode(
    Mode(
        "debug",
        {
            TaskStarted: _debug("task", _task_start),
            TaskFinished: _debug("task_result", _task_result),
            TaskFailed: _debug("task_result", _task_error),
        },
    )
)


def _mode_names(stream_mode: str | Sequence[str]) -> tuple[tuple[str, ...], bool]:
    if isinstance(stream_mode, str):
        names: tuple[str, ...] = (stream_mode,)
        single = True
    else:
        names = tuple(dict.fromkeys(stream_mode))
        single = False
        if not names:
            raise UnknownStreamModeError(f"stream_mode is an empty list; valid modes: {', '.join(MODES)}")
    for name in names:
        if name not in MODES:
            raise UnknownStreamModeError(f"unknown stream mode {name!r}; valid modes: {', '.join(MODES)}")
    return names, single


@attrs.frozen
class ViewSpec:
    """A parsed ``(stream_mode, subgraphs, version)``: what to subscribe to and how to shape items.

    :raises UnknownStreamModeError: (from :meth:`parse`) for an unknown mode or version
    """

    modes: tuple[str, ...]
    """Mode names, in the order given, without duplicates."""
    single: bool
    """True when ``stream_mode`` was one name, not a list."""
    subgraphs: bool
    """Whether events of subgraphs are included (and namespaces shown)."""
    version: str
    """``"v1"`` (tuples) or ``"v2"`` (dicts)."""

    @classmethod
    def parse(cls, stream_mode: str | Sequence[str], subgraphs: bool = False, version: str = "v1") -> ViewSpec:
        """Check and normalise the arguments of ``stream()``/``astream()``."""
        if version not in STREAM_VERSIONS:
            raise UnknownStreamModeError(
                f"unknown stream version {version!r}; valid versions: {', '.join(STREAM_VERSIONS)}"
            )
        names, single = _mode_names(stream_mode)
        return cls(names, single, bool(subgraphs), version)

    @property
    def kinds(self) -> frozenset[type[Event]]:
        """Every event class some selected mode takes."""
        out: set[type[Event]] = set()
        for name in self.modes:
            out |= MODES[name].kinds
        return frozenset(out)

    def table(self) -> dict[type[Event], tuple[tuple[str, Projection], ...]]:
        """Event class -> the ``(mode, projection)`` pairs that apply, in mode order."""
        table: dict[type[Event], tuple[tuple[str, Projection], ...]] = {}
        for name in self.modes:
            for kind, project in MODES[name].projections.items():
                table[kind] = (*table.get(kind, ()), (name, project))
        return table

    def shaper(self) -> Callable[[str, tuple[str, ...], Any], Any]:
        """The function ``(mode, ns, chunk) -> output item`` for this spec."""
        if self.version == "v2":
            return lambda mode, ns, chunk: {"type": mode, "ns": ns, "data": chunk}
        if self.subgraphs:
            if self.single:
                return lambda mode, ns, chunk: (ns, chunk)
            return lambda mode, ns, chunk: (ns, mode, chunk)
        if self.single:
            return lambda mode, ns, chunk: chunk
        return lambda mode, ns, chunk: (mode, chunk)

    def items(self, events: Iterable[Event]) -> Iterable[Any]:
        """Project a finished sequence of events (tests, replays) into output items."""
        table = self.table()
        shape = self.shaper()
        for event in events:
            if not self.subgraphs and event.ns:
                continue
            for mode, project in table.get(event.__class__, ()):
                chunk = project(event)
                if chunk is not SKIP:
                    yield shape(mode, event.ns, chunk)
