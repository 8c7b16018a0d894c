"""Late join: replay from a ``seq`` plus the live tail, bounded by the replay buffer."""

from __future__ import annotations

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamflow.channel import Channel, Lagged
from streamflow.errors import ReplayUnavailableError, SubscriberOverflowError
from streamflow.events import CustomData, Event, StateValues
from tests.helpers import seqs, take_all, take_buffered

pytestmark = pytest.mark.anyio


@settings(max_examples=40, deadline=None)
@given(
    before=st.integers(min_value=0, max_value=30),
    after=st.integers(min_value=0, max_value=30),
    data=st.data(),
    buffer_size=st.integers(min_value=1, max_value=5),
)
async def test_replay_plus_live_tail_has_no_gap_and_no_duplicate(
    before: int, after: int, data: st.DataObject, buffer_size: int
) -> None:
    channel = Channel(replay_size=100)
    for i in range(before):
        await channel.publish(CustomData(data=i))
    after_seq = data.draw(st.integers(min_value=0, max_value=before), label="after_seq")
    late = channel.subscribe(after_seq=after_seq, buffer_size=buffer_size)
    received: list[Event | Lagged] = []

    async def consume() -> None:
        async for item in late:
            received.append(item)
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(consume)
        for i in range(after):
            await channel.publish(CustomData(data=before + i))
        channel.close()
    assert seqs(received) == list(range(after_seq + 1, before + after + 1))
    assert len(received) == len(seqs(received))
    stats = late.statistics()
    assert (stats.published, stats.matched, stats.delivered) == (after, before - after_seq + after, len(received))


async def test_replay_respects_the_filter() -> None:
    channel = Channel()
    for i in range(4):
        channel.publish_nowait(CustomData(data=i))
        channel.publish_nowait(StateValues(values=i))
    late = channel.subscribe(kinds=["state_values"], after_seq=2)
    channel.publish_nowait(StateValues(values="live"))
    channel.publish_nowait(CustomData(data="live"))
    assert seqs(take_buffered(late)) == [4, 6, 8, 9]
    late.close()


async def test_evicted_replay_raises_naming_the_first_available_seq() -> None:
    channel = Channel(replay_size=5)
    for i in range(12):
        channel.publish_nowait(CustomData(data=i))
    with pytest.raises(ReplayUnavailableError) as info:
        channel.subscribe(after_seq=2)
    error = info.value
    assert isinstance(error, LookupError)
    assert (error.requested, error.first_available) == (3, 8)
    assert "first available seq is 8" in str(error)
    assert channel.statistics().subscribers == 0
    async with channel.subscribe(after_seq=7) as retained:
        assert seqs(take_buffered(retained)) == [8, 9, 10, 11, 12]


async def test_replay_size_zero_keeps_nothing_but_allows_the_live_tail() -> None:
    channel = Channel(replay_size=0)
    for i in range(3):
        channel.publish_nowait(CustomData(data=i))
    assert channel.statistics().replay_buffered == 0
    with pytest.raises(ReplayUnavailableError) as info:
        channel.subscribe(after_seq=2)
    assert info.value.first_available == 4
    live = channel.subscribe(after_seq=3)
    channel.publish_nowait(CustomData(data="live"))
    assert seqs(take_buffered(live)) == [4]
    live.close()


async def test_replay_on_a_closed_channel_reads_what_was_retained_then_ends() -> None:
    channel = Channel(replay_size=3)
    for i in range(5):
        channel.publish_nowait(CustomData(data=i))
    channel.close()
    late = channel.subscribe(after_seq=2)
    assert seqs(await take_all(late)) == [3, 4, 5]
    stats = late.statistics()
    assert (stats.published, stats.matched, stats.delivered, stats.buffered) == (0, 3, 3, 0)
    assert channel.statistics().delivered == 3


async def test_replay_overflowing_a_drop_oldest_buffer_starts_with_lagged() -> None:
    channel = Channel()
    for i in range(6):
        channel.publish_nowait(CustomData(data=i))
    late = channel.subscribe(after_seq=0, overflow="drop_oldest", buffer_size=2)
    channel.publish_nowait(CustomData(data="live"))
    items = take_buffered(late)
    assert items[0] == Lagged(missed=5, first_seq=1, last_seq=5)
    assert seqs(items) == [6, 7]
    assert channel.statistics().dropped == 5
    late.close()


async def test_replay_overflowing_a_block_buffer_holds_the_publisher_until_drained() -> None:
    channel = Channel()
    for i in range(4):
        channel.publish_nowait(CustomData(data=i))
    late = channel.subscribe(after_seq=0, buffer_size=2)
    assert late.statistics().buffered == 4
    with pytest.raises(anyio.WouldBlock):
        channel.publish_nowait(CustomData(data="live"))
    assert seqs([late.receive_nowait() for _ in range(3)]) == [1, 2, 3]
    assert channel.publish_nowait(CustomData(data="live")) == 5
    assert seqs(take_buffered(late)) == [4, 5]
    late.close()


async def test_replay_overflowing_an_error_buffer_disconnects_it_at_once() -> None:
    channel = Channel()
    for i in range(5):
        channel.publish_nowait(CustomData(data=i))
    late = channel.subscribe(after_seq=0, overflow="error", buffer_size=2)
    channel.publish_nowait(CustomData(data="live"))  # must never reach a disconnected subscriber
    with pytest.raises(SubscriberOverflowError) as info:
        late.receive_nowait()
    assert info.value.dropped == 3
    stats = late.statistics()
    assert (stats.matched, stats.delivered, stats.dropped, stats.buffered) == (3, 0, 3, 0)
    channel_stats = channel.statistics()
    assert (channel_stats.subscribers, channel_stats.dropped) == (0, 3)


async def test_replay_drops_on_a_closed_channel_are_counted_by_the_channel() -> None:
    channel = Channel()
    for i in range(5):
        channel.publish_nowait(CustomData(data=i))
    channel.close()
    late = channel.subscribe(after_seq=0, overflow="drop_oldest", buffer_size=2)
    items = await take_all(late)
    assert items[0] == Lagged(missed=3, first_seq=1, last_seq=3)
    assert seqs(items) == [4, 5]
    assert late.statistics().dropped == 3
    assert (channel.statistics().delivered, channel.statistics().dropped) == (2, 3)
