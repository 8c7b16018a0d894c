"""Hypothesis strategies for the event vocabulary: one per event kind, and the routing fields they share.

``EVENT_STRATEGIES`` maps every ``type`` tag in :data:`streamflow.events.KINDS` to a function building that
kind's strategy from a payload strategy; ``tests/test_events.py`` checks that no kind is missing.

Two payload families: :data:`any_payloads` (any value that compares equal to itself: tuples, frozensets,
bytes...) for the in-memory dict form, and :data:`json_payloads` (what survives ``json.dumps``/``loads``
unchanged: no tuples, str keys, finite floats) for the wire form.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from streamflow.events import (
    KINDS,
    ChatModelFinished,
    ChatModelStarted,
    ChatModelToken,
    CheckpointSaved,
    CustomData,
    CustomEvent,
    Event,
    Interrupted,
    Resumed,
    RunCancelled,
    RunChunk,
    RunFailed,
    RunFinished,
    RunnableChunk,
    RunnableFinished,
    RunnableStarted,
    RunStarted,
    RunTakenOver,
    StateUpdate,
    StateValues,
    TaskFailed,
    TaskFinished,
    TaskStarted,
    ToolFailed,
    ToolFinished,
    ToolStarted,
)
from streamflow.types import Command, Send

PayloadStrategy = st.SearchStrategy[Any]

_json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=10)
)
json_payloads: PayloadStrategy = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
"""Values that come back equal from a JSON round trip."""

any_payloads: PayloadStrategy = st.recursive(
    _json_scalars | st.binary(max_size=6) | st.complex_numbers(allow_nan=False),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.frozensets(st.integers() | st.text(max_size=4), max_size=4)
        | st.dictionaries(st.text(max_size=6) | st.integers(), inner, max_size=4)
    ),
    max_leaves=12,
)
"""Values that compare equal to themselves; carried as they are by the dict form."""

names = st.text(min_size=1, max_size=12)
ids = st.text(max_size=12)
optional_names = st.none() | names
error_types = st.sampled_from(["builtins.ValueError", "builtins.KeyError", "mypkg.errors.Boom"])
parent_ids = st.lists(ids, max_size=3).map(tuple)
error_fields: dict[str, st.SearchStrategy[Any]] = {"error_type": error_types, "error_message": st.text(max_size=20)}
"""The error fields of an event that tells of a failure."""
optional_error: dict[str, st.SearchStrategy[Any]] = {k: st.none() | v for k, v in error_fields.items()}
"""The error fields of an event that ends a call, each None or a failure's."""


def routing_fields(
    *,
    nodes: st.SearchStrategy[str | None] = optional_names,
    ns_parts: st.SearchStrategy[str] = names,
    tags: st.SearchStrategy[str] = names,
) -> dict[str, st.SearchStrategy[Any]]:
    """Strategies for the fields every event carries, as keyword arguments for ``st.builds``."""
    return {
        "run_id": ids,
        "seq": st.integers(min_value=0, max_value=2**40),
        "ts": st.floats(min_value=0, max_value=4e9, allow_nan=False, allow_infinity=False),
        "ns": st.lists(ns_parts, max_size=3).map(tuple),
        "node": nodes,
        "step": st.none() | st.integers(min_value=0, max_value=10_000),
        "task_id": st.none() | ids,
        "tags": st.lists(tags, max_size=3).map(tuple),
        "metadata": st.dictionaries(st.text(max_size=6), json_payloads, max_size=3),
    }


Routing = dict[str, st.SearchStrategy[Any]]
EventStrategyFactory = Callable[[PayloadStrategy, Routing], st.SearchStrategy[Event]]


def run_started(payload: PayloadStrategy, routing: Routing) -> st.SearchStrategy[RunStarted]:
    return st.builds(RunStarted, **routing, name=ids, input=payload)


def run_taken_over(payload: PayloadStrategy, routing: Routing) -> st.SearchStrategy[RunTakenOver]:
    return st.builds(
        RunTakenOver,
        **routing,
        name=ids,
        previous_seq=st.integers(0, 10**6),
        checkpoint_id=st.none() | ids,
        checkpoint_step=st.none() | st.integers(-1, 100),
        attempt=st.integers(2, 10),
        worker=ids,
    )


