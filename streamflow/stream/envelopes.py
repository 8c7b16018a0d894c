"""A run's typed events turned into v3 envelopes, for one consumer.

Layer 2 (views). :class:`EnvelopeBuilder` projects each event a consumer receives through the stream modes
it needs (:mod:`streamflow.modes`, ``version="v2"`` parts, every namespace) and wraps each part in a
:class:`~streamflow.stream.ProtocolEvent` (``seq`` is given later, when an envelope enters a main log). The
``messages`` mode is the content-block protocol one (:mod:`streamflow.stream.message_events`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..events import Event
from ..modes import Projector, ViewSpec
from .message_events import ProtocolMessagesState
from .protocol import ProtocolEvent

__all__ = ["MODE_ORDER", "EnvelopeBuilder"]

MODE_ORDER = ("values", "updates", "messages", "custom", "checkpoints", "tasks", "debug")
"""The stream modes a v3 run stream can ask for, in the order their chunks of one moment are put out."""


class EnvelopeBuilder:
    """Turns one consumer's events into envelopes, with that consumer's own mode state.

    :param modes: the stream modes to project (a subset of :data:`MODE_ORDER`)
    :raises UnknownStreamModeError: for a mode streamflow does not have
    """

    __slots__ = ("_project", "kinds")

    def __init__(self, modes: Iterable[str]) -> None:
        wanted = set(modes)
        ordered = [mode for mode in MODE_ORDER if mode in wanted] + sorted(wanted - set(MODE_ORDER))
        spec = ViewSpec.parse(ordered, True, "v2")
        table = spec.table()
        if "messages" in wanted:
            ours = ProtocolMessagesState().projections()
            table = {
                kind: tuple((mode, ours[kind] if mode == "messages" else project) for mode, project in pairs)
                for kind, pairs in table.items()
            }
        self._project = Projector(table, spec.shaper()).project
        self.kinds: frozenset[type[Event]] = spec.kinds
        """The event classes to subscribe to."""

    def build(self, event: Event) -> list[ProtocolEvent]:
        """The envelopes ``event`` makes, in order (none for most events)."""
        parts: list[Any] = []
        self._project(event, parts)
        if not parts:
            return parts
        timestamp = int(event.ts * 1000)
        out: list[ProtocolEvent] = []
        for part in parts:
            params: dict[str, Any] = {"namespace": list(part["ns"]), "timestamp": timestamp, "data": part["data"]}
            if "interrupts" in part:
                params["interrupts"] = part["interrupts"]
            out.append({"type": "event", "method": part["type"], "params": params})  # type: ignore[typeddict-item]
        return out
