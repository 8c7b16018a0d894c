"""Differential cases after LangGraph's own graph tests (libs/langgraph/tests/test_pregel*.py, test_state.py,
test_messages_state.py), written anew: each case builds the same graph shape from ``lib`` on both libraries,
runs it with the same input (``stream``/``astream`` or ``invoke``/``ainvoke``) and expects the same normalised
outcome; ``test_async_nodes`` runs each case again with its nodes and routers made async, as LangGraph's async
tests write them. A case that expects an error names the class (any class in the raised exception's MRO) and a
pattern its message matches; both libraries must raise it. ``tests/compat/REVIEW.md`` maps every reviewed
LangGraph test to these cases or to the feature it needs."""

import asyncio
import contextlib
import dataclasses
import enum
import functools
import inspect
import itertools
import operator
import re
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypedDict

import pytest

from .conftest import Lib, normalise, reference


@dataclass(frozen=True)
class Run:
    """A graph built from a library, how it is run, and what it must raise (if anything)."""

    build: Callable[[Lib], Any]
    input: Any
    method: Literal["stream", "invoke"] = "stream"
    kwargs: dict[str, Any] = field(default_factory=dict)
    config: Any = None
    ordered: bool = True
    """False when parallel sync nodes finish in any order: stream chunks compare as a multiset."""
    raises: tuple[str, str] | None = None
    """The name of a class in the raised exception's MRO, and a pattern its message matches."""
    sync_calls: bool = False
    """A node calls a graph synchronously, so the case has no async-nodes variant."""

    def result(self, value: Any) -> Any:
        normalised = normalise(value)
        return normalised if self.ordered or self.method == "invoke" else sorted(normalised, key=repr)

    def failure(self, exc: Exception) -> Any:
        names = {cls.__name__ for cls in type(exc).__mro__}
        expected, pattern = self.raises or ("", "(?!)")
        return ("raises", expected in names, bool(re.search(pattern, str(exc))), str(exc) if not self.raises else "")

    def outcome(self, lib: Lib) -> Any:
        try:
            graph = self.build(lib)
            if self.method == "stream":
                return self.result(list(graph.stream(self.input, self.config, **self.kwargs)))
            return self.result(graph.invoke(self.input, self.config, **self.kwargs))
        except Exception as exc:
            return self.failure(exc)

    async def aoutcome(self, lib: Lib) -> Any:
        try:
            graph = self.build(lib)
            if self.method == "stream":
                return self.result([chunk async for chunk in graph.astream(self.input, self.config, **self.kwargs)])
            return self.result(await graph.ainvoke(self.input, self.config, **self.kwargs))
        except Exception as exc:
            return self.failure(exc)

    def check_reference(self, expected: Any) -> None:
        """LangGraph raises exactly when the case says it does (so a broken case cannot pass on both)."""
        raised = isinstance(expected, tuple) and len(expected) == 4 and expected[0] == "raises"
        assert raised == (self.raises is not None), expected
        if raised:
            assert expected[1:3] == (True, True), expected


def test_sync(lib: Lib, pregel_case: Run) -> None:
    expected = pregel_case.outcome(reference())
    pregel_case.check_reference(expected)
    assert pregel_case.outcome(lib) == expected


@pytest.mark.anyio
async def test_async(lib: Lib, pregel_case: Run) -> None:
    expected = await pregel_case.aoutcome(reference())
    pregel_case.check_reference(expected)
    assert await pregel_case.aoutcome(lib) == expected


def asynced(action: Any) -> Any:
    """``action`` as an async function (same name, signature and hints) when it is a named sync callable."""
    if not callable(action) or hasattr(action, "astream") or not hasattr(action, "__name__"):
        return action
    if inspect.iscoroutinefunction(action):
        return action

    @functools.wraps(action)
    async def run(*args: Any, **kwargs: Any) -> Any:
        return action(*args, **kwargs)

    return run


def with_async_nodes(lib: Lib) -> Lib:
    """``lib`` whose StateGraph turns every named sync node and router into an async one, as LangGraph's async
    tests write the same graphs."""

    class StateGraph(lib.StateGraph):  # type: ignore[name-defined,misc]
        def add_node(self, node: Any, action: Any = None, **kwargs: Any) -> Any:
            if action is None and not isinstance(node, str):
                return super().add_node(asynced(node), **kwargs)
            return super().add_node(node, asynced(action), **kwargs)

        def add_conditional_edges(self, source: Any, path: Any, path_map: Any = None) -> Any:
            return super().add_conditional_edges(source, asynced(path), path_map)

    return dataclasses.replace(lib, StateGraph=StateGraph)


@pytest.mark.anyio
async def test_async_nodes(lib: Lib, pregel_case: Run) -> None:
    """The same case with async nodes and routers (LangGraph's async tests), run with ``astream``/``ainvoke``."""
    expected = await pregel_case.aoutcome(with_async_nodes(reference()))
    pregel_case.check_reference(expected)
    assert await pregel_case.aoutcome(with_async_nodes(lib)) == expected


# --- graphs -------------------------------------------------------------------------------------------------


class Hello(TypedDict):
    hello: str


def unknown_edge_source(lib: Lib) -> Any:
    builder = lib.StateGraph(Hello)
    builder.add_node("start", lambda state: state)
    builder.add_edge(lib.START, "start")
    builder.add_edge("unknown", "start")
    builder.add_edge("start", lib.END)
    return builder.compile()


def bad_reducer(lib: Lib) -> Any:
    def reducer(left: Any) -> Any:
        return left

    class Bad(TypedDict):
        hello: Annotated[str, reducer]

    return lib.StateGraph(Bad)


def invalid_builder(mistake: str) -> Callable[[Lib], Any]:
    """A graph with one of the mistakes LangGraph's builder or ``validate()`` refuses (see ``INVALID``)."""

    def build(lib: Lib) -> Any:
        def route(state: Hello) -> str:
            return "start"

        builder = lib.StateGraph(Hello)
        builder.add_node("start", lambda state: state)
        if mistake != "no-entrypoint":
            builder.add_edge(lib.START, "start")
        if mistake == "unknown-edge-target":
            builder.add_edge("start", "nowhere")
        elif mistake == "unknown-branch-target":
            builder.add_conditional_edges("start", route, {"x": "nowhere"})
        elif mistake == "unknown-literal-target":

            def literal(state: Hello) -> Literal["nowhere"]:
                return "nowhere"

            builder.add_conditional_edges("start", literal)
        elif mistake == "unknown-branch-source":
            builder.add_conditional_edges("ghost", route)
        elif mistake == "duplicate-branch":
            builder.add_conditional_edges("start", route)
            builder.add_conditional_edges("start", route)
        elif mistake == "duplicate-lambda-branch":
            builder.add_conditional_edges("start", lambda state: "start")
            builder.add_conditional_edges("start", lambda state: lib.END)
        elif mistake == "duplicate-node":
            builder.add_node("start", lambda state: state)
        elif mistake in ("reserved-start", "reserved-end"):
            builder.add_node(lib.START if mistake == "reserved-start" else lib.END, lambda state: state)
        elif mistake in ("reserved-colon", "reserved-pipe"):
            builder.add_node("a:b" if mistake == "reserved-colon" else "a|b", lambda state: state)
        elif mistake == "edge-from-end":
            builder.add_edge(lib.END, "start")
        elif mistake == "edge-to-start":
            builder.add_edge("start", lib.START)
        elif mistake == "fan-in-unknown-start":
            builder.add_edge(["start", "ghost"], lib.END)
        elif mistake == "fan-in-unknown-end":
            builder.add_edge(["start"], "ghost")
        elif mistake == "fan-in-to-start":
            builder.add_edge(["start"], lib.START)
        elif mistake == "not-callable":
            builder.add_node("five", 5)
        return builder.compile()

    return build


