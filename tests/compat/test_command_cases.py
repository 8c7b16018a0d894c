"""Differential cases for ``Command`` returned by nodes and tools and given as a run's input, without a
checkpointer, after LangGraph's own tests (libs/langgraph/tests/test_pregel.py and test_pregel_async.py:
``test_graph_validation_with_command``, ``test_send_sequences``, ``test_root_mixed_return``,
``test_dict_mixed_return``, ``test_command_pydantic_dataclass`` (its dataclass half),
``test_multiple_updates_root``, ``test_multiple_updates``, ``test_stream_mode_messages_command``,
``test_node_destinations`` (the run, not the drawing) and ``test_stream_messages_dedupe_inputs``), written
anew, plus the chunks of the other stream modes for the same shapes. Each case runs on both libraries (sync
and async, and again with async nodes) and expects the same normalised outcome, as in
``test_pregel_cases.py``."""

import operator
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypedDict

import pytest

from .conftest import Lib, normalise, reference
from .test_pregel_cases import Run, with_async_nodes


class FooBar(TypedDict):
    foo: str
    bar: str


class Added(TypedDict):
    foo: Annotated[str, operator.add]


@dataclass
class DataclassState:
    foo: str


# --- graphs -------------------------------------------------------------------------------------------------


def validation_with_command(lib: Lib) -> Any:
    def node_a(state: FooBar) -> Any:
        return lib.Command(goto="b", update={"foo": "bar"})

    def node_b(state: FooBar) -> Any:
        return lib.Command(goto=lib.END, update={"bar": "baz"})

    builder = lib.StateGraph(FooBar)
    builder.add_node("a", node_a)
    builder.add_node("b", node_b)
    builder.add_edge(lib.START, "a")
    return builder.compile()


def send_sequences(lib: Lib) -> Any:
    class Node:
        def __init__(self, name: str) -> None:
            self.name = name
            self.__name__ = name

        def __call__(self, state: Any) -> Any:
            update = [self.name] if isinstance(state, list) else [f"{self.name}|{state}"]
            if isinstance(state, lib.Command):
                return [state, lib.Command(update=update)]
            return update

    def send_for_fun(state: Any) -> Any:
        return [
            lib.Send("2", lib.Command(goto=lib.Send("2", 3))),
            lib.Send("2", lib.Command(goto=lib.Send("2", 4))),
            "3.1",
        ]

    def route_to_three(state: Any) -> Any:
        return "3"

    builder = lib.StateGraph(Annotated[list, operator.add])
    for name in ("1", "2", "3", "3.1"):
        builder.add_node(name, Node(name))
    builder.add_edge(lib.START, "1")
    builder.add_conditional_edges("1", send_for_fun)
    builder.add_conditional_edges("2", route_to_three)
    return builder.compile()


def root_mixed_return(lib: Lib) -> Any:
    def my_node(state: list[str]) -> Any:
        return [lib.Command(update=["a"]), ["b"]]

    builder = lib.StateGraph(Annotated[list[str], operator.add])
    builder.add_node("my_node", my_node)
    builder.add_edge(lib.START, "my_node")
    return builder.compile()


def dict_mixed_return(lib: Lib) -> Any:
    def my_node(state: Added) -> Any:
        return [lib.Command(update={"foo": "a"}), {"foo": "b"}]

    builder = lib.StateGraph(Added)
    builder.add_node("my_node", my_node)
    builder.add_edge(lib.START, "my_node")
    return builder.compile()


def dataclass_update(lib: Lib) -> Any:
    def node_a(state: DataclassState) -> Any:
        return lib.Command(update=DataclassState(foo="foo"), goto="node_b")

    def node_b(state: DataclassState) -> Any:
        return {"foo": state.foo + "bar"}

    builder = lib.StateGraph(DataclassState)
    builder.add_edge(lib.START, "node_a")
    builder.add_node("node_a", node_a)
    builder.add_node("node_b", node_b)
    return builder.compile()


