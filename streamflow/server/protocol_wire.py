"""A run's typed events as the agent protocol's events, written into its thread's log.

Bridges layer. The envelopes are the ones the in-process v3 run stream makes
(:class:`~streamflow.stream.envelopes.EnvelopeBuilder`: ``values``, ``updates``, ``messages``, ``custom``,
``tools``, ``tasks``, ``checkpoints``, every namespace), with what the wire adds:

``lifecycle``
    of the root graph (namespace ``[]``): ``{"event": "running", "graph_name"}`` when the run starts; at its end
    ``{"event": "completed"}``, ``{"event": "interrupted"}`` (it paused on ``interrupt()``: answer with
    ``input.respond``) or ``{"event": "failed", "error"}`` (also for a cancelled run, ``error`` then saying so).
    Of each subgraph (its namespace), as the in-process v3 stream's ``lifecycle`` projection gives them
    (:class:`~streamflow.stream.transformers.LifecycleTransformer`): ``{"event": "started", "graph_name",
    "trigger_call_id"}``, then ``completed``, ``interrupted`` or ``failed`` (with ``error``).
``input.requested`` (the namespace of the task that asked)
    ``{"interrupt_id", "value", "payload"}`` for each interrupt (``value`` and ``payload`` are both what
    ``interrupt()`` was given: the protocol names it ``payload``, LangGraph's Python client reads ``value``).
``messages``
    the content-block protocol's events as dicts, each with the message's ``id``; ``message-start`` also has
    ``metadata`` (the scalar entries of the ``messages`` mode's metadata, ``langgraph_node`` among them). A
    message given whole (a node's returned message, a model call that does not stream) is written as its
    ``message-start``, one ``content-block-finish`` per block, and ``message-finish``.

Error messages (a failed run's, a failed task's) are what the app's
:class:`~streamflow.server.errors.ErrorPolicy` lets clients read.

:class:`ProtocolThreads` holds the logs of an app's threads and :meth:`~ProtocolThreads.follow_run` writes a
run's events into its thread's log.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict, deque
from collections.abc import Iterator
from typing import Any

import structlog

from ..channel import Lagged
from ..errors import ChannelClosedError, ReplayUnavailableError
from ..events import Event, Interrupted, RunCancelled, RunFailed, RunFinished, RunStarted
from ..graph import Run
from ..messages import BaseMessage
from ..stream.envelopes import EnvelopeBuilder
from ..stream.protocol import ProtocolEvent
from ..stream.transformers import LifecycleTransformer
from .errors import ErrorPolicy
from .protocol_log import DEFAULT_MAX_EVENTS, ThreadLog

__all__ = ["DEFAULT_MAX_THREADS", "PROTOCOL_MODES", "ProtocolThreads", "WireProjector"]

PROTOCOL_MODES = ("values", "updates", "messages", "custom", "tools", "tasks", "checkpoints")
"""The stream modes whose envelopes a thread's log carries."""

DEFAULT_MAX_THREADS = 1_000
"""Thread logs an app keeps; beyond that the least recently used idle one (no run writing, no reader) leaves."""

_log = structlog.get_logger("streamflow")
_ROLES = {"ai": "ai", "AIMessageChunk": "ai", "human": "human", "system": "system"}
_Wire = tuple[str, list[str], int, Any]
"""One wire event before it is numbered: method, namespace, timestamp (ms), data."""


def _scalars(metadata: Any) -> dict[str, Any]:
    if not isinstance(metadata, dict):
        return {}
    return {k: v for k, v in metadata.items() if isinstance(v, (str, int, float, bool)) or v is None}


