"""Events queued while the channel cannot take them (``publish_soon`` behind a full ``block`` subscriber) are
published in bulk by the inbox pump and by ``close()``; views and subscriptions take what is ready in bulk.
Each bulk path must hand every subscriber exactly what the one-at-a-time path would, in the same order."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamflow.channel import Channel, Lagged
from streamflow.events import CustomData, Event
from streamflow.modes import ViewSpec
from streamflow.views import View
from tests.helpers import take_all
from tests.strategies import filter_specs, run_events, spec_matches

pytestmark = pytest.mark.anyio

PROPERTY = settings(max_examples=40, deadline=None)


@PROPERTY
@given(
    batch=run_events(),
    specs=st.lists(filter_specs(), min_size=1, max_size=5),
    capacity=st.integers(min_value=1, max_value=8),
    drain_first=st.booleans(),
)
async def test_events_queued_behind_a_full_subscriber_reach_every_subscriber_in_order(
    batch: list[Event], specs: list[dict[str, Any]], capacity: int, drain_first: bool
) -> None:
    channel = Channel("run-1")
    gate = channel.subscribe(kinds=["custom_data"], buffer_size=capacity)  # fills up: the rest is queued
    subs = [channel.subscribe(**spec) for spec in specs]
    for event in [CustomData(data=i) for i in range(capacity)] + batch:
        channel.publish_soon(event)
    if drain_first:  # the pump publishes the queue in bulk as the gate makes room
        async with anyio.create_task_group() as tg:
            tg.start_soon(drain, gate)
            await channel.flush()
            tg.cancel_scope.cancel()
    channel.close()
    assert channel.last_seq == capacity + len(batch)
    for spec, sub in zip(specs, subs, strict=True):
        received = [e for e in await take_all(sub) if isinstance(e, Event)]
        assert [e.seq for e in received] == sorted(e.seq for e in received)
        expected = [e for e in batch if spec_matches(spec, e)]
        got = [e for e in received if not (isinstance(e, CustomData) and e.seq <= capacity)]
        assert [id(e) for e in got] == [id(e) for e in expected], spec
    await take_all(gate)


async def drain(sub: Any) -> None:
    async for _ in sub:
        pass


@PROPERTY
@given(sizes=st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=20), dropped=st.integers(0, 3))
async def test_receive_many_nowait_takes_what_receive_nowait_would(sizes: list[int], dropped: int) -> None:
    def fill(channel: Channel) -> Any:
        sub = channel.subscribe(kinds=["custom_data"], buffer_size=20, overflow="drop_oldest")
        for i in range(20 + dropped):
            channel.publish_nowait(CustomData(data=i))
        channel.close()
        return sub

    one, many = fill(Channel("a")), fill(Channel("b"))
    singles: list[Any] = []
    while True:
        try:
            singles.append(one.receive_nowait())
        except anyio.EndOfStream:
            break
    bulk: list[Any] = []
    for size in sizes:
        try:
            taken = many.receive_many_nowait(size)
        except anyio.EndOfStream:
            break
        assert 1 <= len(taken) <= size
        bulk.extend(taken)
    while True:
        try:
            bulk.extend(many.receive_many_nowait(5))
        except anyio.EndOfStream:
            break

    def shape(items: list[Any]) -> list[Any]:
        return [item if isinstance(item, Lagged) else item.data for item in items]

    assert shape(bulk) == shape(singles)
    assert many.statistics().delivered == one.statistics().delivered


async def test_next_batch_never_returns_more_than_its_limit_and_keeps_the_rest() -> None:
    channel = Channel("run-1")
    sub = channel.subscribe(kinds=["custom_data"])
    for i in range(10):
        channel.publish_nowait(CustomData(data=i))
    channel.close()
    view = View(sub, ViewSpec.parse("custom"))
    got: list[Any] = []
    while batch := await view.next_batch(3):
        assert 1 <= len(batch) <= 3
        got.extend(batch)
    assert got == list(range(10))


@PROPERTY
@given(
    steps=st.lists(
        st.tuples(st.integers(min_value=0, max_value=6), st.integers(min_value=1, max_value=5), st.booleans()),
        min_size=1,
        max_size=15,
    ),
)
async def test_take_ready_and_next_batch_together_take_every_item_once_in_order(
    steps: list[tuple[int, int, bool]],
) -> None:
    """:meth:`View.take_ready` never waits and never ends the view: mixed with ``next_batch`` in any way,
    the two take every item once, in order, and the end is left for ``next_batch``."""
    channel = Channel("run-1")
    view = View(channel.subscribe(kinds=["custom_data"], buffer_size=1_000), ViewSpec.parse("custom"))
    published = 0
    got: list[Any] = []
    for count, limit, ready_only in steps:
        for _ in range(count):
            channel.publish_nowait(CustomData(data=published))
            published += 1
        if ready_only or len(got) == published:
            taken = view.take_ready(limit)
            assert len(taken) == min(limit, published - len(got))
        else:
            taken = await view.next_batch(limit)
            assert 1 <= len(taken) <= limit
        got.extend(taken)
    got.extend(view.take_ready(1_000))
    channel.close()
    assert view.take_ready(5) == []
    assert await view.next_batch(5) == []
    assert got == list(range(published))
