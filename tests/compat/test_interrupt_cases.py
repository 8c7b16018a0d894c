"""Runs that pause on ``interrupt()`` or at a breakpoint and resume with ``Command(resume=...)``, on LangGraph
and on streamflow, each with its own in-memory saver: the same chunks, results, states and errors once
normalised (interrupt ids, which each library derives its own way, become ``<interruptN>`` in order of first
appearance, so an id that comes back must come back in the same places).

After LangGraph's ``test_interrupt_multiple``, ``test_interrupt_loop``,
``test_multiple_interrupt_state_persistence``, ``test_node_before_interrupt_resume_graph_api``,
``test_multiple_nodes_before_interrupt_resume_graph_api``, ``test_double_interrupt_subgraph``,
``test_multi_resume``, ``test_interrupt_stream_mode_values``,
``test_null_resume_disallowed_with_multiple_interrupts``, ``test_interrupt_subgraph``,
``test_command_with_static_breakpoints``, ``test_doubly_nested_graph_interrupts``,
``test_nested_graph_interrupts_parallel``, ``test_subgraph_checkpoint_true_interrupt``,
``test_node_before_multiple_interrupt_cycles_graph_api``, ``test_interrupt_subgraph_reenter_checkpointer_true``,
``test_command_goto_with_static_breakpoints`` and the async ``test_node_not_cancelled_on_other_node_interrupted``,
plus a tool asking for approval inside ``ToolNode``, a run without a checkpointer, and ``interrupt()``'s
``response_schema`` as the installed LangGraph 1.2 validates answers with it (the reviewed tests have no case
of it); the rest is listed in ``REVIEW.md``. Each case runs twice: through ``invoke``/``stream`` and through
``ainvoke``/``astream``."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import operator
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Annotated, Any, TypedDict

import pydantic
import pytest
import typing_extensions

from .conftest import Lib, normalise, reference
from .test_checkpointer_cases import checkpoint_chunk, snap

THREAD = {"configurable": {"thread_id": "1"}}
MODE: ContextVar[str] = ContextVar("interrupt_cases_mode", default="sync")


@pytest.fixture(autouse=True, params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each case twice: through ``invoke``/``stream``, and through ``ainvoke``/``astream`` (LangGraph's async
    twins of these tests)."""
    token = MODE.set(request.param)
    yield request.param
    MODE.reset(token)


class Driven:
    """A compiled graph whose ``invoke`` and ``stream`` go through ``ainvoke``/``astream`` in the async mode."""

    def __init__(self, graph: Any) -> None:
        self.graph = graph

    def __getattr__(self, name: str) -> Any:
        return getattr(self.graph, name)

    def invoke(self, *args: Any, **kwargs: Any) -> Any:
        if MODE.get() == "async":
            return asyncio.run(self.graph.ainvoke(*args, **kwargs))
        return self.graph.invoke(*args, **kwargs)

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        if MODE.get() == "async":

            async def collect() -> list[Any]:
                return [chunk async for chunk in self.graph.astream(*args, **kwargs)]

            return iter(asyncio.run(collect()))
        return iter(self.graph.stream(*args, **kwargs))


def driven(graph: Any) -> Any:
    return Driven(graph)


def both(lib: Lib, scenario: Callable[[Lib, Any], Any]) -> tuple[Any, Any]:
    """The normalised outputs of ``scenario`` on ``lib`` and on LangGraph, each with a new in-memory saver."""
    langgraph = reference()
    expected = normalise(scenario(langgraph, langgraph.InMemorySaver()))
    got = normalise(scenario(lib, lib.InMemorySaver()))
    return got, expected


def error_of(call: Callable[[], Any]) -> tuple[str, str]:
    """The class name and the first line of what ``call`` raised (for errors both libraries raise)."""
    with pytest.raises(Exception) as caught:
        call()
    return type(caught.value).__name__, str(caught.value).splitlines()[0]


class Key(TypedDict):
    my_key: Annotated[str, operator.add]


def interrupt_twice(resume_style: str) -> Callable[[Lib, Any], Any]:
    """``test_interrupt_multiple`` without the ``update`` its first resume carries (the next case has it)."""

    def scenario(lib: Lib, saver: Any) -> Any:
        def node(state: Key) -> Any:
            answer = lib.interrupt({"value": 1})
            answer2 = lib.interrupt({"value": 2})
            return {"my_key": answer + " " + answer2}

        graph = driven(
            lib.StateGraph(Key).add_node("node", node).add_edge(lib.START, "node").compile(checkpointer=saver)
        )
        out: list[Any] = [list(graph.stream({"my_key": "DE"}, THREAD))]
        first = out[0][0]["__interrupt__"][0].id
        out.append(
            list(
                graph.stream(lib.Command(resume="answer 1" if resume_style == "null" else {first: "answer 1"}), THREAD)
            )
        )
        second = out[1][0]["__interrupt__"][0].id
        resume = "answer 2" if resume_style == "null" else {second: "answer 2"}
        out.append(list(graph.stream(lib.Command(resume=resume), THREAD, stream_mode="values")))
        return out

    return scenario


@pytest.mark.parametrize("resume_style", ["null", "map"])
def test_interrupt_multiple(lib: Lib, resume_style: str) -> None:
    got, expected = both(lib, interrupt_twice(resume_style))
    assert got == expected