def _whole_message(message: BaseMessage, metadata: dict[str, Any]) -> Iterator[dict[str, Any]]:
    role = _ROLES.get(message.type)
    if role is None:
        return
    message_id = message.id or f"lc_run--{metadata.get('run_id', '')}"
    yield {"event": "message-start", "role": role, "id": message_id, "metadata": _scalars(metadata)}
    blocks: list[dict[str, Any]] = []
    if isinstance(message.content, str):
        if message.content:
            blocks.append({"type": "text", "text": message.content})
    else:
        blocks.extend(block for block in message.content if isinstance(block, dict))
    for call in getattr(message, "tool_calls", None) or ():
        blocks.append({"type": "tool_call", "id": call.get("id"), "name": call.get("name"), "args": call.get("args")})
    for index, block in enumerate(blocks):
        yield {"event": "content-block-finish", "index": index, "content": block, "id": message_id}
    yield {"event": "message-finish", "id": message_id}


def _message_events(data: Any) -> Iterator[dict[str, Any]]:
    payload, metadata = data
    if isinstance(payload, BaseMessage):
        yield from _whole_message(payload, metadata if isinstance(metadata, dict) else {})
        return
    if not isinstance(payload, dict):
        return
    out = dict(payload)
    if "id" not in out:
        call_id = metadata.get("run_id") if isinstance(metadata, dict) else None
        out["id"] = f"lc_run--{call_id}"
    if out.get("event") == "message-start":
        out["metadata"] = _scalars(metadata)
    yield out


class WireProjector:
    """Turns one run's events into wire events (see the module docstring), with that run's state.

    :param errors: which error messages clients may read
    """

    def __init__(self, errors: ErrorPolicy) -> None:
        self._builder = EnvelopeBuilder(PROTOCOL_MODES)
        self._errors = errors
        self._asked: set[str] = set()
        self._subgraphs = LifecycleTransformer(())
        self._lifecycle: deque[Any] = deque()
        self._subgraphs.init()["lifecycle"]._attach(self._lifecycle)
        self.kinds: frozenset[type[Event]] = self._builder.kinds | {RunStarted, Interrupted}
        """The event classes to subscribe to (the events that end a run come anyway)."""

    def _subgraph_lifecycle(self, ts: int) -> Iterator[_Wire]:
        while self._lifecycle:
            payload = dict(self._lifecycle.popleft())
            namespace = payload.pop("namespace")
            yield "lifecycle", namespace, ts, payload

    def _envelope(self, envelope: ProtocolEvent) -> Iterator[_Wire]:
        params = envelope["params"]
        method = envelope["method"]
        if method == "tasks":
            self._subgraphs.process(envelope)
            yield method, params["namespace"], params["timestamp"], params["data"]
            yield from self._subgraph_lifecycle(params["timestamp"])
            return
        if method == "messages":
            for data in _message_events(params["data"]):
                yield method, params["namespace"], params["timestamp"], data
            return
        yield method, params["namespace"], params["timestamp"], params["data"]

    def project(self, event: Event) -> list[_Wire]:
        """The wire events ``event`` makes, in order."""
        event = self._errors.event(event)
        ts = int(event.ts * 1000)
        out: list[_Wire] = []
        if isinstance(event, RunStarted) and not event.ns:
            out.append(("lifecycle", [], ts, {"event": "running", "graph_name": event.name}))
        for envelope in self._builder.build(event):
            out.extend(self._envelope(envelope))
        if isinstance(event, Interrupted):
            for item in event.interrupts:
                interrupt_id = str(item.get("id", ""))
                if interrupt_id in self._asked:
                    continue
                self._asked.add(interrupt_id)
                value = item.get("value")
                data = {"interrupt_id": interrupt_id, "value": value, "payload": value}
                out.append(("input.requested", list(event.ns), ts, data))
        if not event.ns and isinstance(event, (RunFinished, RunFailed, RunCancelled)):
            if isinstance(event, RunFinished):
                self._subgraphs.finalize()
            else:
                self._subgraphs.fail(RuntimeError(getattr(event, "error_message", None) or "cancelled"))
            out.extend(self._subgraph_lifecycle(ts))
            if isinstance(event, RunFinished):
                status = "interrupted" if self._asked else "completed"
                out.append(("lifecycle", [], ts, {"event": status}))
            elif isinstance(event, RunFailed):
                out.append(("lifecycle", [], ts, {"event": "failed", "error": event.error_message}))
            elif isinstance(event, RunCancelled):
                out.append(("lifecycle", [], ts, {"event": "failed", "error": f"cancelled: {event.reason}"}))
        return out


