"""``astream_events`` v2: the event sequence of a prompt -> model -> tool graph, its data and parent ids,
every include/exclude filter, custom events, failures, and the sync twin."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamflow.errors import InvalidArgumentError, UnknownStreamModeError
from streamflow.event_stream import EventStreamSpec
from streamflow.graph import END, START, StateGraph, adispatch_custom_event, dispatch_custom_event
from streamflow.messages import AIMessage, AIMessageChunk, HumanMessage, MessagesState, ToolCall, ToolMessage
from streamflow.models import FakeChatModel
from streamflow.tools import ToolNode, tool

CALL: ToolCall = {"name": "add", "args": {"a": 1, "b": 2}, "id": "call-1", "type": "tool_call"}
START_KEYS = ["event", "data", "name", "tags", "run_id", "metadata", "parent_ids"]
END_KEYS = ["event", "data", "run_id", "name", "tags", "metadata", "parent_ids"]
STREAM_KEYS = ["event", "run_id", "name", "tags", "metadata", "data", "parent_ids"]


def keys(event: dict[str, Any]) -> list[str]:
    """LangChain's key order of an event dict: a start's, an end's (and a model token's inside a run, which
    comes from a callback), or a chunk's of a Runnable's output (and a custom event's)."""
    kind = event["event"]
    if kind.endswith("_start"):
        return START_KEYS
    if kind.endswith("_end") or kind == "on_chat_model_stream":
        return END_KEYS
    return STREAM_KEYS


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def fail(a: int) -> int:
    """Always fails."""
    raise ValueError(f"no {a}")


def _graph(*, calls: list[ToolCall] | None = None, model_tags: tuple[str, ...] = ("llm",)) -> Any:
    # the model streams "adding now" as 3 chunks; its tool call is attached to the message afterwards
    model = FakeChatModel(["adding now"], chunk_size=4, tags=model_tags)

    def prompt(state: MessagesState) -> dict[str, Any]:
        return {"messages": [HumanMessage(content="please add", id="h1")]}

    async def call_model(state: MessagesState) -> dict[str, Any]:
        await adispatch_custom_event("thinking", {"step": 1})
        message = await model.ainvoke(state["messages"])
        message.tool_calls = calls if calls is not None else [CALL.copy()]
        return {"messages": [message]}

    return (
        StateGraph(MessagesState)
        .add_node("prompt", prompt)
        .add_node("model", call_model)
        .add_node("tools", ToolNode([add, fail], handle_tool_errors=True))
        .add_edge(START, "prompt")
        .add_edge("prompt", "model")
        .add_edge("model", "tools")
        .add_edge("tools", END)
        .compile()
    )


async def _events(graph: Any, config: dict[str, Any] | None = None, **kwargs: Any) -> list[dict[str, Any]]:
    kwargs.setdefault("version", "v2")
    return [e async for e in graph.astream_events({"messages": []}, config, **kwargs)]


SEQUENCE = [
    ("on_chain_start", "LangGraph"),
    ("on_chain_start", "prompt"),
    ("on_chain_stream", "prompt"),
    ("on_chain_end", "prompt"),
    ("on_chain_stream", "LangGraph"),
    ("on_chain_start", "model"),
    ("on_custom_event", "thinking"),
    ("on_chat_model_start", "FakeChatModel"),
    ("on_chat_model_stream", "FakeChatModel"),
    ("on_chat_model_stream", "FakeChatModel"),
    ("on_chat_model_stream", "FakeChatModel"),
    ("on_chat_model_end", "FakeChatModel"),
    ("on_chain_stream", "model"),
    ("on_chain_end", "model"),
    ("on_chain_stream", "LangGraph"),
    ("on_chain_start", "tools"),
    ("on_tool_start", "add"),
    ("on_tool_end", "add"),
    ("on_chain_stream", "tools"),
    ("on_chain_end", "tools"),
    ("on_chain_stream", "LangGraph"),
    ("on_chain_end", "LangGraph"),
]


@pytest.mark.anyio
async def test_prompt_model_tool_sequence_matches_langgraph() -> None:
    events = await _events(_graph(), {"tags": ["run-tag"], "metadata": {"user": "u1"}})
    assert [(e["event"], e["name"]) for e in events] == SEQUENCE
    assert all(list(e) == keys(e) for e in events)

    root = events[0]["run_id"]
    by_name = {e["name"]: e for e in events if e["event"].endswith("_start") or e["event"] == "on_custom_event"}
    nodes = {n: by_name[n]["run_id"] for n in ("prompt", "model", "tools")}
    assert len({root, *nodes.values(), by_name["FakeChatModel"]["run_id"], by_name["add"]["run_id"]}) == 6
    for e in events:
        expected = {
            "LangGraph": [],
            "prompt": [root],
            "model": [root],
            "tools": [root],
            "thinking": [root],
            "FakeChatModel": [root, nodes["model"]],
            "add": [root, nodes["tools"]],
        }[e["name"]]
        assert e["parent_ids"] == expected, e
    # every event of one run carries that run's id
    for name, run_id in {**nodes, "LangGraph": root}.items():
        assert {e["run_id"] for e in events if e["name"] == name} == {run_id}
    assert by_name["thinking"]["run_id"] == nodes["model"]  # a custom event belongs to its enclosing run


@pytest.mark.anyio
async def test_event_data_tags_and_metadata() -> None:
    events = await _events(_graph(), {"tags": ["run-tag"], "metadata": {"user": "u1"}})
    ev = {(e["event"], e["name"]): e for e in events}
    start = ev[("on_chain_start", "LangGraph")]
    assert start["data"] == {"input": {"messages": []}}
    assert start["tags"] == ["run-tag"] and start["metadata"] == {"user": "u1"}
    final = events[-1]["data"]["output"]["messages"]
    assert [type(m).__name__ for m in final] == ["HumanMessage", "AIMessage", "ToolMessage"]
    assert list(events[-1]["data"]) == ["output"]

    node = ev[("on_chain_start", "model")]
    assert node["tags"] == ["graph:step:2", "run-tag"]
    assert node["metadata"]["user"] == "u1"
    assert node["metadata"]["langgraph_node"] == "model"
    assert node["metadata"]["langgraph_step"] == 2
    assert node["metadata"]["langgraph_triggers"] == ("branch:to:model",)
    assert node["metadata"]["langgraph_path"] == ("__pregel_pull", "model")
    assert node["metadata"]["langgraph_checkpoint_ns"] == f"model:{node['run_id']}"
    assert [m.content for m in node["data"]["input"]["messages"]] == ["please add"]
    end = ev[("on_chain_end", "model")]
    assert set(end["data"]) == {"output", "input"}
    assert end["data"]["output"]["messages"][0].tool_calls == [CALL]
    stream = next(e for e in events if e["event"] == "on_chain_stream" and e["name"] == "prompt")
    assert stream["data"] == {"chunk": {"messages": [HumanMessage(content="please add", id="h1")]}}
    root_streams = [e["data"]["chunk"] for e in events if e["event"] == "on_chain_stream" and e["name"] == "LangGraph"]
    assert [list(c) for c in root_streams] == [["prompt"], ["model"], ["tools"]]

    chat_start = ev[("on_chat_model_start", "FakeChatModel")]
    assert chat_start["tags"] == ["seq:step:1", "run-tag", "llm"]
    assert chat_start["metadata"]["ls_provider"] == "fakechatmodel"
    assert chat_start["metadata"]["langgraph_node"] == "model"
    assert "tags" not in chat_start["metadata"]
    assert [[m.content for m in batch] for batch in chat_start["data"]["input"]["messages"]] == [["please add"]]
    chunks = [e["data"]["chunk"] for e in events if e["event"] == "on_chat_model_stream"]
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    assert "".join(c.content for c in chunks) == "adding now"
    chat_end = ev[("on_chat_model_end", "FakeChatModel")]
    assert isinstance(chat_end["data"]["output"], AIMessage)
    assert chat_end["data"]["output"].content == "adding now"
    assert chat_end["data"]["input"] == chat_start["data"]["input"]

    assert ev[("on_tool_start", "add")]["data"] == {"input": {"a": 1, "b": 2}}
    assert ev[("on_tool_start", "add")]["tags"] == ["seq:step:1", "run-tag"]
    tool_end = ev[("on_tool_end", "add")]["data"]
    assert tool_end["input"] == {"a": 1, "b": 2}
    # as LangChain's: a tool run for a model's tool call ends with its ToolMessage
    assert isinstance(tool_end["output"], ToolMessage)
    assert (tool_end["output"].content, tool_end["output"].tool_call_id) == ("3", "call-1")
    assert ev[("on_custom_event", "thinking")]["data"] == {"step": 1}
    assert ev[("on_custom_event", "thinking")]["metadata"]["langgraph_node"] == "model"


@pytest.mark.anyio
async def test_a_failing_tool_gives_on_tool_error_and_the_agent_goes_on() -> None:
    events = await _events(_graph(calls=[{"name": "fail", "args": {"a": 7}, "id": "call-f", "type": "tool_call"}]))
    (error,) = [e for e in events if e["event"] == "on_tool_error"]
    assert error["name"] == "fail"
    assert error["data"] == {
        "error": "no 7",
        "error_type": "builtins.ValueError",
        "input": {"a": 7},
        "tool_call_id": "call-f",
    }
    assert not [e for e in events if e["event"] == "on_tool_end"]
    assert events[-1]["event"] == "on_chain_end"


def _names(events: list[dict[str, Any]]) -> set[str]:
    return {e["name"] for e in events}


FILTER_CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({"include_names": ["model", "add"]}, {"model", "add"}),
    ({"include_types": ["chat_model"]}, {"FakeChatModel"}),
    ({"include_types": ["tool"]}, {"add"}),
    ({"include_types": ["thinking"]}, {"thinking"}),  # a custom event's type is its name
    ({"include_types": ["chain"]}, {"LangGraph", "prompt", "model", "tools"}),
    ({"include_tags": ["llm"]}, {"FakeChatModel"}),
    ({"include_tags": ["graph:step:3"]}, {"tools"}),
    ({"include_names": ["prompt"], "include_tags": ["llm"]}, {"prompt", "FakeChatModel"}),
    ({"exclude_names": ["LangGraph", "prompt"]}, {"model", "tools", "thinking", "FakeChatModel", "add"}),
    ({"exclude_types": ["chain"]}, {"thinking", "FakeChatModel", "add"}),
    ({"exclude_types": ["chat_model", "tool", "thinking"]}, {"LangGraph", "prompt", "model", "tools"}),
    ({"exclude_tags": ["llm"]}, {"LangGraph", "prompt", "model", "tools", "thinking", "add"}),
    ({"include_types": ["chain"], "exclude_names": ["LangGraph"]}, {"prompt", "model", "tools"}),
    (
        {"include_tags": ["run-tag"], "exclude_tags": ["llm"]},
        {"LangGraph", "prompt", "model", "tools", "thinking", "add"},
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("filters", "names"), FILTER_CASES)
async def test_include_and_exclude_filters(filters: dict[str, Any], names: set[str]) -> None:
    everything = await _events(_graph(), {"tags": ["run-tag"]})
    events = await _events(_graph(), {"tags": ["run-tag"]}, **filters)
    assert _names(events) == names
    # a filter keeps whole runs in their order, never parts of one
    kept = [(e["event"], e["name"]) for e in everything if e["name"] in names]
    assert [(e["event"], e["name"]) for e in events] == kept


@pytest.mark.anyio
async def test_include_types_alone_subscribes_to_fewer_kinds() -> None:
    spec = EventStreamSpec.parse(include_types=["chat_model"])
    assert {k.kind for k in spec.kinds} == {"chat_model_started", "chat_model_token", "chat_model_finished"}
    runnable_types = ["chain", "tool", "prompt", "parser", "llm"]
    assert {k.kind for k in EventStreamSpec.parse(exclude_types=runnable_types).kinds} == {
        "chat_model_started",
        "chat_model_token",
        "chat_model_finished",
        "custom_event",
    }


@pytest.mark.anyio
async def test_unknown_version_and_bad_filters_are_refused_before_the_run_starts() -> None:
    graph = _graph()
    with pytest.raises(UnknownStreamModeError, match=r"unknown astream_events version 'v4'; valid versions: v1, v2"):
        await _events(graph, version="v4")
    with pytest.raises(InvalidArgumentError, match=r"include_names must be a list of strings, got the string 'x'"):
        await _events(graph, include_names="x")
    with pytest.raises(InvalidArgumentError, match=r"exclude_tags must be a list of strings; \[3\] are not"):
        await _events(graph, exclude_tags=["a", 3])
    with pytest.raises(UnknownStreamModeError):
        graph.stream_events({"messages": []}, version="v4")


def test_sync_stream_events_yields_the_same_sequence() -> None:
    events = list(_graph().stream_events({"messages": []}, version="v2"))
    assert [(e["event"], e["name"]) for e in events] == SEQUENCE


@pytest.mark.anyio
async def test_a_failing_node_ends_the_events_and_raises_its_exception() -> None:
    async def broken(state: MessagesState) -> dict[str, Any]:
        raise KeyError("gone")

    graph = StateGraph(MessagesState).add_node("broken", broken).add_edge(START, "broken").compile()
    seen: list[str] = []
    with pytest.raises(KeyError, match="gone"):
        async for e in graph.astream_events({"messages": []}, version="v2"):
            seen.append(e["event"])
    assert seen == ["on_chain_start", "on_chain_start"]


@pytest.mark.anyio
async def test_breaking_out_cancels_the_run() -> None:
    started = anyio.Event()

    async def slow(state: MessagesState) -> dict[str, Any]:
        started.set()
        await anyio.sleep_forever()
        return {}

    graph = StateGraph(MessagesState).add_node("slow", slow).add_edge(START, "slow").compile()
    async with graph.start({"messages": []}) as run:
        view = run.stream_events()
        async for e in view:
            if e["event"] == "on_chain_start" and e["name"] == "slow":
                break
        await view.aclose()
        await started.wait()
        run.cancel()
        await run.wait()
        assert run.status == "cancelled"


@pytest.mark.anyio
async def test_run_stream_events_next_to_other_views_of_one_run() -> None:
    graph = _graph()
    async with graph.start({"messages": []}) as run:
        events = run.stream_events(include_types=["tool"])
        updates = run.stream("updates")
        await run.result()
        got = [(e["event"], e["name"]) async for e in events]
        nodes = [next(iter(u)) async for u in updates]
    assert got == [("on_tool_start", "add"), ("on_tool_end", "add")]
    assert nodes == ["prompt", "model", "tools"]


@pytest.mark.anyio
async def test_subgraph_nodes_are_chains_under_their_subgraph_task() -> None:
    async def inner(state: MessagesState) -> dict[str, Any]:
        return {"messages": [AIMessage(content="in", id="i1")]}

    sub = StateGraph(MessagesState).add_node("inner", inner).add_edge(START, "inner").compile()
    graph = StateGraph(MessagesState).add_node("outer", sub).add_edge(START, "outer").compile()
    events = await _events(graph)
    assert [(e["event"], e["name"]) for e in events] == [
        ("on_chain_start", "LangGraph"),
        ("on_chain_start", "outer"),
        ("on_chain_start", "inner"),
        ("on_chain_stream", "inner"),
        ("on_chain_end", "inner"),
        ("on_chain_stream", "outer"),
        ("on_chain_end", "outer"),
        ("on_chain_stream", "LangGraph"),
        ("on_chain_end", "LangGraph"),
    ]
    root, outer = events[0]["run_id"], events[1]["run_id"]
    assert events[2]["parent_ids"] == [root, outer]
    assert events[2]["metadata"]["langgraph_checkpoint_ns"] == f"outer:{outer}|inner:{events[2]['run_id']}"


def test_dispatch_custom_event_refuses_bad_names_and_calls_outside_a_run() -> None:
    from streamflow.errors import NotInRunError

    with pytest.raises(NotInRunError):
        dispatch_custom_event("x", 1)

    def node(state: MessagesState) -> dict[str, Any]:
        dispatch_custom_event("", 1)
        return {}

    graph = StateGraph(MessagesState).add_node("n", node).add_edge(START, "n").compile()
    with pytest.raises(InvalidArgumentError, match="non-empty string name"):
        graph.invoke({"messages": []})


def test_custom_event_from_a_sync_node_in_a_worker_thread() -> None:
    def node(state: MessagesState) -> dict[str, Any]:
        dispatch_custom_event("progress", {"done": 1})
        dispatch_custom_event("progress", {"done": 2})
        return {}

    graph = StateGraph(MessagesState).add_node("n", node).add_edge(START, "n").compile()
    events = list(graph.stream_events({"messages": []}, include_types=["progress"]))
    assert [(e["event"], e["data"]) for e in events] == [
        ("on_custom_event", {"done": 1}),
        ("on_custom_event", {"done": 2}),
    ]


_NAMES = ["LangGraph", "prompt", "model", "tools", "thinking", "FakeChatModel", "add", "other"]
_TYPES = ["chain", "chat_model", "tool", "thinking", "other"]
_TAGS = ["run-tag", "llm", "graph:step:1", "graph:step:2", "graph:step:3", "other"]
_TYPE_OF = {"on_chain": "chain", "on_chat_model": "chat_model", "on_tool": "tool"}


def _reference(event: dict[str, Any], filters: dict[str, list[str] | None]) -> bool:
    """LangChain's ``_RootEventFilter`` rules, written out plainly."""
    kind = event["name"] if event["event"] == "on_custom_event" else _TYPE_OF[event["event"].rsplit("_", 1)[0]]
    inc_names, inc_types, inc_tags = filters["include_names"], filters["include_types"], filters["include_tags"]
    keep = inc_names is None and inc_types is None and inc_tags is None
    keep = keep or (inc_names is not None and event["name"] in inc_names)
    keep = keep or (inc_types is not None and kind in inc_types)
    keep = keep or (inc_tags is not None and any(t in inc_tags for t in event["tags"]))
    if filters["exclude_names"] is not None and event["name"] in filters["exclude_names"]:
        return False
    if filters["exclude_types"] is not None and kind in filters["exclude_types"]:
        return False
    if filters["exclude_tags"] is not None and any(t in filters["exclude_tags"] for t in event["tags"]):
        return False
    return keep


def _maybe(values: list[str]) -> Any:
    return st.none() | st.lists(st.sampled_from(values), max_size=3, unique=True)


def test_any_filter_combination_keeps_what_langchains_rules_keep() -> None:
    everything = anyio.run(lambda: _events(_graph(), {"tags": ["run-tag"]}))

    @settings(max_examples=60, deadline=None)
    @given(
        st.fixed_dictionaries(
            {
                "include_names": _maybe(_NAMES),
                "include_types": _maybe(_TYPES),
                "include_tags": _maybe(_TAGS),
                "exclude_names": _maybe(_NAMES),
                "exclude_types": _maybe(_TYPES),
                "exclude_tags": _maybe(_TAGS),
            }
        )
    )
    def check(filters: dict[str, list[str] | None]) -> None:
        got = anyio.run(lambda: _events(_graph(), {"tags": ["run-tag"]}, **filters))
        expected = [e for e in everything if _reference(e, filters)]
        assert [(e["event"], e["name"], e["tags"]) for e in got] == [
            (e["event"], e["name"], e["tags"]) for e in expected
        ]

    check()
