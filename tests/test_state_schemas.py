"""State, input, output and node schemas: what each accepts, what it refuses (with a clear error), and what
the nodes and the caller see. The LangGraph-equal outputs are in tests/compat/test_builder_cases.py."""

from __future__ import annotations

import dataclasses
import functools
import operator
from typing import Annotated, Any, TypedDict

import pytest

from streamflow.errors import InvalidArgumentError, InvalidUpdateError
from streamflow.graph import START, StateGraph
from streamflow.graph.state import ROOT, StateSchema


class State(TypedDict):
    topic: str
    notes: Annotated[list[str], operator.add]


class Topic(TypedDict):
    topic: str


class Scratch(TypedDict):
    draft: str


def one_node(builder: StateGraph, fn: Any, **kwargs: Any) -> Any:
    return builder.add_node("n", fn, **kwargs).add_edge(START, "n").compile()


@pytest.mark.parametrize("schema", [42, None, "State", {"topic": str}])
def test_a_state_schema_that_is_no_type_is_refused(schema: Any) -> None:
    with pytest.raises(
        InvalidArgumentError, match="a state schema must be a TypedDict, a dataclass, a pydantic model, or a type"
    ) as info:
        StateGraph(schema)
    assert repr(schema) in str(info.value)


@pytest.mark.parametrize("keyword", ["input_schema", "output_schema"])
def test_a_bad_input_or_output_schema_is_named(keyword: str) -> None:
    what = "the input schema" if keyword == "input_schema" else "the output schema"
    with pytest.raises(InvalidArgumentError, match=f"{what} must be a TypedDict"):
        kwargs: dict[str, Any] = {keyword: 3.5}
        StateGraph(State, **kwargs)


def test_a_root_state_does_not_mix_with_keyed_schemas() -> None:
    with pytest.raises(InvalidArgumentError, match="must both be root types or both have keys"):
        StateGraph(Annotated[list, operator.add], output_schema=Topic)
    with pytest.raises(InvalidArgumentError, match="must both be root types or both have keys"):
        StateGraph(State, input_schema=list)


def test_a_bad_node_input_schema_is_named() -> None:
    with pytest.raises(InvalidArgumentError, match="a node's input schema must be a TypedDict"):
        StateGraph(State).add_node("n", lambda state: None, input_schema=7)  # type: ignore[arg-type]


def test_an_unknown_keyword_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['outputs'\]"):
        StateGraph(State, outputs=Topic)


def test_the_deprecated_keywords_warn_and_the_new_ones_win() -> None:
    with pytest.warns(DeprecationWarning, match="`input` is deprecated.*use `input_schema` instead"):
        builder = StateGraph(State, input=Scratch, input_schema=Topic)
    assert builder.schema.input_keys == ("topic",)
    assert "draft" not in builder.schema.keys  # the deprecated one is ignored then, as LangGraph ignores it
    with pytest.warns(DeprecationWarning, match="`output` is deprecated.*use `output_schema` instead"):
        builder = StateGraph(State, output=Topic)
    assert builder.schema.output_keys == ("topic",)


def test_input_is_filtered_to_the_input_schema_and_result_to_the_output_schema() -> None:
    seen: list[Any] = []

    def node(state: Any) -> dict[str, Any]:
        seen.append(state)
        return {"notes": ["n"], "draft": "d"}

    graph = one_node(StateGraph(State, input_schema=Topic, output_schema=Scratch), node)
    assert graph.invoke({"topic": "t", "notes": ["dropped"], "draft": "dropped"}) == {"draft": "d"}
    assert seen == [{"topic": "t", "notes": []}]


def test_invoke_returns_none_when_no_output_key_was_ever_written() -> None:
    graph = one_node(StateGraph(State, output_schema=Scratch), lambda state: {"topic": "x"})
    assert graph.invoke({"topic": "t"}) is None


def test_a_node_schema_narrows_the_input_and_adds_keys() -> None:
    seen: list[Any] = []

    def write_draft(state: Scratch) -> dict[str, Any]:
        seen.append(state)
        return {"draft": "first", "topic": "drafted"}

    graph = one_node(StateGraph(State), write_draft)
    assert graph.invoke({"topic": "t"}) == {"topic": "drafted", "notes": []}
    assert seen == [{}]  # 'draft' has no value yet; the state's keys are not the node's
    chunks = list(graph.stream({"topic": "t"}, stream_mode="values"))
    assert chunks[-1] == {"topic": "drafted", "notes": [], "draft": "first"}


def test_an_explicit_node_schema_beats_the_type_hint() -> None:
    seen: list[Any] = []

    def node(state: Scratch) -> None:
        seen.append(state)

    one_node(StateGraph(State), node, input_schema=Topic).invoke({"topic": "t"})
    assert seen == [{"topic": "t"}]


@dataclasses.dataclass
class Point:
    x: int
    y: int = 0


def test_a_dataclass_node_schema_gets_an_instance_with_its_defaults() -> None:
    seen: list[Any] = []

    def node(state: Point) -> dict[str, Any]:
        seen.append(state)
        return {"topic": "done"}

    builder = StateGraph(State).add_node("first", lambda state: {"x": 3}).add_node("second", node)
    graph = builder.add_edge(START, "first").add_edge("first", "second").compile()
    assert graph.invoke({"topic": "t"}) == {"topic": "done", "notes": []}
    assert seen == [Point(x=3, y=0)]


@pytest.mark.parametrize("hint", [dict, int, State, Any])
def test_hints_that_are_no_other_schema_give_the_state(hint: Any) -> None:
    seen: list[Any] = []

    def node(state: Any) -> None:
        seen.append(state)

    node.__annotations__["state"] = hint
    one_node(StateGraph(State), node).invoke({"topic": "t"})
    assert seen == [{"topic": "t", "notes": []}]


