"""The builder and the state behave as LangGraph's: each test runs the same builder code on streamflow and on
LangGraph (only the package the names come from differs) and expects the same final state and the same
``values`` chunks on both. The LangGraph half needs the ``compare`` extra; it is skipped with the reason when
the extra is missing (a failure under ``CI``)."""

from __future__ import annotations

import asyncio
import enum
import operator
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Annotated, Any, TypedDict

import pytest

from streamflow.messages import add_messages as sf_add_messages
from tests.extras import require_extra

LIBS = ["streamflow", "langgraph"]


def names(lib: str) -> SimpleNamespace:
    """The names a graph is built from, taken from ``lib``."""
    if lib == "streamflow":
        import streamflow.graph as graph
        import streamflow.messages as messages

        return SimpleNamespace(
            StateGraph=graph.StateGraph,
            START=graph.START,
            END=graph.END,
            add_messages=messages.add_messages,
            HumanMessage=messages.HumanMessage,
            AIMessage=messages.AIMessage,
        )
    graph = require_extra("langgraph.graph", "compare")
    message = require_extra("langgraph.graph.message", "compare")
    lc_messages = require_extra("langchain_core.messages", "compare")
    return SimpleNamespace(
        StateGraph=graph.StateGraph,
        START=graph.START,
        END=graph.END,
        add_messages=message.add_messages,
        HumanMessage=lc_messages.HumanMessage,
        AIMessage=lc_messages.AIMessage,
    )


class Items(TypedDict):
    items: Annotated[list[str], operator.add]
    x: int


def append(label: str) -> Callable[[Any], dict[str, Any]]:
    def node(state: Any) -> dict[str, Any]:
        return {"items": [label]}

    node.__name__ = label
    return node


def run_both_ways(graph: Any, graph_input: Any) -> tuple[Any, list[Any]]:
    """The final state (``invoke``) and the ``values`` chunks (``stream``) of one input."""
    return graph.invoke(graph_input), list(graph.stream(graph_input, stream_mode="values"))


@pytest.mark.parametrize("lib", LIBS)
def test_set_entry_point_and_set_finish_point(lib: str) -> None:
    n = names(lib)
    graph = (
        n.StateGraph(Items)
        .add_node("a", append("a"))
        .add_node("b", append("b"))
        .add_edge("a", "b")
        .set_entry_point("a")
        .set_finish_point("b")
        .compile()
    )
    assert run_both_ways(graph, {"items": []}) == (
        {"items": ["a", "b"]},
        [{"items": []}, {"items": ["a"]}, {"items": ["a", "b"]}],
    )


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize(("x", "expected"), [(0, ["a"]), (1, ["b"])])
def test_set_conditional_entry_point_with_a_path_map(lib: str, x: int, expected: list[str]) -> None:
    n = names(lib)
    builder = n.StateGraph(Items).add_node("a", append("a")).add_node("b", append("b"))
    builder.set_conditional_entry_point(lambda state: "right" if state["x"] else "left", {"left": "a", "right": "b"})
    graph = builder.set_finish_point("a").set_finish_point("b").compile()
    assert run_both_ways(graph, {"items": [], "x": x}) == (
        {"items": expected, "x": x},
        [{"items": [], "x": x}, {"items": expected, "x": x}],
    )


@pytest.mark.parametrize("lib", LIBS)
def test_set_conditional_entry_point_to_several_nodes(lib: str) -> None:
    n = names(lib)
    builder = n.StateGraph(Items).add_node("b", append("b")).add_node("a", append("a"))
    graph = builder.set_conditional_entry_point(lambda state: ["b", "a"]).compile()
    assert graph.invoke({"items": []}) == {"items": ["a", "b"]}


@pytest.mark.parametrize("lib", LIBS)
def test_add_sequence_names_nodes_and_chains_them(lib: str) -> None:
    n = names(lib)
    builder = n.StateGraph(Items).add_sequence([append("one"), ("second", append("two")), append("three")])
    assert set(builder.nodes) == {"one", "second", "three"}
    assert sorted(builder.edges) == [("one", "second"), ("second", "three")]
    graph = builder.add_edge(n.START, "one").compile()
    assert run_both_ways(graph, {"items": []}) == (
        {"items": ["one", "two", "three"]},
        [{"items": []}, {"items": ["one"]}, {"items": ["one", "two"]}, {"items": ["one", "two", "three"]}],
    )