def multiple_updates(lib: Lib, *, root: bool) -> Any:
    def node_a(state: Any) -> Any:
        if root:
            return [lib.Command(update="a1"), lib.Command(update="a2")]
        return [lib.Command(update={"foo": "a1"}), lib.Command(update={"foo": "a2"})]

    def node_b(state: Any) -> Any:
        return "b" if root else {"foo": "b"}

    builder = lib.StateGraph(Annotated[str, operator.add] if root else Added)
    builder.add_node("node_a", node_a)
    builder.add_node("node_b", node_b)
    builder.add_edge(lib.START, "node_a")
    builder.add_edge("node_a", "node_b")
    return builder.compile()


def messages_command(lib: Lib) -> Any:
    def my_node(state: Any) -> Any:
        return {"messages": lib.HumanMessage(content="foo", id="m1")}

    def my_other_node(state: Any) -> Any:
        return lib.Command(update={"messages": lib.HumanMessage(content="bar", id="m2")})

    def my_last_node(state: Any) -> Any:
        return [lib.Command(update={"messages": lib.HumanMessage(content="baz", id="m3")})]

    builder = lib.StateGraph(lib.MessagesState)
    builder.add_node("my_node", my_node)
    builder.add_node("my_other_node", my_other_node)
    builder.add_node("my_last_node", my_last_node)
    builder.add_edge(lib.START, "my_node")
    builder.add_edge("my_node", "my_other_node")
    builder.add_edge("my_other_node", "my_last_node")
    return builder.compile()


def messages_in_several_commands(lib: Lib, *, pairs: bool = False) -> Any:
    def two(state: Any) -> Any:
        return [
            lib.Command(update={"messages": lib.HumanMessage(content="one", id="m1")}),
            lib.Command(update={"messages": [lib.HumanMessage(content="two", id="m2")]}, goto="last"),
        ]

    def last(state: Any) -> Any:
        three = lib.HumanMessage(content="three", id="m3")
        return lib.Command(update=[("messages", three)] if pairs else {"messages": three})

    builder = lib.StateGraph(lib.MessagesState)
    builder.add_node("two", two)
    builder.add_node("last", last)
    builder.add_edge(lib.START, "two")
    return builder.compile()


def node_destinations(lib: Lib, *, call: bool) -> Any:
    def node_a(state: Added) -> Any:
        goto = "node_b" if state["foo"] == "a" else "node_c"
        return lib.Command(update={"foo": state["foo"]}, goto=goto, graph=lib.Command.PARENT)

    sub = lib.StateGraph(Added)
    sub.add_node("node_a", node_a)
    sub.add_edge(lib.START, "node_a")
    subgraph = sub.compile()

    def call_subgraph(state: Added) -> Any:
        return subgraph.invoke(state)

    def node_b(state: Added) -> Any:
        return {"foo": "b"}

    def node_c(state: Added) -> Any:
        return {"foo": "c"}

    builder = lib.StateGraph(Added)
    builder.add_edge(lib.START, "child")
    builder.add_node("child", call_subgraph if call else subgraph, destinations=("node_b", "node_c"))
    builder.add_node("node_b", node_b)
    builder.add_node("node_c", node_c)
    return builder.compile()


class Items(TypedDict):
    items: Annotated[list[str], operator.add]


def parent_goto_sends(lib: Lib) -> Any:
    """A subgraph node sends the parent graph two ``Send``s and a node name, with an update."""

    def inner(state: Items) -> Any:
        goto = [lib.Send("w", {"items": ["x"]}), lib.Send("w", {"items": ["y"]}), "b"]
        return lib.Command(update={"items": ["i"]}, goto=goto, graph=lib.Command.PARENT)

    def w(state: Items) -> Any:
        return {"items": ["w" + state["items"][0]]}

    def b(state: Items) -> Any:
        return {"items": ["b"]}

    sub = lib.StateGraph(Items)
    sub.add_node("inner", inner)
    sub.add_edge(lib.START, "inner")
    builder = lib.StateGraph(Items)
    builder.add_node("child", sub.compile())
    builder.add_node("w", w)
    builder.add_node("b", b)
    builder.add_edge(lib.START, "child")
    return builder.compile()


