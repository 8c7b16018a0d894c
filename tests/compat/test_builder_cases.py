"""Differential cases after LangGraph's fan-out, entry-point and schema tests (libs/langgraph/tests/
test_pregel.py), written anew: the same graph on both libraries, chunks and results compared, sync and async.
Parallel sync nodes finish in any order on both libraries, so those cases compare chunks as a multiset."""

from __future__ import annotations

import collections
import itertools
import operator
from dataclasses import dataclass
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


def link(builder: Any, *names: str) -> None:
    """An edge from each of ``names`` to the next."""
    for a, b in itertools.pairwise(names):
        builder.add_edge(a, b)


def quiet_nodes(lib: Lib) -> Any:
    """Nodes returning None, ``{}``, an empty reducer update and a None value: only real writes count."""

    class State(TypedDict, total=False):
        items: Annotated[list[str], operator.add]
        last: str | None

    builder = lib.StateGraph(State)
    builder.add_node("none", lambda state: None)
    builder.add_node("empty", lambda state: {})
    builder.add_node("no_items", lambda state: {"items": []})
    builder.add_node("null", lambda state: {"last": None})
    link(builder, "none", "empty", "no_items", "null")
    builder.add_edge(lib.START, "none")
    return builder.compile()


def root_state(lib: Lib, schema: Any) -> Any:
    """A root state of type ``schema``: nodes receive the value and return the next one (or None)."""

    def grow(state: Any) -> Any:
        return state + state

    builder = lib.StateGraph(schema)
    builder.add_node("grow", grow)
    builder.add_node("keep", lambda state: None)
    link(builder, "grow", "keep")
    builder.add_edge(lib.START, "grow")
    return builder.compile()


class Question(TypedDict):
    hello: str


def input_output(lib: Lib, *, deprecated: bool = False) -> Any:
    """An input schema (the input is filtered to ``hello``) and an output schema (``messages`` only)."""

    def b(state: ForB) -> dict[str, Any]:
        return {"now": len(state), "bye": "b"}

    def c(state: Whole) -> dict[str, Any]:
        return {"messages": [f"{sorted(state)}"]}

    if deprecated:
        builder = lib.StateGraph(Whole, input=Question, output=Output)
    else:
        builder = lib.StateGraph(Whole, input_schema=Question, output_schema=Output)
    builder.add_node("a", lambda state: {"hello": f"{sorted(state)}"})
    builder.add_node("b", b)
    builder.add_node("c", c)
    link(builder, "a", "b", "c")
    builder.add_edge(lib.START, "a")
    return builder.compile()


class OnlyBye(TypedDict):
    bye: str


def output_never_written(lib: Lib) -> Any:
    """The output schema's only key is never written: ``invoke`` returns None (as LangGraph's does)."""
    builder = lib.StateGraph(Whole, output_schema=OnlyBye)
    builder.add_node("a", lambda state: {"hello": "again"})
    builder.add_edge(lib.START, "a")
    return builder.compile()


def output_written_early(lib: Lib) -> Any:
    """The output key is written by the first node and only other keys after it: ``invoke`` returns the output
    key's value from the first step; the list it holds, changed in place by a later node that does not write
    it, shows the change (the same list object, as in LangGraph)."""

    def later(state: Any) -> dict[str, Any]:
        state["messages"].append("in place")
        return {"hello": "later"}

    builder = lib.StateGraph(Whole, output_schema=Output)
    builder.add_node("a", lambda state: {"messages": ["a"], "bye": "a"})
    builder.add_node("b", later)
    builder.add_node("c", lambda state: {"bye": "c"})
    link(builder, "a", "b", "c")
    builder.add_edge(lib.START, "a")
    return builder.compile()


def mapping_updates(lib: Lib) -> Any:
    """Nodes return a dict subclass and an empty dict: updates like a plain dict's (the empty one writes
    nothing)."""
    builder = lib.StateGraph(Whole)
    builder.add_node("a", lambda state: collections.OrderedDict(bye="ordered"))
    builder.add_node("b", lambda state: {})
    builder.add_node("c", lambda state: {"messages": ["c"]})
    link(builder, "a", "b", "c")
    builder.add_edge(lib.START, "a")
    return builder.compile()


