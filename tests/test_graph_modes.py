"""Stream modes through stream(), astream() and invoke(): chunk shapes, mode lists, subgraphs, v2."""

from __future__ import annotations

import operator
import re
from typing import Annotated, Any, TypedDict

import pytest

from streamflow.errors import UnknownStreamModeError
from streamflow.events import TaskStarted
from streamflow.graph import END, START, StateGraph, StreamWriter
from streamflow.modes import ViewSpec
from streamflow.types import Send

JOKE = "This is a joke about ice cream and cats"


class State(TypedDict):
    topic: str
    joke: str


def refine_topic(state: State) -> dict[str, Any]:
    return {"topic": state["topic"] + " and cats"}


async def generate_joke(state: State, writer: StreamWriter) -> dict[str, Any]:
    writer({"progress": "50%"})
    writer({"progress": "100%"})
    return {"joke": f"This is a joke about {state['topic']}"}


graph = (
    StateGraph(State)
    .add_node("refine_topic", refine_topic)
    .add_node("generate_joke", generate_joke)
    .add_edge(START, "refine_topic")
    .add_edge("refine_topic", "generate_joke")
    .compile()
)

INPUT = {"topic": "ice cream"}
FINAL = {"topic": "ice cream and cats", "joke": JOKE}

EXPECTED: dict[str, list[Any]] = {
    "values": [{"topic": "ice cream"}, {"topic": "ice cream and cats"}, FINAL],
    "updates": [{"refine_topic": {"topic": "ice cream and cats"}}, {"generate_joke": {"joke": JOKE}}],
    "custom": [{"progress": "50%"}, {"progress": "100%"}],
}


def sync_items(**kwargs: Any) -> list[Any]:
    return list(graph.stream(INPUT, **kwargs))


async def async_items(**kwargs: Any) -> list[Any]:
    return [item async for item in graph.astream(INPUT, **kwargs)]


@pytest.mark.parametrize("mode", sorted(EXPECTED))
def test_simple_modes_sync(mode: str) -> None:
    assert sync_items(stream_mode=mode) == EXPECTED[mode]


@pytest.mark.anyio
@pytest.mark.parametrize("mode", sorted(EXPECTED))
async def test_simple_modes_async(mode: str) -> None:
    assert await async_items(stream_mode=mode) == EXPECTED[mode]


def test_default_mode_is_updates_sync() -> None:
    assert sync_items() == EXPECTED["updates"]
    assert sync_items(subgraphs=True) == [((), chunk) for chunk in EXPECTED["updates"]]


@pytest.mark.anyio
async def test_default_mode_is_updates_async() -> None:
    assert await async_items() == EXPECTED["updates"]
    assert await async_items(version="v2") == [
        {"type": "updates", "ns": (), "data": chunk} for chunk in EXPECTED["updates"]
    ]


def check_tasks(chunks: list[dict[str, Any]]) -> None:
    starts = [c for c in chunks if "input" in c]
    ends = [c for c in chunks if "result" in c]
    assert [c["name"] for c in starts] == ["refine_topic", "generate_joke"]
    assert starts[0]["input"] == {"topic": "ice cream"}
    assert starts[0]["triggers"] == ("branch:to:refine_topic",)
    assert starts[1]["input"] == {"topic": "ice cream and cats"}
    assert starts[1]["triggers"] == ("branch:to:generate_joke",)
    assert [set(c) for c in starts] == [{"id", "name", "input", "triggers"}] * 2
    assert ends == [
        {
            "id": starts[0]["id"],
            "name": "refine_topic",
            "error": None,
            "result": {"topic": "ice cream and cats"},
            "interrupts": [],
        },
        {"id": starts[1]["id"], "name": "generate_joke", "error": None, "result": {"joke": JOKE}, "interrupts": []},
    ]
    # each start precedes its end
    assert chunks.index(starts[0]) < chunks.index(ends[0]) < chunks.index(starts[1]) < chunks.index(ends[1])