def parent_command_beside_a_sibling(lib: Lib) -> Any:
    """A subgraph step of two nodes, one handing a Command to the parent: the other still finishes."""

    def hands_up(state: Items) -> Any:
        return lib.Command(update={"items": ["up"]}, goto="b", graph=lib.Command.PARENT)

    def sibling(state: Items) -> Any:
        return {"items": ["sibling"]}

    def b(state: Items) -> Any:
        return {"items": ["b"]}

    sub = lib.StateGraph(Items)
    sub.add_node("hands_up", hands_up)
    sub.add_node("sibling", sibling)
    sub.add_edge(lib.START, "hands_up")
    sub.add_edge(lib.START, "sibling")
    builder = lib.StateGraph(Items)
    builder.add_node("child", sub.compile())
    builder.add_node("b", b)
    builder.add_edge(lib.START, "child")
    return builder.compile()


def unknown_destination(lib: Lib, *, annotated: bool) -> Any:
    def a(state: FooBar) -> lib.Command[Literal["b", "ghost"]]:  # type: ignore[name-defined]
        return lib.Command(goto="b")

    def b(state: FooBar) -> Any:
        return {"bar": "b"}

    builder = lib.StateGraph(FooBar)
    if annotated:
        builder.add_node("a", a)
    else:
        builder.add_node("a", lambda state: lib.Command(goto="b"), destinations=("b", "ghost"))
    builder.add_node("b", b)
    builder.add_edge(lib.START, "a")
    return builder.compile()


def messages_dedupe_inputs(lib: Lib) -> Any:
    def call_model(state: Any) -> Any:
        return {"messages": lib.AIMessage("hi", id="1")}

    def route(state: Any) -> Any:
        return lib.Command(goto="node_2", graph=lib.Command.PARENT)

    def node_2(state: Any) -> Any:
        return state

    sub = lib.StateGraph(lib.MessagesState)
    sub.add_node("call_model", call_model)
    sub.add_node("route", route)
    sub.add_edge(lib.START, "call_model")
    sub.add_edge("call_model", "route")
    builder = lib.StateGraph(lib.MessagesState)
    builder.add_node("node_1", sub.compile())
    builder.add_node("node_2", node_2)
    builder.add_edge(lib.START, "node_1")
    return builder.compile()


def goto_shapes(lib: Lib) -> Any:
    """goto only, goto with an update written twice, a list mixing a name and a Send, and END."""

    def a(state: Added) -> Any:
        return lib.Command(goto="b")

    def b(state: Added) -> Any:
        return lib.Command(update=[("foo", "x"), ("foo", "y")], goto=["c", lib.Send("c", {"foo": "z"})])

    def c(state: Added) -> Any:
        return lib.Command(update={"foo": "c"}, goto=lib.END)

    builder = lib.StateGraph(Added)
    builder.add_node("a", a)
    builder.add_node("b", b)
    builder.add_node("c", c)
    builder.add_edge(lib.START, "a")
    return builder.compile()


def goto_beside_edges(lib: Lib) -> Any:
    """A goto adds to the static edges: both targets run in the next step."""

    def a(state: Added) -> Any:
        return lib.Command(update={"foo": "a"}, goto="c")

    def b(state: Added) -> Any:
        return {"foo": "b"}

    def c(state: Added) -> Any:
        return {"foo": "c"}

    builder = lib.StateGraph(Added)
    builder.add_node("a", a)
    builder.add_node("b", b)
    builder.add_node("c", c)
    builder.add_edge(lib.START, "a")
    builder.add_edge("a", "b")
    return builder.compile()


def node_returns_send(lib: Lib) -> Any:
    def a(state: Added) -> Any:
        return lib.Send("b", {"foo": "s"})

    def b(state: Added) -> Any:
        return {"foo": "b" + state["foo"]}

    builder = lib.StateGraph(Added)
    builder.add_node("a", a)
    builder.add_node("b", b)
    builder.add_edge(lib.START, "a")
    return builder.compile()