@dataclass
class Counter:
    count: int = 0
    note: str = ""


def explicit_node_schemas(lib: Lib) -> Any:
    """``add_node(..., input_schema=X)``: a TypedDict with a key of its own, and a dataclass."""

    def tally(state: Any) -> dict[str, Any]:
        return {"count": state.count + 1, "note": f"{type(state).__name__}:{state.note}"}

    builder = lib.StateGraph(Whole)
    builder.add_node("bye_only", lambda state: {"now": 1, "bye": f"{sorted(state)}"}, input_schema=ForB)
    builder.add_node("tally", tally, input_schema=Counter)
    builder.add_node("all", lambda state: {"hello": f"{sorted(state)}"})
    link(builder, "bye_only", "tally", "all")
    builder.add_edge(lib.START, "bye_only")
    return builder.compile()


def subgraph_output_schema(lib: Lib) -> Any:
    """A subgraph node with an output schema: the parent takes only those keys."""
    child = lib.StateGraph(Whole, output_schema=OnlyBye)
    child.add_node("inner", lambda state: {"bye": "inner", "hello": "hidden"})
    child.add_edge(lib.START, "inner")
    parent = lib.StateGraph(Whole)
    parent.add_node("child", child.compile())
    parent.add_node("after", lambda state: {"messages": [state["hello"], state.get("bye")]})
    link(parent, "child", "after")
    parent.add_edge(lib.START, "child")
    return parent.compile()


@dataclass
class Defaults:
    a: str = "default"
    b: int = 0


@dataclass
class OnlyB:
    b: int


def dataclass_state(lib: Lib, **schemas: Any) -> Any:
    """A dataclass state: its defaults fill in the instance a node receives but are no state values; a node
    may return an instance of another dataclass (its attributes are the update)."""

    def bump(state: Defaults) -> dict[str, Any]:
        return {"b": state.b + 1, "a": repr(state)}

    def ten_more(state: OnlyB) -> OnlyB:
        return OnlyB(b=state.b + 10)

    builder = lib.StateGraph(Defaults, **schemas)
    builder.add_node("bump", bump)
    builder.add_node("ten_more", ten_more)
    link(builder, "bump", "ten_more")
    builder.add_edge(lib.START, "bump")
    return builder.compile()


def subgraph_input_schema(lib: Lib) -> Any:
    """A subgraph node given an input schema: the subgraph starts from that schema's keys only."""
    child = lib.StateGraph(Whole)
    child.add_node("inner", lambda state: {"messages": [f"{sorted(state)}"]})
    child.add_edge(lib.START, "inner")
    parent = lib.StateGraph(Whole)
    parent.add_node("child", child.compile(), input_schema=Question)
    parent.add_edge(lib.START, "child")
    return parent.compile()


CONFIG = {"configurable": {"thread_id": "th-123", "run_id": "run-456", "some_api_key": "secret"}}

