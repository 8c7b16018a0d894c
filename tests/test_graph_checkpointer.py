"""Graphs compiled with a checkpointer: threads, checkpoints per superstep, pending writes, state snapshots,
and the errors for bad input."""

from __future__ import annotations

import asyncio
import itertools
import operator
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from streamflow.checkpoint.base import ERROR, INTERRUPT, RESUME, BaseCheckpointSaver
from streamflow.checkpoint.memory import InMemorySaver
from streamflow.checkpoint.sqlite import SqliteSaver
from streamflow.errors import CheckpointSerializationError, EmptyInputError, InvalidArgumentError, InvalidUpdateError
from streamflow.graph import START, CompiledStateGraph, StateGraph
from streamflow.graph.specs import referenced_graph
from streamflow.graph.task_writes import NO_WRITES, NULL_TASK_ID, folded_writes, task_statuses
from streamflow.types import Command, PregelTask, Send, StateSnapshot, interrupt


class State(TypedDict, total=False):
    items: Annotated[list[str], operator.add]
    last: str


def _config(thread: str = "t1", **extra: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread, **extra}}


@pytest.fixture(params=["memory", "sqlite"])
def saver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BaseCheckpointSaver[Any]]:
    if request.param == "memory":
        yield InMemorySaver()
        return
    with SqliteSaver.from_conn_string(str(tmp_path / "threads.db")) as sqlite:
        yield sqlite


def _two_steps(saver: BaseCheckpointSaver[Any]) -> CompiledStateGraph:
    def first(state: State) -> State:
        return {"items": ["first"], "last": "first"}

    def second(state: State) -> State:
        return {"items": ["second"], "last": "second"}

    builder = StateGraph(State).add_sequence([first, second]).add_edge(START, "first")
    return builder.compile(checkpointer=saver)


def test_a_run_needs_a_thread_id(saver: BaseCheckpointSaver[Any]) -> None:
    graph = _two_steps(saver)
    with pytest.raises(ValueError, match="Checkpointer requires one or more of the following 'configurable' keys"):
        graph.invoke({"items": ["in"]})
    with pytest.raises(InvalidArgumentError, match="thread_id"):
        graph.invoke({"items": ["in"]}, {"configurable": {}})


def test_a_run_continues_the_threads_state_through_the_reducers(saver: BaseCheckpointSaver[Any]) -> None:
    graph = _two_steps(saver)
    assert graph.invoke({"items": ["a"]}, _config()) == {"items": ["a", "first", "second"], "last": "second"}
    assert graph.invoke({"items": ["b"]}, _config()) == {
        "items": ["a", "first", "second", "b", "first", "second"],
        "last": "second",
    }
    assert graph.invoke({"items": ["c"]}, _config("other")) == {"items": ["c", "first", "second"], "last": "second"}


def test_checkpoints_per_superstep_with_langgraphs_metadata(saver: BaseCheckpointSaver[Any]) -> None:
    graph = _two_steps(saver)
    graph.invoke({"items": ["a"]}, {**_config(), "metadata": {"user": "ann"}})
    history = list(graph.get_state_history(_config()))
    assert [(s.metadata or {}).get("source") for s in history] == ["loop", "loop", "loop", "input"]
    assert [(s.metadata or {}).get("step") for s in history] == [2, 1, 0, -1]
    assert all((s.metadata or {}).get("user") == "ann" and (s.metadata or {}).get("parents") == {} for s in history)
    assert [s.next for s in history] == [(), ("second",), ("first",), ("__start__",)]
    assert history[-1].values == {"items": []}
    assert history[-1].parent_config is None
    for newer, older in itertools.pairwise(history):
        assert newer.parent_config == older.config
    # the next run goes on counting steps
    graph.invoke({"items": ["b"]}, _config())
    assert [(s.metadata or {}).get("step") for s in graph.get_state_history(_config(), limit=4)] == [6, 5, 4, 3]