def test_a_callable_object_is_read_for_a_schema() -> None:
    """LangGraph reads a callable instance's ``__call__`` first parameter (a partial is not read)."""

    class Node:
        def __call__(self, state: Scratch) -> None:
            seen.append(state)

    def takes(state: Scratch, extra: int) -> None:
        seen.append(state)

    seen: list[Any] = []
    one_node(StateGraph(State), Node()).invoke({"topic": "t"})
    assert seen == [{}]
    seen.clear()
    one_node(StateGraph(State), functools.partial(takes, extra=1)).invoke({"topic": "t"})
    assert seen == [{"topic": "t", "notes": []}]


def test_keys_outside_every_schema_are_still_refused() -> None:
    def node(state: Scratch) -> dict[str, Any]:
        return {"draft": "ok", "ghost": 1}

    with pytest.raises(InvalidUpdateError, match=r"unknown key\(s\) \['ghost'\]") as info:
        one_node(StateGraph(State), node).invoke({"topic": "t"})
    assert "'draft'" in str(info.value)  # the allowed keys listed include the node schema's


def test_adding_a_node_after_compile_leaves_the_compiled_graph_alone() -> None:
    builder = StateGraph(State).add_node("n", lambda state: None).add_edge(START, "n")
    graph = builder.compile()

    def later(state: Scratch) -> None:
        return None

    builder.add_node("later", later)
    assert "draft" in builder.schema.keys
    assert "draft" not in graph.schema.keys


@pytest.mark.parametrize(
    ("schema", "given", "returned", "result"),
    [
        (Annotated[list, operator.add], ["a"], ["b"], ["a", "b"]),
        (list, ["a"], ["b"], ["b"]),
        (int, 1, 2, 2),
        (str, "s", {"any": "value"}, {"any": "value"}),
        (int, 0, None, 0),
    ],
)
def test_a_root_state_is_one_value(schema: Any, given: Any, returned: Any, result: Any) -> None:
    seen: list[Any] = []

    def node(state: Any) -> Any:
        seen.append(state)
        return returned

    graph = one_node(StateGraph(schema), node)
    assert graph.invoke(given) == result
    assert seen == [given]
    assert list(graph.stream(given, stream_mode="updates")) == [{"n": returned}]


def test_a_root_state_ignores_a_node_function_type_hint() -> None:
    def node(state: Topic) -> list[str]:
        return ["x"]

    assert one_node(StateGraph(Annotated[list, operator.add]), node).invoke([]) == ["x"]


def test_schema_updates_none_and_empty_are_no_update() -> None:
    schema = StateSchema.of(State)
    assert schema.check_update(None, "n") is None
    assert schema.check_update({}, "n") is None
    assert schema.check_update({"topic": "t"}, "n") == {"topic": "t"}
    root = StateSchema.of(Annotated[list, operator.add])
    assert root.root
    assert root.check_update([], "n") == {ROOT: []}
    assert root.unwrap({ROOT: [1]}) == [1]


def test_an_annotated_instance_updates_the_keys_it_has() -> None:
    schema = StateSchema.of(State)
    schema.add(Point, "a node's input schema")
    assert schema.check_update(Point(x=1), "n") == {"x": 1, "y": 0}
    assert schema.check_update(Topic(topic="t"), "n") == {"topic": "t"}  # a TypedDict instance is a dict


@pytest.mark.anyio
async def test_a_step_that_writes_nothing_yields_no_values_chunk() -> None:
    builder = StateGraph(State)
    builder.add_node("quiet", lambda state: {}).add_node("loud", lambda state: {"notes": ["x"]})
    builder.add_edge(START, "quiet").add_edge("quiet", "loud")
    chunks = [c async for c in builder.compile().astream({"topic": "t"}, stream_mode="values")]
    assert chunks == [{"topic": "t", "notes": []}, {"topic": "t", "notes": ["x"]}]


class OnlyNotes(TypedDict):
    notes: Annotated[list[str], operator.add]


def test_invoke_with_a_stream_mode_shows_the_output_keys_only() -> None:
    """As LangGraph's invoke(): values and updates of the root graph show the output schema's keys; stream()
    shows every key."""
    builder = StateGraph(State, output_schema=OnlyNotes)
    builder.add_node("topic", lambda state: {"topic": "t2"}).add_node("note", lambda state: {"notes": ["n"]})
    graph = builder.add_edge(START, "topic").add_edge("topic", "note").compile()
    assert graph.invoke({"topic": "t"}, stream_mode=["values", "updates"]) == [
        ("updates", {"topic": None}),
        ("updates", {"note": {"notes": ["n"]}}),
        ("values", {"notes": ["n"]}),
    ]
    assert list(graph.stream({"topic": "t"}, stream_mode="updates")) == [
        {"topic": {"topic": "t2"}},
        {"note": {"notes": ["n"]}},
    ]
    assert graph.invoke({"topic": "t"}) == {"notes": ["n"]}


def test_takes_as_is_checks_the_keys_of_a_dict_update() -> None:
    schema = StateSchema.of(State)
    assert schema.takes_as_is({"topic": "t", "notes": ["n"]})
    assert schema.takes_as_is({})
    assert not schema.takes_as_is({"topic": "t", "draft": "d"})
    assert not StateSchema.of(int).takes_as_is({ROOT: 1})  # a root state wraps any value: check_update does


def test_takes_as_is_follows_keys_added_later_and_not_a_copys() -> None:
    schema = StateSchema.of(State)
    copy = schema.copy()
    copy.add(Scratch, "a node's input schema")
    assert copy.takes_as_is({"draft": "d"})
    assert not schema.takes_as_is({"draft": "d"})
    schema.node_input(Scratch)
    assert schema.takes_as_is({"draft": "d"})
