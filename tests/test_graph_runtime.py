"""Executing graphs: fan-out/fan-in, loops, Send, limits, failures, cancellation, threads, injection."""

from __future__ import annotations

import asyncio
import operator
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict

import anyio
import pytest

from streamflow.errors import GraphRecursionError, NotInRunError
from streamflow.graph import END, START, Send, StateGraph, StreamWriter, get_stream_writer

from .helpers import NothingLeftBehind


class ListState(TypedDict):
    items: Annotated[list[str], operator.add]


def test_parallel_fan_out_fan_in_with_reducer() -> None:
    def a(state: ListState) -> dict[str, Any]:
        return {"items": ["a"]}

    def b(state: ListState) -> dict[str, Any]:
        return {"items": ["b"]}

    async def c(state: ListState) -> dict[str, Any]:
        return {"items": ["c"]}

    def join(state: ListState) -> dict[str, Any]:
        return {"items": [f"join saw {len(state['items'])}"]}

    graph = (
        StateGraph(ListState)
        .add_node("a", a)
        .add_node("b", b)
        .add_node("c", c)
        .add_node("join", join)
        .add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("a", "c")
        .add_edge(["b", "c"], "join")
        .add_edge("join", END)
        .compile()
    )
    updates = list(graph.stream({"items": []}, stream_mode="updates"))
    assert updates[0] == {"a": {"items": ["a"]}}
    assert sorted(updates[1:3], key=str) == [{"b": {"items": ["b"]}}, {"c": {"items": ["c"]}}]
    assert updates[3:] == [{"join": {"items": ["join saw 3"]}}]
    # the reducer applies the step's updates in task order, whatever order they finished in
    assert graph.invoke({"items": []}) == {"items": ["a", "b", "c", "join saw 3"]}


class Counter(TypedDict):
    n: int


def _increment(state: Counter) -> dict[str, Any]:
    return {"n": state["n"] + 1}


def test_conditional_loop_stops() -> None:
    graph = (
        StateGraph(Counter)
        .add_node("inc", _increment)
        .add_edge(START, "inc")
        .add_conditional_edges("inc", lambda s: "inc" if s["n"] < 5 else END)
        .compile()
    )
    assert list(graph.stream({"n": 0}, stream_mode="values")) == [{"n": i} for i in range(6)]
    assert graph.invoke({"n": 3}) == {"n": 5}


def test_conditional_loop_with_path_map() -> None:
    graph = (
        StateGraph(Counter)
        .add_node("inc", _increment)
        .add_edge(START, "inc")
        .add_conditional_edges("inc", lambda s: s["n"] < 3, {True: "inc", False: END})
        .compile()
    )
    assert graph.invoke({"n": 0}) == {"n": 3}


class MapState(TypedDict):
    subjects: list[str]
    jokes: Annotated[list[str], operator.add]


def test_send_map_reduce() -> None:
    def make_joke(arg: dict[str, Any]) -> dict[str, Any]:
        return {"jokes": [f"joke about {arg['subject']}"]}

    def fan_out(state: MapState) -> list[Send]:
        return [Send("make_joke", {"subject": s}) for s in state["subjects"]]

    graph = (
        StateGraph(MapState)
        .add_node("make_joke", make_joke)
        .add_conditional_edges(START, fan_out)
        .add_edge("make_joke", END)
        .compile()
    )
    out = graph.invoke({"subjects": ["cats", "dogs", "owls"]})
    assert out == {
        "subjects": ["cats", "dogs", "owls"],
        "jokes": ["joke about cats", "joke about dogs", "joke about owls"],
    }
    tasks = [c for c in graph.stream({"subjects": ["cats", "dogs"]}, stream_mode="tasks") if "input" in c]
    assert [t["input"] for t in tasks] == [{"subject": "cats"}, {"subject": "dogs"}]
    assert all(t["name"] == "make_joke" for t in tasks)


