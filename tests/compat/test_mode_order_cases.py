"""Differential cases for the order of chunks across stream modes: one run streamed in every mode at once
(``values``, ``updates``, ``messages``, ``custom``, ``tasks``, ``debug``, ``checkpoints``), the mode list in
two orders, must interleave its chunks as LangGraph's does: a node's returned messages before its ``updates``
chunk, its ``tasks`` result after it, each ``debug`` chunk right after the chunk it wraps, whatever the order
of ``stream_mode``.

Each chunk is compared by a summary of what it is (mode, kind, node, step, text), since the payloads are
compared in detail by the other cases; the tokens of one model message are joined (the fake models of the
two libraries split a text differently).
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Lib, reference
from .test_messages_cases import scripted

MODES = ["values", "updates", "messages", "custom", "tasks", "debug", "checkpoints"]
ORDERS = {"given": MODES, "reversed": MODES[::-1]}
HUMAN = {"messages": [("user", "hi")]}


def replies(lib: Lib, *, model: bool) -> Any:
    """``talk`` (writes custom data, answers with an AI message: a model's, streamed, or a plain one) then
    ``tool`` (answers with a tool message)."""

    def talk(state: Any) -> dict[str, Any]:
        lib.get_stream_writer()({"node": "talk"})
        if model:
            return {"messages": [scripted(lib, "hello there").invoke(state["messages"])]}
        return {"messages": [lib.AIMessage(content="plain", id="m-1")]}

    def tool(state: Any) -> dict[str, Any]:
        lib.get_stream_writer()("tool")
        return {"messages": [lib.ToolMessage(content="result", tool_call_id="c1", id="m-2")]}

    builder = lib.StateGraph(lib.MessagesState)
    builder.add_node("talk", talk)
    builder.add_node("tool", tool)
    builder.add_edge(lib.START, "talk")
    builder.add_edge("talk", "tool")
    builder.add_edge("tool", lib.END)
    return builder.compile(checkpointer=lib.InMemorySaver())


def asking(lib: Lib) -> Any:
    """``before`` answers, then ``ask`` pauses on ``interrupt()``."""

    def before(state: Any) -> dict[str, Any]:
        return {"messages": [lib.AIMessage(content="asking", id="m-1")]}

    def ask(state: Any) -> dict[str, Any]:
        answer = lib.interrupt("name?")
        return {"messages": [lib.AIMessage(content=str(answer), id="m-2")]}

    builder = lib.StateGraph(lib.MessagesState)
    builder.add_node("before", before)
    builder.add_node("ask", ask)
    builder.add_edge(lib.START, "before")
    builder.add_edge("before", "ask")
    builder.add_edge("ask", lib.END)
    return builder.compile(checkpointer=lib.InMemorySaver())


def nested(lib: Lib) -> Any:
    """A subgraph node whose inner node answers with a message, then a plain node."""

    def inner(state: Any) -> dict[str, Any]:
        lib.get_stream_writer()("inner")
        return {"messages": [lib.AIMessage(content="from inside", id="m-1")]}

    child = lib.StateGraph(lib.MessagesState)
    child.add_node("inner", inner)
    child.add_edge(lib.START, "inner")
    child.add_edge("inner", lib.END)

    def after(state: Any) -> dict[str, Any]:
        return {"messages": [lib.AIMessage(content="after", id="m-2")]}

    builder = lib.StateGraph(lib.MessagesState)
    builder.add_node("child", child.compile())
    builder.add_node("after", after)
    builder.add_edge(lib.START, "child")
    builder.add_edge("child", "after")
    builder.add_edge("after", lib.END)
    return builder.compile(checkpointer=lib.InMemorySaver())


def failing(lib: Lib) -> Any:
    """``talk`` answers, then ``boom`` writes custom data and raises."""

    def talk(state: Any) -> dict[str, Any]:
        return {"messages": [lib.AIMessage(content="plain", id="m-1")]}

    def boom(state: Any) -> dict[str, Any]:
        lib.get_stream_writer()("about to fail")
        raise ValueError("boom")

    builder = lib.StateGraph(lib.MessagesState)
    builder.add_node("talk", talk)
    builder.add_node("boom", boom)
    builder.add_edge(lib.START, "talk")
    builder.add_edge("talk", "boom")
    builder.add_edge("boom", lib.END)
    return builder.compile(checkpointer=lib.InMemorySaver())


CASES: dict[str, tuple[Any, dict[str, Any]]] = {
    "node messages": (lambda lib: replies(lib, model=False), {}),
    "model tokens": (lambda lib: replies(lib, model=True), {}),
    "interrupt": (asking, {}),
    "subgraph": (nested, {"subgraphs": True}),
    "failing node": (failing, {}),
}


def summary(mode: str, chunk: Any) -> tuple[Any, ...]:
    """What a chunk is, in a few comparable fields."""
    if mode == "messages":
        message, metadata = chunk
        return (mode, type(message).__name__, message.content, metadata.get("langgraph_node"))
    if mode == "debug":
        return (mode, chunk["type"], chunk["step"], chunk["payload"].get("name"))
    if mode == "tasks":
        failed = chunk.get("error") is not None
        return (mode, chunk["name"], "result" in chunk, failed, len(chunk.get("interrupts", ())))
    if mode == "checkpoints":
        return (mode, chunk["metadata"]["step"], tuple(chunk["next"]))
    if mode == "values":
        return (mode, [m.content for m in chunk.get("messages", ())], "__interrupt__" in chunk)
    if mode == "updates":
        return (mode, sorted(chunk))
    return (mode, repr(chunk))


def joined(items: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """``items`` with the consecutive token chunks of one node's model joined into one."""
    out: list[tuple[Any, ...]] = []
    for item in items:
        if out and _token(item) and _token(out[-1]) and (item[0], item[4]) == (out[-1][0], out[-1][4]):
            out[-1] = (*item[:3], out[-1][3] + item[3], item[4])
        else:
            out.append(item)
    return out


def _token(item: tuple[Any, ...]) -> bool:
    """Whether ``item`` (``(namespace depth, mode, ...)``) is a model token in ``messages``."""
    return item[1:3] == ("messages", "AIMessageChunk")


def collect(lib: Lib, case: str, order: str) -> list[Any]:
    build, kwargs = CASES[case]
    graph = build(lib)
    config = {"configurable": {"thread_id": "t"}}
    items: list[tuple[Any, ...]] = []
    try:
        for item in graph.stream(HUMAN, config, stream_mode=ORDERS[order], **kwargs):
            ns, mode, chunk = item if kwargs.get("subgraphs") else ((), *item)
            items.append((len(ns), *summary(mode, chunk)))
    except ValueError as exc:
        items.append(("raised", str(exc)))
    return joined(items)


async def acollect(lib: Lib, case: str, order: str) -> list[Any]:
    build, kwargs = CASES[case]
    graph = build(lib)
    config = {"configurable": {"thread_id": "t"}}
    items: list[tuple[Any, ...]] = []
    try:
        async for item in graph.astream(HUMAN, config, stream_mode=ORDERS[order], **kwargs):
            ns, mode, chunk = item if kwargs.get("subgraphs") else ((), *item)
            items.append((len(ns), *summary(mode, chunk)))
    except ValueError as exc:
        items.append(("raised", str(exc)))
    return joined(items)


PARAMS = [pytest.param(case, order, id=f"{case}-{order}") for case in CASES for order in ORDERS]


@pytest.mark.parametrize(("case", "order"), PARAMS)
def test_stream_order(lib: Lib, case: str, order: str) -> None:
    assert collect(lib, case, order) == collect(reference(), case, order)


@pytest.mark.anyio
@pytest.mark.parametrize(("case", "order"), PARAMS)
async def test_astream_order(lib: Lib, case: str, order: str) -> None:
    assert await acollect(lib, case, order) == await acollect(reference(), case, order)
