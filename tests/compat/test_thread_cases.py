"""Threads of graphs compiled with a checkpointer, on LangGraph and on streamflow, each with its own in-memory
saver: the same results, chunks, states and histories once normalised (ids become ``<idN>`` or
``<volatile>``, see :func:`tests.compat.conftest.normalise`).

After LangGraph's ``test_multistep_plan``, ``test_update_as_input`` (the runs and their history),
``test_multiple_subgraphs_checkpointer``, ``test_parent_command_goto_deeply_nested``, ``test_parent_command_goto``,
``test_timeout_with_parent_command`` (without a timeout), ``test_multiple_writes_same_channel_from_same_node``,
``test_parent_command``, ``test_stream_messages_dedupe_state``, the runs with a checkpointer of the
``test_in_one_fan_out_state_graph_*`` tests, and the async ``test_send_sequences``, ``test_send_dedupe_on_resume``,
``test_send_react_interrupt(_control)``, ``test_max_concurrency(_control)``,
``test_checkpointer_null_pending_writes``, ``test_fork_does_not_apply_pending_writes``,
``test_cancel_graph_astream(_events_v2)`` and ``test_checkpoint_put_after_cancellation*``; the rest is listed in
``REVIEW.md``. Each case runs twice, through ``invoke``/``stream`` and through ``ainvoke``/``astream``, unless
it is async only."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import operator
from collections.abc import Callable
from typing import Annotated, Any, TypedDict

import pytest

from .conftest import Lib, normalise, reference
from .test_checkpointer_cases import snap
from .test_interrupt_cases import driven, mode  # noqa: F401 (``mode`` runs each case sync and async)

THREAD = {"configurable": {"thread_id": "1"}}


def both(lib: Lib, scenario: Callable[[Lib, Any], Any]) -> tuple[Any, Any]:
    """The normalised outputs of ``scenario`` on ``lib`` and on LangGraph, each with a new in-memory saver."""
    langgraph = reference()
    expected = normalise(scenario(langgraph, langgraph.InMemorySaver()))
    got = normalise(scenario(lib, lib.InMemorySaver()))
    return got, expected


def history_of(graph: Any, config: Any) -> list[dict[str, Any]]:
    """Each snapshot of the thread, newest first: its values, next nodes, step and task names and results."""
    return [
        {
            "values": snapshot.values,
            "next": snapshot.next,
            "step": snapshot.metadata.get("step"),
            "tasks": [(task.name, task.result) for task in snapshot.tasks],
        }
        for snapshot in graph.get_state_history(config)
    ]


@pytest.mark.differs(
    "deliberate (README): a history snapshot's task result keeps the tuple a node wrote (('human', 'step1')); "
    "LangGraph's saved writes come back from its serializer as lists (['human', 'step1'])"
)
def test_multistep_plan(lib: Lib) -> None:
    """A planner hands out a plan's steps one ``Command(goto=...)`` at a time, a list of steps in parallel."""

    def scenario(lib: Lib, saver: Any) -> Any:
        State = TypedDict(  # noqa: UP013 (the reducer comes from ``lib``)
            "State", {"plan": list[Any], "messages": Annotated[list[Any], lib.add_messages]}, total=False
        )

        def planner(state: Any) -> Any:
            if state.get("plan") is None:
                first, *rest = ["step1", ["step2", "step3"], "step4"]
                return lib.Command(goto=first, update={"plan": rest})
            if state["plan"]:
                first, *rest = state["plan"]
                return lib.Command(goto=first, update={"plan": rest})
            return None

        def step(name: str) -> Callable[[Any], Any]:
            def run(state: Any) -> Any:
                return lib.Command(goto="planner", update={"messages": [("human", name)]})

            return run

        builder = lib.StateGraph(State).add_node("planner", planner)
        for name in ("step1", "step2", "step3", "step4"):
            builder.add_node(name, step(name))
        graph = driven(builder.add_edge(lib.START, "planner").compile(checkpointer=saver))
        result = graph.invoke({"messages": [("human", "start")]}, THREAD)
        return result, history_of(graph, THREAD)

    got, expected = both(lib, scenario)
    assert got == expected


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
def test_update_as_input(lib: Lib, durability: str) -> None:
    """Two runs on one thread, and the history they leave (the ``bulk_update_state`` half is not here)."""

    class State(TypedDict):
        foo: str

    def scenario(lib: Lib, saver: Any) -> Any:
        graph = driven(
            lib.StateGraph(State)
            .add_node("agent", lambda state: {"foo": "agent"})
            .add_node("tool", lambda state: {"foo": "tool"})
            .add_edge(lib.START, "agent")
            .add_edge("agent", "tool")
            .compile(checkpointer=saver)
        )
        results = [graph.invoke({"foo": "input"}, THREAD, durability=durability) for _ in range(2)]
        return results, history_of(graph, THREAD)

    got, expected = both(lib, scenario)
    assert got == expected


