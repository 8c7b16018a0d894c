"""Cancelling sync code, which Python cannot stop: it is told, it raises, and what it leaves running is reported.

Every wait here is a handshake (:class:`~tests.helpers.Signal`): a node blocks until the test releases it, the
test blocks until the node reached a point. Their timeouts only turn a broken handshake into a failure.
"""

from __future__ import annotations

import asyncio
import contextvars
import operator
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable, MutableMapping
from contextlib import aclosing
from pathlib import Path
from typing import Annotated, Any, TypedDict

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from structlog.testing import capture_logs

from streamflow import workers
from streamflow.errors import TaskCancelledError
from streamflow.graph import (
    START,
    Run,
    StateGraph,
    StreamWriter,
    check_cancelled,
    dispatch_custom_event,
    get_stream_writer,
)
from streamflow.messages import AIMessage, AIMessageChunk, BaseMessage, MessagesState, ToolCall
from streamflow.models.fake import FakeChatModel
from streamflow.tools import ToolNode, tool

from .helpers import SIGNAL_TIMEOUT, NothingLeftBehind, Signal
from .strategies import GraphShape, graph_shapes

ROOT = Path(__file__).resolve().parent.parent


class Counter(TypedDict):
    n: int


class ListState(TypedDict):
    items: Annotated[list[str], operator.add]


class Boom(Exception):
    """A node's own failure."""


def _increment(state: Counter) -> dict[str, Any]:
    return {"n": state["n"] + 1}


def left_running(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == "sync_call_left_running"]


class Blocked:
    """A sync node's function that blocks until released, then reaches a cancellation point."""

    def __init__(self, point: Callable[[StreamWriter], Any]) -> None:
        self.point = point
        self.entered = Signal("the node was entered")
        self.release = Signal("the node was released")
        self.raised = Signal("the node raised TaskCancelledError")
        self.left = Signal("the node's function was left")
        self.error: TaskCancelledError | None = None

    def node(self) -> Callable[[Any, StreamWriter], dict[str, Any]]:
        def slow(state: Any, writer: StreamWriter) -> dict[str, Any]:
            try:
                self.entered.set()
                self.release.wait()
                try:
                    self.point(writer)
                except TaskCancelledError as exc:
                    self.error = exc
                    self.raised.set()
                    raise
                return {}
            finally:
                self.left.set()

        return slow

    def finish(self) -> None:
        """Release the node, check it raised at its cancellation point, and wait for its worker to be free."""
        self.release.set()
        self.raised.wait()
        assert workers.wait_abandoned(SIGNAL_TIMEOUT) == 0


POINTS: dict[str, Callable[[StreamWriter], Any]] = {
    "writer": lambda writer: writer("too late"),
    "get_stream_writer": lambda writer: get_stream_writer()("too late"),
    "check_cancelled": lambda writer: check_cancelled(),
    "dispatch_custom_event": lambda writer: dispatch_custom_event("too_late", {}),
    "model_call": lambda writer: FakeChatModel(["too late"]).invoke("hello"),
}


@pytest.mark.parametrize("point", list(POINTS.values()), ids=list(POINTS))
def test_leaving_astream_does_not_wait_for_a_sync_node_which_raises_at_its_next_cancellation_point(
    point: Callable[[StreamWriter], Any],
) -> None:
    left = NothingLeftBehind()
    blocked = Blocked(point)
    graph = (
        StateGraph(Counter)
        .add_node("inc", _increment)
        .add_node("slow", blocked.node())
        .add_edge(START, "inc")
        .add_edge("inc", "slow")
        .compile()
    )

    async def consume() -> None:
        async with aclosing(graph.astream({"n": 0}, stream_mode="updates")) as stream:
            async for chunk in stream:
                assert chunk == {"inc": {"n": 1}}
                await blocked.entered.wait_async()
                break

    with capture_logs() as logs:
        asyncio.run(consume())
    assert not blocked.left.is_set()  # astream() was left, and its run ended, while the node still ran
    [warning] = left_running(logs)
    assert warning["log_level"] == "warning"
    assert (warning["kind"], warning["name"], warning["node"]) == ("node", "slow", "slow")
    assert warning["thread"].startswith(workers.WORKER_THREAD_NAME)
    assert warning["reason"].endswith("was cancelled")
    [label] = workers.statistics().abandoned
    assert label.startswith("node 'slow' (task ")
    blocked.finish()
    assert blocked.error is not None
    assert str(blocked.error).startswith("node 'slow' (task ")
    assert str(blocked.error).endswith("was cancelled: the run was cancelled")
    assert workers.statistics().abandoned == ()
    left.check()


