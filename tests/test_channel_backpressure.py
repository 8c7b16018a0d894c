"""Backpressure per subscriber: ``block`` (with its timeout), ``drop_oldest`` (with Lagged) and ``error``."""

from __future__ import annotations

import contextlib

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamflow.channel import Channel, Lagged, Subscription
from streamflow.errors import (
    ChannelClosedError,
    SubscriberDisconnectedError,
    SubscriberOverflowError,
    SubscriberTimeoutError,
)
from streamflow.events import CustomData, Event, StateValues
from tests.helpers import seqs, take_all, take_buffered

pytestmark = pytest.mark.anyio


async def test_block_policy_stalls_the_publisher_until_the_subscriber_makes_room() -> None:
    channel = Channel()
    sub = channel.subscribe(buffer_size=2)
    observer = channel.subscribe(overflow="drop_oldest", buffer_size=1)
    first, second, third = (CustomData(data=i) for i in range(3))
    channel.publish_nowait(first)
    channel.publish_nowait(second)
    with pytest.raises(anyio.WouldBlock):
        channel.publish_nowait(third)
    assert channel.last_seq == 2
    published = anyio.Event()

    async def publish_third() -> None:
        await channel.publish(third)
        published.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(publish_third)
        await anyio.wait_all_tasks_blocked()
        assert not published.is_set()
        assert channel.last_seq == 2
        assert third.seq == 0
        assert await sub.receive() is first
        await published.wait()
    assert channel.last_seq == 3
    assert take_buffered(sub) == [second, third]
    assert take_buffered(observer)[-1] is third
    sub.close()
    observer.close()


async def test_block_timeout_disconnects_only_the_slow_subscriber() -> None:
    timeout = 0.02
    channel = Channel()
    slow = channel.subscribe(buffer_size=2, timeout=timeout)
    fast = channel.subscribe(buffer_size=2)
    patient = channel.subscribe(buffer_size=2, timeout=60)
    fast_items: list[Event | Lagged] = []
    patient_items: list[Event | Lagged] = []

    async def consume(sub_items: list[Event | Lagged], sub: Subscription) -> None:
        async for item in sub:
            sub_items.append(item)

    async with anyio.create_task_group() as tg:
        tg.start_soon(consume, fast_items, fast)
        tg.start_soon(consume, patient_items, patient)
        await channel.publish(CustomData(data=1))
        await channel.publish(CustomData(data=2))
        before = anyio.current_time()
        await channel.publish(CustomData(data=3))  # waits for ``slow`` until its timeout
        assert anyio.current_time() - before >= timeout * 0.9
        for i in range(4, 11):
            await channel.publish(CustomData(data=i))
        channel.close()

    assert seqs(fast_items) == list(range(1, 11))
    assert seqs(patient_items) == list(range(1, 11))
    slow_items: list[Event | Lagged] = []
    with pytest.raises(SubscriberTimeoutError) as info:
        async for item in slow:
            slow_items.append(item)
    assert seqs(slow_items) == [1, 2]  # drained what it had, then the error
    assert isinstance(info.value, SubscriberDisconnectedError)
    assert isinstance(info.value, TimeoutError)
    assert "timeout" in str(info.value)
    with pytest.raises(SubscriberTimeoutError):
        slow.receive_nowait()
    stats = slow.statistics()
    assert (stats.published, stats.matched, stats.delivered, stats.buffered) == (2, 2, 2, 0)


async def test_block_timeout_zero_disconnects_at_the_first_stall() -> None:
    channel = Channel()
    slow = channel.subscribe(buffer_size=1, timeout=0)
    channel.publish_nowait(CustomData(data=1))
    assert await channel.publish(CustomData(data=2)) == 2
    assert seqs([slow.receive_nowait()]) == [1]
    with pytest.raises(SubscriberTimeoutError):
        await slow.receive()


async def test_publisher_waiting_for_room_gets_channel_closed_error_on_close() -> None:
    channel = Channel()
    sub = channel.subscribe(buffer_size=1)
    channel.publish_nowait(CustomData(data=1))
    outcome: list[BaseException] = []

    async def publish() -> None:
        try:
            await channel.publish(CustomData(data=2))
        except ChannelClosedError as exc:
            outcome.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(publish)
        await anyio.wait_all_tasks_blocked()
        channel.close()
    assert len(outcome) == 1
    assert channel.last_seq == 1
    assert seqs(await take_all(sub)) == [1]