@pytest.mark.parametrize("lib", LIBS)
def test_add_sequence_refuses_bad_input_with_langgraph_s_exception_classes(lib: str) -> None:
    n = names(lib)
    with pytest.raises(ValueError):
        n.StateGraph(Items).add_sequence([])
    with pytest.raises(ValueError):
        n.StateGraph(Items).add_sequence([("a", append("a")), ("a", append("b"))])
    with pytest.raises(TypeError):
        n.StateGraph(Items).add_sequence(["not a node"])
    with pytest.raises(TypeError):
        n.StateGraph(Items).add_sequence("ab")
    with pytest.raises(TypeError):
        n.StateGraph(Items).add_node("a", "not callable")


def test_our_builder_errors_are_invalid_graph_errors_that_name_the_culprit() -> None:
    from streamflow.errors import InvalidGraphError
    from streamflow.graph import StateGraph

    with pytest.raises(InvalidGraphError, match="at least one node"):
        StateGraph(Items).add_sequence([])
    with pytest.raises(InvalidGraphError, match="'a' already exists"):
        StateGraph(Items).add_sequence([("a", append("a")), ("a", append("b"))])
    with pytest.raises(TypeError, match="'not a node' is not a node"):
        StateGraph(Items).add_sequence(["not a node"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"\(name, action\) pair"):
        StateGraph(Items).add_sequence([("a", append("a"), "extra")])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="got str"):
        StateGraph(Items).add_sequence("ab")  # type: ignore[arg-type]


class Step(str, enum.Enum):  # noqa: UP042 - the mixin form, whose str() is 'Step.FIRST', not its value
    FIRST = "first"
    SECOND = "second"


@pytest.mark.parametrize("lib", LIBS)
def test_a_str_enum_node_name_is_its_value(lib: str) -> None:
    n = names(lib)

    def route(state: Any) -> Step:
        return Step.SECOND

    builder = n.StateGraph(Items).add_node(Step.FIRST, append("1")).add_node(Step.SECOND, append("2"))
    builder.add_edge(n.START, Step.FIRST).add_conditional_edges(Step.FIRST, route, [Step.SECOND])
    graph = builder.add_edge(Step.SECOND, n.END).compile()
    updates = list(graph.stream({"items": []}, stream_mode="updates"))
    # LangGraph keys the chunks with the member itself, which equals its value; we key them with the value
    assert [[str(getattr(k, "value", k)) for k in chunk] for chunk in updates] == [["first"], ["second"]]
    assert run_both_ways(graph, {"items": []})[0] == {"items": ["1", "2"]}
    if lib == "streamflow":
        assert [list(chunk) for chunk in updates] == [["first"], ["second"]]
        assert all(type(k) is str for chunk in updates for k in chunk)


@pytest.mark.parametrize("lib", LIBS)
def test_an_unreachable_node_compiles_and_never_runs(lib: str) -> None:
    n = names(lib)
    builder = n.StateGraph(Items).add_node("a", append("a")).add_node("island", append("island"))
    graph = builder.add_edge(n.START, "a").add_edge("island", n.END).compile()
    assert run_both_ways(graph, {"items": []}) == ({"items": ["a"]}, [{"items": []}, {"items": ["a"]}])


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize(
    ("graph_input", "chunks"),
    [
        ({"items": ["in"], "unknown": 1}, [{"items": ["in"]}, {"items": ["in", "a"]}]),
        # an input that writes no state key gives no first chunk
        ({"unknown": 1}, [{"items": ["a"]}]),
        ({}, [{"items": ["a"]}]),
    ],
)
def test_input_keys_outside_the_schema_are_ignored(lib: str, graph_input: Any, chunks: list[Any]) -> None:
    n = names(lib)
    graph = n.StateGraph(Items).add_node("a", append("a")).add_edge(n.START, "a").compile()
    assert run_both_ways(graph, graph_input) == (chunks[-1], chunks)


