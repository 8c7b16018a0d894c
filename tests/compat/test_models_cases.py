"""Chat models as full Runnables on langchain-core and on streamflow: ``batch``, ``disable_streaming`` (``True``
and ``"tool_calling"``), a model that only answers whole, and custom events dispatched from any Runnable.

The same code runs on both; outputs, streamed items, ``astream_events`` sequences and ``messages`` chunks of
a graph calling the model must be equal.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from .conftest import Lib, load, normalise, reference
from .test_runnables_cases import events

pytestmark = pytest.mark.anyio

TOOL = {"type": "function", "function": {"name": "f", "description": "f", "parameters": {"type": "object"}}}


def both() -> list[Lib]:
    return [reference(), load("streamflow")]


def tokens(lib: Lib, text: str, **kwargs: Any) -> Any:
    """A chat model answering ``text`` (every call) in whitespace-split tokens; ``kwargs`` are the model's
    (``disable_streaming``)."""
    if lib.name == "langgraph":
        from langchain_core.language_models import GenericFakeChatModel

        class Fake(GenericFakeChatModel):
            def bind_tools(self, tools: Any, **kw: Any) -> Any:
                return self.bind(tools=tools)

        return Fake(messages=iter([lib.AIMessage(content=text)] * 20), name="GenericFakeChatModel", **kwargs)

    class Tokens(lib.BaseChatModel):  # type: ignore[name-defined,misc]
        async def _astream_chunks(self, messages: list[Any]) -> AsyncIterator[Any]:
            parts = [p for p in re.split(r"(\s)", text) if p]
            for i, part in enumerate(parts):
                yield lib.AIMessageChunk(content=part, chunk_position="last" if i == len(parts) - 1 else None)

    return Tokens(name="GenericFakeChatModel", **kwargs)


def whole(lib: Lib, text: str) -> Any:
    """A chat model that implements only a whole answer (LangChain's ``_generate``, streamflow's
    ``_agenerate``)."""

    class WholeAnswer(lib.BaseChatModel):  # type: ignore[name-defined,misc]
        @property
        def _llm_type(self) -> str:
            return "whole"

        def _generate(self, messages: list[Any], stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
            from langchain_core.outputs import ChatGeneration, ChatResult

            return ChatResult(generations=[ChatGeneration(message=lib.AIMessage(content=text))])

        async def _agenerate(self, messages: list[Any], *args: Any, **kw: Any) -> Any:
            if lib.name == "langgraph":
                return self._generate(messages)
            return lib.AIMessage(content=text)

    return WholeAnswer()


def graph_calling(lib: Lib, model: Any) -> Any:
    async def node(state: Any) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    builder = lib.StateGraph(lib.MessagesState)
    builder.add_node("n", node)
    builder.add_edge(lib.START, "n")
    return builder.compile()


async def behaviour(model: Any, lib: Lib) -> Any:
    """What is compared of a model: its ``astream`` items (type and text), its ``astream_events`` and the
    ``messages`` chunks of a graph node calling it."""
    streamed = [(type(c).__name__, c.content) async for c in model.astream("hi")]
    seen = [(e["event"], e["name"], sorted(e["data"])) for e in await events(model, "hi")]
    messages = [
        (type(chunk).__name__, chunk.content, metadata["langgraph_node"])
        async for chunk, metadata in graph_calling(lib, model).astream({"messages": ["hi"]}, stream_mode="messages")
    ]
    return streamed, seen, messages


MODELS = {
    "streaming": lambda lib: tokens(lib, "a b c"),
    "disable_streaming=True": lambda lib: tokens(lib, "a b c", disable_streaming=True),
    "disable_streaming='tool_calling', no tools": lambda lib: tokens(lib, "a b c", disable_streaming="tool_calling"),
    "disable_streaming='tool_calling', tools bound": lambda lib: tokens(
        lib, "a b c", disable_streaming="tool_calling"
    ).bind_tools([TOOL]),
    "only a whole answer": lambda lib: whole(lib, "all at once"),
}


@pytest.mark.parametrize("case", sorted(MODELS))
async def test_streaming_or_not_matches(case: str) -> None:
    out = [await behaviour(MODELS[case](lib), lib) for lib in both()]
    assert out[1] == out[0]


async def test_batch_and_abatch_match() -> None:
    out = []
    for lib in both():
        model = tokens(lib, "x y")
        batch = await model.abatch(["a", "b", "c"], {"max_concurrency": 2})
        out.append(normalise([(type(m).__name__, m.content) for m in batch]))
    assert out[1] == out[0]


def test_sync_batch_and_stream_match() -> None:
    out = []
    for lib in both():
        model = tokens(lib, "x y", disable_streaming=True)
        out.append(
            (
                [m.content for m in model.batch(["a", "b"])],
                [(type(c).__name__, c.content) for c in model.stream("a")],
                [c.content for c in tokens(lib, "x y").stream("a")],
            )
        )
    assert out[1] == out[0]


# -- custom events from any Runnable -------------------------------------------------------------------


def dispatchers(lib: Lib) -> tuple[Any, Any]:
    if lib.name == "langgraph":
        from langchain_core.callbacks.manager import adispatch_custom_event, dispatch_custom_event
    else:
        from streamflow.callbacks.manager import adispatch_custom_event, dispatch_custom_event  # type: ignore[assignment]
    return dispatch_custom_event, adispatch_custom_event


def custom_event_chain(lib: Lib) -> Any:
    dispatch, adispatch = dispatchers(lib)

    async def fetch(x: int) -> int:
        await adispatch("progress", {"step": "fetch", "x": x})
        return x + 1

    def render(x: int) -> str:
        dispatch("progress", {"step": "render", "x": x})
        return f"<{x}>"

    return lib.RunnableLambda(fetch) | lib.RunnableLambda(render)


async def test_custom_events_from_sync_and_async_lambdas_match() -> None:
    out = []
    for lib in both():
        chain = custom_event_chain(lib)
        seen = await events(chain, 1)
        out.append([e for e in seen if e["event"] == "on_custom_event"] + [seen[-1]])
    assert out[1] == out[0]
    assert [e["data"]["step"] for e in out[0][:2]] == ["fetch", "render"]
