"""Fairness: every async operation of the channel and its views lets other tasks run, and can be cancelled,
even when it never has to wait (an amortised checkpoint, ``streamflow.fairness.YieldBudget``).

A ticker task records, each time it gets a turn, how far the busy task has got; the largest step between two
turns is what the guarantee bounds: at most ``YIELD_INTERVAL`` operations.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import anyio
import pytest

from streamflow.channel import Channel, Lagged, Subscription
from streamflow.errors import InvalidArgumentError
from streamflow.events import CustomData, Event
from streamflow.fairness import YIELD_INTERVAL, YieldBudget
from streamflow.modes import ViewSpec
from streamflow.views import View
from tests.helpers import seqs, take_buffered

pytestmark = pytest.mark.anyio

N = 100_000
"""Operations in a long loop (events)."""


class Ticker:
    """A task that, at each turn it gets, records ``progress()``; ``largest_step`` is the most progress made
    between two of its turns (from 0 at the start to the final value at the end)."""

    def __init__(self, progress: Callable[[], int]) -> None:
        self.progress = progress
        self.seen: list[int] = [0]
        self.stop = False

    async def run(self) -> None:
        while not self.stop:
            self.seen.append(self.progress())
            await anyio.lowlevel.checkpoint()

    def largest_step(self) -> int:
        points = [*self.seen, self.progress()]
        return max(b - a for a, b in itertools.pairwise(points))


async def run_with_ticker(progress: Callable[[], int], busy: Callable[[], object]) -> Ticker:
    """Run the coroutine function ``busy`` while a :class:`Ticker` watches ``progress``."""
    ticker = Ticker(progress)
    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker.run)  # it gets its first turn when ``busy`` first yields
        await busy()  # type: ignore[misc]
        ticker.stop = True
    return ticker


async def test_a_long_publish_loop_lets_other_tasks_run() -> None:
    channel = Channel(replay_size=0)
    observer = channel.subscribe(overflow="drop_oldest", buffer_size=16)  # keeps up by dropping

    async def publish_all() -> None:
        for i in range(N):
            await channel.publish(CustomData(data=i))

    ticker = await run_with_ticker(lambda: channel.last_seq, publish_all)
    assert channel.last_seq == N
    assert len(ticker.seen) >= N // YIELD_INTERVAL
    assert ticker.largest_step() <= YIELD_INTERVAL
    observer.close()


async def test_the_inbox_pump_lets_other_tasks_run() -> None:
    """What a stream writer queues with publish_soon (or a worker thread with publish_threadsafe) while a
    ``block`` subscriber is full is published by the pump task, which yields as publish does."""
    channel = Channel(replay_size=0)
    stuck = channel.subscribe(buffer_size=1)
    channel.publish_nowait(CustomData(data="fills the buffer"))
    for i in range(N):
        channel.publish_soon(CustomData(data=i))
    assert channel.last_seq == 1
    stuck.close()  # room at last: the pump runs through all of them without waiting

    ticker = await run_with_ticker(lambda: channel.last_seq - 1, channel.flush)
    assert channel.last_seq == N + 1
    assert ticker.largest_step() <= YIELD_INTERVAL


async def drain_receive(sub: Subscription, out: list[Event | Lagged]) -> None:
    while True:
        try:
            out.append(await sub.receive())
        except anyio.EndOfStream:
            return


async def drain_iterate(sub: Subscription, out: list[Event | Lagged]) -> None:
    async for item in sub:
        out.append(item)


async def drain_view(sub: Subscription, out: list[Event | Lagged]) -> None:
    async for item in View(sub, ViewSpec.parse("custom")):
        out.append(item)


async def drain_view_batches(sub: Subscription, out: list[Event | Lagged]) -> None:
    view = View(sub, ViewSpec.parse("custom"))
    while batch := await view.next_batch(1_000):
        out.extend(batch)


DRAINS = [drain_receive, drain_iterate, drain_view, drain_view_batches]


@pytest.mark.parametrize("drain", DRAINS, ids=lambda f: f.__name__)
async def test_a_long_drain_of_buffered_events_lets_other_tasks_run(drain: Callable[..., object]) -> None:
    channel = Channel(replay_size=0)
    sub = channel.subscribe(kinds=["custom_data"], buffer_size=N)
    for i in range(N):
        channel.publish_nowait(CustomData(data=i))
    channel.close()
    got: list[Event | Lagged] = []
    ticker = await run_with_ticker(lambda: len(got), lambda: drain(sub, got))
    assert len(got) == N
    assert ticker.largest_step() <= YIELD_INTERVAL


async def test_draining_a_replay_lets_other_tasks_run() -> None:
    channel = Channel(replay_size=10_000)
    for i in range(10_000):
        channel.publish_nowait(CustomData(data=i))
    late = channel.subscribe(after_seq=0)
    got: list[Event | Lagged] = []

    async def drain() -> None:
        while len(got) < 10_000:
            got.append(await late.receive())

    ticker = await run_with_ticker(lambda: len(got), drain)
    assert seqs(got) == list(range(1, 10_001))
    assert ticker.largest_step() <= YIELD_INTERVAL
    late.close()


@pytest.mark.parametrize("drain", DRAINS, ids=lambda f: f.__name__)
async def test_an_expired_deadline_cancels_a_long_drain_and_takes_nothing_more(drain: Callable[..., object]) -> None:
    channel = Channel(replay_size=0)
    sub = channel.subscribe(kinds=["custom_data"], buffer_size=N)
    for i in range(N):
        channel.publish_nowait(CustomData(data=i))
    got: list[Event | Lagged] = []
    with anyio.move_on_after(0) as scope:
        await drain(sub, got)  # type: ignore[misc]
    assert scope.cancelled_caught
    assert len(got) < YIELD_INTERVAL
    # nothing was taken but what was returned: the drain resumes exactly after the last item it got
    assert sub.statistics().buffered == N - len(got)
    assert seqs([sub.receive_nowait()]) == [len(got) + 1]
    sub.close()


async def test_a_drain_cancelled_by_another_task_stops_at_its_next_yield() -> None:
    channel = Channel(replay_size=0)
    sub = channel.subscribe(buffer_size=N)
    for i in range(N):
        channel.publish_nowait(CustomData(data=i))
    got: list[Event | Lagged] = []
    turns = 0

    async def cancel_on_third_turn(scope: anyio.CancelScope) -> None:
        nonlocal turns
        while turns < 3:
            turns += 1
            await anyio.lowlevel.checkpoint()
        scope.cancel()

    async with anyio.create_task_group() as tg:
        tg.start_soon(cancel_on_third_turn, tg.cancel_scope)  # it gets a turn at each yield of the drain
        async for item in sub:
            got.append(item)
    assert turns == 3
    assert 0 < len(got) <= 4 * YIELD_INTERVAL
    assert sub.statistics().buffered == N - len(got)
    assert seqs(take_buffered(sub)[:1]) == [len(got) + 1]
    sub.close()


async def test_an_expired_deadline_cancels_a_long_publish_loop_and_publishes_nothing_more() -> None:
    channel = Channel(replay_size=0)
    sub = channel.subscribe(buffer_size=N)
    batch = [CustomData(data=i) for i in range(N)]
    published = 0
    with anyio.move_on_after(0) as scope:
        for event in batch:
            await channel.publish(event)
            published += 1
    assert scope.cancelled_caught
    assert published < YIELD_INTERVAL
    assert channel.last_seq == published
    assert batch[published].seq == 0  # the cancelled publish stamped nothing
    assert sub.statistics().buffered == published
    sub.close()


def test_yield_budget_counts_operations_and_rejects_a_bad_interval() -> None:
    budget = YieldBudget(3)
    assert (budget.interval, budget.left) == (3, 3)
    budget.left -= 2
    budget.refill()
    assert budget.left == 3
    assert YieldBudget().interval == YIELD_INTERVAL
    for bad in (0, -1, 1.5, True, "3"):
        with pytest.raises(InvalidArgumentError, match="interval must be an int >= 1"):
            YieldBudget(bad)  # type: ignore[arg-type]


async def test_yield_budget_checkpoint_yields_once_per_interval() -> None:
    budget = YieldBudget(4)
    turns = 0

    async def other() -> None:
        nonlocal turns
        while True:
            turns += 1
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(other)
        await anyio.lowlevel.checkpoint()  # ``other`` takes its first turn
        start = turns
        for _ in range(12):
            await budget.checkpoint()
        assert turns - start == 3
        tg.cancel_scope.cancel()
