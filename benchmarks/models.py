"""Scenarios for chat models and tools, with LangGraph measured side by side when it is installed.

``messages_tokens_*``
    tokens/s of one node whose chat model streams a scripted answer of ``n`` tokens (one character each,
    no delay), consumed with ``stream_mode="messages"``: an async node calling ``ainvoke`` through
    ``astream``, and a sync node calling ``invoke`` (in a worker thread) through ``stream``. Each yielded
    ``(chunk, metadata)`` pair with text is counted (LangChain's fake model adds one empty closing chunk);
    the count must equal ``n``.
``astream_events_runs``
    runs/s of a prompt -> model -> tool graph (a node adding a user message; a node whose model streams
    ``"adding now"`` in 3 tokens and whose message then gets one tool call, since LangChain's fake model
    does not stream tool calls; a ``ToolNode`` running the call) consumed whole through
    ``astream_events(version="v2")``; every run must yield the same 21 events on both sides.

The ``lg_*`` twins run the same graphs on LangGraph with its ``GenericFakeChatModel`` (which streams its
answer split at whitespace, so the scripted text is ``"a a a ..."``: ``n`` tokens are ``n // 2`` words
and as many spaces) and LangChain's ``@tool`` and LangGraph's ``ToolNode``.
"""

from __future__ import annotations

import importlib.util
import time
from typing import Any

from .harness import Sample, scenario

HAVE_LANGGRAPH = importlib.util.find_spec("langgraph") is not None

_EVENTS_PER_RUN = 21
_PROMPT = {"role": "user", "content": "go"}
_CALL = {"name": "add", "args": {"a": 1, "b": 2}, "id": "call-1", "type": "tool_call"}