class HangingModel(FakeChatModel):
    """A chat model whose answer never comes; ``started`` is set when a call begins."""

    def __init__(self) -> None:
        super().__init__(["never"])
        self.started = Signal("the model call started")

    async def _astream_chunks(self, messages: list[BaseMessage]) -> AsyncIterator[AIMessageChunk]:
        self.started.set()
        await anyio.sleep_forever()
        yield AIMessageChunk(content="never")  # pragma: no cover


def test_a_model_call_in_flight_from_an_abandoned_sync_node_raises_at_once() -> None:
    left = NothingLeftBehind()
    model = HangingModel()
    raised = Signal("the model call raised TaskCancelledError")
    errors: list[TaskCancelledError] = []

    def ask(state: Counter) -> dict[str, Any]:
        try:
            model.invoke("hello")
        except TaskCancelledError as exc:
            errors.append(exc)
            raised.set()
            raise
        return {}  # pragma: no cover

    builder = StateGraph(Counter).add_node("inc", _increment).add_node("ask", ask)
    graph = builder.add_edge(START, "inc").add_edge("inc", "ask").compile()

    async def consume() -> None:
        async with aclosing(graph.astream({"n": 0}, stream_mode="updates")) as stream:
            async for _chunk in stream:
                await model.started.wait_async()
                break

    asyncio.run(consume())
    raised.wait()  # nobody released it: the call itself was cancelled with its task
    assert "node 'ask'" in str(errors[0])
    assert workers.wait_abandoned(SIGNAL_TIMEOUT) == 0
    left.check()


def test_a_failing_sibling_cancels_a_running_sync_node_cooperatively() -> None:
    left = NothingLeftBehind()
    blocked = Blocked(lambda writer: writer("too late"))

    async def bad(state: Counter) -> dict[str, Any]:
        await blocked.entered.wait_async()
        raise Boom("bad failed")

    graph = (
        StateGraph(Counter)
        .add_node("slow", blocked.node())
        .add_node("bad", bad)
        .add_edge(START, "slow")
        .add_edge(START, "bad")
        .compile()
    )
    with capture_logs() as logs, pytest.raises(Boom):
        graph.invoke({"n": 0})
    assert not blocked.left.is_set()
    [warning] = left_running(logs)
    assert warning["node"] == "slow"
    assert "failed with Boom('bad failed')" in warning["reason"]
    blocked.finish()
    assert "was cancelled: node 'bad' failed with Boom('bad failed')" in str(blocked.error)
    left.check()


def test_a_sync_tool_abandoned_with_its_run_raises_at_its_next_writer_call_and_the_run_reports_it() -> None:
    left = NothingLeftBehind()
    entered = Signal("the tool was entered")
    release = Signal("the tool was released")
    raised = Signal("the tool raised TaskCancelledError")
    errors: list[TaskCancelledError] = []

    @tool
    def slow_tool() -> str:
        """Waits, then reports progress."""
        entered.set()
        release.wait()
        try:
            get_stream_writer()("progress")
        except TaskCancelledError as exc:
            errors.append(exc)
            raised.set()
            raise
        return "done"  # pragma: no cover

    graph = StateGraph(MessagesState).add_node("tools", ToolNode([slow_tool])).add_edge(START, "tools").compile()
    call = ToolCall(name="slow_tool", args={}, id="call-1", type="tool_call")

    async def main() -> Run:
        run: Run = graph.start({"messages": [AIMessage(content="", tool_calls=[call])]})
        await entered.wait_async()
        await run.aclose()
        return run

    with capture_logs() as logs:
        run = asyncio.run(main())
    stats = run.statistics()
    assert stats.still_running == 1
    [abandoned] = stats.abandoned
    assert (abandoned.kind, abandoned.name, abandoned.node, abandoned.ns, abandoned.step) == (
        "tool",
        "slow_tool",
        "tools",
        (),
        1,
    )
    assert abandoned.thread.startswith(workers.WORKER_THREAD_NAME)
    assert left_running(logs) == [
        {
            "event": "sync_call_left_running",
            "log_level": "warning",
            "run_id": run.run_id,
            "kind": "tool",
            "name": "slow_tool",
            "node": "tools",
            "task_id": abandoned.task_id,
            "thread": abandoned.thread,
            "reason": f"run {run.run_id} was cancelled",
        }
    ]
    release.set()
    raised.wait()
    assert str(errors[0]).startswith("tool 'slow_tool' (call ")
    assert workers.wait_abandoned(SIGNAL_TIMEOUT) == 0
    assert run.statistics().still_running == 0
    assert run.statistics().abandoned == (abandoned,)
    left.check()


