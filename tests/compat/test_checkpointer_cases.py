"""Graphs compiled with a checkpointer, on LangGraph and on streamflow, each with its own savers (in memory
and SQLite): the same threads give equal results, state snapshots, histories and ``checkpoints``/``debug``
chunks once normalised (checkpoint and task ids, which are new each run, become ``<volatile>`` or
``<idN>`` in order of first appearance, so an id that reappears must reappear in the same places).

Reproduces LangGraph's ``test_checkpoint_recovery``, ``test_run_from_checkpoint_id_retains_previous_writes``,
``test_checkpoint_errors`` and the runs of ``test_supersteps_populate_task_results`` and the debug tests
that need no ``update_state``, interrupts or ``Command``; the rest is listed in ``REVIEW.md``."""

from __future__ import annotations

import asyncio
import contextlib
import operator
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, TypedDict

import pytest

from .conftest import Lib, normalise, reference

SAVERS = ("memory", "sqlite")
THREAD = {"configurable": {"thread_id": "1"}}


@contextlib.contextmanager
def open_saver(lib: Lib, kind: str, where: Path) -> Iterator[Any]:
    """A new saver of ``lib``: in memory, or SQLite in a new file under ``where``."""
    if kind == "memory":
        yield lib.InMemorySaver()
        return
    where.mkdir(parents=True, exist_ok=True)
    with lib.SqliteSaver.from_conn_string(str(where / "threads.db")) as saver:
        yield saver


def snap(snapshot: Any) -> dict[str, Any]:
    """A state snapshot as plain data (its time left out; next tasks sorted, see :func:`sorted_tasks`)."""
    return {
        "values": snapshot.values,
        "next": tuple(sorted(snapshot.next)),
        "config": snapshot.config,
        "metadata": snapshot.metadata,
        "parent_config": snapshot.parent_config,
        "tasks": sorted_tasks([task_data(task) for task in snapshot.tasks]),
        "interrupts": snapshot.interrupts,
    }


def task_data(task: Any) -> dict[str, Any]:
    """A snapshot's task as plain data (a subgraph's snapshot in its ``state`` too)."""
    data = dict(task._asdict())
    if hasattr(data["state"], "_asdict"):
        data["state"] = snap(data["state"])
    return data


