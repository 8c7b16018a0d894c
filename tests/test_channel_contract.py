"""The channel contract (DESIGN.md, "Channel contract"): order, filtering, exactly-once, cancel safety, close,
failure, statistics. Backpressure, replay and threads have their own files."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamflow.channel import Channel, ChannelStatistics, Lagged, SubscriptionStatistics
from streamflow.errors import ChannelClosedError, SubscriberDisconnectedError, SubscriberOverflowError
from streamflow.events import CustomData, Event, RunFailed, RunFinished, StateUpdate, StateValues
from streamflow.filters import EventFilter
from tests.helpers import seqs, take_all, take_buffered
from tests.strategies import filter_specs, run_events, spec_matches

pytestmark = pytest.mark.anyio

PROPERTY = settings(max_examples=40, deadline=None)


@PROPERTY
@given(batch=run_events(), use_nowait=st.lists(st.booleans(), min_size=30, max_size=30))
async def test_total_order_and_gap_free_seq(batch: list[Event], use_nowait: list[bool]) -> None:
    channel = Channel("run-1")
    everything = channel.subscribe()
    returned = []
    for event, nowait in zip(batch, use_nowait, strict=False):
        returned.append(channel.publish_nowait(event) if nowait else await channel.publish(event))
    expected = list(range(1, len(batch) + 1))
    assert returned == expected
    assert [e.seq for e in batch] == expected
    assert all(e.run_id == "run-1" for e in batch)
    assert channel.last_seq == len(batch)
    channel.close()
    received = await take_all(everything)
    assert [id(e) for e in received] == [id(e) for e in batch]


@PROPERTY
@given(batch=run_events(), specs=st.lists(filter_specs(), min_size=1, max_size=6), finish=st.booleans())
async def test_each_subscriber_sees_order_preserving_subsequence_matching_its_filter(
    batch: list[Event], specs: list[dict[str, Any]], finish: bool
) -> None:
    if finish:
        batch = [*batch, RunFinished(output={"done": True})]
    channel = Channel("run-1")
    subs = [channel.subscribe(**spec) for spec in specs]
    for event in batch:
        await channel.publish(event)
    channel.close()
    for spec, sub in zip(specs, subs, strict=True):
        received = await take_all(sub)
        expected = [e for e in batch if spec_matches(spec, e)]
        assert [id(e) for e in received] == [id(e) for e in expected], spec


@PROPERTY
@given(spec=filter_specs(), batch=run_events())
async def test_declared_filter_value_and_keywords_route_alike(spec: dict[str, Any], batch: list[Event]) -> None:
    channel = Channel()
    predicate = spec.pop("predicate", None)
    by_keywords = channel.subscribe(**spec, predicate=predicate)
    by_value = channel.subscribe(EventFilter(**spec), predicate=predicate)
    for event in batch:
        channel.publish_nowait(event)
    channel.close()
    assert seqs(await take_all(by_keywords)) == seqs(await take_all(by_value))


@PROPERTY
@given(
    n=st.integers(min_value=0, max_value=60),
    consumers=st.integers(min_value=1, max_value=4),
    buffer_size=st.integers(min_value=1, max_value=8),
)
async def test_no_duplicates(n: int, consumers: int, buffer_size: int) -> None:
    channel = Channel()
    subs = [channel.subscribe(buffer_size=buffer_size) for _ in range(consumers)]
    results: list[list[Event | Lagged]] = [[] for _ in subs]

    async def consume(i: int) -> None:
        async for item in subs[i]:
            results[i].append(item)
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        for i in range(consumers):
            tg.start_soon(consume, i)
        for i in range(n):
            await channel.publish(CustomData(data=i))
        channel.close()
    for received in results:
        assert not any(isinstance(item, Lagged) for item in received)
        assert seqs(received) == list(range(1, n + 1))
        assert len({id(e) for e in received}) == n


async def test_cancelled_receive_consumes_nothing() -> None:
    channel = Channel()
    sub = channel.subscribe()
    for _ in range(3):  # several receives, each cancelled while waiting
        async with anyio.create_task_group() as tg:
            tg.start_soon(sub.receive)
            await anyio.wait_all_tasks_blocked()
            tg.cancel_scope.cancel()

    first, second = CustomData(data=1), CustomData(data=2)
    channel.publish_nowait(first)
    channel.publish_nowait(second)
    assert sub.statistics().delivered == 0
    assert await sub.receive() is first
    assert await sub.receive() is second
    sub.close()


@pytest.mark.parametrize("order", ["publish_then_cancel", "cancel_then_publish"])
@pytest.mark.parametrize("how", ["task_cancel", "cancel_scope"])
async def test_receive_cancelled_in_the_same_tick_as_a_publish_loses_nothing(order: str, how: str) -> None:
    channel = Channel()
    sub = channel.subscribe()
    scope = anyio.CancelScope()

    async def receive_once() -> Event | Lagged | None:
        with scope:
            return await sub.receive()
        return None

    task = asyncio.ensure_future(receive_once())
    await anyio.wait_all_tasks_blocked()
    event = CustomData(data="racing")

    def cancel() -> None:
        if how == "task_cancel":
            task.cancel()
        else:
            scope.cancel()

    if order == "publish_then_cancel":
        channel.publish_nowait(event)
        cancel()
    else:
        cancel()
        channel.publish_nowait(event)
    got: list[Event | Lagged] = []
    try:
        result = await task
    except asyncio.CancelledError:
        result = None
    if result is not None:
        got.append(result)
    got += take_buffered(sub)
    assert got == [event]
    assert sub.statistics().delivered == len(got)
    sub.close()


async def test_cancelled_publish_publishes_nothing() -> None:
    channel = Channel()
    slow = channel.subscribe(buffer_size=1)
    other = channel.subscribe(kinds=["state_values"])
    channel.publish_nowait(CustomData(data=0))
    stuck = StateValues(values={"x": 1})
    async with anyio.create_task_group() as tg:
        tg.start_soon(channel.publish, stuck)
        await anyio.wait_all_tasks_blocked()
        tg.cancel_scope.cancel()
    assert channel.last_seq == 1
    assert stuck.seq == 0
    assert take_buffered(other) == []
    assert seqs(take_buffered(slow)) == [1]
    assert await channel.publish(StateValues(values={"x": 2})) == 2
    assert [e.values if isinstance(e, StateValues) else e for e in take_buffered(other)] == [{"x": 2}]
    slow.close()
    other.close()


async def test_close_drains_then_ends() -> None:
    channel = Channel()
    idle = channel.subscribe()
    waiting = channel.subscribe(kinds=["state_update"])
    partial = channel.subscribe()
    ended = anyio.Event()

    async def wait_for_end() -> None:
        with pytest.raises(anyio.EndOfStream):
            await waiting.receive()
        ended.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(wait_for_end)
        await anyio.wait_all_tasks_blocked()
        for i in range(5):
            await channel.publish(CustomData(data=i))
        assert seqs([await partial.receive(), await partial.receive()]) == [1, 2]
        channel.close()
        channel.close()  # idempotent
        await ended.wait()
    assert channel.closed
    assert seqs(await take_all(idle)) == [1, 2, 3, 4, 5]
    assert seqs(await take_all(partial)) == [3, 4, 5]
    for sub in (idle, waiting, partial):
        with pytest.raises(anyio.EndOfStream):
            await sub.receive()
        with pytest.raises(anyio.EndOfStream):
            sub.receive_nowait()
    with pytest.raises(ChannelClosedError):
        await channel.publish(CustomData(data="late"))


async def test_closing_a_subscription_ends_only_it() -> None:
    channel = Channel()
    leaving, staying = channel.subscribe(), channel.subscribe()
    channel.publish_nowait(CustomData(data=1))
    async with leaving:
        pass
    assert leaving.closed
    with pytest.raises(anyio.EndOfStream):
        leaving.receive_nowait()
    channel.publish_nowait(CustomData(data=2))
    assert seqs(take_buffered(staying)) == [1, 2]
    assert leaving.statistics().dropped == 1
    staying.close()


@PROPERTY
@given(batch=run_events(max_size=10), specs=st.lists(filter_specs(), min_size=1, max_size=8))
async def test_failure_reaches_every_subscriber(batch: list[Event], specs: list[dict[str, Any]]) -> None:
    channel = Channel()
    subs = [channel.subscribe(**spec) for spec in specs]
    subs.append(channel.subscribe(kinds=["custom_data"], nodes=["nowhere"], tags=["none"], ns_prefix=("x",)))
    subs.append(channel.subscribe(predicate=lambda e: False, subgraphs=False, ns_prefix=("deep",)))
    for event in batch:
        await channel.publish(event)
    failure = RunFailed(error_type="builtins.ValueError", error_message="boom", node="elsewhere", ns=("zz",))
    await channel.publish(failure)
    channel.close()
    for sub in subs:
        received = await take_all(sub)
        assert received[-1] is failure
        assert [e for e in received if isinstance(e, Event) and e.terminal] == [failure]


async def test_statistics_are_exact() -> None:
    channel = Channel("run-s", replay_size=4)
    assert channel.statistics() == ChannelStatistics(
        published=0, last_seq=0, delivered=0, dropped=0, buffered=0, subscribers=0, replay_buffered=0, closed=False
    )
    every = channel.subscribe(buffer_size=100)
    custom = channel.subscribe(kinds=["custom_data"], buffer_size=100)
    lossy = channel.subscribe(overflow="drop_oldest", buffer_size=2)
    strict = channel.subscribe(overflow="error", buffer_size=3)

    for i in range(3):
        channel.publish_nowait(CustomData(data=i))
    channel.publish_nowait(StateUpdate(update={"k": 1}))
    channel.publish_nowait(StateValues(values={"k": 1}))
    # seq 1..5 published; strict overflowed at seq 4 (3 buffered + 1 dropped); lossy dropped 1, 2, 3.
    assert seqs(take_buffered(every)[:2]) == [1, 2]
    assert seqs(take_buffered(custom)) == [1, 2, 3]
    lossy_items = take_buffered(lossy)
    assert lossy_items[0] == Lagged(missed=3, first_seq=1, last_seq=3)
    assert seqs(lossy_items) == [4, 5]

    assert every.statistics() == SubscriptionStatistics(
        published=5,
        matched=5,
        delivered=5,
        dropped=0,
        buffered=0,
        buffer_size=100,
        overflow="block",
        waiting_receivers=0,
    )
    assert custom.statistics() == SubscriptionStatistics(
        published=5,
        matched=3,
        delivered=3,
        dropped=0,
        buffered=0,
        buffer_size=100,
        overflow="block",
        waiting_receivers=0,
    )
    assert lossy.statistics() == SubscriptionStatistics(
        published=5,
        matched=5,
        delivered=2,
        dropped=3,
        buffered=0,
        buffer_size=2,
        overflow="drop_oldest",
        waiting_receivers=0,
    )
    assert strict.statistics() == SubscriptionStatistics(
        published=4, matched=4, delivered=0, dropped=4, buffered=0, buffer_size=3, overflow="error", waiting_receivers=0
    )
    assert channel.statistics() == ChannelStatistics(
        published=5, last_seq=5, delivered=10, dropped=7, buffered=0, subscribers=3, replay_buffered=4, closed=False
    )

    for i in range(3):
        channel.publish_nowait(CustomData(data=10 + i))
    # seq 6..8: every and custom buffer 3 each, lossy keeps 2 of 3.
    assert channel.statistics() == ChannelStatistics(
        published=8, last_seq=8, delivered=10, dropped=8, buffered=8, subscribers=3, replay_buffered=4, closed=False
    )
    custom.close()  # discards its 3 buffered events
    assert custom.statistics() == SubscriptionStatistics(
        published=8,
        matched=6,
        delivered=3,
        dropped=3,
        buffered=0,
        buffer_size=100,
        overflow="block",
        waiting_receivers=0,
    )
    assert channel.statistics() == ChannelStatistics(
        published=8, last_seq=8, delivered=10, dropped=11, buffered=5, subscribers=2, replay_buffered=4, closed=False
    )

    channel.publish_nowait(CustomData(data="after custom left"))  # seq 9
    channel.close()
    # detached by close, ``every`` (6..9) and ``lossy`` (8, 9) still hold what they have to drain
    assert channel.statistics() == ChannelStatistics(
        published=9, last_seq=9, delivered=10, dropped=12, buffered=6, subscribers=0, replay_buffered=4, closed=True
    )
    assert seqs(await take_all(every)) == [6, 7, 8, 9]
    assert every.statistics() == SubscriptionStatistics(
        published=9,
        matched=9,
        delivered=9,
        dropped=0,
        buffered=0,
        buffer_size=100,
        overflow="block",
        waiting_receivers=0,
    )
    assert custom.statistics().published == 8
    with pytest.raises(SubscriberOverflowError):
        await strict.receive()
    lossy_items = await take_all(lossy)
    assert lossy_items[0] == Lagged(missed=2, first_seq=6, last_seq=7)
    assert seqs(lossy_items) == [8, 9]
    assert lossy.statistics() == SubscriptionStatistics(
        published=9,
        matched=9,
        delivered=4,
        dropped=5,
        buffered=0,
        buffer_size=2,
        overflow="drop_oldest",
        waiting_receivers=0,
    )
    assert channel.statistics() == ChannelStatistics(
        published=9,
        last_seq=9,
        delivered=10 + 4 + 2,
        dropped=12,
        buffered=0,
        subscribers=0,
        replay_buffered=4,
        closed=True,
    )


async def test_subscription_published_counts_only_while_attached() -> None:
    channel = Channel()
    channel.publish_nowait(CustomData(data="before"))
    sub = channel.subscribe(kinds=["custom_data"])
    for i in range(3):
        channel.publish_nowait(CustomData(data=i))
        channel.publish_nowait(StateValues(values=i))
    assert sub.statistics().published == 6
    channel.close()
    stats = sub.statistics()
    assert (stats.published, stats.matched, stats.buffered) == (6, 3, 3)
    sub.close()


async def test_published_is_a_count_whatever_the_first_seq() -> None:
    channel = Channel(first_seq=100)
    stats = channel.statistics()
    assert (stats.published, stats.last_seq) == (0, 99)
    for i in range(3):
        channel.publish_nowait(CustomData(data=i))
    stats = channel.statistics()
    assert (stats.published, stats.last_seq) == (3, 102)
    channel.close(RunFinished(output=None))
    assert channel.statistics().published == 4


async def test_buffered_counts_what_subscribers_still_drain_after_close() -> None:
    channel = Channel()
    first, second = channel.subscribe(), channel.subscribe(kinds=["custom_data"])
    for i in range(3):
        channel.publish_nowait(CustomData(data=i))
    channel.publish_nowait(StateValues(values=3))
    channel.close()
    stats = channel.statistics()
    assert (stats.subscribers, stats.buffered, stats.delivered, stats.dropped) == (0, 7, 0, 0)
    assert seqs([await first.receive(), await first.receive()]) == [1, 2]
    stats = channel.statistics()
    assert (stats.buffered, stats.delivered) == (5, 2)
    second.close()  # discards its 3
    stats = channel.statistics()
    assert (stats.buffered, stats.delivered, stats.dropped) == (2, 2, 3)
    assert seqs(await take_all(first)) == [3, 4]
    stats = channel.statistics()
    assert (stats.buffered, stats.delivered, stats.dropped) == (0, 4, 3)


async def test_a_block_timeout_disconnection_keeps_counting_what_it_drains() -> None:
    channel = Channel()
    slow = channel.subscribe(buffer_size=2, timeout=0)
    channel.publish_nowait(CustomData(data=1))
    channel.publish_nowait(CustomData(data=2))
    await channel.publish(CustomData(data=3))  # disconnects ``slow`` at once; it keeps 1 and 2 to drain
    stats = channel.statistics()
    assert (stats.subscribers, stats.buffered, stats.published) == (0, 2, 3)
    assert seqs([slow.receive_nowait(), slow.receive_nowait()]) == [1, 2]
    assert (channel.statistics().buffered, channel.statistics().delivered) == (0, 2)
    with pytest.raises(SubscriberDisconnectedError):
        slow.receive_nowait()