def test_multiple_subgraphs_checkpointer(lib: Lib) -> None:
    """A node invokes a subgraph compiled with ``checkpointer=True`` (its counter carries over between runs of
    the thread) and one without; the ``subgraphs=True`` updates name each."""

    class Sub(TypedDict):
        sub_counter: Annotated[int, operator.add]

    class OtherSub(TypedDict):
        other_sub_counter: Annotated[int, operator.add]

    class Parent(TypedDict):
        parent_counter: int

    def scenario(lib: Lib, saver: Any) -> Any:
        first = (
            lib.StateGraph(Sub)
            .add_node("subgraph_node", lambda state: {"sub_counter": 2})
            .add_edge(lib.START, "subgraph_node")
            .compile(checkpointer=True)
        )
        second = (
            lib.StateGraph(OtherSub)
            .add_node("other_subgraph_node", lambda state: {"other_sub_counter": 3})
            .add_edge(lib.START, "other_subgraph_node")
            .compile()
        )

        def parent_node(state: Parent) -> Any:
            result = first.invoke({"sub_counter": state["parent_counter"]})
            other = second.invoke({"other_sub_counter": result["sub_counter"]})
            return {"parent_counter": other["other_sub_counter"]}

        graph = driven(
            lib.StateGraph(Parent)
            .add_node("parent_node", parent_node)
            .add_edge(lib.START, "parent_node")
            .compile(checkpointer=saver)
        )
        out: list[Any] = [graph.invoke({"parent_counter": 0}, THREAD) for _ in range(2)]
        thread2 = {"configurable": {"thread_id": "2"}}
        for _ in range(2):
            out.append(list(graph.stream({"parent_counter": 0}, thread2, subgraphs=True, stream_mode="updates")))
        return out

    got, expected = both(lib, scenario)
    assert got == expected


@pytest.mark.parametrize("subgraph_persist", [False, True])
def test_parent_command_goto_deeply_nested(lib: Lib, subgraph_persist: bool) -> None:
    """``Command.PARENT`` from a graph two levels down goes to a node of the graph one level up."""

    class State(TypedDict):
        dialog_state: Annotated[list[str], operator.add]

    def scenario(lib: Lib, saver: Any) -> Any:
        def deepest(state: State) -> Any:
            return lib.Command(graph=lib.Command.PARENT, goto="sub_child_3", update={"dialog_state": ["sub_sub_child"]})

        innermost = (
            lib.StateGraph(State)
            .add_node("sub_sub_child", deepest)
            .add_edge(lib.START, "sub_sub_child")
            .compile(name="sub_sub_graph", checkpointer=subgraph_persist)
        )
        middle = (
            lib.StateGraph(State)
            .add_node("sub_child_1", lambda state: {"dialog_state": ["sub_child_1"]})
            .add_node("sub_child_2", innermost, destinations=("sub_child_3",))
            .add_node("sub_child_3", lambda state: {"dialog_state": ["sub_child_3"]})
            .add_edge(lib.START, "sub_child_1")
            .add_edge("sub_child_1", "sub_child_2")
            .compile(name="sub_graph", checkpointer=subgraph_persist)
        )
        graph = driven(
            lib.StateGraph(State)
            .add_node("child_1", lambda state: {"dialog_state": ["child_1"]})
            .add_node("child_2", middle)
            .add_edge(lib.START, "child_1")
            .add_edge("child_1", "child_2")
            .compile(name="main_graph", checkpointer=saver)
        )
        config = {"configurable": {"thread_id": 1}}
        return graph.invoke({"dialog_state": ["init"]}, config), graph.get_state(config).values

    got, expected = both(lib, scenario)
    assert got == expected


def test_multiple_writes_same_channel_from_same_node(lib: Lib) -> None:
    """A node's ``Command(update=[...])`` writes one key twice: the updates, tasks chunks and history show both
    writes, in order, reduced."""

    class State(TypedDict):
        foo: Annotated[str, lambda a, b: ", ".join(x for x in (a, b) if x)]

    def scenario(lib: Lib, saver: Any) -> Any:
        graph = driven(
            lib.StateGraph(State)
            .add_node("one", lambda state: lib.Command(update=[("foo", "one.0"), ("foo", "one.1")]))
            .add_node("two", lambda state: {"foo": "two"})
            .add_edge(lib.START, "one")
            .add_edge("one", "two")
            .add_edge("two", lib.END)
            .compile(checkpointer=saver)
        )
        chunks = list(graph.stream({"foo": "input"}, THREAD, stream_mode=["updates", "tasks"]))
        return chunks, history_of(graph, THREAD)

    got, expected = both(lib, scenario)
    assert got == expected


