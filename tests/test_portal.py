"""The sync bridge: an async producer iterated from sync code through a blocking portal.

Every way of leaving the loop (exhaustion, break, close(), garbage collection, an exception on either side,
KeyboardInterrupt) must stop the producer, leaving no task on the shared portal thread's loop, before control returns;
the portal thread itself is reused by the next call and exits when idle or stopped.
"""

from __future__ import annotations

import _thread
import functools
import gc
import os
import signal
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import pytest

from streamflow import portal
from streamflow.errors import SyncInAsyncContextError
from streamflow.portal import DEFAULT_BATCH_SIZE, iterate_sync

from .helpers import NothingLeftBehind


class Boom(Exception):
    """A producer's own exception type."""


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[Callable[[], None]]:
    """Yield a check that no task is left on the portal's loop and no thread once it stops; run it again
    after the test."""
    left = NothingLeftBehind()
    yield left.check
    left.check()


class Producer:
    """An async producer of ints that records how far it got and whether it was stopped."""

    def __init__(self, limit: int | None = None, *, fail_after: int | None = None, checkpoint: bool = True) -> None:
        self.limit = limit
        self.fail_after = fail_after
        self.checkpoint = checkpoint
        self.produced = 0
        self.finished = threading.Event()  # set when the producer's body is left, however that happens
        self.error = Boom("producer failed")

    async def __call__(self) -> AsyncIterator[int]:
        try:
            i = 0
            while self.limit is None or i < self.limit:
                if self.fail_after is not None and i == self.fail_after:
                    raise self.error
                self.produced += 1
                yield i
                i += 1
                if self.checkpoint:
                    await anyio.lowlevel.checkpoint()
        finally:
            self.finished.set()


def test_items_arrive_in_order_and_nothing_is_left_behind(no_thread_left_behind: Callable[[], None]) -> None:
    producer = Producer(limit=1_500)
    assert list(iterate_sync(producer, batch_size=64)) == list(range(1_500))
    assert producer.finished.is_set()
    no_thread_left_behind()


def test_early_break_stops_the_producer_and_leaves_nothing_behind(no_thread_left_behind: Callable[[], None]) -> None:
    producer = Producer()  # endless
    seen = []
    for item in iterate_sync(producer, batch_size=8):
        seen.append(item)
        if item == 20:
            break
    no_thread_left_behind()
    assert seen == list(range(21))
    assert producer.finished.is_set()
    produced = producer.produced
    assert produced <= 21 + 2 * 8  # the batch being read, plus at most one batch ahead
    assert producer.produced == produced  # and nothing runs any more


def test_close_stops_the_producer_and_leaves_nothing_behind(no_thread_left_behind: Callable[[], None]) -> None:
    producer = Producer()
    stream = iterate_sync(producer, batch_size=4)
    assert [next(stream) for _ in range(5)] == [0, 1, 2, 3, 4]
    stream.close()
    no_thread_left_behind()
    assert producer.finished.is_set()
    with pytest.raises(StopIteration):
        next(stream)


def test_garbage_collected_unfinished_generator_stops_the_producer(
    no_thread_left_behind: Callable[[], None],
) -> None:
    producer = Producer()
    stream = iterate_sync(producer, batch_size=4)
    assert next(stream) == 0
    del stream
    gc.collect()
    no_thread_left_behind()
    assert producer.finished.is_set()


def test_unstarted_generator_starts_no_thread(no_thread_left_behind: Callable[[], None]) -> None:
    producer = Producer()
    stream = iterate_sync(producer)
    no_thread_left_behind()
    del stream
    assert producer.produced == 0


@pytest.mark.parametrize("fail_after", [0, 3, 700])
def test_producer_exception_reaches_the_caller_with_its_original_type(fail_after: int) -> None:
    producer = Producer(fail_after=fail_after, checkpoint=False)
    seen = []
    with pytest.raises(Boom) as info:
        for item in iterate_sync(producer, batch_size=100):
            seen.append(item)
    assert info.value is producer.error
    assert seen == list(range(fail_after))  # everything produced before the failure arrives first