def two_nodes(lib: Lib, checkpointer: Any = None) -> Any:
    def a(state: Added) -> Any:
        return {"foo": "a"}

    def b(state: Added) -> Any:
        return {"foo": "b"}

    builder = lib.StateGraph(Added)
    builder.add_node("a", a)
    builder.add_node("b", b)
    builder.add_edge(lib.START, "a")
    return builder.compile(checkpointer=checkpointer)


def root_parent(lib: Lib) -> Any:
    def a(state: Added) -> Any:
        return lib.Command(update={"foo": "p"}, goto="x", graph=lib.Command.PARENT)

    builder = lib.StateGraph(Added)
    builder.add_node("a", a)
    builder.add_edge(lib.START, "a")
    return builder.compile()


def bad_goto(lib: Lib) -> Any:
    def a(state: Added) -> Any:
        return lib.Command(goto="nowhere")

    builder = lib.StateGraph(Added)
    builder.add_node("a", a)
    builder.add_edge(lib.START, "a")
    return builder.compile()


def unknown_update_key(lib: Lib) -> Any:
    def a(state: Added) -> Any:
        return lib.Command(update={"zzz": 1})

    builder = lib.StateGraph(Added)
    builder.add_node("a", a)
    builder.add_edge(lib.START, "a")
    return builder.compile()


def same_key_twice(lib: Lib) -> Any:
    def a(state: FooBar) -> Any:
        return lib.Command(update=[("bar", "x"), ("bar", "y")])

    builder = lib.StateGraph(FooBar)
    builder.add_node("a", a)
    builder.add_edge(lib.START, "a")
    return builder.compile()


class WhoState(TypedDict):
    messages: Annotated[list[Any], Any]
    who: str


def tool_command(lib: Lib) -> Any:
    """A tool returns a Command (an update with its ToolMessage, and a goto) beside a plain tool."""

    @lib.tool  # type: ignore[untyped-decorator]
    def set_who(name: str) -> Any:
        """Set who is asking."""
        return lib.Command(update={"who": name, "messages": [lib.ToolMessage("done", tool_call_id="c1")]}, goto="after")

    @lib.tool  # type: ignore[untyped-decorator]
    def double(x: int) -> str:
        """Double x."""
        return str(x * 2)

    def model(state: Any) -> Any:
        calls = [
            {"name": "set_who", "args": {"name": "bob"}, "id": "c1", "type": "tool_call"},
            {"name": "double", "args": {"x": 2}, "id": "c2", "type": "tool_call"},
        ]
        return {"messages": [lib.AIMessage("", tool_calls=calls, id="ai1")]}

    def after(state: Any) -> Any:
        return {"who": state["who"] + "!"}

    class State(lib.MessagesState):  # type: ignore[name-defined,misc]
        who: str

    builder = lib.StateGraph(State)
    builder.add_node("model", model)
    builder.add_node("tools", lib.ToolNode([set_who, double]))
    builder.add_node("after", after)
    builder.add_edge(lib.START, "model")
    builder.add_edge("model", "tools")
    return builder.compile()


def tool_command_without_its_message(lib: Lib) -> Any:
    @lib.tool  # type: ignore[untyped-decorator]
    def set_who(name: str) -> Any:
        """Set who is asking."""
        return lib.Command(update={"who": name})

    def model(state: Any) -> Any:
        calls = [{"name": "set_who", "args": {"name": "bob"}, "id": "c1", "type": "tool_call"}]
        return {"messages": [lib.AIMessage("", tool_calls=calls, id="ai1")]}

    class State(lib.MessagesState):  # type: ignore[name-defined,misc]
        who: str

    builder = lib.StateGraph(State)
    builder.add_node("model", model)
    builder.add_node("tools", lib.ToolNode([set_who]))
    builder.add_edge(lib.START, "model")
    builder.add_edge("model", "tools")
    return builder.compile()


