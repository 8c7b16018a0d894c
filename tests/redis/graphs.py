"""The graphs the Redis tests run: one that uses every kind of event, and small ones for faults."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

import anyio

from streamflow.graph import END, START, StateGraph, get_stream_writer
from streamflow.messages import AIMessage, ToolCall, add_messages
from streamflow.models import FakeChatModel
from streamflow.tools import create_react_agent, tool


class DemoState(TypedDict):
    messages: Annotated[list[Any], add_messages]
    topic: str
    notes: Annotated[list[str], operator.add]


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    get_stream_writer()({"tool": "add", "args": (a, b)})
    return a + b


def plan(state: DemoState) -> dict[str, Any]:  # sync: runs in a worker thread
    get_stream_writer()({"phase": "plan", "pair": (1, "a"), "keys": {1: "int key"}})
    return {"topic": "cats", "notes": ["planned"]}


async def summary(state: DemoState) -> dict[str, Any]:
    get_stream_writer()({"phase": "summary", "messages": len(state["messages"])})
    return {"notes": [f"{len(state['messages'])} messages"]}


def demo_graph() -> Any:
    """plan (sync, custom data) -> agent (a ReAct subgraph: model tokens, a tool) -> summary (async)."""
    call: ToolCall = {"name": "add", "args": {"a": 2, "b": 3}, "id": "call-1", "type": "tool_call"}
    model = FakeChatModel([AIMessage(tool_calls=[call]), "2 + 3 = 5"])
    return (
        StateGraph(DemoState)
        .add_node("plan", plan)
        .add_node("agent", create_react_agent(model, [add]))
        .add_node("summary", summary)
        .add_edge(START, "plan")
        .add_edge("plan", "agent")
        .add_edge("agent", "summary")
        .add_edge("summary", END)
        .compile(name="demo")
    )


DEMO_INPUT = {"messages": [{"role": "user", "content": "2+3?", "id": "m-1"}], "topic": "", "notes": []}


class CountState(TypedDict):
    n: int


def writer_graph(count: int, gate: anyio.Event | None = None, *, gate_at: int | None = None, fail: bool = False) -> Any:
    """One async node writing ``{"i": i}`` for i < ``count``; with ``gate`` it writes ``gate_at`` items (half
    by default), waits for the gate, then the rest; with ``fail`` it raises ``ValueError("boom")`` at the end."""
    wait_at = count // 2 if gate_at is None else gate_at

    async def write(state: CountState) -> dict[str, int]:
        writer = get_stream_writer()
        for i in range(count):
            if gate is not None and i == wait_at:
                await gate.wait()
            writer({"i": i})
        if fail:
            raise ValueError("boom")
        return {"n": count}

    return StateGraph(CountState).add_node("write", write).add_edge(START, "write").compile(name="writer")