def test_tasks_mode_sync() -> None:
    check_tasks(sync_items(stream_mode="tasks"))


@pytest.mark.anyio
async def test_tasks_mode_async() -> None:
    check_tasks(await async_items(stream_mode="tasks"))


def check_debug(chunks: list[dict[str, Any]]) -> None:
    assert [(c["step"], c["type"]) for c in chunks] == [
        (1, "task"),
        (1, "task_result"),
        (2, "task"),
        (2, "task_result"),
    ]
    for c in chunks:
        assert list(c) == ["step", "timestamp", "type", "payload"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00", c["timestamp"])
    assert chunks[0]["timestamp"] <= chunks[-1]["timestamp"]
    check_tasks([c["payload"] for c in chunks])


def test_debug_mode_sync() -> None:
    check_debug(sync_items(stream_mode="debug"))


@pytest.mark.anyio
async def test_debug_mode_async() -> None:
    check_debug(await async_items(stream_mode="debug"))


class Log(TypedDict):
    log: Annotated[list[str], operator.add]


def fan_graph() -> Any:
    """START -> a; a branches to b and c; b + c join into d; d sends to e once; every node logs its name."""

    def node(name: str) -> Any:
        return lambda state: {"log": [name]}

    builder = StateGraph(Log)
    for name in "abcde":
        builder.add_node(name, node(name))
    builder.add_edge(START, "a")
    builder.add_conditional_edges("a", lambda state: ["b", "c"])
    builder.add_edge(["b", "c"], "d")
    builder.add_conditional_edges("d", lambda state: [Send("e", {"log": ["sent"]})])
    builder.add_edge("e", END)
    return builder.compile()


def test_task_triggers_are_langgraph_12_channels() -> None:
    chunks = list(fan_graph().stream({"log": []}, stream_mode="tasks"))
    triggers = {c["name"]: c["triggers"] for c in chunks if "triggers" in c}
    assert triggers == {
        "a": ("branch:to:a",),
        "b": ("branch:to:b",),
        "c": ("branch:to:c",),
        "d": ("branch:to:d", "join:b+c:d"),  # every channel d listens to, sorted
        "e": ("__pregel_push",),
    }


def test_node_metadata_triggers_match_tasks_mode() -> None:
    seen: dict[str, Any] = {}

    def record(state: Log, config: Any) -> dict[str, Any]:
        seen[config["metadata"]["langgraph_node"]] = config["metadata"]["langgraph_triggers"]
        return {}

    builder = StateGraph(Log).add_node("first", record).add_node("second", record)
    app = builder.add_edge(START, "first").add_edge("first", "second").compile()
    chunks = list(app.stream({"log": []}, stream_mode="tasks"))
    assert seen == {"first": ("branch:to:first",), "second": ("branch:to:second",)}
    assert {c["name"]: c["triggers"] for c in chunks if "triggers" in c} == seen


def test_task_result_of_none_and_of_a_failure_is_an_empty_dict() -> None:
    def fail(state: Log) -> dict[str, Any]:
        raise ValueError("boom")

    app = (
        StateGraph(Log)
        .add_node("quiet", lambda state: None)
        .add_node("fail", fail)
        .add_edge(START, "quiet")
        .add_edge("quiet", "fail")
        .compile()
    )
    chunks: list[Any] = []
    with pytest.raises(ValueError, match="boom"):
        for chunk in app.stream({"log": []}, stream_mode="debug"):
            chunks.append(chunk)
    results = [c["payload"] for c in chunks if c["type"] == "task_result"]
    assert [(r["name"], r["error"], r["result"], r["interrupts"]) for r in results] == [
        ("quiet", None, {}, []),
        ("fail", "ValueError('boom')", {}, []),
    ]
    assert [c["step"] for c in chunks] == [1, 1, 2, 2]


MULTI = [
    ("values", {"topic": "ice cream"}),
    ("updates", {"refine_topic": {"topic": "ice cream and cats"}}),
    ("values", {"topic": "ice cream and cats"}),
    ("custom", {"progress": "50%"}),
    ("custom", {"progress": "100%"}),
    ("updates", {"generate_joke": {"joke": JOKE}}),
    ("values", FINAL),
]


def test_mode_list_sync() -> None:
    assert sync_items(stream_mode=["values", "updates", "custom"]) == MULTI


@pytest.mark.anyio
async def test_mode_list_async() -> None:
    assert await async_items(stream_mode=["values", "updates", "custom"]) == MULTI


def test_mode_list_of_one_yields_pairs() -> None:
    assert sync_items(stream_mode=["updates"]) == [("updates", c) for c in EXPECTED["updates"]]


def test_invoke() -> None:
    assert graph.invoke(INPUT) == FINAL


@pytest.mark.anyio
async def test_ainvoke() -> None:
    assert await graph.ainvoke(INPUT) == FINAL


# -- subgraphs -------------------------------------------------------------------------------------


class SubState(TypedDict):
    foo: str
    bar: str


class ParentState(TypedDict):
    foo: str


def _sub_node_1(state: SubState) -> dict[str, Any]:
    return {"bar": "bar"}


def _sub_node_2(state: SubState) -> dict[str, Any]:
    return {"foo": state["foo"] + state["bar"]}


def _node_1(state: ParentState) -> dict[str, Any]:
    return {"foo": "hi! " + state["foo"]}


subgraph = (
    StateGraph(SubState)
    .add_node("subgraph_node_1", _sub_node_1)
    .add_node("subgraph_node_2", _sub_node_2)
    .add_edge(START, "subgraph_node_1")
    .add_edge("subgraph_node_1", "subgraph_node_2")
    .compile()
)
parent = (
    StateGraph(ParentState)
    .add_node("node_1", _node_1)
    .add_node("node_2", subgraph)
    .add_edge(START, "node_1")
    .add_edge("node_1", "node_2")
    .compile()
)


def inner_ns(items: list[tuple[Any, ...]]) -> tuple[str, ...]:
    namespaces: set[tuple[str, ...]] = {item[0] for item in items if item[0] != ()}
    (ns,) = namespaces
    assert len(ns) == 1 and ns[0].startswith("node_2:")
    return ns


def check_subgraph_updates(items: list[tuple[Any, Any]]) -> None:
    ns = inner_ns(items)
    assert items == [
        ((), {"node_1": {"foo": "hi! foo"}}),
        (ns, {"subgraph_node_1": {"bar": "bar"}}),
        (ns, {"subgraph_node_2": {"foo": "hi! foobar"}}),
        ((), {"node_2": {"foo": "hi! foobar"}}),
    ]


def test_subgraphs_sync() -> None:
    check_subgraph_updates(list(parent.stream({"foo": "foo"}, stream_mode="updates", subgraphs=True)))


@pytest.mark.anyio
async def test_subgraphs_async() -> None:
    items = [i async for i in parent.astream({"foo": "foo"}, stream_mode="updates", subgraphs=True)]
    check_subgraph_updates(items)


def test_subgraph_namespace_carries_the_task_id() -> None:
    items = list(parent.stream({"foo": "foo"}, stream_mode="tasks", subgraphs=True))
    node_2_start = next(c for ns, c in items if ns == () and c["name"] == "node_2" and "input" in c)
    assert inner_ns(items) == (f"node_2:{node_2_start['id']}",)


def test_subgraphs_hidden_by_default() -> None:
    assert list(parent.stream({"foo": "foo"}, stream_mode="updates")) == [
        {"node_1": {"foo": "hi! foo"}},
        {"node_2": {"foo": "hi! foobar"}},
    ]
    assert parent.invoke({"foo": "foo"}) == {"foo": "hi! foobar"}


def test_subgraphs_with_mode_list() -> None:
    items = list(parent.stream({"foo": "foo"}, stream_mode=["updates", "values"], subgraphs=True))
    ns = inner_ns(items)
    assert all(len(i) == 3 for i in items)
    assert items[0] == ((), "values", {"foo": "foo"})
    assert (ns, "updates", {"subgraph_node_1": {"bar": "bar"}}) in items
    assert items[-1] == ((), "values", {"foo": "hi! foobar"})


# -- version="v2" ----------------------------------------------------------------------------------


def test_v2_single_mode() -> None:
    assert sync_items(stream_mode="updates", version="v2") == [
        {"type": "updates", "ns": (), "data": c} for c in EXPECTED["updates"]
    ]


@pytest.mark.anyio
async def test_v2_mode_list_async() -> None:
    items = await async_items(stream_mode=["values", "updates", "custom"], version="v2")
    assert items == [
        {"type": m, "ns": (), "data": c, "interrupts": ()} if m == "values" else {"type": m, "ns": (), "data": c}
        for m, c in MULTI
    ]


def test_v2_subgraphs() -> None:
    items = list(parent.stream({"foo": "foo"}, stream_mode="updates", subgraphs=True, version="v2"))
    ns = next(i["ns"] for i in items if i["ns"])
    assert items == [
        {"type": "updates", "ns": (), "data": {"node_1": {"foo": "hi! foo"}}},
        {"type": "updates", "ns": ns, "data": {"subgraph_node_1": {"bar": "bar"}}},
        {"type": "updates", "ns": ns, "data": {"subgraph_node_2": {"foo": "hi! foobar"}}},
        {"type": "updates", "ns": (), "data": {"node_2": {"foo": "hi! foobar"}}},
    ]


# -- bad arguments ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [{"stream_mode": "bogus"}, {"stream_mode": ["updates", "bogus"]}])
def test_unknown_mode_sync(kwargs: dict[str, Any]) -> None:
    with pytest.raises(UnknownStreamModeError, match="bogus") as info:
        graph.stream(INPUT, **kwargs)
    for name in ("values", "updates", "custom", "tasks", "debug"):
        assert name in str(info.value)


def test_empty_mode_list() -> None:
    with pytest.raises(UnknownStreamModeError, match="values"):
        graph.stream(INPUT, stream_mode=[])


def test_unknown_version_sync() -> None:
    with pytest.raises(UnknownStreamModeError, match="v3") as info:
        graph.stream(INPUT, version="v3")
    assert "v1" in str(info.value) and "v2" in str(info.value)


@pytest.mark.anyio
async def test_unknown_mode_async() -> None:
    with pytest.raises(UnknownStreamModeError, match="bogus") as info:
        async for _ in graph.astream(INPUT, stream_mode="bogus"):
            pass
    assert "debug" in str(info.value)


@pytest.mark.anyio
async def test_unknown_version_async() -> None:
    with pytest.raises(UnknownStreamModeError, match="v1, v2"):
        async for _ in graph.astream(INPUT, version="v0"):
            pass


def test_task_payload_metadata_is_the_run_metadata_without_internal_keys() -> None:
    config = {"metadata": {"user": "u1", "thread_id": "7", "langgraph_step": 9}, "tags": ["t1", "seq:step:1"]}
    tasks = [c for c in graph.stream(INPUT, config, stream_mode="tasks") if "triggers" in c]
    assert [c["metadata"] for c in tasks] == [{"user": "u1", "tags": ["t1"]}] * 2
    debug = [c["payload"] for c in graph.stream(INPUT, config, stream_mode="debug") if c["type"] == "task"]
    assert debug == [{**c, "id": d["id"]} for c, d in zip(tasks, debug, strict=True)]
    assert all("metadata" not in c for c in graph.stream(INPUT, stream_mode="tasks"))


def test_task_payload_of_a_view_that_missed_run_started_has_only_the_tags() -> None:
    event = TaskStarted(node="n", step=1, task_id="t", tags=("t1",), input={}, triggers=("branch:to:n",))
    assert list(ViewSpec.parse("tasks").items([event])) == [
        {"id": "t", "name": "n", "input": {}, "triggers": ("branch:to:n",), "metadata": {"tags": ["t1"]}}
    ]
