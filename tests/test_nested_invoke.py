"""A compiled graph run inside a node (``invoke``/``ainvoke``/``stream``/``astream`` in the node's code) is a
child of the node's run: its events are the run's, under the node's namespace; it is cancelled with the run;
what it raises reaches the node. Differential cases against LangGraph: ``tests/compat/test_nested_cases.py``."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

import pytest

from streamflow.errors import TaskCancelledError
from streamflow.events import CustomData, Event, StateUpdate, TaskStarted
from streamflow.graph import START, Send, StateGraph, get_stream_writer
from streamflow.messages import MessagesState
from streamflow.models import FakeChatModel
from tests.helpers import Signal


class Counter(TypedDict):
    value: int
    log: Annotated[list[str], operator.add]


START_VALUE: Counter = {"value": 1, "log": []}


def child_graph() -> Any:
    def inner(state: Counter) -> dict[str, Any]:
        get_stream_writer()({"inner": state["value"]})
        return {"log": [f"inner{state['value']}"]}

    return StateGraph(Counter).add_node("inner", inner).add_edge(START, "inner").compile()


def parent_graph(node: Any) -> Any:
    return StateGraph(Counter).add_node("caller", node).add_edge(START, "caller").compile()


def fan_out_graph(width: int) -> Any:
    """A graph whose one step runs ``width`` tasks (sent), each logging its index."""

    def spread(state: Counter) -> list[Send]:
        return [Send("item", {"value": index, "log": []}) for index in range(width)]

    def item(state: Counter) -> dict[str, Any]:
        return {"log": [str(state["value"])]}

    return StateGraph(Counter).add_node("item", item).add_conditional_edges(START, spread, ["item"]).compile()


async def events_of(graph: Any, **config: Any) -> list[Event]:
    """Every event of a run of ``graph`` (subgraphs' too), in order."""
    async with graph.start(START_VALUE, config or None) as run:
        sub = run.subscribe(overflow="block")
        await run.result()
        return [event async for event in sub]


@pytest.mark.anyio
async def test_the_child_of_a_sync_node_publishes_under_the_nodes_namespace() -> None:
    sub = child_graph()
    graph = parent_graph(lambda state: {"log": sub.invoke({"value": 5, "log": []})["log"]})
    events = await events_of(graph)
    caller = next(e for e in events if isinstance(e, TaskStarted) and e.node == "caller")
    inner = next(e for e in events if isinstance(e, TaskStarted) and e.node == "inner")
    assert caller.ns == ()
    assert inner.ns == (f"caller:{caller.task_id}",)
    custom = [e for e in events if isinstance(e, CustomData)]
    assert [(e.ns, e.node, e.data) for e in custom] == [(inner.ns, "inner", {"inner": 5})]
    root_updates = [e.update for e in events if isinstance(e, StateUpdate) and not e.ns]
    assert root_updates == [{"log": ["inner5"]}]


@pytest.mark.anyio
async def test_children_of_one_async_node_get_numbered_namespaces() -> None:
    sub = child_graph()

    async def caller(state: Counter) -> dict[str, Any]:
        results = await asyncio.gather(sub.ainvoke({"value": 1, "log": []}), sub.ainvoke({"value": 2, "log": []}))
        return {"log": [entry for result in results for entry in result["log"]]}

    events = await events_of(parent_graph(caller))
    caller_id = next(e.task_id for e in events if isinstance(e, TaskStarted) and e.node == "caller")
    spaces = {e.data["inner"]: e.ns for e in events if isinstance(e, CustomData)}
    assert spaces == {1: (f"caller:{caller_id}",), 2: (f"caller:{caller_id}", "1")}


def test_a_node_streaming_a_child_gets_the_childs_own_chunks() -> None:
    sub = child_graph()
    alone = list(sub.stream({"value": 3, "log": []}, stream_mode=["updates", "values"]))
    seen: list[Any] = []

    def caller(state: Counter) -> dict[str, Any]:
        seen.extend(sub.stream({"value": 3, "log": []}, stream_mode=["updates", "values"]))
        return {"log": ["caller"]}

    parent = list(parent_graph(caller).stream(START_VALUE, stream_mode="custom", subgraphs=True))
    assert seen == alone
    assert [chunk for _ns, chunk in parent] == [{"inner": 3}]


@pytest.mark.anyio
async def test_a_child_streamed_with_subgraphs_shows_namespaces_relative_to_itself() -> None:
    grandchild = child_graph()
    middle = parent_graph(lambda state: {"log": grandchild.invoke(state)["log"]})
    seen: list[Any] = []

    async def caller(state: Counter) -> dict[str, Any]:
        async for chunk in middle.astream(state, stream_mode="custom", subgraphs=True):
            seen.append(chunk)
        return {"log": ["caller"]}

    chunks = [c async for c in parent_graph(caller).astream(START_VALUE, stream_mode="custom", subgraphs=True)]
    ((inner_ns, data),) = seen
    assert data == {"inner": 1}
    assert len(inner_ns) == 1 and inner_ns[0].startswith("caller:")  # the middle graph's own caller node
    # as in LangGraph: the middle graph's stream takes "custom", so its custom data stays there
    assert chunks == []


@pytest.mark.anyio
async def test_custom_data_reaches_the_parent_when_the_child_stream_does_not_take_custom() -> None:
    middle = parent_graph(lambda state: {"log": child_graph().invoke(state)["log"]})

    async def caller(state: Counter) -> dict[str, Any]:
        async for _chunk in middle.astream(state, stream_mode="updates"):
            pass
        return {"log": ["caller"]}

    chunks = [c async for c in parent_graph(caller).astream(START_VALUE, stream_mode="custom", subgraphs=True)]
    assert [data for _ns, data in chunks] == [{"inner": 1}]


def test_a_big_child_of_a_node_in_the_streaming_thread_does_not_stall_on_a_small_buffer() -> None:
    sub = fan_out_graph(200)
    graph = parent_graph(lambda state: {"log": sub.invoke({"value": 0, "log": []})["log"]})
    chunks = list(graph.stream(START_VALUE, stream_mode=["tasks", "updates"], subgraphs=True, buffer_size=4))
    nested = [chunk for ns, mode, chunk in chunks if ns and mode == "updates"]
    assert len(nested) == 200
    (root,) = [chunk for ns, mode, chunk in chunks if not ns and mode == "updates"]
    assert len(root["caller"]["log"]) == 200


def test_a_node_streaming_a_big_child_on_a_small_buffer() -> None:
    sub = fan_out_graph(100)

    def caller(state: Counter) -> dict[str, Any]:
        updates = list(sub.stream({"value": 0, "log": []}, buffer_size=2))
        return {"log": [str(len(updates))]}

    chunks = list(parent_graph(caller).stream(START_VALUE, subgraphs=True, buffer_size=2))
    assert len([ns for ns, _chunk in chunks if ns]) == 100
    assert chunks[-1] == ((), {"caller": {"log": ["100"]}})


@pytest.mark.anyio
async def test_a_model_in_a_child_streams_tokens_into_the_parents_messages_mode() -> None:
    text = "tokens from the nested graph"
    model = FakeChatModel([text], chunk_size=4)

    async def answer(state: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    sub = StateGraph(MessagesState).add_node("answer", answer).add_edge(START, "answer").compile()

    async def caller(state: dict[str, Any]) -> dict[str, Any]:
        return {"messages": (await sub.ainvoke(state))["messages"][-1:]}

    graph = StateGraph(MessagesState).add_node("caller", caller).add_edge(START, "caller").compile()
    chunks = [
        chunk
        async for chunk in graph.astream(
            {"messages": [("user", "hi")]}, {"tags": ["t1"]}, stream_mode="messages", subgraphs=True
        )
    ]
    nested = [(ns, token, meta) for ns, (token, meta) in chunks if ns]
    assert "".join(token.content for _ns, token, _meta in nested) == text
    ns, _token, meta = nested[0]
    assert meta["langgraph_node"] == "answer"
    assert meta["langgraph_checkpoint_ns"].startswith(f"{ns[0]}|answer:")
    assert meta["tags"] == ["t1"]


def test_a_sync_node_streaming_a_childs_messages_gets_every_token_and_ends() -> None:
    """The child's last events (its model call's end) make no ``messages`` chunk: once the child has ended,
    the node's stream ends with what was buffered instead of waiting for a chunk that never comes."""
    model = FakeChatModel(["nested answer"], chunk_size=3)

    def call(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    child = StateGraph(MessagesState).add_node("call", call).add_edge(START, "call").compile()

    def caller(state: Counter) -> dict[str, Any]:
        chunks = [chunk for chunk, _ in child.stream({"messages": [("user", "hi")]}, stream_mode="messages")]
        return {"log": ["".join(str(chunk.content) for chunk in chunks)]}

    assert parent_graph(caller).invoke(START_VALUE)["log"] == ["nested answer"]


def test_what_the_child_raises_reaches_the_node() -> None:
    def boom(state: Counter) -> dict[str, Any]:
        raise ValueError("inner failed")

    sub = StateGraph(Counter).add_node("boom", boom).add_edge(START, "boom").compile()

    def caller(state: Counter) -> dict[str, Any]:
        try:
            sub.invoke(state)
        except ValueError as exc:
            return {"log": [f"caught {exc}"]}
        return {"log": ["not raised"]}

    chunks = list(parent_graph(caller).stream(START_VALUE, stream_mode="tasks", subgraphs=True))
    failed = [chunk for ns, chunk in chunks if ns and "error" in chunk]
    assert [chunk["name"] for chunk in failed] == ["boom"]
    assert chunks[-1][1]["result"] == {"log": ["caught inner failed"]}


@pytest.mark.anyio
async def test_leaving_the_parents_stream_cancels_the_child() -> None:
    outcome: list[str] = []

    async def waits(state: Counter) -> dict[str, Any]:
        get_stream_writer()("waiting")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            outcome.append("child cancelled")
            raise
        return {}

    sub = StateGraph(Counter).add_node("waits", waits).add_edge(START, "waits").compile()

    async def caller(state: Counter) -> dict[str, Any]:
        result: dict[str, Any] = await sub.ainvoke(state)
        return result

    stream = parent_graph(caller).astream(START_VALUE, stream_mode="custom", subgraphs=True)
    async for _ns, chunk in stream:
        assert chunk == "waiting"
        break
    await stream.aclose()
    assert outcome == ["child cancelled"]


def test_leaving_the_parents_stream_cancels_the_child_of_a_sync_node() -> None:
    child_cancelled = Signal("child cancelled")
    node_told = Signal("node told")
    raised: list[BaseException] = []

    async def waits(state: Counter) -> dict[str, Any]:
        get_stream_writer()("waiting")
        try:
            await asyncio.Event().wait()
        finally:
            child_cancelled.set()
        return {}

    sub = StateGraph(Counter).add_node("waits", waits).add_edge(START, "waits").compile()

    def caller(state: Counter) -> dict[str, Any]:
        try:
            result: dict[str, Any] = sub.invoke(state)
            return result
        except BaseException as exc:
            raised.append(exc)
            raise
        finally:
            node_told.set()

    builder = StateGraph(Counter).add_node("caller", caller).add_node("other", lambda s: {}).add_edge(START, "caller")
    graph = builder.add_edge(START, "other").compile()  # two tasks: the sync node runs in a worker thread
    for _ns, chunk in graph.stream(START_VALUE, stream_mode="custom", subgraphs=True):
        assert chunk == "waiting"
        break
    child_cancelled.wait()
    node_told.wait()
    assert len(raised) == 1 and isinstance(raised[0], TaskCancelledError)


def test_a_node_leaving_a_childs_stream_early_cancels_the_child() -> None:
    outcome: list[str] = []

    def first(state: Counter) -> dict[str, Any]:
        return {"log": ["first"]}

    async def waits(state: Counter) -> dict[str, Any]:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            outcome.append("second cancelled")
            raise
        return {}

    sub = (
        StateGraph(Counter)
        .add_node("first", first)
        .add_node("waits", waits)
        .add_edge(START, "first")
        .add_edge("first", "waits")
        .compile()
    )

    def caller(state: Counter) -> dict[str, Any]:
        for chunk in sub.stream(state):
            return {"log": [repr(chunk)]}
        return {}

    chunks = list(parent_graph(caller).stream(START_VALUE))
    assert chunks == [{"caller": {"log": ["{'first': {'log': ['first']}}"]}}]
    assert outcome == ["second cancelled"]


def test_the_invoked_graph_runs_alone_again_outside_a_node() -> None:
    sub = child_graph()
    parent = parent_graph(lambda state: {"log": sub.invoke(state)["log"]})
    assert parent.invoke(START_VALUE) == {"value": 1, "log": ["inner1"]}
    assert sub.invoke({"value": 2, "log": []}) == {"value": 2, "log": ["inner2"]}
    assert list(sub.stream({"value": 2, "log": []}, stream_mode="custom", subgraphs=True)) == [((), {"inner": 2})]


def test_sync_code_its_run_abandoned_cannot_start_a_child() -> None:
    proceed = Signal("proceed")
    done = Signal("done")
    raised: list[BaseException] = []
    sub = child_graph()

    def caller(state: Counter) -> dict[str, Any]:
        get_stream_writer()("started")
        proceed.wait()
        try:
            sub.invoke(state)
        except BaseException as exc:
            raised.append(exc)
        finally:
            done.set()
        return {}

    builder = StateGraph(Counter).add_node("caller", caller).add_node("other", lambda s: {}).add_edge(START, "caller")
    graph = builder.add_edge(START, "other").compile()  # two tasks: the sync node runs in a worker thread
    for chunk in graph.stream(START_VALUE, stream_mode="custom"):
        assert chunk == "started"
        break
    proceed.set()
    done.wait()
    assert len(raised) == 1 and isinstance(raised[0], TaskCancelledError)