def run_finished(payload: PayloadStrategy, routing: Routing) -> st.SearchStrategy[RunFinished]:
    return st.builds(RunFinished, **routing, output=payload)


def run_failed(payload: PayloadStrategy, routing: Routing) -> st.SearchStrategy[RunFailed]:
    return st.builds(RunFailed, **routing, **error_fields)


def run_cancelled(payload: PayloadStrategy, routing: Routing) -> st.SearchStrategy[RunCancelled]:
    return st.builds(RunCancelled, **routing, reason=st.text(max_size=20))


def task_started(payload: PayloadStrategy, routing: Routing) -> st.SearchStrategy[TaskStarted]:
    triggers = st.lists(st.sampled_from(["start:node", "branch:to:node", "node_1"]), max_size=3).map(tuple)
    path = st.tuples(st.just("__pregel_pull"), names) | st.tuples(st.just("__pregel_push"), st.integers(0, 100))
    return st.builds(TaskStarted, **routing, input=payload, triggers=triggers, path=path)


def commands(payload: PayloadStrategy) -> st.SearchStrategy[Command[Any]]:
    """``Command`` objects a node returns: an update, and a goto of node names and ``Send`` packets."""
    goto = st.lists(names | st.builds(Send, names, payload), max_size=2) | names
    return st.builds(Command, update=payload, goto=goto, graph=st.none() | st.just(Command.PARENT))


def task_finished(payload: PayloadStrategy, routing: Routing) -> st.SearchStrategy[TaskFinished]:
    """Its ``output`` is None: a ``Command`` is no JSON value (see :func:`command_outputs` for the wire)."""
    return st.builds(TaskFinished, **routing, result=payload, sent_up=st.booleans())


def command_outputs(payload: PayloadStrategy) -> st.SearchStrategy[Any]:
    """A ``TaskFinished`` ``output``: a ``Command``, or a list of commands and plain updates."""
    command = commands(payload)
    return command | st.lists(command | payload, min_size=1, max_size=2).filter(
        lambda items: any(isinstance(item, Command) for item in items)
    )


def task_failed(payload: PayloadStrategy, routing: Routing) -> st.SearchStrategy[TaskFailed]:
    return st.builds(TaskFailed, **routing, **error_fields)


def state_values(payload: PayloadStrategy, routing: Routing) -> st.SearchStrategy[StateValues]:
    return st.builds(StateValues, **routing, values=payload)


def state_update(payload: PayloadStrategy, routing: Routing) -> st.SearchStrategy[StateUpdate]:
    return st.builds(StateUpdate, **routing, update=payload, cached=st.booleans())


def custom_data(payload: PayloadStrategy, routing: Routing) -> st.SearchStrategy[CustomData]:
    return st.builds(CustomData, **routing, data=payload, tool_call_id=st.none() | ids)


def custom_event(payload: PayloadStrategy, routing: Routing) -> st.SearchStrategy[CustomEvent]:
    return st.builds(CustomEvent, **routing, name=ids, data=payload, parent_ids=parent_ids)


def chat_model_started(payload: PayloadStrategy, routing: Routing) -> st.SearchStrategy[ChatModelStarted]:
    return st.builds(
        ChatModelStarted,
        **routing,
        call_id=ids,
        name=ids,
        model_name=ids,
        provider=ids,
        messages=payload,
        parent_ids=parent_ids,
        streamed=st.booleans(),
    )


def chat_model_token(payload: PayloadStrategy, routing: Routing) -> st.SearchStrategy[ChatModelToken]:
    return st.builds(ChatModelToken, **routing, call_id=ids, chunk=payload)


def chat_model_finished(payload: PayloadStrategy, routing: Routing) -> st.SearchStrategy[ChatModelFinished]:
    return st.builds(
        ChatModelFinished,
        **routing,
        call_id=ids,
        message=payload,
        **optional_error,
    )


def tool_started(payload: PayloadStrategy, routing: Routing) -> st.SearchStrategy[ToolStarted]:
    return st.builds(
        ToolStarted,
        **routing,
        call_id=ids,
        tool_call_id=ids,
        name=ids,
        input=payload,
        parent_ids=parent_ids,
    )


