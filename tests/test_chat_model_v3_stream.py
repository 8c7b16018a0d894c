"""A chat model's own v3 stream (``model.stream_events(version="v3")``, ``await
model.astream_events(version="v3")``): the typed projections of one call, read lazily, sync and async; a
model that answers whole; errors; the call inside a run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from streamflow.errors import UnknownStreamModeError
from streamflow.graph import START, MessagesState, StateGraph
from streamflow.messages import AIMessage, AIMessageChunk, BaseMessage
from streamflow.models import FakeChatModel
from streamflow.models.base import BaseChatModel

pytestmark = pytest.mark.anyio

CALL: Any = {"name": "add", "args": {"a": 1, "b": 2}, "id": "call-1", "type": "tool_call"}


def test_the_sync_stream_gives_text_deltas_tool_calls_and_the_finished_message() -> None:
    model = FakeChatModel([AIMessage(content="hello world", tool_calls=[CALL])], chunk_size=4)
    stream = model.stream_events("hi", version="v3")
    assert list(stream.text) == ["hell", "o wo", "rld"]
    assert stream.tool_calls.get() == [CALL]
    output = stream.output
    assert isinstance(output, AIMessage)
    assert (output.content, output.tool_calls, output.id) == ("hello world", [CALL], stream.message_id)
    assert stream.done


def test_iterating_the_sync_stream_gives_the_content_block_protocol_events() -> None:
    model = FakeChatModel(["abcdef"], chunk_size=3)
    events = list(model.stream_events("hi", version="v3"))
    assert [e["event"] for e in events] == [
        "message-start",
        "content-block-start",
        "content-block-delta",
        "content-block-delta",
        "content-block-finish",
        "message-finish",
    ]
    assert [e["delta"]["text"] for e in events if e["event"] == "content-block-delta"] == ["abc", "def"]
    assert events[-2]["content"] == {"type": "text", "text": "abcdef"}


async def test_the_async_stream_is_awaited_then_read_with_async_for() -> None:
    model = FakeChatModel(["one two"], chunk_size=3)
    stream = await model.astream_events("hi", version="v3")
    assert [delta async for delta in stream.text] == ["one", " tw", "o"]
    assert (await stream.output).content == "one two"
    assert await stream.usage is None


async def test_nothing_runs_until_the_stream_is_read() -> None:
    calls = 0

    class Counting(FakeChatModel):
        async def _astream_chunks(self, messages: list[BaseMessage]) -> AsyncIterator[AIMessageChunk]:
            nonlocal calls
            calls += 1
            async for chunk in super()._astream_chunks(messages):
                yield chunk

    model = Counting(["abc"])
    stream = await model.astream_events("hi", version="v3")
    assert calls == 0
    assert (await stream.output).content == "abc"
    assert calls == 1


def test_a_model_that_answers_whole_gives_a_finished_stream() -> None:
    model = FakeChatModel(["whole answer"], disable_streaming=True)
    stream = model.stream_events("hi", version="v3")
    assert stream.output.content == "whole answer"
    assert "".join(stream.text) == "whole answer"


class Failing(BaseChatModel):
    """Streams one chunk, then fails."""

    async def _astream_chunks(self, messages: list[BaseMessage]) -> AsyncIterator[AIMessageChunk]:
        yield AIMessageChunk(content="par")
        raise ConnectionError("provider went away")


def test_a_model_error_reaches_the_reader_after_the_deltas_before_it() -> None:
    stream = Failing().stream_events("hi", version="v3")
    seen: list[str] = []
    with pytest.raises(ConnectionError, match="provider went away"):
        for delta in stream.text:
            seen.append(delta)
    assert seen == ["par"]
    with pytest.raises(ConnectionError):
        stream.output  # noqa: B018


async def test_the_async_stream_raises_the_model_error_on_await() -> None:
    stream = await Failing().astream_events("hi", version="v3")
    with pytest.raises(ConnectionError, match="provider went away"):
        await stream.output


def test_an_unknown_version_is_refused_at_once() -> None:
    with pytest.raises(UnknownStreamModeError, match="v9"):
        FakeChatModel(["x"]).stream_events("hi", version="v9")


def test_the_v2_sync_stream_gives_langchain_event_dicts() -> None:
    events = list(FakeChatModel(["abcdef"], chunk_size=3).stream_events("hi"))
    kinds = [e["event"] for e in events]
    assert kinds == ["on_chat_model_start", "on_chat_model_stream", "on_chat_model_stream", "on_chat_model_end"]
    assert events[-1]["data"]["output"].content == "abcdef"


def test_inside_a_node_the_call_is_one_of_the_run_and_reaches_its_messages_mode() -> None:
    model = FakeChatModel(["from the node"], chunk_size=5)

    def call(state: Any) -> dict[str, Any]:
        return {"messages": [model.stream_events(state["messages"], version="v3").output]}

    graph = StateGraph(MessagesState).add_node("call", call).add_edge(START, "call").compile()
    chunks = list(graph.stream({"messages": [("user", "hi")]}, stream_mode="messages"))
    text = "".join(str(chunk.content) for chunk, _ in chunks if isinstance(chunk, AIMessageChunk))
    assert text == "from the node"
    assert {meta["langgraph_node"] for _, meta in chunks} == {"call"}
    final = graph.invoke({"messages": [("user", "hi")]})
    assert final["messages"][-1].content == "from the node"