@pytest.mark.parametrize("subgraph_persist", [False, True])
def test_parent_command(lib: Lib, subgraph_persist: bool) -> None:
    """A tool used as a subgraph's node returns ``Command(graph=Command.PARENT)`` that sets a key only the parent
    has; run with ``durability="exit"``, then the parent's state."""

    def scenario(lib: Lib, saver: Any) -> Any:
        @lib.tool(return_direct=True)  # type: ignore[untyped-decorator]
        def get_user_name() -> Any:
            """Retrieve user name"""
            return lib.Command(update={"user_name": "Meow"}, graph=lib.Command.PARENT)

        Parent = TypedDict(  # noqa: UP013 (the reducer comes from ``lib``)
            "Parent", {"messages": Annotated[list[Any], lib.add_messages], "user_name": str}
        )

        subgraph = (
            lib.StateGraph(lib.MessagesState)
            .add_node("tool", get_user_name)
            .add_edge(lib.START, "tool")
            .compile(checkpointer=subgraph_persist)
        )
        graph = driven(
            lib.StateGraph(Parent).add_node("alice", subgraph).add_edge(lib.START, "alice").compile(checkpointer=saver)
        )
        result = graph.invoke({"messages": [("user", "get user name")]}, THREAD, durability="exit")
        state = graph.get_state(THREAD)
        return result, state.values, state.next, state.metadata, state.parent_config, state.tasks

    got, expected = both(lib, scenario)
    assert got == expected


class Docs(TypedDict, total=False):
    query: str
    answer: str
    docs: Annotated[list[str], lambda left, right: sorted(left + right)]


def docs_builder(lib: Lib, shape: str) -> Any:
    """The retrieval graph of LangGraph's ``test_in_one_fan_out_state_graph_*`` tests: rewrite_query fans out
    to two retrievers (one behind analyzer_one) that join at qa. ``shape``: "waiting" (a waiting edge), "defer"
    and "defer-separate" (qa deferred, behind a waiting edge or two edges), "branch" (retriever_two reached by a
    conditional edge) or "plus-regular" (a waiting edge and an edge rewrite_query -> qa)."""
    builder = lib.StateGraph(Docs)
    builder.add_node("rewrite_query", lambda state: {"query": f"query: {state['query']}"})
    builder.add_node("analyzer_one", lambda state: {"query": f"analyzed: {state['query']}"})
    builder.add_node("retriever_one", lambda state: {"docs": ["doc1", "doc2"]})
    builder.add_node("retriever_two", lambda state: {"docs": ["doc3", "doc4"]})
    builder.add_node("qa", lambda state: {"answer": ",".join(state.get("docs", []))}, defer=shape.startswith("defer"))
    builder.set_entry_point("rewrite_query")
    if shape.startswith("defer"):
        builder.add_edge("rewrite_query", "retriever_one")
        builder.add_edge("retriever_one", "analyzer_one")
    else:
        builder.add_edge("rewrite_query", "analyzer_one")
        builder.add_edge("analyzer_one", "retriever_one")
    if shape == "branch":
        builder.add_conditional_edges("rewrite_query", lambda state: "retriever_two", ["retriever_two"])
    else:
        builder.add_edge("rewrite_query", "retriever_two")
    if shape == "defer-separate":
        builder.add_edge("retriever_one", "qa")
        builder.add_edge("retriever_two", "qa")
    else:
        builder.add_edge(["retriever_one", "retriever_two"], "qa")
    if shape == "plus-regular":
        builder.add_edge("rewrite_query", "qa")
    builder.set_finish_point("qa")
    return builder


def unordered(chunks: list[Any]) -> list[Any]:
    """``chunks`` sorted by repr: the retrievers run in parallel and finish in any order (on LangGraph too)."""
    return sorted(chunks, key=repr)


