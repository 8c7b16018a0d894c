"""Scenarios for the bus itself: the channel, its fan-out, the sync portal, and building events.

Baselines (measured first, in the same run):

``queue_1to1``
    the physical limit of an in-loop hand-off: a bare ``asyncio.Queue(maxsize=1024)``, one producer task
    doing ``await q.put(obj)`` of one pre-built object, one consumer task doing ``await q.get()``.
``queue_1to1_build``
    the same with the producer building ``CustomData(data=i)`` per item: a diagnostic reference (no
    target) that tells how much of channel_1to1's gap to queue_1to1 is building events.
``queue_fanout_16`` / ``queue_fanout_64``
    one bare ``asyncio.Queue(maxsize=1024)`` per consumer; the producer puts each item into each of the K
    queues, K consumer tasks each ``get`` their own queue. Counted in deliveries/s.
``event_build_frozen``
    building a frozen slotted attrs class with exactly ``CustomData``'s fields and defaults.
``thread_round_trip``
    a plain thread wakes an event loop in another thread and waits for its answer, each way by eventfd
    where there is one: the physical limit of a hand-over between threads, in round trips/s.

Every channel scenario subscribes with ``overflow="block"`` (said explicitly; it is ``Channel.subscribe``'s
default) and the channel's default sizes (a buffer of 1024 events, a replay buffer of 10,000 events), so the
only difference from the queue baselines is what streamflow adds. That includes the amortised checkpoint
(``streamflow.fairness``): ``publish`` and ``receive`` yield to the loop once every ``YIELD_INTERVAL``
operations even when they need not wait; ``channel_1to1_no_yield`` measures the same stream without it, so
its ratio to ``channel_1to1`` is what fairness costs.
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import attrs

from streamflow import (
    Channel,
    ChatModelToken,
    CustomData,
    Event,
    Lagged,
    StateUpdate,
    StateValues,
    Subscription,
    fairness,
    iterate_sync,
)
from streamflow.portal import CallerThread, iterate_sync_running_calls

from .harness import Sample, scenario

QUEUE_SIZE = 1024
"""``maxsize`` of the baseline queues: the channel's default subscriber buffer."""
FANOUT_KINDS = (CustomData, StateUpdate, StateValues, ChatModelToken)
"""The four event kinds the fan-out scenarios publish round-robin; each subscriber takes one of them."""


# -- baselines -------------------------------------------------------------------------------------


@scenario("queue_1to1", unit="events/s", n=300_000)
async def queue_1to1(n: int) -> Sample:
    """Bare asyncio.Queue(maxsize=1024): 1 producer awaiting put() of a pre-built object, 1 consumer
    awaiting get(). The physical limit of an in-loop hand-off on this machine."""
    q: asyncio.Queue[object] = asyncio.Queue(maxsize=QUEUE_SIZE)
    obj = CustomData(data=0)

    async def produce() -> None:
        put = q.put
        for _ in range(n):
            await put(obj)

    async def consume() -> int:
        get = q.get
        count = 0
        for _ in range(n):
            await get()
            count += 1
        return count

    start = time.perf_counter()
    consumer = asyncio.create_task(consume())
    await produce()
    count = await consumer
    elapsed = time.perf_counter() - start
    assert count == n
    return Sample(count, elapsed)


@scenario("queue_1to1_build", unit="events/s", baseline="queue_1to1", n=300_000)
async def queue_1to1_build(n: int) -> Sample:
    """queue_1to1, but the producer builds a CustomData(data=i) per item, as channel_1to1 does. Not a
    target: it splits channel_1to1's gap to queue_1to1 into building events and what the channel adds."""
    q: asyncio.Queue[object] = asyncio.Queue(maxsize=QUEUE_SIZE)

    async def produce() -> None:
        put = q.put
        for i in range(n):
            await put(CustomData(data=i))

    async def consume() -> int:
        get = q.get
        count = 0
        for _ in range(n):
            await get()
            count += 1
        return count

    start = time.perf_counter()
    consumer = asyncio.create_task(consume())
    await produce()
    count = await consumer
    elapsed = time.perf_counter() - start
    assert count == n
    return Sample(count, elapsed)