def sorted_tasks(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``tasks`` by name and path: LangGraph lists the tasks of one step in the order of a set of node
    names (it changes from one process to the next), so only the set is compared."""
    return sorted(tasks, key=lambda task: (task["name"], repr(task.get("path"))))


def checkpoint_chunk(chunk: dict[str, Any]) -> dict[str, Any]:
    return {**chunk, "next": sorted(chunk["next"]), "tasks": sorted_tasks(chunk["tasks"])}


def chunk_without_time(chunk: Any) -> Any:
    """A stream chunk with a debug chunk's time left out and a checkpoint's tasks sorted."""
    if isinstance(chunk, tuple) and len(chunk) == 2 and chunk[0] == "debug":
        payload = chunk[1]["payload"]
        if chunk[1]["type"] == "checkpoint":
            payload = checkpoint_chunk(payload)
        return ("debug", {**{k: v for k, v in chunk[1].items() if k != "timestamp"}, "payload": payload})
    if isinstance(chunk, tuple) and len(chunk) == 2 and chunk[0] == "checkpoints":
        return ("checkpoints", checkpoint_chunk(chunk[1]))
    return chunk


def both(lib: Lib, kind: str, tmp_path: Path, scenario: Callable[[Lib, Any], Any]) -> tuple[Any, Any]:
    """The normalised outputs of ``scenario`` on ``lib`` and on LangGraph, each with a new saver."""
    with open_saver(reference(), kind, tmp_path / "reference") as saver:
        expected = normalise(scenario(reference(), saver))
    with open_saver(lib, kind, tmp_path / lib.name) as saver:
        got = normalise(scenario(lib, saver))
    return got, expected


class Steps(TypedDict):
    steps: Annotated[list[str], operator.add]
    attempt: int


def recovery(durability: str) -> Callable[[Lib, Any], Any]:
    """LangGraph's ``test_checkpoint_recovery``: a node fails, the state keeps its error, a new input
    retries."""

    def scenario(lib: Lib, saver: Any) -> Any:
        def failing_node(state: Steps) -> Any:
            if state["attempt"] == 1:
                raise RuntimeError("Simulated failure")
            return {"steps": ["node1"]}

        def second_node(state: Steps) -> Any:
            return {"steps": ["node2"]}

        builder = lib.StateGraph(Steps).add_node("node1", failing_node).add_node("node2", second_node)
        graph = builder.add_edge(lib.START, "node1").add_edge("node1", "node2").compile(checkpointer=saver)
        out: list[Any] = []
        with pytest.raises(RuntimeError, match="Simulated failure"):
            graph.invoke({"steps": ["start"], "attempt": 1}, THREAD, durability=durability)
        out.append(snap(graph.get_state(THREAD)))
        out.append(graph.invoke({"steps": [], "attempt": 2}, THREAD, durability=durability))
        out.append([snap(s) for s in graph.get_state_history(THREAD)])
        saver.delete_thread("1")
        out.append([snap(s) for s in graph.get_state_history(THREAD)])
        return out

    return scenario


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
@pytest.mark.parametrize("kind", SAVERS)
def test_checkpoint_recovery(lib: Lib, kind: str, durability: str, tmp_path: Path) -> None:
    got, expected = both(lib, kind, tmp_path, recovery(durability))
    assert got == expected


class Flip(TypedDict, total=False):
    myval: Annotated[int, operator.add]
    otherval: bool


def from_checkpoint_id(lib: Lib, saver: Any) -> Any:
    """LangGraph's ``test_run_from_checkpoint_id_retains_previous_writes``: time travel to an older
    checkpoint forks the thread and runs its tasks again."""

    class Anode:
        def __init__(self) -> None:
            self.switch = False

        def __call__(self, state: Flip) -> Any:
            self.switch = not self.switch
            return {"myval": 2 if self.switch else 1, "otherval": self.switch}

    builder = lib.StateGraph(Flip)
    node = Anode()
    builder.add_node("node_one", node).add_node("node_two", node).add_edge(lib.START, "node_one")

    def edge(src: str) -> Callable[[Flip], Any]:
        swap = "node_one" if src == "node_two" else "node_two"

        def route(state: Flip) -> Literal["__end__", "node_one", "node_two"]:
            if state["myval"] > 3:
                return "__end__"
            return swap if state["otherval"] else src  # type: ignore[return-value]

        return route

    builder.add_conditional_edges("node_one", edge("node_one"))
    builder.add_conditional_edges("node_two", edge("node_two"))
    graph = builder.compile(checkpointer=saver)
    out: list[Any] = [graph.invoke({"myval": 1}, THREAD, durability="async")]
    history = list(graph.get_state_history(THREAD))
    out.append([snap(s) for s in history])
    out.append(graph.invoke(None, history[1].config))
    out.append([snap(s) for s in graph.get_state_history(THREAD)])
    return out


@pytest.mark.parametrize("kind", SAVERS)
def test_run_from_checkpoint_id_retains_previous_writes(lib: Lib, kind: str, tmp_path: Path) -> None:
    got, expected = both(lib, kind, tmp_path, from_checkpoint_id)
    assert got == expected


class Doubled(TypedDict):
    num: int
    text: str


def task_results(lib: Lib, saver: Any) -> Any:
    """The run of LangGraph's ``test_supersteps_populate_task_results`` (its ``bulk_update_state`` half is
    not reproduced): every snapshot's tasks hold what they wrote."""

    def double(state: Doubled) -> Any:
        return {"num": state["num"] * 2, "text": state["text"] * 2}

    graph = lib.StateGraph(Doubled).add_node("double", double).add_edge(lib.START, "double")
    graph = graph.add_edge("double", lib.END).compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "ref"}}
    graph.invoke({"num": 1, "text": "one"}, config)
    return [snap(s) for s in graph.get_state_history(config)]


@pytest.mark.parametrize("kind", SAVERS)
def test_supersteps_populate_task_results(lib: Lib, kind: str, tmp_path: Path) -> None:
    got, expected = both(lib, kind, tmp_path, task_results)
    assert got == expected


def streamed(modes: list[str]) -> Callable[[Lib, Any], Any]:
    """Two runs on one thread streaming ``modes``: checkpoints continue the thread's steps."""

    def scenario(lib: Lib, saver: Any) -> Any:
        def first(state: Steps) -> Any:
            return {"steps": ["first"]}

        def second(state: Steps) -> Any:
            return {"steps": ["second"], "attempt": 1}

        graph = lib.StateGraph(Steps).add_sequence([first, second]).add_edge(lib.START, "first")
        graph = graph.compile(checkpointer=saver)
        config = {**THREAD, "metadata": {"user": "ann"}, "tags": ["t"]}
        out = [chunk_without_time(c) for c in graph.stream({"steps": ["a"]}, config, stream_mode=modes)]
        out += [chunk_without_time(c) for c in graph.stream({"steps": ["b"]}, THREAD, stream_mode=modes)]
        return out

    return scenario