def test_recursion_limit_after_streaming_the_updates_so_far() -> None:
    graph = StateGraph(Counter).add_node("inc", _increment).add_edge(START, "inc").add_edge("inc", "inc").compile()
    seen: list[Any] = []
    with pytest.raises(GraphRecursionError, match="Recursion limit of 4"):
        for chunk in graph.stream({"n": 0}, {"recursion_limit": 4}, stream_mode="updates"):
            seen.append(chunk)
    assert seen == [{"inc": {"n": i}} for i in range(1, 5)]
    with pytest.raises(GraphRecursionError):
        graph.invoke({"n": 0})  # the default limit of 25 stops it too


def _failing_graph(started: anyio.Event, log: list[str]) -> Any:
    async def waits(state: Counter) -> dict[str, Any]:
        started.set()
        try:
            await anyio.Event().wait()
        except anyio.get_cancelled_exc_class():
            log.append("waits cancelled")
            raise
        log.append("waits finished")
        return {}

    async def boom(state: Counter) -> dict[str, Any]:
        await started.wait()
        raise ValueError("boom failed")

    def after(state: Counter) -> dict[str, Any]:
        log.append("after ran")
        return {}

    return (
        StateGraph(Counter)
        .add_node("waits", waits)
        .add_node("boom", boom)
        .add_node("after", after)
        .add_edge(START, "waits")
        .add_edge(START, "boom")
        .add_edge(["waits", "boom"], "after")
        .compile()
    )


@pytest.mark.anyio
async def test_node_error_is_raised_once_and_cancels_siblings() -> None:
    log: list[str] = []
    graph = _failing_graph(anyio.Event(), log)
    chunks: list[Any] = []
    stream = graph.astream({"n": 0}, stream_mode=["tasks", "values"])
    with pytest.raises(ValueError, match="boom failed") as info:
        async for chunk in stream:
            chunks.append(chunk)
    assert type(info.value) is ValueError
    assert log == ["waits cancelled"]
    assert chunks[0] == ("values", {"n": 0})
    errors = [c for m, c in chunks if m == "tasks" and c.get("error")]
    assert errors == [
        {"id": errors[0]["id"], "name": "boom", "error": "ValueError('boom failed')", "result": {}, "interrupts": []}
    ]
    # the generator is finished: nothing more is raised
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()


@pytest.mark.anyio
async def test_node_error_through_ainvoke_and_run_handle() -> None:
    log: list[str] = []
    with pytest.raises(ValueError, match="boom failed") as info:
        await _failing_graph(anyio.Event(), log).ainvoke({"n": 0})
    assert type(info.value) is ValueError
    assert log == ["waits cancelled"]

    log.clear()
    run = _failing_graph(anyio.Event(), log).start({"n": 0})
    with pytest.raises(ValueError, match="boom failed"):
        await run.result()
    assert run.status == "failed" and type(run.error) is ValueError
    assert log == ["waits cancelled"]


def test_node_error_through_sync_stream() -> None:
    class State(TypedDict):
        n: int

    def boom(state: State) -> dict[str, Any]:
        raise ValueError("sync boom")

    graph = (
        StateGraph(State)
        .add_node("inc", _increment)
        .add_node("boom", boom)
        .add_edge(START, "inc")
        .add_edge("inc", "boom")
        .compile()
    )
    seen: list[Any] = []
    with pytest.raises(ValueError, match="sync boom") as info:
        for chunk in graph.stream({"n": 0}, stream_mode="updates"):
            seen.append(chunk)
    assert type(info.value) is ValueError
    assert seen == [{"inc": {"n": 1}}]
    with pytest.raises(ValueError, match="sync boom"):
        graph.invoke({"n": 0})


def test_early_break_from_stream_cancels_the_run_quickly() -> None:
    cancelled: list[bool] = []

    async def slow(state: Counter) -> dict[str, Any]:
        try:
            await anyio.sleep(2)
        except anyio.get_cancelled_exc_class():
            cancelled.append(True)
            raise
        return {"n": -1}

    graph = (
        StateGraph(Counter)
        .add_node("inc", _increment)
        .add_node("slow", slow)
        .add_edge(START, "inc")
        .add_edge("inc", "slow")
        .compile()
    )
    left = NothingLeftBehind()
    started = time.monotonic()
    for chunk in graph.stream({"n": 0}, stream_mode="updates"):
        assert chunk == {"inc": {"n": 1}}
        break
    elapsed = time.monotonic() - started
    assert elapsed < 1.0
    left.check()
    assert cancelled in ([], [True])  # cancelled if it had started; it never finished