@pytest.mark.parametrize("lib", LIBS)
def test_an_operator_add_reducer_is_applied_to_the_input(lib: str) -> None:
    n = names(lib)
    graph = n.StateGraph(Items).add_node("a", append("a")).add_edge(n.START, "a").compile()
    assert run_both_ways(graph, {"items": ["in"], "x": 2}) == (
        {"items": ["in", "a"], "x": 2},
        [{"items": ["in"], "x": 2}, {"items": ["in", "a"], "x": 2}],
    )


def lg_add_messages(left: Any, right: Any) -> Any:
    """LangGraph's ``add_messages`` (imported when first called, so that this module loads without it)."""
    return names("langgraph").add_messages(left, right)


class SfChat(TypedDict):
    messages: Annotated[Sequence[Any], sf_add_messages]


class LgChat(TypedDict):
    messages: Annotated[Sequence[Any], lg_add_messages]


def described(messages: Sequence[Any]) -> list[tuple[str, Any, bool]]:
    return [(type(m).__name__, m.content, bool(m.id)) for m in messages]


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("as_dict", [False, True])
def test_add_messages_on_a_sequence_key_is_applied_to_the_input(lib: str, as_dict: bool) -> None:
    n = names(lib)
    graph = (
        n.StateGraph(SfChat if lib == "streamflow" else LgChat)
        .add_node("reply", lambda state: {"messages": [n.AIMessage(content="hi")]})
        .add_edge(n.START, "reply")
        .compile()
    )
    question = {"role": "user", "content": "yo"} if as_dict else n.HumanMessage(content="yo")
    final, chunks = run_both_ways(graph, {"messages": [question]})
    # the input went through add_messages: a HumanMessage with an id, in a list
    assert type(final["messages"]) is list
    assert described(final["messages"]) == [("HumanMessage", "yo", True), ("AIMessage", "hi", True)]
    assert [described(chunk["messages"]) for chunk in chunks] == [
        [("HumanMessage", "yo", True)],
        [("HumanMessage", "yo", True), ("AIMessage", "hi", True)],
    ]


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("slow_added_first", [True, False])
@pytest.mark.anyio
async def test_writes_of_a_superstep_apply_in_task_order_not_completion_order(lib: str, slow_added_first: bool) -> None:
    """``slow`` finishes after ``fast`` (it waits for it), and whichever was added or wired first, the writes
    apply in LangGraph's task order: by node name."""
    n = names(lib)
    fast_done = asyncio.Event()

    async def slow(state: Any) -> dict[str, Any]:
        await fast_done.wait()
        return {"items": ["slow"]}

    async def fast(state: Any) -> dict[str, Any]:
        fast_done.set()
        return {"items": ["fast"]}

    builder = n.StateGraph(Items)
    order = [("slow", slow), ("fast", fast)] if slow_added_first else [("fast", fast), ("slow", slow)]
    for name, fn in order:
        builder.add_node(name, fn)
    for name, _ in order:
        builder.add_edge(n.START, name)
    graph = builder.compile()
    assert await graph.ainvoke({"items": []}) == {"items": ["fast", "slow"]}
    fast_done = asyncio.Event()
    chunks = [chunk async for chunk in graph.astream({"items": []}, stream_mode="values")]
    assert chunks == [{"items": []}, {"items": ["fast", "slow"]}]


@pytest.mark.parametrize("lib", LIBS)
def test_writes_apply_by_node_name_after_a_fan_out(lib: str) -> None:
    n = names(lib)
    builder = n.StateGraph(Items).add_node("c", append("c")).add_node("b", append("b")).add_node("a", append("a"))
    graph = builder.add_edge(n.START, "c").add_edge("c", "b").add_edge("c", "a").compile()
    assert run_both_ways(graph, {"items": []}) == (
        {"items": ["c", "a", "b"]},
        [{"items": []}, {"items": ["c"]}, {"items": ["c", "a", "b"]}],
    )