def test_interrupt_multiple_resume_with_update(lib: Lib) -> None:
    def scenario(lib: Lib, saver: Any) -> Any:
        def node(state: Key) -> Any:
            return {"my_key": lib.interrupt(1) + " " + lib.interrupt(2)}

        graph = driven(
            lib.StateGraph(Key).add_node("node", node).add_edge(lib.START, "node").compile(checkpointer=saver)
        )
        graph.invoke({"my_key": "DE"}, THREAD)
        out = [list(graph.stream(lib.Command(resume="answer 1", update={"my_key": " foofoo "}), THREAD))]
        out.append(list(graph.stream(lib.Command(resume="answer 2"), THREAD, stream_mode="values")))
        return out

    got, expected = both(lib, scenario)
    assert got == expected


class Age(TypedDict, total=False):
    age: int
    other: str


def test_interrupt_loop(lib: Lib) -> None:
    def scenario(lib: Lib, saver: Any) -> Any:
        def ask_age(state: Age) -> Any:
            question = "How old are you?"
            value = None
            for _ in range(10):
                value = lib.interrupt(question)
                if not value.isdigit() or int(value) < 18:
                    question, value = "invalid response", None
                else:
                    break
            return {"age": int(value or 0)}

        graph = driven(
            lib.StateGraph(Age).add_node("node", ask_age).add_edge(lib.START, "node").compile(checkpointer=saver)
        )
        out = [list(graph.stream({"other": ""}, THREAD))]
        for answer in ("13", "15", "19"):
            out.append(list(graph.stream(lib.Command(resume=answer), THREAD)))
        return out

    got, expected = both(lib, scenario)
    assert got == expected


class Steps(TypedDict):
    steps: Annotated[list[str], operator.add]


def test_multiple_interrupt_state_persistence(lib: Lib) -> None:
    def scenario(lib: Lib, saver: Any) -> Any:
        def node(state: Steps) -> Any:
            return {"steps": [lib.interrupt("First interrupt"), lib.interrupt("Second interrupt")]}

        graph = driven(
            lib.StateGraph(Steps).add_node("node", node).add_edge(lib.START, "node").compile(checkpointer=saver)
        )
        out = [graph.invoke({"steps": []}, THREAD)]
        state = graph.get_state(THREAD)
        out.append((state.values, state.next, state.interrupts, [t.interrupts for t in state.tasks]))
        out.append(graph.invoke(lib.Command(resume="step1"), THREAD))
        state = graph.get_state(THREAD)
        out.append((state.values, state.next, state.interrupts))
        out.append(graph.invoke(lib.Command(resume="step2"), THREAD))
        state = graph.get_state(THREAD)
        out.append((state.values, state.next, state.interrupts))
        return out

    got, expected = both(lib, scenario)
    assert got == expected


class Topics(TypedDict):
    topics: list[str]
    answers: Annotated[list[str], operator.add]


@pytest.mark.parametrize("nodes_before", [1, 2])
def test_nodes_before_an_interrupt_resume(lib: Lib, nodes_before: int) -> None:
    """``test_node_before_interrupt_resume_graph_api`` and ``test_multiple_nodes_before_interrupt_resume_graph_api``."""

    def scenario(lib: Lib, saver: Any) -> Any:
        def setup(state: Topics) -> Any:
            return {"topics": [f"topic {i + 1}" for i in range(len(state["topics"]))]}

        def ask(state: Topics) -> Any:
            return {"answers": [lib.interrupt(f"Whats the answer for {topic}?") for topic in state["topics"]]}

        builder = lib.StateGraph(Topics).add_node("setup", setup).add_node("ask", ask).add_edge(lib.START, "setup")
        if nodes_before == 2:
            builder.add_node("again", lambda state: {"answers": []}).add_edge("setup", "again").add_edge("again", "ask")
        else:
            builder.add_edge("setup", "ask")
        graph = driven(builder.add_edge("ask", lib.END).compile(checkpointer=saver))
        out = [graph.invoke({"topics": ["a", "b"], "answers": []}, THREAD)]
        out.append(graph.invoke(lib.Command(resume="answer1"), THREAD))
        out.append(graph.invoke(lib.Command(resume="answer2"), THREAD))
        return out

    got, expected = both(lib, scenario)
    assert got == expected


class Input(TypedDict):
    input: Any


def test_double_interrupt_subgraph(lib: Lib) -> None:
    def scenario(lib: Lib, saver: Any) -> Any:
        def node_1(state: Input) -> Any:
            return {"input": lib.interrupt("interrupt node 1")}

        def node_2(state: Input) -> Any:
            return {"input": lib.interrupt("interrupt node 2")}

        builder = (
            lib.StateGraph(Input)
            .add_node("node_1", node_1)
            .add_node("node_2", node_2)
            .add_edge(lib.START, "node_1")
            .add_edge("node_1", "node_2")
            .add_edge("node_2", lib.END)
        )
        alone = driven(builder.compile(checkpointer=saver))
        out = [list(alone.stream({"input": "test"}, THREAD))]
        out.append(list(alone.stream(lib.Command(resume="123"), THREAD)))
        out.append(list(alone.stream(lib.Command(resume="123"), THREAD)))
        inner = builder.compile()
        parent = driven(
            lib.StateGraph(Input)
            .add_node("invoke_sub_agent", lambda state: inner.invoke(state))
            .add_edge(lib.START, "invoke_sub_agent")
            .add_edge("invoke_sub_agent", lib.END)
            .compile(checkpointer=saver)
        )
        other = {"configurable": {"thread_id": "2"}}
        out.append(list(parent.stream({"input": "test"}, other)))
        out.append(list(parent.stream(lib.Command(resume=True), other)))
        out.append(list(parent.stream(lib.Command(resume=True), other)))
        return out

    got, expected = both(lib, scenario)
    assert got == expected