def test_get_state_gives_a_snapshot_with_task_results(saver: BaseCheckpointSaver[Any]) -> None:
    graph = _two_steps(saver)
    graph.invoke({"items": ["a"]}, _config())
    latest = graph.get_state(_config())
    assert isinstance(latest, StateSnapshot)
    assert latest.values == {"items": ["a", "first", "second"], "last": "second"}
    assert latest.next == () and latest.tasks == () and latest.interrupts == ()
    assert latest.created_at is not None
    middle = next(graph.get_state_history(_config(), filter={"step": 1}))
    assert middle.next == ("second",)
    (task,) = middle.tasks
    assert isinstance(task, PregelTask)
    assert (task.name, task.path, task.error, task.result) == (
        "second",
        ("__pregel_pull", "second"),
        None,
        {"items": ["second"], "last": "second"},
    )
    # an explicit checkpoint id reads that checkpoint
    assert graph.get_state(middle.config).values == middle.values
    # a thread without checkpoints gives an empty snapshot, as LangGraph does
    empty = graph.get_state(_config("nobody"))
    assert (empty.values, empty.next, empty.metadata, empty.tasks) == ({}, (), None, ())


def test_history_before_and_limit(saver: BaseCheckpointSaver[Any]) -> None:
    graph = _two_steps(saver)
    graph.invoke({"items": ["a"]}, _config())
    history = list(graph.get_state_history(_config()))
    older = list(graph.get_state_history(_config(), before=history[1].config))
    assert [s.config for s in older] == [s.config for s in history[2:]]
    assert len(list(graph.get_state_history(_config(), limit=2))) == 2


@pytest.mark.anyio
async def test_async_twins_give_the_same_snapshots() -> None:
    graph = _two_steps(InMemorySaver())
    await graph.ainvoke({"items": ["a"]}, _config())
    assert await graph.aget_state(_config()) == graph.get_state(_config())
    assert [s async for s in graph.aget_state_history(_config())] == list(graph.get_state_history(_config()))


def test_no_input_on_a_new_thread_is_an_empty_input_error(saver: BaseCheckpointSaver[Any]) -> None:
    graph = _two_steps(saver)
    with pytest.raises(EmptyInputError, match="Received no input for __start__"):
        graph.invoke(None, _config())


def test_no_input_on_a_finished_thread_returns_its_state_and_saves_nothing(saver: BaseCheckpointSaver[Any]) -> None:
    graph = _two_steps(saver)
    graph.invoke({"items": ["a"]}, _config())
    assert graph.invoke(None, _config()) == {"items": ["a", "first", "second"], "last": "second"}
    assert len(list(graph.get_state_history(_config()))) == 4


def test_an_unknown_checkpoint_id_starts_afresh_as_langgraph(saver: BaseCheckpointSaver[Any]) -> None:
    graph = _two_steps(saver)
    graph.invoke({"items": ["a"]}, _config())
    assert graph.invoke({"items": ["b"]}, _config(checkpoint_id="no-such-checkpoint")) == {
        "items": ["b", "first", "second"],
        "last": "second",
    }


def test_a_failed_task_records_its_error_and_new_input_discards_the_pending_tasks(
    saver: BaseCheckpointSaver[Any],
) -> None:
    def node(state: State) -> State:
        if state["last"] == "fail":
            raise RuntimeError("Simulated failure")
        return {"items": ["node"]}

    graph = StateGraph(State).add_node("node", node).add_edge(START, "node").compile(checkpointer=saver)
    with pytest.raises(RuntimeError):
        graph.invoke({"items": ["in"], "last": "fail"}, _config())
    stuck = graph.get_state(_config())
    assert stuck.next == ("node",)
    assert stuck.tasks[0].error == "RuntimeError('Simulated failure')" and stuck.tasks[0].result is None
    assert graph.invoke({"last": "ok"}, _config()) == {"items": ["in", "node"], "last": "ok"}
    assert [(s.metadata or {}).get("step") for s in graph.get_state_history(_config())] == [3, 2, 1, 0, -1]