@pytest.mark.parametrize("modes", [["checkpoints"], ["debug"], ["checkpoints", "values", "updates", "tasks"]])
@pytest.mark.parametrize("kind", SAVERS)
def test_checkpoints_and_debug_modes(lib: Lib, kind: str, modes: list[str], tmp_path: Path) -> None:
    got, expected = both(lib, kind, tmp_path, streamed(modes))
    assert got == expected


class Fan(TypedDict, total=False):
    items: Annotated[list[str], operator.add]
    done: str


def fan_in_and_send(lib: Lib, saver: Any) -> Any:
    """A fan-in edge and ``Send`` packets in checkpoints: the ``checkpoints`` chunks and the last state."""

    def split(state: Fan) -> Any:
        return {"items": ["split"]}

    def side(state: Fan) -> Any:
        return {"items": ["side"]}

    def worker(arg: Any) -> Any:
        return {"items": [f"worker {arg}"]}

    def join(state: Fan) -> Any:
        return {"done": "yes"}

    builder = lib.StateGraph(Fan).add_node("split", split).add_node("side", side).add_node("worker", worker)
    builder.add_node("join", join).add_edge(lib.START, "split").add_edge(lib.START, "side")
    builder.add_conditional_edges("split", lambda s: [lib.Send("worker", n) for n in (1, 2)])
    builder.add_edge(["worker", "side"], "join")
    graph = builder.compile(checkpointer=saver)
    chunks = [checkpoint_chunk(c) for c in graph.stream({"items": []}, THREAD, stream_mode="checkpoints")]
    # not the history: LangGraph's own lists a fan-in's target among the next tasks of the step before, or not,
    # from one run to the next on SQLite (its string channel versions end in a random fraction)
    return [chunks, snap(graph.get_state(THREAD))]


@pytest.mark.parametrize("kind", SAVERS)
def test_fan_in_and_send_checkpoints(lib: Lib, kind: str, tmp_path: Path) -> None:
    got, expected = both(lib, kind, tmp_path, fan_in_and_send)
    assert got == expected


def finished_siblings(lib: Lib, saver: Any) -> Any:
    """A step whose one task fails after its sibling finished: the sibling's writes are kept, and a resume
    (input None) runs the failed task only."""
    calls: list[str] = []
    failing = [True]

    async def run() -> Any:
        steady_done = asyncio.Event()

        async def steady(state: Fan) -> Any:
            calls.append("steady")
            steady_done.set()
            return {"items": ["steady"]}

        async def flaky(state: Fan) -> Any:
            await steady_done.wait()
            calls.append("flaky")
            if failing[0]:
                raise RuntimeError("flaky failed")
            return {"items": ["flaky"]}

        async def after(state: Fan) -> Any:
            calls.append("after")
            return {"done": "after"}

        builder = lib.StateGraph(Fan).add_node("steady", steady).add_node("flaky", flaky).add_node("after", after)
        builder.add_edge(lib.START, "steady").add_edge(lib.START, "flaky").add_edge(["steady", "flaky"], "after")
        graph = builder.compile(checkpointer=saver)
        out: list[Any] = []
        with pytest.raises(RuntimeError, match="flaky failed"):
            await graph.ainvoke({"items": ["in"]}, THREAD)
        out.append(snap(await graph.aget_state(THREAD)))
        failing[0] = False
        calls.clear()
        out.append(await graph.ainvoke(None, THREAD))
        out.append(list(calls))
        out.append([snap(s) async for s in graph.aget_state_history(THREAD)])
        return out

    return asyncio.run(run())


def test_finished_siblings_are_not_run_again(lib: Lib, tmp_path: Path) -> None:
    got, expected = both(lib, "memory", tmp_path, finished_siblings)
    assert got == expected