class Child(TypedDict, total=False):
    prompt: str
    human_input: str
    human_inputs: list[str]


class Parent(TypedDict, total=False):
    prompts: list[str]
    human_inputs: Annotated[list[str], operator.add]


def test_multi_resume(lib: Lib) -> None:
    def scenario(lib: Lib, saver: Any) -> Any:
        def get_human_input(state: Child) -> Any:
            answer = lib.interrupt(state["prompt"])
            return {"human_input": answer, "human_inputs": [answer]}

        child = (
            lib.StateGraph(Child)
            .add_node("get_human_input", get_human_input)
            .add_edge(lib.START, "get_human_input")
            .compile(checkpointer=saver)
        )

        def assign_workers(state: Parent) -> Any:
            return [lib.Send("child_graph", {"prompt": prompt}) for prompt in state["prompts"]]

        parent = driven(
            lib.StateGraph(Parent)
            .add_node("child_graph", child)
            .add_node("cleanup", lambda state: None)
            .add_conditional_edges(lib.START, assign_workers, ["child_graph"])
            .add_edge("child_graph", "cleanup")
            .compile(checkpointer=saver)
        )
        prompts = ["a", "b", "c", "d", "e"]
        paused = parent.invoke({"prompts": prompts}, THREAD)
        out: list[Any] = [sorted(i.value for i in paused["__interrupt__"]), paused["prompts"]]
        waiting = parent.get_state(THREAD).interrupts
        out.append(sorted(i.value for i in waiting))
        out.append(
            parent.invoke(lib.Command(resume={i.id: f"human input for prompt {i.value}" for i in waiting}), THREAD)
        )
        return out

    got, expected = both(lib, scenario)
    assert got == expected


class Robot(TypedDict, total=False):
    robot_input: str
    human_input: str


@pytest.mark.parametrize(
    "kwargs",
    [
        {"stream_mode": ["updates", "values"]},
        {"stream_mode": ["values", "updates", "tasks"]},
        {"stream_mode": ["values", "updates"], "version": "v2"},
        {"stream_mode": "debug"},
    ],
    ids=["updates-values", "values-updates-tasks", "v2", "debug"],
)
def test_interrupt_stream_mode_values(lib: Lib, kwargs: dict[str, Any]) -> None:
    def scenario(lib: Lib, saver: Any) -> Any:
        def human_input_node(state: Robot) -> Any:
            return lib.Command(update={"human_input": lib.interrupt("interrupt")})

        graph = driven(
            lib.StateGraph(Robot)
            .add_node("robot_input_node", lambda state: {"robot_input": "beep boop i am a robot"})
            .add_node("human_input_node", human_input_node)
            .add_edge(lib.START, "robot_input_node")
            .add_edge("robot_input_node", "human_input_node")
            .compile(checkpointer=saver)
        )
        out = [list(graph.stream({}, THREAD, **kwargs))]
        out.append(list(graph.stream(lib.Command(resume="i am a human"), THREAD, **kwargs)))
        return [[_without_time(chunk) for chunk in chunks] for chunks in out]

    got, expected = both(lib, scenario)
    assert got == expected


def _without_time(chunk: Any) -> Any:
    """A ``debug`` chunk without its timestamp (checkpoint records' task lists sorted by name)."""
    if isinstance(chunk, dict) and "timestamp" in chunk and "payload" in chunk:
        payload = chunk["payload"]
        if chunk["type"] == "checkpoint":
            payload = {**payload, "tasks": sorted(payload["tasks"], key=lambda t: t["name"])}
        return {**{k: v for k, v in chunk.items() if k != "timestamp"}, "payload": payload}
    return chunk


class Texts(TypedDict):
    text_1: str
    text_2: str


def test_null_resume_disallowed_with_multiple_interrupts(lib: Lib) -> None:
    def scenario(lib: Lib, saver: Any) -> Any:
        def human_node_1(state: Texts) -> Any:
            return {"text_1": lib.interrupt({"text_to_revise": state["text_1"]})}

        def human_node_2(state: Texts) -> Any:
            return {"text_2": lib.interrupt({"text_to_revise": state["text_2"]})}

        graph = driven(
            lib.StateGraph(Texts)
            .add_node("human_node_1", human_node_1)
            .add_node("human_node_2", human_node_2)
            .add_edge(lib.START, "human_node_1")
            .add_edge(lib.START, "human_node_2")
            .compile(checkpointer=saver)
        )
        paused = graph.invoke({"text_1": "original text 1", "text_2": "original text 2"}, THREAD)
        out: list[Any] = [sorted(i.value["text_to_revise"] for i in paused["__interrupt__"])]
        waiting = graph.get_state(THREAD).interrupts
        out.append(error_of(lambda: graph.invoke(lib.Command(resume="singular resume"), THREAD)))
        resume = {i.id: f"resume for prompt: {i.value['text_to_revise']}" for i in waiting}
        out.append(graph.invoke(lib.Command(resume=resume), THREAD))
        return out

    got, expected = both(lib, scenario)
    assert got == expected


