"""Chat models stream tokens into the ``messages`` mode, from sync and async nodes (scripted model)."""

from __future__ import annotations

from typing import Any, TypedDict

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
        return {"joke": response.content}

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
        return {"joke": joke.content, "poem": poem.content}

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