async def test_drop_oldest_delivers_lagged_with_exact_count_and_seq_range() -> None:
    channel = Channel()
    lossy = channel.subscribe(kinds=["custom_data"], overflow="drop_oldest", buffer_size=3)
    for i in range(10):
        channel.publish_nowait(CustomData(data=i))  # seq 1, 3, 5 ... 19
        channel.publish_nowait(StateValues(values=i))  # seq 2, 4, ... 20: not for ``lossy``
    items = take_buffered(lossy)
    assert items == [Lagged(missed=7, first_seq=1, last_seq=13), *items[1:]]
    assert seqs(items) == [15, 17, 19]
    stats = lossy.statistics()
    assert (stats.matched, stats.delivered, stats.dropped, stats.buffered) == (10, 3, 7, 0)
    assert channel.statistics().dropped == 7
    channel.publish_nowait(CustomData(data="next"))
    assert seqs(take_buffered(lossy)) == [21]  # no stale Lagged
    lossy.close()


@settings(max_examples=60, deadline=None)
@given(
    buffer_size=st.integers(min_value=1, max_value=4),
    schedule=st.lists(st.sampled_from(["custom", "other", "receive"]), max_size=40),
)
async def test_drop_oldest_lagged_accounts_for_every_missed_event(buffer_size: int, schedule: list[str]) -> None:
    channel = Channel()
    lossy = channel.subscribe(kinds=["custom_data"], overflow="drop_oldest", buffer_size=buffer_size)
    matched: list[int] = []
    received: list[Event | Lagged] = []
    for step in schedule:
        if step == "custom":
            matched.append(channel.publish_nowait(CustomData(data=step)))
        elif step == "other":
            channel.publish_nowait(StateValues(values=step))
        else:
            with contextlib.suppress(anyio.WouldBlock):
                received.append(lossy.receive_nowait())
    channel.close()
    received += await take_all(lossy)

    # Each Lagged stands for exactly the matched events between its first and last seq (two may follow each
    # other when the event after the first one was dropped too); with the events received they rebuild the
    # whole matched sequence, in order.
    rebuilt: list[int] = []
    for item in received:
        if isinstance(item, Lagged):
            lost = [s for s in matched if item.first_seq <= s <= item.last_seq]
            assert lost[0] == item.first_seq
            assert lost[-1] == item.last_seq
            assert len(lost) == item.missed
            rebuilt += lost
        else:
            rebuilt.append(item.seq)
    assert rebuilt == matched
    stats = lossy.statistics()
    assert stats.dropped == sum(i.missed for i in received if isinstance(i, Lagged))
    assert stats.delivered + stats.dropped == stats.matched == len(matched)


async def test_drop_oldest_never_stalls_the_publisher() -> None:
    channel = Channel()
    async with channel.subscribe(overflow="drop_oldest", buffer_size=1):
        for i in range(100):
            assert channel.publish_nowait(CustomData(data=i)) == i + 1


async def test_error_policy_gives_subscriber_overflow_error() -> None:
    channel = Channel()
    strict = channel.subscribe(overflow="error", buffer_size=2)
    calm = channel.subscribe()
    for i in range(5):
        channel.publish_nowait(CustomData(data=i))  # never stalls
    with pytest.raises(SubscriberOverflowError) as info:
        await strict.receive()
    error = info.value
    assert isinstance(error, SubscriberDisconnectedError)
    assert isinstance(error, OverflowError)
    assert error.dropped == 3
    assert "'error' policy" in str(error)
    assert "seq 3" in str(error)
    with pytest.raises(SubscriberOverflowError):
        strict.receive_nowait()
    assert seqs(take_buffered(calm)) == [1, 2, 3, 4, 5]
    stats = strict.statistics()
    assert (stats.published, stats.matched, stats.delivered, stats.dropped, stats.buffered) == (3, 3, 0, 3, 0)
    assert channel.statistics().subscribers == 1
    calm.close()