class Baz(TypedDict):
    baz: str


@pytest.mark.parametrize("subgraphs", [False, True])
def test_interrupt_subgraph(lib: Lib, subgraphs: bool) -> None:
    def scenario(lib: Lib, saver: Any) -> Any:
        def bar(state: Baz) -> Any:
            return {"baz": lib.interrupt("Please provide baz value:")}

        child = lib.StateGraph(Baz).add_node("bar", bar).add_edge(lib.START, "bar").compile()
        graph = driven(
            lib.StateGraph(Baz)
            .add_node("foo", lambda state: {"baz": "foo"})
            .add_node("bar", child)
            .add_edge(lib.START, "foo")
            .add_edge("foo", "bar")
            .compile(checkpointer=saver)
        )
        out: list[Any] = [list(graph.stream({"baz": ""}, THREAD, subgraphs=subgraphs))]
        state = graph.get_state(THREAD)
        out.append((state.values, state.next, state.interrupts, [t.interrupts for t in state.tasks]))
        inner = graph.get_state(THREAD, subgraphs=True).tasks[0].state
        out.append((inner.values, inner.next, inner.interrupts, [(t.name, t.interrupts) for t in inner.tasks]))
        out.append(list(graph.stream(lib.Command(resume="bar"), THREAD, subgraphs=subgraphs)))
        return out

    got, expected = both(lib, scenario)
    assert got == expected


class Foo(TypedDict):
    foo: str


@pytest.mark.parametrize(
    "breakpoints",
    [
        {"interrupt_before": ["node1"]},
        {"interrupt_before": ["node2"]},
        {"interrupt_after": ["node1"]},
        {"interrupt_after": ["node2"]},
        {"interrupt_before": "*"},
        {"interrupt_after": "*"},
    ],
    ids=["before-1", "before-2", "after-1", "after-2", "before-all", "after-all"],
)
def test_command_with_static_breakpoints(lib: Lib, breakpoints: dict[str, Any]) -> None:
    def scenario(lib: Lib, saver: Any) -> Any:
        graph = driven(
            lib.StateGraph(Foo)
            .add_node("node1", lambda state: {"foo": state["foo"] + "|node-1"})
            .add_node("node2", lambda state: {"foo": state["foo"] + "|node-2"})
            .add_edge(lib.START, "node1")
            .add_edge("node1", "node2")
            .compile(checkpointer=saver, **breakpoints)
        )
        out: list[Any] = [list(graph.stream({"foo": "abc"}, THREAD, stream_mode=["updates", "values"]))]
        state = graph.get_state(THREAD)
        out.append((state.values, state.next, state.interrupts))
        out.append(graph.invoke(lib.Command(resume="node1"), THREAD))
        out.append(list(graph.stream(None, THREAD, stream_mode="updates")))
        return out

    got, expected = both(lib, scenario)
    assert got == expected


def test_breakpoints_given_to_stream(lib: Lib) -> None:
    def scenario(lib: Lib, saver: Any) -> Any:
        graph = driven(
            lib.StateGraph(Foo)
            .add_node("node1", lambda state: {"foo": state["foo"] + "|node-1"})
            .add_node("node2", lambda state: {"foo": state["foo"] + "|node-2"})
            .add_edge(lib.START, "node1")
            .add_edge("node1", "node2")
            .compile(checkpointer=saver, interrupt_before=["node1"])
        )
        out: list[Any] = [list(graph.stream({"foo": "abc"}, THREAD, interrupt_after=["node1"]))]
        output = graph.invoke(None, THREAD, version="v2")
        out.append((output.value, output.interrupts))
        return out

    got, expected = both(lib, scenario)
    assert got == expected


def test_interrupt_without_checkpointer(lib: Lib) -> None:
    def node(state: Foo) -> Any:
        return {"foo": lib.interrupt("no saver")}

    graph = lib.StateGraph(Foo).add_node("node", node).add_edge(lib.START, "node").compile()
    got = [graph.invoke({"foo": "a"}), list(graph.stream({"foo": "a"}, stream_mode=["updates", "values"]))]
    got.append(error_of(lambda: graph.invoke(lib.Command(resume="x"))))
    langgraph = reference()

    def reference_node(state: Foo) -> Any:
        return {"foo": langgraph.interrupt("no saver")}

    ref = langgraph.StateGraph(Foo).add_node("node", reference_node).add_edge(langgraph.START, "node").compile()
    expected = [ref.invoke({"foo": "a"}), list(ref.stream({"foo": "a"}, stream_mode=["updates", "values"]))]
    expected.append(error_of(lambda: ref.invoke(langgraph.Command(resume="x"))))
    assert normalise(got) == normalise(expected)


def test_interrupt_in_a_tool_node(lib: Lib) -> None:
    def scenario(lib: Lib, saver: Any) -> Any:
        @lib.tool  # type: ignore[untyped-decorator]
        def delete_file(path: str) -> str:
            """Delete a file."""
            answer = lib.interrupt({"action": "delete_file", "path": path})
            return f"deleted {path}" if answer == "approve" else f"kept {path}"

        graph = driven(
            lib.StateGraph(lib.MessagesState)
            .add_node("tools", lib.ToolNode([delete_file]))
            .add_edge(lib.START, "tools")
            .compile(checkpointer=saver)
        )
        call = lib.AIMessage(content="", tool_calls=[{"name": "delete_file", "args": {"path": "a.txt"}, "id": "c1"}])
        out = [list(graph.stream({"messages": [call]}, THREAD))]
        out.append(list(graph.stream(lib.Command(resume="approve"), THREAD)))
        return out

    got, expected = both(lib, scenario)
    assert got == expected