def test_factory_exception_reaches_the_caller_with_its_original_type() -> None:
    def factory() -> AsyncIterator[int]:
        raise Boom("factory failed")

    result: list[BaseException] = []

    def consume() -> None:
        try:
            list(iterate_sync(factory))
        except BaseException as exc:
            result.append(exc)

    # A thread of our own, so that a hang fails this test instead of the whole run.
    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    consumer.join(timeout=10)
    assert not consumer.is_alive(), "iterate_sync() hung on a factory that raised"
    assert len(result) == 1
    assert type(result[0]) is Boom
    assert str(result[0]) == "factory failed"


def test_exception_in_the_caller_loop_body_stops_the_producer(no_thread_left_behind: Callable[[], None]) -> None:
    producer = Producer()
    with pytest.raises(ZeroDivisionError):
        for item in iterate_sync(producer, batch_size=8):
            if item == 10:
                _ = 1 / 0
    no_thread_left_behind()
    assert producer.finished.is_set()


@pytest.mark.anyio
async def test_refused_inside_a_running_event_loop() -> None:
    producer = Producer(limit=3)
    with pytest.raises(SyncInAsyncContextError, match=r"use astream\(\) instead") as info:
        iterate_sync(producer, async_alternative="astream()")
    assert isinstance(info.value, RuntimeError)
    assert producer.produced == 0  # the fixture checks, outside the loop, that nothing was left behind


def interrupt_from_the_portal_thread() -> None:
    _thread.interrupt_main()


def interrupt_from_a_worker_thread() -> None:
    worker = threading.Thread(target=_thread.interrupt_main, name="interrupter")
    worker.start()
    worker.join()


@pytest.mark.parametrize("interrupt", [interrupt_from_the_portal_thread, interrupt_from_a_worker_thread])
def test_keyboard_interrupt_stops_the_producer_and_leaves_nothing_behind(
    interrupt: Callable[[], None], no_thread_left_behind: Callable[[], None]
) -> None:
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT is not handled by Python's default handler here")
    finished = threading.Event()

    async def producer() -> AsyncIterator[int]:
        try:
            i = 0
            while True:  # endless: only the interrupt gets the caller out of its loop
                if i == 5:
                    interrupt()
                yield i
                i += 1
                await anyio.lowlevel.checkpoint()
        finally:
            finished.set()

    seen = []
    with pytest.raises(KeyboardInterrupt):
        for item in iterate_sync(producer, batch_size=4):
            seen.append(item)
    no_thread_left_behind()
    assert finished.is_set()
    assert seen == list(range(len(seen)))  # a prefix: the interrupt may land anywhere after item 5 is made


class InterruptOnce:
    """Stands for ``target`` (the portal or its loop): the first call of its method ``name`` raises
    ``KeyboardInterrupt``, as an interrupt arriving in the calling thread there would, after ``work(*args)``
    (nothing when None)."""

    def __init__(self, target: Any, name: str, work: Callable[..., Any] | None = None) -> None:
        self.target = target
        self.name = name
        self.work = work
        self.fired = False

    def __getattr__(self, attr: str) -> Any:
        if attr != self.name or self.fired:
            return getattr(self.target, attr)

        def interrupted(*args: Any) -> None:
            self.fired = True
            if self.work is not None:
                self.work(*args)
            raise KeyboardInterrupt

        return interrupted


def interrupt_next_call(monkeypatch: pytest.MonkeyPatch, wrap: Callable[[Any, Any], tuple[Any, Any]]) -> None:
    """Make the next sync call use ``wrap(portal, loop)`` instead of the shared portal and its loop."""
    acquire = portal._shared.acquire

    def acquire_once() -> tuple[Any, Any]:
        monkeypatch.setattr(portal._shared, "acquire", acquire)
        return wrap(*acquire())

    monkeypatch.setattr(portal._shared, "acquire", acquire_once)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open file descriptors in /proc")