@pytest.mark.parametrize(
    ("shape", "after"),
    [
        pytest.param("waiting", "retriever_one", id="waiting-edge"),
        pytest.param("defer", "analyzer_one", id="defer-waiting-edge"),
        pytest.param("defer-separate", "analyzer_one", id="defer-separate-edges"),
        pytest.param("branch", "retriever_one", id="waiting-edge-via-branch"),
        pytest.param("plus-regular", "retriever_one", id="waiting-edge-plus-regular"),
    ],
)
def test_fan_out_breakpoint_after(lib: Lib, shape: str, after: str) -> None:
    """A breakpoint after one branch of the fan-out, then the run resumed with ``None``."""

    def scenario(lib: Lib, saver: Any) -> Any:
        graph = driven(docs_builder(lib, shape).compile(checkpointer=saver, interrupt_after=[after]))
        first = unordered(list(graph.stream({"query": "what is weather in sf"}, THREAD)))
        # not the history: LangGraph's own differs between invoke and ainvoke here (after a sync run its step-2
        # snapshot lists qa as next beside retriever_one)
        return first, list(graph.stream(None, THREAD)), snap(graph.get_state(THREAD))

    got, expected = both(lib, scenario)
    assert got == expected


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param("waiting", id="waiting-edge"),
        pytest.param("defer", id="defer-waiting-edge"),
        pytest.param("defer-separate", id="defer-separate-edges"),
    ],
)
def test_fan_out_update_before_join(lib: Lib, shape: str) -> None:
    """A breakpoint before qa, an ``update_state`` that adds a document, the snapshot, the resumed run's debug
    chunks."""

    def scenario(lib: Lib, saver: Any) -> Any:
        graph = driven(docs_builder(lib, shape).compile(checkpointer=saver, interrupt_before=["qa"]))
        out: list[Any] = [unordered(list(graph.stream({"query": "what is weather in sf"}, THREAD)))]
        out.append(graph.update_state(THREAD, {"docs": ["doc5"]}))
        out.append(snap(graph.get_state(THREAD)))
        out.append(list(graph.stream(None, THREAD, stream_mode="debug")))
        return out

    got, expected = both(lib, scenario)
    assert got == expected


class Appender:
    """A node of a list-state graph that appends its name (with the ``Send`` argument it got, if any); given a
    ``Command`` it returns that command with the append as its update. ``calls`` counts its runs."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.__name__ = name
        self.calls = 0

    def __call__(self, state: Any) -> Any:
        self.calls += 1
        update = [self.name] if isinstance(state, list) else [f"{self.name}|{state}"]
        if type(state).__name__ == "Command":
            return dataclasses.replace(state, update=update)
        return update


def send_sequence_builder(lib: Lib, flaky: bool) -> tuple[Any, dict[str, Appender]]:
    """Node 1 sends two ``Command``s to node 2 (each with a ``Send`` of its own) and goes to 3.1; node 2 goes to
    3. With ``flaky``, the second command sends to "flaky", which asks ``interrupt("Bahh")`` on its first run."""
    nodes = {name: Appender(name) for name in ("1", "2", "3", "3.1")}
    builder = lib.StateGraph(Annotated[list, operator.add])
    for node in nodes.values():
        builder.add_node(node)
    if flaky:
        runs = {"flaky": 0}

        def flaky_node(state: Any) -> Any:
            runs["flaky"] += 1
            if runs["flaky"] == 1:
                lib.interrupt("Bahh")
            return [f"flaky|{state}"]

        builder.add_node("flaky", flaky_node)
        nodes["flaky"] = runs  # type: ignore[assignment]
    second = "flaky" if flaky else "2"
    builder.add_edge(lib.START, "1")
    builder.add_conditional_edges(
        "1",
        lambda state: [
            lib.Send("2", lib.Command(goto=lib.Send("2", 3))),
            lib.Send("2", lib.Command(goto=lib.Send(second, 4))),
            "3.1",
        ],
    )
    builder.add_conditional_edges("2", lambda state: "3", ["3"])
    return builder, nodes


def test_send_sequences(lib: Lib) -> None:
    """``Send`` of a ``Command`` that sends again, on a list state: without a checkpointer, then stopped before
    3.1 and resumed."""

    def scenario(lib: Lib, saver: Any) -> Any:
        builder, _ = send_sequence_builder(lib, flaky=False)
        out: list[Any] = [driven(builder.compile()).invoke(["0"])]
        graph = driven(builder.compile(checkpointer=saver, interrupt_before=["3.1"]))
        out.append(graph.invoke(["0"], THREAD))
        out.append(graph.invoke(None, THREAD))
        return out

    got, expected = both(lib, scenario)
    assert got == expected


def test_list_state_interrupt_result(lib: Lib) -> None:
    """What ``invoke`` returns when a graph whose state is a list stops on ``interrupt()`` (the first run of
    ``test_send_dedupe_on_resume``)."""

    def scenario(lib: Lib, saver: Any) -> Any:
        builder, _ = send_sequence_builder(lib, flaky=True)
        return driven(builder.compile(checkpointer=saver)).invoke(["0"], THREAD)

    got, expected = both(lib, scenario)
    assert got == expected


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
def test_send_dedupe_on_resume(lib: Lib, durability: str) -> None:
    """A sent task interrupts; on resume the tasks of its step that finished are not run again (their writes
    were saved), the interrupted one is. The first run's updates, the result, the run counts and the history."""

    def scenario(lib: Lib, saver: Any) -> Any:
        builder, nodes = send_sequence_builder(lib, flaky=True)
        graph = driven(builder.compile(checkpointer=saver))
        out: list[Any] = [unordered(list(graph.stream(["0"], THREAD, durability=durability)))]
        out.append((nodes["2"].calls, nodes["flaky"]["flaky"]))  # type: ignore[index]
        out.append(graph.invoke(None, THREAD, durability=durability))
        out.append((nodes["2"].calls, nodes["flaky"]["flaky"]))  # type: ignore[index]
        out.append([snap(snapshot) for snapshot in graph.get_state_history(THREAD)])
        return out

    got, expected = both(lib, scenario)
    assert got == expected


