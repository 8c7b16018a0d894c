"""One client's SSE stream of one run: stream-mode chunks framed as SSE messages, resumable by ``seq``.

What a client receives, in order (shapes of ``data`` are JSON):

``metadata`` (no ``id``)
    ``{"run_id", "graph", "stream_mode": [...], "subgraphs", "resumed_after"}``, first on every connection
    (``resumed_after`` is the ``seq`` the stream continues after, 0 from the start). It also sets the
    client's reconnection delay (``retry``).
``<mode>`` (``id`` = the event's ``seq``)
    one message per chunk of a selected stream mode: ``{"type": mode, "ns": [...], "data": chunk, "seq",
    "node", "step", "ts"}`` (``type``/``ns``/``data`` are LangGraph's v2 stream part; ``ts`` is when the
    event was made, in seconds since the epoch). When one event yields chunks for two modes (``tasks`` and
    ``debug``), both carry the same ``id`` and are written together.
``lag`` (``id`` = ``last_seq``)
    ``{"missed", "first_seq", "last_seq", "reason"}``: the run's events ``first_seq``..``last_seq`` (``missed``
    of them; some may not have matched this stream's filter) can no longer be sent, because they left the
    run's replay buffer (or, for a run in a worker, its Redis stream) before this client read them. Never a
    silent gap.
``end`` / ``error`` / ``cancelled`` (``id`` = the event's ``seq``), the last message
    ``{"status": "finished", "output"}``, ``{"status": "failed", "error_type", "error_message"}`` or
    ``{"status": "cancelled", "reason"}``; the response ends after it. For a run executing elsewhere whose
    outcome cannot be known (its worker died, Redis stayed unreachable, no worker took it), ``error`` has
    ``{"status": "unknown", "seq": null, "error_type", "error_message"}`` and ``id`` = the last ``seq`` sent.

Resume: a stream starts after ``cursor`` (the client's last event id; 0 for the whole run), replaying from
the run's replay buffer and then following it live, so a reconnect has no gap and no duplicate. A client
that reads too slowly never stalls the run: its subscription drops its oldest events (``drop_oldest``), and
the stream then catches up from the replay buffer, sending a ``lag`` message only for what the buffer no
longer holds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

from ..channel import Lagged, Subscription
from ..errors import InvalidArgumentError, ReplayUnavailableError
from ..events import Event, RunCancelled, RunFailed, RunFinished, error_type_name
from ..filters import EventFilter
from ..graph import Run
from ..modes import Projector, ViewSpec
from .encoding import sse_message

__all__ = [
    "DEFAULT_RETRY",
    "EVICTED",
    "TERMINAL_EVENTS",
    "ChunkEncoder",
    "RunStream",
    "lag_message",
    "lost_message",
    "metadata_message",
    "terminal_message",
    "stream_filter",
]

DEFAULT_RETRY = 1000
"""Reconnection delay sent to clients, in milliseconds."""
TERMINAL_EVENTS: tuple[str, ...] = ("end", "error", "cancelled")
"""SSE event names of the message that ends a stream (finished, failed, cancelled)."""
EVICTED = "evicted from the run's replay buffer before this client read them"
"""The ``reason`` of a ``lag`` message for events a run's replay buffer no longer holds."""


def terminal_message(event: Event) -> bytes:
    """The ``end``, ``error`` or ``cancelled`` message for a run's terminal event (``id`` = its ``seq``)."""
    if isinstance(event, RunFinished):
        return sse_message("end", {"status": "finished", "seq": event.seq, "output": event.output}, id=event.seq)
    if isinstance(event, RunFailed):
        data = {
            "status": "failed",
            "seq": event.seq,
            "error_type": event.error_type,
            "error_message": event.error_message,
        }
        return sse_message("error", data, id=event.seq)
    if isinstance(event, RunCancelled):
        return sse_message("cancelled", {"status": "cancelled", "seq": event.seq, "reason": event.reason}, id=event.seq)
    raise AssertionError(f"not a terminal event: {event!r}")  # pragma: no cover


