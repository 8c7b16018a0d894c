"""add_node as LangGraph 1.2 takes it: default names, its keywords, deferred nodes, and what path functions
receive. The LangGraph-equal outputs are in tests/compat/test_pregel_cases.py."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import operator
import uuid
from typing import Annotated, Any, TypedDict

import pytest

from streamflow.errors import InvalidArgumentError, InvalidGraphError
from streamflow.graph import END, START, Send, StateGraph


class Log(TypedDict):
    log: Annotated[list[str], operator.add]


def write(name: str) -> Any:
    def node(state: Log) -> dict[str, Any]:
        return {"log": [name]}

    return node


def named(state: Log) -> None:
    return None


class Callable_:
    def __call__(self, state: Log) -> None:
        return None


def takes_two(state: Log, extra: int) -> None:
    return None


@pytest.mark.parametrize(
    ("action", "name"),
    [
        (named, "named"),
        (lambda state: None, "<lambda>"),
        (Callable_(), "Callable_"),
        (functools.partial(takes_two, extra=1), "partial"),
    ],
)
def test_default_node_names(action: Any, name: str) -> None:
    builder = StateGraph(Log).add_node(action)
    assert list(builder.nodes) == [name]


def test_a_compiled_graph_is_named_by_its_name() -> None:
    inner = StateGraph(Log).add_node("x", write("x")).add_edge(START, "x").compile(name="inner")
    assert list(StateGraph(Log).add_node(inner).nodes) == ["inner"]


@pytest.mark.parametrize(
    "keyword", ["metadata", "retry_policy", "retry", "cache_policy", "error_handler", "timeout", "trace_policy"]
)
def test_unsupported_keywords_are_refused_by_name(keyword: str) -> None:
    with pytest.raises(InvalidArgumentError, match=f"^add_node\\(\\): {keyword} not supported") as info:
        kwargs: dict[str, Any] = {keyword: {"x": 1}}
        StateGraph(Log).add_node("a", named, **kwargs)
    assert "defer, input_schema and destinations" in str(info.value)


def test_unsupported_keywords_left_empty_are_accepted() -> None:
    builder = StateGraph(Log).add_node("a", named, metadata=None, retry_policy=None, cache_policy=None)
    assert list(builder.nodes) == ["a"]


def test_an_unknown_keyword_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument\\(s\\) \\['colour'\\]"):
        StateGraph(Log).add_node("a", named, colour="red")


def test_destinations_are_accepted_and_change_nothing() -> None:
    graph = (
        StateGraph(Log)
        .add_node("a", write("a"), destinations=("b",))
        .add_node("b", write("b"), destinations={"a": "back"})
        .add_edge(START, "a")
        .add_edge("a", "b")
        .compile()
    )
    assert graph.invoke({"log": []}) == {"log": ["a", "b"]}


def test_input_is_the_deprecated_name_of_input_schema() -> None:
    class Only(TypedDict):
        other: str

    seen: list[Any] = []
    builder = StateGraph(Log)
    with pytest.warns(DeprecationWarning, match="`input` is deprecated"):
        builder.add_node("a", lambda state: seen.append(state), input=Only)
    builder.add_edge(START, "a").compile().invoke({"log": ["x"]})
    assert seen == [{}]


def test_a_deferred_node_runs_when_nothing_else_is_left() -> None:
    builder = StateGraph(Log)
    builder.add_node("slow1", write("slow1")).add_node("slow2", write("slow2")).add_node("fast", write("fast"))
    builder.add_node("last", write("last"), defer=True)
    builder.add_edge(START, "slow1").add_edge("slow1", "slow2").add_edge(START, "fast")
    builder.add_edge("fast", "last").add_edge("slow2", "last").add_edge("last", END)
    chunks = list(builder.compile().stream({"log": []}, stream_mode="updates"))
    # "last" is triggered twice (after fast, after slow2) and runs once, after slow2's step
    assert sorted(map(repr, chunks[:2])) == [repr({"fast": {"log": ["fast"]}}), repr({"slow1": {"log": ["slow1"]}})]
    assert chunks[2:] == [{"slow2": {"log": ["slow2"]}}, {"last": {"log": ["last"]}}]


def test_a_send_to_a_deferred_node_is_not_held() -> None:
    builder = StateGraph(Log)
    builder.add_node("a", write("a")).add_node("b", write("b")).add_node("last", write("last"), defer=True)
    builder.add_edge(START, "a").add_edge("a", "b")
    builder.add_conditional_edges(START, lambda state: [Send("last", state)])
    assert builder.compile().invoke({"log": []}) == {"log": ["a", "last", "b"]}


class Overall(TypedDict):
    foo: Annotated[int, operator.add]
    bar: str


class Bar(TypedDict):
    bar: str


@dataclasses.dataclass
class BarClass:
    bar: str = "none"


def test_a_path_function_reads_its_own_schema() -> None:
    seen: list[Any] = []

    def route(state: Bar) -> str:
        seen.append(state)
        return END

    class Route:
        def __call__(self, state: BarClass) -> str:
            seen.append(state)
            return END

    builder = StateGraph(Overall).add_node("a", lambda state: {"foo": 1, "bar": "x"}).add_edge(START, "a")
    builder.add_conditional_edges("a", route).add_conditional_edges("a", Route())
    assert builder.compile().invoke({"foo": 1}) == {"foo": 2, "bar": "x"}
    assert seen == [{"bar": "x"}, BarClass(bar="x")]


def test_a_path_function_reads_its_source_node_schema() -> None:
    """Without a schema of its own, a path function receives what its source node receives, over the update
    the node returned (as LangGraph reads it: ``foo`` is the update's 5, not the state's 6)."""
    seen: list[Any] = []

    def node(state: Bar) -> dict[str, Any]:
        return {"foo": 5}

    def route(state: Any) -> str:
        seen.append(state)
        return END

    builder = StateGraph(Overall).add_node(node).add_edge(START, "node").add_conditional_edges("node", route)
    assert builder.compile().invoke({"foo": 1, "bar": "b"}) == {"foo": 6, "bar": "b"}
    assert seen == [{"foo": 5, "bar": "b"}]


class Private(TypedDict):
    secret: str


def test_a_path_function_schema_adds_state_keys() -> None:
    def route(state: Private) -> str:
        return END

    builder = StateGraph(Overall).add_node("a", lambda state: {"secret": "s"}).add_edge(START, "a")
    graph = builder.add_conditional_edges("a", route).compile()
    assert graph.invoke({"foo": 1}) == {"foo": 1}


def test_a_duplicate_branch_name_is_refused() -> None:
    builder = StateGraph(Overall).add_node("a", lambda state: None).add_edge(START, "a")
    builder.add_conditional_edges("a", Callable_())
    with pytest.raises(InvalidGraphError, match=r"^Branch with name `.*` already exists for node `a`"):
        builder.add_conditional_edges("a", lambda state: END)


def test_max_concurrency_caps_a_step() -> None:
    running = {"now": 0, "max": 0}

    async def slow(state: Log) -> dict[str, Any]:
        running["now"] += 1
        running["max"] = max(running["max"], running["now"])
        for _ in range(5):
            await asyncio.sleep(0)
        running["now"] -= 1
        return {"log": ["x"]}

    builder = StateGraph(Log)
    for index in range(6):
        builder.add_node(f"n{index}", slow).add_edge(START, f"n{index}")
    graph = builder.compile()
    assert graph.invoke({"log": []}) == {"log": ["x"] * 6}
    assert running == {"now": 0, "max": 6}
    running["max"] = 0
    assert graph.invoke({"log": []}, {"max_concurrency": 2}) == {"log": ["x"] * 6}
    assert running == {"now": 0, "max": 2}


@pytest.mark.parametrize("value", [0, -1, 1.5, "2", True])
def test_a_bad_max_concurrency_is_refused(value: Any) -> None:
    graph = StateGraph(Log).add_node("a", write("a")).add_edge(START, "a").compile()
    with pytest.raises(InvalidArgumentError, match=r"config\['max_concurrency'\] must be a positive int or None"):
        graph.invoke({"log": []}, {"max_concurrency": value})


def test_tasks_start_in_langgraph_order() -> None:
    """Sent tasks first, then triggered nodes by name (LangGraph 1.2's order), whatever order edges give."""
    builder = StateGraph(Log)
    for name in ("zeta", "alpha", "mid"):
        builder.add_node(name, write(name)).add_edge(START, name)
    builder.add_conditional_edges(START, lambda state: [Send("zeta", state)])
    names = [c["name"] for c in builder.compile().stream({"log": []}, stream_mode="tasks") if "result" not in c]
    assert names == ["zeta", "alpha", "mid", "zeta"]


def test_task_ids_are_distinct_version_4_uuids() -> None:
    builder = StateGraph(Log)
    builder.add_node("a", write("a")).add_node("b", write("b")).add_node("c", write("c"))
    builder.add_edge(START, "a").add_edge(START, "b").add_edge("a", "c")
    chunks = list(builder.compile().stream({"log": []}, stream_mode="tasks"))
    ids = {chunk["id"] for chunk in chunks}
    assert len(chunks) == 6 and len(ids) == 3  # each task's start and result carry its id
    for task_id in ids:
        parsed = uuid.UUID(task_id)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, task_id)


def test_a_tool_is_a_node_called_with_the_state() -> None:
    from streamflow.tools import tool

    @tool
    def shout(word: str) -> dict[str, str]:
        """Say ``word`` louder."""
        return {"word": word.upper() + "!"}

    class Words(TypedDict):
        word: str

    graph = StateGraph(Words).add_node(shout).add_edge(START, "shout").compile()
    assert list(graph.nodes) == ["shout"]
    assert graph.invoke({"word": "hi"}) == {"word": "HI!"}
