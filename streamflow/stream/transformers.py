"""The built-in transformers of v3 run streams, LangGraph's, with its names and projection shapes.

Layer 2 (views). Always present: :class:`ValuesTransformer` (``run.values``: the state after each step of
the stream's own graph), :class:`MessagesTransformer` (``run.messages``: one chat model stream per model call
of its own graph), :class:`LifecycleTransformer` (``run.lifecycle``: ``started`` / ``completed`` / ``failed`` /
``interrupted`` of each subgraph below, also put into the main log as ``lifecycle`` envelopes) and
:class:`SubgraphTransformer` (``run.subgraphs``: a handle per direct child subgraph). Opt-in, given to
``compile(transformers=...)`` or ``stream_events(..., transformers=...)``: :class:`UpdatesTransformer`,
:class:`CustomTransformer`, :class:`CheckpointsTransformer`, :class:`DebugTransformer`,
:class:`TasksTransformer`, each the stream mode of the same name at the stream's own namespace.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, NotRequired, TypedDict

from ..messages import AIMessageChunk, BaseMessage, ToolMessage
from .chat_stream import AsyncChatModelStream, Pump
from .protocol import ProtocolEvent
from .stream_channel import StreamChannel
from .transformer import StreamTransformer

if TYPE_CHECKING:
    from .pipeline import Pipeline

__all__ = [
    "CheckpointsTransformer",
    "CustomTransformer",
    "DebugTransformer",
    "LifecyclePayload",
    "LifecycleTransformer",
    "MessagesTransformer",
    "SubgraphStatus",
    "SubgraphTransformer",
    "TasksTransformer",
    "UpdatesTransformer",
    "ValuesTransformer",
]

SubgraphStatus = Literal["started", "completed", "failed", "interrupted", "drained"]
"""A subgraph's lifecycle status."""


class LifecyclePayload(TypedDict, total=False):
    """An item of ``run.lifecycle`` (and the data of a ``lifecycle`` envelope)."""

    event: SubgraphStatus
    namespace: list[str]
    graph_name: NotRequired[str]
    trigger_call_id: NotRequired[str]
    error: NotRequired[str]


class _ModeTransformer(StreamTransformer):
    """The chunks of one stream mode (``mode``, which the run is thus required to produce) at the transformer's
    own namespace, as a projection of that name."""

    _native = True
    mode = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.required_stream_modes = (cls.mode,)

    def __init__(self, scope: tuple[str, ...] = ()) -> None:
        super().__init__(scope)
        self._log: StreamChannel[Any] = StreamChannel()
        self._scope_list = list(scope)

    def init(self) -> dict[str, Any]:
        return {self.mode: self._log}

    def _reads(self, method: str, nested: bool) -> bool:
        return method == self.mode and not nested

    def process(self, event: ProtocolEvent) -> bool:
        if event["method"] == self.mode and event["params"]["namespace"] == self._scope_list:
            self._log.push(event["params"]["data"])
        return True


class ValuesTransformer(_ModeTransformer):
    """``run.values``: the state (a dict) after each step of the stream's own graph, the input first."""

    mode = "values"


class UpdatesTransformer(_ModeTransformer):
    """``run.updates``: ``{node: update}`` per task of the stream's own graph (the ``updates`` mode)."""

    mode = "updates"


class CustomTransformer(_ModeTransformer):
    """``run.custom``: what nodes of the stream's own graph gave their stream writer."""

    mode = "custom"


class CheckpointsTransformer(_ModeTransformer):
    """``run.checkpoints``: one item per checkpoint saved (needs a checkpointer), as the ``checkpoints`` mode."""

    mode = "checkpoints"


class DebugTransformer(_ModeTransformer):
    """``run.debug``: the ``debug`` mode's items of the stream's own graph."""

    mode = "debug"


class TasksTransformer(_ModeTransformer):
    """``run.tasks``: the ``tasks`` mode's start and result payloads of the stream's own graph."""

    mode = "tasks"