REACT_FLOWS = [
    pytest.param("edge", "resume", id="send-react-resume"),
    pytest.param("edge", "remove", id="send-react-remove-call"),
    pytest.param("edge", "replace", id="send-react-replace-call"),
    pytest.param("control", "resume", id="send-react-control-resume"),
    pytest.param("control", "remove", id="send-react-control-remove-call"),
]


@pytest.mark.parametrize("mode", ["async"], indirect=True)  # async nodes: LangGraph runs them under ainvoke only
@pytest.mark.parametrize(("style", "flow"), REACT_FLOWS)
def test_send_react_interrupt(lib: Lib, style: str, flow: str) -> None:
    """A tool call sent to its node (by a conditional edge, or by the agent's ``Command(goto=[Send...])`` with
    ``style="control"``), stopped before that node (first a run without a checkpointer): resumed as
    is; or resumed after an update that removes the tool call (nothing runs); or after an update that replaces
    it (the new call runs)."""

    def scenario(lib: Lib, saver: Any) -> Any:
        calls = {"foo": 0}
        ai = lib.AIMessage(
            "", id="ai1", tool_calls=[{"name": "foo", "args": {"hi": [1, 2, 3]}, "id": "call1", "type": "tool_call"}]
        )

        async def agent(state: Any) -> Any:
            if style == "control":
                return lib.Command(update={"messages": ai}, goto=[lib.Send(c["name"], c) for c in ai.tool_calls])
            return {"messages": ai}

        def route(state: Any) -> Any:
            last = state["messages"][-1]
            if isinstance(last, lib.AIMessage):
                return [lib.Send(call["name"], call) for call in last.tool_calls]
            return None

        async def foo(call: Any) -> Any:
            calls["foo"] += 1
            return {"messages": lib.ToolMessage(str(call["args"]), tool_call_id=call["id"])}

        builder = lib.StateGraph(lib.MessagesState)
        builder.add_node("agent", agent, destinations=("foo",))
        builder.add_node("foo", foo)
        builder.add_edge(lib.START, "agent")
        if style == "edge":
            builder.add_conditional_edges("agent", route)
        hello = {"messages": [lib.HumanMessage("hello")]}
        out: list[Any] = [driven(builder.compile()).invoke(hello), dict(calls)]
        graph = driven(builder.compile(checkpointer=saver, interrupt_before=["foo"]))
        if flow == "resume":
            out += [graph.invoke(hello, THREAD), graph.invoke(None, THREAD), dict(calls)]
            return out
        out += [graph.invoke(hello, THREAD, durability="exit" if flow == "remove" else "async")]
        out += [snap(graph.get_state(THREAD))]
        if flow == "remove":
            graph.update_state(THREAD, {"messages": lib.AIMessage("Bye now", id="ai1", tool_calls=[])})
        else:
            replaced = [{"name": "foo", "args": {"hi": [4, 5, 6]}, "id": "tool1", "type": "tool_call"}]
            graph.update_state(THREAD, {"messages": lib.AIMessage("", id="ai1", tool_calls=replaced)})
        out += [snap(graph.get_state(THREAD)), graph.invoke(None, THREAD), dict(calls)]
        return out

    got, expected = both(lib, scenario)
    assert got == expected