class MyKey(TypedDict):
    my_key: str


DURABILITIES = ["sync", "async", "exit"]


@pytest.mark.parametrize("durability", DURABILITIES)
def test_doubly_nested_graph_interrupts(lib: Lib, durability: str) -> None:
    def scenario(lib: Lib, saver: Any) -> Any:
        grandchild = (
            lib.StateGraph(MyKey)
            .add_node("grandchild_1", lambda state: {"my_key": state["my_key"] + " here"})
            .add_node("grandchild_2", lambda state: {"my_key": state["my_key"] + " and there"})
            .add_edge(lib.START, "grandchild_1")
            .add_edge("grandchild_1", "grandchild_2")
            .add_edge("grandchild_2", lib.END)
        )
        child = (
            lib.StateGraph(MyKey)
            .add_node("child_1", grandchild.compile(interrupt_before=["grandchild_2"]))
            .add_edge(lib.START, "child_1")
            .add_edge("child_1", lib.END)
        )
        app = driven(
            lib.StateGraph(MyKey)
            .add_node("parent_1", lambda state: {"my_key": "hi " + state["my_key"]})
            .add_node("child", child.compile())
            .add_node("parent_2", lambda state: {"my_key": state["my_key"] + " and back again"})
            .add_edge(lib.START, "parent_1")
            .add_edge("parent_1", "child")
            .add_edge("child", "parent_2")
            .add_edge("parent_2", lib.END)
            .compile(checkpointer=saver)
        )
        out: list[Any] = []
        for thread, kwargs in (("1", {}), ("2", {"subgraphs": True}), ("3", {"stream_mode": "values"})):
            config = {"configurable": {"thread_id": thread}}
            out.append(list(app.stream({"my_key": "my value"}, config, durability=durability, **kwargs)))
            out.append(list(app.stream(None, config, durability=durability, **kwargs)))
        return out

    got, expected = both(lib, scenario)
    assert got == expected


class Inner(TypedDict):
    my_key: Annotated[str, operator.add]
    my_other_key: str


class Outer(TypedDict):
    my_key: Annotated[str, operator.add]


@pytest.mark.parametrize("durability", DURABILITIES)
@pytest.mark.parametrize("breakpoints", [{}, {"interrupt_before": ["outer_1"]}, {"interrupt_after": ["outer_1"]}])
def test_nested_graph_interrupts_parallel(lib: Lib, durability: str, breakpoints: dict[str, Any]) -> None:
    def scenario(lib: Lib, saver: Any) -> Any:
        inner = (
            lib.StateGraph(Inner)
            .add_node("inner_1", lambda state: {"my_key": "got here", "my_other_key": state["my_key"]})
            .add_node("inner_2", lambda state: {"my_key": " and there", "my_other_key": state["my_key"]})
            .add_edge(lib.START, "inner_1")
            .add_edge("inner_1", "inner_2")
            .add_edge("inner_2", lib.END)
        )
        app = driven(
            lib.StateGraph(Outer)
            .add_node("inner", inner.compile(interrupt_before=["inner_2"]))
            .add_node("outer_1", lambda state: {"my_key": " and parallel"})
            .add_node("outer_2", lambda state: {"my_key": " and back again"})
            .add_edge(lib.START, "inner")
            .add_edge(lib.START, "outer_1")
            .add_edge(["inner", "outer_1"], "outer_2")
            .add_edge("outer_2", lib.END)
            .compile(checkpointer=saver, **breakpoints)
        )
        out: list[Any] = []
        config = {"configurable": {"thread_id": "1"}}
        out.append(app.invoke({"my_key": ""}, config, durability=durability))
        for _ in range(3):
            out.append(app.invoke(None, config, durability=durability))
        config = {"configurable": {"thread_id": "2"}}
        for graph_input in ({"my_key": ""}, None, None, None):
            chunks = app.stream(graph_input, config, subgraphs=True, durability=durability)
            # the parallel nodes finish in any order: the chunks as a multiset, the namespaces without task ids
            out.append(sorted(((tuple(p.partition(":")[0] for p in ns), chunk) for ns, chunk in chunks), key=repr))
        config = {"configurable": {"thread_id": "3"}}
        out.append(list(app.stream({"my_key": ""}, config, stream_mode="values", durability=durability)))
        for _ in range(3):
            out.append(list(app.stream(None, config, stream_mode="values", durability=durability)))
        return out

    got, expected = both(lib, scenario)
    assert got == expected


class Sub(TypedDict, total=False):
    bar: str
    baz: str


class Foo2(TypedDict):
    foo: str