def test_a_checkpoint_id_forks_the_thread_from_that_point(saver: BaseCheckpointSaver[Any]) -> None:
    graph = _two_steps(saver)
    graph.invoke({"items": ["a"]}, _config())
    after_first = next(graph.get_state_history(_config(), filter={"step": 1}))
    # resuming from that checkpoint runs "second" again, on the state it had then
    assert graph.invoke(None, after_first.config) == {"items": ["a", "first", "second"], "last": "second"}
    # as LangGraph 1.2: a "fork" checkpoint (a step later, the same state and next tasks) starts the branch
    latest, fork = list(graph.get_state_history(_config(), limit=2))
    assert latest.parent_config == fork.config
    assert fork.parent_config == after_first.config
    assert fork.metadata == {"source": "fork", "step": 2, "parents": {}}
    assert (fork.values, fork.next) == (after_first.values, after_first.next)
    assert latest.metadata == {"source": "loop", "step": 3, "parents": {}}


def test_state_get_state_without_a_checkpointer_is_refused() -> None:
    graph = StateGraph(State).add_node("n", lambda s: {"last": "n"}).add_edge(START, "n").compile()
    with pytest.raises(ValueError, match="No checkpointer set"):
        graph.get_state(_config())


def test_compile_refuses_a_checkpointer_that_is_no_saver() -> None:
    builder = StateGraph(State).add_node("n", lambda s: {"last": "n"}).add_edge(START, "n")
    with pytest.raises(InvalidArgumentError, match="checkpoint saver"):
        builder.compile(checkpointer="memory")


class _Opaque:
    pass


def test_a_state_the_serializer_cannot_store_fails_at_the_write_naming_the_key(saver: BaseCheckpointSaver[Any]) -> None:
    class Loose(TypedDict, total=False):
        blob: Any
        last: str

    ran: list[str] = []

    def make(state: Loose) -> Loose:
        ran.append("make")
        return {"blob": _Opaque()}

    def after(state: Loose) -> Loose:
        ran.append("after")
        return {"last": "after"}

    graph = StateGraph(Loose).add_sequence([make, after]).add_edge(START, "make").compile(checkpointer=saver)
    with pytest.raises(CheckpointSerializationError, match="state key 'blob'") as caught:
        graph.invoke({"last": "in"}, _config())
    assert "_Opaque" in str(caught.value)
    assert ran == ["make"]
    with pytest.raises(CheckpointSerializationError, match="state key 'blob' of the graph input, thread 't2'"):
        graph.invoke({"blob": _Opaque()}, _config("t2"))
    assert ran == ["make"]