INVALID = [
    ("unknown-edge-target", "^Found edge ending at unknown node `nowhere`"),
    ("unknown-branch-target", "^At 'start' node, 'route' branch found unknown target 'nowhere'"),
    ("unknown-literal-target", "^At 'start' node, 'literal' branch found unknown target 'nowhere'"),
    ("unknown-branch-source", "^Found edge starting at unknown node 'ghost'"),
    ("no-entrypoint", "^Graph must have an entrypoint: add at least one edge from START to another node"),
    ("duplicate-branch", "^Branch with name `route` already exists for node `start`"),
    ("duplicate-lambda-branch", "^Branch with name `.*` already exists for node `start`"),  # LangGraph: `None`
    ("duplicate-node", "^Node `start` already present."),
    ("reserved-start", "^Node `__start__` is reserved."),
    ("reserved-end", "^Node `__end__` is reserved."),
    ("reserved-colon", "^':' is a reserved character and is not allowed in the node names."),
    ("reserved-pipe", "^'\\|' is a reserved character and is not allowed in the node names."),
    ("edge-from-end", "^END cannot be a start node"),
    ("edge-to-start", "^START cannot be an end node"),
    ("fan-in-unknown-start", "^Need to add_node `ghost` first"),
    ("fan-in-unknown-end", "^Need to add_node `ghost` first"),
    ("fan-in-to-start", "^START cannot be an end node"),
    ("not-callable", "^Expected a Runnable, callable or dict.Instead got an unsupported type: <class 'int'>"),
]


def bad_route(kind: str) -> Callable[[Lib], Any]:
    """A graph whose path function after "start" returns None, START, or a Send to END."""

    def build(lib: Lib) -> Any:
        def route(state: Hello) -> Any:
            if kind == "send-to-end":
                return [lib.Send(lib.END, state)]
            return None if kind == "none" else lib.START

        builder = lib.StateGraph(Hello)
        builder.add_node("start", lambda state: state)
        builder.add_edge(lib.START, "start")
        builder.add_conditional_edges("start", route)
        return builder.compile()

    return build


def two_writers_one_key(lib: Lib) -> Any:
    def write(state: Hello) -> dict[str, Any]:
        return {"hello": "world"}

    builder = lib.StateGraph(Hello)
    for name in ("a", "b", "c"):
        builder.add_node(name, write)
    builder.set_entry_point("a")
    builder.add_edge("a", "b")
    builder.add_edge("a", "c")
    return builder.compile()


def reducer_before_first_node(lib: Lib, *, sequence: bool = False) -> Any:
    class ListState(TypedDict):
        hello: str
        messages: Annotated[list[Any], lib.add_messages]

    class SequenceState(TypedDict):
        hello: str
        messages: Annotated[Sequence[Any], lib.add_messages]

    builder = lib.StateGraph(SequenceState if sequence else ListState)
    builder.add_node("a", lambda state: None)
    builder.set_entry_point("a")
    builder.set_finish_point("a")
    return builder.compile()


class Numbered:
    """A callable node named by ``__name__`` that appends its name (or its name and a Send's argument)."""

    def __init__(self, name: str) -> None:
        self.__name__ = name

    def __call__(self, state: Any) -> list[str]:
        return [self.__name__ if isinstance(state, list) else f"{self.__name__}|{state}"]


def cond_edge_after_send(lib: Lib) -> Any:
    def twice(state: list[str]) -> list[Any]:
        return [lib.Send("2", state), lib.Send("2", state)]

    def to_three(state: list[str]) -> Literal["3"]:
        return "3"

    builder = lib.StateGraph(Annotated[list, operator.add])
    for name in ("1", "2", "3"):
        builder.add_node(Numbered(name))
    builder.add_edge(lib.START, "1")
    builder.add_conditional_edges("1", twice)
    builder.add_conditional_edges("2", to_three)
    return builder.compile()


def concurrent_emit_sends(lib: Lib) -> Any:
    def fun(state: list[str]) -> list[Any]:
        return [lib.Send("2", 1), lib.Send("2", 2), "3.1"]

    def profit(state: list[str]) -> list[Any]:
        return [lib.Send("2", 3), lib.Send("2", 4)]

    def to_three(state: list[str]) -> Literal["3"]:
        return "3"

    builder = lib.StateGraph(Annotated[list, operator.add])
    for name in ("1", "1.1", "2", "3", "3.1"):
        builder.add_node(Numbered(name))
    builder.add_edge(lib.START, "1")
    builder.add_edge(lib.START, "1.1")
    builder.add_conditional_edges("1", fun)
    builder.add_conditional_edges("1.1", profit)
    builder.add_conditional_edges("2", to_three)
    return builder.compile()


class Weather(TypedDict):
    locations: list[str]
    results: Annotated[list[str], operator.add]


def weather_entry_sends(lib: Lib) -> Any:
    def get_weather(state: Any) -> dict[str, Any]:
        location = state["location"]
        return {"results": [f"It's {'sunny' if len(location) > 2 else 'cloudy'} in {location}"]}

    def to_weather(state: Weather) -> list[Any]:
        return [lib.Send("get_weather", {"location": location}) for location in state["locations"]]

    builder = lib.StateGraph(Weather)
    builder.add_node("get_weather", get_weather)
    builder.add_edge("get_weather", lib.END)
    builder.set_conditional_entry_point(to_weather, path_map=["get_weather"])
    return builder.compile()


class Foo(TypedDict):
    foo: Annotated[list[str], operator.add]


def list_edge_to_end(lib: Lib) -> Any:
    builder = lib.StateGraph(Foo)
    builder.add_node("A", lambda state: {"foo": ["A"]})
    builder.add_node("B", lambda state: {"foo": ["B"]})
    builder.add_edge(lib.START, "A")
    builder.add_edge(lib.START, "B")
    builder.add_edge(["A", "B"], lib.END)
    return builder.compile()


class Query(TypedDict, total=False):
    query: str


class ChooseAnalyzer:
    def __call__(self, state: Query) -> str:
        return "analyzer"