class MessagesTransformer(StreamTransformer):
    """``run.messages``: a chat model stream per model call of the stream's own graph (and a finished one per
    whole message a node returns); tool messages are left out."""

    _native = True
    required_stream_modes = ("messages",)

    def __init__(self, scope: tuple[str, ...] = ()) -> None:
        super().__init__(scope)
        self._log: StreamChannel[AsyncChatModelStream] = StreamChannel()
        self._by_run: dict[str, AsyncChatModelStream] = {}
        self._ignored: set[str] = set()
        self._pump: Pump | None = None
        self._handed_over: Callable[[], None] | None = None
        self._pipeline: Pipeline | None = None
        self._scope_list = list(scope)

    def init(self) -> dict[str, Any]:
        return {"messages": self._log}

    def _bind_apump(self, pump: Pump) -> None:
        self._pump = pump

    def _on_register(self, pipeline: Any) -> None:
        self._handed_over = pipeline.note_handed_over
        self._pipeline = pipeline

    def _make_stream(self, node: str | None, message_id: str | None) -> AsyncChatModelStream:
        if self._handed_over is not None:
            self._handed_over()
        stream = AsyncChatModelStream(namespace=[], node=node, message_id=message_id)
        stream.set_arequest_more(self._pump)
        if self._pipeline is not None:
            stream._pump_ahead = self._pipeline.pump_ahead
        return stream

    def _reads(self, method: str, nested: bool) -> bool:
        return method == "messages" and not nested

    def process(self, event: ProtocolEvent) -> bool:
        params = event["params"]
        if event["method"] != "messages" or params["namespace"] != self._scope_list:
            return True
        payload, metadata = params["data"]
        run_id = metadata.get("run_id", "")
        if run_id.__class__ is not str:
            run_id = str(run_id)
        if payload.__class__ is dict and payload.get("event") == "content-block-delta":
            stream = self._by_run.get(run_id)  # the most of them: a delta of a call being read
            if stream is not None and run_id not in self._ignored:
                stream.dispatch(payload)
                return True
        node = metadata.get("langgraph_node")
        if isinstance(payload, dict) and "event" in payload:
            self._route(payload, run_id, node)
        elif isinstance(payload, BaseMessage) and not isinstance(payload, AIMessageChunk | ToolMessage):
            stream = self._make_stream(node, payload.id)
            stream.dispatch_whole(payload)
            self._log.push(stream)
        return True

    def _route(self, payload: dict[str, Any], run_id: str, node: str | None) -> None:
        kind = payload.get("event")
        if kind == "message-start":
            if payload.get("role") == "tool":
                self._ignored.add(run_id)
                return
            message_id = payload.get("id")
            stream = self._make_stream(node, None if message_id is None else str(message_id))
            self._by_run[run_id] = stream
            self._log.push(stream)
            stream.dispatch(payload)
        elif run_id in self._ignored:
            if kind == "message-finish":
                self._ignored.discard(run_id)
        elif run_id in self._by_run:
            stream = self._by_run[run_id]
            stream.dispatch(payload)
            if kind == "message-finish":
                del self._by_run[run_id]

    def finalize(self) -> None:
        self._by_run.clear()
        self._ignored.clear()

    def fail(self, err: BaseException) -> None:
        for stream in self._by_run.values():
            stream.fail(err)
        self._by_run.clear()
        self._ignored.clear()


_ERROR_REPR = re.compile(r"\A[A-Za-z_][\w.]*\((.*)\)\Z", re.S)


def _error_text(error: Any) -> str:
    """The message of a task's error: the ``tasks`` mode gives ``"ValueError('boom')"`` (a repr, as events
    carry no live exception); lifecycle payloads say ``"boom"``, as LangGraph's ``str(exc)``."""
    text = str(error)
    match = _ERROR_REPR.match(text)
    if match is None:
        return text
    try:
        argument = ast.literal_eval(match.group(1) or "''")
    except (ValueError, SyntaxError):
        return text
    return argument if isinstance(argument, str) else str(argument)


def _terminal_of(result: dict[str, Any]) -> tuple[SubgraphStatus, str | None]:
    if result.get("interrupts"):
        return "interrupted", None
    error = result.get("error")
    if error:
        return "failed", _error_text(error)
    return "completed", None


class _TasksLifecycle(StreamTransformer):
    """Subgraphs found from ``tasks`` envelopes: started at the first task event of a namespace, ended when
    the parent task's result arrives. ``tasks`` envelopes are kept out of the main log."""

    required_stream_modes = ("tasks",)

    def __init__(self, scope: tuple[str, ...] = ()) -> None:
        super().__init__(scope)
        self._seen: set[tuple[str, ...]] = set()
        self._open: dict[tuple[str, ...], str] = {}

    def _should_track(self, ns: tuple[str, ...]) -> bool:
        raise NotImplementedError

    def _on_started(self, ns: tuple[str, ...], graph_name: str | None, trigger_call_id: str | None) -> None:
        raise NotImplementedError

    def _on_terminal(self, ns: tuple[str, ...], status: SubgraphStatus, error: str | None) -> None:
        raise NotImplementedError

    def _reads(self, method: str, nested: bool) -> bool:
        return method == "tasks"

    def process(self, event: ProtocolEvent) -> bool:
        if event["method"] != "tasks":
            return True
        ns = tuple(event["params"]["namespace"])
        data = event["params"]["data"]
        if "result" in data:
            result_id = data.get("id")
            for child, parent_task in list(self._open.items()):
                if child[:-1] == ns and parent_task == result_id:
                    del self._open[child]
                    status, error = _terminal_of(data)
                    self._on_terminal(child, status, error)
        elif self._should_track(ns) and ns not in self._seen:
            self._seen.add(ns)
            name, sep, task_id = ns[-1].partition(":")
            metadata = data.get("metadata") or {}
            graph_name = metadata.get("lc_agent_name") or name or None
            trigger = task_id if sep else None
            self._on_started(ns, graph_name, trigger)
            if trigger is not None:
                self._open[ns] = trigger
        return False

    def finalize(self) -> None:
        for ns in list(self._open):
            self._on_terminal(ns, "completed", None)
        self._open.clear()

    def fail(self, err: BaseException) -> None:
        status, error = _status_of(err)
        for ns in list(self._open):
            self._on_terminal(ns, status, error)
        self._open.clear()