def test_writes_of_finished_tasks_are_kept_when_their_step_fails(saver: BaseCheckpointSaver[Any]) -> None:
    calls: list[str] = []
    failing = [True]
    steady_done = asyncio.Event()

    async def steady(state: State) -> State:
        calls.append("steady")
        steady_done.set()
        return {"items": ["steady"]}

    async def flaky(state: State) -> State:
        # fail only once the sibling has returned (its writes are saved even as the step fails)
        await steady_done.wait()
        calls.append("flaky")
        if failing[0]:
            raise RuntimeError("flaky failed")
        return {"items": ["flaky"]}

    async def after(state: State) -> State:
        calls.append("after")
        return {"last": "after"}

    builder = StateGraph(State).add_node("steady", steady).add_node("flaky", flaky).add_node("after", after)
    builder.add_edge(START, "steady").add_edge(START, "flaky").add_edge(["steady", "flaky"], "after")
    graph = builder.compile(checkpointer=saver)
    with pytest.raises(RuntimeError, match="flaky failed"):
        graph.invoke({"items": ["in"]}, _config())
    # as LangGraph: the thread's current state holds the finished task's writes, and only the failed task is next
    stuck = graph.get_state(_config())
    assert stuck.next == ("flaky",)
    assert stuck.values == {"items": ["in", "steady"]}
    assert {t.name: (t.result, t.error) for t in stuck.tasks} == {
        "steady": ({"items": ["steady"]}, None),
        "flaky": (None, "RuntimeError('flaky failed')"),
    }
    # the step's record (addressed by its checkpoint id) shows the state as the step began
    record = graph.get_state(stuck.config)
    assert (record.next, record.values) == (("steady", "flaky"), {"items": ["in"]})
    failing[0] = False
    calls.clear()
    assert graph.invoke(None, _config()) == {"items": ["in", "flaky", "steady"], "last": "after"}
    assert calls == ["flaky", "after"]


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
def test_a_resumed_step_replays_its_finished_tasks_writes_on_a_root_state(
    saver: BaseCheckpointSaver[Any], durability: Any
) -> None:
    """Two sent tasks on a list state: one finishes, writing twice, the other pauses; on resume only the
    paused one runs and the finished one's writes (both of them) are applied."""
    calls: list[str] = []

    def fan(state: list[str]) -> list[Send]:
        return [Send("work", "a"), Send("ask", "b")]

    def work(arg: str) -> Any:
        calls.append(f"work|{arg}")
        return [Command(update=[f"{arg}.0"]), Command(update=[f"{arg}.1"])]

    def ask(arg: str) -> list[str]:
        calls.append(f"ask|{arg}")
        return [f"{arg}|{interrupt('ok?')}"]

    builder = StateGraph(Annotated[list, operator.add]).add_node("work", work).add_node("ask", ask)
    graph = builder.add_conditional_edges(START, fan).compile(checkpointer=saver)
    graph.invoke(["in"], _config(), durability=durability)
    assert calls == ["work|a", "ask|b"] or calls == ["ask|b", "work|a"]
    record = graph.get_state(graph.get_state(_config()).config)
    assert {t.name: t.result for t in record.tasks} == {"work": {"$writes": [["a.0"], ["a.1"]]}, "ask": None}
    calls.clear()
    assert graph.invoke(Command(resume="yes"), _config(), durability=durability) == ["in", "a.0", "a.1", "b|yes"]
    assert calls == ["ask|b"]


def test_get_state_finds_a_graph_a_plain_node_invokes(saver: BaseCheckpointSaver[Any]) -> None:
    """A node's function invokes a compiled graph it refers to by name: its task's ``state`` is that graph's
    checkpoint config, and ``subgraphs=True`` gives that graph's snapshot while it waits on an interrupt."""

    class Inner(TypedDict, total=False):
        question: str
        answer: str

    def ask_inner(state: Inner) -> Inner:
        return {"answer": interrupt(state["question"])}

    inner = StateGraph(Inner).add_node("ask", ask_inner).add_edge(START, "ask").compile()
    skipped = StateGraph(Inner).add_node("ask", ask_inner).add_edge(START, "ask").compile(checkpointer=False)

    def outer(state: State) -> State:
        assert skipped is not None  # read first, but compiled with checkpointer=False: not the node's subgraph
        return {"last": inner.invoke({"question": "why?"})["answer"]}

    assert referenced_graph(outer) is inner
    assert referenced_graph(lambda: skipped.invoke({})) is None
    graph = StateGraph(State).add_node("outer", outer).add_edge(START, "outer").compile(checkpointer=saver)
    graph.invoke({"items": []}, _config())
    (task,) = graph.get_state(_config()).tasks
    assert task.state == {"configurable": {"thread_id": "t1", "checkpoint_ns": f"outer:{task.id}"}}
    (task,) = graph.get_state(_config(), subgraphs=True).tasks
    assert isinstance(task.state, StateSnapshot)
    assert (task.state.values, task.state.next) == ({"question": "why?"}, ("ask",))
    assert graph.invoke(Command(resume="because"), _config()) == {"items": [], "last": "because"}


