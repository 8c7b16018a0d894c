"""One client's SSE stream of one run: stream-mode chunks framed as SSE messages, resumable by ``seq``.

What a client receives, in order (shapes of ``data`` are JSON):

``metadata`` (no ``id``)
    ``{"run_id", "graph", "stream_mode": [...], "subgraphs", "resumed_after"}``, first on every connection
    (``resumed_after`` is the ``seq`` the stream continues after, 0 from the start). It also sets the
    client's reconnection delay (``retry``).
``<mode>`` (``id`` = the event's ``seq``)
    one message per chunk of a selected stream mode: ``{"type": mode, "ns": [...], "data": chunk, "seq",
    "node", "step", "ts"}`` (``type``/``ns``/``data`` are LangGraph's v2 stream part; ``ts`` is when the
    event was made, in seconds since the epoch). A ``values`` message also has ``"interrupts"``, the list
    LangGraph 1.2's v2 values part carries: ``[]``, or when a task paused on ``interrupt()`` its
    ``{"value", "id", "response_schema"}`` each (``data`` is then the state its step started from). An
    ``updates`` message for a pause has ``"data": {"__interrupt__": [{"value", "id", "response_schema"}, ...]}``
    (``[]`` at an ``interrupt_before``/``interrupt_after`` breakpoint, ``node`` then null). When one event yields
    chunks for two modes (``tasks`` and ``debug``), both carry the same ``id`` and are written together.
``lag`` (``id`` = ``last_seq``)
    ``{"missed", "first_seq", "last_seq", "reason"}``: the run's events ``first_seq``..``last_seq`` (``missed``
    of them; some may not have matched this stream's filter) can no longer be sent, because they left the
    run's replay buffer (or, for a run in a worker, its Redis stream) before this client read them. Never a
    silent gap.
``end`` / ``error`` / ``cancelled`` (``id`` = the event's ``seq``), the last message
    ``{"status": "finished", "output"}``, ``{"status": "failed", "error_type", "error_message"}`` or
    ``{"status": "cancelled", "reason"}``; the response ends after it. ``error_message`` (here, and
    in the ``error`` of a failed task's ``tasks``/``debug`` chunk) is what the request's
    :class:`~streamflow.server.errors.ErrorPolicy` lets the client read: by default the message of streamflow's
    own errors, and :data:`~streamflow.server.errors.HIDDEN` for any other. For a run executing elsewhere whose
    outcome cannot be known (its worker died, Redis stayed unreachable, no worker took it), ``error`` has
    ``{"status": "unknown", "seq": null, "error_type", "error_message"}`` and ``id`` = the last ``seq`` sent.

Resume: a stream starts after ``after_seq`` (the client's last event id; 0 for the whole run), replaying from
the run's replay buffer and then following it live, so a reconnect has no gap and no duplicate. A client
that reads too slowly never stalls the run: its subscription drops its oldest events (``drop_oldest``), and
the stream then catches up from the replay buffer, sending a ``lag`` message only for what the buffer no
longer holds.

Fairness: a stream writes the messages of the events ready at once together, at most
:data:`WRITE_BATCH` events a write, and lets the event loop run other tasks after each write that it did
not have to wait for. So replaying a long run neither holds up the server's other requests nor keeps
writing to a client that went away: the disconnect is noticed at the next write, and the stream ends there.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from typing import Any, Protocol

import anyio
import anyio.lowlevel
import attrs

from ..channel import Channel, Lagged, Subscription
from ..errors import InvalidArgumentError, ReplayUnavailableError
from ..events import Event, RunCancelled, RunFailed, RunFinished, error_type_name
from ..filters import EventFilter
from ..graph import Run
from ..modes import INTERRUPT_KEY, Projector, ViewSpec
from .encoding import sse_message
from .errors import FAILURE_EVENTS, ErrorPolicy
from .frames import FrameCursor, FrameLog

__all__ = [
    "DEFAULT_BUFFER_SIZE",
    "DEFAULT_RETRY",
    "EVICTED",
    "TERMINAL_EVENTS",
    "WRITE_BATCH",
    "ChunkEncoder",
    "FrameSource",
    "RunStream",
    "SSEStreamBase",
    "SharedEncoder",
    "StreamRequest",
    "lag_message",
    "lost_message",
    "metadata_message",
    "terminal_message",
]

DEFAULT_RETRY = 1000
"""Reconnection delay sent to clients, in milliseconds."""
DEFAULT_BUFFER_SIZE = 256
"""Events buffered per client by default before it catches up from a replay buffer instead."""
TERMINAL_EVENTS: tuple[str, ...] = ("end", "error", "cancelled")
"""SSE event names of the message that ends a stream (finished, failed, cancelled)."""
EVICTED = "evicted from the run's replay buffer before this client read them"
"""The ``reason`` of a ``lag`` message for events a run's replay buffer no longer holds."""
WRITE_BATCH = 64
"""Most events whose messages a stream writes to its client at once (a replay writes in such batches,
letting other tasks run between them)."""