async def _queue_fanout(consumers: int, per_consumer: int) -> Sample:
    queues: list[asyncio.Queue[object]] = [asyncio.Queue(maxsize=QUEUE_SIZE) for _ in range(consumers)]
    obj = CustomData(data=0)

    async def produce() -> None:
        puts = [q.put for q in queues]
        for _ in range(per_consumer):
            for put in puts:
                await put(obj)

    async def consume(q: asyncio.Queue[object]) -> int:
        get = q.get
        count = 0
        for _ in range(per_consumer):
            await get()
            count += 1
        return count

    start = time.perf_counter()
    tasks = [asyncio.create_task(consume(q)) for q in queues]
    await produce()
    counts = await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    assert counts == [per_consumer] * consumers
    return Sample(sum(counts), elapsed)


@scenario("queue_fanout_16", unit="deliveries/s", n=20_000)
async def queue_fanout_16(n: int) -> Sample:
    """One bare asyncio.Queue(maxsize=1024) per consumer, 16 consumers; the producer puts each item into
    each of the 16 queues (n items, so each consumer gets n deliveries)."""
    return await _queue_fanout(16, n)


@scenario("queue_fanout_64", unit="deliveries/s", n=5_000)
async def queue_fanout_64(n: int) -> Sample:
    """As queue_fanout_16 with 64 consumers (n items, each consumer gets n deliveries)."""
    return await _queue_fanout(64, n)


# -- the channel -----------------------------------------------------------------------------------


@scenario(
    "channel_1to1",
    unit="events/s",
    baseline="queue_1to1",
    compare=("queue_1to1_build",),
    targets={"queue_1to1": 0.5},
    n=300_000,
)
async def channel_1to1(n: int) -> Sample:
    """One publisher building CustomData(data=i) and awaiting channel.publish(); one consumer task
    iterating subscribe(kinds=["custom_data"]). Counts the whole life of an event: built, stamped,
    routed, filtered, buffered, received."""
    channel = Channel("bench")
    return await _one_to_one(channel, channel.subscribe(kinds=["custom_data"], overflow="block"), n)


async def _one_to_one(channel: Channel, sub: Subscription, n: int) -> Sample:
    """Publish ``n`` events on ``channel`` while a consumer task iterates ``sub``; time it all."""

    async def produce() -> None:
        publish = channel.publish
        for i in range(n):
            await publish(CustomData(data=i))
        channel.close()

    async def consume() -> int:
        count = 0
        async for _ in sub:
            count += 1
        return count

    start = time.perf_counter()
    consumer = asyncio.create_task(consume())
    await produce()
    count = await consumer
    elapsed = time.perf_counter() - start
    assert count == n, (count, n)
    return Sample(count, elapsed)


@contextmanager
def _no_yield() -> Iterator[None]:
    """Channels and subscriptions made inside never yield unless they must wait (a diagnostic only)."""
    interval = fairness.YIELD_INTERVAL
    fairness.YIELD_INTERVAL = 2**62
    try:
        yield
    finally:
        fairness.YIELD_INTERVAL = interval


@scenario(
    "channel_1to1_no_yield",
    unit="events/s",
    baseline="queue_1to1",
    compare=("channel_1to1",),
    n=300_000,
)
async def channel_1to1_no_yield(n: int) -> Sample:
    """channel_1to1 with the amortised checkpoint turned off (publish and receive yield only when they must
    wait). Not a target: channel_1to1's ratio to it is the cost of fairness."""
    with _no_yield():
        channel = Channel("bench")
        sub = channel.subscribe(kinds=["custom_data"], overflow="block")
    return await _one_to_one(channel, sub, n)


