"""Differential cases after LangGraph's fan-out, entry-point and schema tests (libs/langgraph/tests/
test_pregel.py), written anew: the same graph on both libraries, chunks and results compared, sync and async.
Parallel sync nodes finish in any order on both libraries, so those cases compare chunks as a multiset."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

import pytest

from .conftest import Case, Lib, normalise, reference


class Key(TypedDict):
    my_key: Annotated[str, operator.add]


def multi_edge(lib: Lib, *, entry_points: bool = False) -> Any:
    def nothing(state: Key) -> None:
        return None

    builder = lib.StateGraph(Key)
    builder.add_node("up", nothing)
    builder.add_node("side", nothing)
    builder.add_node("other", lambda state: {"my_key": "_more"})
    builder.add_node("down", nothing)
    if entry_points:
        builder.set_entry_point("up")
        builder.set_finish_point("down")
    else:
        builder.add_edge(lib.START, "up")
        builder.add_edge("down", lib.END)
    builder.add_edge("up", "side")
    builder.add_edge("up", "other")
    builder.add_edge(["up", "side"], "down")
    return builder.compile()


def sorted_add(left: list[str], right: list[str]) -> list[str]:
    return sorted(left + right)


class Retrieval(TypedDict, total=False):
    query: str
    answer: str
    docs: Annotated[list[str], sorted_add]


def retrieval(lib: Lib) -> Any:
    def decide(state: Retrieval) -> str:
        return "qa" if state["query"].count("analyzed") > 1 else "rewrite_query"

    builder = lib.StateGraph(Retrieval)
    builder.add_node("rewrite_query", lambda state: {"query": f"query: {state['query']}"})
    builder.add_node("analyzer_one", lambda state: {"query": f"analyzed: {state['query']}"})
    builder.add_node("retriever_one", lambda state: {"docs": ["doc1", "doc2"]})
    builder.add_node("retriever_two", lambda state: {"docs": ["doc3", "doc4"]})
    builder.add_node("decider", lambda state: None)
    builder.add_node("qa", lambda state: {"answer": ",".join(state["docs"])})
    builder.add_edge(lib.START, "rewrite_query")
    builder.add_conditional_edges("rewrite_query", lambda state: ["analyzer_one", "retriever_two"])
    builder.add_edge("analyzer_one", "retriever_one")
    builder.add_edge(["retriever_one", "retriever_two"], "decider")
    builder.add_conditional_edges("decider", decide)
    builder.add_edge("qa", lib.END)
    return builder.compile()


class Agent(TypedDict, total=False):
    input: str
    output: str
    steps: Annotated[list[str], operator.add]


def conditional_start(lib: Lib, *, entry_point: bool = False) -> Any:
    def should_start(state: Agent) -> str:
        return "go-right" if len(state["input"]) > 10 else "go-left"

    builder = lib.StateGraph(Agent)
    builder.add_node("left", lambda state: {"output": state["input"] + "->left"})
    builder.add_node("right", lambda state: {"output": state["input"] + "->right"})
    routes = {"go-left": "left", "go-right": "right"}
    if entry_point:
        builder.set_conditional_entry_point(should_start, routes)
    else:
        builder.add_conditional_edges(lib.START, should_start, routes)
    builder.add_conditional_edges("left", lambda state: lib.END, {lib.END: lib.END})
    builder.add_edge("right", lib.END)
    return builder.compile()


def messages_from_config(lib: Lib) -> Any:
    def hello(state: Any) -> dict[str, Any]:
        return {"messages": lib.HumanMessage(content="hello", id="hello-1")}

    return lib.StateGraph(lib.MessagesState).add_node("hello", hello).add_edge(lib.START, "hello").compile()


class Whole(TypedDict):
    hello: str
    bye: str
    messages: Annotated[list[Any], operator.add]


class Output(TypedDict):
    messages: list[Any]


class ForB(TypedDict):
    bye: str
    now: int


def node_schemas(lib: Lib, *, output: bool = True) -> Any:
    def b(state: ForB) -> dict[str, Any]:
        return {"now": 123, "hello": "again"}

    builder = lib.StateGraph(Whole, output_schema=Output) if output else lib.StateGraph(Whole)
    builder.add_node("a", lambda state: None)
    builder.add_node("b", b)
    builder.add_edge(lib.START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", lib.END)
    return builder.compile()


def sequence(lib: Lib) -> Any:
    def first(state: Key) -> dict[str, Any]:
        return {"my_key": "+first"}

    def second(state: Key) -> dict[str, Any]:
        return {"my_key": "+second"}

    builder = lib.StateGraph(Key)
    builder.add_sequence([first, second])
    builder.add_edge(lib.START, "first")
    return builder.compile()


OUTPUT_SCHEMA = pytest.mark.differs("StateGraph(..., output_schema=...) is refused (unexpected keyword)")
CONFIG = {"configurable": {"thread_id": "th-123", "run_id": "run-456", "some_api_key": "secret"}}
QUIET_STEP = pytest.mark.differs(
    "values mode yields a chunk after a step whose nodes wrote nothing; LangGraph only after a step that wrote"
)

CASES = [
    pytest.param(Case(multi_edge, {"my_key": "my_value"}, ordered=False), id="multi-edge-none-updates"),
    pytest.param(
        Case(multi_edge, {"my_key": "my_value"}, {"stream_mode": "values"}), id="multi-edge-values", marks=QUIET_STEP
    ),
    pytest.param(
        Case(lambda lib: multi_edge(lib, entry_points=True), {"my_key": "my_value"}, ordered=False),
        id="set-entry-finish-point",
    ),
    pytest.param(Case(retrieval, {"query": "what is weather in sf"}, ordered=False), id="waiting-edge-cond-updates"),
    pytest.param(
        Case(retrieval, {"query": "what is weather in sf"}, {"stream_mode": "values"}),
        id="waiting-edge-cond-values",
        marks=QUIET_STEP,
    ),
    pytest.param(Case(conditional_start, {"input": "what is weather in sf"}), id="conditional-start"),
    pytest.param(
        Case(lambda lib: conditional_start(lib, entry_point=True), {"input": "what is weather in sf"}),
        id="set-conditional-entry-point",
    ),
    pytest.param(
        Case(node_schemas, {"hello": "there", "bye": "world", "messages": ["m"]}, ordered=False),
        id="node-input-schema-and-output-schema",
        marks=OUTPUT_SCHEMA,
    ),
    pytest.param(
        Case(
            lambda lib: node_schemas(lib, output=False),
            {"hello": "there", "bye": "world", "messages": ["m"]},
            {"stream_mode": ["values", "updates"]},
        ),
        id="node-input-schema",
        marks=pytest.mark.differs("a key only a node's input schema declares ('now') is refused as unknown"),
    ),
    pytest.param(
        Case(sequence, {"my_key": "x"}),
        id="add-sequence",
    ),
    pytest.param(
        Case(messages_from_config, {"messages": []}, {"stream_mode": "messages", "config": CONFIG}),
        id="configurable-in-messages-metadata",
    ),
]


def run_kwargs(case: Case) -> tuple[Any, dict[str, Any]]:
    kwargs = dict(case.kwargs)
    return kwargs.pop("config", None), kwargs


def test_stream(lib: Lib, builder_case: Case) -> None:
    config, kwargs = run_kwargs(builder_case)
    expected = builder_case.compare(list(builder_case.build(reference()).stream(builder_case.input, config, **kwargs)))
    assert builder_case.compare(list(builder_case.build(lib).stream(builder_case.input, config, **kwargs))) == expected


@pytest.mark.anyio
async def test_astream(lib: Lib, builder_case: Case) -> None:
    config, kwargs = run_kwargs(builder_case)
    graph = builder_case.build(reference())
    expected = builder_case.compare([chunk async for chunk in graph.astream(builder_case.input, config, **kwargs)])
    graph = builder_case.build(lib)
    assert builder_case.compare([chunk async for chunk in graph.astream(builder_case.input, config, **kwargs)]) == (
        expected
    )


INVOKE_CASES = [
    pytest.param(Case(multi_edge, {"my_key": "my_value"}), id="multi-edge"),
    pytest.param(Case(retrieval, {"query": "what is weather in sf"}), id="waiting-edge-cond"),
    pytest.param(Case(conditional_start, {"input": "what is weather in sf"}), id="conditional-start"),
    pytest.param(
        Case(node_schemas, {"hello": "there", "bye": "world", "messages": ["m"]}),
        id="output-schema",
        marks=OUTPUT_SCHEMA,
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize("invoke_case", INVOKE_CASES)
async def test_ainvoke(lib: Lib, invoke_case: Case) -> None:
    expected = normalise(await invoke_case.build(reference()).ainvoke(invoke_case.input))
    assert normalise(await invoke_case.build(lib).ainvoke(invoke_case.input)) == expected


@pytest.mark.parametrize("invoke_case", INVOKE_CASES)
def test_invoke(lib: Lib, invoke_case: Case) -> None:
    expected = normalise(invoke_case.build(reference()).invoke(invoke_case.input))
    assert normalise(invoke_case.build(lib).invoke(invoke_case.input)) == expected


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "builder_case" in metafunc.fixturenames:
        metafunc.parametrize("builder_case", CASES)
