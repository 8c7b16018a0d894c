"""Stream modes: each a declared filter plus a projection from events to the chunks LangGraph users know.

Layer 3. A :class:`Mode` names the event kinds it takes and turns one such event into a chunk (or skips
it). :class:`ViewSpec` combines a ``stream_mode`` (one name or a list), ``subgraphs`` and ``version`` into
what a subscription needs (kinds, namespace filter) and a function turning events into output items.
Adding a mode means adding a :class:`Mode` to :data:`MODES`; nothing in the runtime changes.

Chunk shapes (LangGraph's):

``values``
    the whole state (a dict): the input first, then the state after each superstep; when a task pauses on
    ``interrupt()``, the state its step started from with ``"__interrupt__"`` added (LangGraph 1.2's).
``updates``
    ``{node: update}`` for each task, in completion order (``update`` is what the node returned, or None);
    ``{"__interrupt__": (Interrupt(...),)}`` for a task that paused on ``interrupt()``; a resumed run's task
    whose writes were saved before shows them with ``"__metadata__": {"cached": True}`` (LangGraph 1.2's).
``custom``
    whatever the node or tool gave its stream writer.
``tasks``
    ``{"id", "name", "input", "triggers"}`` when a task starts, ``{"id", "name", "error", "result",
    "interrupts"}`` when it ends, as LangGraph 1.2 gives them (older LangGraph docs show other shapes;
    1.2 is followed). ``triggers`` is a tuple: every channel the node listens to, sorted, whichever fired:
    ``"branch:to:<node>"`` (any edge into the node, START included), then ``"join:<a>+<b>:<node>"`` for
    each fan-in edge ending at it; ``("__pregel_push",)`` for a task started by ``Send`` (the older docs
    show ``"start:<node>"`` and the source node's name). ``result`` is a dict of the state keys the node
    wrote (``{}`` when it returned None, failed or paused; older docs show a list of ``(key, value)``
    pairs); ``interrupts`` is ``[]``, or for a task that paused on ``interrupt()`` its
    ``{"value", "id", "response_schema"}`` each. The start payload has a ``metadata`` key when there is something to put
    in it (LangGraph 1.2): the run's ``config["metadata"]`` without ``thread_id``, ``checkpoint_*`` and
    ``langgraph_*`` keys, plus ``tags`` (the run's tags) (:class:`TasksModeState`). Difference kept:
    ``error`` is None or a string ``"ValueError('boom')"`` where LangGraph puts the exception object itself
    (our events carry no live objects across processes).
``messages``
    ``(message, metadata)``, as LangGraph 1.2's ``messages`` mode (metadata equal key for key): an
    ``AIMessageChunk`` for each token of a chat model, with metadata holding the node's metadata (the run's
    metadata, with LangGraph's configurable keys such as ``thread_id``, plus ``langgraph_step``,
    ``langgraph_node``, ``langgraph_triggers`` (the task's triggers, as in ``tasks``), ``langgraph_path``,
    ``langgraph_checkpoint_ns``, and ``checkpoint_ns`` inside a subgraph), then ``ls_integration``
    (``"langchain_chat_model"``), ``checkpoint_ns``, ``ls_provider``, ``ls_model_type``, ``ls_model_name``
    (when the model names one), ``lc_versions`` (``{"streamflow": <version>}`` where LangChain names
    langchain-core's) and ``tags`` (when there are any) (:func:`streamflow.metadata.model_call_metadata`);
    and, once whole, each message a node returns that was not streamed as tokens and was not in the node's
    input (a ``HumanMessage``, a ``ToolMessage``, an ``AIMessage`` of a ``nostream`` model...), with the
    node's metadata plus ``ls_integration: "langgraph"``. A message streamed as tokens is never emitted
    again. The node's metadata equals the ``config["metadata"]`` the node receives (both are built by
    :func:`streamflow.metadata.node_metadata`); for a task started by
    ``Send``, ``langgraph_path`` is ``("__pregel_push", <index>)``, without the third item LangGraph 1.x
    adds. A view attached while a task or model call ran gives a documented subset
    (:class:`MessagesModeState`).
``tools``
    one dict per step of each tool call, LangGraph's ``tools`` mode records (sizes are whatever the tool
    gave): ``{"event": "tool-started", "tool_call_id", "tool_name", "input"}`` (``input``: the arguments
    mapping); ``{"event": "tool-output-delta", "tool_call_id", "delta"}`` for each value the tool gives
    ``get_stream_writer()`` while it runs; then ``{"event": "tool-finished", "tool_call_id", "output"}``
    (``output``: what the tool returned) or ``{"event": "tool-error", "tool_call_id", "message"}``
    (``message``: ``str()`` of the exception; for bad arguments, pydantic's ``ValidationError`` text as
    LangChain gives it when pydantic is installed, else the library's own schema error). ``tool_call_id`` is
    the id the model gave the call, or a new one when the tool was called without one.
``debug``
    ``{"step", "timestamp", "type": "task" | "task_result", "payload"}``, keys in that order, with the
    ``tasks`` chunk as payload, ``step`` the superstep (1 for the first) and the event's time as an ISO
    8601 string in UTC (``"2026-11-30T06:08:58.648033+00:00"``), as LangGraph 1.2; with a checkpointer,
    also ``"type": "checkpoint"`` with the ``checkpoints`` chunk as payload and the checkpoint's step.
``checkpoints``
    with a checkpointer, one ``{"config", "parent_config", "values", "metadata", "next", "tasks"}`` per
    checkpoint saved (LangGraph 1.2's shape): ``next`` the nodes that run next, ``tasks`` their
    ``{"id", "name", "interrupts", "state"}``; nothing without a checkpointer.

A mode that must remember something across events (``messages`` remembers which message ids it has
already emitted) declares a :class:`ModeState` class; every view gets a fresh instance, so two views of one
run never share state.

Order across modes, as LangGraph's whatever the order of a ``stream_mode`` list: when a task ends, the
messages its node returned (``messages``), then its ``updates`` chunk, then its ``tasks`` result and that
result's ``debug`` chunk; a ``checkpoints`` chunk before its ``debug`` twin; an interrupt's ``updates``
chunk before its ``values`` chunk (:data:`_EMIT_ORDER`).

Output items: a single mode yields chunks, a list yields ``(mode, chunk)``; ``subgraphs=True`` prefixes the
namespace: ``(ns, chunk)`` or ``(ns, mode, chunk)``. ``version="v2"`` yields ``{"type": mode, "ns": ns,
"data": chunk}`` dicts whatever the rest (LangGraph 1.1's stream parts); a ``values`` part also carries
``"interrupts"``, as LangGraph 1.2's do: ``()``, or the interrupts of a task that just paused (the v1 chunk's
``"__interrupt__"``, taken out of ``data``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

import attrs

from .errors import UnknownStreamModeError
from .events import (
    ChatModelFinished,
    ChatModelStarted,
    ChatModelToken,
    CheckpointSaved,
    CustomData,
    Event,
    Interrupted,
    RunStarted,
    StateUpdate,
    StateValues,
    TaskFailed,
    TaskFinished,
    TaskStarted,
    ToolFailed,
    ToolFinished,
    ToolStarted,
)
from .interrupts import Interrupt
from .messages import AIMessageChunk, BaseMessage, _converters, convert_foreign
from .metadata import GRAPH_INTEGRATION, checkpoint_ns, model_call_metadata, node_metadata, user_tags

__all__ = [
    "MODES",
    "NOSTREAM",
    "SKIP",
    "STREAM_VERSIONS",
    "Chunks",
    "DebugModeState",
    "MessagesModeState",
    "Mode",
    "ModeState",
    "Projector",
    "Shaper",
    "StateCoercion",
    "TasksModeState",
    "ViewSpec",
    "register_mode",
    "task_metadata",
]

NOSTREAM = "nostream"
"""The tag that keeps a chat model's output off the ``messages`` stream (LangGraph's ``TAG_NOSTREAM``)."""


class _Skip:
    __slots__ = ()

    def __repr__(self) -> str:
        return "SKIP"


SKIP: Final = _Skip()
"""Returned by a projection for an event that yields no chunk."""


@attrs.frozen
class Chunks:
    """Returned by a projection for an event that yields several chunks, in this order."""

    items: tuple[Any, ...]
    """The chunks."""


Projection = Callable[[Any], Any]
"""Event -> chunk, :data:`SKIP` or :class:`Chunks`; each takes the event class it is registered for."""
Shaper = Callable[[str, tuple[str, ...], Any], Any]
"""``(mode, ns, chunk) -> output item``: how a spec wraps each chunk (see :meth:`ViewSpec.shaper`)."""

STREAM_VERSIONS: tuple[str, ...] = ("v1", "v2")


class ModeState:
    """Per-view state of a mode that remembers across events. Subclass it, list the event classes in
    :attr:`kinds` and return bound methods from :meth:`projections`; each view makes its own instance."""

    __slots__ = ()

    kinds: ClassVar[frozenset[type[Event]]] = frozenset()
    """The event classes :meth:`projections` handles."""

    def projections(self) -> dict[type[Event], Projection]:
        """Event class -> projection, bound to this instance."""
        raise NotImplementedError


@attrs.frozen
class Mode:
    """A stream mode: the event kinds it takes and, per kind, how an event becomes a chunk."""

    name: str
    """The ``stream_mode`` name."""
    projections: dict[type[Event], Projection] = attrs.field(factory=dict)
    """Event class -> function returning the chunk, :data:`SKIP` or :class:`Chunks` (stateless)."""
    state: type[ModeState] | None = None
    """For a mode that remembers across events: its per-view state class (its projections override
    :attr:`projections` for the same kind)."""

    @property
    def kinds(self) -> frozenset[type[Event]]:
        """The event classes this mode takes."""
        extra = self.state.kinds if self.state is not None else frozenset()
        return frozenset(self.projections) | extra

    def bind(self) -> dict[type[Event], Projection]:
        """The projections for one new view (with fresh state for a stateful mode)."""
        if self.state is None:
            return self.projections
        return {**self.projections, **self.state().projections()}


MODES: dict[str, Mode] = {}
"""Every stream mode by name."""
_PARSED: dict[tuple[Any, bool, str, StateCoercion | None], ViewSpec] = {}
"""``ViewSpec.parse`` results for one-mode arguments (emptied when a mode is registered, or when full)."""
_PARSED_KEPT = 256
"""Specs :data:`_PARSED` keeps at most."""
_KINDS_OF_MODES: dict[tuple[str, ...], frozenset[type[Event]]] = {}
"""``ViewSpec.kinds`` by ``modes``, made once (emptied when a mode is registered)."""


def register_mode(mode: Mode) -> Mode:
    """Add ``mode`` to :data:`MODES` (replacing one of the same name) and return it."""
    MODES[mode.name] = mode
    _KINDS_OF_MODES.clear()
    _PARSED.clear()
    return mode


_INTERNAL_METADATA_KEYS: Final = frozenset(
    {
        "thread_id",
        "checkpoint_id",
        "checkpoint_ns",
        "checkpoint_map",
        "langgraph_step",
        "langgraph_node",
        "langgraph_triggers",
        "langgraph_path",
        "langgraph_checkpoint_ns",
    }
)
"""Metadata keys a ``task`` payload leaves out (they repeat the task's own fields), as LangGraph 1.2."""


def _task_start(event: TaskStarted, run_metadata: Mapping[str, Any]) -> dict[str, Any]:
    payload = {"id": event.task_id, "name": event.node, "input": event.input, "triggers": tuple(event.triggers)}
    metadata = {key: value for key, value in run_metadata.items() if key not in _INTERNAL_METADATA_KEYS}
    tags = [tag for tag in event.tags if not tag.startswith("seq:step")]
    if tags:
        metadata["tags"] = tags
    if metadata:
        payload["metadata"] = metadata
    return payload


def _task_result(event: TaskFinished) -> dict[str, Any]:
    result = event.result
    writes = dict(result) if isinstance(result, Mapping) else {}
    return {"id": event.task_id, "name": event.node, "error": None, "result": writes, "interrupts": []}


def _task_error(event: TaskFailed) -> dict[str, Any]:
    error = f"{event.error_type.rpartition('.')[2]}({event.error_message!r})"
    return {"id": event.task_id, "name": event.node, "error": error, "result": {}, "interrupts": []}


def _interrupts_of(event: Interrupted) -> tuple[Any, ...]:
    """The event's interrupts as :class:`~streamflow.types.Interrupt` objects (what LangGraph's chunks hold)."""
    return tuple(
        Interrupt(item.get("value"), str(item.get("id", "")), item.get("response_schema")) for item in event.interrupts
    )


def _interrupt_update(event: Interrupted) -> dict[str, Any]:
    return {INTERRUPT_KEY: _interrupts_of(event)}


def _interrupt_values(event: Interrupted) -> Any:
    if not event.interrupts:
        return SKIP  # a breakpoint: LangGraph streams no values chunk for it
    values = event.values
    if isinstance(values, Mapping):
        return {**values, INTERRUPT_KEY: _interrupts_of(event)}
    return {INTERRUPT_KEY: _interrupts_of(event)}


def _interrupt_result(event: Interrupted) -> Any:
    if event.node is None or event.task_id is None or not event.interrupts:
        return SKIP
    shown = [
        {"value": item.get("value"), "id": item.get("id"), "response_schema": item.get("response_schema")}
        for item in event.interrupts
    ]
    return {"id": event.task_id, "name": event.node, "error": None, "result": {}, "interrupts": shown}


def _interrupt_debug(event: Interrupted) -> Any:
    payload = _interrupt_result(event)
    return payload if payload is SKIP else _debug_chunk("task_result", event, payload)


def _checkpoint(event: CheckpointSaved) -> dict[str, Any]:
    return {
        "config": event.config,
        "parent_config": event.parent_config,
        "values": event.values,
        "metadata": dict(event.metadata) if event.metadata is not None else None,
        "next": list(event.next),
        "tasks": [dict(task) for task in event.tasks],
    }


def _debug_chunk(kind: str, event: Event, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "step": event.step,
        "timestamp": datetime.fromtimestamp(event.ts, UTC).isoformat(),
        "type": kind,
        "payload": payload,
    }


def _debug(kind: str, payload: Callable[[Any], dict[str, Any]]) -> Projection:
    def project(event: Event) -> dict[str, Any]:
        return _debug_chunk(kind, event, payload(event))

    return project


class TasksModeState(ModeState):
    """The ``task`` and ``task_result`` payloads of one ``tasks`` view.

    Remembers the run's metadata (from ``RunStarted``) to give each ``task`` payload LangGraph 1.2's
    ``metadata`` key (the run's metadata without the keys that repeat the task's own fields, plus the run's
    tags). A task of a graph run inside a node with metadata of its own carries that run's metadata
    (``TaskStarted.metadata``), which is used instead. A view that never saw ``RunStarted`` gives only the
    tags.

    A finished task's ``task_result`` shows once its writes are in, as LangGraph shows it: the payload is
    built from its ``TaskFinished`` and held until the task's ``StateUpdate`` (so it follows the task's
    ``updates`` chunk and the messages its node returned). A task whose writes were saved before (a
    ``StateUpdate`` marked ``cached``) shows none, as in LangGraph. A view that attached between the two
    events gives the ``StateUpdate``'s update as the result (the keys the ``updates`` mode shows).
    """

    kinds: ClassVar[frozenset[type[Event]]] = frozenset({RunStarted, TaskStarted, TaskFinished, StateUpdate})
    debug: ClassVar[bool] = False
    """Whether payloads are wrapped in ``debug`` chunks."""

    __slots__ = ("results", "run_metadata")

    def __init__(self) -> None:
        self.run_metadata: Mapping[str, Any] = {}
        self.results: dict[str | None, dict[str, Any]] = {}
        """The ``task_result`` payloads of the tasks finished whose ``StateUpdate`` is still to come."""

    def projections(self) -> dict[type[Event], Projection]:
        return {
            RunStarted: self.run_started,
            TaskStarted: self.task_started,
            TaskFinished: self.task_finished,
            StateUpdate: self.state_update,
        }

    def run_started(self, event: RunStarted) -> Any:
        if not event.ns:  # a subgraph's run carries its node's metadata, not the run's
            self.run_metadata = event.metadata
        return SKIP

    def task_started(self, event: TaskStarted) -> Any:
        payload = _task_start(event, event.metadata or self.run_metadata)
        return _debug_chunk("task", event, payload) if self.debug else payload

    def task_finished(self, event: TaskFinished) -> Any:
        self.results[event.task_id] = _task_result(event)
        return SKIP

    def state_update(self, event: StateUpdate) -> Any:
        payload = self.results.pop(event.task_id, None)
        if payload is None:
            if event.cached:
                return SKIP
            update = event.update
            result = dict(update) if isinstance(update, Mapping) else {}
            payload = {"id": event.task_id, "name": event.node, "error": None, "result": result, "interrupts": []}
        return _debug_chunk("task_result", event, payload) if self.debug else payload


class DebugModeState(TasksModeState):
    """The ``task`` and ``task_result`` chunks of one ``debug`` view (see :class:`TasksModeState`)."""

    __slots__ = ()

    debug: ClassVar[bool] = True


def task_metadata(
    run_metadata: Mapping[str, Any], event: TaskStarted, integration: str | None = None
) -> dict[str, Any]:
    """The metadata of the node whose task ``event`` started (:func:`streamflow.metadata.node_metadata` with
    the facts the event carries), equal to the ``config["metadata"]`` the node receives, plus
    ``ls_integration`` when ``integration`` is given (as the ``messages`` mode shows it)."""
    return node_metadata(
        run_metadata,
        step=event.step,
        node=event.node or "",
        triggers=event.triggers,
        path=event.path,
        ns=event.ns,
        task_id=event.task_id,
        integration=integration,
    )


def _messages_in(values: Any) -> Iterable[BaseMessage]:
    """Messages among the top-level values of a state or update (alone or in lists), as LangGraph finds
    them: a mapping's values, or a dataclass's fields."""
    if isinstance(values, Mapping):
        items: Iterable[Any] = values.values()
    elif hasattr(values, "__dataclass_fields__"):
        items = [getattr(values, name) for name in values.__dataclass_fields__]
    else:
        return
    # a task result's several writes of one key come as {"$writes": [write, ...]} (LangGraph's form)
    items = [
        write
        for value in items
        for write in (value["$writes"] if isinstance(value, Mapping) and list(value) == ["$writes"] else [value])
    ]
    for value in items:
        if isinstance(value, BaseMessage):
            yield value
        elif isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, BaseMessage):
                    yield item
                elif _converters:  # another library's message (a bridge registered its converter)
                    converted = convert_foreign(item)
                    if converted is not None:
                        yield converted
        elif _converters:
            converted = convert_foreign(value)
            if converted is not None:
                yield converted