def choose_analyzer(state: Query) -> str:
    return "analyzer"


def no_path_map(lib: Lib, *, router: Callable[[Query], str]) -> Any:
    builder = lib.StateGraph(Query)
    builder.add_node("rewriter", lambda state: {"query": f"query: {state['query']}"})
    builder.add_node("analyzer", lambda state: {"query": f"analyzed: {state['query']}"})
    builder.add_conditional_edges("rewriter", router)
    builder.set_entry_point("rewriter")
    return builder.compile()


def sorted_add(left: list[str], right: list[str] | list[tuple[str, str]]) -> list[str]:
    if right and isinstance(right[0], tuple):
        for removed, _ in right:
            left.remove(removed)
        right = [pair[1] for pair in right]
    return sorted(left + list(right))  # type: ignore[arg-type]


class Docs(TypedDict, total=False):
    query: str
    answer: str
    docs: Annotated[list[str], sorted_add]


def waiting_edge_two_cond_edges(lib: Lib) -> Any:
    def decide(state: Docs) -> str:
        return "qa" if state["query"].count("analyzed") > 1 else "rewrite_query"

    builder = lib.StateGraph(Docs)
    builder.add_node("rewrite_query", lambda state: {"query": f"query: {state['query']}"})
    builder.add_node("analyzer_one", lambda state: {"query": f"analyzed: {state['query']}"})
    builder.add_node("retriever_one", lambda state: {"docs": ["doc1", "doc2"]})
    builder.add_node("retriever_two", lambda state: {"docs": ["doc3", "doc4"]})
    builder.add_node("decider", lambda state: None)
    builder.add_node("qa", lambda state: {"answer": ",".join(state["docs"])})
    builder.set_entry_point("rewrite_query")
    builder.add_conditional_edges("rewrite_query", lambda state: ["analyzer_one", "retriever_two"])
    builder.add_edge("analyzer_one", "retriever_one")
    builder.add_edge(["retriever_one", "retriever_two"], "decider")
    builder.add_conditional_edges("decider", decide)
    builder.set_finish_point("qa")
    return builder.compile()


def waiting_edge_static_fan_out(lib: Lib) -> Any:
    def decide(state: Docs) -> str:
        return "qa" if state["query"].count("analyzed") > 1 else "rewrite_query"

    builder = lib.StateGraph(Docs)
    builder.add_node("rewrite_query", lambda state: {"query": f"query: {state['query']}"})
    builder.add_node("analyzer_one", lambda state: {"query": f"analyzed: {state['query']}"})
    builder.add_node("retriever_one", lambda state: {"docs": ["doc1", "doc2"]})
    builder.add_node("retriever_two", lambda state: {"docs": ["doc3", "doc4"]})
    builder.add_node("decider", lambda state: None)
    builder.add_node("qa", lambda state: {"answer": ",".join(state["docs"])})
    builder.set_entry_point("rewrite_query")
    builder.add_edge("rewrite_query", "analyzer_one")
    builder.add_edge("analyzer_one", "retriever_one")
    builder.add_edge("rewrite_query", "retriever_two")
    builder.add_edge(["retriever_one", "retriever_two"], "decider")
    builder.add_conditional_edges("decider", decide)
    builder.set_finish_point("qa")
    return builder.compile()


def fan_out_to_qa(lib: Lib, *, plus_regular: bool = False, defer: str | None = None) -> Any:
    """rewrite_query fans out to two retrievers that join at qa; ``defer`` is None, "waiting" or "separate"."""
    builder = lib.StateGraph(Docs)
    builder.add_node("rewrite_query", lambda state: {"query": f"query: {state['query']}"})
    builder.add_node("analyzer_one", lambda state: {"query": f"analyzed: {state['query']}"})
    builder.add_node("retriever_one", lambda state: {"docs": ["doc1", "doc2"]})
    builder.add_node("retriever_two", lambda state: {"docs": ["doc3", "doc4"]})
    qa = lambda state: {"answer": ",".join(state["docs"])}  # noqa: E731
    if defer is None:
        builder.add_node("qa", qa)
    else:
        builder.add_node("qa", qa, defer=True)
    builder.set_entry_point("rewrite_query")
    if defer is None:
        builder.add_edge("rewrite_query", "analyzer_one")
        builder.add_edge("analyzer_one", "retriever_one")
    else:
        builder.add_edge("rewrite_query", "retriever_one")
        builder.add_edge("retriever_one", "analyzer_one")
    builder.add_edge("rewrite_query", "retriever_two")
    if defer == "separate":
        builder.add_edge("retriever_one", "qa")
        builder.add_edge("retriever_two", "qa")
    else:
        builder.add_edge(["retriever_one", "retriever_two"], "qa")
    builder.set_finish_point("qa")
    if plus_regular:
        builder.add_edge("rewrite_query", "qa")
    return builder.compile()


class Log(TypedDict):
    log: Annotated[list[str], operator.add]


def logger(name: str) -> Callable[[Log], dict[str, Any]]:
    def node(state: Log) -> dict[str, Any]:
        return {"log": [f"{name} saw {len(state['log'])}"]}

    node.__name__ = name
    return node