def test_checkpoints_stream_mode_chunks() -> None:
    graph = _two_steps(InMemorySaver())
    chunks = list(graph.stream({"items": ["a"]}, _config(), stream_mode="checkpoints"))
    assert [c["metadata"] for c in chunks] == [
        {"source": "input", "step": -1, "parents": {}},
        {"source": "loop", "step": 0, "parents": {}},
        {"source": "loop", "step": 1, "parents": {}},
        {"source": "loop", "step": 2, "parents": {}},
    ]
    assert [c["next"] for c in chunks] == [["__start__"], ["first"], ["second"], []]
    assert chunks[0]["parent_config"] is None
    assert [c["parent_config"] for c in chunks[1:]] == [c["config"] for c in chunks[:-1]]
    assert set(chunks[1]) == {"config", "parent_config", "values", "metadata", "next", "tasks"}
    (task,) = chunks[1]["tasks"]
    assert set(task) == {"id", "name", "interrupts", "state"} and task["name"] == "first"
    # the task started in the next step has the id the checkpoint announced
    debug = list(graph.stream({"items": ["b"]}, _config(), stream_mode="debug"))
    announced = [c["payload"]["tasks"] for c in debug if c["type"] == "checkpoint"]
    started = [c["payload"]["id"] for c in debug if c["type"] == "task"]
    assert started == [tasks[0]["id"] for tasks in announced[1:-1]]


def test_a_graph_without_a_checkpointer_streams_no_checkpoints() -> None:
    graph = StateGraph(State).add_node("n", lambda s: {"last": "n"}).add_edge(START, "n").compile()
    assert list(graph.stream({"last": "in"}, stream_mode="checkpoints")) == []


def test_durability_exit_saves_the_last_checkpoint_only(saver: BaseCheckpointSaver[Any]) -> None:
    graph = _two_steps(saver)
    assert graph.invoke({"items": ["a"]}, _config(), durability="exit") == {
        "items": ["a", "first", "second"],
        "last": "second",
    }
    (only,) = graph.get_state_history(_config())
    assert (only.metadata or {})["step"] == 2 and only.next == () and only.parent_config is None
    graph.invoke({"items": ["b"]}, _config(), durability="sync")
    assert [(s.metadata or {})["step"] for s in graph.get_state_history(_config())] == [6, 5, 4, 3, 2]


def test_durability_exit_saves_a_whole_checkpoint_with_growing_versions(saver: BaseCheckpointSaver[Any]) -> None:
    graph = _two_steps(saver)
    config = {**_config(), "metadata": {"user": "u1"}}
    graph.invoke({"items": ["a"]}, config, durability="exit")
    first = saver.get_tuple(_config())
    graph.invoke({"items": ["b"]}, config, durability="exit")
    second = saver.get_tuple(_config())
    assert first is not None and second is not None
    assert second.parent_config == first.config
    # the run's metadata, a time, and a version for every channel, higher for those the run wrote
    assert dict(second.metadata)["user"] == "u1" and second.metadata["source"] == "loop"
    assert second.checkpoint["ts"] > first.checkpoint["ts"]
    versions = second.checkpoint["channel_versions"]
    assert set(versions) == set(second.checkpoint["channel_values"]) == {"items", "last"}
    assert all(str(versions[k]) > str(first.checkpoint["channel_versions"][k]) for k in versions)
    assert second.checkpoint["updated_channels"] == ["items", "last"]


def test_durability_exit_keeps_the_failed_steps_writes(saver: BaseCheckpointSaver[Any]) -> None:
    def node(state: State) -> State:
        raise RuntimeError("Simulated failure")

    graph = StateGraph(State).add_node("node", node).add_edge(START, "node").compile(checkpointer=saver)
    with pytest.raises(RuntimeError):
        graph.invoke({"items": ["in"]}, _config(), durability="exit")
    (only,) = graph.get_state_history(_config())
    assert (only.metadata or {})["step"] == 0 and only.values == {"items": ["in"]}
    assert only.tasks[0].error == "RuntimeError('Simulated failure')"