def test_keyboard_interrupt_right_after_the_producer_is_scheduled_stops_it(
    monkeypatch: pytest.MonkeyPatch, no_thread_left_behind: Callable[[], None]
) -> None:
    before = _open_file_descriptors()
    stand_ins: list[InterruptOnce] = []

    def wrap(blocking_portal: Any, loop: Any) -> tuple[Any, Any]:
        stand_ins.append(InterruptOnce(loop, "call_soon_threadsafe", loop.call_soon_threadsafe))
        return blocking_portal, stand_ins[0]

    interrupt_next_call(monkeypatch, wrap)
    with pytest.raises(KeyboardInterrupt):
        next(iterate_sync(Producer()))  # the interrupt comes as the call starts the producer
    assert [stand_in.fired for stand_in in stand_ins] == [True]
    no_thread_left_behind()
    assert _open_file_descriptors() == before


@pytest.mark.parametrize("scheduled", [False, True], ids=["before-the-stop-is-scheduled", "after"])
def test_keyboard_interrupt_while_stopping_the_producer_waits_for_the_stop(
    scheduled: bool, monkeypatch: pytest.MonkeyPatch, no_thread_left_behind: Callable[[], None]
) -> None:
    producer = Producer()
    stand_ins: list[InterruptOnce] = []

    def wrap(blocking_portal: Any, loop: Any) -> tuple[Any, Any]:
        # ``call`` is how the generator stops the producer; ``start_task_soon`` schedules without waiting
        stand_ins.append(InterruptOnce(blocking_portal, "call", blocking_portal.start_task_soon if scheduled else None))
        return stand_ins[0], loop

    interrupt_next_call(monkeypatch, wrap)
    items = iterate_sync(producer)
    assert next(items) == 0
    with pytest.raises(KeyboardInterrupt):
        items.close()
    assert [stand_in.fired for stand_in in stand_ins] == [True]
    assert producer.finished.is_set()  # stopped before the interrupt reached the caller
    no_thread_left_behind()


def _open_file_descriptors() -> int:
    """How many file descriptors this process has open, the portal thread stopped (its loop has some)."""
    portal.shutdown_portal()
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open file descriptors in /proc")
def test_keyboard_interrupt_while_waiting_for_items_stops_the_producer_and_closes_what_the_call_opened(
    no_thread_left_behind: Callable[[], None],
) -> None:
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT is not handled by Python's default handler here")
    caller = threading.main_thread().ident
    assert threading.get_ident() == caller and caller is not None
    before = _open_file_descriptors()
    finished = threading.Event()

    async def producer() -> AsyncIterator[int]:
        try:
            signal.pthread_kill(caller, signal.SIGINT)  # a real signal: it interrupts the caller's blocking wait
            await anyio.sleep_forever()  # no item ever comes: only the interrupt gets the caller out
            yield 0
        finally:
            finished.set()

    with pytest.raises(KeyboardInterrupt):
        list(iterate_sync(producer))
    assert finished.is_set()
    no_thread_left_behind()  # stops the portal thread, whose own file descriptors go with it
    assert _open_file_descriptors() == before


def test_many_calls_leave_no_file_descriptor_open(no_thread_left_behind: Callable[[], None]) -> None:
    before = _open_file_descriptors() if os.path.isdir("/proc/self/fd") else None
    for _ in range(50):
        assert list(iterate_sync(Producer(limit=3))) == [0, 1, 2]
        for _ in iterate_sync(Producer()):
            break
        with pytest.raises(Boom):
            list(iterate_sync(Producer(fail_after=2)))
    no_thread_left_behind()
    if before is not None:
        assert _open_file_descriptors() == before


def test_functions_lent_to_the_calling_thread_run_there_between_batches(
    no_thread_left_behind: Callable[[], None],
) -> None:
    before = _open_file_descriptors() if os.path.isdir("/proc/self/fd") else None
    caller = threading.get_ident()
    ran: list[tuple[int, bool]] = []

    def record(i: int) -> int:
        ran.append((i, threading.get_ident() == caller))
        return i

    def factory(lent: portal.CallerThread, batch_size: int) -> AsyncIterator[list[int]]:
        async def produce() -> AsyncIterator[list[int]]:
            for i in range(20):
                yield [i]
                assert await lent.run_sync(functools.partial(record, i)) == i

        return produce()

    seen = []
    for item in portal.iterate_sync_running_calls(factory):
        seen.append(item)
        assert len(ran) == item  # each item reaches the caller before the function that follows it runs
    assert seen == list(range(20))
    assert ran == [(i, True) for i in range(20)]
    for _ in portal.iterate_sync_running_calls(factory):
        break
    no_thread_left_behind()
    if before is not None:
        assert _open_file_descriptors() == before


