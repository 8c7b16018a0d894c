"""Messages: chunk addition, tool-call merging, the add_messages reducer, dict, tuple and string input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamflow.errors import InvalidArgumentError
from streamflow.graph import START, StateGraph
from streamflow.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    MessagesState,
    SystemMessage,
    ToolMessage,
    add_messages,
    coerce_message,
)
from streamflow.models.fake import FakeChatModel


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


def test_content_may_be_passed_positionally() -> None:
    call = {"name": "add", "args": {"a": 1}, "id": "c1", "type": "tool_call"}
    message = AIMessage("", tool_calls=[call], id="m1")  # type: ignore[list-item]
    assert (message.content, message.tool_calls, message.id) == ("", [call], "m1")
    assert HumanMessage("hi") == HumanMessage(content="hi")
    assert ToolMessage("3", tool_call_id="c1").tool_call_id == "c1"
    assert (AIMessageChunk("a") + AIMessageChunk("b")).content == "ab"


def test_role_tuples_become_messages() -> None:
    assert coerce_message(("user", "hi")) == HumanMessage("hi")
    assert coerce_message(("human", "hi")) == HumanMessage("hi")
    assert coerce_message(("ai", "yo")) == AIMessage("yo")
    assert coerce_message(("assistant", "yo")) == AIMessage("yo")
    assert coerce_message(("system", "be brief")) == SystemMessage("be brief")
    assert coerce_message(("developer", "be brief")) == SystemMessage("be brief")
    merged = add_messages([("user", "a")], ("ai", "b"))
    assert [(m.type, m.content) for m in merged] == [("human", "a"), ("ai", "b")]


@pytest.mark.parametrize(
    ("item", "match"),
    [
        (("tool", "3"), "tool_call_id"),
        ({"role": "tool", "content": "3"}, "tool_call_id"),
        (("robot", "x"), "allowed roles"),
        ((1, "x"), "allowed roles"),
        (("user", "a", "b"), r"\(role, content\)"),
        (3, "cannot make a message"),
    ],
)
def test_bad_message_likes_are_refused_clearly(item: Any, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        coerce_message(item)


def test_tool_call_chunks_without_index_stay_separate_calls() -> None:
    first = AIMessageChunk(tool_call_chunks=[{"name": "a", "args": "{}", "id": "c1", "index": None}])
    second = AIMessageChunk(tool_call_chunks=[{"name": "b", "args": '{"x": 1}', "id": "c2", "index": None}])
    message = (first + second).to_message()
    assert [(c["name"], c["args"], c["id"]) for c in message.tool_calls] == [("a", {}, "c1"), ("b", {"x": 1}, "c2")]


def test_lc_string_indexes_merge_like_integers() -> None:
    first = AIMessageChunk(tool_call_chunks=[{"name": "a", "args": '{"x": ', "id": "c1", "index": "lc_0"}])
    second = AIMessageChunk(tool_call_chunks=[{"name": None, "args": "1}", "id": None, "index": "lc_0"}])
    assert (first + second).to_message().tool_calls == [
        {"name": "a", "args": {"x": 1}, "id": "c1", "type": "tool_call"}
    ]


class _Recording(FakeChatModel):
    seen: list[BaseMessage]

    async def _astream_chunks(self, messages: list[BaseMessage]) -> AsyncIterator[AIMessageChunk]:
        self.seen = messages
        async for chunk in super()._astream_chunks(messages):
            yield chunk


def test_chat_model_input_takes_role_tuples_and_strings() -> None:
    model = _Recording(["ok"])
    assert model.invoke([("system", "be brief"), ("user", "hi"), "plain"]).content == "ok"
    assert model.seen == [SystemMessage("be brief"), HumanMessage("hi"), HumanMessage("plain")]


def test_usage_metadata_is_summed_and_kept_by_to_message() -> None:
    first = AIMessageChunk("a", usage_metadata={"input_tokens": 2, "output_tokens": 1, "total_tokens": 3})
    second = AIMessageChunk("b", usage_metadata={"output_tokens": 1, "output_token_details": {"reasoning": 1}})
    total = first + second + AIMessageChunk("c")
    expected = {"input_tokens": 2, "output_tokens": 2, "total_tokens": 3, "output_token_details": {"reasoning": 1}}
    assert total.usage_metadata == expected
    assert total.to_message().usage_metadata == expected
    assert (AIMessageChunk("x") + AIMessageChunk("y")).usage_metadata is None
