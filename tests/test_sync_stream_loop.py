"""``iterate_sync_running_calls`` (what a graph's ``stream()`` is): the calling thread runs the producer's
event loop itself, taking turns with it, and every way of leaving stops the producer and gives the loop back
clean."""

from __future__ import annotations

import asyncio
import gc
import signal
import threading
from collections.abc import AsyncIterator, Callable, Iterator

import anyio
import pytest
from structlog.testing import capture_logs

from streamflow import portal
from streamflow.graph import END, START, StateGraph
from streamflow.portal import CallerThread, iterate_sync_running_calls

from .helpers import SIGNAL_TIMEOUT, NothingLeftBehind


@pytest.fixture(autouse=True)
def nothing_left_behind() -> Iterator[None]:
    left = NothingLeftBehind()
    yield
    left.check()
    assert all(not asyncio.all_tasks(loop) for loop in portal._loops._idle), "a pooled loop holds a task"


Factory = Callable[[CallerThread, int], AsyncIterator[list[int]]]


def producing(body: Callable[[], AsyncIterator[int]]) -> Factory:
    """A factory for ``iterate_sync_running_calls`` that yields each of ``body()``'s items as a list of one."""

    def factory(caller: CallerThread, batch_size: int) -> AsyncIterator[list[int]]:
        async def batches() -> AsyncIterator[list[int]]:
            async for item in body():
                yield [item]

        return batches()

    return factory


def test_the_producer_runs_in_the_calling_thread() -> None:
    threads: list[int] = []

    async def body() -> AsyncIterator[int]:
        for i in range(3):
            threads.append(threading.get_ident())
            await anyio.lowlevel.checkpoint()
            yield i

    assert list(iterate_sync_running_calls(producing(body))) == [0, 1, 2]
    assert threads == [threading.get_ident()] * 3


def test_keyboard_interrupt_while_waiting_stops_the_producer() -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT is not handled by Python's default handler here")
    caller = threading.get_ident()
    finished = threading.Event()

    async def body() -> AsyncIterator[int]:
        try:
            signal.pthread_kill(caller, signal.SIGINT)  # a real signal, arriving while the loop runs
            await anyio.sleep_forever()  # no item ever comes: only the interrupt gets the caller out
            yield 0
        finally:
            finished.set()

    with pytest.raises(KeyboardInterrupt):
        list(iterate_sync_running_calls(producing(body)))
    assert finished.is_set()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back after each turn


def test_leaving_early_stops_the_producer() -> None:
    finished = threading.Event()

    async def body() -> AsyncIterator[int]:
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            finished.set()

    for item in iterate_sync_running_calls(producing(body)):
        if item == 3:
            break
    assert finished.is_set()


def test_a_stream_collected_as_garbage_inside_a_running_loop_is_stopped() -> None:
    finished = threading.Event()
    stopped_in: list[str] = []

    async def body() -> AsyncIterator[int]:
        try:
            i = 0
            while True:  # never ends: only stopping it does
                yield i
                i += 1
                await anyio.lowlevel.checkpoint()
        finally:
            stopped_in.append(threading.current_thread().name)
            finished.set()

    class Holder:
        pass

    async def collect() -> None:
        gc.collect()  # finalises the stream here, in a thread running another loop

    gc.disable()  # no collection before the one in the loop
    try:
        holder = Holder()
        stream = iterate_sync_running_calls(producing(body))
        assert next(stream) == 0
        holder.cycle = holder  # type: ignore[attr-defined]  # only a collection frees it
        holder.stream = stream  # type: ignore[attr-defined]
        del stream, holder
        asyncio.run(collect())
    finally:
        gc.enable()
    assert finished.is_set()
    assert stopped_in == ["streamflow-sync-stream-close"]  # not in the thread of the loop that collected it


def test_streams_in_several_threads_run_side_by_side() -> None:
    both = threading.Barrier(2, timeout=SIGNAL_TIMEOUT)  # passes only when the two producers run at once
    results: dict[str, list[int]] = {}

    async def body() -> AsyncIterator[int]:
        both.wait()
        yield 1

    def consume(name: str) -> None:
        results[name] = list(iterate_sync_running_calls(producing(body)))

    threads = [threading.Thread(target=consume, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {"a": [1], "b": [1]}


def test_a_function_lent_to_the_caller_may_iterate_another_stream() -> None:
    async def inner() -> AsyncIterator[int]:
        for i in range(3):
            yield i

    def lent() -> list[int]:
        return list(iterate_sync_running_calls(producing(inner)))

    def factory(caller: CallerThread, batch_size: int) -> AsyncIterator[list[int]]:
        async def batches() -> AsyncIterator[list[int]]:
            yield await caller.run_sync(lent)

        return batches()

    assert list(iterate_sync_running_calls(factory)) == [0, 1, 2]


def test_a_task_left_on_the_loop_is_reported_and_cancelled() -> None:
    left: list[asyncio.Task[None]] = []

    async def body() -> AsyncIterator[int]:
        left.append(asyncio.get_running_loop().create_task(anyio.sleep_forever(), name="forgotten"))
        yield 1

    with capture_logs() as logs:
        assert list(iterate_sync_running_calls(producing(body))) == [1]
    assert left[0].cancelled()
    assert [(log["event"], log["tasks"]) for log in logs] == [("sync_stream_left_tasks", ["forgotten"])]


def test_a_graph_streamed_from_sync_code_runs_its_sync_nodes_in_the_calling_thread() -> None:
    threads: list[int] = []

    def node(state: dict[str, int]) -> dict[str, int]:
        threads.append(threading.get_ident())
        return {"x": state["x"] + 1}

    builder: StateGraph = StateGraph(dict)
    builder.add_node("a", node)
    builder.add_node("b", node)
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", END)
    graph = builder.compile()
    assert list(graph.stream({"x": 0})) == [{"a": {"x": 1}}, {"b": {"x": 2}}]
    assert threads == [threading.get_ident()] * 2