def _messages_returned(output: Any) -> Iterable[BaseMessage]:
    """Messages in what a node returned when that was a ``Command`` or a list holding one (a
    :class:`~streamflow.events.TaskFinished` ``output``), as LangGraph's messages mode finds them there: in
    each command's ``update`` (and each other item of the list) that is a message, a list of messages, or a
    mapping whose values are messages or lists of them; an update given as ``(key, value)`` pairs shows
    none."""
    items = output if isinstance(output, (list, tuple)) else [output]
    for item in items:
        update = getattr(item, "update", None) if type(item).__name__ == "Command" else item
        if isinstance(update, BaseMessage):
            yield update
        elif isinstance(update, (list, tuple)):
            yield from (value for value in update if isinstance(value, BaseMessage))
        else:
            yield from _messages_in(update)


class MessagesModeState(ModeState):
    """The ``messages`` mode of one view: tokens as they come, then each new message a node returns, once.

    Remembers the ids of the messages it has emitted or seen in a node's input, the metadata of the tasks
    in flight and that of the model calls in flight (events: ``RunStarted`` for the run's metadata,
    ``TaskStarted`` / ``TaskFinished`` / ``TaskFailed``, ``ChatModelStarted`` / ``ChatModelToken`` /
    ``ChatModelFinished``).

    A node's metadata here is its ``config["metadata"]`` plus ``ls_integration: "langgraph"``. A model
    call's metadata is LangGraph's, built once per call from its ``ChatModelStarted`` by
    :func:`streamflow.metadata.model_call_metadata`: the node's metadata with ``ls_integration:
    "langchain_chat_model"``, ``checkpoint_ns``, ``ls_provider``, ``ls_model_type``, ``ls_model_name`` (when
    the model has one), ``lc_versions`` and ``tags`` (the run's and the model's, when there are any); every
    chunk of the call shares that dict. A view that never saw the call start (attached while it ran, without
    replay) gives its chunks what the view knows instead: the node's metadata if it saw the task start,
    else the run's metadata with ``ls_integration``, ``langgraph_step`` and ``langgraph_node``; then ``tags``;
    no other ``ls_*`` keys. A message a node returns carries its node's metadata (the same fallback for a
    task it never saw start).
    """

    kinds: ClassVar[frozenset[type[Event]]] = frozenset(
        {RunStarted, TaskStarted, TaskFinished, TaskFailed, ChatModelStarted, ChatModelToken, ChatModelFinished}
    )

    __slots__ = ("calls", "last_id", "run_metadata", "seen", "tasks")

    def __init__(self) -> None:
        self.seen: set[Any] = set()
        """Ids of the messages emitted, streamed or seen in a node's input."""
        self.last_id: Any = None
        """Id of the last token's message (consecutive tokens share it: one set lookup per message)."""
        self.run_metadata: Mapping[str, Any] = {}
        self.tasks: dict[str | None, dict[str, Any]] = {}
        """Node metadata of the tasks in flight, by task id."""
        self.calls: dict[str, dict[str, Any]] = {}
        """``messages`` metadata of the model calls in flight, by call id."""

    def projections(self) -> dict[type[Event], Projection]:
        return {
            RunStarted: self.run_started,
            TaskStarted: self.task_started,
            TaskFinished: self.task_finished,
            TaskFailed: self.task_failed,
            ChatModelStarted: self.model_started,
            ChatModelToken: self.token,
            ChatModelFinished: self.model_finished,
        }

    def node_fallback(self, event: Event) -> dict[str, Any]:
        """The metadata of a task this view never saw start: the run's, ``ls_integration``,
        ``langgraph_step``, ``langgraph_node``."""
        return {
            "ls_integration": GRAPH_INTEGRATION,
            **self.run_metadata,
            "langgraph_step": event.step,
            "langgraph_node": event.node,
        }

    def run_started(self, event: RunStarted) -> Any:
        if not event.ns:  # a subgraph's run carries its node's metadata, not the run's
            self.run_metadata = event.metadata
        return SKIP

    def task_started(self, event: TaskStarted) -> Any:
        seen = self.seen
        for message in _messages_in(event.input):
            if message.id is not None:
                seen.add(message.id)
        self.tasks[event.task_id] = task_metadata(event.metadata or self.run_metadata, event, GRAPH_INTEGRATION)
        return SKIP

    def task_failed(self, event: TaskFailed) -> Any:
        self.tasks.pop(event.task_id, None)
        return SKIP

    def task_finished(self, event: TaskFinished) -> Any:
        metadata = self.tasks.pop(event.task_id, None)
        if metadata is None:  # this view attached after the task started
            metadata = self.node_fallback(event)
        if event.sent_up:  # the node returned nothing itself: LangGraph's messages mode shows nothing for it
            return SKIP
        out = []
        seen = self.seen
        found = _messages_in(event.result) if event.output is None else _messages_returned(event.output)
        for message in found:
            mid = message.id
            if mid is None or mid not in seen:
                if mid is not None:
                    seen.add(mid)
                out.append((message, metadata))
        if not out:
            return SKIP
        return out[0] if len(out) == 1 else Chunks(tuple(out))

    def model_started(self, event: ChatModelStarted) -> Any:
        self.calls[event.call_id] = model_call_metadata(
            event.metadata,
            task_checkpoint_ns=checkpoint_ns(event.ns, event.node or "", event.task_id),
            tags=event.tags,
            provider=event.provider,
            model_name=event.model_name,
        )
        return SKIP

    def unseen_call(self, event: ChatModelToken | ChatModelFinished) -> dict[str, Any]:
        """The metadata of a model call this view never saw start (see the class docstring)."""
        node = self.tasks.get(event.task_id)
        out = dict(node if node is not None else self.node_fallback(event))
        tags = user_tags(event.tags)
        if tags:
            out["tags"] = tags
        return out

    def token(self, event: ChatModelToken) -> Any:
        chunk = event.chunk
        mid = chunk.id
        if mid != self.last_id:
            self.last_id = mid
            self.seen.add(mid)
        metadata = self.calls.get(event.call_id)
        if metadata is None:  # remembered for the call's next chunks
            metadata = self.calls[event.call_id] = self.unseen_call(event)
        return (chunk, metadata)

    def model_finished(self, event: ChatModelFinished) -> Any:
        metadata = self.calls.pop(event.call_id, None)
        message = event.message
        if message is None or NOSTREAM in event.tags or message.id in self.seen:
            return SKIP
        if isinstance(message, AIMessageChunk):
            message = message.to_message()
        self.seen.add(message.id)
        return (message, metadata if metadata is not None else self.unseen_call(event))


