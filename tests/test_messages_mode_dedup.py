"""The ``messages`` mode beyond tokens: node-returned messages once, streamed messages never twice, subgraphs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamflow.events import Event
from streamflow.graph import START, CompiledStateGraph, StateGraph
from streamflow.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    MessagesState,
    ToolCall,
    ToolMessage,
    merge_chunks,
)
from streamflow.models import FakeChatModel
from streamflow.modes import ViewSpec
from streamflow.tools import create_react_agent, tool


def _chain(*nodes: tuple[str, Any]) -> CompiledStateGraph:
    builder = StateGraph(MessagesState)
    previous = START
    for name, fn in nodes:
        builder.add_node(name, fn)
        builder.add_edge(previous, name)
        previous = name
    return builder.compile()


def _whole(items: list[tuple[BaseMessage, dict[str, Any]]]) -> list[BaseMessage]:
    return [m for m, _ in items if not isinstance(m, AIMessageChunk)]


def test_messages_a_node_returns_without_a_model_are_emitted_once_whole_with_node_metadata() -> None:
    def prompt(state: MessagesState) -> dict[str, Any]:
        return {"messages": [HumanMessage(content="hi", id="h1"), AIMessage(content="canned", id="a0")]}

    graph = _chain(("prompt", prompt))
    items = list(graph.stream({"messages": []}, {"metadata": {"user": "u1"}}, stream_mode="messages"))
    assert [(type(m).__name__, m.content, m.id) for m, _ in items] == [
        ("HumanMessage", "hi", "h1"),
        ("AIMessage", "canned", "a0"),
    ]
    meta = items[0][1]
    assert meta["user"] == "u1"
    assert meta["langgraph_node"] == "prompt"
    assert meta["langgraph_step"] == 1
    assert meta["langgraph_triggers"] == ("branch:to:prompt",)
    assert meta["langgraph_path"] == ("__pregel_pull", "prompt")
    assert meta["langgraph_checkpoint_ns"].startswith("prompt:")


def test_a_message_from_the_node_input_returned_again_is_not_emitted() -> None:
    def echo(state: MessagesState) -> dict[str, Any]:
        return {"messages": [state["messages"][0]]}

    graph = _chain(("echo", echo))
    assert list(graph.stream({"messages": [HumanMessage(content="hi", id="h1")]}, stream_mode="messages")) == []


def test_a_message_streamed_as_tokens_is_not_emitted_again_when_its_node_returns_it() -> None:
    text = "a streamed answer"
    model = FakeChatModel([text], chunk_size=3)

    def call(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    graph = _chain(("call", call))
    items = list(graph.stream({"messages": [HumanMessage(content="go")]}, stream_mode="messages"))
    assert all(isinstance(m, AIMessageChunk) for m, _ in items)
    assert "".join(m.content for m, _ in items) == text
    assert len({m.id for m, _ in items}) == 1


def test_a_nostream_model_message_is_emitted_once_whole_when_its_node_returns_it() -> None:
    quiet = FakeChatModel(["quiet answer"], tags=["nostream"])

    def call(state: MessagesState) -> dict[str, Any]:
        return {"messages": [quiet.invoke(state["messages"])]}

    graph = _chain(("call", call))
    items = list(graph.stream({"messages": [HumanMessage(content="go")]}, stream_mode="messages"))
    assert [(type(m).__name__, m.content) for m, _ in items] == [("AIMessage", "quiet answer")]
    assert items[0][1]["langgraph_node"] == "call"


def test_agent_messages_tokens_then_tool_messages_then_tokens_without_duplicates() -> None:
    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    call: ToolCall = {"name": "add", "args": {"a": 2, "b": 3}, "id": "call-1", "type": "tool_call"}
    model = FakeChatModel([AIMessage(content="let me add", tool_calls=[call]), "2 + 3 = 5"], chunk_size=4)
    agent = create_react_agent(model, [add])
    items = list(agent.stream({"messages": [{"role": "user", "content": "2+3?"}]}, stream_mode="messages"))
    whole = _whole(items)
    assert [(type(m).__name__, m.content) for m in whole] == [("ToolMessage", "5")]
    assert isinstance(whole[0], ToolMessage) and whole[0].tool_call_id == "call-1"
    chunks = [m for m, _ in items if isinstance(m, AIMessageChunk)]
    by_id: dict[str | None, list[AIMessageChunk]] = {}
    for c in chunks:
        by_id.setdefault(c.id, []).append(c)
    assert len(by_id) == 2
    first, second = (merge_chunks(group).to_message() for group in by_id.values())
    assert first.content == "let me add" and first.tool_calls == [call]
    assert second.content == "2 + 3 = 5"
    final = agent.invoke({"messages": [{"role": "user", "content": "2+3?"}]})["messages"]
    assert [m.content for m in final[1:]] == ["let me add", "5", "2 + 3 = 5"]


def test_a_model_call_that_streams_no_chunk_is_emitted_whole_once() -> None:
    class Silent(FakeChatModel):
        async def _astream_chunks(self, messages: list[BaseMessage]) -> Any:
            return
            yield

    model = Silent(["unused"])

    async def call(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    graph = _chain(("call", call))
    items = list(graph.stream({"messages": [HumanMessage(content="go")]}, stream_mode="messages"))
    assert [(type(m).__name__, m.content) for m, _ in items] == [("AIMessage", "")]


def _subgraph_parent(model: FakeChatModel) -> Any:
    async def inner_call(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    def inner_note(state: MessagesState) -> dict[str, Any]:
        return {"messages": [AIMessage(content="note from the subgraph", id="note-1")]}

    sub = _chain(("inner_call", inner_call), ("inner_note", inner_note))
    return _chain(("outer", sub))


def test_subgraph_tokens_arrive_with_their_namespace_when_subgraphs_is_true() -> None:
    graph = _subgraph_parent(FakeChatModel(["deep tokens"], chunk_size=4))
    items = list(graph.stream({"messages": [HumanMessage(content="go")]}, stream_mode="messages", subgraphs=True))
    namespaces = {ns for ns, _ in items}
    assert len(namespaces) == 1
    (ns,) = namespaces
    assert len(ns) == 1 and ns[0].startswith("outer:")
    tokens = [m for _, (m, _meta) in items if isinstance(m, AIMessageChunk)]
    assert "".join(t.text for t in tokens) == "deep tokens"
    whole = [m for _, (m, _meta) in items if not isinstance(m, AIMessageChunk)]
    # the note, once, from the inner node; the outer node returning the subgraph's output repeats nothing
    assert [(m.content, m.id) for m in whole] == [("note from the subgraph", "note-1")]
    meta = next(meta for _, (m, meta) in items if isinstance(m, AIMessageChunk))
    assert meta["langgraph_node"] == "inner_call"
    assert meta["langgraph_checkpoint_ns"].startswith(ns[0] + "|inner_call:")


def test_without_subgraphs_the_subgraph_messages_arrive_whole_once_from_the_outer_node() -> None:
    graph = _subgraph_parent(FakeChatModel(["deep tokens"], chunk_size=4))
    items = list(graph.stream({"messages": [HumanMessage(content="go")]}, stream_mode="messages"))
    assert [(type(m).__name__, m.content) for m, _ in items] == [
        ("AIMessage", "deep tokens"),
        ("AIMessage", "note from the subgraph"),
    ]
    assert {meta["langgraph_node"] for _, meta in items} == {"outer"}


@pytest.mark.anyio
async def test_two_messages_views_of_one_run_each_get_every_message() -> None:
    model = FakeChatModel(["shared"], chunk_size=2)

    async def call(state: MessagesState) -> dict[str, Any]:
        note = AIMessage(content="note", id="n1")
        return {"messages": [await model.ainvoke(state["messages"]), note]}

    graph = _chain(("call", call))
    async with graph.start({"messages": [HumanMessage(content="go")]}) as run:
        first = run.stream("messages")
        second = run.stream("messages")
        await run.result()
        got = [[(type(m).__name__, m.content) async for m, _ in view] for view in (first, second)]
    assert (
        got[0]
        == got[1]
        == [("AIMessageChunk", "sh"), ("AIMessageChunk", "ar"), ("AIMessageChunk", "ed"), ("AIMessage", "note")]
    )


def test_replayed_events_projected_by_a_view_spec_give_the_same_items() -> None:
    def prompt(state: MessagesState) -> dict[str, Any]:
        return {"messages": [HumanMessage(content="a", id="x1"), HumanMessage(content="b", id="x2")]}

    graph = _chain(("prompt", prompt))
    live = list(graph.stream({"messages": []}, stream_mode=["messages", "updates"]))

    async def events() -> list[Event]:
        async with graph.start({"messages": []}) as run:
            await run.result()
            return run.events()

    import anyio

    replayed = list(ViewSpec.parse(["messages", "updates"]).items(anyio.run(events)))
    assert [(mode, type(c).__name__) for mode, c in replayed] == [(mode, type(c).__name__) for mode, c in live]
    assert [c[0].content for mode, c in replayed if mode == "messages"] == ["a", "b"]


_texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
_args = st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5) | st.booleans(), max_size=3)


@settings(max_examples=40, deadline=None)
@given(text=_texts, size=st.integers(1, 7), args=st.lists(_args, max_size=2))
def test_streamed_chunks_add_up_to_the_final_message_and_it_is_never_repeated(
    text: str, size: int, args: list[dict[str, Any]]
) -> None:
    calls: list[ToolCall] = [
        {"name": f"tool{i}", "args": a, "id": f"call-{i}", "type": "tool_call"} for i, a in enumerate(args)
    ]
    model = FakeChatModel([AIMessage(content=text, tool_calls=calls)], chunk_size=size)

    def call(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    graph = _chain(("call", call))
    items = list(graph.stream({"messages": [HumanMessage(content="go")]}, stream_mode=["messages", "values"]))
    emitted = [m for mode, (m, _meta) in (x for x in items if x[0] == "messages")]
    final = items[-1][1]["messages"][-1]
    expected_chunks = -(-len(text) // size) + sum(max(1, -(-len(json.dumps(a)) // size)) for a in args)
    if expected_chunks == 0:  # nothing was streamed: the message comes once, whole
        assert [(type(m), m.id) for m in emitted] == [(AIMessage, final.id)]
        return
    chunks = emitted
    assert all(isinstance(c, AIMessageChunk) for c in chunks)  # nothing emitted whole after its tokens
    assert len(chunks) == expected_chunks
    total = merge_chunks(chunks).to_message()
    assert total.content == final.content == text
    assert total.tool_calls == final.tool_calls == calls
    if len(chunks) > 1:
        folded = chunks[0]
        for c in chunks[1:]:
            folded = folded + c
        assert folded.to_message() == total


def test_chunks_share_one_unchangeable_empty_list_until_given_their_own() -> None:
    a, b = AIMessageChunk(content="a"), AIMessageChunk(content="b")
    assert a.tool_calls == a.tool_call_chunks == a.invalid_tool_calls == []
    assert a.tool_call_chunks is b.tool_call_chunks
    with pytest.raises(TypeError, match="assign a new list"):
        a.tool_call_chunks.append({"index": 0})
    a.tool_call_chunks = [{"index": 0, "args": "{}", "name": "f", "id": "c"}]
    assert b.tool_call_chunks == []
    total = (a + b).to_message()
    assert total.tool_calls == [{"name": "f", "args": {}, "id": "c", "type": "tool_call"}]
    total.tool_calls.append(total.tool_calls[0])  # whole messages have lists of their own
    assert len(total.tool_calls) == 2