def tool_finished(payload: PayloadStrategy, routing: Routing) -> st.SearchStrategy[ToolFinished]:
    return st.builds(ToolFinished, **routing, call_id=ids, tool_call_id=ids, name=ids, output=payload)


def tool_failed(payload: PayloadStrategy, routing: Routing) -> st.SearchStrategy[ToolFailed]:
    return st.builds(
        ToolFailed,
        **routing,
        call_id=ids,
        tool_call_id=ids,
        name=ids,
        **error_fields,
    )


def checkpoint_saved(payload: PayloadStrategy, routing: Routing) -> st.SearchStrategy[CheckpointSaved]:
    config = st.fixed_dictionaries({"configurable": st.fixed_dictionaries({"thread_id": ids, "checkpoint_id": ids})})
    return st.builds(
        CheckpointSaved,
        **routing,
        config=config,
        parent_config=st.none() | config,
        values=payload,
        next=st.lists(ids, max_size=3),
        tasks=st.lists(st.fixed_dictionaries({"id": ids, "name": ids}), max_size=2),
    )


def interrupted(payload: PayloadStrategy, routing: Routing) -> st.SearchStrategy[Interrupted]:
    interrupt = st.fixed_dictionaries({"value": payload, "id": ids})
    return st.builds(Interrupted, **routing, interrupts=st.lists(interrupt, max_size=2), values=payload)


def run_chunk(payload: PayloadStrategy, routing: Routing) -> st.SearchStrategy[RunChunk]:
    return st.builds(RunChunk, **routing, chunk=payload)


def runnable_started(payload: PayloadStrategy, routing: Routing) -> st.SearchStrategy[RunnableStarted]:
    return st.builds(
        RunnableStarted,
        **routing,
        call_id=ids,
        name=ids,
        run_type=st.sampled_from(["chain", "prompt", "parser"]),
        input=payload,
        input_streamed=st.booleans(),
        parent_ids=parent_ids,
    )


def runnable_chunk(payload: PayloadStrategy, routing: Routing) -> st.SearchStrategy[RunnableChunk]:
    return st.builds(RunnableChunk, **routing, call_id=ids, chunk=payload)


def runnable_finished(payload: PayloadStrategy, routing: Routing) -> st.SearchStrategy[RunnableFinished]:
    return st.builds(
        RunnableFinished,
        **routing,
        call_id=ids,
        input=payload,
        output=payload,
        **optional_error,
    )


def resumed(payload: PayloadStrategy, routing: Routing) -> st.SearchStrategy[Resumed]:
    return st.builds(Resumed, **routing, resume=payload)


EVENT_STRATEGIES: dict[str, EventStrategyFactory] = {
    "run_started": run_started,
    "run_taken_over": run_taken_over,
    "run_finished": run_finished,
    "run_failed": run_failed,
    "run_cancelled": run_cancelled,
    "task_started": task_started,
    "task_finished": task_finished,
    "task_failed": task_failed,
    "state_values": state_values,
    "state_update": state_update,
    "custom_data": custom_data,
    "custom_event": custom_event,
    "chat_model_started": chat_model_started,
    "chat_model_token": chat_model_token,
    "chat_model_finished": chat_model_finished,
    "tool_started": tool_started,
    "tool_finished": tool_finished,
    "tool_failed": tool_failed,
    "checkpoint_saved": checkpoint_saved,
    "interrupted": interrupted,
    "resumed": resumed,
    "run_chunk": run_chunk,
    "runnable_started": runnable_started,
    "runnable_chunk": runnable_chunk,
    "runnable_finished": runnable_finished,
}
"""A strategy factory for every event kind, by its ``type`` tag."""


def events_of(
    kind: str, payload: PayloadStrategy = any_payloads, routing: Routing | None = None
) -> st.SearchStrategy[Event]:
    """Events of one kind (a ``type`` tag of :data:`KINDS`)."""
    return EVENT_STRATEGIES[kind](payload, routing if routing is not None else routing_fields())