def test_checkpointer_null_pending_writes(lib: Lib) -> None:
    """A saver whose checkpoint tuples carry no pending writes (``None``): each run of the thread still adds to
    the saved list, through ``invoke`` and ``ainvoke``."""

    def scenario(lib: Lib, saver: Any) -> Any:
        class NoPendingWrites(lib.InMemorySaver):  # type: ignore[name-defined,misc]
            def get_tuple(self, config: Any) -> Any:
                found = super().get_tuple(config)
                return found and type(found)(found.config, found.checkpoint, found.metadata)

            async def aget_tuple(self, config: Any) -> Any:
                return self.get_tuple(config)

        builder = lib.StateGraph(Annotated[list, operator.add])
        builder.add_node(Appender("1"))
        builder.add_edge(lib.START, "1")
        graph = driven(builder.compile(checkpointer=NoPendingWrites()))
        return [graph.invoke([], {"configurable": {"thread_id": "foo"}}) for _ in range(3)]

    got, expected = both(lib, scenario)
    assert got == expected


def test_stream_messages_dedupe_state(lib: Lib) -> None:
    """A subgraph node returns an AI message and the subgraph then goes to a parent node by ``Command.PARENT``:
    each run of the thread streams that message once in ``messages`` mode with ``subgraphs=True``."""

    def scenario(lib: Lib, saver: Any) -> Any:
        to_emit = [lib.AIMessage("bye", id="1"), lib.AIMessage("bye again", id="2")]
        subgraph = (
            lib.StateGraph(lib.MessagesState)
            .add_node("call_model", lambda state: {"messages": to_emit.pop(0)})
            .add_node("route", lambda state: lib.Command(goto="node_2", graph=lib.Command.PARENT))
            .add_edge(lib.START, "call_model")
            .add_edge("call_model", "route")
            .compile()
        )
        graph = driven(
            lib.StateGraph(lib.MessagesState)
            .add_node("node_1", subgraph)
            .add_node("node_2", lambda state: state)
            .add_edge(lib.START, "node_1")
            .compile(checkpointer=saver)
        )
        out = []
        for text in ("hi", "hi again"):
            chunks = graph.stream({"messages": text}, THREAD, stream_mode="messages", subgraphs=True)
            out.append([(ns, message, meta["langgraph_node"]) for ns, (message, meta) in chunks])
        return out

    got, expected = both(lib, scenario)
    assert got == expected


@pytest.mark.parametrize("mode", ["async"], indirect=True)  # the sync twin is test_checkpointer_cases.py's case
def test_fork_does_not_apply_pending_writes_async(lib: Lib) -> None:
    """``update_state`` on an old checkpoint as the node that ran next forks the thread; run through
    ``ainvoke``, the writes that node made then are not applied again."""

    class Counted(TypedDict):
        value: Annotated[int, operator.add]

    def scenario(lib: Lib, saver: Any) -> Any:
        builder = lib.StateGraph(Counted).add_node("node_a", lambda s: {"value": 10})
        builder.add_node("node_b", lambda s: {"value": 100}).add_edge(lib.START, "node_a").add_edge("node_a", "node_b")
        graph = driven(builder.compile(checkpointer=saver))
        graph.invoke({"value": 1}, THREAD)
        before_a = next(s for s in graph.get_state_history(THREAD) if s.next == ("node_a",))
        fork = graph.update_state(before_a.config, {"value": 20}, as_node="node_a")
        return [fork, graph.invoke(None, fork), [snap(s) for s in graph.get_state_history(THREAD)]]

    got, expected = both(lib, scenario)
    assert got == expected