def thread_errors(lib: Lib, saver: Any) -> Any:
    """No ``thread_id``; no input on a new thread; a thread without checkpoints; an unknown checkpoint id."""
    graph = lib.StateGraph(Steps).add_node("n", lambda s: {"steps": ["n"]}).add_edge(lib.START, "n")
    graph = graph.compile(checkpointer=saver)
    out: list[Any] = []
    for call in (
        lambda: graph.invoke({"steps": []}),
        lambda: graph.invoke({"steps": []}, {"configurable": {}}),
        lambda: graph.invoke(None, {"configurable": {"thread_id": "new"}}),
    ):
        try:
            call()  # type: ignore[no-untyped-call]
        except Exception as exc:
            # streamflow's ValueError here is its InvalidArgumentError (a ValueError subclass)
            out.append((str(exc), isinstance(exc, ValueError), type(exc).__name__ == "EmptyInputError"))
    out.append(snap(graph.get_state({"configurable": {"thread_id": "nobody"}})))
    out.append(graph.invoke({"steps": ["x"]}, {"configurable": {"thread_id": "1", "checkpoint_id": "no-such-id"}}))
    out.append(graph.invoke(None, THREAD))
    out.append(len(list(graph.get_state_history(THREAD))))
    return out


@pytest.mark.parametrize("kind", SAVERS)
def test_thread_errors(lib: Lib, kind: str, tmp_path: Path) -> None:
    got, expected = both(lib, kind, tmp_path, thread_errors)
    assert got == expected


def faulty_savers(lib: Lib, saver: Any) -> Any:
    """LangGraph's ``test_checkpoint_errors``: what a saver raises reaches the caller unchanged."""

    class FaultyGet(lib.InMemorySaver):  # type: ignore[name-defined,misc]
        def get_tuple(self, config: Any) -> Any:
            raise ValueError("Faulty get_tuple")

    class FaultyPut(lib.InMemorySaver):  # type: ignore[name-defined,misc]
        def put(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any = None) -> Any:
            raise ValueError("Faulty put")

    class FaultyPutWrites(lib.InMemorySaver):  # type: ignore[name-defined,misc]
        def put_writes(self, config: Any, writes: Any, task_id: str, task_path: str = "") -> Any:
            raise ValueError("Faulty put_writes")

    class FaultyVersion(lib.InMemorySaver):  # type: ignore[name-defined,misc]
        def get_next_version(self, current: Any, channel: Any = None) -> Any:
            raise ValueError("Faulty get_next_version")

    def logic(state: str) -> str:
        return ""

    builder = lib.StateGraph(Annotated[str, operator.add]).add_node("agent", logic).add_edge(lib.START, "agent")
    out: list[Any] = []
    for faulty in (FaultyGet, FaultyPut, FaultyVersion):
        with pytest.raises(ValueError) as caught:
            builder.compile(checkpointer=faulty()).invoke("", THREAD)
        out.append(str(caught.value))
    builder.add_node("parallel", logic).add_edge(lib.START, "parallel")
    with pytest.raises(ValueError) as caught:
        builder.compile(checkpointer=FaultyPutWrites()).invoke("", THREAD, durability="async")
    out.append(str(caught.value))
    return out


def test_checkpoint_errors(lib: Lib, tmp_path: Path) -> None:
    got, expected = both(lib, "memory", tmp_path, faulty_savers)
    assert got == expected


class Counted(TypedDict):
    value: Annotated[int, operator.add]


def fork_by_update(lib: Lib, saver: Any) -> Any:
    """LangGraph's ``test_fork_does_not_apply_pending_writes``: ``update_state`` on an old checkpoint as the
    node that ran next forks the thread; the writes that node made then are not applied again."""
    graph = (
        lib.StateGraph(Counted).add_node("node_a", lambda s: {"value": 10}).add_node("node_b", lambda s: {"value": 100})
    )
    graph = graph.add_edge(lib.START, "node_a").add_edge("node_a", "node_b").compile(checkpointer=saver)
    graph.invoke({"value": 1}, THREAD)
    before_a = next(s for s in graph.get_state_history(THREAD) if s.next == ("node_a",))
    fork_config = graph.update_state(before_a.config, {"value": 20}, as_node="node_a")
    return [fork_config, graph.invoke(None, fork_config), [snap(s) for s in graph.get_state_history(THREAD)]]


@pytest.mark.parametrize("kind", SAVERS)
def test_fork_does_not_apply_pending_writes(lib: Lib, kind: str, tmp_path: Path) -> None:
    got, expected = both(lib, kind, tmp_path, fork_by_update)
    assert got == expected


