"""A thread's agent-protocol events, numbered across its runs, and the filters its streams read them with.

Bridges layer. LangChain's agent streaming protocol is thread-centric: a client follows one thread, whose
runs (a first run, the resume after an interrupt, the next question) make one sequence of events numbered
by ``seq``, gap-free and strictly increasing across the thread's runs. A :class:`ThreadLog` holds that
sequence for one thread, in memory: the last ``max_events`` events (older ones leave), each encoded to JSON
once when it enters the log and written as it is to every SSE or WebSocket client. Readers never hold a run
up: a run's events enter the log as fast as the run makes them, and each client reads the log at its own pace.

:class:`ProtocolFilter` is a client's ``SubscribeParams`` (``channels``, ``namespaces``, ``depth``), checked
and compiled once when the stream opens.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from typing import Any

import attrs

from ..errors import InvalidArgumentError, ReplayUnavailableError
from .encoding import to_json_bytes

__all__ = [
    "CHANNELS",
    "DEFAULT_MAX_EVENTS",
    "LogEntry",
    "ProtocolFilter",
    "ThreadLog",
    "channel_of",
]

DEFAULT_MAX_EVENTS = 10_000
"""Events a thread's log retains for replay (``since``) before the oldest leave."""

CHANNELS = ("values", "updates", "messages", "tools", "lifecycle", "input", "checkpoints", "tasks", "custom")
"""The protocol's channels a subscription may name (plus ``"custom:<name>"``: custom data named ``name``)."""


def channel_of(method: str, data: Any) -> str:
    """The channel an event of ``method`` with ``data`` is on: the method itself, ``"input"`` for
    ``input.requested``, and ``"custom:<name>"`` for custom data that is a mapping with a non-empty ``name``."""
    if method == "custom":
        name = data.get("name") if isinstance(data, Mapping) else None
        return f"custom:{name}" if isinstance(name, str) and name else "custom"
    if method == "input.requested":
        return "input"
    return method


@attrs.frozen
class LogEntry:
    """One event of a thread's log."""

    seq: int
    """Its position in the thread's log: 1 for the thread's first event, gap-free across the thread's runs."""
    channel: str
    """The channel it is on (see :func:`channel_of`)."""
    namespace: tuple[str, ...]
    """The namespace of the graph that made it: ``()`` for the root graph, ``("node:<task id>", ...)`` below."""
    run_id: str
    """The run that made it."""
    event: dict[str, Any]
    """The event as JSON values: ``{"type": "event", "method", "params": {"namespace", "timestamp", "data"},
    "seq", "event_id"}``."""
    payload: bytes
    """``event`` encoded as JSON (UTF-8), what is written to clients."""


def _segment_matches(wanted: str, actual: str) -> bool:
    """A namespace segment of a filter matches the event's exactly, or, when it names no task id (no ``:``),
    the event's segment with its ``:<task id>`` left out."""
    if wanted == actual:
        return True
    return ":" not in wanted and actual.partition(":")[0] == wanted


@attrs.frozen
class ProtocolFilter:
    """A subscription's filter, compiled once (build it with :meth:`parse`).

    An event passes when its channel is one of ``channels`` (``"custom"`` takes every ``custom:<name>``
    too), and, when ``namespaces`` is given, its namespace starts with one of them (segment by segment, see
    :func:`_segment_matches`) with at most ``depth`` more segments (any number when ``depth`` is None).
    """

    channels: frozenset[str]
    """The channels taken."""
    namespaces: tuple[tuple[str, ...], ...] | None = None
    """Namespace prefixes, or None for every namespace."""
    depth: int | None = None
    """Segments allowed below a prefix (0: the prefix's own graph only), or None for any."""

    @classmethod
    def parse(cls, params: Mapping[str, Any]) -> ProtocolFilter:
        """The filter of a ``SubscribeParams`` mapping (``channels``, optional ``namespaces`` and ``depth``;
        other keys are the caller's business).

        :raises InvalidArgumentError: for ``channels`` that is not a non-empty list of the protocol's
            channels, ``namespaces`` that is not a list of lists of strings, or ``depth`` that is not an
            int >= 0
        """
        channels = params.get("channels")
        if not isinstance(channels, list) or not channels:
            raise InvalidArgumentError(
                f"'channels' must be a non-empty list of channels ({', '.join(CHANNELS)} or 'custom:<name>'), "
                f"got {channels!r}"
            )
        for channel in channels:
            named = isinstance(channel, str) and channel.startswith("custom:") and len(channel) > len("custom:")
            if channel not in CHANNELS and not named:
                raise InvalidArgumentError(
                    f"unknown channel {channel!r}; channels are {', '.join(CHANNELS)} or 'custom:<name>'"
                )
        namespaces = params.get("namespaces")
        prefixes: tuple[tuple[str, ...], ...] | None = None
        if namespaces is not None:
            if not isinstance(namespaces, list) or not all(
                isinstance(ns, list) and all(isinstance(s, str) for s in ns) for ns in namespaces
            ):
                raise InvalidArgumentError(
                    f"'namespaces' must be a list of namespaces (lists of strings), got {namespaces!r}"
                )
            prefixes = tuple(tuple(ns) for ns in namespaces)
        depth = params.get("depth")
        if depth is not None and (not isinstance(depth, int) or isinstance(depth, bool) or depth < 0):
            raise InvalidArgumentError(f"'depth' must be an int >= 0, got {depth!r}")
        return cls(frozenset(channels), prefixes, depth)

    def __call__(self, entry: LogEntry) -> bool:
        """Whether ``entry`` passes."""
        channel = entry.channel
        if channel not in self.channels and not (channel.startswith("custom:") and "custom" in self.channels):
            return False
        if not self.namespaces:
            return True
        namespace = entry.namespace
        for prefix in self.namespaces:
            if len(prefix) > len(namespace):
                continue
            if not all(_segment_matches(w, a) for w, a in zip(prefix, namespace, strict=False)):
                continue
            if self.depth is None or len(namespace) - len(prefix) <= self.depth:
                return True
        return False