def events(
    payload: PayloadStrategy = any_payloads,
    routing: Routing | None = None,
    kinds: list[str] | None = None,
) -> st.SearchStrategy[Event]:
    """Events of any kind (or of ``kinds``), every kind reachable."""
    return st.one_of([events_of(k, payload, routing) for k in (kinds if kinds is not None else sorted(KINDS))])


# -- small worlds for filter tests: few nodes, tags and namespaces, so that filters match often ----------

NODES = ("agent", "tools", "writer")
TAGS = ("red", "green", "blue")
NS_PARTS = ("sub:1", "sub:2", "deep:1")

NON_TERMINAL_KINDS = sorted(tag for tag, cls in KINDS.items() if not cls.terminal)
TERMINAL_KINDS = sorted(tag for tag, cls in KINDS.items() if cls.terminal)

small_routing = routing_fields(
    nodes=st.none() | st.sampled_from(NODES),
    ns_parts=st.sampled_from(NS_PARTS),
    tags=st.sampled_from(TAGS),
)


def run_events(max_size: int = 30, *, kinds: list[str] | None = None) -> st.SearchStrategy[list[Event]]:
    """Lists of fresh (unpublished) events drawn from the small world; never terminal unless asked."""
    return st.lists(
        events(json_payloads, small_routing, kinds if kinds is not None else NON_TERMINAL_KINDS), max_size=max_size
    )


def _named(name: str, fn: Callable[[Event], bool]) -> Callable[[Event], bool]:
    fn.__name__ = fn.__qualname__ = name
    return fn


PREDICATES = (
    _named("even_seq", lambda e: e.seq % 2 == 0),
    _named("has_step", lambda e: e.step is not None),
    _named("rooted", lambda e: e.ns == ()),
    _named("never", lambda e: False),
)
"""Plain predicates (named, for readable hypothesis output)."""


@st.composite
def filter_specs(draw: st.DrawFn) -> dict[str, Any]:
    """Keyword arguments for ``Channel.subscribe``'s filter: kinds, nodes, tags, ns_prefix, subgraphs, predicate."""
    spec: dict[str, Any] = {}
    if draw(st.booleans()):
        spec["kinds"] = draw(st.sets(st.sampled_from(sorted(KINDS)), max_size=4))
    if draw(st.booleans()):
        spec["nodes"] = draw(st.sets(st.sampled_from(NODES), max_size=2))
    if draw(st.booleans()):
        spec["tags"] = draw(st.sets(st.sampled_from(TAGS), max_size=2))
    if draw(st.booleans()):
        spec["ns_prefix"] = tuple(draw(st.lists(st.sampled_from(NS_PARTS), max_size=2)))
    if draw(st.booleans()):
        spec["subgraphs"] = False
    if draw(st.booleans()):
        spec["predicate"] = draw(st.sampled_from(PREDICATES))
    return spec


def spec_matches(spec: dict[str, Any], event: Event) -> bool:
    """Reference semantics of a filter spec, written independently of ``EventFilter.compile``."""
    if event.terminal:
        return True
    if "kinds" in spec and event.kind not in spec["kinds"]:
        return False
    if "nodes" in spec and event.node not in spec["nodes"]:
        return False
    if "tags" in spec and not set(event.tags) & set(spec["tags"]):
        return False
    prefix = spec.get("ns_prefix", ())
    if spec.get("subgraphs", True):
        if event.ns[: len(prefix)] != prefix:
            return False
    elif event.ns != prefix:
        return False
    predicate = spec.get("predicate")
    return predicate is None or predicate(event)


# -- the wire form (streamflow.redis.codec) --------------------------------------------------------------


def _messages(inner: PayloadStrategy) -> PayloadStrategy:
    from streamflow.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage

    text = st.text(max_size=8)
    return (
        st.builds(HumanMessage, content=text, id=st.none() | ids)
        | st.builds(ToolMessage, content=text, tool_call_id=ids, status=st.sampled_from(["success", "error"]))
        | st.builds(AIMessage, content=text, response_metadata=st.dictionaries(st.text(max_size=4), inner, max_size=2))
        | st.builds(
            AIMessageChunk,
            content=text,
            tool_call_chunks=st.lists(st.fixed_dictionaries({"name": text, "args": text, "index": st.integers(0, 3)})),
        )
        | st.deferred(lambda: chat_messages())
    )


