"""The event vocabulary: what a run writes onto its channel.

Layer 1 of the library: plain values, no I/O and no asyncio. Every event carries the same routing fields
(:class:`Event`) and a few fields of its own kind. A run publishes them; stream modes, ``astream_events``,
loggers and wire transports are views of them.

Events are slotted attrs classes built with keyword arguments. They are values: once the channel has
stamped ``run_id`` and ``seq`` at publish time, nothing changes them again (derive a new one with
``attrs.evolve``). They are not ``frozen=True`` because a frozen attrs class costs about 2.5 times as much
to build (``benchmarks/`` measures it as ``event_build``), and an event is built on every hot path.

Every event has a lossless dict form tagged with ``type`` (:meth:`Event.to_dict`, :func:`from_dict`): the
tuple fields (``ns``, ``tags``, ``triggers``) become lists so the dict survives JSON, and come back as
tuples. Payload fields (``data``, ``input``, ``values`` ...) are carried as they are.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar

import attrs

from .errors import UnknownEventKindError

__all__ = [
    "KINDS",
    "TERMINAL_KINDS",
    "ChatModelFinished",
    "CheckpointSaved",
    "ChatModelStarted",
    "ChatModelToken",
    "CustomData",
    "CustomEvent",
    "Event",
    "Interrupted",
    "Resumed",
    "RunCancelled",
    "RunFailed",
    "RunFinished",
    "RunChunk",
    "RunStarted",
    "RunTakenOver",
    "RunnableChunk",
    "RunnableFinished",
    "RunnableStarted",
    "StateUpdate",
    "StateValues",
    "TaskFailed",
    "TaskFinished",
    "TaskStarted",
    "ToolFailed",
    "ToolFinished",
    "ToolStarted",
    "error_type_name",
    "from_dict",
    "kind_of",
]

EMPTY_METADATA: Mapping[str, Any] = MappingProxyType({})


@attrs.define(slots=True, kw_only=True, weakref_slot=False)
class Event:
    """Routing fields shared by every event. Not published itself: publish one of its subclasses."""

    kind: ClassVar[str] = "event"
    """The ``type`` tag of this class in the dict form."""
    terminal: ClassVar[bool] = False
    """True for the events that end a run; they reach every subscriber whatever its filter."""
    tuple_fields: ClassVar[tuple[str, ...]] = ("ns", "tags")
    """Fields held as tuples, written as lists in the dict form."""

    run_id: str = ""
    """Id of the run this event belongs to; stamped by the channel when it is published."""
    seq: int = 0
    """Position in the run's total order: 1 for the first event, gap-free and strictly increasing.
    Stamped by the channel when the event is published; 0 before that."""
    ts: float = attrs.field(factory=time.time)
    """Wall-clock time the event was built, in seconds since the epoch."""
    ns: tuple[str, ...] = ()
    """Namespace path: ``()`` for the root graph, ``("node_2:<task id>",)`` inside a subgraph (LangGraph's form)."""
    node: str | None = None
    """Name of the graph node that produced the event, or None outside a node."""
    step: int | None = None
    """Superstep number (0 for the input step, 1 for the first nodes), or None outside a step."""
    task_id: str | None = None
    """Id of the task (one node execution in one step) that produced the event, or None."""
    tags: tuple[str, ...] = ()
    """Tags of the run, node, model or tool that produced the event."""
    metadata: Mapping[str, Any] = EMPTY_METADATA
    """The run's ``config["metadata"]`` on :class:`RunStarted`; on the events that begin something inside a
    task (:class:`ChatModelStarted`, :class:`ToolStarted`, :class:`CustomEvent`), the metadata of the task's
    node (what its ``config["metadata"]`` holds: the run's plus LangGraph's ``langgraph_*`` keys); a
    checkpoint's on :class:`CheckpointSaved`; empty on the others, whose views find it from those events, except
    :class:`TaskStarted` of a graph run inside a node whose call gave metadata of its own: that run's metadata
    (the parent's merged with the call's)."""

    def to_dict(self) -> dict[str, Any]:
        """Return the lossless dict form: ``{"type": <kind>, <field>: <value>, ...}``.

        Tuple fields are written as lists; everything else is carried as it is.
        """
        out: dict[str, Any] = {"type": self.kind}
        tuples = self.tuple_fields
        for a in attrs.fields(type(self)):
            value = getattr(self, a.name)
            if a.name in tuples:
                value = list(value)
            elif a.name == "metadata":
                value = dict(value)
            out[a.name] = value
        return out


_E = TypeVar("_E", bound=Event)

KINDS: dict[str, type[Event]] = {}
"""Every published event class by its ``type`` tag."""
_CLASSES: set[type[Event]] = set()
"""The classes of :data:`KINDS` (a set: :func:`kind_of` looks a class up without a scan)."""
TERMINAL_KINDS: set[type[Event]] = set()
"""The classes of :data:`KINDS` that end a run (``terminal``): every subscriber takes them."""


def _kind(tag: str, *, terminal: bool = False) -> Any:
    def register(cls: type[_E]) -> type[_E]:
        cls.kind = tag
        cls.terminal = terminal
        KINDS[tag] = cls
        _CLASSES.add(cls)
        if terminal:
            TERMINAL_KINDS.add(cls)
        return cls

    return register


def kind_of(kind: str | type[Event]) -> type[Event]:
    """Return the event class for a ``type`` tag or class.

    :raises UnknownEventKindError: when ``kind`` is neither a known tag nor a published event class
    """
    if isinstance(kind, type) and kind in _CLASSES:
        return kind
    if isinstance(kind, str) and kind in KINDS:
        return KINDS[kind]
    raise UnknownEventKindError(f"unknown event kind {kind!r}; known kinds: {', '.join(sorted(KINDS))}")


def error_type_name(exc: BaseException) -> str:
    """The ``error_type`` field for ``exc``: its class's qualified name, e.g. ``"builtins.ValueError"``."""
    cls = type(exc)
    return f"{cls.__module__}.{cls.__qualname__}"


def from_dict(data: Mapping[str, Any]) -> Event:
    """Rebuild an event from its dict form (the inverse of :meth:`Event.to_dict`).

    :raises UnknownEventKindError: when ``data["type"]`` is missing or not a known kind
    :raises TypeError: when a field does not belong to that kind
    """
    fields = dict(data)
    cls = kind_of(fields.pop("type", "<missing>"))
    for name in cls.tuple_fields:
        if name in fields:
            fields[name] = tuple(fields[name])
    if "metadata" in fields:
        fields["metadata"] = MappingProxyType(dict(fields["metadata"]))
    return cls(**fields)


# -- the run ---------------------------------------------------------------------------------------


@_kind("run_started")
@attrs.define(slots=True, kw_only=True, weakref_slot=False)
class RunStarted(Event):
    """A run began."""

    name: str = ""
    """Name of the graph (``compile(name=...)``), or of the Runnable a chain run runs (its ``run_name``)."""
    input: Any = None
    """The input the run was started with."""
    run_type: str = "chain"
    """LangChain's run type of what the run runs: ``"chain"`` for a graph or a chain, ``"prompt"``,
    ``"parser"``... for a Runnable of that kind (``astream_events`` names its events ``on_<run_type>_*``)."""
    streams: bool = True
    """False when the Runnable answers whole (a string LLM without streaming): its one ``RunChunk`` is the
    answer, not a token, and ``astream_events`` shows no ``on_llm_stream`` for it, as LangChain's."""


@_kind("run_taken_over")
@attrs.define(slots=True, kw_only=True, weakref_slot=False)
class RunTakenOver(Event):
    """The run's worker stopped (it died, or lost its lease) and another worker took the run over: the run's
    events go on after ``previous_seq``, the last one the stopped worker wrote. It opens the events the new
    worker writes, in place of a second :class:`RunStarted`.

    The new worker resumes from the newest checkpoint the run saved whose ``CheckpointSaved`` event reached
    the stream: the supersteps after ``checkpoint_step`` run again (all of them when ``checkpoint_id`` is
    None: the run starts again from its input).
    """

    name: str = ""
    """Name of the graph."""
    previous_seq: int = 0
    """``seq`` of the last event the stopped worker wrote (events)."""
    checkpoint_id: str | None = None
    """The checkpoint the run resumed from, or None when the run had saved none (it started again)."""
    checkpoint_step: int | None = None
    """The superstep of that checkpoint (LangGraph's ``metadata["step"]``), or None; later steps run again."""
    attempt: int = 2
    """Which execution of the run this is (executions): 2 for the first takeover."""
    worker: str = ""
    """The name of the worker that took the run over (its consumer name)."""


@_kind("run_chunk")
@attrs.define(slots=True, kw_only=True, weakref_slot=False)
class RunChunk(Event):
    """One chunk of the output of a Runnable run, as ``astream()`` yields it (graph runs stream through their
    stream modes instead)."""

    chunk: Any = None
    """The output chunk."""


@_kind("run_finished", terminal=True)
@attrs.define(slots=True, kw_only=True, weakref_slot=False)
class RunFinished(Event):
    """A run ended normally. Always the last event of such a run."""

    output: Any = None
    """The final state (what ``invoke()`` returns)."""


@_kind("run_failed", terminal=True)
@attrs.define(slots=True, kw_only=True, weakref_slot=False)
class RunFailed(Event):
    """A run ended with an exception. Always the last event of such a run."""

    error_type: str = ""
    """Qualified name of the exception's class, e.g. ``"builtins.ValueError"``."""
    error_message: str = ""
    """``str()`` of the exception."""


@_kind("run_cancelled", terminal=True)
@attrs.define(slots=True, kw_only=True, weakref_slot=False)
class RunCancelled(Event):
    """A run was cancelled (by its caller, a consumer breaking out, or ``cancel()``). Always its last event."""

    reason: str = ""
    """Why the run was cancelled, in words."""


# -- tasks and state -------------------------------------------------------------------------------


@_kind("task_started")
@attrs.define(slots=True, kw_only=True, weakref_slot=False)
class TaskStarted(Event):
    """A task (one node in one superstep) started. ``node``, ``step`` and ``task_id`` say which."""

    tuple_fields: ClassVar[tuple[str, ...]] = ("ns", "tags", "triggers", "path")
    input: Any = None
    """The input the node was called with (the state, or a ``Send`` argument)."""
    triggers: tuple[str, ...] = ()
    """What triggered the task, in LangGraph 1.2's words (``("branch:to:node",)``, ``("__pregel_push",)``...)."""
    path: tuple[Any, ...] = ()
    """LangGraph's task path (its ``langgraph_path``): ``("__pregel_pull", <node>)``, or
    ``("__pregel_push", <index of the Send among the step's sends>)`` for a task started by a ``Send``."""


@_kind("task_finished")
@attrs.define(slots=True, kw_only=True, weakref_slot=False)
class TaskFinished(Event):
    """A task finished: its node returned (published before the task's :class:`StateUpdate`, as LangGraph's
    node run ends before its writes are applied); ``result`` is the update it returned (after validation)."""

    result: Any = None
    """The node's update as a mapping of state keys to values, or None for no update."""
    output: Any = None
    """What the node returned when it was not a plain update: a ``Command``, or a list holding one, as it
    returned it (LangGraph's views of a node's run show that: ``astream_events``' ``on_chain_end`` output, the
    messages ``messages`` mode finds); None otherwise."""
    sent_up: bool = False
    """The update is a ``Command(graph=Command.PARENT)`` that a graph the node ran sent up to this graph: the
    node itself returned nothing (in LangGraph its run ends with the command as an error, so the node's own
    views, ``astream_events``' ``on_chain_end`` and the ``messages`` mode, show no output for it)."""


@_kind("task_failed")
@attrs.define(slots=True, kw_only=True, weakref_slot=False)
class TaskFailed(Event):
    """A task raised. The run fails with the same exception unless it was cancelled first."""

    error_type: str = ""
    """Qualified name of the exception's class."""
    error_message: str = ""
    """``str()`` of the exception."""


@_kind("state_values")
@attrs.define(slots=True, kw_only=True, weakref_slot=False)
class StateValues(Event):
    """The whole state: the input at step 0, then the state after each superstep."""

    values: Any = None
    """The state as a mapping of keys to values (a dataclass schema is carried as its instance)."""


@_kind("checkpoint_saved")
@attrs.define(slots=True, kw_only=True, weakref_slot=False)
class CheckpointSaved(Event):
    """A graph with a checkpointer saved a checkpoint (``step`` is the checkpoint's: -1 for a new thread's
    input checkpoint, then one per superstep). The fields are LangGraph 1.2's ``checkpoints`` chunk, with
    ``metadata`` holding the checkpoint's ``source`` (``"input"``, ``"loop"``), ``step`` and ``parents``."""

    config: Any = None
    """The config addressing the checkpoint: ``{"configurable": {"thread_id", "checkpoint_ns",
    "checkpoint_id"}}``."""
    parent_config: Any = None
    """The config of the checkpoint before it on the thread, or None for the thread's first."""
    values: Any = None
    """The state the checkpoint holds, as a ``values`` chunk shows it."""
    next: list[str] = attrs.field(factory=list)
    """The nodes of the tasks that run next."""
    tasks: list[dict[str, Any]] = attrs.field(factory=list)
    """Those tasks: ``{"id", "name", "interrupts", "state"}`` each (``{"id", "name", "error", "state"}`` for a
    task that failed, when a resumed run streams the checkpoint it resumes from, as LangGraph does)."""


@_kind("interrupted")
@attrs.define(slots=True, kw_only=True, weakref_slot=False)
class Interrupted(Event):
    """A task called ``interrupt()`` without an answer (or, with ``interrupts`` empty, the run stopped at an
    ``interrupt_before``/``interrupt_after`` breakpoint, ``node`` then naming the node): the run pauses after
    its step. The ``updates`` mode shows it as LangGraph 1.2's ``{"__interrupt__": (Interrupt(...),)}``
    chunk, ``values`` as the state with ``"__interrupt__"`` (v2: the part's ``interrupts``)."""

    interrupts: list[dict[str, Any]] = attrs.field(factory=list)
    """Each interrupt as ``{"value", "id"}``: what the node asked, and the id a resume answers it by."""
    values: Any = None
    """The state the interrupted step started from, as a ``values`` chunk shows it."""


@_kind("resumed")
@attrs.define(slots=True, kw_only=True, weakref_slot=False)
class Resumed(Event):
    """A run on a thread started from ``Command(resume=...)``: it answers the interrupts the thread waits
    on (published once, before the resumed tasks run again)."""

    resume: Any = None
    """The resume value, or the map of values by interrupt id."""


@_kind("state_update")
@attrs.define(slots=True, kw_only=True, weakref_slot=False)
class StateUpdate(Event):
    """The update one task wrote to the state (``node`` names the task's node), published after the task's
    :class:`TaskFinished` (none for a task whose writes were saved before: see ``cached``)."""

    update: Any = None
    """The update as returned by the node: a mapping of state keys to values."""
    cached: bool = False
    """True when the task did not run: its writes were saved before (a resumed run applies a finished
    task's pending writes, and streams them as LangGraph does, its ``updates`` chunk marked
    ``"__metadata__": {"cached": True}``)."""


@_kind("custom_data")
@attrs.define(slots=True, kw_only=True, weakref_slot=False)
class CustomData(Event):
    """Data a node or tool gave to its stream writer (``get_stream_writer()``)."""

    data: Any = None
    """Whatever the writer was called with."""
    tool_call_id: str | None = None
    """``tool_call_id`` of the tool call whose tool wrote this (see :class:`ToolStarted`), or None when the
    node itself wrote it. The ``tools`` stream mode shows such data as the tool's output deltas."""
    audience: str | None = None
    """Id of the one stream that shows this data in its ``custom`` mode, or None for every stream: a graph
    streamed inside a node with ``custom`` among its own modes keeps its custom data to that stream, as
    LangGraph does."""

    @classmethod
    def of_writer(
        cls,
        ns: tuple[str, ...],
        node: str | None,
        step: int | None,
        task_id: str | None,
        tags: tuple[str, ...],
        data: Any,
        tool_call_id: str | None,
        audience: str | None = None,
    ) -> CustomData:
        """The same event as ``CustomData(ns=..., ..., data=..., tool_call_id=...)``, made without keyword
        arguments: a stream writer makes one per call, and calling a class with keywords costs about twice
        as much here. The other fields take their defaults (``ts`` is now)."""
        event = _new(cls)
        event.run_id = ""
        event.seq = 0
        event.ts = _now()
        event.ns = ns
        event.node = node
        event.step = step
        event.task_id = task_id
        event.tags = tags
        event.metadata = EMPTY_METADATA
        event.data = data
        event.tool_call_id = tool_call_id
        event.audience = audience
        return event


_new = object.__new__
_now = time.time


@_kind("custom_event")
@attrs.define(slots=True, kw_only=True, weakref_slot=False)
class CustomEvent(Event):
    """A named custom event dispatched by a node, tool or model (LangChain's ``dispatch_custom_event``).

    Distinct from :class:`CustomData`: this is what ``astream_events`` shows as ``on_custom_event``, while
    stream-writer data feeds the ``custom`` stream mode (LangGraph keeps the two apart the same way).
    """

    tuple_fields: ClassVar[tuple[str, ...]] = ("ns", "tags", "parent_ids")
    name: str = ""
    """Name of the custom event, chosen by the code that dispatched it."""
    data: Any = None
    """The event's payload."""
    parent_ids: tuple[str, ...] = ()
    """Ids of the runs enclosing the dispatch, outermost first: the graph run, the task, and the tool call
    when dispatched inside a tool. The last one is the run the event belongs to in ``astream_events``."""


# -- Runnables inside a run ----------------------------------------------------------------------


@_kind("runnable_started")
@attrs.define(slots=True, kw_only=True, weakref_slot=False)
class RunnableStarted(Event):
    """A Runnable (a chain step, a prompt, a parser, a chain called inside a node...) began inside a run.
    ``tags`` and ``metadata`` are the call's, as LangChain gives them to its callbacks."""

    tuple_fields: ClassVar[tuple[str, ...]] = ("ns", "tags", "parent_ids")
    call_id: str = ""
    """Id of this call (a UUID); its chunks and its finish carry the same id."""
    name: str = ""
    """Name of the Runnable (``run_name``, its ``name``, or its class's)."""
    run_type: str = "chain"
    """LangChain's run type: ``"chain"``, ``"prompt"``, ``"parser"``..."""
    input: Any = None
    """The input, when the call was given it whole; None when it takes its input as a stream (see
    ``input_streamed``)."""
    input_streamed: bool = False
    """True when the call takes its input chunk by chunk (a step streaming in a sequence): the whole input
    is known at the end only, and comes with :class:`RunnableFinished`."""
    parent_ids: tuple[str, ...] = ()
    """Ids of the runs enclosing this call, outermost first (the run's ``run_id`` first)."""


@_kind("runnable_chunk")
@attrs.define(slots=True, kw_only=True, weakref_slot=False)
class RunnableChunk(Event):
    """One chunk of the output of a Runnable call that streams its output."""

    call_id: str = ""
    """Id of the call (as in its :class:`RunnableStarted`)."""
    chunk: Any = None
    """The output chunk."""


@_kind("runnable_finished")
@attrs.define(slots=True, kw_only=True, weakref_slot=False)
class RunnableFinished(Event):
    """A Runnable call ended (what it is: its :class:`RunnableStarted`, by ``call_id``)."""

    call_id: str = ""
    """Id of the call."""
    input: Any = None
    """The whole input (its chunks added up with ``+`` when it came as a stream)."""
    output: Any = None
    """The whole output (its chunks added up with ``+`` when it streamed); None when it failed."""
    error_type: str | None = None
    """Qualified exception class name when the call failed, else None."""
    error_message: str | None = None
    """``str()`` of the exception when the call failed, else None."""


# -- chat models and tools -------------------------------------------------------------------------


@_kind("chat_model_started")
@attrs.define(slots=True, kw_only=True, weakref_slot=False)
class ChatModelStarted(Event):
    """A chat model call began. It alone says what identifies the call; its tokens and finish carry only
    the routing fields and ``call_id`` (views keep what they need from this event, by ``call_id``).
    ``tags`` are the run's then the model's; ``metadata`` is the calling node's (see :attr:`Event.metadata`)."""

    tuple_fields: ClassVar[tuple[str, ...]] = ("ns", "tags", "parent_ids")
    call_id: str = ""
    """Id of this model call; its tokens and its finish carry the same id."""
    name: str = ""
    """Name of the model (its class name unless set)."""
    model_name: str = ""
    """Provider's model name, e.g. ``"gemma-3-270m"`` (LangChain's ``ls_model_name``)."""
    provider: str = ""
    """Provider name, e.g. ``"openai"`` (LangChain's ``ls_provider``)."""
    messages: Any = None
    """The input messages."""
    parent_ids: tuple[str, ...] = ()
    """Ids of the runs enclosing this call, outermost first: the graph run's ``run_id``, the ``task_id`` of
    each enclosing subgraph task and of the calling task, and the ``call_id`` of an enclosing tool call
    (LangChain's ``parent_ids`` in ``astream_events`` v2)."""
    streamed: bool = True
    """False when the call carries the ``nostream`` tag, or does not stream (a model with
    ``disable_streaming``, or one that only answers whole): no token events follow."""


@_kind("chat_model_token")
@attrs.define(slots=True, kw_only=True, weakref_slot=False)
class ChatModelToken(Event):
    """One chunk of a streaming chat model's output. What the call is (model, provider, node metadata) is
    said once, by the call's :class:`ChatModelStarted` with the same ``call_id``."""

    call_id: str = ""
    """Id of the model call this chunk belongs to."""
    chunk: Any = None
    """The message chunk (an ``AIMessageChunk``)."""

    @classmethod
    def of_call(
        cls,
        ns: tuple[str, ...],
        node: str | None,
        step: int | None,
        task_id: str | None,
        tags: tuple[str, ...],
        call_id: str,
        chunk: Any,
    ) -> ChatModelToken:
        """The same event as ``ChatModelToken(ns=..., ..., call_id=..., chunk=...)``, made without keyword
        arguments: a model call makes one per chunk (see :meth:`CustomData.of_writer`). The other fields
        take their defaults (``ts`` is now)."""
        event = _new(cls)
        event.run_id = ""
        event.seq = 0
        event.ts = _now()
        event.ns = ns
        event.node = node
        event.step = step
        event.task_id = task_id
        event.tags = tags
        event.metadata = EMPTY_METADATA
        event.call_id = call_id
        event.chunk = chunk
        return event


@_kind("chat_model_finished")
@attrs.define(slots=True, kw_only=True, weakref_slot=False)
class ChatModelFinished(Event):
    """A chat model call finished (what the call is: its :class:`ChatModelStarted`, by ``call_id``)."""

    call_id: str = ""
    """Id of the model call."""
    message: Any = None
    """The whole output message, as LangChain's ``on_chat_model_end`` has it: the chunks added up (an
    ``AIMessageChunk``) for a streamed call (``astream``, or a chain streaming through the model), else
    the ``AIMessage``."""
    error_type: str | None = None
    """Qualified exception class name when the call failed, else None."""
    error_message: str | None = None
    """``str()`` of the exception when the call failed, else None."""


@_kind("tool_started")
@attrs.define(slots=True, kw_only=True, weakref_slot=False)
class ToolStarted(Event):
    """A tool call began."""

    tuple_fields: ClassVar[tuple[str, ...]] = ("ns", "tags", "parent_ids")
    call_id: str = ""
    """Id of this tool call, new for every call (a UUID); its finish or failure carries the same id."""
    tool_call_id: str = ""
    """Id the model gave the tool call (``ToolCall["id"]``), or ``call_id`` when the tool was called
    without one (LangGraph's ``tool_call_id`` in the ``tools`` stream mode)."""
    name: str = ""
    """Name of the tool."""
    input: Any = None
    """The arguments, as a mapping."""
    parent_ids: tuple[str, ...] = ()
    """Ids of the runs enclosing this call, outermost first: the graph run's ``run_id``, the ``task_id`` of
    each enclosing subgraph task and of the calling task, and the ``call_id`` of an enclosing tool call."""


@_kind("tool_finished")
@attrs.define(slots=True, kw_only=True, weakref_slot=False)
class ToolFinished(Event):
    """A tool call returned."""

    call_id: str = ""
    """Id of the tool call (as in its :class:`ToolStarted`)."""
    tool_call_id: str = ""
    """The model's id of the tool call (as in its :class:`ToolStarted`)."""
    name: str = ""
    """Name of the tool."""
    output: Any = None
    """What the tool returned."""


@_kind("tool_failed")
@attrs.define(slots=True, kw_only=True, weakref_slot=False)
class ToolFailed(Event):
    """A tool call raised (or its arguments failed the tool's schema)."""

    call_id: str = ""
    """Id of the tool call (as in its :class:`ToolStarted`)."""
    tool_call_id: str = ""
    """The model's id of the tool call (as in its :class:`ToolStarted`)."""
    name: str = ""
    """Name of the tool."""
    error_type: str = ""
    """Qualified name of the exception's class."""
    error_message: str = ""
    """``str()`` of the exception."""