@pytest.mark.parametrize("durability", DURABILITIES)
def test_subgraph_checkpoint_true_interrupt(lib: Lib, durability: str) -> None:
    def scenario(lib: Lib, saver: Any) -> Any:
        def subgraph_node_1(state: Sub) -> Any:
            return {"baz": lib.interrupt("Provide baz value")}

        subgraph = (
            lib.StateGraph(Sub)
            .add_node("subgraph_node_1", subgraph_node_1)
            .add_node("subgraph_node_2", lambda state: {"bar": state["bar"] + state["baz"]})
            .add_edge(lib.START, "subgraph_node_1")
            .add_edge("subgraph_node_1", "subgraph_node_2")
            .compile(checkpointer=True)
        )

        def node_2(state: Foo2) -> Any:
            return {"foo": subgraph.invoke({"bar": state["foo"]})["bar"]}

        graph = driven(
            lib.StateGraph(Foo2)
            .add_node("node_1", lambda state: {"foo": "hi! " + state["foo"]})
            .add_node("node_2", node_2)
            .add_edge(lib.START, "node_1")
            .add_edge("node_1", "node_2")
            .compile(checkpointer=saver)
        )
        out = [graph.invoke({"foo": "foo"}, THREAD, durability=durability)]
        task = graph.get_state(THREAD).tasks[0]
        out.append((task.name, task.interrupts))
        out.append(graph.invoke(lib.Command(resume="baz"), THREAD, durability=durability))
        return out

    got, expected = both(lib, scenario)
    assert got == expected


def test_subgraph_state_of_a_graph_invoked_in_a_node(lib: Lib) -> None:
    """A plain node invokes a ``checkpointer=True`` graph that interrupts: the node's task shows that graph's
    checkpoint config as its ``state`` (LangGraph finds the compiled graph the node's function refers to),
    and ``get_state(subgraphs=True)`` that graph's snapshot; the history and the resumed run's ``checkpoints``
    chunks too."""

    def scenario(lib: Lib, saver: Any) -> Any:
        def ask(state: Sub) -> Any:
            return {"baz": lib.interrupt("Provide baz value")}

        subgraph = lib.StateGraph(Sub).add_node("ask", ask).add_edge(lib.START, "ask").compile(checkpointer=True)

        def node(state: Foo2) -> Any:
            return {"foo": subgraph.invoke({"bar": state["foo"]})["baz"]}

        graph = driven(
            lib.StateGraph(Foo2).add_node("node", node).add_edge(lib.START, "node").compile(checkpointer=saver)
        )
        graph.invoke({"foo": "foo"}, THREAD)
        out: list[Any] = [snap(graph.get_state(THREAD)), snap(graph.get_state(THREAD, subgraphs=True))]
        out.append([snap(snapshot) for snapshot in graph.get_state_history(THREAD)])
        resumed = graph.stream(lib.Command(resume="baz"), THREAD, stream_mode="checkpoints", subgraphs=True)
        out.append([(ns, checkpoint_chunk(chunk)) for ns, chunk in resumed])
        return out

    got, expected = both(lib, scenario)
    assert got == expected


class Trail(TypedDict):
    trail: Annotated[list[str], operator.add]


def test_command_update_continues_the_thread(lib: Lib) -> None:
    def scenario(lib: Lib, saver: Any) -> Any:
        def b(state: Trail) -> Any:
            return {"trail": [lib.interrupt("b?")]}

        graph = driven(
            lib.StateGraph(Trail)
            .add_node("a", lambda state: {"trail": ["a"]})
            .add_node("b", b)
            .add_edge(lib.START, "a")
            .add_edge("a", "b")
            .compile(checkpointer=saver)
        )
        out = [graph.invoke({"trail": []}, THREAD)]
        out.append(list(graph.stream(lib.Command(update={"trail": ["u"]}), THREAD, stream_mode=["values", "updates"])))
        state = graph.get_state(THREAD)
        out.append((state.values, state.next, state.interrupts))
        out.append(graph.invoke(lib.Command(resume="B"), THREAD))
        out.append(list(graph.stream(lib.Command(update={"trail": ["v"]}), THREAD, stream_mode=["values", "updates"])))
        state = graph.get_state(THREAD)
        out.append((state.values, state.next, state.metadata))
        return out

    got, expected = both(lib, scenario)
    assert got == expected


class Piped(TypedDict):
    foo: Annotated[str, operator.add]


def test_command_goto_with_static_breakpoints(lib: Lib) -> None:
    def scenario(lib: Lib, saver: Any) -> Any:
        graph = driven(
            lib.StateGraph(Piped)
            .add_node("node1", lambda state: {"foo": "|node-1"})
            .add_node("node2", lambda state: {"foo": "|node-2"})
            .add_edge(lib.START, "node1")
            .add_edge("node1", "node2")
            .compile(checkpointer=saver, interrupt_before=["node1"])
        )
        out = [graph.invoke({"foo": "abc"}, THREAD)]
        out.append(
            list(graph.stream(lib.Command(goto=["node2"]), THREAD, stream_mode="values"))
        )  # node1, node2 in parallel
        state = graph.get_state(THREAD)
        out.append((state.values, state.next))
        return out

    got, expected = both(lib, scenario)
    assert got == expected


class Counted(TypedDict, total=False):
    count: int
    data: str


def test_node_before_multiple_interrupt_cycles(lib: Lib) -> None:
    def scenario(lib: Lib, saver: Any) -> Any:
        def multi_interrupt(state: Counted) -> Any:
            first = lib.interrupt("First question?")
            second = lib.interrupt("Second question?")
            return {"data": f"{first},{second}"}

        graph = driven(
            lib.StateGraph(Counted)
            .add_node("prepare", lambda state: {"count": state["count"] + 10})
            .add_node("multi_interrupt", multi_interrupt)
            .add_edge(lib.START, "prepare")
            .add_edge("prepare", "multi_interrupt")
            .add_edge("multi_interrupt", lib.END)
            .compile(checkpointer=saver)
        )
        out = [graph.invoke({"count": 0, "data": ""}, THREAD)]
        out.append(graph.invoke(lib.Command(resume="first_answer"), THREAD))
        out.append(graph.invoke(lib.Command(resume="second_answer"), THREAD))
        return out

    got, expected = both(lib, scenario)
    assert got == expected