def test_explicit_close_of_stream() -> None:
    async def slow(state: Counter) -> dict[str, Any]:
        await anyio.sleep(2)
        return {}

    graph = StateGraph(Counter).add_node("slow", slow).add_edge(START, "slow").compile()
    left = NothingLeftBehind()
    started = time.monotonic()
    it = graph.stream({"n": 0}, stream_mode="values")
    assert isinstance(it, Generator)
    assert next(it) == {"n": 0}
    it.close()
    assert time.monotonic() - started < 1.0
    left.check()


def test_sync_nodes_of_one_superstep_run_in_worker_threads_and_write_in_order() -> None:
    caller = threading.get_ident()
    threads: dict[str, int] = {}

    def make(name: str) -> Any:
        def node(state: ListState) -> dict[str, Any]:
            threads[name] = threading.get_ident()
            writer = get_stream_writer()
            for i in range(20):
                writer({"node": name, "i": i})
            return {"items": [name]}

        return node

    graph = (
        StateGraph(ListState)
        .add_node("left", make("left"))
        .add_node("right", make("right"))
        .add_edge(START, "left")
        .add_edge(START, "right")
        .compile()
    )
    items = list(graph.stream({"items": []}, stream_mode=["custom", "updates"]))
    # stream() lends its thread to a sync node only when it is the run's only task in flight (LangGraph runs
    # a task inline only when it is alone in its tick): two of them both run in worker threads
    assert caller not in threads.values()
    for name in ("left", "right"):
        mine = [c for m, c in items if m == "custom" and c["node"] == name]
        assert mine == [{"node": name, "i": i} for i in range(20)]
        # every piece of custom data a node wrote comes before that node's update
        last_custom = max(i for i, (m, c) in enumerate(items) if m == "custom" and c["node"] == name)
        update_at = items.index(("updates", {name: {"items": [name]}}))
        assert last_custom < update_at
    assert len(items) == 42
    threads.clear()
    assert asyncio.run(_ainvoke(graph)) == {"items": ["left", "right"]}
    assert caller not in threads.values()  # under astream()/ainvoke() sync nodes run in worker threads


async def _ainvoke(graph: Any) -> Any:
    return await graph.ainvoke({"items": []})


def test_get_stream_writer_outside_a_run() -> None:
    with pytest.raises(NotInRunError, match="get_stream_writer"):
        get_stream_writer()


@pytest.mark.anyio
async def test_writer_and_config_parameters_are_injected() -> None:
    class State(TypedDict):
        topic: str
        seen: dict[str, Any]

    async def with_writer(state: State, writer: StreamWriter) -> dict[str, Any]:
        writer("from async writer param")
        return {}

    def with_both(state: State, config: dict[str, Any], writer: StreamWriter) -> dict[str, Any]:
        writer("from sync writer param")
        meta = config["metadata"]
        return {
            "seen": {
                "tags": config["tags"],
                "user": meta["user"],
                "node": meta["langgraph_node"],
                "step": meta["langgraph_step"],
                "limit": config["recursion_limit"],
                "thread": config["configurable"]["thread_id"],
                "run_id": config["run_id"],
            }
        }

    graph = (
        StateGraph(State)
        .add_node("with_writer", with_writer)
        .add_node("with_both", with_both)
        .add_edge(START, "with_writer")
        .add_edge("with_writer", "with_both")
        .compile()
    )
    config = {
        "tags": ["t1"],
        "metadata": {"user": "ann"},
        "recursion_limit": 7,
        "configurable": {"thread_id": "th-1"},
        "run_id": "run-42",
    }
    items = [i async for i in graph.astream({"topic": "x"}, config, stream_mode=["custom", "values"])]
    assert [c for m, c in items if m == "custom"] == ["from async writer param", "from sync writer param"]
    assert items[-1] == (
        "values",
        {
            "topic": "x",
            "seen": {
                "tags": ["t1"],
                "user": "ann",
                "node": "with_both",
                "step": 2,
                "limit": 7,
                "thread": "th-1",
                "run_id": "run-42",
            },
        },
    )


