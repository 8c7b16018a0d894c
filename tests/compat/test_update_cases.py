"""A thread's state written from outside a run (``update_state``, ``bulk_update_state``), on LangGraph and on
streamflow, each with its own saver (in memory and SQLite): the same states, histories and errors once
normalised.

After LangGraph's ``test_bulk_state_updates``, the ``bulk_update_state`` halves of ``test_update_as_input``,
``test_batch_update_as_input`` and ``test_supersteps_populate_task_results``, and the ``update_state``
variants they rest on (a ``Command`` as the values, ``task_id``, ``(None, END)``, ``"__copy__"``, an update of
an older checkpoint); the rest is listed in ``REVIEW.md``."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from .conftest import Lib
from .test_checkpointer_cases import SAVERS, Doubled, both, snap


def error_of(call: Callable[[], Any]) -> tuple[str, str]:
    """What ``call`` raised: its class name (``InvalidArgumentError``, streamflow's ValueError, as
    ``ValueError``) and its message up to streamflow's explanation in parentheses."""
    with pytest.raises(Exception) as caught:
        call()
    name = type(caught.value).__name__
    return ("ValueError" if name == "InvalidArgumentError" else name), str(caught.value).split(" (")[0]


class FooBaz(TypedDict, total=False):
    foo: str
    baz: str


def two_nodes(lib: Lib, saver: Any) -> Any:
    return (
        lib.StateGraph(FooBaz)
        .add_node("node_a", lambda state: {"foo": "bar"})
        .add_node("node_b", lambda state: {"baz": "qux"})
        .add_edge(lib.START, "node_a")
        .add_edge("node_a", "node_b")
        .compile(checkpointer=saver)
    )


def bulk_state_updates(lib: Lib, saver: Any) -> Any:
    """LangGraph's ``test_bulk_state_updates``: one update, then two in one superstep; two supersteps at once;
    the errors."""
    graph = two_nodes(lib, saver)
    update = lib.StateUpdate
    out: list[Any] = []
    config = {"configurable": {"thread_id": "1"}}
    out.append(graph.bulk_update_state(config, [[update(values={"foo": "bar"}, as_node="node_a")]]))
    both_nodes = [update(values={"foo": "updated"}, as_node="node_a"), update(values={"baz": "new"}, as_node="node_b")]
    out.append(graph.bulk_update_state(config, [both_nodes]))
    out.append(snap(graph.get_state(config)))
    out.append(len(list(saver.list(config))))
    config = {"configurable": {"thread_id": "2"}}
    supersteps = [[update(values={"foo": "bar"}, as_node="node_a")], both_nodes]
    out.append(graph.bulk_update_state(config, supersteps))
    out.append([snap(s) for s in graph.get_state_history(config)])
    wrong: list[list[list[Any]]] = [
        [[update(values={"foo": "error"}, as_node=None), update(values={"bar": "error"}, as_node=None)]],
        [],
        [[], []],
        [[update(values=None, as_node="__end__"), update(values=None, as_node="__copy__")]],
        [[update(values={"foo": "x"}, as_node="nowhere")]],
        [[update(values=None, as_node="__input__")]],
        [[update(values=1, as_node="__input__"), update(values=2, as_node="node_a")]],
    ]
    for supersteps in wrong:
        out.append(error_of(functools.partial(graph.bulk_update_state, config, supersteps)))
    out.append(error_of(lambda: graph.update_state({"configurable": {"thread_id": "new"}}, None, "__copy__")))
    return out


class Foo(TypedDict):
    foo: str


def update_as_input(durability: str) -> Callable[[Lib, Any], Any]:
    """LangGraph's ``test_update_as_input``: two runs on one thread, the same turns rebuilt on another thread
    by ``bulk_update_state``; both histories."""

    def scenario(lib: Lib, saver: Any) -> Any:
        graph = (
            lib.StateGraph(Foo)
            .add_node("agent", lambda state: {"foo": "agent"})
            .add_node("tool", lambda state: {"foo": "tool"})
            .add_edge(lib.START, "agent")
            .add_edge("agent", "tool")
            .compile(checkpointer=saver)
        )
        ran = {"configurable": {"thread_id": "1"}}
        out = [graph.invoke({"foo": "input"}, ran, durability=durability) for _ in range(2)]
        turn = [
            lib.StateUpdate({"foo": "input"}, "__input__"),
            lib.StateUpdate({"foo": "input"}, "__start__"),
            lib.StateUpdate({"foo": "agent"}, "agent"),
            lib.StateUpdate({"foo": "tool"}, "tool"),
        ]
        rebuilt = {"configurable": {"thread_id": "2"}}
        graph.bulk_update_state(rebuilt, [[u] for u in turn + turn])
        out.append(snap(graph.get_state(rebuilt)))
        out.append([snap(s) for s in graph.get_state_history(ran)])
        out.append([snap(s) for s in graph.get_state_history(rebuilt)])
        return out

    return scenario


class Tasks(TypedDict):
    foo: str
    tasks: Annotated[list[int], operator.add]