def updates(lib: Lib, saver: Any) -> Any:
    """``update_state`` on a new thread (as ``START``), after a run (as the last node to write), as a named
    node (its successors run next), and with an unknown node; then ``invoke(None)`` goes on."""

    def a(state: Steps) -> Any:
        return {"steps": ["a"]}

    def b(state: Steps) -> Any:
        return {"steps": ["b"], "attempt": 1}

    graph = lib.StateGraph(Steps).add_node("a", a).add_node("b", b).add_edge(lib.START, "a").add_edge("a", "b")
    graph = graph.compile(checkpointer=saver)
    out: list[Any] = [sorted(graph.update_state(THREAD, {"steps": ["u0"]})["configurable"])]
    out.append(snap(graph.get_state(THREAD)))
    out.append(graph.invoke(None, THREAD))
    graph.update_state(THREAD, {"steps": ["u1"]})
    graph.update_state(THREAD, {"steps": ["u2"]}, as_node="a")
    out.append(snap(graph.get_state(THREAD)))
    out.append(graph.invoke(None, THREAD))
    with pytest.raises(Exception) as caught:
        graph.update_state(THREAD, {"steps": ["u3"]}, as_node="zz")
    out.append((type(caught.value).__name__, str(caught.value)))
    out.append([snap(s) for s in graph.get_state_history(THREAD)])
    return out


@pytest.mark.parametrize("kind", SAVERS)
def test_update_state(lib: Lib, kind: str, tmp_path: Path) -> None:
    got, expected = both(lib, kind, tmp_path, updates)
    assert got == expected


def ambiguous_update(lib: Lib, saver: Any) -> Any:
    """Two nodes wrote the last checkpoint: ``update_state`` without ``as_node`` is refused."""
    builder = lib.StateGraph(Fan).add_node("x", lambda s: {"items": ["x"]}).add_node("y", lambda s: {"items": ["y"]})
    graph = builder.add_edge(lib.START, "x").add_edge(lib.START, "y").compile(checkpointer=saver)
    graph.invoke({"items": []}, THREAD)
    with pytest.raises(Exception) as caught:
        graph.update_state(THREAD, {"items": ["z"]})
    return (type(caught.value).__name__, str(caught.value))


def test_ambiguous_update(lib: Lib, tmp_path: Path) -> None:
    got, expected = both(lib, "memory", tmp_path, ambiguous_update)
    assert got == expected


def debug_retry(lib: Lib, saver: Any) -> Any:
    """LangGraph's ``test_debug_retry``: ``update_state(values=None)`` on the checkpoint before step 1, then
    a ``debug`` stream from it: its checkpoint records are the ones the history lists."""

    def node(name: str) -> Callable[[Steps], Any]:
        return lambda state: {"steps": [f"entered {name} node"]}

    builder = lib.StateGraph(Steps).add_node("one", node("one")).add_node("two", node("two"))
    graph = builder.add_edge(lib.START, "one").add_edge("one", "two").add_edge("two", lib.END)
    graph = graph.compile(checkpointer=saver)
    graph.invoke({"steps": []}, THREAD, durability="async")
    target = next(c.parent_config for c in saver.list(THREAD) if c.metadata["step"] == 1)
    update_config = graph.update_state(target, values=None)
    events = [chunk_without_time(("debug", e))[1] for e in graph.stream(None, update_config, stream_mode="debug")]
    history = {s.config["configurable"]["checkpoint_id"]: s for s in graph.get_state_history(THREAD)}
    same = [
        (e["payload"]["config"] == history[e["payload"]["config"]["configurable"]["checkpoint_id"]].config)
        and e["payload"]["parent_config"]
        == history[e["payload"]["config"]["configurable"]["checkpoint_id"]].parent_config
        for e in events
        if e["type"] == "checkpoint"
    ]
    return [events, same, [snap(s) for s in history.values()]]


@pytest.mark.parametrize("kind", SAVERS)
def test_debug_retry(lib: Lib, kind: str, tmp_path: Path) -> None:
    got, expected = both(lib, kind, tmp_path, debug_retry)
    assert got == expected


