"""``Command`` returned by nodes and tools, and given as a run's input (no checkpointer): where the run goes,
what the state becomes, what the stream shows, and the errors for bad commands."""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, TypedDict

import pytest

from streamflow.checkpoint.memory import InMemorySaver
from streamflow.errors import InvalidGraphError, InvalidUpdateError, ParentCommand
from streamflow.graph import END, START, StateGraph
from streamflow.messages import AIMessage, MessagesState, ToolCall, ToolMessage
from streamflow.tools import ToolNode, tool
from streamflow.types import Command, Send


class Trail(TypedDict):
    trail: Annotated[list[str], operator.add]


class Plain(TypedDict):
    value: str


def step(name: str) -> Any:
    def run(state: Trail) -> dict[str, list[str]]:
        return {"trail": [name]}

    return run


def test_goto_routes_without_edges() -> None:
    def a(state: Trail) -> Command[str]:
        return Command(update={"trail": ["a"]}, goto="c")

    graph = (
        StateGraph(Trail).add_node("a", a).add_node("b", step("b")).add_node("c", step("c")).add_edge(START, "a")
    ).compile()
    assert graph.invoke({"trail": []}) == {"trail": ["a", "c"]}


def test_goto_adds_to_static_edges() -> None:
    def a(state: Trail) -> Command[str]:
        return Command(goto=["c"])

    graph = (
        StateGraph(Trail)
        .add_node("a", a)
        .add_node("b", step("b"))
        .add_node("c", step("c"))
        .add_edge(START, "a")
        .add_edge("a", "b")
    ).compile()
    assert sorted(graph.invoke({"trail": []})["trail"]) == ["b", "c"]


def test_goto_send_gives_the_node_its_own_input() -> None:
    seen: list[Any] = []

    def a(state: Trail) -> Command[str]:
        return Command(goto=[Send("b", {"trail": ["x"]}), Send("b", {"trail": ["y"]})])

    def b(state: Trail) -> dict[str, list[str]]:
        seen.append(state)
        return {"trail": ["b"]}

    graph = StateGraph(Trail).add_node("a", a).add_node("b", b).add_edge(START, "a").compile()
    assert graph.invoke({"trail": []}) == {"trail": ["b", "b"]}
    assert sorted(s["trail"][0] for s in seen) == ["x", "y"]


def test_goto_end_adds_nothing() -> None:
    def a(state: Trail) -> Command[str]:
        return Command(update={"trail": ["a"]}, goto=END)

    graph = StateGraph(Trail).add_node("a", a).add_edge(START, "a").compile()
    assert list(graph.stream({"trail": []}, stream_mode="updates")) == [{"a": {"trail": ["a"]}}]


def test_goto_only_shows_none_in_updates_and_an_empty_task_result() -> None:
    def a(state: Trail) -> Command[str]:
        return Command(goto="b")

    graph = StateGraph(Trail).add_node("a", a).add_node("b", step("b")).add_edge(START, "a").compile()
    assert list(graph.stream({"trail": []}, stream_mode="updates")) == [{"a": None}, {"b": {"trail": ["b"]}}]
    results = [c for c in graph.stream({"trail": []}, stream_mode="tasks") if "result" in c]
    assert [(c["name"], c["result"]) for c in results] == [("a", {}), ("b", {"trail": ["b"]})]


def test_pairs_update_writes_each_value_through_the_reducer() -> None:
    def a(state: Trail) -> Command[str]:
        return Command(update=[("trail", ["x"]), ("trail", ["y"])])

    graph = StateGraph(Trail).add_node("a", a).add_edge(START, "a").compile()
    assert graph.invoke({"trail": []}) == {"trail": ["x", "y"]}
    assert list(graph.stream({"trail": []}, stream_mode="updates")) == [{"a": [{"trail": ["x"]}, {"trail": ["y"]}]}]
    (result,) = [c["result"] for c in graph.stream({"trail": []}, stream_mode="tasks") if "result" in c]
    assert result == {"trail": {"$writes": [["x"], ["y"]]}}


def test_async_node_returning_a_list_of_commands() -> None:
    async def a(state: Trail) -> list[Any]:
        return [Command(update={"trail": ["1"]}, goto="b"), {"trail": ["2"]}, Command(update={"trail": ["3"]})]

    graph = StateGraph(Trail).add_node("a", a).add_node("b", step("b")).add_edge(START, "a").compile()
    assert graph.invoke({"trail": []}) == {"trail": ["1", "2", "3", "b"]}