def tool_handoff(lib: Lib, *, with_add: bool) -> Any:
    """A handoff: a tool in the ``alice`` subgraph returns ``Command(graph=PARENT, goto="bob")`` with its
    ToolMessage (after LangGraph's ``test_tool_node_command``); beside it, a plain tool's message."""

    @lib.tool  # type: ignore[untyped-decorator]
    def transfer_to_bob(tool_call_id: Annotated[str, lib.InjectedToolCallId]) -> Any:
        """Transfer to Bob."""
        message = lib.ToolMessage(content="Transferred to Bob", tool_call_id=tool_call_id)
        return lib.Command(update={"messages": [message]}, goto="bob", graph=lib.Command.PARENT)

    @lib.tool  # type: ignore[untyped-decorator]
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    def model(state: Any) -> Any:
        calls = [{"args": {}, "id": "2", "name": "transfer_to_bob", "type": "tool_call"}]
        if with_add:
            calls.insert(0, {"args": {"a": 1, "b": 2}, "id": "1", "name": "add", "type": "tool_call"})
        return {"messages": [lib.AIMessage("", tool_calls=calls, id="ai1")]}

    def bob(state: Any) -> Any:
        return {"messages": [lib.AIMessage("Bob here", id="ai2")]}

    alice = lib.StateGraph(lib.MessagesState)
    alice.add_node("model", model)
    alice.add_node("tools", lib.ToolNode([add, transfer_to_bob]))
    alice.add_edge(lib.START, "model")
    alice.add_edge("model", "tools")
    builder = lib.StateGraph(lib.MessagesState)
    builder.add_node("alice", alice.compile())
    builder.add_node("bob", bob)
    builder.add_edge(lib.START, "alice")
    return builder.compile()


# --- cases --------------------------------------------------------------------------------------------------

ALL_MODES = {"stream_mode": ["values", "updates", "tasks"]}
UNKNOWN_GOTO = pytest.mark.differs(
    "deliberate: a Command(goto=...) naming no node raises InvalidGraphError; LangGraph logs a warning and "
    "ignores the target"
)
UNKNOWN_KEY = pytest.mark.differs(
    "deliberate (README): a Command update key outside the state schema raises InvalidUpdateError; LangGraph drops it"
)