def deferred_summary(lib: Lib, *, fan_in: bool = False, send: bool = False) -> Any:
    """START goes to a chain a -> b -> c and to "summary" (deferred); with ``fan_in``, summary also waits for
    a and c; with ``send``, a router after a sends to summary too (a push is not deferred)."""
    builder = lib.StateGraph(Log)
    for name in "abc":
        builder.add_node(logger(name))
    builder.add_node("summary", logger("summary"), defer=True)
    builder.add_edge(lib.START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", "c")
    if fan_in:
        builder.add_edge(["a", "c"], "summary")
    else:
        builder.add_edge(lib.START, "summary")
    if send:
        builder.add_conditional_edges("a", lambda state: [lib.Send("summary", state)])
    builder.add_edge("summary", lib.END)
    return builder.compile()


def sends_from_pull_and_push(lib: Lib) -> Any:
    """Step 1 runs "a" (pulled) and "b" (sent); each sends to "c": the sends' order follows the tasks'."""

    def send_on(name: str) -> Callable[[Log], list[Any]]:
        def route(state: Log) -> list[Any]:
            return [lib.Send("c", {"log": [f"{name}1"]}), lib.Send("c", {"log": [f"{name}2"]})]

        route.__name__ = f"route_{name}"
        return route

    builder = lib.StateGraph(Log)
    builder.add_node("a", logger("a"))
    builder.add_node("b", logger("b"))
    builder.add_node("c", lambda state: {"log": [f"c got {state['log'][0]}"]})
    builder.add_edge(lib.START, "a")
    builder.add_conditional_edges(lib.START, lambda state: [lib.Send("b", state)])
    builder.add_conditional_edges("a", send_on("a"))
    builder.add_conditional_edges("b", send_on("b"))
    return builder.compile()


def router_beside_a_sibling(lib: Lib, *, write: bool = False) -> Any:
    """ "a" and "b" run in one step; the router after "a" reads the log (it sees "a"'s write, not "b"'s, as
    LangGraph routes inside the task) and sends what it saw to "record"; with ``write``, it also writes it to
    its stream writer."""

    def route(state: Log) -> list[Any]:
        if write:
            lib.get_stream_writer()({"router saw": len(state["log"])})
        return [lib.Send("record", {"log": [f"router saw {state['log']}"]})]

    builder = lib.StateGraph(Log)
    builder.add_node("a", logger("a"))
    builder.add_node("b", logger("b"))
    builder.add_node("record", lambda state: {"log": state["log"]})
    builder.add_edge(lib.START, "a")
    if not write:
        builder.add_edge(lib.START, "b")
    builder.add_conditional_edges("a", route)
    return builder.compile()


def three_at_once(lib: Lib) -> Any:
    """Three nodes from START in one step, each logging how many ran before it."""
    builder = lib.StateGraph(Log)
    for name in ("one", "two", "three"):
        builder.add_node(logger(name))
        builder.add_edge(lib.START, name)
    return builder.compile()


class Opaque:
    """A state value that is not data (LangGraph's test passes a Runnable): it must pass through untouched."""

    def __repr__(self) -> str:
        return "Opaque()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque)

    __hash__ = object.__hash__


def nested_inner_side(lib: Lib) -> Any:
    class Inner(TypedDict):
        my_key: str
        my_other_key: str

    class Outer(TypedDict):
        my_key: str
        never_called: Any

    inner = lib.StateGraph(Inner)
    inner.add_node("up", lambda state: {"my_key": state["my_key"] + " there", "my_other_key": state["my_key"]})
    inner.set_entry_point("up")
    inner.set_finish_point("up")

    builder = lib.StateGraph(Outer)
    builder.add_node("inner", inner.compile())
    builder.add_node("side", lambda state: {"my_key": state["my_key"] + " and back again"})
    builder.set_entry_point("inner")
    builder.add_edge("inner", "side")
    builder.set_finish_point("side")
    return builder.compile()


class NodeName(str, enum.Enum):  # noqa: UP042 - the (str, Enum) shape LangGraph's test uses
    BAZ = "baz"


class FooBar(TypedDict):
    foo: str
    bar: str


def enum_node_name(lib: Lib) -> Any:
    builder = lib.StateGraph(FooBar)
    builder.add_node(NodeName.BAZ, lambda state: {"bar": state["foo"] + "!"})
    builder.add_edge(lib.START, NodeName.BAZ)
    builder.add_edge(NodeName.BAZ, lib.END)
    return builder.compile()


class Results(TypedDict):
    results: Annotated[list[str], operator.add]


def two_parallel_writers(lib: Lib) -> Any:
    builder = lib.StateGraph(Results)
    builder.add_node("slow", lambda state: {"results": ["slow"]})
    builder.add_node("fast", lambda state: {"results": ["fast"]})
    builder.add_edge(lib.START, "slow")
    builder.add_edge(lib.START, "fast")
    return builder.compile()


def chatbot_tuple_reply(lib: Lib) -> Any:
    class Chat(TypedDict):
        messages: Annotated[list[Any], lib.add_messages]

    builder = lib.StateGraph(Chat)
    builder.add_node("chatbot", lambda state: {"messages": [("ai", "HIYA")]})
    builder.set_entry_point("chatbot")
    builder.set_finish_point("chatbot")
    return builder.compile()


def messages_state_foo(lib: Lib) -> Any:
    def foo(state: Any) -> dict[str, Any]:
        return {"messages": [lib.HumanMessage("foo")]}

    builder = lib.StateGraph(lib.MessagesState)
    builder.add_edge(lib.START, "foo")
    builder.add_edge("foo", lib.END)
    builder.add_node(foo)
    return builder.compile()


class Question(TypedDict):
    question: str


class Answer(TypedDict):
    input_state: Question


class QuestionFoo(Question):
    foo: str


def type_hint_chain(lib: Lib, *, output: bool = True) -> Any:
    def complete_hint(state: Question) -> Answer:
        return {"input_state": state}

    def miss_first_hint(state, config) -> Answer:  # type: ignore[no-untyped-def]
        return {"input_state": state}

    def miss_all_hint(state, config):  # type: ignore[no-untyped-def]
        return {"input_state": state}

    def pre_foo(_: Any) -> QuestionFoo:
        return {"foo": "bar"}  # type: ignore[typeddict-item]

    class Pop:
        def __call__(self, state: QuestionFoo) -> Answer:
            state.pop("foo")  # type: ignore[misc]
            return {"input_state": state}

    actions: list[Any] = [complete_hint, miss_first_hint, miss_all_hint, pre_foo, Pop()]
    builder = lib.StateGraph(Question, output_schema=Answer) if output else lib.StateGraph(Question)
    for action in actions:
        builder.add_node(action)
    names = [getattr(action, "__name__", type(action).__name__) for action in actions]
    builder.set_entry_point(names[0])
    for before, after in itertools.pairwise(names):
        builder.add_edge(before, after)
    builder.set_finish_point(names[-1])
    return builder.compile()


class Overall(TypedDict):
    foo: Annotated[int, operator.add]
    bar: str


def input_schema_cond_edge(lib: Lib) -> Any:
    class Private(TypedDict):
        baz: str

    def node_1(state: Overall) -> dict[str, Any]:
        return {"foo": 1, "baz": "bar"}

    def node_2(state: Private) -> dict[str, Any]:
        return {"foo": 1, "bar": state["baz"], "something_else": "meow"}

    def node_3(state: Overall) -> dict[str, Any]:
        return {"foo": 1}

    def router(state: Overall) -> str:
        return "node_3" if state == {"foo": 2, "bar": "bar"} else "__end__"

    builder = lib.StateGraph(Overall)
    builder.add_node(node_1)
    builder.add_node(node_2)
    builder.add_node(node_3)
    builder.add_conditional_edges("node_2", router)
    builder.add_edge("__start__", "node_1")
    builder.add_edge("node_1", "node_2")
    return builder.compile()


def private_router_schema(lib: Lib) -> Any:
    class RouterState(TypedDict):
        baz: str

    class Node2(TypedDict):
        foo: Annotated[int, operator.add]
        baz: str

    def node_1(state: Overall) -> dict[str, Any]:
        return {"foo": 1, "baz": "meow"}

    def node_2(state: Node2) -> dict[str, Any]:
        return {"foo": 1, "bar": state["baz"]}

    def router(state: RouterState) -> str:
        return "node_2" if state == {"baz": "meow"} else "__end__"

    builder = lib.StateGraph(Overall)
    builder.add_node(node_1)
    builder.add_node(node_2)
    builder.add_conditional_edges("node_1", router)
    builder.add_edge("__start__", "node_1")
    return builder.compile()


class BarOnly(TypedDict):
    bar: str


def router_reads(lib: Lib, *, source: str) -> Any:
    """A router that records what it receives (as the ``bar`` it writes next): after a node with its own input
    schema (``source="schema"``), after a node without one (``"plain"``), or at the entry (``"start"``)."""

    def with_schema(state: BarOnly) -> dict[str, Any]:
        return {"foo": 5}

    def plain(state: Overall) -> dict[str, Any]:
        return {"foo": 5}

    def route(state: Any) -> str:
        seen.append(state)
        return "record"

    def record(state: Overall) -> dict[str, Any]:
        return {"bar": repr(sorted(seen[-1].items()))}

    seen: list[Any] = []
    builder = lib.StateGraph(Overall)
    builder.add_node("record", record)
    if source == "start":
        builder.set_conditional_entry_point(route)
    else:
        builder.add_node("source", with_schema if source == "schema" else plain)
        builder.add_edge(lib.START, "source")
        builder.add_conditional_edges("source", route)
    return builder.compile()


class FooBarList(TypedDict):
    foo: Annotated[list[str], operator.add]
    bar: str


def step1(state: FooBarList) -> dict[str, Any]:
    return {"foo": ["step1"], "bar": "baz"}


def step2(state: FooBarList) -> dict[str, Any]:
    return {"foo": ["step2"]}


def sequence_of(steps: list[Any]) -> Callable[[Lib], Any]:
    def build(lib: Lib) -> Any:
        builder = lib.StateGraph(FooBarList)
        builder.add_sequence(steps)
        first = steps[0][0] if isinstance(steps[0], tuple) else steps[0].__name__
        builder.add_edge(lib.START, first)
        return builder.compile()

    return build


def appender(name: str) -> Callable[[FooBarList], dict[str, Any]]:
    def node(state: FooBarList) -> dict[str, Any]:
        return {"foo": [name]}

    node.__name__ = name
    return node


def mixed_sequences(lib: Lib) -> Any:
    a, b, c, d, e = (appender(name) for name in "abcde")

    def route(state: FooBarList) -> str:
        return "d" if state["foo"][0] == "a" else "c"

    builder = lib.StateGraph(FooBarList)
    builder.add_sequence([a, b])
    builder.add_conditional_edges("b", route)
    builder.add_node(c)
    builder.add_sequence([d, e])
    builder.add_edge(lib.START, "a")
    return builder.compile()


def two_sequences(lib: Lib) -> Any:
    builder = lib.StateGraph(FooBarList)
    builder.add_sequence([appender("a")])
    builder.add_sequence([appender("b")])
    builder.add_edge(lib.START, "a")
    builder.add_edge("a", "b")
    return builder.compile()


def bad_sequence(steps: list[Any]) -> Callable[[Lib], Any]:
    def build(lib: Lib) -> Any:
        return lib.StateGraph(FooBarList).add_sequence(steps)

    return build


class Joined(TypedDict):
    my_key: Annotated[str, operator.add]


class InnerJoined(TypedDict):
    my_key: Annotated[str, operator.add]
    my_other_key: str


def subgraph_beside_node(lib: Lib) -> Any:
    inner = lib.StateGraph(InnerJoined)
    inner.add_node("inner_1", lambda state: {"my_key": "got here", "my_other_key": state["my_key"]})
    inner.add_node("inner_2", lambda state: {"my_key": " and there", "my_other_key": state["my_key"]})
    inner.add_edge("inner_1", "inner_2")
    inner.set_entry_point("inner_1")
    inner.set_finish_point("inner_2")

    builder = lib.StateGraph(Joined)
    builder.add_node("inner", inner.compile())
    builder.add_node("outer_1", lambda state: {"my_key": " and parallel"})
    builder.add_node("outer_2", lambda state: {"my_key": " and back again"})
    builder.add_edge(lib.START, "inner")
    builder.add_edge(lib.START, "outer_1")
    builder.add_edge(["inner", "outer_1"], "outer_2")
    builder.add_edge("outer_2", lib.END)
    return builder.compile()


class AB(TypedDict):
    a: int
    b: int


class Sum(TypedDict):
    result: int


class Both(TypedDict):
    add_result: int
    multiply_result: int


def subgraphs_called_in_node(lib: Lib, *, same: bool) -> Any:
    def add(state: AB) -> dict[str, Any]:
        return {"result": state["a"] + state["b"]}

    def multiply(state: AB) -> dict[str, Any]:
        return {"result": state["a"] * state["b"]}

    adder = lib.StateGraph(AB, output_schema=Sum).add_node(add).add_edge(lib.START, "add").compile()
    multiplier = lib.StateGraph(AB, output_schema=Sum).add_node(multiply).add_edge(lib.START, "multiply").compile()

    def call_same_subgraph(state: AB) -> Any:
        return adder.invoke({"a": adder.invoke(state)["result"], "b": 10})

    def call_multiple_subgraphs(state: AB) -> dict[str, Any]:
        return {"add_result": adder.invoke(state)["result"], "multiply_result": multiplier.invoke(state)["result"]}

    node = call_same_subgraph if same else call_multiple_subgraphs
    builder = lib.StateGraph(AB, output_schema=Sum if same else Both)
    return builder.add_node(node).add_edge(lib.START, node.__name__).compile()


class Entered(TypedDict):
    messages: Annotated[list[str], operator.add]


def entered(name: str) -> Callable[[Entered], dict[str, Any]]:
    def node(state: Entered) -> dict[str, Any]:
        return {"messages": [f"entered {name} node"]}

    return node


def debug_levels(lib: Lib, *, levels: int) -> Any:
    """A chain of ``levels`` graphs: each has a node ``<p>_one`` and then the next level as node ``<p>_two``."""
    prefixes = ["c", "p", "gp"][:levels]
    graph: Any = None
    for prefix in prefixes:
        builder = lib.StateGraph(Entered)
        builder.add_node(f"{prefix}_one", entered(f"{prefix}_one"))
        if graph is None:
            builder.add_node(f"{prefix}_two", entered(f"{prefix}_two"))
        else:
            builder.add_node(f"{prefix}_two", graph)
        builder.add_edge(lib.START, f"{prefix}_one")
        builder.add_edge(f"{prefix}_one", f"{prefix}_two")
        builder.add_edge(f"{prefix}_two", lib.END)
        graph = builder.compile()
    return graph


# --- cases --------------------------------------------------------------------------------------------------


UNIQUE = "^Node names must be unique: node with the name '{}' already exists."
OPAQUE = Opaque()
NESTED_INPUT = {"my_key": "my value", "never_called": OPAQUE}

CASES = [
    pytest.param(
        Run(unknown_edge_source, {"hello": "there"}, raises=("ValueError", "Found edge starting at unknown node")),
        id="validation-unknown-edge-source",
    ),
    pytest.param(Run(bad_reducer, None, raises=("ValueError", "Invalid reducer")), id="validation-bad-reducer"),
    *(
        pytest.param(
            Run(
                invalid_builder(mistake),
                {"hello": "there"},
                raises=("TypeError" if mistake == "not-callable" else "ValueError", pattern),
            ),
            id=mistake,
        )
        for mistake, pattern in INVALID
    ),
    pytest.param(
        Run(bad_route("none"), {"hello": "there"}, raises=("ValueError", "^Branch did not return a valid destination")),
        id="route-returns-none",
    ),
    pytest.param(
        Run(
            bad_route("start"), {"hello": "there"}, raises=("ValueError", "^Branch did not return a valid destination")
        ),
        id="route-returns-start",
    ),
    pytest.param(
        Run(
            bad_route("send-to-end"),
            {"hello": "there"},
            "invoke",
            raises=("InvalidUpdateError", "^Cannot send a packet to the END node"),
        ),
        id="route-sends-to-end",
    ),
    pytest.param(
        Run(
            two_writers_one_key,
            {"hello": "there"},
            "invoke",
            raises=(
                "InvalidUpdateError",
                "^At key 'hello': Can receive only one value per step. Use an Annotated key to handle multiple values",
            ),
        ),
        id="validation-two-writers-one-key",
    ),
    pytest.param(
        Run(reducer_before_first_node, {"hello": "there", "messages": "hello"}, "invoke"),
        id="reducer-before-first-node",
    ),
    pytest.param(
        Run(
            lambda lib: reducer_before_first_node(lib, sequence=True),
            {"hello": "there", "messages": "hello"},
            kwargs={"stream_mode": "values"},
        ),
        id="reducer-before-first-node-sequence-values",
    ),
    pytest.param(Run(cond_edge_after_send, ["0"], "invoke"), id="cond-edge-after-send"),
    pytest.param(
        Run(cond_edge_after_send, ["0"], kwargs={"stream_mode": "updates"}),
        id="cond-edge-after-send-updates",
    ),
    pytest.param(Run(concurrent_emit_sends, ["0"], "invoke"), id="concurrent-emit-sends"),
    pytest.param(Run(weather_entry_sends, {"locations": ["sf", "nyc"]}, "invoke"), id="conditional-entry-sends"),
    pytest.param(
        Run(weather_entry_sends, {"locations": ["sf", "nyc"]}, kwargs={"stream_mode": "values"}),
        id="conditional-entry-sends-values",
    ),
    pytest.param(Run(list_edge_to_end, {"foo": []}, "invoke"), id="list-edge-to-end"),
    pytest.param(
        Run(list_edge_to_end, {"foo": []}, kwargs={"stream_mode": "updates"}, ordered=False),
        id="list-edge-to-end-updates",
    ),
    pytest.param(
        Run(lambda lib: no_path_map(lib, router=ChooseAnalyzer()), {"query": "what is weather in sf"}, "invoke"),
        id="callable-router-no-path-map",
    ),
    pytest.param(
        Run(lambda lib: no_path_map(lib, router=choose_analyzer), {"query": "what is weather in sf"}),
        id="function-router-no-path-map-updates",
    ),
    pytest.param(
        Run(waiting_edge_two_cond_edges, {"query": "what is weather in sf"}, "invoke"),
        id="waiting-edge-two-cond-edges",
    ),
    pytest.param(
        Run(waiting_edge_two_cond_edges, {"query": "what is weather in sf"}, ordered=False),
        id="waiting-edge-two-cond-edges-updates",
    ),
    pytest.param(
        Run(waiting_edge_static_fan_out, {"query": "what is weather in sf"}, "invoke"), id="waiting-edge-static-fan-out"
    ),
    pytest.param(
        Run(waiting_edge_static_fan_out, {"query": "what is weather in sf"}, ordered=False),
        id="waiting-edge-static-fan-out-updates",
    ),
    pytest.param(Run(nested_inner_side, NESTED_INPUT, "invoke"), id="nested-graph"),
    pytest.param(Run(nested_inner_side, NESTED_INPUT), id="nested-graph-updates"),
    pytest.param(Run(nested_inner_side, NESTED_INPUT, kwargs={"stream_mode": "values"}), id="nested-graph-values"),
    pytest.param(Run(enum_node_name, {"foo": "hello"}, "invoke"), id="enum-node-name"),
    pytest.param(Run(enum_node_name, {"foo": "hello"}), id="enum-node-name-updates"),
    pytest.param(Run(two_parallel_writers, {"results": []}, "invoke"), id="parallel-writers-result-order"),
    pytest.param(
        Run(chatbot_tuple_reply, {"messages": [{"role": "user", "content": "hi"}]}, "invoke"),
        id="messages-tuple-reply",
    ),
    pytest.param(Run(messages_state_foo, {"messages": [("user", "meow")]}, "invoke"), id="messages-state-append"),
    pytest.param(
        Run(type_hint_chain, {"question": "Hello World!"}, kwargs={"stream_mode": "updates"}),
        id="node-type-hints-updates",
    ),
    pytest.param(
        Run(lambda lib: type_hint_chain(lib, output=False), {"question": "Hello World!"}, "invoke"),
        id="node-type-hints-invoke",
        marks=pytest.mark.differs(
            "deliberate (README): an update key no schema declares ('input_state' without the output schema) "
            "raises InvalidUpdateError; LangGraph drops it"
        ),
    ),
    pytest.param(
        Run(input_schema_cond_edge, {"foo": 0}, "invoke"),
        id="input-schema-cond-edge",
        marks=pytest.mark.differs(
            "deliberate (README): an update key no schema declares ('something_else') raises InvalidUpdateError; "
            "LangGraph drops it"
        ),
    ),
    pytest.param(
        Run(private_router_schema, {"foo": 0}, "invoke"),
        id="private-router-schema",
    ),
    pytest.param(
        Run(lambda lib: router_reads(lib, source="schema"), {"foo": 1, "bar": "b"}, "invoke"),
        id="router-reads-source-schema-over-update",
    ),
    pytest.param(
        Run(lambda lib: router_reads(lib, source="plain"), {"foo": 1, "bar": "b"}, "invoke"),
        id="router-reads-state-over-update",
    ),
    pytest.param(
        Run(lambda lib: router_reads(lib, source="start"), {"foo": 1, "extra": "x"}, "invoke"),
        id="entry-router-reads-state-over-input",
    ),
    pytest.param(Run(sequence_of([step1, step2]), {"foo": []}, "invoke"), id="sequence-unnamed"),
    pytest.param(Run(sequence_of([("meow1", step1), ("meow2", step2)]), {"foo": []}), id="sequence-named-updates"),
    pytest.param(
        Run(
            sequence_of([("meow1", lambda state: {"foo": ["foo"]}), ("meow2", lambda state: {"bar": state["foo"][0]})]),
            {"foo": []},
            "invoke",
        ),
        id="sequence-lambdas",
    ),
    pytest.param(Run(two_sequences, {"foo": []}), id="two-sequences-updates"),
    pytest.param(Run(mixed_sequences, {"foo": []}), id="mixed-sequences-updates"),
    pytest.param(Run(mixed_sequences, {"foo": ["start"]}, "invoke"), id="mixed-sequences-other-branch"),
    pytest.param(
        Run(bad_sequence([]), None, raises=("ValueError", "^Sequence requires at least one node.")), id="sequence-empty"
    ),
    pytest.param(
        Run(bad_sequence([step1, step1]), None, raises=("ValueError", UNIQUE.format("step1"))), id="sequence-duplicate"
    ),
    pytest.param(
        Run(bad_sequence([("foo", step1), ("foo", step1)]), None, raises=("ValueError", UNIQUE.format("foo"))),
        id="sequence-duplicate-named",
    ),
    pytest.param(
        Run(subgraph_beside_node, {"my_key": ""}, kwargs={"subgraphs": True}, ordered=False),
        id="subgraph-beside-parallel-node",
    ),
    pytest.param(
        Run(lambda lib: subgraphs_called_in_node(lib, same=True), {"a": 2, "b": 3}, "invoke", sync_calls=True),
        id="same-subgraph-invoked-twice-in-node",
    ),
    pytest.param(
        Run(lambda lib: subgraphs_called_in_node(lib, same=False), {"a": 2, "b": 3}, "invoke", sync_calls=True),
        id="two-subgraphs-invoked-in-node",
    ),
    pytest.param(Run(fan_out_to_qa, {"query": "what is weather in sf"}, "invoke"), id="fan-out-waiting-edge"),
    pytest.param(
        Run(fan_out_to_qa, {"query": "what is weather in sf"}, ordered=False), id="fan-out-waiting-edge-updates"
    ),
    pytest.param(
        Run(lambda lib: fan_out_to_qa(lib, plus_regular=True), {"query": "what is weather in sf"}, "invoke"),
        id="fan-out-waiting-edge-plus-regular",
    ),
    pytest.param(
        Run(lambda lib: fan_out_to_qa(lib, plus_regular=True), {"query": "what is weather in sf"}, ordered=False),
        id="fan-out-waiting-edge-plus-regular-updates",
    ),
    pytest.param(
        Run(lambda lib: fan_out_to_qa(lib, defer="waiting"), {"query": "what is weather in sf"}, "invoke"),
        id="defer-node-waiting-edge",
    ),
    pytest.param(
        Run(lambda lib: fan_out_to_qa(lib, defer="separate"), {"query": "what is weather in sf"}, ordered=False),
        id="defer-node-updates",
    ),
    pytest.param(
        Run(
            lambda lib: fan_out_to_qa(lib, defer="waiting"),
            {"query": "what is weather in sf"},
            kwargs={"stream_mode": "debug"},
            ordered=False,
        ),
        id="defer-node-debug",
    ),
    pytest.param(
        Run(three_at_once, {"log": []}, kwargs={"stream_mode": "updates"}, config={"max_concurrency": 1}),
        id="max-concurrency-one-updates",
    ),
    pytest.param(
        Run(three_at_once, {"log": []}, kwargs={"stream_mode": "tasks"}, config={"max_concurrency": 1}),
        id="max-concurrency-one-tasks",
    ),
    pytest.param(
        Run(three_at_once, None, raises=("EmptyInputError", "^Received no input for __start__")), id="empty-input"
    ),
    pytest.param(
        Run(three_at_once, None, "invoke", raises=("EmptyInputError", "^Received no input for __start__")),
        id="empty-input-invoke",
    ),
    pytest.param(
        Run(
            lambda lib: (
                lib.StateGraph(Annotated[list, operator.add])
                .add_node("n", lambda state: ["n"])
                .add_edge(lib.START, "n")
                .compile()
            ),
            None,
            "invoke",
            raises=("EmptyInputError", "^Received no input for __start__"),
        ),
        id="empty-input-root-state",
    ),
    pytest.param(Run(three_at_once, {}, "invoke"), id="empty-dict-input-is-input"),
    pytest.param(Run(router_beside_a_sibling, {"log": ["in"]}, "invoke"), id="router-reads-its-own-writes-only"),
    pytest.param(
        Run(
            lambda lib: router_beside_a_sibling(lib, write=True),
            {"log": ["in"]},
            kwargs={"stream_mode": ["updates", "custom"]},
        ),
        id="router-custom-before-its-update",
    ),
    pytest.param(Run(sends_from_pull_and_push, {"log": []}, "invoke"), id="sends-from-pull-and-push"),
    pytest.param(
        Run(sends_from_pull_and_push, {"log": []}, kwargs={"stream_mode": "values"}),
        id="sends-from-pull-and-push-values",
    ),
    pytest.param(Run(deferred_summary, {"log": []}), id="defer-node-runs-last-updates"),
    pytest.param(Run(deferred_summary, {"log": []}, kwargs={"stream_mode": "tasks"}), id="defer-node-runs-last-tasks"),
    pytest.param(Run(lambda lib: deferred_summary(lib, fan_in=True), {"log": []}, "invoke"), id="defer-node-fan-in"),
    pytest.param(
        Run(lambda lib: deferred_summary(lib, send=True), {"log": []}, kwargs={"stream_mode": "values"}),
        id="defer-node-send-not-held",
    ),
    pytest.param(
        Run(lambda lib: debug_levels(lib, levels=1), {"messages": []}, kwargs={"stream_mode": "debug"}),
        id="debug-two-nodes",
    ),
    pytest.param(
        Run(lambda lib: debug_levels(lib, levels=2), {"messages": []}, kwargs={"stream_mode": "debug"}),
        id="debug-subgraph",
    ),
    pytest.param(
        Run(
            lambda lib: debug_levels(lib, levels=3),
            {"messages": []},
            kwargs={"stream_mode": "debug", "subgraphs": True},
        ),
        id="debug-nested-subgraphs",
    ),
    pytest.param(
        Run(
            lambda lib: debug_levels(lib, levels=3),
            {"messages": []},
            kwargs={"stream_mode": ["values", "updates", "tasks"], "subgraphs": True},
        ),
        id="nested-subgraphs-values-updates-tasks",
    ),
]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "pregel_case" in metafunc.fixturenames:
        async_nodes = metafunc.function.__name__ == "test_async_nodes"
        cases = [case for case in CASES if not (async_nodes and getattr(case.values[0], "sync_calls", False))]
        metafunc.parametrize("pregel_case", cases)


class Hello2(TypedDict):
    hello: str


@pytest.mark.anyio
async def test_node_error_cancels_sibling(lib: Lib) -> None:
    """A node's error ends the run with that error, and cancels the async node running beside it."""
    cancelled: list[str] = []
    started = asyncio.Event()

    async def waits(state: Hello2) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append("agent")
            raise

    async def bad(state: Hello2) -> None:
        await started.wait()
        raise ValueError("I am bad")

    builder = lib.StateGraph(Hello2)
    builder.add_node("agent", waits)
    builder.add_node("bad", bad)
    builder.set_conditional_entry_point(lambda state: ["agent", "bad"])
    with pytest.raises(ValueError, match="I am bad"):
        await builder.compile().ainvoke({"hello": "world"})
    assert cancelled == ["agent"]


@pytest.mark.anyio
async def test_external_cancel_cancels_node(lib: Lib) -> None:
    """Cancelling the caller of ``ainvoke()`` cancels the node it is awaiting."""
    cancelled: list[str] = []
    started = asyncio.Event()

    async def waits(state: Hello2) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append("agent")
            raise

    builder = lib.StateGraph(Hello2)
    builder.add_node("agent", waits)
    builder.set_entry_point("agent")
    builder.set_finish_point("agent")
    task = asyncio.ensure_future(builder.compile().ainvoke({"hello": "world"}))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled == ["agent"]


class Counted(TypedDict):
    counter: Annotated[int, operator.add]


def counting(lib: Lib) -> Any:
    builder = lib.StateGraph(Counted)
    builder.add_node("node", lambda state: {"counter": 1})
    builder.add_edge(lib.START, "node")
    return builder.compile()


@pytest.mark.anyio
async def test_concurrent_ainvoke(lib: Lib) -> None:
    """Ten concurrent ``ainvoke()`` calls of one compiled graph do not share state."""
    graph = counting(lib)
    results = await asyncio.gather(*(graph.ainvoke({"counter": 0}) for _ in range(10)))
    assert results == [{"counter": 1}] * 10


def test_concurrent_invoke_threads(lib: Lib) -> None:
    """Ten threads invoking one compiled graph at once do not share state."""
    graph = counting(lib)
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda _: graph.invoke({"counter": 0}), range(10)))
    assert results == [{"counter": 1}] * 10