class ProtocolThreads:
    """The agent-protocol logs of an app's threads (``app.state.protocol``). Use it from the app's loop.

    :param errors: which error messages clients may read
    :param max_events: events each thread's log retains
    :param max_threads: logs kept; beyond that the least recently used idle one leaves (its thread's runs
        are in the checkpointer still; only replay of its past events is gone)
    """

    def __init__(
        self, errors: ErrorPolicy, *, max_events: int = DEFAULT_MAX_EVENTS, max_threads: int = DEFAULT_MAX_THREADS
    ) -> None:
        self.errors = errors
        self.max_events = max_events
        self.max_threads = max_threads
        self._logs: OrderedDict[str, ThreadLog] = OrderedDict()
        self._pumps: set[asyncio.Task[None]] = set()

    def log(self, thread_id: str) -> ThreadLog:
        """The thread's log, made empty on first use."""
        log = self._logs.get(thread_id)
        if log is None:
            log = self._logs[thread_id] = ThreadLog(thread_id, max_events=self.max_events)
            self._trim()
        else:
            self._logs.move_to_end(thread_id)
        return log

    def _trim(self) -> None:
        if len(self._logs) <= self.max_threads:
            return
        for thread_id, log in list(self._logs.items()):
            if len(self._logs) <= self.max_threads:
                return
            if log.readers == 0 and log.pumps == 0:
                del self._logs[thread_id]

    def follow_run(self, thread_id: str, run: Run) -> int:
        """Write ``run``'s events (from its first) into the thread's log as it makes them; return the ``seq``
        its events follow (the ``applied_through_seq`` of the command that started it).

        Call it right after the run started, in the same step of the event loop: the run's whole stream is
        then still in its channel's replay buffer.
        """
        log = self.log(thread_id)
        start = log.begin_run(run.run_id)
        projector = WireProjector(self.errors)
        try:
            subscription = run.channel.subscribe(kinds=projector.kinds, after_seq=0, buffer_size=1024)
        except ReplayUnavailableError as exc:  # the run got ahead of its replay buffer: write what is left
            _log.warning(
                "protocol_run_joined_late", thread_id=thread_id, run_id=run.run_id, missed=exc.first_available - 1
            )
            subscription = run.channel.subscribe(
                kinds=projector.kinds, after_seq=exc.first_available - 1, buffer_size=1024
            )
        log.pumps += 1

        async def pump() -> None:
            try:
                async for item in subscription:
                    if isinstance(item, Lagged):  # not under "block"; kept for safety
                        continue
                    try:
                        wire = projector.project(item)
                    except Exception:  # one event the wire cannot show must not cut the thread's stream
                        _log.exception("protocol_event_dropped", thread_id=thread_id, run_id=run.run_id, seq=item.seq)
                        continue
                    for method, namespace, timestamp, data in wire:
                        log.append(run.run_id, method, namespace, timestamp, data)
            except ChannelClosedError:
                pass
            except Exception:
                _log.exception("protocol_pump_failed", thread_id=thread_id, run_id=run.run_id)
            finally:
                subscription.close()  # never leave the run waiting on a reader that stopped
                log.pumps -= 1

        task = asyncio.get_running_loop().create_task(pump())
        self._pumps.add(task)
        task.add_done_callback(self._pumps.discard)
        return start

    async def aclose(self) -> None:
        """Stop writing runs' events (their runs go on or are closed by their registry)."""
        tasks = list(self._pumps)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