def test_goto_to_an_unknown_node_names_it_and_the_known_ones() -> None:
    def a(state: Trail) -> Command[str]:
        return Command(goto="nowhere")

    graph = StateGraph(Trail).add_node("a", a).add_node("b", step("b")).add_edge(START, "a").compile()
    with pytest.raises(
        InvalidGraphError, match=r"node 'a' returned Command\(goto='nowhere'\), which is not a node"
    ) as info:
        graph.invoke({"trail": []})
    assert "['a', 'b']" in str(info.value)


def test_goto_send_to_an_unknown_node() -> None:
    def a(state: Trail) -> Command[str]:
        return Command(goto=Send("ghost", {}))

    graph = StateGraph(Trail).add_node("a", a).add_edge(START, "a").compile()
    with pytest.raises(InvalidGraphError, match="Send\\(node='ghost'"):
        graph.invoke({"trail": []})


def test_update_with_an_unknown_key() -> None:
    def a(state: Plain) -> Command[str]:
        return Command(update={"value": "ok", "extra": 1})

    graph = StateGraph(Plain).add_node("a", a).add_edge(START, "a").compile()
    with pytest.raises(
        InvalidUpdateError, match=r"node 'a' returned a Command whose update has unknown key\(s\) \['extra'\]"
    ) as info:
        graph.invoke({"value": ""})
    assert "allows ['value']" in str(info.value)


def test_update_that_is_not_a_mapping() -> None:
    def a(state: Plain) -> Command[str]:
        return Command(update=42)

    graph = StateGraph(Plain).add_node("a", a).add_edge(START, "a").compile()
    with pytest.raises(
        InvalidUpdateError, match=r"returned Command\(update=42\); expected a dict with keys among \['value'\]"
    ):
        graph.invoke({"value": ""})


def test_one_key_twice_without_a_reducer() -> None:
    def a(state: Plain) -> list[Command[str]]:
        return [Command(update={"value": "x"}), Command(update={"value": "y"})]

    graph = StateGraph(Plain).add_node("a", a).add_edge(START, "a").compile()
    with pytest.raises(
        InvalidUpdateError,
        match=r"At key 'value': Can receive only one value per step.*node 'a' wrote it more than once",
    ):
        graph.invoke({"value": ""})


def test_parent_command_from_the_root_graph_reaches_the_caller() -> None:
    def a(state: Plain) -> Command[str]:
        return Command(update={"value": "up"}, goto="x", graph=Command.PARENT)

    graph = StateGraph(Plain).add_node("a", a).add_edge(START, "a").compile()
    with pytest.raises(ParentCommand) as info:
        graph.invoke({"value": ""})
    (command,) = info.value.args
    assert command == Command(graph="", update={"value": "up"}, goto="x")


def test_parent_command_goes_to_the_closest_parent_only() -> None:
    """Three levels: the innermost node's command is taken by the middle graph's node, not the root's."""

    def inner(state: Trail) -> Command[str]:
        return Command(update={"trail": ["inner"]}, goto="after", graph=Command.PARENT)

    innermost = StateGraph(Trail).add_node("inner", inner).add_edge(START, "inner").compile()
    middle = (
        StateGraph(Trail)
        .add_node("sub", innermost)
        .add_node("after", step("after"))
        .add_node("skipped", step("skipped"))
        .add_edge(START, "sub")
        .compile()
    )
    root = StateGraph(Trail).add_node("middle", middle).add_node("after", step("root-after")).add_edge(START, "middle")
    assert root.compile().invoke({"trail": []}) == {"trail": ["inner", "after"]}


def test_parent_command_is_not_a_task_failure() -> None:
    def inner(state: Trail) -> Command[str]:
        return Command(goto="b", graph=Command.PARENT)

    sub = StateGraph(Trail).add_node("inner", inner).add_edge(START, "inner").compile()
    graph = StateGraph(Trail).add_node("sub", sub).add_node("b", step("b")).add_edge(START, "sub").compile()
    chunks = list(graph.stream({"trail": []}, stream_mode="tasks", subgraphs=True))
    assert all(chunk.get("error") is None for _, chunk in chunks)
    assert [chunk["name"] for ns, chunk in chunks if "result" in chunk and ns] == []


def test_resume_input_needs_a_checkpointer() -> None:
    graph = StateGraph(Trail).add_node("a", step("a")).add_edge(START, "a").compile()
    with pytest.raises(RuntimeError, match=r"Cannot use Command\(resume=\.\.\.\) without checkpointer"):
        graph.invoke(Command(resume="yes"))


def test_parent_command_input() -> None:
    graph = StateGraph(Trail).add_node("a", step("a")).add_edge(START, "a").compile()
    with pytest.raises(InvalidUpdateError, match="There is no parent graph"):
        graph.invoke(Command(graph=Command.PARENT, goto="a"))