class ThreadLog:
    """The agent-protocol events of one thread (see the module docstring). Use it from one event loop.

    :param thread_id: the thread's id
    :param max_events: events retained (> 0); a reader that asks for older ones gets
        :class:`~streamflow.errors.ReplayUnavailableError`, never a silent gap
    :raises InvalidArgumentError: for a ``max_events`` that is not a positive int
    """

    def __init__(self, thread_id: str, *, max_events: int = DEFAULT_MAX_EVENTS) -> None:
        if not isinstance(max_events, int) or isinstance(max_events, bool) or max_events <= 0:
            raise InvalidArgumentError(f"max_events must be a positive number of events, got {max_events!r}")
        self.thread_id = thread_id
        self.max_events = max_events
        self._entries: deque[LogEntry] = deque(maxlen=max_events)
        self._last_seq = 0
        self._run_starts: dict[str, int] = {}
        self._latest_run: str | None = None
        self._changed: asyncio.Future[None] | None = None
        self.readers = 0
        """How many readers follow the log now."""
        self.pumps = 0
        """How many runs are writing into the log now."""

    @property
    def last_seq(self) -> int:
        """The ``seq`` of the newest event (0 before any)."""
        return self._last_seq

    @property
    def first_seq(self) -> int:
        """The ``seq`` of the oldest event retained (``last_seq + 1`` when none is)."""
        return self._entries[0].seq if self._entries else self._last_seq + 1

    def begin_run(self, run_id: str) -> int:
        """Mark that run ``run_id``'s events come next; return the ``seq`` they follow (the
        ``applied_through_seq`` of the command that started it)."""
        self._run_starts[run_id] = self._last_seq
        self._latest_run = run_id
        return self._last_seq

    @property
    def latest_run_start(self) -> int:
        """The ``seq`` the thread's latest run's events follow (0 when it had none): where a reader that gives
        no ``since`` starts."""
        return 0 if self._latest_run is None else self._run_starts[self._latest_run]

    def append(self, run_id: str, method: str, namespace: Sequence[str], timestamp: int, data: Any) -> LogEntry:
        """Number an event, encode it and add it; wake the readers.

        :param run_id: the run that made it
        :param method: the protocol method (``"values"``, ``"lifecycle"``, ``"input.requested"`` ...)
        :param namespace: its namespace
        :param timestamp: when it was made, in milliseconds since the epoch
        :param data: its ``params.data`` (encoded with :func:`~streamflow.server.encoding.to_json_bytes`)
        :raises TypeError: for ``data`` that cannot be encoded as JSON
        """
        seq = self._last_seq + 1
        event: dict[str, Any] = {
            "type": "event",
            "method": method,
            "params": {"namespace": list(namespace), "timestamp": timestamp, "data": data},
            "seq": seq,
            "event_id": str(seq),
        }
        payload = to_json_bytes(event)
        entry = LogEntry(seq, channel_of(method, data), tuple(namespace), run_id, event, payload)
        self._entries.append(entry)
        self._last_seq = seq
        changed, self._changed = self._changed, None
        if changed is not None and not changed.done():
            changed.set_result(None)
        return entry

    def after(self, seq: int) -> list[LogEntry]:
        """The retained events with a ``seq`` greater than ``seq``, oldest first.

        :raises ReplayUnavailableError: when events right after ``seq`` have left the log
        """
        if seq >= self._last_seq:
            return []
        first = self.first_seq
        if seq + 1 < first:
            raise ReplayUnavailableError(seq + 1, first)
        start = seq + 1 - first
        return [self._entries[i] for i in range(start, len(self._entries))]

    async def _wait(self) -> None:
        if self._changed is None:
            self._changed = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._changed)

    async def follow(self, since: int | None, keep: Callable[[LogEntry], bool]) -> AsyncGenerator[list[LogEntry], None]:
        """The events after ``since`` that pass ``keep``, in batches of those ready at once, then each new one
        as it comes; it never ends by itself (the client leaves, or the server shuts down).

        :param since: the ``seq`` of the last event the reader has; None starts at the thread's latest run
        :param keep: which events to give (a :class:`ProtocolFilter`, or any predicate on entries)
        :raises InvalidArgumentError: (at the first step) for a ``since`` beyond the newest ``seq``
        :raises ReplayUnavailableError: when events right after ``since`` have left the log
        """
        if since is not None and since > self._last_seq:
            raise InvalidArgumentError(
                f"'since' is {since} but thread {self.thread_id!r}'s newest event is seq {self._last_seq}"
            )
        cursor = self.latest_run_start if since is None else since
        self.readers += 1
        try:
            while True:
                entries = self.after(cursor)
                if entries:
                    cursor = entries[-1].seq
                    batch = [entry for entry in entries if keep(entry)]
                    if batch:
                        yield batch
                    continue
                await self._wait()
        finally:
            self.readers -= 1

    def __len__(self) -> int:
        return len(self._entries)