def lag_message(first_seq: int, last_seq: int, reason: str = EVICTED) -> bytes:
    """The ``lag`` message for the events ``first_seq``..``last_seq`` that can no longer be sent."""
    data = {
        "missed": last_seq - first_seq + 1,
        "first_seq": first_seq,
        "last_seq": last_seq,
        "reason": reason,
    }
    return sse_message("lag", data, id=last_seq)


def lost_message(error: BaseException, last_seq: int) -> bytes:
    """The ``error`` message that ends a stream whose run's outcome cannot be known (``status``
    ``"unknown"``: the transport failed, or the process executing the run died); ``id`` = ``last_seq``, the
    last ``seq`` the client was sent, so a reconnect resumes after it."""
    data = {
        "status": "unknown",
        "seq": None,
        "error_type": error_type_name(error),
        "error_message": str(error),
    }
    return sse_message("error", data, id=last_seq)


def metadata_message(run_id: str, graph: str, spec: ViewSpec, resumed_after: int, retry: int) -> bytes:
    """The ``metadata`` message that opens every stream."""
    data = {
        "run_id": run_id,
        "graph": graph,
        "stream_mode": list(spec.modes),
        "subgraphs": spec.subgraphs,
        "resumed_after": resumed_after,
    }
    return sse_message("metadata", data, retry=retry)


def _mode_and_chunk(mode: str, ns: tuple[str, ...], chunk: Any) -> tuple[str, Any]:
    return mode, chunk


class ChunkEncoder:
    """Turns one stream's events into SSE messages of stream-mode chunks (one
    :class:`~streamflow.modes.Projector` per stream, so a mode with state, ``messages``, sees the stream's
    events in order).

    :param spec: the stream modes, ``subgraphs`` and version
    """

    __slots__ = ("_projector",)

    def __init__(self, spec: ViewSpec) -> None:
        self._projector = Projector(spec.table(), _mode_and_chunk)

    def prime(self, event: Event) -> None:
        """Run ``event`` through the projections, sending nothing (an event the client already has)."""
        self._projector.prime(event)

    def prime_until(self, events: Iterable[Event], cursor: int, event_filter: EventFilter) -> None:
        """:meth:`prime` with the events (oldest first) up to ``seq`` ``cursor`` that pass ``event_filter``:
        a mode with state (``messages`` remembers what it streamed) then resumes where the client left off."""
        routed = event_filter.routed_kinds()
        accept = event_filter.compile()
        prime = self._projector.prime
        for event in events:
            if event.seq > cursor:
                break
            if event.__class__ in routed and (accept is None or accept(event)):
                prime(event)

    def encode(self, event: Event) -> bytes | None:
        """The messages of the chunks ``event`` yields (several when it yields chunks for several modes,
        all with ``id`` = its ``seq``), or None when it yields none."""
        chunks: list[tuple[str, Any]] = []
        self._projector.project(event, chunks)
        if not chunks:
            return None
        ns = list(event.ns)
        parts = [
            sse_message(
                mode,
                {
                    "type": mode,
                    "ns": ns,
                    "data": chunk,
                    "seq": event.seq,
                    "node": event.node,
                    "step": event.step,
                    "ts": event.ts,
                },
                id=event.seq,
            )
            for mode, chunk in chunks
        ]
        return b"".join(parts)


def stream_filter(spec: ViewSpec, nodes: Iterable[str] | None, tags: Iterable[str] | None) -> EventFilter:
    """The filter of a client's stream: the kinds of its modes, its ``subgraphs`` choice, nodes and tags."""
    return EventFilter(kinds=spec.kinds, nodes=nodes, tags=tags, subgraphs=spec.subgraphs)