def _status_of(err: BaseException) -> tuple[SubgraphStatus, str | None]:
    if type(err).__name__ == "GraphDrained":
        return "drained", None
    if type(err).__name__ == "GraphInterrupt":
        return "interrupted", None
    return "failed", str(err)


class LifecycleTransformer(_TasksLifecycle):
    """``run.lifecycle``: a :class:`LifecyclePayload` when a subgraph (at any depth below the stream's
    namespace) starts and when it ends; each is also a ``lifecycle`` envelope in the main log."""

    _native = True

    def __init__(self, scope: tuple[str, ...] = ()) -> None:
        super().__init__(scope)
        self._channel: StreamChannel[LifecyclePayload] = StreamChannel("lifecycle")

    def init(self) -> dict[str, Any]:
        return {"lifecycle": self._channel}

    def _should_track(self, ns: tuple[str, ...]) -> bool:
        depth = len(self.scope)
        return len(ns) > depth and ns[:depth] == self.scope

    def _on_started(self, ns: tuple[str, ...], graph_name: str | None, trigger_call_id: str | None) -> None:
        if trigger_call_id is None:
            return
        payload: LifecyclePayload = {"event": "started", "namespace": list(ns)}
        if graph_name:
            payload["graph_name"] = graph_name
        payload["trigger_call_id"] = trigger_call_id
        self._channel.push(payload)

    def _on_terminal(self, ns: tuple[str, ...], status: SubgraphStatus, error: str | None) -> None:
        payload: LifecyclePayload = {"event": status, "namespace": list(ns)}
        if error is not None:
            payload["error"] = error
        self._channel.push(payload)


class SubgraphTransformer(_TasksLifecycle):
    """``run.subgraphs``: a handle (a run stream of its own, scoped to the subgraph) per direct child
    subgraph, as it starts; its ``status`` follows the subgraph, and its projections are fed by the consumer
    that found it."""

    _native = True
    supports_sync = True

    def __init__(self, scope: tuple[str, ...] = ()) -> None:
        super().__init__(scope)
        self._log: StreamChannel[Any] = StreamChannel()
        self._handles: dict[tuple[str, ...], Any] = {}
        self._closing: list[Any] = []
        self._pipeline: Pipeline | None = None

    def init(self) -> dict[str, Any]:
        return {"subgraphs": self._log}

    def _on_register(self, pipeline: Any) -> None:
        self._pipeline = pipeline

    def _reads(self, method: str, nested: bool) -> bool:
        return method == "tasks" or nested  # a subgraph's envelopes feed its handle

    def _should_track(self, ns: tuple[str, ...]) -> bool:
        depth = len(self.scope)
        return len(ns) == depth + 1 and ns[:depth] == self.scope

    def _on_started(self, ns: tuple[str, ...], graph_name: str | None, trigger_call_id: str | None) -> None:
        if self._pipeline is None:
            return
        handle = self._pipeline.make_handle(ns, graph_name, trigger_call_id)
        self._handles[ns] = handle
        self._log.push(handle)

    def _on_terminal(self, ns: tuple[str, ...], status: SubgraphStatus, error: str | None) -> None:
        handle = self._handles.get(ns)
        if handle is not None and handle._mark_terminal(status, error):
            self._closing.append(handle)

    async def _close_terminated(self, err: BaseException | None = None) -> None:
        closing, self._closing = self._closing, []
        for handle in closing:
            await handle._close(err)

    async def aprocess(self, event: ProtocolEvent) -> bool:
        keep = self.process(event)
        ns = tuple(event["params"]["namespace"])
        depth = len(self.scope)
        if len(ns) > depth:
            handle = self._handles.get(ns[: depth + 1])
            if handle is not None:
                await handle._feed(event)
        await self._close_terminated()
        return keep

    async def afinalize(self) -> None:
        self.finalize()
        for handle in self._handles.values():
            if handle._mark_terminal("completed", None):
                self._closing.append(handle)
        await self._close_terminated()

    async def afail(self, err: BaseException) -> None:
        self.fail(err)
        status, error = _status_of(err)
        for handle in self._handles.values():
            if handle._mark_terminal(status, error):
                self._closing.append(handle)
        closing, self._closing = self._closing, []
        for handle in closing:
            await handle._close(err)