def resumed_streams(lib: Lib, saver: Any) -> Any:
    """A resumed run (input None) streams the state and the checkpoint it resumes from first: after a
    failure, from an older checkpoint (a fork), and after ``update_state``."""
    failing = [True]

    def a(state: Steps) -> Any:
        return {"steps": ["a"]}

    def b(state: Steps) -> Any:
        if failing[0]:
            raise ValueError("b failed")
        return {"steps": ["b"]}

    graph = lib.StateGraph(Steps).add_node("a", a).add_node("b", b).add_edge(lib.START, "a").add_edge("a", "b")
    graph = graph.compile(checkpointer=saver)
    modes = ["checkpoints", "values", "updates"]
    with pytest.raises(ValueError, match="b failed"):
        graph.invoke({"steps": ["i"]}, THREAD)
    failing[0] = False
    out = [[chunk_without_time(c) for c in graph.stream(None, THREAD, stream_mode=modes)]]
    older = list(graph.get_state_history(THREAD))[2]
    out.append([chunk_without_time(c) for c in graph.stream(None, older.config, stream_mode=modes)])
    graph.update_state(THREAD, {"steps": ["u"]}, as_node="a")
    out.append([chunk_without_time(c) for c in graph.stream(None, THREAD, stream_mode=modes)])
    return out


@pytest.mark.parametrize("kind", SAVERS)
def test_resumed_streams(lib: Lib, kind: str, tmp_path: Path) -> None:
    got, expected = both(lib, kind, tmp_path, resumed_streams)
    assert got == expected


def subgraph_checkpoints(child_checkpointer: Any, nested: bool = False) -> Callable[[Lib, Any], Any]:
    """A subgraph node (in a subgraph node, with ``nested``) compiled with ``checkpointer=child_checkpointer``
    in a graph with a saver: the ``checkpoints`` and ``debug`` chunks with ``subgraphs=True`` and the
    namespaces the saver holds afterwards."""

    def scenario(lib: Lib, saver: Any) -> Any:
        def inner(state: Steps) -> Any:
            return {"steps": ["inner"]}

        sub = lib.StateGraph(Steps).add_node("inner", inner).add_edge(lib.START, "inner")
        child = sub.compile(checkpointer=child_checkpointer)
        if nested:
            middle = lib.StateGraph(Steps).add_node("child", child).add_edge(lib.START, "child")
            child = middle.compile(checkpointer=child_checkpointer)
        graph = lib.StateGraph(Steps).add_node("child", child).add_node("after", lambda s: {"attempt": 1})
        graph = graph.add_edge(lib.START, "child").add_edge("child", "after").compile(checkpointer=saver)
        chunks = [
            (ns, *chunk_without_time((mode, chunk)))
            for ns, mode, chunk in graph.stream(
                {"steps": ["i"]}, THREAD, stream_mode=["checkpoints", "debug"], subgraphs=True
            )
        ]
        stored = sorted(
            (t.config["configurable"]["checkpoint_ns"].count("|"), t.metadata["step"]) for t in saver.list(None)
        )
        return [chunks, stored, snap(graph.get_state(THREAD))]

    return scenario


@pytest.mark.parametrize("child_checkpointer", [None, False])
@pytest.mark.parametrize("nested", [False, True], ids=["subgraph", "nested-subgraphs"])
@pytest.mark.parametrize("kind", SAVERS)
def test_subgraph_checkpoints(lib: Lib, kind: str, nested: bool, child_checkpointer: Any, tmp_path: Path) -> None:
    got, expected = both(lib, kind, tmp_path, subgraph_checkpoints(child_checkpointer, nested))
    assert got == expected


@pytest.mark.parametrize("nested", [False, True], ids=["subgraph", "nested-subgraphs"])
@pytest.mark.parametrize("kind", SAVERS)
def test_subgraph_checkpointer_true(lib: Lib, kind: str, nested: bool, tmp_path: Path) -> None:
    got, expected = both(lib, kind, tmp_path, subgraph_checkpoints(True, nested))
    assert got == expected


def subgraph_true_across_runs(lib: Lib, saver: Any) -> Any:
    """A subgraph compiled with ``checkpointer=True`` keeps its state under the node's name across runs of the
    thread (LangGraph's ``test_subgraph_checkpoint_true`` without its interrupt), and cannot run as a root
    graph."""
    sub = lib.StateGraph(Steps).add_node("inner", lambda s: {"steps": ["inner"]}).add_edge(lib.START, "inner")
    child = sub.compile(checkpointer=True)
    graph = lib.StateGraph(Steps).add_node("child", child).add_edge(lib.START, "child").compile(checkpointer=saver)
    out: list[Any] = [graph.invoke({"steps": ["i"]}, THREAD)]
    out.append(list(graph.stream({"steps": ["j"]}, THREAD, stream_mode="updates", subgraphs=True)))
    out.append(graph.invoke({"steps": ["k"]}, {"configurable": {"thread_id": "2"}}))
    out.append(
        sorted(
            (t.config["configurable"]["thread_id"], t.config["configurable"]["checkpoint_ns"], t.metadata["step"])
            for t in saver.list(None)
        )
    )
    with pytest.raises(RuntimeError) as caught:
        child.invoke({"steps": ["root"]})
    out.append(str(caught.value))
    return out