def test_a_lent_function_carries_the_items_ready_at_its_hand_over(
    no_thread_left_behind: Callable[[], None],
) -> None:
    ran: list[int] = []

    def record(i: int) -> int:
        ran.append(i)
        return i

    def factory(lent: portal.CallerThread, batch_size: int) -> AsyncIterator[list[int]]:
        ready: list[int] = []

        def take(limit: int) -> list[int]:
            assert limit == batch_size
            taken = ready[:limit]
            del ready[:limit]
            return taken

        lent.share(take)

        async def produce() -> AsyncIterator[list[int]]:
            yield [-1]
            for i in range(20):
                ready.extend([2 * i, 2 * i + 1])  # never yielded: only the hand-over takes them
                assert await lent.run_sync(functools.partial(record, i)) == i
                assert not ready
            yield [40]

        return produce()

    seen = []
    for item in portal.iterate_sync_running_calls(factory):
        seen.append(item)
        if 0 <= item < 40:
            assert len(ran) == item // 2  # the items ready at a hand-over reach the caller before it runs
    assert seen == list(range(-1, 41))
    assert ran == list(range(20))
    no_thread_left_behind()


@pytest.mark.parametrize(("total", "batch_size"), [(1_000, 100), (2_000, DEFAULT_BATCH_SIZE), (10, 1)])
def test_items_move_in_batches(total: int, batch_size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    hops = 0
    request = portal._Pump.request

    def counting_request(self: portal._Pump[int], *args: Any) -> None:
        nonlocal hops
        hops += 1
        request(self, *args)

    monkeypatch.setattr(portal._Pump, "request", counting_request)
    producer = Producer(limit=total, checkpoint=False)  # produces as fast as the pump lets it
    assert list(iterate_sync(producer, batch_size=batch_size)) == list(range(total))
    full_batches = -(-total // batch_size)
    assert full_batches <= hops <= full_batches + 2  # one hop per batch, plus the empty one that ends it


def test_batch_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        iterate_sync(Producer(), batch_size=0)


def test_the_portal_thread_is_reused_by_the_next_call() -> None:
    assert list(iterate_sync(Producer(limit=3))) == [0, 1, 2]
    first = portal.portal_thread()
    assert first is not None and first.is_alive()
    assert list(iterate_sync(Producer(limit=3))) == [0, 1, 2]
    assert portal.portal_thread() is first


def test_concurrent_calls_from_several_threads_share_the_portal() -> None:
    results: dict[int, list[int]] = {}
    barrier = threading.Barrier(4)

    def consume(index: int) -> None:
        barrier.wait()
        results[index] = list(iterate_sync(Producer(limit=500), batch_size=7))

    consumers = [threading.Thread(target=consume, args=(i,)) for i in range(4)]
    for thread in consumers:
        thread.start()
    for thread in consumers:
        thread.join(timeout=30)
    assert results == {i: list(range(500)) for i in range(4)}


def test_the_portal_thread_exits_when_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    portal.shutdown_portal()
    monkeypatch.setattr(portal, "PORTAL_IDLE_TIMEOUT", 0.01)
    assert list(iterate_sync(Producer(limit=2))) == [0, 1]
    thread = portal.portal_thread()
    assert thread is not None
    thread.join(timeout=10)  # the reaper stops it after one to two idle periods
    assert not thread.is_alive()
    assert portal.portal_thread() is None
    assert list(iterate_sync(Producer(limit=2))) == [0, 1]  # and the next call starts a new one
    assert portal.portal_thread() not in (None, thread)


def test_shutdown_portal_cancels_what_still_runs_and_joins_the_thread() -> None:
    producer = Producer()
    items = iterate_sync(producer)
    assert next(items) == 0
    thread = portal.portal_thread()
    portal.shutdown_portal()
    assert thread is not None and not thread.is_alive()
    assert producer.finished.is_set()
    with pytest.raises(RuntimeError):
        list(items)