def batch_update_as_input(lib: Lib, saver: Any) -> Any:
    """LangGraph's ``test_batch_update_as_input``: a node's ``Command`` sends three tasks; the run rebuilt by
    ``bulk_update_state``, the ``Command`` as an update and the three sent tasks' updates in one superstep."""

    def fan(state: Tasks) -> Any:
        return lib.Command(goto=[lib.Send("task", {"index": i}) for i in range(3)], update={"foo": "map"})

    graph = (
        lib.StateGraph(Tasks)
        .add_node("agent", lambda state: {"foo": "agent"})
        .add_node("map", fan, destinations=("task",))
        .add_node("task", lambda state: {"tasks": [state["index"]]})
        .add_edge(lib.START, "agent")
        .add_edge("agent", "map")
        .compile(checkpointer=saver)
    )
    ran = {"configurable": {"thread_id": "1"}}
    out = [graph.invoke({"foo": "input"}, ran)]
    rebuilt = {"configurable": {"thread_id": "2"}}
    command = lib.Command(goto=[lib.Send("task", {"index": i}) for i in range(3)], update={"foo": "map"})
    graph.bulk_update_state(
        rebuilt,
        [
            [lib.StateUpdate({"foo": "input"}, "__input__")],
            [lib.StateUpdate({"foo": "input"}, "__start__")],
            [lib.StateUpdate({"foo": "agent", "tasks": []}, "agent")],
            [lib.StateUpdate(command, "map")],
            [lib.StateUpdate({"tasks": [i]}, "task") for i in range(3)],
        ],
    )
    out.append(snap(graph.get_state(rebuilt)))
    out.append([snap(s) for s in graph.get_state_history(ran)])
    out.append([snap(s) for s in graph.get_state_history(rebuilt)])
    return out


def supersteps_task_results(lib: Lib, saver: Any) -> Any:
    """The ``bulk_update_state`` half of LangGraph's ``test_supersteps_populate_task_results``: an input of
    ``{}``, then ``__start__`` and the node, each task's result in the history."""
    graph = lib.StateGraph(Doubled).add_node("double", lambda state: {"num": 0, "text": ""})
    graph = graph.add_edge(lib.START, "double").add_edge("double", lib.END).compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "bulk"}}
    graph.bulk_update_state(
        config,
        [
            [lib.StateUpdate(values={}, as_node="__input__")],
            [lib.StateUpdate(values={"num": 1, "text": "one"}, as_node="__start__")],
            [lib.StateUpdate(values={"num": 2, "text": "oneone"}, as_node="double")],
        ],
    )
    return [snap(s) for s in graph.get_state_history(config)]


class Log(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    last: str


def single_updates(lib: Lib, saver: Any) -> Any:
    """``update_state`` as LangGraph's: a ``Command`` as the values (its ``goto`` followed), a ``task_id``,
    ``(None, END)`` on a thread that paused mid-step, a ``"__copy__"`` with updates, and an update of an older
    checkpoint (a fork: its writes are not saved against that checkpoint)."""
    graph = (
        lib.StateGraph(Log)
        .add_node("a", lambda state: {"log": ["a"]})
        .add_node("b", lambda state: {"log": ["b"], "last": lib.interrupt("b?")})
        .add_node("c", lambda state: {"log": ["c"]})
        .add_edge(lib.START, "a")
        .add_edge(lib.START, "b")
        .add_edge("a", "c")
        .compile(checkpointer=saver)
    )
    config = {"configurable": {"thread_id": "1"}}
    out: list[Any] = [graph.invoke({"log": ["in"]}, config)]
    out.append(snap(graph.get_state(config)))
    graph.update_state(config, None, "__end__")
    out.append(snap(graph.get_state(config)))
    graph.update_state(config, lib.Command(update={"log": ["cmd"]}, goto="c"), "a", task_id="my-task")
    out.append(snap(graph.get_state(config)))
    out.append(graph.invoke(None, config))
    first = list(graph.get_state_history(config))[-2].config
    forked = graph.update_state(first, {"log": ["fork"]}, "a")
    out.append(snap(graph.get_state(forked)))
    out.append(snap(graph.get_state(first)))
    copied = graph.update_state(first, [({"log": ["copy a"]}, "a"), ({"log": ["copy b"]}, "b")], "__copy__")
    out.append(snap(graph.get_state(copied)))
    out.append([snap(s) for s in graph.get_state_history(config)])
    return out


SCENARIOS = [
    pytest.param(bulk_state_updates, id="bulk-state-updates"),
    pytest.param(update_as_input("sync"), id="update-as-input-sync"),
    pytest.param(update_as_input("async"), id="update-as-input-async"),
    pytest.param(update_as_input("exit"), id="update-as-input-exit"),
    pytest.param(batch_update_as_input, id="batch-update-as-input"),
    pytest.param(supersteps_task_results, id="supersteps-populate-task-results"),
    pytest.param(single_updates, id="update-state-variants"),
]


@pytest.mark.parametrize("kind", SAVERS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_update_cases(lib: Lib, kind: str, tmp_path: Path, scenario: Callable[[Lib, Any], Any]) -> None:
    got, expected = both(lib, kind, tmp_path, scenario)
    assert got == expected


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["memory"])
async def test_abulk_update_state(lib: Lib, kind: str, tmp_path: Path) -> None:
    """The async twins give the same history."""

    async def scenario(lib: Lib, saver: Any) -> Any:
        graph = two_nodes(lib, saver)
        config = {"configurable": {"thread_id": "1"}}
        await graph.abulk_update_state(
            config,
            [
                [lib.StateUpdate({"foo": "input"}, "__input__")],
                [lib.StateUpdate({"foo": "a"}, "node_a"), lib.StateUpdate({"baz": "b"}, "node_b")],
            ],
        )
        await graph.aupdate_state(config, {"baz": "c"}, "node_b")
        return [snap(s) async for s in graph.aget_state_history(config)]

    from .conftest import normalise, reference

    langgraph = reference()
    expected = normalise(await scenario(langgraph, langgraph.InMemorySaver()))
    assert normalise(await scenario(lib, lib.InMemorySaver())) == expected