CASES = [
    pytest.param(Run(validation_with_command, {"foo": ""}, "invoke"), id="validation-with-command"),
    pytest.param(Run(validation_with_command, {"foo": ""}, kwargs=ALL_MODES), id="validation-with-command-modes"),
    pytest.param(Run(send_sequences, ["0"], "invoke"), id="send-sequences"),
    pytest.param(Run(root_mixed_return, [], "invoke"), id="root-mixed-return"),
    pytest.param(Run(root_mixed_return, [], kwargs=ALL_MODES), id="root-mixed-return-modes"),
    pytest.param(Run(dict_mixed_return, {"foo": ""}, "invoke"), id="dict-mixed-return"),
    pytest.param(Run(dict_mixed_return, {"foo": ""}, kwargs=ALL_MODES), id="dict-mixed-return-modes"),
    pytest.param(Run(dataclass_update, DataclassState(foo=""), "invoke"), id="command-dataclass-update"),
    pytest.param(Run(lambda lib: multiple_updates(lib, root=True), "", "invoke"), id="multiple-updates-root"),
    pytest.param(
        Run(lambda lib: multiple_updates(lib, root=True), "", kwargs={"stream_mode": "updates"}),
        id="multiple-updates-root-updates",
    ),
    pytest.param(
        Run(lambda lib: multiple_updates(lib, root=True), "", kwargs={"stream_mode": "debug"}),
        id="multiple-updates-root-debug",
    ),
    pytest.param(Run(lambda lib: multiple_updates(lib, root=False), {"foo": ""}, "invoke"), id="multiple-updates"),
    pytest.param(
        Run(lambda lib: multiple_updates(lib, root=False), {"foo": ""}, kwargs={"stream_mode": "updates"}),
        id="multiple-updates-updates",
    ),
    pytest.param(
        Run(lambda lib: multiple_updates(lib, root=False), {"foo": ""}, kwargs={"stream_mode": "tasks"}),
        id="multiple-updates-tasks",
    ),
    pytest.param(
        Run(messages_command, {"messages": []}, kwargs={"stream_mode": "messages"}), id="stream-mode-messages-command"
    ),
    pytest.param(
        Run(messages_in_several_commands, {"messages": []}, kwargs={"stream_mode": "messages"}),
        id="messages-in-several-commands",
    ),
    pytest.param(
        Run(messages_in_several_commands, {"messages": []}, kwargs={"stream_mode": "updates"}),
        id="messages-in-several-commands-updates",
    ),
    pytest.param(
        Run(
            lambda lib: messages_in_several_commands(lib, pairs=True),
            {"messages": []},
            kwargs={"stream_mode": "messages"},
        ),
        id="messages-of-a-pairs-update",
    ),
    pytest.param(
        Run(lambda lib: node_destinations(lib, call=False), {"foo": ""}, "invoke"), id="node-destinations-subgraph"
    ),
    pytest.param(
        Run(
            lambda lib: node_destinations(lib, call=False),
            {"foo": "a"},
            kwargs={"stream_mode": ["updates", "tasks"], "subgraphs": True},
        ),
        id="node-destinations-subgraph-modes",
    ),
    pytest.param(
        Run(lambda lib: node_destinations(lib, call=True), {"foo": ""}, "invoke", sync_calls=True),
        id="node-destinations-invoked-subgraph",
    ),
    pytest.param(
        Run(
            lambda lib: node_destinations(lib, call=True),
            {"foo": "a"},
            kwargs={"stream_mode": ["updates", "values"], "subgraphs": True},
            sync_calls=True,
        ),
        id="node-destinations-invoked-subgraph-modes",
    ),
    pytest.param(Run(parent_goto_sends, {"items": []}, "invoke"), id="parent-goto-sends"),
    pytest.param(
        Run(
            parent_goto_sends,
            {"items": []},
            kwargs={"stream_mode": ["updates", "tasks", "values"], "subgraphs": True},
            ordered=False,
        ),
        id="parent-goto-sends-modes",
    ),
    pytest.param(
        Run(parent_command_beside_a_sibling, {"items": []}, kwargs={"stream_mode": "updates", "subgraphs": True}),
        id="parent-command-beside-a-sibling",
    ),
    pytest.param(
        Run(parent_command_beside_a_sibling, {"items": []}, "invoke"), id="parent-command-beside-a-sibling-invoke"
    ),
    pytest.param(
        Run(lambda lib: unknown_destination(lib, annotated=False), {"foo": ""}, raises=("ValueError", "unknown node")),
        id="unknown-destination",
    ),
    pytest.param(
        Run(lambda lib: unknown_destination(lib, annotated=True), {"foo": ""}, raises=("ValueError", "unknown node")),
        id="unknown-destination-in-the-return-annotation",
    ),
    pytest.param(
        Run(messages_dedupe_inputs, {"messages": "hi"}, kwargs={"stream_mode": "messages", "subgraphs": True}),
        id="stream-messages-dedupe-inputs",
    ),
    pytest.param(Run(goto_shapes, {"foo": ""}, "invoke"), id="goto-shapes"),
    pytest.param(
        Run(goto_shapes, {"foo": ""}, kwargs={"stream_mode": ["updates", "tasks"]}, ordered=False),
        id="goto-shapes-modes",
    ),
    pytest.param(Run(goto_shapes, {"foo": ""}, kwargs={"stream_mode": "updates"}), id="goto-only-updates"),
    pytest.param(
        Run(node_returns_send, {"foo": ""}, kwargs={"stream_mode": ["updates", "values"]}), id="node-returns-send"
    ),
    pytest.param(Run(goto_beside_edges, {"foo": ""}, kwargs={"stream_mode": "values"}), id="goto-beside-edges"),
    pytest.param(
        Run(two_nodes, "COMMAND:goto", kwargs={"stream_mode": ["values", "updates"]}, ordered=False),
        id="command-input-goto",
    ),
    pytest.param(
        Run(two_nodes, "COMMAND:update", kwargs={"stream_mode": ["values", "updates"]}), id="command-input-update"
    ),
    pytest.param(
        Run(two_nodes, "COMMAND:send", kwargs={"stream_mode": ["values", "updates"]}, ordered=False),
        id="command-input-send",
    ),
    pytest.param(
        Run(
            lambda lib: two_nodes(lib, checkpointer=lib.InMemorySaver()),
            "COMMAND:send",
            kwargs={"stream_mode": ["values", "updates"]},
            config={"configurable": {"thread_id": "new"}},
            ordered=False,
        ),
        id="command-input-on-a-new-thread",
    ),
    pytest.param(
        Run(two_nodes, "COMMAND:resume", raises=("RuntimeError", r"Cannot use Command\(resume=\.\.\.\) without")),
        id="command-input-resume-without-checkpointer",
    ),
    pytest.param(
        Run(two_nodes, "COMMAND:parent", raises=("InvalidUpdateError", "There is no parent graph")),
        id="command-input-parent",
    ),
    pytest.param(
        Run(
            root_parent, {"foo": ""}, "invoke", raises=("ParentCommand", r"Command\(update=\{'foo': 'p'\}, goto='x'\)")
        ),
        id="root-node-command-parent",
    ),
    pytest.param(
        Run(
            same_key_twice,
            {"foo": ""},
            "invoke",
            raises=("InvalidUpdateError", "At key 'bar': Can receive only one value per step"),
        ),
        id="same-key-twice",
    ),
    pytest.param(Run(bad_goto, {"foo": ""}, "invoke"), id="goto-unknown-node", marks=UNKNOWN_GOTO),
    pytest.param(Run(unknown_update_key, {"foo": ""}, "invoke"), id="command-unknown-key", marks=UNKNOWN_KEY),
    pytest.param(
        Run(tool_command, {"messages": [], "who": ""}, kwargs={"stream_mode": "updates"}), id="tool-command-updates"
    ),
    pytest.param(Run(tool_command, {"messages": [], "who": ""}, "invoke"), id="tool-command-invoke"),
    pytest.param(
        Run(lambda lib: tool_handoff(lib, with_add=False), {"messages": []}, "invoke"), id="tool-handoff-to-parent"
    ),
    pytest.param(
        Run(
            lambda lib: tool_handoff(lib, with_add=True),
            {"messages": []},
            kwargs={"stream_mode": "updates", "subgraphs": True},
        ),
        id="tool-handoff-beside-a-plain-tool",
    ),
    pytest.param(
        Run(
            lambda lib: tool_handoff(lib, with_add=True),
            {"messages": []},
            kwargs={"stream_mode": "messages", "subgraphs": True},
        ),
        id="tool-handoff-beside-a-plain-tool-messages",
    ),
    pytest.param(
        Run(
            tool_command_without_its_message,
            {"messages": [], "who": ""},
            "invoke",
            raises=("ValueError", "Expected to have a matching ToolMessage in Command.update for tool 'set_who'"),
        ),
        id="tool-command-without-its-message",
    ),
]


