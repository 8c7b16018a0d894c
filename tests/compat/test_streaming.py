"""Differential cases for ``stream()``/``astream()``/``invoke()``: each builds one graph from the same code on
LangGraph and on streamflow and expects the same normalised chunks, sync and async. Cases after LangGraph's
own streaming tests (libs/langgraph/tests/test_pregel*.py), written anew."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Annotated, Any, TypedDict

import pytest

from .conftest import Case, Lib, normalise, reference


class Counter(TypedDict):
    value: int
    log: Annotated[list[str], operator.add]


class Fan(TypedDict):
    topics: list[str]
    results: Annotated[list[str], operator.add]


def chain(lib: Lib) -> Any:
    def first(state: Counter) -> dict[str, Any]:
        return {"value": state["value"] + 1, "log": ["first"]}

    def second(state: Counter) -> dict[str, Any]:
        return {"value": state["value"] * 10, "log": ["second"]}

    builder = lib.StateGraph(Counter)
    builder.add_node("first", first)
    builder.add_node("second", second)
    builder.add_edge(lib.START, "first")
    builder.add_edge("first", "second")
    builder.add_edge("second", lib.END)
    return builder.compile()


def writer_chain(lib: Lib) -> Any:
    def by_getter(state: Counter) -> dict[str, Any]:
        lib.get_stream_writer()({"from": "getter", "value": state["value"]})
        return {"value": state["value"] + 1, "log": ["getter"]}

    def by_parameter(state: Counter, writer: Any) -> dict[str, Any]:
        writer("plain text")
        writer({"from": "parameter"})
        return {"log": ["parameter"]}

    # What a user writes as ``writer: StreamWriter``, with the StreamWriter of the library under test.
    by_parameter.__annotations__["writer"] = lib.StreamWriter

    builder = lib.StateGraph(Counter)
    builder.add_node("by_getter", by_getter)
    builder.add_node("by_parameter", by_parameter)
    builder.add_edge(lib.START, "by_getter")
    builder.add_edge("by_getter", "by_parameter")
    builder.add_edge("by_parameter", lib.END)
    return builder.compile()


def nested(lib: Lib) -> Any:
    def inner(state: Counter) -> dict[str, Any]:
        lib.get_stream_writer()("from inner")
        return {"value": state["value"] + 100, "log": ["inner"]}

    sub = lib.StateGraph(Counter)
    sub.add_node("inner", inner)
    sub.add_edge(lib.START, "inner")
    sub.add_edge("inner", lib.END)

    def outer(state: Counter) -> dict[str, Any]:
        return {"log": ["outer"]}

    builder = lib.StateGraph(Counter)
    builder.add_node("outer", outer)
    builder.add_node("child", sub.compile())
    builder.add_edge(lib.START, "outer")
    builder.add_edge("outer", "child")
    builder.add_edge("child", lib.END)
    return builder.compile()


def map_reduce(lib: Lib) -> Any:
    def fan_out(state: Fan) -> list[Any]:
        return [lib.Send("work", {"topics": [topic], "results": []}) for topic in state["topics"]]

    def work(state: Fan) -> dict[str, Any]:
        return {"results": [state["topics"][0].upper()]}

    def finish(state: Fan) -> dict[str, Any]:
        return {"results": ["done"]}

    builder = lib.StateGraph(Fan)
    builder.add_node("work", work)
    builder.add_node("finish", finish)
    builder.add_conditional_edges(lib.START, fan_out, ["work"])
    builder.add_edge("work", "finish")
    builder.add_edge("finish", lib.END)
    return builder.compile()


def branching(lib: Lib) -> Any:
    def start(state: Counter) -> dict[str, Any]:
        return {"log": ["start"]}

    def route(state: Counter) -> str:
        return "big" if state["value"] > 5 else "small"

    builder = lib.StateGraph(Counter)
    builder.add_node("start", start)
    builder.add_node("big", lambda state: {"log": ["big"]})
    builder.add_node("small", lambda state: {"log": ["small"]})
    builder.add_edge(lib.START, "start")
    builder.add_conditional_edges("start", route, {"big": "big", "small": "small"})
    builder.add_edge("big", lib.END)
    builder.add_edge("small", lib.END)
    return builder.compile()


def parallel(lib: Lib) -> Any:
    builder = lib.StateGraph(Counter)
    builder.add_node("left", lambda state: {"log": ["left"]})
    builder.add_node("right", lambda state: {"log": ["right"]})
    builder.add_node("join", lambda state: {"value": len(state["log"])})
    builder.add_edge(lib.START, "left")
    builder.add_edge(lib.START, "right")
    builder.add_edge(["left", "right"], "join")
    builder.add_edge("join", lib.END)
    return builder.compile()


def messages_graph(lib: Lib) -> Any:
    def reply(state: Any) -> dict[str, Any]:
        return {"messages": [lib.AIMessage(content=f"echo: {state['messages'][-1].content}", id="reply-1")]}

    builder = lib.StateGraph(lib.MessagesState)
    builder.add_node("reply", reply)
    builder.add_edge(lib.START, "reply")
    builder.add_edge("reply", lib.END)
    return builder.compile()


def two_levels(lib: Lib) -> Any:
    def leaf(state: Counter) -> dict[str, Any]:
        lib.get_stream_writer()({"depth": 2})
        return {"log": ["leaf"]}

    grandchild = lib.StateGraph(Counter)
    grandchild.add_node("leaf", leaf)
    grandchild.add_edge(lib.START, "leaf")
    grandchild.add_edge("leaf", lib.END)

    child = lib.StateGraph(Counter)
    child.add_node("middle", lambda state: {"log": ["middle"]})
    child.add_node("grandchild", grandchild.compile())
    child.add_edge(lib.START, "middle")
    child.add_edge("middle", "grandchild")
    child.add_edge("grandchild", lib.END)

    builder = lib.StateGraph(Counter)
    builder.add_node("child", child.compile())
    builder.add_edge(lib.START, "child")
    builder.add_edge("child", lib.END)
    return builder.compile()


def invoked_inside(lib: Lib) -> Any:
    sub = lib.StateGraph(Counter)
    sub.add_node("inner", lambda state: {"log": ["inner"]})
    sub.add_edge(lib.START, "inner")
    sub.add_edge("inner", lib.END)
    compiled = sub.compile()

    def caller(state: Counter) -> dict[str, Any]:
        result = compiled.invoke({"value": state["value"], "log": []})
        return {"log": result["log"]}

    builder = lib.StateGraph(Counter)
    builder.add_node("caller", caller)
    builder.add_edge(lib.START, "caller")
    builder.add_edge("caller", lib.END)
    return builder.compile()


class Named:
    """A callable node that appends its name (the node's name comes from ``__name__``)."""

    def __init__(self, name: str) -> None:
        self.__name__ = name

    def __call__(self, state: Any) -> list[str]:
        return [self.__name__ if isinstance(state, list) else f"{self.__name__}|{state}"]


def list_state_sends(lib: Lib) -> Any:
    def twice(state: list[str]) -> list[Any]:
        return [lib.Send("two", state), lib.Send("two", state)]

    def spread(state: list[str]) -> list[Any]:
        return [lib.Send("two", 1), lib.Send("two", 2), "three"]

    builder = lib.StateGraph(Annotated[list, operator.add])
    for name in ("one", "side", "two", "three", "last"):
        builder.add_node(Named(name))
    builder.add_edge(lib.START, "one")
    builder.add_edge(lib.START, "side")
    builder.add_conditional_edges("one", twice)
    builder.add_conditional_edges("side", spread)
    builder.add_edge("two", "last")
    return builder.compile()


class Items(TypedDict):
    items: Annotated[list[str], operator.add]


def keyed_sends(lib: Lib) -> Any:
    def node(name: str) -> Callable[[Any], dict[str, Any]]:
        def run(state: Any) -> dict[str, Any]:
            return {"items": [name if "items" in state else f"{name}|{state['n']}"]}

        return run

    def twice(state: Items) -> list[Any]:
        return [lib.Send("two", {"n": 0}), lib.Send("two", {"n": 0})]

    def spread(state: Items) -> list[Any]:
        return [lib.Send("two", {"n": 1}), lib.Send("two", {"n": 2}), "three"]

    builder = lib.StateGraph(Items)
    for name in ("one", "side", "two", "three", "last"):
        builder.add_node(name, node(name))
    builder.add_edge(lib.START, "one")
    builder.add_edge(lib.START, "side")
    builder.add_conditional_edges("one", twice)
    builder.add_conditional_edges("side", spread)
    builder.add_edge("two", "last")
    return builder.compile()


def writer_returns_state(lib: Lib) -> Any:
    class Foo(TypedDict):
        foo: str

    def echo(state: Foo) -> Foo:
        lib.get_stream_writer()("written")
        return state

    return lib.StateGraph(Foo).add_node(echo).add_edge(lib.START, "echo").compile()


START_VALUE = {"value": 1, "log": []}
HUMAN = {"messages": [{"role": "user", "content": "hi", "id": "human-1"}]}

CASES = [
    pytest.param(Case(chain, START_VALUE), id="default-mode"),
    pytest.param(Case(chain, START_VALUE, {"stream_mode": "values"}), id="values"),
    pytest.param(Case(chain, START_VALUE, {"stream_mode": "updates"}), id="updates"),
    pytest.param(Case(writer_chain, START_VALUE, {"stream_mode": "custom"}), id="custom-writer"),
    pytest.param(Case(writer_chain, START_VALUE, {"stream_mode": ["updates", "custom"]}), id="mode-list"),
    pytest.param(Case(writer_chain, START_VALUE, {"stream_mode": ["values", "custom"]}), id="mode-list-values"),
    pytest.param(Case(branching, {"value": 9, "log": []}), id="conditional-edges"),
    pytest.param(Case(parallel, START_VALUE, {"stream_mode": "values"}), id="parallel-join"),
    pytest.param(Case(map_reduce, {"topics": ["a", "b", "c"], "results": []}, ordered=False), id="send-updates"),
    pytest.param(
        Case(map_reduce, {"topics": ["a", "b", "c"], "results": []}, {"stream_mode": "values"}), id="send-values"
    ),
    pytest.param(Case(keyed_sends, {"items": ["zero"]}, {"stream_mode": "values"}), id="send-concurrent-values"),
    pytest.param(Case(keyed_sends, {"items": ["zero"]}, ordered=False), id="send-concurrent-updates"),
    pytest.param(
        Case(list_state_sends, ["zero"], {"stream_mode": "values"}),
        id="send-root-list-values",
    ),
    pytest.param(
        Case(list_state_sends, ["zero"], ordered=False),
        id="send-root-list-updates",
    ),
    pytest.param(Case(writer_returns_state, {"foo": "bar"}, {"stream_mode": "custom"}), id="writer-only-custom"),
    pytest.param(Case(writer_returns_state, {"foo": "bar"}, {"stream_mode": "values"}), id="writer-values"),
    pytest.param(
        Case(writer_returns_state, {"foo": "bar"}, {"stream_mode": ["custom", "updates"]}), id="writer-mode-list"
    ),
    pytest.param(Case(nested, START_VALUE), id="subgraph-hidden"),
    pytest.param(Case(nested, START_VALUE, {"subgraphs": True}), id="subgraphs-updates"),
    pytest.param(Case(nested, START_VALUE, {"subgraphs": True, "stream_mode": "values"}), id="subgraphs-values"),
    pytest.param(
        Case(nested, START_VALUE, {"subgraphs": True, "stream_mode": ["updates", "custom"]}),
        id="subgraphs-mode-list",
    ),
    pytest.param(Case(two_levels, START_VALUE, {"subgraphs": True}), id="subgraphs-two-levels"),
    pytest.param(
        Case(two_levels, START_VALUE, {"subgraphs": True, "stream_mode": ["values", "updates", "custom"]}),
        id="subgraphs-two-levels-mode-list",
    ),
    pytest.param(
        Case(invoked_inside, START_VALUE, {"subgraphs": True}),
        id="subgraph-invoked-inside-node",
    ),
    pytest.param(
        Case(chain, {"value": 1, "log": [], "extra": "ignored"}, {"stream_mode": "values"}),
        id="input-key-outside-schema",
    ),
    pytest.param(Case(chain, START_VALUE, {"stream_mode": "tasks"}), id="tasks"),
    pytest.param(Case(chain, START_VALUE, {"stream_mode": "debug"}), id="debug"),
    pytest.param(Case(branching, {"value": 9, "log": []}, {"stream_mode": "tasks"}), id="tasks-conditional-edges"),
    pytest.param(Case(parallel, START_VALUE, {"stream_mode": "tasks"}, ordered=False), id="tasks-parallel-join"),
    pytest.param(
        Case(map_reduce, {"topics": ["a", "b"], "results": []}, {"stream_mode": "tasks"}, ordered=False),
        id="tasks-send",
    ),
    pytest.param(
        Case(parallel, START_VALUE, {"stream_mode": ["debug", "updates"]}, ordered=False), id="debug-parallel-join"
    ),
    pytest.param(
        Case(map_reduce, {"topics": ["a", "b"], "results": []}, {"stream_mode": "debug"}, ordered=False),
        id="debug-send",
    ),
    pytest.param(Case(nested, START_VALUE, {"stream_mode": "tasks", "subgraphs": True}), id="tasks-subgraphs"),
    pytest.param(
        Case(chain, START_VALUE, {"stream_mode": "tasks", "config": {"metadata": {"user": "u1"}, "tags": ["t1"]}}),
        id="tasks-run-metadata",
    ),
    pytest.param(
        Case(
            nested,
            START_VALUE,
            {"stream_mode": "debug", "subgraphs": True, "config": {"metadata": {"user": "u1"}, "tags": ["t1"]}},
        ),
        id="debug-subgraphs-run-metadata",
    ),
    pytest.param(
        Case(chain, START_VALUE, {"stream_mode": "tasks", "config": {"configurable": {"thread_id": "7"}}}),
        id="tasks-thread-id-left-out",
    ),
    pytest.param(
        Case(messages_graph, {"messages": [("user", "hi")]}, {"stream_mode": "values"}),
        id="messages-tuple-input",
    ),
    pytest.param(Case(chain, START_VALUE, {"version": "v2"}), id="v2-updates"),
    pytest.param(
        Case(two_levels, START_VALUE, {"version": "v2", "subgraphs": True, "stream_mode": ["updates", "custom"]}),
        id="v2-subgraphs-two-levels",
    ),
    pytest.param(
        Case(chain, START_VALUE, {"version": "v2", "stream_mode": "values"}),
        id="v2-values",
    ),
    pytest.param(
        Case(nested, START_VALUE, {"version": "v2", "subgraphs": True, "stream_mode": ["updates", "custom"]}),
        id="v2-subgraphs-mode-list",
    ),
    pytest.param(Case(messages_graph, HUMAN, {"stream_mode": "values"}), id="messages-state-values"),
    pytest.param(
        Case(messages_graph, HUMAN, {"stream_mode": "messages"}),
        id="messages-mode-node-output",
    ),
]


def test_stream(lib: Lib, case: Case) -> None:
    expected = case.compare(list(case.build(reference()).stream(case.input, **case.kwargs)))
    assert case.compare(list(case.build(lib).stream(case.input, **case.kwargs))) == expected


@pytest.mark.anyio
async def test_astream(lib: Lib, case: Case) -> None:
    expected = case.compare([chunk async for chunk in case.build(reference()).astream(case.input, **case.kwargs)])
    assert case.compare([chunk async for chunk in case.build(lib).astream(case.input, **case.kwargs)]) == expected


INVOKE_CASES = [
    pytest.param(Case(chain, START_VALUE), id="chain"),
    pytest.param(Case(nested, START_VALUE), id="subgraph"),
    pytest.param(Case(map_reduce, {"topics": ["x", "y"], "results": []}), id="send"),
    pytest.param(
        Case(list_state_sends, ["zero"]),
        id="send-root-list",
    ),
    pytest.param(Case(keyed_sends, {"items": ["zero"]}), id="send-concurrent"),
    pytest.param(Case(writer_returns_state, {"foo": "bar"}), id="state-returned"),
    pytest.param(Case(two_levels, START_VALUE), id="two-levels"),
    pytest.param(Case(parallel, START_VALUE), id="parallel-join"),
    pytest.param(Case(messages_graph, HUMAN), id="messages-state"),
]


@pytest.mark.parametrize("invoke_case", INVOKE_CASES)
def test_invoke(lib: Lib, invoke_case: Case) -> None:
    expected = normalise(invoke_case.build(reference()).invoke(invoke_case.input))
    assert normalise(invoke_case.build(lib).invoke(invoke_case.input)) == expected


@pytest.mark.anyio
@pytest.mark.parametrize("invoke_case", INVOKE_CASES)
async def test_ainvoke(lib: Lib, invoke_case: Case) -> None:
    expected = normalise(await invoke_case.build(reference()).ainvoke(invoke_case.input))
    assert normalise(await invoke_case.build(lib).ainvoke(invoke_case.input)) == expected


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        metafunc.parametrize("case", CASES)


def async_chain(lib: Lib) -> Any:
    async def first(state: Counter) -> dict[str, Any]:
        lib.get_stream_writer()({"node": "first"})
        return {"value": state["value"] + 1, "log": ["first"]}

    async def second(state: Counter) -> dict[str, Any]:
        return {"log": ["second"]}

    builder = lib.StateGraph(Counter)
    builder.add_node("first", first)
    builder.add_node("second", second)
    builder.add_edge(lib.START, "first")
    builder.add_edge("first", "second")
    builder.add_edge("second", lib.END)
    return builder.compile()


ASYNC_NODE_CASES = [
    pytest.param(Case(async_chain, START_VALUE), id="default-mode"),
    pytest.param(Case(async_chain, START_VALUE, {"stream_mode": ["values", "updates", "custom"]}), id="mode-list"),
    pytest.param(Case(async_chain, START_VALUE, {"stream_mode": "custom", "version": "v2"}), id="v2-custom"),
]


@pytest.mark.anyio
@pytest.mark.parametrize("async_case", ASYNC_NODE_CASES)
async def test_astream_async_nodes(lib: Lib, async_case: Case) -> None:
    graph = async_case.build(reference())
    expected = async_case.compare([chunk async for chunk in graph.astream(async_case.input, **async_case.kwargs)])
    graph = async_case.build(lib)
    assert (
        async_case.compare([chunk async for chunk in graph.astream(async_case.input, **async_case.kwargs)]) == expected
    )


SUBGRAPH_RUN = pytest.mark.differs(
    "astream_events: LangGraph shows a graph run under a node (a subgraph node, or a graph a node invokes) as a "
    "run of its own (on_chain_start/on_chain_end named after the graph, tagged seq:step:1, one more parent id "
    "for the events inside); streamflow shows its tasks under the node's run directly"
)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "build",
    [
        pytest.param(nested, id="events-subgraph-run", marks=SUBGRAPH_RUN),
        pytest.param(invoked_inside, id="events-invoked-graph-run", marks=SUBGRAPH_RUN),
    ],
)
async def test_astream_events_of_a_graph_run_under_a_node(lib: Lib, build: Callable[[Lib], Any]) -> None:
    async def names(library: Lib) -> list[Any]:
        graph = build(library)
        return [
            (event["event"], event["name"], event["tags"], len(event["parent_ids"]))
            async for event in graph.astream_events(START_VALUE, version="v2")
        ]

    assert await names(lib) == await names(reference())