class SubFoo(TypedDict, total=False):
    foo: str
    bar: str


class ParentFoo(TypedDict, total=False):
    foo: str
    counter: int


def test_interrupt_subgraph_reenter_checkpointer_true(lib: Lib) -> None:
    def scenario(lib: Lib, saver: Any) -> Any:
        called: list[str] = []
        bar_values: list[Any] = []

        def subnode_1(state: SubFoo) -> Any:
            called.append("subnode_1")
            bar_values.append(state.get("bar"))
            return {"foo": "subgraph_1"}

        def subnode_2(state: SubFoo) -> Any:
            called.append("subnode_2")
            return {"foo": "subgraph_2", "bar": lib.interrupt("Provide value") + "baz"}

        subgraph = (
            lib.StateGraph(SubFoo)
            .add_node("subnode_1", subnode_1)
            .add_node("subnode_2", subnode_2)
            .add_edge(lib.START, "subnode_1")
            .add_edge("subnode_1", "subnode_2")
            .compile(checkpointer=True)
        )

        def call_subgraph(state: ParentFoo) -> Any:
            called.append("call_subgraph")
            return {"foo": subgraph.invoke(state)["foo"]}  # 'bar' is no parent key (README: kept out)

        def node(state: ParentFoo) -> Any:
            called.append("parent")
            if state["counter"] < 1:
                return lib.Command(goto="call_subgraph", update={"counter": state["counter"] + 1})
            return {"foo": state["foo"] + "|parent"}

        parent = driven(
            lib.StateGraph(ParentFoo)
            .add_node("call_subgraph", call_subgraph)
            .add_node("node", node)
            .add_edge(lib.START, "call_subgraph")
            .add_edge("call_subgraph", "node")
            .compile(checkpointer=saver)
        )
        out = [parent.invoke({"foo": "", "counter": 0}, THREAD)]
        out.append(parent.invoke(lib.Command(resume="bar"), THREAD))
        out.append(parent.invoke(lib.Command(resume="qux"), THREAD))
        out.append(list(called))
        out.append(parent.invoke({"foo": "meow", "counter": 0}, THREAD))
        out.append(bar_values)
        return out

    got, expected = both(lib, scenario)
    assert got == expected


class Hello(TypedDict):
    hello: Annotated[str, operator.add]


@pytest.mark.parametrize("mode", ["async"], indirect=True)  # async nodes: LangGraph runs them under ainvoke only
def test_node_not_cancelled_on_other_node_interrupted(lib: Lib, mode: str) -> None:
    """LangGraph's async test: async nodes, so it runs through ``ainvoke`` only."""

    def scenario(lib: Lib, saver: Any) -> Any:
        seen = {"awhile": 0, "cancelled": 0}

        async def awhile(state: Hello) -> Any:
            seen["awhile"] += 1
            try:
                for _ in range(20):  # yields to the loop while the other task pauses
                    await asyncio.sleep(0)
                return {"hello": " again"}
            except asyncio.CancelledError:
                seen["cancelled"] += 1
                raise

        async def iambad(state: Hello) -> Any:
            return {"hello": lib.interrupt("I am bad")}

        graph = driven(
            lib.StateGraph(Hello)
            .add_node("agent", awhile)
            .add_node("bad", iambad)
            .add_conditional_edges(lib.START, lambda state: ["agent", "bad"])
            .compile(checkpointer=saver)
        )
        out = [graph.invoke({"hello": "world"}, THREAD), dict(seen)]
        out += [graph.invoke(None, THREAD), dict(seen)]
        out += [graph.invoke(lib.Command(resume=" okay"), THREAD), dict(seen)]
        return out

    got, expected = both(lib, scenario)
    assert got == expected


def test_command_goto_on_a_paused_thread(lib: Lib) -> None:
    def scenario(lib: Lib, saver: Any) -> Any:
        def b(state: Trail) -> Any:
            return {"trail": [lib.interrupt("b?")]}

        graph = driven(
            lib.StateGraph(Trail)
            .add_node("a", lambda state: {"trail": ["a"]})
            .add_node("b", b)
            .add_node("c", lambda state: {"trail": [f"c:{state}"]})
            .add_edge(lib.START, "a")
            .add_edge("a", "b")
            .compile(checkpointer=saver)
        )
        out = [graph.invoke({"trail": []}, THREAD)]
        out.append(graph.invoke(lib.Command(resume="B", goto=[lib.Send("c", {"x": 1}), "a"]), THREAD))
        state = graph.get_state(THREAD)
        out.append((state.values, state.next, state.interrupts))
        out.append(error_of(lambda: graph.invoke(lib.Command(graph=lib.Command.PARENT, goto="a"), THREAD)))
        return out

    got, expected = both(lib, scenario)
    assert got == expected


class Approval(pydantic.BaseModel):
    approved: bool
    note: str = ""


class ApprovalDict(typing_extensions.TypedDict):  # pydantic takes typing's TypedDict only from Python 3.12
    approved: bool


@dataclasses.dataclass
class ApprovalData:
    approved: bool