def test_command_goto_input_continues_a_thread_with_checkpoints() -> None:
    graph = StateGraph(Trail).add_node("a", step("a")).add_node("b", step("b")).add_edge(START, "a")
    compiled = graph.compile(checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "t"}}
    assert compiled.invoke(Command(update={"trail": ["u"]}), config) == {"trail": ["u", "u", "a"]}
    assert compiled.invoke(Command(goto="b"), config) == {"trail": ["u", "u", "a", "b"]}
    assert compiled.invoke(Command(goto=Send("b", {"trail": []})), config) == {"trail": ["u", "u", "a", "b", "b"]}
    with pytest.raises(InvalidGraphError, match="names no node"):
        compiled.invoke(Command(goto="nowhere"), config)


def test_goto_input_runs_beside_start_edges() -> None:
    graph = StateGraph(Trail).add_node("a", step("a")).add_node("b", step("b")).add_edge(START, "a").compile()
    assert sorted(graph.invoke(Command(goto="b"))["trail"]) == ["a", "b"]


def test_destinations_are_accepted() -> None:
    def a(state: Trail) -> Command[str]:
        return Command(goto="b")

    builder = StateGraph(Trail).add_node("a", a, destinations=("b",)).add_node("b", step("b"))
    assert builder.add_edge(START, "a").compile().invoke({"trail": []}) == {"trail": ["b"]}


def test_destinations_must_be_nodes() -> None:
    builder = (
        StateGraph(Trail).add_node("a", step("a"), destinations={"b": "yes", "gone": "no"}).add_node("b", step("b"))
    )
    with pytest.raises(
        InvalidGraphError, match=r"Found edge ending at unknown node `gone` \(a Command of node 'a' \(its destinations"
    ):
        builder.add_edge(START, "a").compile()


def test_return_annotation_names_destinations() -> None:
    def a(state: Trail) -> Command[Literal["b", "__end__"]]:
        return Command(goto="b")

    def lost(state: Trail) -> Command[Literal["nowhere"]] | None:
        return None

    builder = StateGraph(Trail).add_node("a", a).add_node("b", step("b")).add_edge(START, "a")
    assert builder.compile().invoke({"trail": []}) == {"trail": ["b"]}
    with pytest.raises(InvalidGraphError, match="unknown node `nowhere`"):
        builder.add_node("lost", lost).compile()


def test_repr_shows_truthy_fields() -> None:
    assert repr(Command()) == "Command()"
    assert repr(Command(goto=Send("b", 1), resume=0)) == "Command(goto=Send(node='b', arg=1))"
    assert repr(Command(graph=Command.PARENT, update={"a": 1})) == "Command(graph='__parent__', update={'a': 1})"


class Who(MessagesState):
    who: str


def test_tool_parent_commands_with_sends_are_merged() -> None:
    """ToolNode merges the tools' ``Command(graph=PARENT, goto=[Send...])`` into one, last, as LangGraph."""

    @tool
    def fan(n: int) -> Command[str]:
        """Fan out."""
        return Command(graph=Command.PARENT, goto=[Send("worker", n)])

    node = ToolNode([fan])
    calls = [ToolCall(name="fan", args={"n": i}, id=f"c{i}", type="tool_call") for i in (1, 2)]
    out = _run_tool_node(node, {"messages": [AIMessage("", tool_calls=calls)], "who": ""})
    assert out == [Command(graph=Command.PARENT, goto=[Send("worker", 1), Send("worker", 2)])]


def test_tool_command_gets_the_tool_name_on_its_message() -> None:
    @tool
    def name_me(x: int) -> Command[str]:
        """Name me."""
        return Command(update={"messages": [ToolMessage("ok", tool_call_id="c1")], "who": "me"})

    node = ToolNode([name_me])
    calls = [ToolCall(name="name_me", args={"x": 1}, id="c1", type="tool_call")]
    (command,) = _run_tool_node(node, {"messages": [AIMessage("", tool_calls=calls)], "who": ""})
    assert command.update["messages"][0].name == "name_me"
    assert command.update["who"] == "me"


def _run_tool_node(node: ToolNode, state: dict[str, Any]) -> Any:
    """What ``node`` returns for ``state``, run as the only node of a graph (its return value is the update)."""
    captured: list[Any] = []

    async def wrapper(s: Who) -> None:
        captured.append(await node(s))

    StateGraph(Who).add_node("tools", wrapper).add_edge(START, "tools").compile().invoke(state)
    return captured[0]