CASES = [
    pytest.param(
        Case(mapping_updates, {"hello": "hi"}, {"stream_mode": ["updates", "values"]}), id="dict-subclass-updates"
    ),
    pytest.param(Case(multi_edge, {"my_key": "my_value"}, ordered=False), id="multi-edge-none-updates"),
    pytest.param(Case(multi_edge, {"my_key": "my_value"}, {"stream_mode": "values"}), id="multi-edge-values"),
    pytest.param(
        Case(lambda lib: multi_edge(lib, entry_points=True), {"my_key": "my_value"}, ordered=False),
        id="set-entry-finish-point",
    ),
    pytest.param(Case(retrieval, {"query": "what is weather in sf"}, ordered=False), id="waiting-edge-cond-updates"),
    pytest.param(
        Case(retrieval, {"query": "what is weather in sf"}, {"stream_mode": "values"}),
        id="waiting-edge-cond-values",
    ),
    pytest.param(Case(conditional_start, {"input": "what is weather in sf"}), id="conditional-start"),
    pytest.param(
        Case(lambda lib: conditional_start(lib, entry_point=True), {"input": "what is weather in sf"}),
        id="set-conditional-entry-point",
    ),
    pytest.param(
        Case(node_schemas, {"hello": "there", "bye": "world", "messages": ["m"]}, ordered=False),
        id="node-input-schema-and-output-schema",
    ),
    pytest.param(
        Case(
            lambda lib: node_schemas(lib, output=False),
            {"hello": "there", "bye": "world", "messages": ["m"]},
            {"stream_mode": ["values", "updates"]},
        ),
        id="node-input-schema",
    ),
    pytest.param(
        Case(sequence, {"my_key": "x"}),
        id="add-sequence",
    ),
    pytest.param(
        Case(
            subgraph_input_schema,
            {"hello": "hi", "bye": "b", "messages": ["m"]},
            {"stream_mode": ["values", "updates", "tasks"], "subgraphs": True},
        ),
        id="subgraph-node-input-schema",
    ),
    pytest.param(
        Case(dataclass_state, {"a": "x"}, {"stream_mode": ["values", "updates"]}), id="dataclass-defaults-not-values"
    ),
    pytest.param(Case(dataclass_state, {}, {"stream_mode": ["values", "updates"]}), id="dataclass-empty-input"),
    pytest.param(
        Case(
            lambda lib: dataclass_state(lib, input_schema=Question, output_schema=OnlyB),
            {"a": "x", "b": 5, "hello": "hi"},
            {"stream_mode": ["values", "updates"]},
        ),
        id="dataclass-input-output-schema",
    ),
    pytest.param(
        Case(quiet_nodes, {"items": ["x"]}, {"stream_mode": ["values", "updates"]}), id="quiet-steps-values-updates"
    ),
    pytest.param(Case(quiet_nodes, {}, {"stream_mode": "values"}), id="quiet-steps-empty-input"),
    pytest.param(Case(quiet_nodes, {"other": 1}, {"stream_mode": "values"}), id="quiet-steps-input-outside-schema"),
    pytest.param(
        Case(lambda lib: root_state(lib, Annotated[list, operator.add]), ["x"], {"stream_mode": ["values", "updates"]}),
        id="root-annotated-list",
    ),
    pytest.param(
        Case(lambda lib: root_state(lib, Annotated[list, operator.add]), [], {"stream_mode": "values"}),
        id="root-empty-list-input",
    ),
    pytest.param(
        Case(lambda lib: root_state(lib, list), ["x"], {"stream_mode": ["values", "updates"]}), id="root-plain-list"
    ),
    pytest.param(Case(lambda lib: root_state(lib, int), 3, {"stream_mode": ["values", "updates"]}), id="root-int"),
    pytest.param(Case(lambda lib: root_state(lib, str), "ab", {"stream_mode": "tasks"}), id="root-str-tasks"),
    pytest.param(
        Case(
            input_output,
            {"hello": "hi", "bye": "dropped", "messages": ["dropped"]},
            {"stream_mode": ["values", "updates"]},
        ),
        id="input-and-output-schema",
    ),
    pytest.param(
        Case(input_output, {"hello": "hi"}, {"stream_mode": "tasks"}),
        id="input-and-output-schema-tasks",
    ),
    pytest.param(
        Case(output_never_written, {"hello": "hi"}, {"stream_mode": ["values", "updates"]}),
        id="output-schema-never-written",
    ),
    pytest.param(
        Case(explicit_node_schemas, {"hello": "hi", "count": 5}, {"stream_mode": ["values", "updates"]}),
        id="add-node-input-schema",
    ),
    pytest.param(
        Case(explicit_node_schemas, {"hello": "hi"}, {"stream_mode": "tasks"}),
        id="add-node-input-schema-tasks",
    ),
    pytest.param(
        Case(subgraph_output_schema, {"hello": "hi"}, {"stream_mode": ["values", "updates"], "subgraphs": True}),
        id="subgraph-output-schema",
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
    ),
    pytest.param(Case(quiet_nodes, {}), id="quiet-steps-empty-input"),
    pytest.param(Case(lambda lib: root_state(lib, Annotated[list, operator.add]), ["x"]), id="root-annotated-list"),
    pytest.param(Case(lambda lib: root_state(lib, int), 3), id="root-int"),
    pytest.param(Case(input_output, {"hello": "hi", "bye": "dropped"}), id="input-and-output-schema"),
    pytest.param(Case(output_never_written, {"hello": "hi"}), id="output-schema-never-written"),
    pytest.param(Case(output_written_early, {"hello": "hi"}), id="output-schema-written-early"),
    pytest.param(Case(mapping_updates, {"hello": "hi"}), id="dict-subclass-and-empty-updates"),
    pytest.param(Case(explicit_node_schemas, {"hello": "hi", "count": 5}), id="add-node-input-schema"),
    pytest.param(Case(subgraph_output_schema, {"hello": "hi"}), id="subgraph-output-schema"),
    pytest.param(Case(dataclass_state, {"a": "x"}), id="dataclass-defaults-not-values"),
    pytest.param(Case(lambda lib: dataclass_state(lib, output_schema=OnlyB), {"a": "x"}), id="dataclass-output-schema"),
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


def test_deprecated_input_output_keywords(lib: Lib) -> None:
    """``StateGraph(..., input=X, output=Y)`` still works, with a DeprecationWarning naming the new keyword."""
    with pytest.warns(DeprecationWarning) as warned:
        graph = input_output(lib, deprecated=True)
    assert sorted(str(w.message).split(" is deprecated")[0] for w in warned) == ["`input`", "`output`"]
    assert all("_schema` instead" in str(w.message) for w in warned)
    expected = normalise(list(input_output(reference()).stream({"hello": "hi", "bye": "x"}, stream_mode="values")))
    assert normalise(list(graph.stream({"hello": "hi", "bye": "x"}, stream_mode="values"))) == expected
    assert normalise(graph.invoke({"hello": "hi"})) == normalise(input_output(reference()).invoke({"hello": "hi"}))


@pytest.mark.parametrize(
    "stream_mode", [["values", "updates"], "updates", ["values"], ["updates"], ["tasks", "values"], "debug"]
)
def test_invoke_modes_with_output_schema(lib: Lib, stream_mode: Any) -> None:
    expected = normalise(input_output(reference()).invoke({"hello": "hi"}, stream_mode=stream_mode))
    assert normalise(input_output(lib).invoke({"hello": "hi"}, stream_mode=stream_mode)) == expected


@pytest.mark.anyio
@pytest.mark.parametrize("stream_mode", [["values", "updates"], "updates", ["values"]])
async def test_ainvoke_modes_with_output_schema(lib: Lib, stream_mode: Any) -> None:
    """``ainvoke()`` with a ``stream_mode`` shows the output schema's keys only, as ``invoke()`` does."""
    expected = normalise(await input_output(reference()).ainvoke({"hello": "hi"}, stream_mode=stream_mode))
    assert normalise(await input_output(lib).ainvoke({"hello": "hi"}, stream_mode=stream_mode)) == expected


@pytest.mark.parametrize("stream_mode", [["values", "updates"], "updates"])
def test_invoke_modes_with_output_schema_inside_a_node(lib: Lib, stream_mode: Any) -> None:
    """A graph invoked with a ``stream_mode`` inside a node shows its output schema's keys only, as at the root."""

    def run(lib: Lib) -> Any:
        inner = input_output(lib)
        seen: list[Any] = []

        def caller(state: Question) -> dict[str, Any]:
            seen.append(inner.invoke({"hello": state["hello"]}, stream_mode=stream_mode))
            return {}

        builder = lib.StateGraph(Question)
        builder.add_node("caller", caller)
        builder.add_edge(lib.START, "caller")
        builder.compile().invoke({"hello": "hi"})
        return normalise(seen)

    assert run(lib) == run(reference())


@pytest.mark.anyio
async def test_ainvoke_modes_with_output_schema_inside_a_node(lib: Lib) -> None:
    async def run(lib: Lib) -> Any:
        inner = input_output(lib)
        seen: list[Any] = []

        async def caller(state: Question) -> dict[str, Any]:
            seen.append(await inner.ainvoke({"hello": state["hello"]}, stream_mode=["values", "updates"]))
            return {}

        builder = lib.StateGraph(Question)
        builder.add_node("caller", caller)
        builder.add_edge(lib.START, "caller")
        await builder.compile().ainvoke({"hello": "hi"})
        return normalise(seen)

    assert await run(lib) == await run(reference())