class Answer(TypedDict, total=False):
    answer: str
    other: Annotated[list[str], operator.add]


def raised(lib: Lib, call: Callable[[], Any]) -> tuple[str, bool]:
    """The class name of what ``call`` raised, and whether the library's ``is_invalid_resume`` marks it."""
    is_invalid_resume = importlib.import_module(lib.GraphInterrupt.__module__).is_invalid_resume
    with pytest.raises(Exception) as caught:
        call()
    return type(caught.value).__name__, is_invalid_resume(caught.value)


@pytest.mark.parametrize(
    "schema",
    [
        pytest.param(Approval, id="pydantic-model"),
        pytest.param(ApprovalDict, id="typeddict"),
        pytest.param(ApprovalData, id="dataclass"),
        pytest.param({"type": "object", "properties": {"approved": {"type": "boolean"}}}, id="json-schema-dict"),
    ],
)
def test_interrupt_response_schema(lib: Lib, schema: Any) -> None:
    """``interrupt(..., response_schema=...)``: the interrupt carries the schema (a type's as JSON Schema); a
    type checks the answer and the call returns the validated object; an answer that does not fit fails the
    run with the schema's ``ValidationError`` (``is_invalid_resume``), keeps the interrupt waiting, and a
    fitting answer then resumes it. A dict schema checks nothing."""

    def scenario(lib: Lib, saver: Any) -> Any:
        def ask(state: Answer) -> Any:
            got = lib.interrupt("approve?", response_schema=schema)
            return {"answer": f"{type(got).__name__}:{got!r}"}

        graph = lib.StateGraph(Answer).add_node("ask", ask).add_edge(lib.START, "ask")
        graph = driven(graph.compile(checkpointer=saver))
        out: list[Any] = [graph.invoke({"answer": ""}, THREAD)]
        out.append([i.response_schema for i in graph.get_state(THREAD).interrupts])
        if not isinstance(schema, dict):
            out.append(raised(lib, lambda: graph.invoke(lib.Command(resume={"approved": "not a bool"}), THREAD)))
            state = graph.get_state(THREAD)
            out.append((state.next, state.interrupts, [task.error is not None for task in state.tasks]))
        out.append(graph.invoke(lib.Command(resume={"approved": True}), THREAD))
        return out

    got, expected = both(lib, scenario)
    assert got == expected


def test_invalid_resume_lets_the_answered_sibling_finish(lib: Lib) -> None:
    """Two interrupts answered in one resume by id, one answer not fitting its schema: the other task
    finishes (and is not run again), then the run fails; answering the one left resumes it."""

    def scenario(lib: Lib, saver: Any) -> Any:
        runs = {"ask": 0, "other": 0}

        def ask(state: Answer) -> Any:
            runs["ask"] += 1
            return {"answer": repr(lib.interrupt("approve?", response_schema=ApprovalDict))}

        def other(state: Answer) -> Any:
            runs["other"] += 1
            return {"other": [lib.interrupt("why?")]}

        graph = driven(
            lib.StateGraph(Answer)
            .add_node("ask", ask)
            .add_node("other", other)
            .add_conditional_edges(lib.START, lambda state: ["ask", "other"])
            .compile(checkpointer=saver)
        )
        first = graph.invoke({"answer": ""}, THREAD)
        # the two tasks' interrupts come in the order they paused: in worker threads, either (on both)
        first["__interrupt__"] = sorted(first["__interrupt__"], key=lambda i: str(i.value))
        out: list[Any] = [first]
        ids = {i.value: i.id for i in graph.get_state(THREAD).interrupts}
        bad = {ids["approve?"]: {"approved": []}, ids["why?"]: "because"}
        out.append(raised(lib, lambda: graph.invoke(lib.Command(resume=bad), THREAD)))
        state = graph.get_state(THREAD)
        out.append((state.values, state.next, [i.value for i in state.interrupts], dict(runs)))
        out.append(graph.invoke(lib.Command(resume={ids["approve?"]: {"approved": False}}), THREAD))
        out.append(dict(runs))
        return out

    got, expected = both(lib, scenario)
    assert got == expected


def test_invalid_resume_in_a_tool_is_no_tool_error(lib: Lib) -> None:
    """A tool's ``interrupt()`` answered with a value that does not fit its schema fails the run even with
    ``handle_tool_errors=True``: the model cannot fix it."""

    def scenario(lib: Lib, saver: Any) -> Any:
        @lib.tool  # type: ignore[untyped-decorator]
        def delete_file(path: str) -> str:
            """Delete a file."""
            answer = lib.interrupt({"path": path}, response_schema=ApprovalDict)
            return f"deleted {path}" if answer["approved"] else f"kept {path}"

        graph = driven(
            lib.StateGraph(lib.MessagesState)
            .add_node("tools", lib.ToolNode([delete_file], handle_tool_errors=True))
            .add_edge(lib.START, "tools")
            .compile(checkpointer=saver)
        )
        call = lib.AIMessage(content="", tool_calls=[{"name": "delete_file", "args": {"path": "a.txt"}, "id": "c1"}])
        out: list[Any] = [list(graph.stream({"messages": [call]}, THREAD))]
        out.append(raised(lib, lambda: graph.invoke(lib.Command(resume={"approved": "maybe"}), THREAD)))
        out.append(list(graph.stream(lib.Command(resume={"approved": True}), THREAD)))
        return out

    got, expected = both(lib, scenario)
    assert got == expected