def command_input(lib: Lib, kind: str) -> Any:
    """The ``Command`` a case's ``"COMMAND:<kind>"`` input stands for, from ``lib``."""
    return {
        "goto": lib.Command(goto="b"),
        "update": lib.Command(update={"foo": "u"}),
        "send": lib.Command(update={"foo": "u"}, goto=lib.Send("b", {"foo": "s"})),
        "resume": lib.Command(resume="yes"),
        "parent": lib.Command(graph=lib.Command.PARENT, goto="b"),
    }[kind]


def resolved(case: Run, lib: Lib) -> Run:
    """``case`` with a ``"COMMAND:<kind>"`` input made into ``lib``'s Command."""
    if isinstance(case.input, str) and case.input.startswith("COMMAND:"):
        return Run(**{**vars(case), "input": command_input(lib, case.input.partition(":")[2])})
    return case


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "command_case" in metafunc.fixturenames:
        async_nodes = metafunc.function.__name__ == "test_async_nodes"
        cases = [case for case in CASES if not (async_nodes and getattr(case.values[0], "sync_calls", False))]
        metafunc.parametrize("command_case", cases)


def test_sync(lib: Lib, command_case: Run) -> None:
    langgraph = reference()
    expected = resolved(command_case, langgraph).outcome(langgraph)
    command_case.check_reference(expected)
    assert resolved(command_case, lib).outcome(lib) == expected