@pytest.mark.parametrize("kind", SAVERS)
def test_subgraph_checkpointer_true_across_runs(lib: Lib, kind: str, tmp_path: Path) -> None:
    got, expected = both(lib, kind, tmp_path, subgraph_true_across_runs)
    assert got == expected


def debug_subgraphs(durability: str, nested: bool) -> Callable[[Lib, Any], Any]:
    """LangGraph's ``test_debug_subgraphs`` (``nested``: ``test_debug_nested_subgraphs``): the debug stream's
    checkpoint records of the root graph are the history's, task for task."""

    def scenario(lib: Lib, saver: Any) -> Any:
        def node(name: str) -> Callable[[Steps], Any]:
            return lambda state: {"steps": [f"entered {name} node"]}

        def two_steps(prefix: str, second: Any) -> Any:
            builder = lib.StateGraph(Steps).add_node(f"{prefix}_one", node(f"{prefix}_one"))
            builder.add_node(f"{prefix}_two", second).add_edge(lib.START, f"{prefix}_one")
            return builder.add_edge(f"{prefix}_one", f"{prefix}_two").add_edge(f"{prefix}_two", lib.END)

        child: Any = two_steps("c", node("c_two")).compile()
        if nested:
            child = two_steps("m", child).compile()
        graph = two_steps("p", child).compile(checkpointer=saver)
        events = [
            {k: v for k, v in e.items() if k != "timestamp"}
            for e in graph.stream({"steps": []}, THREAD, stream_mode="debug", durability=durability)
        ]
        records = list(reversed([e["payload"] for e in events if e["type"] == "checkpoint"]))
        history = list(graph.get_state_history(THREAD))
        same = [
            (
                record["values"] == snapshot.values,
                record["next"] == list(snapshot.next),
                record["config"]["configurable"] == snapshot.config["configurable"],
                [(t["id"], t["name"], t.get("state")) for t in record["tasks"]]
                == [(t.id, t.name, t.state) for t in snapshot.tasks],
            )
            for record, snapshot in zip(records, history, strict=False)
        ]
        return [events, same, len(history), [snap(s) for s in history]]

    return scenario


@pytest.mark.parametrize("nested", [False, True], ids=["subgraphs", "nested-subgraphs"])
@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
@pytest.mark.parametrize("kind", SAVERS)
def test_debug_subgraphs(lib: Lib, kind: str, durability: str, nested: bool, tmp_path: Path) -> None:
    got, expected = both(lib, kind, tmp_path, debug_subgraphs(durability, nested))
    assert got == expected


class Inner(TypedDict, total=False):
    my_key: Annotated[str, operator.add]
    my_other_key: str


class Outer(TypedDict):
    my_key: str


def durability_inherited(durability: str) -> Callable[[Lib, Any], Any]:
    """LangGraph's ``test_subgraph_durability_inherited``: a subgraph compiled with the parent's saver, run
    twice; what the saver holds afterwards, by namespace depth and step."""

    def scenario(lib: Lib, saver: Any) -> Any:
        inner = lib.StateGraph(Inner)
        inner.add_node("inner_1", lambda s: {"my_key": " got here", "my_other_key": s["my_key"]})
        inner.add_node("inner_2", lambda s: {"my_key": " and there"})
        inner.add_edge("inner_1", "inner_2").set_entry_point("inner_1").set_finish_point("inner_2")
        graph = lib.StateGraph(Outer).add_node("inner", inner.compile(checkpointer=saver))
        graph.add_edge(lib.START, "inner")
        graph.add_conditional_edges("inner", lambda s: "inner" if s["my_key"].count("there") < 2 else lib.END)
        app = graph.compile(checkpointer=saver)
        result = app.invoke({"my_key": ""}, THREAD, durability=durability)
        stored = sorted(
            (bool(t.config["configurable"]["checkpoint_ns"]), t.metadata["step"]) for t in saver.list(THREAD)
        )
        return [result, stored]

    return scenario


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
def test_subgraph_durability_inherited(lib: Lib, durability: str, tmp_path: Path) -> None:
    got, expected = both(lib, "memory", tmp_path, durability_inherited(durability))
    assert got == expected


