"""Publishing from worker threads: each thread's order is kept, nothing is lost, ``seq`` stays gap-free."""

from __future__ import annotations

import asyncio
import threading

import anyio
import pytest

from streamflow.channel import Channel, Lagged
from streamflow.errors import ChannelClosedError
from streamflow.events import CustomData, Event
from streamflow.thread_inbox import THREAD_INBOX_LIMIT
from tests.helpers import seqs

pytestmark = pytest.mark.anyio


async def run_in_threads(channel: Channel, n_threads: int, per_thread: int) -> None:
    """Publish ``per_thread`` events from each of ``n_threads`` plain threads, all started together, and
    wait (without blocking the loop) until every thread has returned."""
    loop = asyncio.get_running_loop()
    all_done = anyio.Event()
    remaining = [n_threads]
    errors: list[BaseException] = []
    start = threading.Barrier(n_threads)

    def thread_finished() -> None:
        remaining[0] -= 1
        if not remaining[0]:
            all_done.set()

    def worker(t: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                channel.publish_threadsafe(CustomData(node=f"thread-{t}", data=i))
        except BaseException as exc:
            errors.append(exc)
        finally:
            loop.call_soon_threadsafe(thread_finished)

    threads = [threading.Thread(target=worker, args=(t,), name=f"publisher-{t}") for t in range(n_threads)]
    for thread in threads:
        thread.start()
    try:
        await all_done.wait()
    finally:
        for thread in threads:
            thread.join()
    assert errors == []


@pytest.mark.parametrize("buffer_size", [8, 100_000])
async def test_threadsafe_publish_keeps_per_thread_order_and_loses_nothing(buffer_size: int) -> None:
    n_threads, per_thread = 4, 2_500  # more than THREAD_INBOX_LIMIT in all: threads must wait for the loop
    assert n_threads * per_thread > THREAD_INBOX_LIMIT
    channel = Channel("threads")
    sub = channel.subscribe(buffer_size=buffer_size)
    received: list[Event | Lagged] = []

    async def consume() -> None:
        async for item in sub:
            received.append(item)

    async with anyio.create_task_group() as tg:
        tg.start_soon(consume)
        await run_in_threads(channel, n_threads, per_thread)
        await channel.flush()
        assert channel.statistics().published == n_threads * per_thread
        channel.close()

    total = n_threads * per_thread
    assert not any(isinstance(item, Lagged) for item in received)
    assert seqs(received) == list(range(1, total + 1))
    assert all(e.run_id == "threads" for e in received if isinstance(e, Event))
    for t in range(n_threads):
        mine = [e.data for e in received if isinstance(e, CustomData) and e.node == f"thread-{t}"]
        assert mine == list(range(per_thread))
    assert channel.statistics().delivered == total


async def test_threadsafe_publish_on_the_loop_thread_is_refused() -> None:
    channel = Channel()
    with pytest.raises(RuntimeError, match=r"use publish\(\)"):
        channel.publish_threadsafe(CustomData(data=1))
    assert channel.last_seq == 0


async def test_threadsafe_publish_after_close_raises() -> None:
    channel = Channel()
    channel.close()
    outcome: list[BaseException] = []

    def publish() -> None:
        try:
            channel.publish_threadsafe(CustomData(data=1))
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=publish)
    thread.start()
    thread.join()
    assert len(outcome) == 1
    assert isinstance(outcome[0], ChannelClosedError)