async def _channel_fanout(subscribers: int, per_subscriber: int) -> Sample:
    """Publish ``4 * per_subscriber`` events of the four :data:`FANOUT_KINDS` round-robin to
    ``subscribers`` subscribers, subscriber ``j`` taking kind ``j % 4``: each gets ``per_subscriber``."""
    channel = Channel("bench")
    subs = [channel.subscribe(kinds=[FANOUT_KINDS[j % 4]], overflow="block") for j in range(subscribers)]

    async def produce() -> None:
        publish = channel.publish
        for i in range(per_subscriber):
            await publish(CustomData(data=i))
            await publish(StateUpdate(update=i))
            await publish(StateValues(values=i))
            await publish(ChatModelToken(chunk=i))
        channel.close()

    async def consume(sub: Subscription) -> int:
        count = 0
        async for _ in sub:
            count += 1
        return count

    start = time.perf_counter()
    tasks = [asyncio.create_task(consume(sub)) for sub in subs]
    await produce()
    counts = await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    assert counts == [per_subscriber] * subscribers, counts
    return Sample(sum(counts), elapsed)


@scenario(
    "channel_fanout_16",
    unit="deliveries/s",
    baseline="queue_fanout_16",
    targets={"queue_fanout_16": 0.5},
    n=20_000,
)
async def channel_fanout_16(n: int) -> Sample:
    """16 subscribers, each filtered to one of 4 kinds published round-robin; deliveries/s.

    How it is made comparable to ``queue_fanout_16``: both have 16 consumer tasks, each with a buffer of
    1024 and blocking backpressure, and each consumer receives the same number of items, ``n``; the
    number reported is deliveries/s (items received, summed over consumers) in both. To deliver ``n``
    items to each of 16 subscribers that take a quarter of the stream, the channel publishes ``4n``
    events, each routed by kind to the 4 subscribers that want it; the queue baseline puts each of ``n``
    pre-built items into all 16 queues. So both do 16n deliveries, and the channel additionally pays for
    building and stamping ``4n`` events (one per 4 deliveries) and for routing by kind, which is its job:
    a queue per consumer would need the producer to know who wants what.
    """
    return await _channel_fanout(16, n)


@scenario(
    "channel_fanout_64",
    unit="deliveries/s",
    baseline="queue_fanout_64",
    n=5_000,
)
async def channel_fanout_64(n: int) -> Sample:
    """As channel_fanout_16 with 64 subscribers (16 per kind): each event reaches 16 subscribers, and
    each subscriber gets n deliveries, as does each consumer of queue_fanout_64."""
    return await _channel_fanout(64, n)


# -- the sync bridge -------------------------------------------------------------------------------


async def _channel_stream(n: int) -> AsyncIterator[Event | Lagged]:
    """The channel_1to1 stream as an async generator (built inside the portal's loop)."""
    channel = Channel("bench")
    sub = channel.subscribe(kinds=["custom_data"], overflow="block")

    async def produce() -> None:
        publish = channel.publish
        for i in range(n):
            await publish(CustomData(data=i))
        channel.close()

    producer = asyncio.create_task(produce())
    try:
        async for event in sub:
            yield event
        await producer
    finally:
        if not producer.done():
            producer.cancel()


@scenario(
    "sync_portal",
    unit="events/s",
    baseline="queue_1to1",
    compare=("channel_1to1",),
    targets={"channel_1to1": 0.5},
    n=300_000,
)
def sync_portal(n: int) -> Sample:
    """The channel_1to1 stream consumed from plain sync code through streamflow.portal.iterate_sync
    (producer and pump on the shared portal thread's loop, batches handed to the caller). The portal
    thread is shared by sync calls and outlives this one, as it does in an application."""
    start = time.perf_counter()
    count = 0
    last = None
    for last in iterate_sync(lambda: _channel_stream(n)):  # noqa: B007 (checked after the loop)
        count += 1
    elapsed = time.perf_counter() - start
    assert count == n and isinstance(last, Event) and last.seq == n, (count, n, last)
    return Sample(count, elapsed)


