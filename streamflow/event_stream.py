"""``astream_events`` v2 and v1: LangChain's event dicts, as one more view of a run's channel.

Layer 3. :class:`EventStreamSpec` holds the ``version`` and the include/exclude filters of
``astream_events`` and turns the run's typed events into LangChain's v2 dicts::

    {"event": str, "data": dict, "name": str, "tags": [str, ...], "run_id": str, "metadata": dict,
     "parent_ids": [str, ...]}

with their keys in LangChain's order (a start's as above; an end's, and a model token's inside a run,
``event, data, run_id, name, ...``; a Runnable's output chunk's and a custom event's ``event, run_id,
name, tags, metadata, data, parent_ids``), so a printed event reads as LangChain's.

Nothing in the runtime formats these: a view made from this spec subscribes to the kinds it needs and
projects them, remembering per view what each run started with (its name, tags, metadata, input).

Who is a "run" here, and its ``run_id`` and ``parent_ids`` (ids outermost first, the root's are ``[]``):

=====================  ===============================  ====================================================
run                    ``run_id``                       events (``data`` keys)
=====================  ===============================  ====================================================
the graph (root)       the run's ``run_id``             ``on_chain_start`` (``input``), ``on_chain_stream``
                                                        (``chunk``: ``{node: update}`` after each root-level
                                                        node), ``on_chain_end`` (``output``: final state)
a node (one task)      the task's ``task_id``           ``on_chain_start`` (``input``: the node's input),
                                                        ``on_chain_stream`` (``chunk``: its update, when not
                                                        None), ``on_chain_end`` (``output``, ``input``)
a chat model call      the call's ``call_id``           ``on_chat_model_start`` (``input``:
                                                        ``{"messages": [[message, ...]]}``),
                                                        ``on_chat_model_stream`` (``chunk``: an
                                                        ``AIMessageChunk``), ``on_chat_model_end``
                                                        (``output``: the ``AIMessage``, or the chunks'
                                                        ``AIMessageChunk`` sum for ``astream``, ``input``)
a tool call            the call's ``call_id``           ``on_tool_start`` (``input``: the arguments),
                                                        ``on_tool_end`` (``output``: its ``ToolMessage`` under
                                                        ``ToolNode``, else what the tool returned,
                                                        ``input``), ``on_tool_error`` (``error``: the message,
                                                        ``error_type``: the class's qualified name,
                                                        ``input``, ``tool_call_id``)
a custom event         the enclosing task or tool call  ``on_custom_event`` (``data`` is the payload itself)
a Runnable (root)      the run's ``run_id``             ``on_<type>_start`` (``input``), ``on_<type>_stream``
                                                        (``chunk``: each output chunk), ``on_<type>_end``
                                                        (``output``); ``<type>`` is the Runnable's run type
                                                        (``chain``, ``prompt``, ``parser``); a chat model run
                                                        is its model call's events, its ``input`` as given
a Runnable call        the call's ``call_id``           ``on_<type>_start`` (``input``, or nothing when the
                                                        input streams in), ``on_<type>_stream`` (``chunk``,
                                                        when the call streams its output),
                                                        ``on_<type>_end`` (``output``, ``input``)
=====================  ===============================  ====================================================

As in LangChain, a node's tags start with ``graph:step:<n>`` followed by the run's tags; a chat model's
are the run's tags then the model's; a chain step's start with ``seq:step:<n>`` (a parallel branch's with
``map:key:<key>``) followed by the tags it inherits.

Version ``"v1"`` is LangChain's v1 (built there from the run log), a projection of the v2 dicts: every
``parent_ids`` empty; keys in v1's order (the root's start ``event, run_id, name, tags, metadata, data``,
its chunks ``event, run_id, tags, metadata, name, data``, every other event ``event, name, run_id, tags,
metadata, data``); the root's metadata and tags as given (a chat model or LLM run without its ``ls_*``
keys), its chunks as ``on_<type>_stream``, its end's ``output`` their sum (``+``, else the last chunk); an
end's ``data`` is ``input`` then ``output``; a model call's output is its ``LLMResult`` as a dict; what a
graph's task runs has ``ls_integration: "langgraph"`` first; a node's ``run_id`` is one of its own (not the
task id); no custom events; filters without v2's rule for the first event shown.

A node's metadata is the run's metadata plus LangGraph's
``langgraph_*`` keys; a model's is LangChain's (:func:`model_event_metadata`): ``ls_provider``,
``ls_model_type``, ``ls_model_name`` when the model has one, ``ls_integration`` and ``lc_versions``.

Filters (LangChain's semantics): with any ``include_*`` given, an event passes when its name, type or one
of its tags is included; then it is dropped when its name, type or any tag is excluded. Types are
``"chain"`` (graph, nodes and chains), ``"chat_model"``, ``"tool"``, ``"prompt"``, ``"parser"``, and for a
custom event its own name.

Where this differs from LangGraph: failures end the stream without an ``on_chain_error`` or
``on_chat_model_*`` event (LangChain v2 has none for them either; ``astream_events()`` then raises the
run's exception); a subgraph node is one chain (LangGraph nests a second chain for the subgraph itself)
and conditional edges are not chains; a ``nostream`` model has no ``on_chat_model_stream`` events;
``on_tool_error`` carries the error's message and type name instead of the exception.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar, Final

import attrs

from .errors import InvalidArgumentError, UnknownStreamModeError
from .events import (
    ChatModelFinished,
    ChatModelStarted,
    ChatModelToken,
    CustomEvent,
    Event,
    RunChunk,
    RunFinished,
    RunnableChunk,
    RunnableFinished,
    RunnableStarted,
    RunStarted,
    TaskFailed,
    TaskFinished,
    TaskStarted,
    ToolFailed,
    ToolFinished,
    ToolStarted,
)
from .messages import AIMessageChunk
from .metadata import CHAT_MODEL_INTEGRATION, checkpoint_ns, lc_versions, model_call_metadata
from .modes import SKIP, Chunks, Projection, Projector, ViewSpec, task_metadata
from .prompt_values import PromptValue

__all__ = ["EVENT_STREAM_VERSIONS", "EVENT_TYPES", "EventStreamSpec"]

EVENT_STREAM_VERSIONS: tuple[str, ...] = ("v1", "v2")
"""The ``version`` values ``astream_events`` accepts (``"v1"``: LangChain's v1 dicts, see the module's text)."""

EVENT_TYPES: tuple[str, ...] = ("chain", "chat_model", "llm", "tool", "prompt", "parser")
"""The run types ``include_types`` / ``exclude_types`` name (besides custom event names)."""

_RUNNABLE_KINDS: Final[frozenset[type[Event]]] = frozenset(
    {RunStarted, RunChunk, RunFinished, RunnableStarted, RunnableChunk, RunnableFinished}
)
"""The kinds of Runnable calls and runs, whose run type is in the events themselves."""
_RUNNABLE_TYPES: Final = frozenset({"chain", "prompt", "parser", "llm"})
"""The run types of the Runnables streamflow has (a chat model's calls have events of their own)."""
_SHOWN_BY_OWN_EVENTS: Final = frozenset({"chat_model"})
"""Run types whose run is shown by the events of the call it makes (a chat model run: its model call's)."""
_LLM_RUN_KEYS: Final = frozenset({"ls_provider", "ls_model_type"})
"""The metadata keys a string LLM adds to its own run (LangChain's)."""
_KINDS_BY_TYPE: Final[dict[str, frozenset[type[Event]]]] = {
    "chain": frozenset({TaskStarted, TaskFinished, TaskFailed}) | _RUNNABLE_KINDS,
    "chat_model": frozenset({ChatModelStarted, ChatModelToken, ChatModelFinished}),
    "tool": frozenset({ToolStarted, ToolFinished, ToolFailed}),
    "prompt": _RUNNABLE_KINDS,
    "parser": _RUNNABLE_KINDS,
    "llm": _RUNNABLE_KINDS,
}
_ALL_KINDS: Final = frozenset().union(*_KINDS_BY_TYPE.values(), {CustomEvent})


def _names(arg: str, value: Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        raise InvalidArgumentError(f"{arg} must be a list of strings, got the string {value!r}; pass [{value!r}]")
    items = list(value)
    bad = [v for v in items if not isinstance(v, str)]
    if bad:
        raise InvalidArgumentError(f"{arg} must be a list of strings; {bad!r} are not strings")
    return frozenset(items)


@attrs.frozen
class EventStreamSpec:
    """A parsed ``astream_events(version=..., include_*=..., exclude_*=...)``: which events to subscribe to
    and how to turn them into v2 dicts. Use :meth:`parse`; make one view per :meth:`table` call."""

    version: str = "v2"
    include_names: frozenset[str] | None = None
    include_types: frozenset[str] | None = None
    include_tags: frozenset[str] | None = None
    exclude_names: frozenset[str] | None = None
    exclude_types: frozenset[str] | None = None
    exclude_tags: frozenset[str] | None = None
    stream: ViewSpec | None = None
    """The stream modes the graph's own ``on_chain_stream`` chunks follow (``stream_mode`` and
    ``subgraphs``, as LangGraph passes them to ``astream``); None for the default, ``{node: update}``."""

    @classmethod
    def parse(
        cls,
        version: str = "v2",
        *,
        include_names: Iterable[str] | None = None,
        include_types: Iterable[str] | None = None,
        include_tags: Iterable[str] | None = None,
        exclude_names: Iterable[str] | None = None,
        exclude_types: Iterable[str] | None = None,
        exclude_tags: Iterable[str] | None = None,
        stream_mode: str | Sequence[str] | None = None,
        subgraphs: bool = False,
    ) -> EventStreamSpec:
        """Check the arguments of ``astream_events``.

        ``stream_mode`` and ``subgraphs`` shape the chunks of the graph's own ``on_chain_stream`` events as
        ``astream(stream_mode=..., subgraphs=...)`` shapes its items (LangGraph passes them to ``astream``):
        ``stream_mode="values"`` gives the state after each step, a list gives ``(mode, chunk)`` pairs.

        :raises UnknownStreamModeError: for a ``version`` other than ``"v2"``, or an unknown stream mode
        :raises InvalidArgumentError: for a filter that is a single string or holds a non-string
        """
        if version not in EVENT_STREAM_VERSIONS:
            raise UnknownStreamModeError(
                f"unknown astream_events version {version!r}; valid versions: {', '.join(EVENT_STREAM_VERSIONS)}"
            )
        return cls(
            version,
            _names("include_names", include_names),
            _names("include_types", include_types),
            _names("include_tags", include_tags),
            _names("exclude_names", exclude_names),
            _names("exclude_types", exclude_types),
            _names("exclude_tags", exclude_tags),
            None
            if stream_mode is None and not subgraphs
            else ViewSpec.parse("updates" if stream_mode is None else stream_mode, subgraphs),
        )

    @property
    def kinds(self) -> frozenset[type[Event]]:
        """The event classes a view needs. Decided once: ``include_types`` alone (no names or tags
        included) narrows the subscription to those types' kinds, and ``exclude_types`` removes kinds."""
        kinds: set[type[Event]] = set(_ALL_KINDS)
        if self.include_types is not None and self.include_names is None and self.include_tags is None:
            kinds = {CustomEvent} if set(self.include_types) - set(EVENT_TYPES) else set()
            for t in self.include_types:
                kinds |= _KINDS_BY_TYPE.get(t, frozenset())
        excluded = self.exclude_types or frozenset()
        for t in excluded:
            kinds -= _KINDS_BY_TYPE.get(t, frozenset()) - _RUNNABLE_KINDS
        if excluded >= _RUNNABLE_TYPES:  # a Runnable call of any type would be excluded
            kinds -= _RUNNABLE_KINDS
        if self.stream is not None and RunStarted in kinds:  # the graph's chunks need their modes' events
            kinds |= self.stream.kinds
        return frozenset(kinds)

    def accepts(self) -> Callable[[str, str, list[str]], bool]:
        """The filter ``(name, type, tags) -> bool``, LangChain's rules, built once."""
        inc_names, inc_types, inc_tags = self.include_names, self.include_types, self.include_tags
        exc_names, exc_types, exc_tags = self.exclude_names, self.exclude_types, self.exclude_tags
        if all(x is None for x in (inc_names, inc_types, inc_tags, exc_names, exc_types, exc_tags)):
            return lambda name, kind, tags: True
        including = not (inc_names is None and inc_types is None and inc_tags is None)

        def accept(name: str, kind: str, tags: list[str]) -> bool:
            if including:
                ok = (
                    (inc_names is not None and name in inc_names)
                    or (inc_types is not None and kind in inc_types)
                    or (inc_tags is not None and not inc_tags.isdisjoint(tags))
                )
                if not ok:
                    return False
            if exc_names is not None and name in exc_names:
                return False
            if exc_types is not None and kind in exc_types:
                return False
            return exc_tags is None or exc_tags.isdisjoint(tags)

        return accept

    # -- what a View asks of a spec ------------------------------------------------------------------

    identity: ClassVar[bool] = True
    """Items are the projected dicts themselves."""

    def table(self) -> dict[type[Event], tuple[tuple[str, Projection], ...]]:
        """Event class -> the projection making the dicts (v2's, or v1's made from them), bound to fresh
        per-view state."""
        v1 = self.version == "v1"
        state = _EventStreamState(self.accepts(), root_updates=self.stream is None, v1=v1)
        projections = state.projections()
        filters = (
            self.include_names,
            self.include_types,
            self.include_tags,
            self.exclude_names,
            self.exclude_types,
            self.exclude_tags,
        )
        if not v1 and any(f is not None for f in filters):  # v2's rule for the first event shown
            projections = {kind: state.first_shown(p) for kind, p in projections.items()}
        kinds = self.kinds
        if self.stream is None:
            if v1:
                return {kind: (("events", state.as_v1(projections[kind])),) for kind in kinds}
            return {kind: (("events", projections[kind]),) for kind in kinds}
        own_kinds = attrs.evolve(self, stream=None).kinds
        stream = self.stream
        project_modes = Projector(stream.table(), stream.shaper(), stream.identity).project
        subgraphs = stream.subgraphs

        def combined(own: Projection | None) -> Projection:
            def project(event: Event) -> Any:
                out: list[Any] = []
                if own is not None:
                    _extend(out, own(event))
                if subgraphs or not event.ns:
                    chunks: list[Any] = []
                    project_modes(event, chunks)
                    if chunks and state.root.passes:
                        root, root_id = state.root, state.root_id
                        out.extend(_event("on_chain_stream", root_id, root, {"chunk": c}) for c in chunks)
                if not out:
                    return SKIP
                return out[0] if len(out) == 1 else Chunks(tuple(out))

            return project

        table: dict[type[Event], tuple[tuple[str, Projection], ...]] = {}
        for kind in kinds:
            project = combined(projections[kind] if kind in own_kinds else None)
            table[kind] = (("events", state.as_v1(project) if v1 else project),)
        return table

    def shaper(self) -> Callable[[str, tuple[str, ...], Any], Any]:
        """Items are the dicts as projected."""
        return lambda mode, ns, chunk: chunk


@attrs.define(slots=True)
class _Started:
    """What a run (node, model or tool call) started with, kept until it ends."""

    name: str
    tags: list[str]
    metadata: dict[str, Any]
    parent_ids: list[str]
    input: Any
    passes: bool
    """Whether this run's events pass the view's filter (decided once, at its start)."""
    kind: str = "chain"
    """The run type of a Runnable call (its events are ``on_<kind>_*``)."""


def _extend(out: list[Any], chunk: Any) -> None:
    if chunk is SKIP:
        return
    if chunk.__class__ is Chunks:
        out.extend(chunk.items)
    else:
        out.append(chunk)


_NO_PARENTS: Final[list[str]] = []


def _event(kind: str, run_id: str, run: _Started, data: dict[str, Any]) -> dict[str, Any]:
    """An event dict with its keys in LangChain's order, which depends on where LangChain makes it: a start
    (``event, data, name, tags, run_id, metadata, parent_ids``), an end or error (``event, data, run_id,
    name, ...``), or a chunk of a Runnable's output (``event, run_id, name, tags, metadata, data,
    parent_ids``)."""
    if kind.endswith("_start"):
        return {
            "event": kind,
            "data": data,
            "name": run.name,
            "tags": run.tags,
            "run_id": run_id,
            "metadata": run.metadata,
            "parent_ids": run.parent_ids,
        }
    if kind.endswith("_stream"):
        return {
            "event": kind,
            "run_id": run_id,
            "name": run.name,
            "tags": run.tags,
            "metadata": run.metadata,
            "data": data,
            "parent_ids": run.parent_ids,
        }
    return _token_event(kind, run_id, run, data)


def _token_event(kind: str, run_id: str, run: _Started, data: dict[str, Any]) -> dict[str, Any]:
    """An event dict with its keys in the order of LangChain's end events and of the token events of a
    model called inside a run (``event, data, run_id, name, tags, metadata, parent_ids``)."""
    return {
        "event": kind,
        "data": data,
        "run_id": run_id,
        "name": run.name,
        "tags": run.tags,
        "metadata": run.metadata,
        "parent_ids": run.parent_ids,
    }


class _EventStreamState:
    """One view's memory: the root run and every run in flight, by id."""

    __slots__ = (
        "accept",
        "first_id",
        "node_ids",
        "root",
        "root_id",
        "root_model",
        "root_streams",
        "root_total",
        "root_type",
        "root_updates",
        "runs",
        "v1",
    )

    def __init__(
        self, accept: Callable[[str, str, list[str]], bool], *, root_updates: bool = True, v1: bool = False
    ) -> None:
        self.accept = accept
        self.v1 = v1
        """Version ``"v1"``: every ``parent_ids`` is empty."""
        self.root_type = "chain"
        self.root_streams = True
        """Whether the root run's chunks are a stream (``RunStarted.streams``)."""
        self.first_id: str | None = None
        """``run_id`` of the first event shown (filtered views only)."""
        self.root_model: str | None = None
        """The ``call_id`` of the model call a ``chat_model`` run is (its events stand for the run's)."""
        self.root_updates = root_updates
        """Whether the graph's ``on_chain_stream`` chunks are ``{node: update}`` (no ``stream_mode``)."""
        self.root = _Started("", [], {}, [], None, False)
        self.root_id = ""
        self.runs: dict[str | None, _Started] = {}
        self.node_ids: dict[str, str] = {}
        """Version ``"v1"``: a node's ``run_id`` by its task id (LangChain's v1 gives a node's run an id of its
        own)."""
        self.root_total: Any = None
        """Version ``"v1"``: the root's chunks added up so far (LangChain's rule: ``+``, else the last)."""

    def projections(self) -> dict[type[Event], Projection]:
        return {
            RunStarted: self.run_started,
            RunFinished: self.run_finished,
            RunChunk: self.run_chunk,
            RunnableStarted: self.runnable_started,
            RunnableChunk: self.runnable_chunk,
            RunnableFinished: self.runnable_finished,
            TaskStarted: self.task_started,
            TaskFinished: self.task_finished,
            TaskFailed: self.task_failed,
            ChatModelStarted: self.model_started,
            ChatModelToken: self.model_token,
            ChatModelFinished: self.model_finished,
            ToolStarted: self.tool_started,
            ToolFinished: self.tool_finished,
            ToolFailed: self.tool_failed,
            CustomEvent: self.custom_event,
        }

    def first_shown(self, project: Projection) -> Projection:
        """``project``, with LangChain's rule for the first event a view shows when the root's events are
        filtered out: its ``data["input"]`` is the run's input, and the end of that event's run has no
        ``input`` (as the root's end has none)."""

        def fix(item: dict[str, Any]) -> dict[str, Any]:
            if item["event"] == "on_custom_event":  # its data is the payload: left as dispatched
                return item
            if self.first_id is None:
                self.first_id = item["run_id"]
                return {**item, "data": {**item["data"], "input": self.root.input}}
            if item["run_id"] == self.first_id and item["event"].endswith("_end") and "input" in item["data"]:
                return {**item, "data": {k: v for k, v in item["data"].items() if k != "input"}}
            return item

        def projected(event: Event) -> Any:
            out = project(event)
            if out is SKIP:
                return out
            if out.__class__ is Chunks:
                return Chunks(tuple(fix(item) for item in out.items))
            return fix(out)

        return projected

    def as_v1(self, project: Projection) -> Projection:
        """``project``, its v2 dicts made LangChain's v1 dicts (:func:`_v1_event`)."""

        def projected(event: Event) -> Any:
            out = project(event)
            if out is SKIP:
                return out
            if out.__class__ is Chunks:
                return Chunks(tuple(self._v1(item) for item in out.items))
            return self._v1(out)

        return projected

    def _v1(self, item: dict[str, Any]) -> dict[str, Any]:
        kind: str = item["event"]
        run_id: str = item["run_id"]
        data: dict[str, Any] = item["data"]
        metadata: dict[str, Any] = item["metadata"]
        if run_id == self.root_id:
            if kind.endswith("_stream"):
                total = self.root_total
                chunk = data["chunk"]
                if total is None:
                    self.root_total = chunk
                else:
                    try:
                        self.root_total = total + chunk
                    except TypeError:
                        self.root_total = chunk
            elif kind.endswith("_end"):
                data = {"output": self.root_total}
            return _v1_event(kind, run_id, item["name"], item["tags"], metadata, data, root=True)
        run_id = self.node_ids.get(run_id, run_id)
        if "langgraph_step" in metadata and "ls_integration" not in metadata:  # what a graph's task runs
            metadata = {"ls_integration": "langgraph", **metadata}
        if kind.endswith("_end"):
            output: Any = data.get("output")
            if kind == "on_chat_model_end":
                output = _chat_result(output)
            elif kind == "on_llm_end":
                output = {**output, "run": None, "type": "LLMResult"}
            data = {"input": data["input"], "output": output} if data.get("input") is not None else {"output": output}
        return _v1_event(kind, run_id, item["name"], item["tags"], metadata, data, root=False)

    def _start(self, run_id: str | None, kind: str, run: _Started, data: dict[str, Any]) -> Any:
        run.passes = self.accept(run.name, kind, run.tags)
        if self.v1:
            run.parent_ids = _NO_PARENTS
        self.runs[run_id] = run
        return _event(f"on_{kind}_start", run_id or "", run, data) if run.passes else SKIP

    # -- the graph -----------------------------------------------------------------------------------

    def run_started(self, event: RunStarted) -> Any:
        metadata = dict(event.metadata)
        kind = self.root_type = event.run_type
        if kind == "llm":  # an LLM's run has LangChain's ls_* keys; v1 shows the metadata as given
            if self.v1:
                metadata = {k: v for k, v in metadata.items() if k not in _LLM_RUN_KEYS}
            else:
                metadata["lc_versions"] = lc_versions(metadata.get("lc_versions"))
        root = _Started(event.name, list(event.tags), metadata, [], event.input, False)
        self.root_streams = event.streams
        root.passes = self.accept(root.name, kind, root.tags) and (self.v1 or kind not in _SHOWN_BY_OWN_EVENTS)
        self.root, self.root_id = root, event.run_id
        if not root.passes or (self.v1 and kind in _SHOWN_BY_OWN_EVENTS):  # v1: started with its model call
            return SKIP
        return _event(f"on_{kind}_start", event.run_id, root, {"input": event.input})

    def run_chunk(self, event: RunChunk) -> Any:
        root = self.root
        if not root.passes or not (self.root_streams or self.v1):
            return SKIP
        return _event(f"on_{self.root_type}_stream", self.root_id, root, {"chunk": event.chunk})

    def run_finished(self, event: RunFinished) -> Any:
        root = self.root
        if not root.passes:
            return SKIP
        output = _llm_result(event.output) if self.root_type == "llm" else event.output
        return _event(f"on_{self.root_type}_end", self.root_id, root, {"output": output})

    # -- Runnable calls ------------------------------------------------------------------------------

    def runnable_started(self, event: RunnableStarted) -> Any:
        run = _Started(
            event.name, list(event.tags), dict(event.metadata), list(event.parent_ids), None, False, event.run_type
        )
        data: dict[str, Any] = {} if event.input_streamed else {"input": event.input}
        if event.run_type == "llm":
            run.metadata["lc_versions"] = lc_versions(run.metadata.get("lc_versions"))
        if event.run_type == "llm" and "input" in data:
            data["input"] = run.input = _llm_prompts(event.input)
        return self._start(event.call_id, event.run_type, run, data)

    def runnable_chunk(self, event: RunnableChunk) -> Any:
        run = self.runs.get(event.call_id)
        if run is None or not run.passes:
            return SKIP
        if run.kind == "llm":  # a string LLM's tokens inside a run come from LangChain's token callback
            return _token_event("on_llm_stream", event.call_id, run, {"chunk": event.chunk})
        return _event(f"on_{run.kind}_stream", event.call_id, run, {"chunk": event.chunk})

    def runnable_finished(self, event: RunnableFinished) -> Any:
        run = self.runs.pop(event.call_id, None)
        if run is None or not run.passes or event.error_type is not None:
            return SKIP
        if run.kind == "llm":
            data = {"output": _llm_result(event.output), "input": _llm_prompts(event.input)}
            return _event("on_llm_end", event.call_id, run, data)
        return _event(f"on_{run.kind}_end", event.call_id, run, {"output": event.output, "input": event.input})

    # -- nodes ---------------------------------------------------------------------------------------

    def task_started(self, event: TaskStarted) -> Any:
        parents = [self.root_id or event.run_id, *(part.rpartition(":")[2] for part in event.ns)]
        run = _Started(
            event.node or "",
            [f"graph:step:{event.step}", *event.tags],
            task_metadata(self.root.metadata, event),
            parents,
            event.input,
            False,
        )
        if self.v1 and event.task_id:
            self.node_ids[event.task_id] = str(uuid.uuid4())
        return self._start(event.task_id, "chain", run, {"input": event.input})

    def task_finished(self, event: TaskFinished) -> Any:
        run = self.runs.pop(event.task_id, None)
        out: list[dict[str, Any]] = []
        update = event.result
        if run is not None and run.passes and not event.sent_up:  # (a command sent up: no output of its own)
            # the node's own run shows what it returned: a Command as such (LangGraph's), else its update
            returned = update if event.output is None else event.output
            if returned is not None:
                out.append(_event("on_chain_stream", event.task_id or "", run, {"chunk": returned}))
            out.append(_event("on_chain_end", event.task_id or "", run, {"output": returned, "input": run.input}))
        if not event.ns and self.root.passes and self.root_updates:
            out.append(_event("on_chain_stream", self.root_id, self.root, {"chunk": {event.node: update}}))
        if not out:
            return SKIP
        return out[0] if len(out) == 1 else Chunks(tuple(out))

    def task_failed(self, event: TaskFailed) -> Any:
        self.runs.pop(event.task_id, None)
        return SKIP

    # -- chat models ---------------------------------------------------------------------------------

    def model_started(self, event: ChatModelStarted) -> Any:
        metadata = model_event_metadata(event)
        messages: Any = {"messages": [list(event.messages or ())]}
        if self.root_type == "chat_model" and self.root_model is None:  # the run is this model call
            self.root_model = event.call_id
            messages = self.root.input
        run = _Started(event.name, list(event.tags), metadata, list(event.parent_ids), messages, False)
        if self.v1 and event.call_id == self.root_model:  # v1: the run's own events, under the call's id
            self.runs[event.call_id] = run
            self.root_id = event.call_id
            root = self.root
            return _event("on_chat_model_start", event.call_id, root, {"input": root.input}) if root.passes else SKIP
        return self._start(event.call_id, "chat_model", run, {"input": messages})

    def model_token(self, event: ChatModelToken) -> Any:
        run = self.runs.get(event.call_id)
        if run is None or not run.passes:
            return SKIP
        if event.call_id == self.root_model:  # the run is this model call: its output's chunks
            return _event("on_chat_model_stream", event.call_id, run, {"chunk": event.chunk})
        return _token_event("on_chat_model_stream", event.call_id, run, {"chunk": event.chunk})

    def model_finished(self, event: ChatModelFinished) -> Any:
        run = self.runs.pop(event.call_id, None)
        if run is None or not run.passes or event.error_type is not None:
            return SKIP
        if event.call_id == self.root_model:  # the run's own end: its input was in its start
            return _event("on_chat_model_end", event.call_id, run, {"output": event.message})
        return _event("on_chat_model_end", event.call_id, run, {"output": event.message, "input": run.input})

    # -- tools ---------------------------------------------------------------------------------------

    def tool_started(self, event: ToolStarted) -> Any:
        metadata = dict(event.metadata)
        if "langgraph_checkpoint_ns" in metadata and "checkpoint_ns" not in metadata:  # LangGraph's, in a task
            metadata["checkpoint_ns"] = metadata["langgraph_checkpoint_ns"]
        run = _Started(event.name, list(event.tags), metadata, list(event.parent_ids), event.input, False)
        return self._start(event.call_id, "tool", run, {"input": event.input})

    def tool_finished(self, event: ToolFinished) -> Any:
        run = self.runs.pop(event.call_id, None)
        if run is None or not run.passes:
            return SKIP
        return _event("on_tool_end", event.call_id, run, {"output": event.output, "input": run.input})

    def tool_failed(self, event: ToolFailed) -> Any:
        run = self.runs.pop(event.call_id, None)
        if run is None or not run.passes:
            return SKIP
        data = {
            "error": event.error_message,
            "error_type": event.error_type,
            "input": run.input,
            "tool_call_id": event.tool_call_id,
        }
        return _event("on_tool_error", event.call_id, run, data)

    # -- custom events -------------------------------------------------------------------------------

    def custom_event(self, event: CustomEvent) -> Any:
        tags = list(event.tags)
        if self.v1 or not self.accept(event.name, event.name, tags):
            return SKIP
        parents = list(event.parent_ids)
        owner = parents.pop() if parents else ""
        return {
            "event": "on_custom_event",
            "run_id": owner,
            "name": event.name,
            "tags": tags,
            "metadata": dict(event.metadata),
            "data": event.data,
            "parent_ids": parents,
        }


def model_event_metadata(event: ChatModelStarted) -> dict[str, Any]:
    """The metadata of a chat model call's events, as LangChain gives it: in a graph node's code, the
    ``messages`` metadata of the call without its ``tags``
    (:func:`~streamflow.metadata.model_call_metadata`); elsewhere the run's metadata, then ``ls_provider``,
    ``ls_model_type`` (``"chat"``), ``ls_model_name`` (when the model has one), ``ls_integration`` and
    ``lc_versions``."""
    if "langgraph_step" in event.metadata:
        ns = checkpoint_ns(event.ns, event.node or "", event.task_id)
        return model_call_metadata(
            event.metadata, task_checkpoint_ns=ns, tags=(), provider=event.provider, model_name=event.model_name
        )
    out = {**event.metadata, "ls_provider": event.provider, "ls_model_type": "chat"}
    if event.model_name:
        out["ls_model_name"] = event.model_name
    out["ls_integration"] = CHAT_MODEL_INTEGRATION
    out["lc_versions"] = lc_versions(event.metadata.get("lc_versions"))
    return out


def _v1_event(
    kind: str, run_id: str, name: str, tags: list[str], metadata: dict[str, Any], data: dict[str, Any], *, root: bool
) -> dict[str, Any]:
    """An event dict of ``astream_events(version="v1")``, keys in LangChain's v1 order: the root's start
    (``event, run_id, name, tags, metadata, data, parent_ids``), stream (``event, run_id, tags, metadata,
    name, ...``) and end (``event, name, run_id, ...``); every other run's ``event, name, run_id, tags,
    metadata, data, parent_ids``. ``parent_ids`` is always ``[]``."""
    if root and kind.endswith("_start"):
        return {
            "event": kind,
            "run_id": run_id,
            "name": name,
            "tags": tags,
            "metadata": metadata,
            "data": data,
            "parent_ids": [],
        }
    if root and kind.endswith("_stream"):
        return {
            "event": kind,
            "run_id": run_id,
            "tags": tags,
            "metadata": metadata,
            "name": name,
            "data": data,
            "parent_ids": [],
        }
    return {
        "event": kind,
        "name": name,
        "run_id": run_id,
        "tags": tags,
        "metadata": metadata,
        "data": data,
        "parent_ids": [],
    }


def _chat_result(message: Any) -> dict[str, Any]:
    """A chat model call's output as LangChain's v1 ``on_chat_model_end`` shows it (an ``LLMResult`` as a
    dict): ``ChatGenerationChunk`` when the call streamed (its message is an ``AIMessageChunk``), else
    ``ChatGeneration``."""
    generation = {
        "text": message.text if isinstance(message.content, (str, list)) else "",
        "generation_info": None,
        "type": "ChatGenerationChunk" if isinstance(message, AIMessageChunk) else "ChatGeneration",
        "message": message,
    }
    return {"generations": [[generation]], "llm_output": None, "run": None, "type": "LLMResult"}


def _llm_prompts(prompt: Any) -> dict[str, list[str]]:
    """A string LLM call's input as LangChain shows it inside a chain: ``{"prompts": [text]}``."""
    text = prompt.to_string() if isinstance(prompt, PromptValue) else str(prompt)
    return {"prompts": [text]}


def _llm_result(text: Any) -> dict[str, Any]:
    """A string LLM's output as LangChain's ``on_llm_end`` shows it (an ``LLMResult`` as a dict)."""
    return {"generations": [[{"text": text, "generation_info": None, "type": "Generation"}]], "llm_output": None}