wire_payloads: PayloadStrategy = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=6), inner, max_size=4)
        | st.dictionaries(st.integers() | st.text(max_size=3) | st.tuples(st.integers()), inner, max_size=3)
        | st.dictionaries(st.just("__sf__") | st.text(max_size=3), inner, min_size=1, max_size=3)
        | _messages(inner)
    ),
    max_leaves=12,
)
"""Values the wire form carries exactly: JSON values, tuples, dicts with any hashable keys, chat messages."""


GraphShape = list[list[Any]]
"""The layers of a graph, each a list of nodes: ``"sync"`` (a sync node) or a :data:`GraphShape` (a subgraph).
Every node of a layer follows every node of the layer before it."""


def graph_shapes(max_depth: int = 2) -> st.SearchStrategy[GraphShape]:
    """Graphs of sync nodes and subgraphs, up to three layers of up to three nodes, nested ``max_depth`` deep."""
    node: st.SearchStrategy[Any] = st.just("sync")
    if max_depth > 0:
        node = st.one_of(st.just("sync"), st.just("sync"), graph_shapes(max_depth - 1))
    return st.lists(st.lists(node, min_size=1, max_size=3), min_size=1, max_size=3)


owner_ops = st.lists(
    st.one_of(
        st.tuples(st.just("start"), st.sampled_from(["alice", "bob", "carol"])),
        st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=20)),
    ),
    max_size=30,
)
"""Operations on the runs of three principals: ``("start", owner)``, or ``("cancel", k)``: cancel the ``k``-th
run started so far (modulo their number)."""
# -- requests at the HTTP boundary (tests/test_server_fuzz.py) -------------------------------------------

any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=12)
"""Any text, lone surrogates and control characters included (what ``JSON.parse`` of escapes can make)."""
nasty_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and the infinities included: json.dumps writes them as bare words
    | any_text
    | st.sampled_from(["", "run-1", "a/b", "../x", "é", "\ud800", "x" * 300, "demo", "values"])
)


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


nasty_json: st.SearchStrategy[Any] = st.recursive(
    nasty_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=8,
)
"""JSON values with everything a client can put in them: NaN, huge numbers, lone surrogates, odd keys."""


@st.composite
def request_bodies(draw: st.DrawFn, graphs: list[str]) -> bytes | None:
    """A request body as bytes (None: no body): JSON shaped like the routes' bodies with nasty values in
    it, arbitrary JSON, nesting far beyond any limit, or bytes that are not JSON at all."""
    kind = draw(st.sampled_from(["shaped", "shaped", "shaped", "any", "deep", "bytes", "none"]))
    if kind == "none":
        return None
    if kind == "deep":
        depth = draw(st.sampled_from([63, 64, 65, 200, 470, 971, 5000]))
        return f'{{"graph": "{graphs[0]}", "input": {{"text": {_deep(depth)}}}}}'.encode()
    if kind == "bytes":
        return draw(st.binary(max_size=40) | st.sampled_from([b"\xff\xfe", b"{", b'"\xed\xa0\x80"', b"NaN"]))
    if kind == "any":
        value = draw(nasty_json)
    else:
        field = st.sampled_from(graphs) | nasty_scalars
        run_id = st.none() | nasty_scalars | st.uuids().map(str) | st.text("abc-_.~:/ ", min_size=1, max_size=8)
        config = st.fixed_dictionaries(
            {},
            optional={
                "run_id": run_id,
                "tags": nasty_json,
                "recursion_limit": nasty_scalars,
                "configurable": st.fixed_dictionaries({}, optional={"thread_id": run_id}) | nasty_json,
                "metadata": nasty_json,
            },
        )
        value = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "graph": field,
                    "input": st.fixed_dictionaries({}, optional={"text": nasty_json}) | nasty_json,
                    "config": config | nasty_json,
                    "thread_id": run_id,
                    "metadata": nasty_json,
                    "stream_mode": nasty_json | st.sampled_from(["values", ["updates", "tasks"]]),
                    "command": st.fixed_dictionaries({}, optional={"resume": nasty_json}) | nasty_json,
                },
            )
        )
    if draw(st.booleans()):  # ASCII: lone surrogates as \\uXXXX escapes, NaN/Infinity as bare words
        return json.dumps(value).encode()
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")  # raw surrogate bytes