class Tally(TypedDict):
    items: Annotated[list[Any], operator.add]


def many_sends(lib: Lib, *, root_list: bool) -> tuple[Any, dict[str, int]]:
    """Node "1" sends 100 tasks to node "2", which records how many of its runs overlap; then "3" runs."""
    seen = {"now": 0, "max": 0}

    def wrap(value: list[Any]) -> Any:
        return value if root_list else {"items": value}

    async def two(state: Any) -> Any:
        seen["now"] += 1
        seen["max"] = max(seen["max"], seen["now"])
        for _ in range(3):
            await asyncio.sleep(0)
        seen["now"] -= 1
        return wrap([state if root_list else state["n"]])

    def send_to_many(state: Any) -> list[Any]:
        return [lib.Send("2", index if root_list else {"n": index}) for index in range(100)]

    def to_three(state: Any) -> Literal["3"]:
        return "3"

    builder = lib.StateGraph(Annotated[list, operator.add] if root_list else Tally)
    builder.add_node("1", lambda state: wrap(["1"]))
    builder.add_node("2", two)
    builder.add_node("3", lambda state: wrap(["3"]))
    builder.add_edge(lib.START, "1")
    builder.add_conditional_edges("1", send_to_many)
    builder.add_conditional_edges("2", to_three)
    return builder.compile(), seen


