"""Several tasks receiving from one subscription (anyio's semantics): waiting receivers queue in order, each
event goes to exactly one of them, each gets its events in ``seq`` order, and a cancelled receiver loses
nothing."""

from __future__ import annotations

import asyncio

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamflow.channel import Channel, Lagged, Subscription
from streamflow.events import CustomData, Event
from tests.helpers import seqs, take_buffered

pytestmark = pytest.mark.anyio


async def receive_until_the_end(sub: Subscription, out: list[Event | Lagged], pause: bool) -> None:
    while True:
        try:
            item = await sub.receive()
        except anyio.EndOfStream:
            return
        out.append(item)
        if pause:
            await anyio.lowlevel.checkpoint()


async def iterate_to_the_end(sub: Subscription, out: list[Event | Lagged], pause: bool) -> None:
    async for item in sub:
        out.append(item)
        if pause:
            await anyio.lowlevel.checkpoint()


@settings(max_examples=60, deadline=None)
@given(
    how=st.lists(st.sampled_from([receive_until_the_end, iterate_to_the_end]), min_size=2, max_size=4),
    pauses=st.lists(st.booleans(), min_size=4, max_size=4),
    n=st.integers(min_value=0, max_value=300),
    buffer_size=st.integers(min_value=1, max_value=16),
    publish_pause_every=st.integers(min_value=1, max_value=50),
)
async def test_receivers_share_the_events_each_exactly_once_each_in_order(
    how: list[object], pauses: list[bool], n: int, buffer_size: int, publish_pause_every: int
) -> None:
    channel = Channel(replay_size=0)
    sub = channel.subscribe(buffer_size=buffer_size, overflow="block")
    got: list[list[Event | Lagged]] = [[] for _ in how]
    async with anyio.create_task_group() as tg:
        for i, receive in enumerate(how):
            tg.start_soon(receive, sub, got[i], pauses[i])  # type: ignore[arg-type]
        await anyio.wait_all_tasks_blocked()
        for i in range(n):
            await channel.publish(CustomData(data=i))
            if i % publish_pause_every == 0:
                await anyio.lowlevel.checkpoint()
        channel.close()
    for mine in got:
        assert not any(isinstance(item, Lagged) for item in mine)
        assert seqs(mine) == sorted(seqs(mine))  # each receiver in seq order
    everything = sorted(s for mine in got for s in seqs(mine))
    assert everything == list(range(1, n + 1))  # the union is every event, none twice
    assert sub.statistics().delivered == n


async def test_waiting_receivers_are_served_in_the_order_they_started_waiting() -> None:
    channel = Channel()
    sub = channel.subscribe()
    first = asyncio.ensure_future(sub.receive())
    await anyio.wait_all_tasks_blocked()
    second = asyncio.ensure_future(sub.receive())
    await anyio.wait_all_tasks_blocked()
    assert sub.statistics().waiting_receivers == 2
    one, two = CustomData(data=1), CustomData(data=2)
    channel.publish_nowait(one)
    channel.publish_nowait(two)
    assert await first is one
    assert await second is two  # with one waiter per subscription, one of them waited forever
    assert sub.statistics().waiting_receivers == 0
    sub.close()


@pytest.mark.parametrize("cancel_before_publish", [False, True])
async def test_a_receiver_cancelled_after_it_was_woken_leaves_the_event_to_the_next(
    cancel_before_publish: bool,
) -> None:
    channel = Channel()
    sub = channel.subscribe()
    first = asyncio.ensure_future(sub.receive())
    await anyio.wait_all_tasks_blocked()
    second = asyncio.ensure_future(sub.receive())
    await anyio.wait_all_tasks_blocked()
    event = CustomData(data="only one")
    if cancel_before_publish:
        first.cancel()
        channel.publish_nowait(event)
    else:
        channel.publish_nowait(event)  # wakes ``first`` ...
        first.cancel()  # ... which is cancelled before it runs: the event must not be lost
    assert await second is event
    with pytest.raises(asyncio.CancelledError):
        await first
    stats = sub.statistics()
    assert (stats.delivered, stats.buffered, stats.waiting_receivers) == (1, 0, 0)
    sub.close()


async def test_a_cancelled_waiting_receiver_leaves_the_queue_and_takes_nothing() -> None:
    channel = Channel()
    sub = channel.subscribe()
    receivers = [asyncio.ensure_future(sub.receive()) for _ in range(3)]
    await anyio.wait_all_tasks_blocked()
    receivers[1].cancel()
    await anyio.wait_all_tasks_blocked()
    assert sub.statistics().waiting_receivers == 2
    events = [CustomData(data=i) for i in range(3)]
    for event in events:
        channel.publish_nowait(event)
    assert [await receivers[0], await receivers[2]] == events[:2]
    assert receivers[1].cancelled()
    assert take_buffered(sub) == [events[2]]
    sub.close()


async def test_every_waiting_receiver_sees_the_end() -> None:
    channel = Channel()
    sub = channel.subscribe()
    ended = []

    async def wait_for_the_end() -> None:
        with pytest.raises(anyio.EndOfStream):
            await sub.receive()
        ended.append(True)

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(wait_for_the_end)
        await anyio.wait_all_tasks_blocked()
        assert sub.statistics().waiting_receivers == 3
        channel.close()
    assert ended == [True, True, True]


async def test_a_closed_subscription_ends_every_waiting_receiver() -> None:
    channel = Channel()
    sub = channel.subscribe()
    async with anyio.create_task_group() as tg:
        for _ in range(2):
            tg.start_soon(iterate_to_the_end, sub, [], False)
        await anyio.wait_all_tasks_blocked()
        sub.close()
    assert sub.statistics().waiting_receivers == 0