@dataclass
class DCState:
    name: str
    count: int = 0
    log: Annotated[list[str], operator.add] = field(default_factory=list)


def test_dataclass_schema() -> None:
    received: list[Any] = []

    def greet(state: DCState) -> dict[str, Any]:
        received.append(state)
        return {"count": state.count + 1, "log": [f"hello {state.name}"]}

    def again(state: DCState) -> dict[str, Any]:
        received.append(state)
        return {"log": [f"count is {state.count}"]}

    graph = (
        StateGraph(DCState)
        .add_node("greet", greet)
        .add_node("again", again)
        .add_edge(START, "greet")
        .add_edge("greet", "again")
        .compile()
    )
    out = graph.invoke({"name": "ann"})
    assert out == {"name": "ann", "count": 1, "log": ["hello ann", "count is 1"]}
    assert received[0] == DCState(name="ann")
    assert isinstance(received[1], DCState) and received[1].count == 1
    assert list(graph.stream({"name": "bo"}, stream_mode="updates")) == [
        {"greet": {"count": 1, "log": ["hello bo"]}},
        {"again": {"log": ["count is 1"]}},
    ]


def test_stream_writer_used_after_the_run_raises() -> None:
    from streamflow.errors import ChannelClosedError

    kept: list[StreamWriter] = []

    def keep(state: Counter) -> dict[str, Any]:
        kept.append(get_stream_writer())
        return {}

    graph = StateGraph(Counter).add_node("keep", keep).add_edge(START, "keep").compile()
    assert list(graph.stream({"n": 0}, stream_mode="custom")) == []
    with pytest.raises(ChannelClosedError):
        kept[0]("too late")


def test_repeated_sync_calls_reuse_the_portal_and_its_worker_threads() -> None:
    graph = StateGraph(Counter).add_node("inc", _increment).add_edge(START, "inc").compile()
    left = NothingLeftBehind()
    assert graph.invoke({"n": 0}) == {"n": 1}
    threads = set(threading.enumerate())
    for _ in range(200):
        assert graph.invoke({"n": 0}) == {"n": 1}
        assert list(graph.stream({"n": 0}, stream_mode="updates")) == [{"inc": {"n": 1}}]
    assert set(threading.enumerate()) <= threads
    left.check()


def test_early_break_before_a_slow_sync_node_never_starts_it() -> None:
    started: list[bool] = []

    def slow(state: Counter) -> dict[str, Any]:
        started.append(True)
        time.sleep(2)
        return {"n": -1}

    graph = (
        StateGraph(Counter)
        .add_node("inc", _increment)
        .add_node("slow", slow)
        .add_edge(START, "inc")
        .add_edge("inc", "slow")
        .compile()
    )
    left = NothingLeftBehind()
    begun = time.monotonic()
    for chunk in graph.stream({"n": 0}, stream_mode="updates"):
        assert chunk == {"inc": {"n": 1}}
        break
    assert time.monotonic() - begun < 1.0
    # the slow node was handed to this thread with the chunk, and is dropped unstarted when the loop is left
    assert started == []
    left.check()


def test_keyboard_interrupt_inside_a_sync_node_run_by_stream_reaches_the_caller_and_stops_the_run() -> None:
    def interrupted(state: Counter) -> dict[str, Any]:
        raise KeyboardInterrupt  # what Ctrl-C does while the node runs in the caller's (main) thread

    graph = (
        StateGraph(Counter)
        .add_node("inc", _increment)
        .add_node("interrupted", interrupted)
        .add_edge(START, "inc")
        .add_edge("inc", "interrupted")
        .compile()
    )
    left = NothingLeftBehind()
    seen: list[Any] = []
    with pytest.raises(KeyboardInterrupt):
        for chunk in graph.stream({"n": 0}, stream_mode="updates"):
            seen.append(chunk)
    assert seen == [{"inc": {"n": 1}}]
    left.check()