def terminal_message(event: Event, errors: ErrorPolicy | None = None) -> bytes:
    """The ``end``, ``error`` or ``cancelled`` message for a run's terminal event (``id`` = its ``seq``).

    :param errors: what the client may read of a failure's message (None: all of it)
    """
    if isinstance(event, RunFinished):
        return sse_message("end", {"status": "finished", "seq": event.seq, "output": event.output}, id=event.seq)
    if isinstance(event, RunFailed):
        data = {
            "status": "failed",
            "seq": event.seq,
            "error_type": event.error_type,
            "error_message": event.error_message
            if errors is None
            else errors.message(event.error_type, event.error_message),
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


def lost_message(error: BaseException, last_seq: int, errors: ErrorPolicy | None = None) -> bytes:
    """The ``error`` message that ends a stream whose run's outcome cannot be known (``status``
    ``"unknown"``: the transport failed, or the process executing the run died); ``id`` = ``last_seq``, the
    last ``seq`` the client was sent, so a reconnect resumes after it. ``errors`` decides what the client may
    read of ``error``'s message (None: all of it)."""
    data = {
        "status": "unknown",
        "seq": None,
        "error_type": error_type_name(error),
        "error_message": str(error) if errors is None else errors.exception_message(error),
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
    :param errors: what the client may read of the error messages failure events carry (None: all of them)
    """

    __slots__ = ("_errors", "_projector")

    def __init__(self, spec: ViewSpec, errors: ErrorPolicy | None = None) -> None:
        self._projector = Projector(spec.table(), _mode_and_chunk)
        self._errors = errors

    def prime(self, event: Event) -> None:
        """Run ``event`` through the projections, sending nothing (an event the client already has)."""
        self._projector.prime(event)

    def prime_until(self, events: Iterable[Event], after_seq: int, event_filter: EventFilter) -> None:
        """:meth:`prime` with the events (oldest first) up to ``seq`` ``after_seq`` that pass ``event_filter``:
        a mode with state (``messages`` remembers what it streamed) then resumes where the client left off."""
        routed = event_filter.routed_kinds()
        accept = event_filter.compile()
        prime = self._projector.prime
        for event in events:
            if event.seq > after_seq:
                break
            if event.__class__ in routed and (accept is None or accept(event)):
                prime(event)

    def encode(self, event: Event) -> bytes | None:
        """The messages of the chunks ``event`` yields (several when it yields chunks for several modes,
        all with ``id`` = its ``seq``), or None when it yields none."""
        chunks: list[tuple[str, Any]] = []
        if self._errors is not None and event.__class__ in _FAILURES:
            event = self._errors.event(event)
        self._projector.project(event, chunks)
        if not chunks:
            return None
        ns = list(event.ns)
        seq, node, step, ts = event.seq, event.node, event.step, event.ts
        parts = []
        for mode, chunk in chunks:
            part = {"type": mode, "ns": ns, "data": chunk, "seq": seq, "node": node, "step": step, "ts": ts}
            if mode == "values":
                if isinstance(chunk, dict) and INTERRUPT_KEY in chunk:
                    part["data"] = {key: value for key, value in chunk.items() if key != INTERRUPT_KEY}
                    part["interrupts"] = list(chunk[INTERRUPT_KEY])
                else:
                    part["interrupts"] = []
            parts.append(sse_message(mode, part, id=seq))
        return b"".join(parts)


_FAILURES = frozenset(FAILURE_EVENTS)


class SharedEncoder:
    """One :class:`ChunkEncoder` for every stream of a run that asked for the same modes, filters and error
    policy: each event is projected and framed once, and the streams read its messages from here.

    It holds the messages of the latest ``keep`` events it encoded, by ``seq``. A stream may use it while it
    has seen exactly the events it has (every event of its filter from :attr:`origin` on, none missed):
    the messages are then the ones its own encoder would make, byte for byte.

    :param request: the request the streams share (its spec, filters and error policy)
    :param origin: the ``seq`` its state starts after (the events up to it were never seen)
    :param keep: how many events' messages it keeps (> 0)
    """

    __slots__ = ("_accept", "_encoder", "_messages", "_routed", "front", "keep", "origin")

    def __init__(self, request: StreamRequest, origin: int, keep: int) -> None:
        self._encoder = ChunkEncoder(request.spec, request.errors)
        event_filter = request.event_filter()
        self._routed = event_filter.routed_kinds()
        self._accept = event_filter.compile()
        self._messages: dict[int, bytes | None] = {}
        self.origin = origin
        self.front = origin
        """The ``seq`` up to which every event of the filter has been encoded."""
        self.keep = keep

    def catch_up(self, events: Iterable[Event], upto: int) -> bool:
        """Encode the events (oldest first) after :attr:`front` up to ``seq`` ``upto`` that pass the filter;
        False (nothing done) when ``events`` no longer start right after :attr:`front`."""
        if self.front >= upto:
            return True
        pending = [event for event in events if self.front < event.seq <= upto]
        if not pending or pending[0].seq != self.front + 1:
            return False
        for event in pending:
            if event.__class__ in self._routed and (self._accept is None or self._accept(event)):
                self._store(event.seq, self._encoder.encode(event))
        self.front = upto
        return True

    def _store(self, seq: int, message: bytes | None) -> None:
        messages = self._messages
        messages[seq] = message
        if len(messages) > self.keep:
            del messages[next(iter(messages))]

    def encode(self, event: Event) -> tuple[bool, bytes | None]:
        """``(True, messages)`` for ``event`` (the next event of its filter for a stream in step with this
        encoder): encoded now when it is past :attr:`front`, else as kept; ``(False, None)`` when its
        messages are no longer kept."""
        seq = event.seq
        if seq > self.front:
            message = self._encoder.encode(event)
            self._store(seq, message)
            self.front = seq
            return True, message
        try:
            return True, self._messages[seq]
        except KeyError:
            return False, None


def _frozen_names(names: Iterable[str] | None) -> frozenset[str] | None:
    return None if names is None else frozenset(names)


@attrs.frozen
class StreamRequest:
    """What one SSE client asked for (modes, filters, where to resume) and how it is served (buffer, retry).

    :raises InvalidArgumentError: for a ``after_seq`` that is not an int >= 0, or a ``buffer_size`` that is not
        a positive int
    """

    spec: ViewSpec
    """The stream modes, ``subgraphs`` and version (see :class:`~streamflow.modes.ViewSpec`)."""
    nodes: frozenset[str] | None = attrs.field(default=None, converter=_frozen_names)
    """Only events of these nodes (terminal events always pass); None for all."""
    tags: frozenset[str] | None = attrs.field(default=None, converter=_frozen_names)
    """Only events carrying one of these tags; None for all."""
    after_seq: int = 0
    """The ``seq`` of the last event the client has (its last event id): the stream resumes after it; 0
    streams the run from its first event."""
    buffer_size: int = DEFAULT_BUFFER_SIZE
    """Events buffered for the client before it falls back on a replay buffer (> 0)."""
    retry: int = DEFAULT_RETRY
    """The reconnection delay told to the client, in milliseconds."""
    errors: ErrorPolicy = attrs.field(factory=ErrorPolicy)
    """What the client may read of error messages (see :mod:`streamflow.server.errors`); streamflow's own
    errors' messages by default."""

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.after_seq, int) or isinstance(self.after_seq, bool) or self.after_seq < 0:
            raise InvalidArgumentError(f"the last event id must be a seq >= 0, got {self.after_seq!r}")
        if not isinstance(self.buffer_size, int) or isinstance(self.buffer_size, bool) or self.buffer_size <= 0:
            raise InvalidArgumentError(f"buffer_size must be a positive number of events, got {self.buffer_size!r}")

    def event_filter(self) -> EventFilter:
        """The filter of the client's stream: the kinds of its modes, its ``subgraphs`` choice, nodes and tags."""
        return EventFilter(kinds=self.spec.kinds, nodes=self.nodes, tags=self.tags, subgraphs=self.spec.subgraphs)


class FrameSource(Protocol):
    """Where the streams of one run find the encoder and the frame log they share (a
    :class:`~streamflow.server.sharing.SharedFrames`)."""

    def encoder(self, request: StreamRequest, origin: int, keep: int) -> SharedEncoder: ...

    def frame_log(
        self, request: StreamRequest, encoder: SharedEncoder, channel: Channel, after_seq: int, capacity: int
    ) -> FrameLog | None: ...


class _Receiver(Protocol):
    """What a stream reads events from: a channel's subscription, or a remote run's."""

    async def receive(self) -> Event | Lagged: ...

    def receive_nowait(self) -> Event | Lagged: ...


class SSEStreamBase:
    """What the SSE streams of a local run (:class:`RunStream`) and of a run in a worker process
    (:class:`~streamflow.server.redis_source.RemoteRunStream`) share: the request, ``after_seq``, the
    projections and the loop that turns a subscription's events into writes.

    :param run_id: the run's id
    :param graph: the name the run's graph is served under (for the ``metadata`` message)
    :param request: what the client asked for
    """

    def __init__(self, run_id: str, graph: str, request: StreamRequest) -> None:
        self.run_id = run_id
        self.graph = graph
        self.request = request
        self.started_after = request.after_seq
        self._after_seq = request.after_seq
        self._filter = request.event_filter()
        self._encoder = ChunkEncoder(request.spec, request.errors)
        self._encode = self._encoder.encode  # what turns the next event into its messages
        self._ended = False  # the terminal message was written
        self._lagged = False  # the subscription dropped events: the stream subscribes again from ``after_seq``
        self._ready = False  # the last batch was full: more may be ready, let other tasks run first
        self._reading: tuple[FrameLog, FrameCursor] | None = None  # the frame log read now, and where
        self._detached = False  # closed by the client's going away: nothing more is to be sent

    @property
    def after_seq(self) -> int:
        """The ``seq`` of the last event sent (or the client's ``after_seq`` before any)."""
        return self._after_seq

    def metadata(self) -> bytes:
        """The ``metadata`` message that opens the stream."""
        return metadata_message(self.run_id, self.graph, self.request.spec, self.started_after, self.request.retry)

    def _prime(self, events: Iterable[Event]) -> None:
        """Run the events (oldest first) the client already has through the projections, unsent."""
        self._encoder.prime_until(events, self._after_seq, self._filter)

    def _follow(self, channel: Channel, room: int = 0) -> Subscription:
        """Subscribe to ``channel`` from after ``after_seq``, dropping the oldest events when the client is too
        slow (it never holds up the run or a shared reader): the backlog to replay goes into the buffer on
        top of the room for live events (the request's ``buffer_size``, plus ``room`` more), so the replay
        itself never overflows.

        :raises ReplayUnavailableError: when the channel no longer retains the event after ``after_seq``
        """
        backlog = max(0, channel.last_seq - self._after_seq)
        return channel.subscribe(
            self._filter,
            buffer_size=self.request.buffer_size + room + backlog,
            overflow="drop_oldest",
            after_seq=self._after_seq,
        )

    async def _next_write(self, sub: _Receiver) -> bytes | None:
        """The messages of the next events of ``sub``: the next one (waiting for it when none is ready) and
        those ready after it, at most :data:`WRITE_BATCH`; or None once the relay stopped: after the terminal
        message (``_ended``), at a ``Lagged`` signal (``_lagged``; the events before it are written first),
        or when ``sub`` ended.

        A call that follows a full batch first lets other tasks run (and raises the cancellation of a
        stream whose client went away): a replay, whose events are all ready, yields between its writes. An
        error of ``sub`` ends a batch; the next call raises it (a subscription raises its error on every
        receive once drained).
        """
        encode = self._encode
        receive_nowait = sub.receive_nowait
        while not (self._ended or self._lagged):
            if self._ready:
                await anyio.lowlevel.checkpoint()
            try:
                item = await sub.receive()
            except anyio.EndOfStream:
                return None
            parts: list[bytes] = []
            taken = 1
            while True:
                if isinstance(item, Lagged):
                    self._lagged = True
                    break
                self._after_seq = item.seq
                if item.terminal:
                    parts.append(terminal_message(item, self.request.errors))
                    self._ended = True
                    break
                message = encode(item)
                if message is not None:
                    parts.append(message)
                if taken == WRITE_BATCH:
                    break
                try:
                    item = receive_nowait()
                except Exception:  # WouldBlock, EndOfStream, or the subscription's error: the next call sees it
                    break
                taken += 1
            self._ready = taken == WRITE_BATCH
            if parts:
                return parts[0] if len(parts) == 1 else b"".join(parts)
        return None

    def _start_reading(self, log: FrameLog) -> FrameLog:
        """Take a place in ``log`` after ``after_seq`` (what it keeps for this stream from now on)."""
        self._reading = log, log.attach(self._after_seq)
        return log

    async def _read_log(self) -> AsyncGenerator[bytes, None]:
        """The messages of the log this stream took a place in, after ``after_seq``, at most
        :data:`WRITE_BATCH` events a write (letting other tasks run after a full one), until the terminal
        message (``_ended``), or until the log no longer holds what comes next (this stream fell further
        behind than it keeps) or was cut."""
        assert self._reading is not None
        log, cursor = self._reading
        try:
            full = False
            while True:
                if full:
                    await anyio.lowlevel.checkpoint()
                got = log.read(cursor, WRITE_BATCH)
                if got is None:
                    return
                data, count = got
                if count:
                    self._after_seq = cursor.after_seq
                    self._ended = log.terminal and cursor.after_seq == log.last_seq
                    full = count == WRITE_BATCH
                    if data:
                        yield data
                    if self._ended:
                        return
                    continue
                if log.closed:
                    return
                full = False
                await log.wait()
        finally:
            self._stop_reading()

    def _stop_reading(self) -> None:
        """Detach from the frame log this stream reads, if any. Idempotent."""
        if self._reading is not None:
            log, cursor = self._reading
            self._reading = None
            log.detach(cursor)


class RunStream(SSEStreamBase):
    """An async iterator of SSE-framed bytes for one client of one run in this process (see the module
    docstring).

    The first subscription is made here, so bad arguments raise before any response is sent.

    With ``frames``, the streams of the run that asked for the same modes, filters, error policy and buffer
    share one encoder and read one log of its messages (:mod:`streamflow.server.frames`), each at its own
    cursor: a write costs the same whatever the number of events in it. A stream further behind than the log
    holds (its ``buffer_size`` events, plus the backlog it had to replay when the log was made) goes on with a
    subscription of its own, as without ``frames``.

    :param run: the run to stream
    :param graph: the name the run's graph is registered under (for the ``metadata`` message)
    :param request: what the client asked for (modes, filters, after_seq) and its buffer
    :param frames: what the run's streams share (None: this stream encodes every event itself)
    :raises InvalidArgumentError: for a ``after_seq`` beyond the run's last ``seq``
    """

    def __init__(self, run: Run, graph: str, request: StreamRequest, frames: FrameSource | None = None) -> None:
        last = run.channel.last_seq
        if request.after_seq > last:
            raise InvalidArgumentError(
                f"the last event id {request.after_seq} is beyond run {run.run_id!r}'s last event (seq {last})"
            )
        super().__init__(run.run_id, graph, request)
        self.run = run
        self._frames = frames
        self._shared_encoder: SharedEncoder | None = None
        if self._after_seq:
            self._prime(run.channel.retained())
        self._sub, self._pending_lag = self._subscribe()

    @property
    def over(self) -> bool:
        """True when the run has ended and the client already has its last event: nothing is left to send."""
        return self.run.done and self._after_seq >= self.run.channel.last_seq

    def _subscribe(self) -> tuple[Subscription, bytes | None]:
        """Subscribe from after ``after_seq``; when that was evicted, from the oldest retained event, with a lag
        message for the events in between."""
        self._lagged = False
        try:
            return self._follow(self.run.channel), None
        except ReplayUnavailableError as exc:
            first = exc.first_available
            lag = lag_message(self._after_seq + 1, first - 1)
            self._after_seq = first - 1
            return self._follow(self.run.channel), lag

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            log = self._frame_log() if self._pending_lag is None else None
            if log is not None:
                self._sub.close()
            yield self.metadata()
            if self._pending_lag is not None:
                yield self._pending_lag
                self._pending_lag = None
            elif log is not None:
                async with contextlib.aclosing(self._read_log()) as parts:
                    async for part in parts:
                        yield part
                if self._ended or self._detached:
                    return
                self._sub, lag = self._subscribe()  # behind what the log holds, or the log was cut
                if lag is not None:
                    yield lag
            while True:
                while (chunk := await self._next_write(self._sub)) is not None:
                    yield chunk
                if not self._lagged:
                    return
                self._sub.close()
                self._sub, lag = self._subscribe()
                if lag is not None:
                    yield lag
        finally:
            self._sub.close()
            self._stop_reading()

    def _frame_log(self) -> FrameLog | None:
        """The shared frame log to read from after ``after_seq``, when the shared encoder is in the state
        this stream's own would be in (it has seen every event of the filter from the run's first on); its
        messages then replace this stream's encoder for good. None: this stream goes on by itself."""
        if self._frames is None:
            return None
        channel = self.run.channel
        backlog = max(0, channel.last_seq - self._after_seq)
        capacity = self.request.buffer_size + backlog
        encoder = self._frames.encoder(self.request, 0, 2 * capacity + WRITE_BATCH)
        if encoder.origin != 0 or not encoder.catch_up(channel.retained(), self._after_seq):
            return None
        log = self._frames.frame_log(self.request, encoder, channel, self._after_seq, capacity)
        if log is None or log.complete_after > self._after_seq:
            return None
        self._shared_encoder = encoder
        self._encode = self._encode_shared
        return self._start_reading(log)

    def _encode_shared(self, event: Event) -> bytes | None:
        """The messages of ``event`` from the shared encoder; when it no longer keeps them, from an encoder
        of this stream's own, primed from the run's replay buffer."""
        if self._shared_encoder is not None:
            found, message = self._shared_encoder.encode(event)
            if found:
                return message
            self._shared_encoder = None
            self._encoder = ChunkEncoder(self.request.spec, self.request.errors)
            self._encoder.prime_until(self.run.channel.retained(), event.seq - 1, self._filter)
            self._encode = self._encoder.encode
        return self._encoder.encode(event)

    def close(self) -> None:
        """Detach from the run (what a client disconnect does). Idempotent; the run goes on."""
        self._detached = True
        self._sub.close()
        self._stop_reading()