@pytest.mark.anyio
@pytest.mark.parametrize(
    "root_list",
    [
        pytest.param(True, id="root-list"),
        pytest.param(False, id="dict-state"),
    ],
)
async def test_max_concurrency(lib: Lib, root_list: bool) -> None:
    """Sent tasks all run at once by default; ``config["max_concurrency"]`` caps how many run together."""
    graph, seen = many_sends(lib, root_list=root_list)
    expected = ["0", "1", *range(100), "3"]
    start = expected[:1] if root_list else {"items": expected[:1]}
    result = await graph.ainvoke(start)
    assert (result if root_list else result["items"]) == expected
    assert seen == {"now": 0, "max": 100}
    seen["max"] = 0
    result = await graph.ainvoke(start, {"max_concurrency": 10})
    assert (result if root_list else result["items"]) == expected
    assert seen == {"now": 0, "max": 10}


class Value(TypedDict):
    value: Annotated[int, operator.add]


@pytest.mark.anyio
async def test_break_out_of_astream_cancels_running_node(lib: Lib) -> None:
    """Leaving ``astream()`` after the first chunk cancels the node still running beside the one that finished,
    and the node that would have come next never starts."""
    seen: list[str] = []
    parallel_started = asyncio.Event()

    async def aparallelwhile(state: Value) -> None:
        seen.append("aparallelwhile started")
        parallel_started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.append("aparallelwhile cancelled")
            raise

    async def alittlewhile(state: Value) -> dict[str, Any]:
        await parallel_started.wait()
        return {"value": 2}

    async def awhile(state: Value) -> None:
        seen.append("awhile started")

    builder = lib.StateGraph(Value)
    builder.add_node("awhile", awhile)
    builder.add_node("aparallelwhile", aparallelwhile)
    builder.add_node("alittlewhile", alittlewhile)
    builder.add_edge(lib.START, "alittlewhile")
    builder.add_edge(lib.START, "aparallelwhile")
    builder.add_edge("alittlewhile", "awhile")
    chunks = []
    async with contextlib.aclosing(builder.compile().astream({"value": 1})) as stream:
        async for chunk in stream:
            chunks.append(chunk)
            break
    assert chunks == [{"alittlewhile": {"value": 2}}]
    assert seen == ["aparallelwhile started", "aparallelwhile cancelled"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"stream_mode": "values"}, id="values"),
        pytest.param({}, id="default"),
    ],
)
async def test_astream_events_root_end(lib: Lib, kwargs: dict[str, Any]) -> None:
    """``astream_events(version="v2")`` with a ``run_id`` in the config ends the root run once, with the final
    state as its output (whatever ``stream_mode`` says)."""
    root = str(uuid.UUID(int=0))
    ends = [
        event["data"]
        async for event in nested_inner_side(lib).astream_events(
            NESTED_INPUT, version="v2", config={"run_id": uuid.UUID(int=0)}, **kwargs
        )
        if event["event"] == "on_chain_end" and event["run_id"] == root
    ]
    assert ends == [{"output": {"my_key": "my value there and back again", "never_called": OPAQUE}}]


class Counter(TypedDict):
    n: int


@pytest.mark.parametrize(("nodes", "limit"), [(1, 1), (2, 2), (2, 3), (3, 2), (4, 5)])
def test_recursion_limit_counts_the_last_superstep(lib: Lib, nodes: int, limit: int) -> None:
    def run(which: Lib) -> Any:
        builder = which.StateGraph(Counter)
        previous = which.START
        for i in range(nodes):
            builder.add_node(f"n{i}", lambda state: {"n": state["n"] + 1})
            builder.add_edge(previous, f"n{i}")
            previous = f"n{i}"
        try:
            return builder.compile().invoke({"n": 0}, {"recursion_limit": limit})
        except Exception as exc:
            return type(exc).__name__, str(exc)

    assert run(lib) == run(reference())
