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
from ..modes import INTERRUPT_KEY, Projector, ViewSpec
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

    __slots__ = ("_project", "_timestamp", "kinds")

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
        self._timestamp = 0
        """The time of the event being built, in milliseconds since the epoch."""
        self._project = Projector(table, self._envelope).project
        self.kinds: frozenset[type[Event]] = spec.kinds
        """The event classes to subscribe to."""

    def _envelope(self, mode: str, ns: tuple[str, ...], chunk: Any) -> ProtocolEvent:
        """One chunk of ``mode`` as an envelope (a ``values`` chunk's interrupts under ``"interrupts"``, as the
        mode's ``v2`` part has them)."""
        params: dict[str, Any] = {"namespace": list(ns), "timestamp": self._timestamp}
        if mode == "values":
            if isinstance(chunk, dict) and INTERRUPT_KEY in chunk:
                params["data"] = {key: value for key, value in chunk.items() if key != INTERRUPT_KEY}
                params["interrupts"] = tuple(chunk[INTERRUPT_KEY])
            else:
                params["data"] = chunk
                params["interrupts"] = ()
        else:
            params["data"] = chunk
        return {"type": "event", "method": mode, "params": params}  # type: ignore[typeddict-item]

    def build(self, event: Event) -> list[ProtocolEvent]:
        """The envelopes ``event`` makes, in order (none for most events)."""
        out: list[ProtocolEvent] = []
        self._timestamp = int(event.ts * 1000)
        self._project(event, out)
        return out