@pytest.mark.parametrize("mode", ["async"], indirect=True)  # async nodes: LangGraph runs them under ainvoke only
@pytest.mark.parametrize("style", ["edges", "control"])
def test_max_concurrency_on_a_thread(lib: Lib, style: str) -> None:
    """Node 1 sends 100 tasks to node 2 (by a conditional edge, or by ``Command(goto=[Send...])`` with
    ``style="control"``), each then goes to 3; run with ``max_concurrency=10`` and a breakpoint before 2: the
    interrupted result and state, the resumed result, and the most tasks of 2 that ran at once. With
    ``"control"``, first the runs without a checkpointer (unlimited, then limited)."""

    def scenario(lib: Lib, saver: Any) -> Any:
        running = {"now": 0, "most": 0}

        async def two(state: Any) -> Any:
            running["now"] += 1
            running["most"] = max(running["most"], running["now"])
            for _ in range(3):
                await asyncio.sleep(0)
            running["now"] -= 1
            return lib.Command(update=[state], goto="3") if style == "control" else [state]

        builder = lib.StateGraph(Annotated[list, operator.add])
        if style == "control":
            builder.add_node("1", lambda state: lib.Command(update=["1"], goto=[lib.Send("2", i) for i in range(100)]))
            builder.add_node("2", two, destinations=("3",))
        else:
            builder.add_node("1", lambda state: ["1"])
            builder.add_node("2", two)
            builder.add_conditional_edges("1", lambda state: [lib.Send("2", i) for i in range(100)])
            builder.add_conditional_edges("2", lambda state: "3", ["3"])
        builder.add_node("3", lambda state: ["3"])
        builder.add_edge(lib.START, "1")
        out: list[Any] = []
        if style == "control":
            plain = driven(builder.compile())
            out += [plain.invoke(["0"]), running["most"]]
            running["most"] = 0
            out += [plain.invoke(["0"], {"max_concurrency": 10}), running["most"]]
            running["most"] = 0
        graph = driven(builder.compile(checkpointer=saver, interrupt_before=["2"]))
        thread = {"max_concurrency": 10, "configurable": {"thread_id": "1"}}
        out += [graph.invoke(["0"], thread), graph.get_state(thread).values, graph.invoke(None, thread)]
        out += [running["most"], running["now"]]
        return out

    got, expected = both(lib, scenario)
    assert got == expected


@pytest.mark.parametrize("mode", ["async"], indirect=True)  # astream only
def test_cancel_astream_keeps_finished_writes(lib: Lib) -> None:
    """Leaving ``astream()`` on a thread after the first chunk cancels the node still running beside the one that
    finished; the saved state has the finished node's write applied and the cancelled node still next."""

    class Value(TypedDict):
        value: Annotated[int, operator.add]

    def scenario(lib: Lib, saver: Any) -> Any:
        seen: list[str] = []

        async def run() -> Any:
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
            graph = builder.compile(checkpointer=saver)
            chunks = []
            async with contextlib.aclosing(graph.astream({"value": 1}, THREAD)) as stream:
                async for chunk in stream:
                    chunks.append(chunk)
                    break
            state = await graph.aget_state(THREAD)
            return chunks, seen, state.values, state.next, state.metadata

        return asyncio.run(run())

    got, expected = both(lib, scenario)
    assert got == expected


CANCEL_WAYS = [
    pytest.param("ainvoke", id="put-after-cancel-ainvoke"),
    pytest.param("astream-anext", id="put-after-cancel-astream"),
    pytest.param("astream-events-anext", id="put-after-cancel-astream-events"),
]


@pytest.mark.parametrize("mode", ["async"], indirect=True)  # cancelling an ainvoke / astream task
@pytest.mark.parametrize("how", CANCEL_WAYS)
def test_checkpoint_put_after_cancellation(lib: Lib, how: str) -> None:
    """A run with ``durability="exit"`` is cancelled while its node runs (the ``ainvoke`` task, the task awaiting
    the stream's first chunk, or the one awaiting the event after the run's start event): the node sees the
    cancel, the exit checkpoint is still put in full (the saver's ``aput`` starts and ends) and the task ends
    cancelled. The log and what the thread kept."""

    def scenario(lib: Lib, saver: Any) -> Any:
        logs: list[str] = []

        class SlowPut(lib.InMemorySaver):  # type: ignore[name-defined,misc]
            async def aput(self, *args: Any, **kwargs: Any) -> Any:
                logs.append("checkpoint.aput.start")
                try:
                    for _ in range(5):
                        await asyncio.sleep(0)
                    return await super().aput(*args, **kwargs)
                finally:
                    logs.append("checkpoint.aput.end")

        async def run() -> Any:
            started = asyncio.Event()

            async def awhile(state: Any) -> None:
                logs.append("awhile.start")
                started.set()
                try:
                    await asyncio.Event().wait()
                finally:
                    logs.append("awhile.end")

            class State(TypedDict):
                hello: str

            builder = lib.StateGraph(State).add_node("agent", awhile)
            graph = builder.set_entry_point("agent").set_finish_point("agent").compile(checkpointer=SlowPut())
            if how == "ainvoke":
                task = asyncio.ensure_future(graph.ainvoke({"hello": "world"}, THREAD, durability="exit"))
            elif how == "astream-anext":
                stream = graph.astream({"hello": "world"}, THREAD, durability="exit")
                task = asyncio.ensure_future(stream.__anext__())
            else:
                events = graph.astream_events(
                    {"hello": "world"}, THREAD, version="v2", include_names=["LangGraph"], durability="exit"
                )
                task = asyncio.ensure_future(events.__anext__())
                await task  # the run's start event
                task = asyncio.ensure_future(events.__anext__())
            await started.wait()
            task.cancel()
            before = sorted(logs)
            with pytest.raises(asyncio.CancelledError):
                await task
            state = await graph.aget_state(THREAD)
            return before, sorted(logs), state.values, state.next

        return asyncio.run(run())

    got, expected = both(lib, scenario)
    assert got == expected