class RunStream:
    """An async iterator of SSE-framed bytes for one client of one run (see the module docstring).

    The first subscription is made here, so bad arguments raise before any response is sent.

    :param run: the run to stream
    :param graph: the name the run's graph is registered under (for the ``metadata`` message)
    :param spec: the stream modes, ``subgraphs`` and version (see :class:`~streamflow.modes.ViewSpec`)
    :param nodes: only events of these nodes (terminal events always pass)
    :param tags: only events carrying one of these tags
    :param cursor: the last ``seq`` the client has (0: from the first event)
    :param buffer_size: events buffered for this client before it falls back on the replay buffer (> 0)
    :raises InvalidArgumentError: for a negative ``cursor``, a ``cursor`` beyond the run's last ``seq``, or
        a ``buffer_size`` that is not a positive int
    """

    def __init__(
        self,
        run: Run,
        *,
        graph: str,
        spec: ViewSpec,
        nodes: Iterable[str] | None = None,
        tags: Iterable[str] | None = None,
        cursor: int = 0,
        buffer_size: int = 256,
        retry: int = DEFAULT_RETRY,
    ) -> None:
        if not isinstance(cursor, int) or cursor < 0:
            raise InvalidArgumentError(f"the last event id must be a seq >= 0, got {cursor!r}")
        last = run.channel.last_seq
        if cursor > last:
            raise InvalidArgumentError(
                f"the last event id {cursor} is beyond run {run.run_id!r}'s last event (seq {last})"
            )
        self.run = run
        self.graph = graph
        self.spec = spec
        self.nodes = None if nodes is None else frozenset(nodes)
        self.tags = None if tags is None else frozenset(tags)
        self.cursor = cursor
        self.started_after = cursor
        self.buffer_size = buffer_size
        self.retry = retry
        self._encoder = ChunkEncoder(spec)
        if cursor:
            self._prime(cursor)
        self._sub, self._pending_lag = self._subscribe(cursor)

    @property
    def over(self) -> bool:
        """True when the run has ended and the client already has its last event: nothing is left to send."""
        return self.run.done and self.cursor >= self.run.channel.last_seq

    def _subscribe(self, cursor: int) -> tuple[Subscription, bytes | None]:
        """Subscribe from ``cursor + 1``; when that was evicted, from the oldest retained event, with a lag
        message for the events in between."""
        # The backlog to replay goes into the buffer on top of the room for live events: replay never
        # overflows (a replay that lagged at once would never make progress). The backlog is bounded by the
        # run's replay buffer, and the buffer holds references to the very same events.
        backlog = max(0, self.run.channel.last_seq - cursor)
        kwargs: dict[str, Any] = {
            "kinds": self.spec.kinds,
            "nodes": self.nodes,
            "tags": self.tags,
            "subgraphs": self.spec.subgraphs,
            "buffer_size": self.buffer_size + backlog,
            "overflow": "drop_oldest",
        }
        try:
            return self.run.subscribe(replay_from=cursor + 1, **kwargs), None
        except ReplayUnavailableError as exc:
            first = exc.first_available
            lag = lag_message(cursor + 1, first - 1)
            self.cursor = first - 1
            return self.run.subscribe(replay_from=first, **kwargs), lag

    def _prime(self, cursor: int) -> None:
        """Prime the stream's modes with the retained events the client already has (up to ``cursor``)."""
        self._encoder.prime_until(self.run.channel.retained(), cursor, stream_filter(self.spec, self.nodes, self.tags))

    def metadata(self) -> bytes:
        """The ``metadata`` message that opens the stream."""
        return metadata_message(self.run.run_id, self.graph, self.spec, self.started_after, self.retry)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sub = self._sub
        try:
            yield self.metadata()
            if self._pending_lag is not None:
                yield self._pending_lag
                self._pending_lag = None
            while True:
                lagged = False
                async for item in sub:
                    if isinstance(item, Lagged):
                        lagged = True
                        break
                    self.cursor = item.seq
                    if item.terminal:
                        yield terminal_message(item)
                        return
                    message = self._encoder.encode(item)
                    if message is not None:
                        yield message
                if not lagged:
                    return
                sub.close()
                sub, lag = self._subscribe(self.cursor)
                self._sub = sub
                if lag is not None:
                    yield lag
        finally:
            sub.close()

    def close(self) -> None:
        """Detach from the run (what a client disconnect does). Idempotent; the run goes on."""
        self._sub.close()
