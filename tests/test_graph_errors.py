"""Graph mistakes are reported with the culprit named: at add_node, at compile() and at run time."""

from __future__ import annotations

from typing import Any, TypedDict

import pytest

from streamflow.errors import EmptyInputError, InvalidGraphError, InvalidUpdateError
from streamflow.graph import END, START, StateGraph


class State(TypedDict):
    topic: str


def node(state: State) -> dict[str, Any]:
    return {"topic": state["topic"] + "!"}


def test_edge_to_unknown_node() -> None:
    builder = StateGraph(State).add_node("a", node).add_edge(START, "a").add_edge("a", "ghost")
    with pytest.raises(InvalidGraphError, match=r"^Found edge ending at unknown node `ghost`") as info:
        builder.compile()
    assert "'a' -> 'ghost'" in str(info.value)


def test_edge_from_unknown_node() -> None:
    builder = StateGraph(State).add_node("a", node).add_edge(START, "a").add_edge("phantom", "a")
    with pytest.raises(InvalidGraphError, match=r"^Found edge starting at unknown node 'phantom'"):
        builder.compile()


def test_path_map_to_unknown_node() -> None:
    builder = (
        StateGraph(State)
        .add_node("a", node)
        .add_edge(START, "a")
        .add_conditional_edges("a", lambda s: "x", {"x": "nowhere", "y": END})
    )
    with pytest.raises(InvalidGraphError, match=r"^At 'a' node, 'condition' branch found unknown target 'nowhere'"):
        builder.compile()


def test_duplicate_node_name() -> None:
    builder = StateGraph(State).add_node("a", node)
    with pytest.raises(InvalidGraphError, match="'a' already exists"):
        builder.add_node("a", node)


@pytest.mark.parametrize("name", [START, END])
def test_reserved_node_name(name: str) -> None:
    with pytest.raises(InvalidGraphError, match=f"^Node `{name}` is reserved"):
        StateGraph(State).add_node(name, node)


def test_an_unreachable_node_compiles_and_never_runs() -> None:
    """LangGraph accepts a node no edge reaches; so do we."""
    graph = (
        StateGraph(State)
        .add_node("a", node)
        .add_node("island", lambda state: {"topic": "island"})
        .add_edge(START, "a")
        .add_edge("a", END)
        .add_edge("island", END)
        .compile()
    )
    assert graph.invoke({"topic": "x"}) == {"topic": "x!"}


def test_no_entry_point() -> None:
    builder = StateGraph(State).add_node("a", node).add_edge("a", END)
    with pytest.raises(InvalidGraphError, match=r"^Graph must have an entrypoint") as info:
        builder.compile()
    assert "add_edge(START, 'a')" in str(info.value)


def test_update_with_unknown_key() -> None:
    def bad(state: State) -> dict[str, Any]:
        return {"topic": "ok", "colour": "red"}

    graph = StateGraph(State).add_node("bad", bad).add_edge(START, "bad").compile()
    with pytest.raises(InvalidUpdateError) as info:
        graph.invoke({"topic": "x"})
    message = str(info.value)
    assert "'colour'" in message and "'bad'" in message and "['topic']" in message
    # streamed: the error arrives after the chunks produced before it
    seen: list[Any] = []
    with pytest.raises(InvalidUpdateError, match="colour"):
        for chunk in graph.stream({"topic": "x"}, stream_mode="values"):
            seen.append(chunk)
    assert seen == [{"topic": "x"}]


def test_input_keys_outside_the_schema_are_ignored() -> None:
    """As in LangGraph, the graph input's keys the state does not have are dropped, not refused."""
    graph = StateGraph(State).add_node("a", node).add_edge(START, "a").compile()
    assert graph.invoke({"topic": "x", "extra": 1}) == {"topic": "x!"}


def test_input_that_is_not_a_mapping() -> None:
    graph = StateGraph(State).add_node("a", node).add_edge(START, "a").compile()
    with pytest.raises(InvalidUpdateError, match="the graph input returned str"):
        graph.invoke("x")


def test_conditional_path_returns_unknown_node() -> None:
    graph = (
        StateGraph(State)
        .add_node("a", node)
        .add_edge(START, "a")
        .add_conditional_edges("a", lambda s: "nowhere")
        .compile()
    )
    seen: list[Any] = []
    with pytest.raises(InvalidGraphError, match="'nowhere'") as info:
        for chunk in graph.stream({"topic": "x"}, stream_mode="updates"):
            seen.append(chunk)
    assert "known nodes: ['a']" in str(info.value)
    assert seen == [{"a": {"topic": "x!"}}]


@pytest.mark.anyio
async def test_conditional_path_value_missing_from_path_map() -> None:
    graph = (
        StateGraph(State)
        .add_node("a", node)
        .add_edge(START, "a")
        .add_conditional_edges("a", lambda s: "maybe", {"yes": "a", "no": END})
        .compile()
    )
    with pytest.raises(InvalidGraphError, match="'maybe'") as info:
        await graph.ainvoke({"topic": "x"})
    assert "['yes', 'no']" in str(info.value)


def test_send_to_unknown_node() -> None:
    from streamflow.graph import Send

    graph = (
        StateGraph(State)
        .add_node("a", node)
        .add_conditional_edges(START, lambda s: [Send("ghost", {})])
        .add_edge("a", END)
        .compile()
    )
    with pytest.raises(InvalidGraphError, match="'ghost'"):
        graph.invoke({"topic": "x"})


def test_no_input_is_an_empty_input_error() -> None:
    """As LangGraph without a checkpointer: None is no input (``{}`` is an input that sets nothing)."""
    graph = StateGraph(State).add_node("a", node).add_edge(START, "a").compile()
    with pytest.raises(EmptyInputError, match=r"^Received no input for __start__") as info:
        graph.invoke(None)
    assert not isinstance(info.value, ValueError)
    seen: list[Any] = []
    with pytest.raises(EmptyInputError):
        for chunk in graph.stream(None, stream_mode="values"):
            seen.append(chunk)
    assert seen == []


def test_no_input_to_a_graph_run_inside_a_node() -> None:
    inner = StateGraph(State).add_node("a", node).add_edge(START, "a").compile()

    def outer_node(state: State) -> None:
        inner.invoke(None)

    outer = StateGraph(State).add_node("outer", outer_node).add_edge(START, "outer").compile()
    with pytest.raises(EmptyInputError, match="no input"):
        outer.invoke({"topic": "x"})
