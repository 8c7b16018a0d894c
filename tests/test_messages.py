"""Messages: chunk addition, tool-call merging, the add_messages reducer, dict input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamflow.errors import InvalidArgumentError
from streamflow.graph import START, StateGraph
from streamflow.messages import (
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    MessagesState,
    SystemMessage,
    ToolMessage,
    add_messages,
    coerce_message,
)


@given(st.lists(st.text(max_size=5), min_size=1, max_size=20))
def test_chunk_concatenation_equals_the_whole_text(pieces: list[str]) -> None:
    total = AIMessageChunk(content=pieces[0], id="m1")
    for piece in pieces[1:]:
        total = total + AIMessageChunk(content=piece)
    assert total.content == "".join(pieces)
    assert total.id == "m1"
    assert total.to_message() == AIMessage(content="".join(pieces), id="m1")


def test_tool_call_chunks_merge_by_index_into_tool_calls() -> None:
    parts = [
        AIMessageChunk(tool_call_chunks=[{"name": "add", "args": '{"a": ', "id": "c1", "index": 0}]),
        AIMessageChunk(tool_call_chunks=[{"name": None, "args": "1, ", "id": None, "index": 0}]),
        AIMessageChunk(tool_call_chunks=[{"name": "look", "args": '{"q": "x"}', "id": "c2", "index": 1}]),
        AIMessageChunk(tool_call_chunks=[{"name": None, "args": '"b": 2}', "id": None, "index": 0}]),
    ]
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    message = total.to_message()
    assert message.tool_calls == [
        {"name": "add", "args": {"a": 1, "b": 2}, "id": "c1", "type": "tool_call"},
        {"name": "look", "args": {"q": "x"}, "id": "c2", "type": "tool_call"},
    ]
    assert message.invalid_tool_calls == []


def test_malformed_tool_call_json_is_reported_not_raised() -> None:
    chunk = AIMessageChunk(tool_call_chunks=[{"name": "add", "args": '{"a": 1', "id": "c1", "index": 0}])
    message = chunk.to_message()
    assert message.tool_calls == []
    assert message.invalid_tool_calls[0]["name"] == "add"
    assert message.invalid_tool_calls[0]["args"] == '{"a": 1'
    assert message.invalid_tool_calls[0]["error"]


def test_add_messages_appends_and_replaces_by_id() -> None:
    first = add_messages([], [HumanMessage(content="hi", id="1"), AIMessage(content="hello", id="2")])
    assert [m.content for m in first] == ["hi", "hello"]
    second = add_messages(first, [AIMessage(content="hello again", id="2"), ToolMessage(content="ok")])
    assert [m.content for m in second] == ["hi", "hello again", "ok"]
    assert all(m.id for m in second)


def test_messages_accepted_as_dicts_and_strings() -> None:
    assert coerce_message({"role": "user", "content": "hi"}) == HumanMessage(content="hi")
    assert coerce_message({"role": "system", "content": "be brief"}) == SystemMessage(content="be brief")
    assert isinstance(coerce_message({"role": "assistant", "content": "x"}), AIMessage)
    assert coerce_message("plain") == HumanMessage(content="plain")
    with pytest.raises(InvalidArgumentError, match="allowed roles"):
        coerce_message({"role": "robot", "content": "x"})


def test_messages_state_in_a_graph() -> None:
    def reply(state: MessagesState) -> dict[str, list[AIMessage]]:
        return {"messages": [AIMessage(content=f"you said {state['messages'][-1].content}")]}

    graph = StateGraph(MessagesState).add_node("reply", reply).add_edge(START, "reply").compile()
    out = graph.invoke({"messages": [{"role": "user", "content": "hi"}]})
    assert [type(m).__name__ for m in out["messages"]] == ["HumanMessage", "AIMessage"]
    assert out["messages"][-1].content == "you said hi"