def test_a_run_that_ends_cancelled_tells_sync_code_it_left_behind() -> None:
    """The run's own flag: code of a task that returned before the run was cancelled (here, run again in a
    copy of its context) learns that the run ended cancelled, at its writer and its check."""
    kept: list[contextvars.Context] = []
    reached = Signal("the async node was reached")

    def keep(state: Counter) -> dict[str, Any]:
        kept.append(contextvars.copy_context())
        return {"n": 1}

    async def wait(state: Counter) -> dict[str, Any]:
        reached.set()
        await anyio.sleep_forever()
        return {}  # pragma: no cover

    builder = StateGraph(Counter).add_node("keep", keep).add_node("wait", wait)
    graph = builder.add_edge(START, "keep").add_edge("keep", "wait").compile()

    async def consume() -> None:
        async with aclosing(graph.astream({"n": 0}, stream_mode="custom")) as stream:
            async for _chunk in stream:
                pass  # pragma: no cover

    async def leave_when_reached() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await reached.wait_async()
            tg.cancel_scope.cancel()

    asyncio.run(leave_when_reached())
    [context] = kept
    with pytest.raises(TaskCancelledError, match=r"^run .* was cancelled$"):
        context.run(check_cancelled)
    with pytest.raises(TaskCancelledError, match=r"^run .* was cancelled$"):
        context.run(lambda: get_stream_writer()("too late"))


def test_check_cancelled_outside_a_run_and_in_a_healthy_run_returns() -> None:
    check_cancelled()
    checked: list[bool] = []

    def node(state: Counter) -> dict[str, Any]:
        check_cancelled()
        checked.append(True)
        return {}

    assert StateGraph(Counter).add_node("n", node).add_edge(START, "n").compile().invoke({"n": 0}) == {"n": 0}
    assert checked == [True]


# -- stream(): chunks flow while sync nodes run ------------------------------------------------------------------


def test_under_stream_a_fast_sync_nodes_chunk_arrives_while_its_slow_sync_sibling_runs() -> None:
    left = NothingLeftBehind()
    fast_received = Signal("the fast node's chunk was received")
    slow_returned = Signal("the slow node returned")

    def slow(state: ListState) -> dict[str, Any]:
        fast_received.wait()  # only the caller sets it, on receiving the fast node's chunk
        slow_returned.set()
        return {"items": ["slow"]}

    def fast(state: ListState) -> dict[str, Any]:
        return {"items": ["fast"]}

    graph = (
        StateGraph(ListState)
        .add_node("slow", slow)
        .add_node("fast", fast)
        .add_edge(START, "slow")
        .add_edge(START, "fast")
        .compile()
    )
    chunks = []
    for chunk in graph.stream({"items": []}, stream_mode="updates"):
        chunks.append(chunk)
        if chunk == {"fast": {"items": ["fast"]}}:
            assert not slow_returned.is_set()
            fast_received.set()
    assert chunks == [{"fast": {"items": ["fast"]}}, {"slow": {"items": ["slow"]}}]
    left.check()


def test_breaking_out_of_stream_does_not_wait_for_a_sync_node_running_beside_the_one_it_got() -> None:
    left = NothingLeftBehind()
    blocked = Blocked(lambda writer: writer("too late"))

    def fast(state: Counter) -> dict[str, Any]:
        blocked.entered.wait()
        return {"n": 1}

    graph = (
        StateGraph(Counter)
        .add_node("slow", blocked.node())
        .add_node("fast", fast)
        .add_edge(START, "slow")
        .add_edge(START, "fast")
        .compile()
    )
    with capture_logs() as logs:
        for chunk in graph.stream({"n": 0}, stream_mode="updates"):
            assert chunk == {"fast": {"n": 1}}
            break
    assert not blocked.left.is_set()
    assert [w["node"] for w in left_running(logs)] == ["slow"]
    blocked.finish()
    left.check()