@pytest.mark.parametrize("mode", ["async"], indirect=True)  # astream_events only
def test_cancel_astream_events_keeps_last_checkpoint(lib: Lib) -> None:
    """Leaving ``astream_events(version="v2")`` at the root's first ``on_chain_stream`` event: the node after
    the one that finished never starts (the one after that neither) and the thread keeps the checkpoint before
    it, with that node next."""

    class Value(TypedDict):
        value: int

    def scenario(lib: Lib, saver: Any) -> Any:
        seen: list[str] = []

        async def run() -> Any:
            async def alittlewhile(state: Value) -> dict[str, Any]:
                return {"value": 2}

            async def awhile(state: Value) -> None:
                seen.append("awhile started")
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    seen.append("awhile cancelled")
                    raise

            async def anotherwhile(state: Value) -> None:
                seen.append("anotherwhile started")

            builder = lib.StateGraph(Value)
            builder.add_node("alittlewhile", alittlewhile)
            builder.add_node("awhile", awhile)
            builder.add_node("anotherwhile", anotherwhile)
            builder.add_edge(lib.START, "alittlewhile")
            builder.add_edge("alittlewhile", "awhile")
            builder.add_edge("awhile", "anotherwhile")
            graph = builder.compile(checkpointer=saver)
            chunks = []
            async with contextlib.aclosing(graph.astream_events({"value": 1}, THREAD, version="v2")) as events:
                async for event in events:
                    if event["event"] == "on_chain_stream" and not event["parent_ids"]:
                        chunks.append(event["data"]["chunk"])
                        break
            state = await graph.aget_state(THREAD)
            return chunks, "anotherwhile started" in seen, state.values, state.next, state.metadata

        return asyncio.run(run())

    got, expected = both(lib, scenario)
    assert got == expected


@pytest.mark.parametrize("subgraph_persist", [True, False])
def test_parent_command_goto(lib: Lib, subgraph_persist: bool) -> None:
    """A subgraph node's second node goes to a parent node by ``Command.PARENT`` (the parent compiled with its
    saver given by position); without ``step_timeout``."""

    class State(TypedDict):
        dialog_state: Annotated[list[str], operator.add]

    def scenario(lib: Lib, saver: Any) -> Any:
        def node_b_child(state: State) -> Any:
            return lib.Command(
                graph=lib.Command.PARENT, goto="node_b_parent", update={"dialog_state": ["b_child_state"]}
            )

        subgraph = (
            lib.StateGraph(State)
            .add_node("node_a_child", lambda state: {"dialog_state": ["a_child_state"]})
            .add_node("node_b_child", node_b_child)
            .add_edge(lib.START, "node_a_child")
            .add_edge("node_a_child", "node_b_child")
            .compile(checkpointer=subgraph_persist)
        )
        builder = lib.StateGraph(State)
        builder.add_node("node_b_parent", lambda state: {"dialog_state": ["node_b_parent"]})
        builder.add_edge(lib.START, "subgraph_node")
        builder.add_node("subgraph_node", subgraph, destinations=("node_b_parent",))
        graph = driven(builder.compile(saver, name="parent"))
        config = {"configurable": {"thread_id": 1}}
        return graph.invoke({"dialog_state": ["init_state"]}, config), snap(graph.get_state(config))

    got, expected = both(lib, scenario)
    assert got == expected


def test_parent_command_from_root_graph(lib: Lib) -> None:
    """``Command.PARENT`` from a node of the root graph (there is no parent): the run raises ``ParentCommand``
    carrying the command; without ``step_timeout``. The error's command and the state left."""

    class State(TypedDict):
        value: str

    def scenario(lib: Lib, saver: Any) -> Any:
        def parent_cmd(state: State) -> Any:
            return lib.Command(graph=lib.Command.PARENT, goto="test_cmd", update={"key": "value"})

        builder = lib.StateGraph(State).add_node("parent_cmd", parent_cmd).set_entry_point("parent_cmd")
        graph = driven(builder.compile(checkpointer=saver))
        with pytest.raises(lib.ParentCommand) as caught:
            graph.invoke({"value": "start"}, THREAD)
        command = caught.value.args[0]
        state = graph.get_state(THREAD)
        return command.goto, command.update, command.graph, state.values, state.next

    got, expected = both(lib, scenario)
    assert got == expected