def _round_trips(n: int) -> Sample:
    """n round trips between this thread and an event loop in another thread, each way by eventfd where
    there is one (the cheapest hand-over measured: the wake-up is made with the GIL released), else
    ``call_soon_threadsafe`` one way and a ``queue.SimpleQueue`` back."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="bench-round-trip", daemon=True)
    thread.start()
    try:
        elapsed = _eventfd_round_trips(loop, n) if hasattr(os, "eventfd") else _queue_round_trips(loop, n)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
    return Sample(n, elapsed)


def _eventfd_round_trips(loop: asyncio.AbstractEventLoop, n: int) -> float:
    one = (1).to_bytes(8, "little")
    ask, answer = os.eventfd(0, os.EFD_NONBLOCK), os.eventfd(0)

    def asked() -> None:
        os.read(ask, 8)
        os.write(answer, one)

    try:
        loop.call_soon_threadsafe(loop.add_reader, ask, asked)
        os.write(ask, one)  # the loop is running and watching before the clock starts
        os.read(answer, 8)
        start = time.perf_counter()
        for _ in range(n):
            os.write(ask, one)
            os.read(answer, 8)
        elapsed = time.perf_counter() - start
        done: queue.SimpleQueue[None] = queue.SimpleQueue()
        loop.call_soon_threadsafe(lambda: (loop.remove_reader(ask), done.put(None)))
        done.get()
    finally:
        os.close(ask)
        os.close(answer)
    return elapsed


def _queue_round_trips(loop: asyncio.AbstractEventLoop, n: int) -> float:  # pragma: no cover - no eventfd
    reply: queue.SimpleQueue[int] = queue.SimpleQueue()
    loop.call_soon_threadsafe(reply.put, -1)
    reply.get()
    start = time.perf_counter()
    for i in range(n):
        loop.call_soon_threadsafe(reply.put, i)
        reply.get()
    return time.perf_counter() - start


@scenario("thread_round_trip", unit="round trips/s", n=20_000, quick_n=4_000)
def thread_round_trip(n: int) -> Sample:
    """The physical limit of a hand-over between threads: a plain thread wakes an event loop in another
    thread and waits for its answer, n times, each way by eventfd (``loop.add_reader``, ``os.write``,
    ``os.read``) where there is one: two thread wake-ups per round trip, nothing else."""
    return _round_trips(n)


@scenario("sync_caller_jobs", unit="jobs/s", baseline="thread_round_trip", n=20_000, quick_n=4_000)
def sync_caller_jobs(n: int) -> Sample:
    """streamflow.portal.iterate_sync_running_calls with a producer that yields one item and then runs a
    no-op in the calling thread (``await caller.run_sync(...)``), n times: the cost per sync node run in the
    caller's thread under stream(), without the graph (one stop and restart of the loop the calling thread
    runs, per job; no thread hop)."""

    def factory(caller: CallerThread, batch_size: int) -> AsyncIterator[list[int]]:
        async def produce() -> AsyncIterator[list[int]]:
            for i in range(n):
                yield [i]
                await caller.run_sync(_nothing)

        return produce()

    start = time.perf_counter()
    count = sum(1 for _ in iterate_sync_running_calls(factory))
    elapsed = time.perf_counter() - start
    assert count == n, (count, n)
    return Sample(n, elapsed)


def _nothing() -> None:
    return None


# -- building events -------------------------------------------------------------------------------


def _frozen_twin(cls: type) -> type:
    """A frozen slotted attrs class with exactly ``cls``'s fields, defaults and keyword-only init."""
    these = {a.name: attrs.field(default=a.default) for a in attrs.fields(cls)}
    return attrs.make_class(f"Frozen{cls.__name__}", these, frozen=True, slots=True, kw_only=True, weakref_slot=False)


FrozenCustomData = _frozen_twin(CustomData)


def _build(cls: type, n: int) -> Sample:
    start = time.perf_counter()
    for i in range(n):
        cls(data=i)
    elapsed = time.perf_counter() - start
    return Sample(n, elapsed)


@scenario("event_build_frozen", unit="builds/s", n=300_000)
def event_build_frozen(n: int) -> Sample:
    """Build a frozen slotted attrs twin of CustomData (same fields, defaults, kw-only init): the cost a
    frozen event class would have."""
    return _build(FrozenCustomData, n)


@scenario("event_build", unit="builds/s", baseline="event_build_frozen", n=300_000)
def event_build(n: int) -> Sample:
    """Build CustomData(data=i) (slotted, not frozen). The ratio to event_build_frozen is why events are
    not frozen: it is paid on every publish."""
    return _build(CustomData, n)
