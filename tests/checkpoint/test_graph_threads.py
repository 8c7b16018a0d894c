"""A graph with a checkpointer on every saver (memory, SQLite, PostgreSQL; sync and async, pooled or not):
threads continue, a failed step resumes without re-running its finished tasks, snapshots and history read
back, and a damaged checkpoint fails the run naming it instead of starting the thread afresh."""

from __future__ import annotations

import asyncio
import operator
import uuid
from typing import Annotated, Any, TypedDict

import pytest

from streamflow.errors import CheckpointReadError
from streamflow.graph import START, StateGraph
from streamflow.messages import AIMessage, HumanMessage, MessagesState

from .conftest import Driver

pytestmark = pytest.mark.anyio


class State(TypedDict, total=False):
    items: Annotated[list[str], operator.add]
    last: str


def _thread() -> dict[str, Any]:
    return {"configurable": {"thread_id": f"graph-{uuid.uuid4().hex}"}}


async def test_a_thread_continues_and_a_failed_step_resumes(driver: Driver) -> None:
    calls: list[str] = []
    failing = [True]
    steady_done = asyncio.Event()

    async def steady(state: State) -> State:
        calls.append("steady")
        steady_done.set()
        return {"items": ["steady"]}

    async def flaky(state: State) -> State:
        await steady_done.wait()
        calls.append("flaky")
        if failing[0]:
            raise RuntimeError("flaky failed")
        return {"items": ["flaky"]}

    builder = StateGraph(State).add_node("steady", steady).add_node("flaky", flaky)
    builder.add_node("after", lambda s: {"last": "after"})
    builder.add_edge(START, "steady").add_edge(START, "flaky").add_edge(["steady", "flaky"], "after")
    graph = builder.compile(checkpointer=driver.saver)
    thread = _thread()
    with pytest.raises(RuntimeError, match="flaky failed"):
        await graph.ainvoke({"items": ["in"]}, thread)
    failing[0] = False
    calls.clear()
    assert await graph.ainvoke(None, thread) == {"items": ["in", "flaky", "steady"], "last": "after"}
    assert calls == ["flaky"]
    assert (await graph.ainvoke({"items": ["more"]}, thread))["items"] == [
        "in",
        "flaky",
        "steady",
        "more",
        "flaky",
        "steady",
    ]
    history = [s async for s in graph.aget_state_history(thread)]
    assert [(s.metadata or {})["step"] for s in history] == [6, 5, 4, 3, 2, 1, 0, -1]
    assert (await graph.aget_state(thread)).values == history[0].values


async def test_messages_are_kept_as_messages(driver: Driver) -> None:
    def reply(state: MessagesState) -> Any:
        return {"messages": [AIMessage("hello", id="ai-1")]}

    graph = StateGraph(MessagesState).add_node("reply", reply).add_edge(START, "reply")
    graph_with_saver = graph.compile(checkpointer=driver.saver)
    thread = _thread()
    await graph_with_saver.ainvoke({"messages": [HumanMessage("hi", id="h-1")]}, thread)
    values = (await graph_with_saver.aget_state(thread)).values
    assert [(type(m).__name__, m.content) for m in values["messages"]] == [
        ("HumanMessage", "hi"),
        ("AIMessage", "hello"),
    ]


async def test_a_damaged_checkpoint_fails_the_run_naming_it(driver: Driver) -> None:
    graph = StateGraph(State).add_node("n", lambda s: {"last": "n"}).add_edge(START, "n")
    graph_with_saver = graph.compile(checkpointer=driver.saver)
    thread = _thread()
    await graph_with_saver.ainvoke({"items": ["in"]}, thread)
    latest = await graph_with_saver.aget_state(thread)
    checkpoint_id = latest.config["configurable"]["checkpoint_id"]
    await driver.damage(thread["configurable"]["thread_id"], checkpoint_id)
    with pytest.raises(CheckpointReadError, match=checkpoint_id) as caught:
        await graph_with_saver.ainvoke({"items": ["again"]}, thread)
    assert caught.value.thread_id == thread["configurable"]["thread_id"]