register_mode(Mode("values", {StateValues: lambda e: e.values, Interrupted: _interrupt_values}))


def _update(event: StateUpdate) -> dict[Any, Any]:
    if event.cached:
        return {event.node: event.update, "__metadata__": {"cached": True}}
    return {event.node: event.update}


register_mode(Mode("updates", {StateUpdate: _update, Interrupted: _interrupt_update}))
register_mode(Mode("custom", {CustomData: lambda e: e.data if e.audience is None else SKIP}))
register_mode(Mode("messages", state=MessagesModeState))
register_mode(
    Mode(
        "tools",
        {
            ToolStarted: lambda e: {
                "event": "tool-started",
                "tool_call_id": e.tool_call_id,
                "tool_name": e.name,
                "input": e.input,
            },
            CustomData: lambda e: (
                SKIP
                if e.tool_call_id is None
                else {"event": "tool-output-delta", "tool_call_id": e.tool_call_id, "delta": e.data}
            ),
            ToolFinished: lambda e: {"event": "tool-finished", "tool_call_id": e.tool_call_id, "output": e.output},
            ToolFailed: lambda e: {"event": "tool-error", "tool_call_id": e.tool_call_id, "message": e.error_message},
        },
    )
)
register_mode(Mode("checkpoints", {CheckpointSaved: _checkpoint}))
register_mode(
    Mode(
        "tasks",
        {TaskFailed: _task_error, Interrupted: _interrupt_result},
        state=TasksModeState,
    )
)
register_mode(
    Mode(
        "debug",
        {
            TaskFailed: _debug("task_result", _task_error),
            Interrupted: _interrupt_debug,
            CheckpointSaved: _debug("checkpoint", _checkpoint),
        },
        state=DebugModeState,
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


def _v2_part(mode: str, ns: tuple[str, ...], chunk: Any) -> dict[str, Any]:
    """A v2 stream part: ``{"type", "ns", "data"}``, and for ``values`` ``"interrupts"`` (the interrupts a v1
    chunk holds under ``"__interrupt__"``, taken out of ``data``; ``()`` for none), as LangGraph 1.2's."""
    if mode != "values":
        return {"type": mode, "ns": ns, "data": chunk}
    if isinstance(chunk, dict) and INTERRUPT_KEY in chunk:
        data = {key: value for key, value in chunk.items() if key != INTERRUPT_KEY}
        return {"type": mode, "ns": ns, "data": data, "interrupts": tuple(chunk[INTERRUPT_KEY])}
    return {"type": mode, "ns": ns, "data": chunk, "interrupts": ()}


INTERRUPT_KEY = "__interrupt__"
"""The key of the interrupts in an ``updates`` or v1 ``values`` chunk (LangGraph's)."""


_EMIT_ORDER: Final = {"updates": 0, "values": 1, "checkpoints": 2, "tasks": 3, "debug": 4}
"""The order LangGraph gives the chunks one moment of a run makes in several modes, whatever the order of
``stream_mode``: a task's ``updates`` chunk before its ``tasks`` result, an interrupt's ``updates`` chunk
before its ``values`` chunk, a ``checkpoints`` or ``tasks`` chunk before its ``debug`` twin. Other modes
follow, in the order given."""


_START_NODE = "__start__"


def _built_or_as_is(schema: type[Any], values: Any) -> Any:
    """``schema(**values)``, or ``values`` themselves when they are no dict or do not make one."""
    if not isinstance(values, dict):
        return values
    try:
        return schema(**values)
    except Exception:  # a partial state (a subgraph's, the input's before defaults apply) stays a dict
        return values


@attrs.frozen
class StateCoercion:
    """How v2 parts show the state of a graph whose schemas are dataclasses or pydantic models, as LangGraph
    1.2's type-safe v2 streams do: a ``values`` part's ``data`` as an instance of the output schema, the
    ``values`` of a ``checkpoints`` part (and of a ``debug`` checkpoint record) as one of the state schema,
    except the first checkpoint of a run (its ``next`` holds ``__start__``). Values that do not make an
    instance (a subgraph's, a state missing a required key) stay the dict, where LangGraph would raise.
    """

    output: type[Any] | None
    """The output schema, when it is a dataclass or pydantic model."""
    state: type[Any] | None
    """The state schema, when it is a dataclass or pydantic model."""

    def value(self, values: Any) -> Any:
        """A run's output or a ``values`` part's data, as an instance of the output schema."""
        return values if self.output is None else _built_or_as_is(self.output, values)

    def checkpoint(self, payload: Any) -> Any:
        """A ``checkpoints`` chunk or ``debug`` record with its ``values`` made an instance of the state schema
        (a new dict; ``payload`` itself is shared by other views and left as it is)."""
        if self.state is None or not isinstance(payload, dict):
            return payload
        if payload.get("type") == "checkpoint" and isinstance(payload.get("payload"), dict):
            inner = self.checkpoint(payload["payload"])
            return payload if inner is payload["payload"] else {**payload, "payload": inner}
        values = payload.get("values")
        if not isinstance(values, dict) or _START_NODE in (payload.get("next") or ()):
            return payload
        return {**payload, "values": _built_or_as_is(self.state, values)}

    def shaper(self, shape: Shaper) -> Shaper:
        """``shape`` (a v2 part maker) with the part's state shown as above."""

        def coerced(mode: str, ns: tuple[str, ...], chunk: Any) -> Any:
            part = shape(mode, ns, chunk)
            if mode == "values":
                part["data"] = self.value(part["data"])
            elif mode == "checkpoints" or mode == "debug":
                part["data"] = self.checkpoint(part["data"])
            return part

        return coerced


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
    coercion: StateCoercion | None = None
    """For ``v2``: how parts show a dataclass or pydantic state (None: as dicts)."""

    @classmethod
    def parse(
        cls,
        stream_mode: str | Sequence[str],
        subgraphs: bool = False,
        version: str = "v1",
        coercion: StateCoercion | None = None,
    ) -> ViewSpec:
        """Check and normalise the arguments of ``stream()``/``astream()``; ``coercion`` (a graph's) applies to
        ``v2`` parts only. The spec made before for the same arguments is reused when ``stream_mode`` is a
        string (a spec is immutable)."""
        if version != "v2":
            coercion = None
        plain = stream_mode.__class__ is str and version.__class__ is str and cls is ViewSpec
        key = (stream_mode, bool(subgraphs), version, coercion) if plain else None
        if key is not None:
            found = _PARSED.get(key)
            if found is not None:
                return found
        if version not in STREAM_VERSIONS:
            raise UnknownStreamModeError(
                f"unknown stream version {version!r}; valid versions: {', '.join(STREAM_VERSIONS)}"
            )
        names, single = _mode_names(stream_mode)
        spec = cls(names, single, bool(subgraphs), version, coercion)
        if key is not None:
            if len(_PARSED) >= _PARSED_KEPT:
                _PARSED.clear()
            _PARSED[key] = spec
        return spec

    @property
    def identity(self) -> bool:
        """Whether output items are the chunks themselves (one mode, ``v1``, no subgraphs)."""
        return self.single and self.version == "v1" and not self.subgraphs

    @property
    def kinds(self) -> frozenset[type[Event]]:
        """Every event class some selected mode takes."""
        key = self.modes
        found = _KINDS_OF_MODES.get(key)
        if found is None:
            out: set[type[Event]] = set()
            for name in self.modes:
                out |= MODES[name].kinds
            found = _KINDS_OF_MODES[key] = frozenset(out)
        return found

    def table(self) -> dict[type[Event], tuple[tuple[str, Projection], ...]]:
        """Event class -> the ``(mode, projection)`` pairs that apply, in mode order. Each call binds fresh
        state for stateful modes: call it once per view."""
        table: dict[type[Event], tuple[tuple[str, Projection], ...]] = {}
        for name in self.modes:
            for kind, project in MODES[name].bind().items():
                table[kind] = (*table.get(kind, ()), (name, project))
        last = len(_EMIT_ORDER)
        for kind, pairs in table.items():
            if len(pairs) > 1:
                table[kind] = tuple(sorted(pairs, key=lambda pair: _EMIT_ORDER.get(pair[0], last)))
        return table

    def shaper(self) -> Shaper:
        """The function ``(mode, ns, chunk) -> output item`` for this spec."""
        if self.version == "v2":
            # LangGraph 1.2's values parts carry the interrupts apart from the state: a v1 chunk's "__interrupt__"
            return _v2_part if self.coercion is None else self.coercion.shaper(_v2_part)
        if self.subgraphs:
            if self.single:
                return lambda mode, ns, chunk: (ns, chunk)
            return lambda mode, ns, chunk: (ns, mode, chunk)
        if self.single:
            return lambda mode, ns, chunk: chunk
        return lambda mode, ns, chunk: (mode, chunk)

    def items(self, events: Iterable[Event]) -> Iterable[Any]:
        """Project a finished sequence of events (tests, replays) into output items, as a view of a run
        with these events would (events of subgraphs skipped unless ``subgraphs``)."""
        project = Projector(self.table(), self.shaper(), self.identity).project
        out: list[Any] = []
        for event in events:
            if not self.subgraphs and event.ns:
                continue
            project(event, out)
            yield from out
            out.clear()


class Projector:
    """The step that turns one event into a view's output items: the projections of the modes that take
    its kind (``table``, in mode order), each chunk wrapped by ``shape``. Built once per view (so a mode
    with state sees that view's events in order); every view, the SSE encoder and :meth:`ViewSpec.items`
    use it.

    :param table: event class -> ``(mode, projection)`` pairs (a spec's ``table()``, bound for this view)
    :param shape: ``(mode, ns, chunk) -> item`` (a spec's ``shaper()``)
    :param identity: True when ``shape`` returns the chunk itself (it is then skipped for single chunks)
    """

    __slots__ = ("_identity", "_shape", "_table")

    def __init__(
        self,
        table: Mapping[type[Event], tuple[tuple[str, Projection], ...]],
        shape: Shaper,
        identity: bool = False,
    ) -> None:
        self._table = table
        self._shape = shape
        self._identity = identity

    def project(self, event: Event, out: list[Any] | deque[Any]) -> None:
        """Append the output items ``event`` yields to ``out``, in order (none for a kind no mode takes, or
        a chunk a projection skipped). Hot paths keep this bound method and call it directly."""
        entries = self._table.get(event.__class__)
        if entries is None:
            return
        for mode, project in entries:
            chunk = project(event)
            if chunk is SKIP:
                continue
            if chunk.__class__ is Chunks:
                shape = self._shape
                ns = event.ns
                out.extend([shape(mode, ns, item) for item in chunk.items])
            elif self._identity:
                out.append(chunk)
            else:
                out.append(self._shape(mode, event.ns, chunk))

    def project_many(self, events: Iterable[Event], out: list[Any]) -> None:
        """:meth:`project` each of ``events`` in turn into ``out`` (the same items; one call for a batch, and
        one table look-up per run of events of one class)."""
        table = self._table
        identity = self._identity
        kind: type[Event] | None = None
        entries: tuple[tuple[str, Projection], ...] | None = None
        only: Projection | None = None  # the one projection of ``kind``, when its chunks are the items
        for event in events:
            if event.__class__ is not kind:
                kind = event.__class__
                entries = table.get(kind)
                only = entries[0][1] if entries is not None and identity and len(entries) == 1 else None
            if only is not None:
                chunk = only(event)
                if chunk is SKIP:
                    continue
                if chunk.__class__ is not Chunks:
                    out.append(chunk)
                    continue
                assert entries is not None
                shape = self._shape
                mode = entries[0][0]
                out.extend([shape(mode, event.ns, item) for item in chunk.items])
            elif entries is not None:
                self.project(event, out)

    def prime(self, event: Event) -> None:
        """Run ``event`` through the projections and keep nothing: a mode with state learns of an event its
        consumer already has (a view resumed after it)."""
        for _mode, project in self._table.get(event.__class__, ()):
            project(event)