def _text(n: int) -> str:
    """``n`` one-character tokens: ``"a a a ..."`` (LangGraph's fake model splits at whitespace)."""
    return ("a " * ((n + 1) // 2))[:n]


# -- streamflow ----------------------------------------------------------------------------------------


def _sf_token_graph(n: int, asynchronous: bool) -> Any:
    from streamflow.graph import START, StateGraph
    from streamflow.messages import MessagesState
    from streamflow.models import FakeChatModel

    model = FakeChatModel([_text(n)], chunk_size=1)
    if asynchronous:

        async def node(state: MessagesState) -> dict[str, Any]:
            return {"messages": [await model.ainvoke(state["messages"])]}

    else:

        def node(state: MessagesState) -> dict[str, Any]:
            return {"messages": [model.invoke(state["messages"])]}

    return StateGraph(MessagesState).add_node("chat", node).add_edge(START, "chat").compile()


def _sf_agent_graph() -> Any:
    from streamflow.graph import END, START, StateGraph
    from streamflow.messages import AIMessage, HumanMessage, MessagesState
    from streamflow.models import FakeChatModel
    from streamflow.tools import ToolNode, tool

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    model = FakeChatModel(["adding now"], chunk_size=4)  # 3 chunks

    def prompt(state: MessagesState) -> dict[str, Any]:
        return {"messages": [HumanMessage(content="what is 1 + 2?")]}

    async def agent(state: MessagesState) -> dict[str, Any]:
        message: AIMessage = await model.ainvoke(state["messages"])
        message.tool_calls = [dict(_CALL)]  # type: ignore[list-item]
        return {"messages": [message]}

    return _chain(StateGraph(MessagesState), prompt, agent, ToolNode([add]), START, END)


def _chain(builder: Any, prompt: Any, agent: Any, tools: Any, start: str, end: str) -> Any:
    return (
        builder.add_node("prompt", prompt)
        .add_node("agent", agent)
        .add_node("tools", tools)
        .add_edge(start, "prompt")
        .add_edge("prompt", "agent")
        .add_edge("agent", "tools")
        .add_edge("tools", end)
        .compile()
    )


# -- LangGraph -----------------------------------------------------------------------------------------


def _lg_token_graph(n: int, asynchronous: bool) -> Any:
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langgraph.graph import START, MessagesState, StateGraph

    model = GenericFakeChatModel(messages=iter([_text(n)]))
    if asynchronous:

        async def node(state: MessagesState) -> dict[str, Any]:
            return {"messages": [await model.ainvoke(state["messages"])]}

    else:

        def node(state: MessagesState) -> dict[str, Any]:
            return {"messages": [model.invoke(state["messages"])]}

    return StateGraph(MessagesState).add_node("chat", node).add_edge(START, "chat").compile()


def _lg_agent_graph() -> Any:
    import itertools

    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage, HumanMessage
    from langchain_core.tools import tool
    from langgraph.graph import END, START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    model = GenericFakeChatModel(messages=itertools.repeat(AIMessage(content="adding now")))  # 3 chunks

    def prompt(state: MessagesState) -> dict[str, Any]:
        return {"messages": [HumanMessage(content="what is 1 + 2?")]}

    async def agent(state: MessagesState) -> dict[str, Any]:
        message = await model.ainvoke(state["messages"])
        message.tool_calls = [dict(_CALL)]
        return {"messages": [message]}

    return _chain(StateGraph(MessagesState), prompt, agent, ToolNode([add]), START, END)


# -- scenarios -----------------------------------------------------------------------------------------


def tokens_async(build: Any) -> Any:
    """A scenario counting the model tokens of ``graph.astream(..., stream_mode="messages")`` of
    ``build(n, True)`` (a graph whose model streams ``n`` tokens): tokens/s."""

    async def bench(n: int) -> Sample:
        graph = build(n, True)
        count = 0
        start = time.perf_counter()
        async for chunk, _metadata in graph.astream({"messages": [_PROMPT]}, stream_mode="messages"):
            if chunk.content:
                count += 1
        return _tokens_sample(n, count, time.perf_counter() - start)

    return bench


def tokens_sync(build: Any) -> Any:
    """As :func:`tokens_async`, with ``graph.stream`` of ``build(n, False)``."""

    def bench(n: int) -> Sample:
        graph = build(n, False)
        count = 0
        start = time.perf_counter()
        for chunk, _metadata in graph.stream({"messages": [_PROMPT]}, stream_mode="messages"):
            if chunk.content:
                count += 1
        return _tokens_sample(n, count, time.perf_counter() - start)

    return bench


def _tokens_sample(n: int, count: int, elapsed: float) -> Sample:
    assert count == n, f"expected {n} tokens, got {count}"
    return Sample(count, elapsed)


def _events_runs(build: Any, expected: int) -> Any:
    async def bench(n: int) -> Sample:
        graph = build()
        start = time.perf_counter()
        for _ in range(n):
            count = 0
            async for _event in graph.astream_events({"messages": []}, version="v2"):
                count += 1
            assert count == expected, f"expected {expected} events per run, got {count}"
        return Sample(n, time.perf_counter() - start)

    return bench


if HAVE_LANGGRAPH:
    # LangGraph's async token path runs at a few thousand tokens/s: a smaller size keeps a repeat near a few
    # seconds (its cost per token does not depend on the size; checked from 2,000 to 20,000 tokens)
    scenario("lg_messages_tokens_astream", unit="tokens/s", n=20_000, quick_n=5_000, repeats=3)(
        tokens_async(_lg_token_graph)
    )
    scenario("lg_messages_tokens_stream", unit="tokens/s", n=100_000, quick_n=20_000, repeats=3)(
        tokens_sync(_lg_token_graph)
    )
    scenario("lg_astream_events_runs", unit="runs/s", n=200, quick_n=40, repeats=3)(
        _events_runs(_lg_agent_graph, _EVENTS_PER_RUN)
    )

_LG_TARGET = 5.0
scenario(
    "messages_tokens_astream",
    unit="tokens/s",
    n=100_000,
    quick_n=20_000,
    baseline="lg_messages_tokens_astream" if HAVE_LANGGRAPH else "queue_1to1",
    targets={"lg_messages_tokens_astream": _LG_TARGET} if HAVE_LANGGRAPH else None,
)(tokens_async(_sf_token_graph))
scenario(
    "messages_tokens_stream",
    unit="tokens/s",
    n=100_000,
    quick_n=20_000,
    baseline="lg_messages_tokens_stream" if HAVE_LANGGRAPH else "queue_1to1",
    targets={"lg_messages_tokens_stream": _LG_TARGET} if HAVE_LANGGRAPH else None,
)(tokens_sync(_sf_token_graph))
scenario(
    "astream_events_runs",
    unit="runs/s",
    n=2000,
    quick_n=400,
    baseline="lg_astream_events_runs" if HAVE_LANGGRAPH else None,
    targets={"lg_astream_events_runs": _LG_TARGET} if HAVE_LANGGRAPH else None,
)(_events_runs(_sf_agent_graph, _EVENTS_PER_RUN))