def test_subgraph_chunks_flow_while_sync_nodes_inside_and_outside_it_run() -> None:
    """LangGraph's ``test_stream_subgraphs_during_execution``, with handshakes for its sleeps: a subgraph's
    single task is not alone while a sibling of the subgraph's task runs."""

    class Inner(TypedDict):
        my_key: Annotated[str, operator.add]
        my_other_key: str

    class Outer(TypedDict):
        my_key: Annotated[str, operator.add]

    got_inner_1 = Signal("inner_1's chunk was received")
    got_outer_1 = Signal("outer_1's chunk was received")

    def inner_1(state: Inner) -> dict[str, Any]:
        return {"my_key": "got here", "my_other_key": state["my_key"]}

    def inner_2(state: Inner) -> dict[str, Any]:
        got_outer_1.wait()
        return {"my_key": " and there", "my_other_key": state["my_key"]}

    def outer_1(state: Outer) -> dict[str, Any]:
        got_inner_1.wait()
        return {"my_key": " and parallel"}

    def outer_2(state: Outer) -> dict[str, Any]:
        return {"my_key": " and back again"}

    inner = StateGraph(Inner).add_node("inner_1", inner_1).add_node("inner_2", inner_2)
    inner = inner.add_edge(START, "inner_1").add_edge("inner_1", "inner_2")
    graph = (
        StateGraph(Outer)
        .add_node("inner", inner.compile())
        .add_node("outer_1", outer_1)
        .add_node("outer_2", outer_2)
        .add_edge(START, "inner")
        .add_edge(START, "outer_1")
        .add_edge(["inner", "outer_1"], "outer_2")
        .compile()
    )
    left = NothingLeftBehind()
    chunks = []
    for ns, chunk in graph.stream({"my_key": ""}, stream_mode="updates", subgraphs=True):
        chunks.append((tuple(part.partition(":")[0] for part in ns), chunk))
        if "inner_1" in chunk:
            got_inner_1.set()
        if "outer_1" in chunk:
            got_outer_1.set()
    assert chunks == [
        (("inner",), {"inner_1": {"my_key": "got here", "my_other_key": ""}}),
        ((), {"outer_1": {"my_key": " and parallel"}}),
        (("inner",), {"inner_2": {"my_key": " and there", "my_other_key": "got here"}}),
        ((), {"inner": {"my_key": "got here and there"}}),
        ((), {"outer_2": {"my_key": " and back again"}}),
    ]
    left.check()


def _build(shape: GraphShape, prefix: str, record: Callable[[str], None]) -> Any:
    graph = StateGraph(ListState)
    previous = [START]
    for i, layer in enumerate(shape):
        names = []
        for j, node in enumerate(layer):
            name = f"{prefix}{i}.{j}"
            if node == "sync":

                def sync_node(state: ListState, name: str = name) -> dict[str, Any]:
                    record(name)
                    return {"items": [name]}

                graph = graph.add_node(name, sync_node)
            else:
                graph = graph.add_node(name, _build(node, f"{name}/", record))
            for before in previous:
                graph = graph.add_edge(before, name)
            names.append(name)
        previous = names
    return graph.compile()


def _expected(shape: GraphShape, prefix: str, alone: bool) -> dict[str, bool | None]:
    """Per sync node: True where it must run in the caller's thread (every layer on its path has one node),
    False where it must not (its own layer has several), None where timing decides (inside a subgraph whose
    siblings may have ended)."""
    out: dict[str, bool | None] = {}
    for i, layer in enumerate(shape):
        single = len(layer) == 1
        for j, node in enumerate(layer):
            name = f"{prefix}{i}.{j}"
            if node == "sync":
                out[name] = (alone and single) or (None if single else False)
            else:
                out.update(_expected(node, f"{name}/", alone and single))
    return out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph_shapes())
def test_stream_runs_a_sync_node_in_the_calling_thread_only_when_it_is_the_runs_only_task(shape: GraphShape) -> None:
    caller = threading.get_ident()
    lock = threading.Lock()
    running = 0
    seen: dict[str, tuple[bool, int]] = {}

    def record(name: str) -> None:
        nonlocal running
        with lock:
            running += 1
            seen[name] = (threading.get_ident() == caller, running)
        with lock:
            running -= 1

    graph = _build(shape, "", record)
    list(graph.stream({"items": []}, stream_mode="updates"))
    expected = _expected(shape, "", True)
    assert set(seen) == set(expected)
    for name, (inline, concurrent) in seen.items():
        if expected[name] is not None:
            assert inline is expected[name], name
        if inline:
            assert concurrent == 1, name  # nothing else of the run ran beside it


# -- threads that do not hold the process --------------------------------------------------------------------


def test_interpreter_exit_does_not_wait_for_sync_code_a_cancelled_run_left_running() -> None:
    script = """
import threading
from typing import TypedDict
from streamflow.graph import START, StateGraph

class S(TypedDict):
    n: int

entered = threading.Event()

def stuck(state):
    entered.set()
    threading.Event().wait()  # never returns

def fast(state):
    entered.wait()
    return {"n": 1}

graph = StateGraph(S).add_node("stuck", stuck).add_node("fast", fast)
graph = graph.add_edge(START, "stuck").add_edge(START, "fast").compile()
for chunk in graph.stream({"n": 0}, stream_mode="updates"):
    print(chunk, flush=True)
    break
print("left the stream", flush=True)
"""
    # A hang here (the interpreter waiting for the stuck thread at exit) fails the test after the timeout.
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "{'fast': {'n': 1}}"
    assert lines[-1] == "left the stream"
    assert any("sync_call_left_running" in line and "stuck" in line for line in lines)