class _Counting(InMemorySaver):
    """An in-memory saver that records which of its write methods a run calls."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def put(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append("put")
        return super().put(*args, **kwargs)

    def put_writes(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append("put_writes")
        super().put_writes(*args, **kwargs)

    async def aput_step(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append("aput_step")
        return await super().aput_step(*args, **kwargs)


def test_durability_async_saves_a_steps_writes_with_the_next_checkpoint() -> None:
    saver = _Counting()
    graph = _two_steps(saver)
    graph.invoke({"items": ["a"]}, _config())
    # the input's checkpoint, the input's write, the checkpoint with it applied; then each step's writes with
    # the checkpoint after it (aput_step's default: put_writes, then put)
    assert saver.calls == ["put", "put_writes", "put", *(["aput_step", "put_writes", "put"] * 2)]
    history = list(graph.get_state_history(_config()))
    assert [(s.metadata or {})["step"] for s in history] == [2, 1, 0, -1]
    assert [t.result for t in history[1].tasks] == [{"items": ["second"], "last": "second"}]


def test_the_sqlite_saver_saves_in_the_background_under_durability_async(tmp_path: Path) -> None:
    calls: list[str] = []
    batches: list[int] = []

    class Counting(SqliteSaver):
        def put(self, *args: Any, **kwargs: Any) -> Any:
            calls.append("put")
            return super().put(*args, **kwargs)

        def put_writes(self, *args: Any, **kwargs: Any) -> None:
            calls.append("put_writes")
            super().put_writes(*args, **kwargs)

        def stage_step(self, *args: Any, **kwargs: Any) -> Any:
            calls.append("stage_step")
            return super().stage_step(*args, **kwargs)

        def stage_writes(self, *args: Any, **kwargs: Any) -> Any:
            calls.append("stage_writes")
            return super().stage_writes(*args, **kwargs)

        def write_staged_nowait(self, staged: Any) -> bool:
            written = super().write_staged_nowait(staged)
            if written:
                batches.append(len(staged))
            return written

        async def awrite_staged(self, staged: Any) -> None:
            batches.append(len(staged))
            await super().awrite_staged(staged)

    with Counting.from_conn_string(str(tmp_path / "steps.db")) as saver:
        graph = _two_steps(saver)
        assert graph.invoke({"items": ["a"]}, _config()) == {"items": ["a", "first", "second"], "last": "second"}
        # the input's checkpoint, its write and the checkpoint with it applied, then each step's writes with the
        # checkpoint after it, serialized where they are made ...
        assert calls == ["stage_step", "stage_writes", "stage_step", "stage_step", "stage_step"]
        # ... and written in order, those that queued up while a write was under way in one transaction
        assert sum(batches) == 5 and 1 <= len(batches) <= 5
        history = list(graph.get_state_history(_config()))
        assert [(s.metadata or {})["step"] for s in history] == [2, 1, 0, -1]
        assert [t.result for t in history[1].tasks] == [{"items": ["second"], "last": "second"}]
        calls.clear()
        graph.invoke({"items": ["b"]}, {"configurable": {"thread_id": "t2"}}, durability="sync")
        assert calls == ["put", "put_writes", "put", *(["put_writes", "put"] * 2)]


def test_durability_sync_saves_each_tasks_writes_before_the_next_checkpoint() -> None:
    saver = _Counting()
    graph = _two_steps(saver)
    graph.invoke({"items": ["a"]}, _config(), durability="sync")
    assert saver.calls == ["put", "put_writes", "put", *(["put_writes", "put"] * 2)]


def test_unknown_durability_is_refused() -> None:
    graph = _two_steps(InMemorySaver())
    with pytest.raises(InvalidArgumentError, match="durability must be 'sync', 'async' or 'exit'; got 'never'"):
        graph.invoke({"items": ["a"]}, _config(), durability="never")  # type: ignore[arg-type]


def test_update_state_writes_as_a_node_and_the_run_goes_on_from_there(saver: BaseCheckpointSaver[Any]) -> None:
    graph = _two_steps(saver)
    graph.invoke({"items": ["a"]}, _config())
    updated = graph.update_state(_config(), {"items": ["edited"]}, as_node="first")
    assert updated["configurable"]["thread_id"] == "t1" and updated["configurable"]["checkpoint_id"]
    state = graph.get_state(_config())
    assert state.next == ("second",) and state.metadata == {"source": "update", "step": 3, "parents": {}}
    assert state.values["items"] == ["a", "first", "second", "edited"]
    assert graph.invoke(None, _config())["items"] == ["a", "first", "second", "edited", "second"]


def test_update_state_refuses_unknown_nodes_ambiguity_and_bad_values(saver: BaseCheckpointSaver[Any]) -> None:
    builder = StateGraph(State).add_node("x", lambda s: {"items": ["x"]}).add_node("y", lambda s: {"items": ["y"]})
    graph = builder.add_edge(START, "x").add_edge(START, "y").compile(checkpointer=saver)
    graph.invoke({"items": []}, _config())
    with pytest.raises(InvalidUpdateError, match="Ambiguous update, specify as_node"):
        graph.update_state(_config(), {"items": ["z"]})
    with pytest.raises(InvalidUpdateError, match="Node nowhere does not exist"):
        graph.update_state(_config(), {"items": ["z"]}, as_node="nowhere")
    with pytest.raises(InvalidUpdateError, match="unknown key"):
        graph.update_state(_config(), {"nope": 1}, as_node="x")
    with pytest.raises(ValueError, match="thread_id"):
        graph.update_state({"configurable": {}}, {"items": ["z"]}, as_node="x")


@pytest.mark.anyio
async def test_aupdate_state_on_a_new_thread_is_its_input() -> None:
    graph = _two_steps(InMemorySaver())
    await graph.aupdate_state(_config(), {"items": ["seed"]})
    state = await graph.aget_state(_config())
    assert (state.values, state.next, (state.metadata or {})["step"]) == ({"items": ["seed"]}, ("first",), 0)
    assert await graph.ainvoke(None, _config()) == {"items": ["seed", "first", "second"], "last": "second"}


def test_task_statuses_read_the_writes_as_langgraph() -> None:
    """A task finished exactly when it saved a write that is not a control write; its interrupts wait only
    until then; writes under the null task id belong to no task."""
    writes = [
        ("done", "items", ["x"]),
        ("done", "items", ["y"]),
        ("quiet", NO_WRITES, None),
        ("paused", INTERRUPT, ["q1"]),
        ("paused", RESUME, ["a0"]),
        ("answered", INTERRUPT, ["q2"]),
        ("answered", "last", "z"),
        ("failed", ERROR, "RuntimeError('x')"),
        (NULL_TASK_ID, "items", ["n"]),
    ]
    statuses = task_statuses(writes)
    assert set(statuses) == {"done", "quiet", "paused", "answered", "failed"}
    assert {t: s.finished for t, s in statuses.items()} == {
        "done": True,
        "quiet": True,
        "paused": False,
        "answered": True,
        "failed": False,
    }
    assert statuses["done"].writes() == [("items", ["x"]), ("items", ["y"])]
    assert statuses["quiet"].writes() == []
    assert (statuses["paused"].interrupts, statuses["paused"].pending_interrupts) == (("q1",), ("q1",))
    assert (statuses["answered"].interrupts, statuses["answered"].pending_interrupts) == (("q2",), ())
    assert statuses["failed"].error == "RuntimeError('x')"
    assert folded_writes(statuses["done"].writes()) == {"items": {"$writes": [["x"], ["y"]]}}