path_segments = st.sampled_from(
    ["run-1", "t-1", "nope", "%2F", "..", "%ED%A0%80", "%FF", "a%20b", "x" * 300]
) | any_text.map(lambda text: urllib.parse.quote(text.encode("utf-8", "surrogatepass"), safe=""))
"""A path parameter as it appears in a URL (percent-encoded; some encode bytes that are not UTF-8)."""
query_values = any_text.map(
    lambda text: text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
) | st.sampled_from(
    ["values", "updates,tasks", "nope", "-1", "99999999999999999999", "true", "maybe", "running", "0", ""]
)
"""A query parameter value."""
content_types = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded", None]
)
"""A request's Content-Type (None: not sent)."""


# -- chat messages with every field (the LangChain bridge's conversions) -----------------------------------


def contents() -> st.SearchStrategy[Any]:
    """A message's content as langchain-core's: a string, or a list of strings and content-block dicts (text,
    image, reasoning, provider-specific ones, with and without ``index``)."""
    text = st.text(max_size=8)
    block = st.one_of(
        text,
        st.fixed_dictionaries({"type": st.just("text"), "text": text}, optional={"index": st.integers(0, 2)}),
        st.fixed_dictionaries({"type": st.just("image"), "url": text}),
        st.fixed_dictionaries({"type": st.just("image_url"), "image_url": st.fixed_dictionaries({"url": text})}),
        st.fixed_dictionaries({"type": st.just("reasoning"), "reasoning": text}),
        st.fixed_dictionaries({"type": st.just("thinking"), "thinking": text, "signature": text}),
    )
    return text | st.lists(block, max_size=3)


def chat_messages() -> st.SearchStrategy[Any]:
    """streamflow messages of every class with every field they have: list content (content blocks),
    ``additional_kwargs`` and ``response_metadata`` (nested JSON), tool calls and their pieces in langchain-core
    1.x's shapes (``type`` keys included, as langchain-core writes them), a tool message's ``artifact``."""
    from streamflow.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage, ToolMessage

    text = contents()
    opt = st.none() | st.text(min_size=1, max_size=6)
    json_dicts = st.dictionaries(st.text(max_size=4), _json_scalars, max_size=2)
    nested = st.dictionaries(
        st.text(max_size=4), _json_scalars | st.lists(_json_scalars, max_size=2) | json_dicts, max_size=3
    )
    common = {"content": text, "id": opt, "name": opt, "additional_kwargs": nested, "response_metadata": nested}
    calls = st.lists(
        st.fixed_dictionaries({"name": names, "args": json_dicts, "id": names, "type": st.just("tool_call")}),
        max_size=2,
    )
    invalid = st.lists(
        st.fixed_dictionaries(
            {"name": opt, "args": opt, "id": opt, "error": opt, "type": st.just("invalid_tool_call")}
        ),
        max_size=2,
    )
    pieces = st.lists(
        st.fixed_dictionaries(
            {
                "name": opt,
                "args": opt,
                "id": opt,
                "index": st.none() | st.integers(0, 3),
                "type": st.just("tool_call_chunk"),
            }
        ),
        max_size=2,
    )
    counts = st.integers(0, 10_000)
    usage = st.none() | st.builds(
        lambda i, o: {"input_tokens": i, "output_tokens": o, "total_tokens": i + o}, counts, counts
    )
    ai = {**common, "tool_calls": calls, "invalid_tool_calls": invalid, "usage_metadata": usage}
    return (
        st.builds(HumanMessage, **common)
        | st.builds(SystemMessage, **common)
        | st.builds(
            ToolMessage,
            **common,
            tool_call_id=names,
            status=st.sampled_from(["success", "error"]),
            artifact=st.none() | nested | st.lists(_json_scalars, max_size=2),
        )
        | st.builds(AIMessage, **ai)
        | st.builds(AIMessageChunk, **ai, tool_call_chunks=pieces, chunk_position=st.none() | st.just("last"))
    )