@pytest.mark.anyio
async def test_async(lib: Lib, command_case: Run) -> None:
    langgraph = reference()
    expected = await resolved(command_case, langgraph).aoutcome(langgraph)
    command_case.check_reference(expected)
    assert await resolved(command_case, lib).aoutcome(lib) == expected


@pytest.mark.anyio
async def test_async_nodes(lib: Lib, command_case: Run) -> None:
    """The same case with async nodes (LangGraph's async tests), run with ``astream``/``ainvoke``."""
    langgraph = with_async_nodes(reference())
    expected = await resolved(command_case, langgraph).aoutcome(langgraph)
    command_case.check_reference(expected)
    ours = with_async_nodes(lib)
    assert await resolved(command_case, ours).aoutcome(ours) == expected


REPRS = [
    {},
    {"goto": "b"},
    {"update": {"foo": 1}, "goto": ["b", "c"]},
    {"graph": "__parent__", "update": [("foo", 1)], "resume": 0},
    {"resume": {"id": "yes"}, "goto": []},
]


@pytest.mark.parametrize("fields", REPRS, ids=[str(i) for i in range(len(REPRS))])
def test_command_repr_and_equality(lib: Lib, fields: dict[str, Any]) -> None:
    """``repr`` shows the truthy fields in LangGraph's order; equal fields make equal commands."""
    theirs = reference().Command(**fields)
    ours = lib.Command(**fields)
    assert repr(ours) == repr(theirs)
    assert ours == lib.Command(**fields)
    assert lib.Command.PARENT == "__parent__"


@pytest.mark.parametrize(
    "update",
    [None, {"a": 1}, [("a", 1), ("a", 2)], ["not", "pairs"], "root value", DataclassState(foo="x")],
    ids=["none", "dict", "pairs", "list", "value", "dataclass"],
)
def test_update_as_tuples(lib: Lib, update: Any) -> None:
    """``_update_as_tuples`` reads an update as LangGraph's does (used by code that inspects commands)."""
    theirs = list(reference().Command(update=update)._update_as_tuples())
    assert list(lib.Command(update=update)._update_as_tuples()) == theirs


@pytest.mark.anyio
async def test_astream_events_of_a_command_node(lib: Lib) -> None:
    graph = validation_with_command(lib)
    seen = [
        (event["event"], event["data"])
        async for event in graph.astream_events({"foo": ""}, version="v2")
        if event["event"] in ("on_chain_stream", "on_chain_end") and event["name"] == "a"
    ]
    command = lib.Command(update={"foo": "bar"}, goto="b")
    assert seen == [
        ("on_chain_stream", {"chunk": command}),
        ("on_chain_end", {"output": command, "input": {"foo": ""}}),
    ]


@pytest.mark.anyio
async def test_astream_events_of_a_handoff_to_the_parent(lib: Lib) -> None:
    """A tool in the ``alice`` subgraph hands off with ``Command.PARENT``: ``alice``'s own run shows no
    output (in LangGraph it ends with the command as an error), the root's ``on_chain_stream`` has its update."""
    graph = tool_handoff(lib, with_add=False)
    seen = [
        (event["event"], event["name"], normalise(event["data"].get("chunk", event["data"].get("output"))))
        async for event in graph.astream_events({"messages": []}, version="v2")
        if event["event"] in ("on_chain_stream", "on_chain_end") and event["name"] in ("alice", "tools", "bob")
    ]
    reference_graph = tool_handoff(reference(), with_add=False)
    expected = [
        (event["event"], event["name"], normalise(event["data"].get("chunk", event["data"].get("output"))))
        async for event in reference_graph.astream_events({"messages": []}, version="v2")
        if event["event"] in ("on_chain_stream", "on_chain_end") and event["name"] in ("alice", "tools", "bob")
    ]
    assert seen == expected