def subgraph_resume(lib: Lib, saver: Any) -> Any:
    """A subgraph's second node fails; the resumed run resumes the subgraph from its own checkpoint (its first
    node does not run again), streaming with ``subgraphs=True``; then a resume of the finished thread."""
    calls: list[str] = []
    failing = [True]

    def one(state: Steps) -> Any:
        calls.append("one")
        return {"steps": ["one"]}

    def two(state: Steps) -> Any:
        calls.append("two")
        if failing[0]:
            raise ValueError("two failed")
        return {"steps": ["two"]}

    sub = lib.StateGraph(Steps).add_node("one", one).add_node("two", two).add_edge(lib.START, "one")
    child = sub.add_edge("one", "two").compile()
    graph = lib.StateGraph(Steps).add_node("child", child).add_edge(lib.START, "child").compile(checkpointer=saver)
    modes = ["values", "updates", "checkpoints"]
    with pytest.raises(ValueError, match="two failed"):
        graph.invoke({"steps": ["i"]}, THREAD)
    failing[0] = False
    resumed = [
        (ns, *chunk_without_time((m, c))) for ns, m, c in graph.stream(None, THREAD, stream_mode=modes, subgraphs=True)
    ]
    again = [chunk_without_time(c) for c in graph.stream(None, THREAD, stream_mode=modes)]
    return [list(calls), resumed, again, snap(graph.get_state(THREAD))]


@pytest.mark.parametrize("kind", SAVERS)
def test_subgraph_resumes_from_its_checkpoint(lib: Lib, kind: str, tmp_path: Path) -> None:
    got, expected = both(lib, kind, tmp_path, subgraph_resume)
    assert got == expected


def v2_parts(lib: Lib, saver: Any) -> Any:
    """``version="v2"`` parts of the ``checkpoints`` and ``values`` modes with a checkpointer, and ``invoke``
    with ``version="v2"``."""
    graph = lib.StateGraph(Steps).add_node("n", lambda s: {"steps": ["n"]}).add_edge(lib.START, "n")
    graph = graph.compile(checkpointer=saver)
    parts = list(graph.stream({"steps": ["a"]}, THREAD, stream_mode=["checkpoints", "values"], version="v2"))
    output = graph.invoke({"steps": ["b"]}, THREAD, version="v2")
    return [
        [{**p, "data": checkpoint_chunk(p["data"])} if p["type"] == "checkpoints" else p for p in parts],
        output.value,
    ]


@pytest.mark.parametrize("kind", SAVERS)
def test_v2_parts(lib: Lib, kind: str, tmp_path: Path) -> None:
    got, expected = both(lib, kind, tmp_path, v2_parts)
    assert got == expected


def subgraph_states(lib: Lib, saver: Any) -> Any:
    """``get_state(subgraphs=True)`` after a failure inside a nested subgraph: each level's snapshot in its
    task's ``state``; without ``subgraphs``, the subgraph's checkpoint config."""
    failing = [True]

    def two(state: Steps) -> Any:
        if failing[0]:
            raise ValueError("two failed")
        return {"steps": ["two"]}

    inner = lib.StateGraph(Steps).add_node("one", lambda s: {"steps": ["one"]}).add_node("two", two)
    inner_graph = inner.add_edge(lib.START, "one").add_edge("one", "two").compile()
    middle = lib.StateGraph(Steps).add_node("inner", inner_graph).add_edge(lib.START, "inner").compile()
    graph = lib.StateGraph(Steps).add_node("middle", middle).add_edge(lib.START, "middle").compile(checkpointer=saver)
    with pytest.raises(ValueError, match="two failed"):
        graph.invoke({"steps": ["i"]}, THREAD)
    out = [snap(graph.get_state(THREAD, subgraphs=True)), snap(graph.get_state(THREAD))]
    out.append(snap(asyncio.run(graph.aget_state(THREAD, subgraphs=True))))
    failing[0] = False
    out.append(graph.invoke(None, THREAD))
    out.append(snap(graph.get_state(THREAD, subgraphs=True)))
    return out


@pytest.mark.parametrize("kind", ["memory"])  # LangGraph's SqliteSaver has no async methods (aget_state)
def test_get_state_with_subgraphs(lib: Lib, kind: str, tmp_path: Path) -> None:
    got, expected = both(lib, kind, tmp_path, subgraph_states)
    assert got == expected
