"""Chat models stream tokens into the ``messages`` mode, from sync and async nodes (scripted model)."""

from __future__ import annotations

import re
from typing import Any, TypedDict

import anyio
import pytest

from streamflow.graph import START, StateGraph
from streamflow.messages import AIMessage, AIMessageChunk, ToolCall
from streamflow.models import FakeChatModel


class State(TypedDict, total=False):
    topic: str
    joke: str
    poem: str


def _joke_graph(model: FakeChatModel) -> Any:
    def generate_joke(state: State) -> dict[str, str]:
        response = model.invoke([{"role": "user", "content": f"Generate a joke about {state['topic']}"}])
        return {"joke": response.text}

    return StateGraph(State).add_node("generate_joke", generate_joke).add_edge(START, "generate_joke").compile()


def test_sync_node_tokens_concatenate_to_the_final_message() -> None:
    text = "Why did the ice cream go to therapy? Too many sprinkles."
    graph = _joke_graph(FakeChatModel([text], chunk_size=3))
    items = list(graph.stream({"topic": "ice cream"}, stream_mode=["messages", "values"]))
    chunks = [c for mode, (c, _meta) in ((m, x) for m, x in items if m == "messages")]
    assert len(chunks) > 5
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    assert "".join(c.content for c in chunks) == text
    assert items[-1] == ("values", {"topic": "ice cream", "joke": text})
    _, meta = next(x for m, x in items if m == "messages")
    assert meta["langgraph_node"] == "generate_joke"
    assert meta["langgraph_step"] == 1
    assert meta["langgraph_triggers"] == ("branch:to:generate_joke",)
    assert meta["ls_provider"] == "fakechatmodel"


@pytest.mark.anyio
async def test_filter_tokens_by_model_tags_from_an_async_node() -> None:
    joke_model = FakeChatModel(["ha ha"], tags=["joke"])
    poem_model = FakeChatModel(["roses are red"], tags=["poem"])

    async def dual_generation(state: State, config: dict[str, Any]) -> dict[str, str]:
        joke = await joke_model.ainvoke([{"role": "user", "content": "joke"}], config)
        poem = await poem_model.ainvoke([{"role": "user", "content": "poem"}], config)
        return {"joke": joke.text, "poem": poem.text}

    graph = StateGraph(State).add_node("dual_generation", dual_generation).add_edge(START, "dual_generation").compile()
    joke_text = ""
    async for chunk, metadata in graph.astream({"topic": "cats"}, stream_mode="messages"):
        if chunk.content and metadata["tags"] == ["joke"]:
            joke_text += chunk.content
    assert joke_text == "ha ha"


def test_nostream_tag_suppresses_tokens() -> None:
    graph = _joke_graph(FakeChatModel(["quiet"], tags=["nostream"]))
    assert list(graph.stream({"topic": "x"}, stream_mode="messages")) == []
    assert graph.invoke({"topic": "x"})["joke"] == "quiet"


def test_tool_call_chunks_from_the_model_merge_into_tool_calls() -> None:
    call: ToolCall = {"name": "add", "args": {"a": 1, "b": 22}, "id": "call-1", "type": "tool_call"}
    model = FakeChatModel([AIMessage(content="", tool_calls=[call])], chunk_size=3)
    chunks = list(model.stream("add them"))
    assert len(chunks) > 1
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    assert total.to_message().tool_calls == [call]


class _Unmarked(FakeChatModel):
    """A model whose source does not mark its final chunk (as most providers' streams)."""

    async def _astream_chunks(self, messages: list[Any]) -> Any:
        async for chunk in super()._astream_chunks(messages):
            chunk.chunk_position = None
            yield chunk


def _positions(chunks: list[AIMessageChunk]) -> list[tuple[str, str | None]]:
    return [(c.text, c.chunk_position) for c in chunks]


@pytest.mark.anyio
async def test_the_final_chunk_of_a_stream_is_marked_last_in_and_outside_a_run() -> None:
    model = FakeChatModel(["abcdefg"], chunk_size=3)
    alone = [c async for c in model.astream("hi")]
    assert _positions(alone) == [("abc", None), ("def", None), ("g", "last")]

    def call(state: State) -> dict[str, str]:
        return {"joke": "".join(c.text for c in model.stream("hi"))}

    graph = StateGraph(State).add_node("call", call).add_edge(START, "call").compile()
    tokens = [c async for c, _ in graph.astream({"topic": "x"}, stream_mode="messages")]
    assert _positions(tokens) == [("abc", None), ("def", None), ("g", "last")]


@pytest.mark.anyio
async def test_a_source_that_does_not_mark_its_final_chunk_gets_an_empty_last_chunk_as_langchain_adds() -> None:
    model = _Unmarked(["abcd"], chunk_size=2)
    alone = [c async for c in model.astream("hi")]
    assert _positions(alone) == [("ab", None), ("cd", None), ("", "last")]
    assert alone[-1].id == alone[0].id

    async def call(state: State) -> dict[str, str]:
        return {"joke": (await model.ainvoke("hi")).text}

    graph = StateGraph(State).add_node("call", call).add_edge(START, "call").compile()
    items = [x async for x in graph.astream({"topic": "x"}, stream_mode=["messages", "values"])]
    tokens = [item[0] for mode, item in items if mode == "messages"]
    assert _positions(tokens) == [("ab", None), ("cd", None), ("", "last")]
    assert tokens[-1].id == tokens[0].id and tokens[0].id.startswith("lc_run--")
    assert items[-1] == ("values", {"topic": "x", "joke": "abcd"})


def test_tool_call_pieces_end_with_the_last_mark() -> None:
    call: ToolCall = {"name": "add", "args": {"a": 1, "b": 2}, "id": "c1", "type": "tool_call"}
    model = FakeChatModel([AIMessage("ok", tool_calls=[call, {**call, "id": "c2"}])], chunk_size=8)

    async def collect() -> list[AIMessageChunk]:
        return [c async for c in model.astream("hi")]

    chunks = anyio.run(collect)
    assert [c.chunk_position for c in chunks] == [None] * (len(chunks) - 1) + ["last"]
    whole = chunks[0]
    for chunk in chunks[1:]:
        whole = whole + chunk
    assert whole.chunk_position == "last"
    assert [b["type"] for b in whole.content_blocks] == ["text", "tool_call", "tool_call"]
    assert [b["type"] for b in chunks[1].content_blocks] == ["tool_call_chunk"]


_LC_ID = r"lc_run--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def test_outside_a_run_ids_have_langchain_cores_form() -> None:
    model = FakeChatModel(["ab cd"], chunk_size=2)
    chunks = list(model.stream("hi"))
    assert len({c.id for c in chunks}) == 1 and re.fullmatch(_LC_ID, chunks[0].id or "")
    assert re.fullmatch(_LC_ID + "-0", model.invoke("hi").id or "")
    assert _Unmarked(["ab"], chunk_size=1).invoke("hi").id != chunks[0].id


def test_outside_a_run_ids_match_langchains_fake_model() -> None:
    fake_chat_models = pytest.importorskip("langchain_core.language_models.fake_chat_models")
    lc_messages = pytest.importorskip("langchain_core.messages")
    theirs = fake_chat_models.GenericFakeChatModel(messages=iter([lc_messages.AIMessage("ab cd")]))
    chunks = list(theirs.stream("hi"))
    assert len({c.id for c in chunks}) == 1 and re.fullmatch(_LC_ID, chunks[0].id)
    whole = fake_chat_models.FakeListChatModel(responses=["ab"]).invoke("hi")
    assert re.fullmatch(_LC_ID + "-0", whole.id)
