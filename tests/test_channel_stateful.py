"""A state machine drives one channel through publish / subscribe / receive / unsubscribe / cancelled receives /
several receivers at once / publishes and drains under an expired deadline / slow subscribers / replay / close,
and checks it against a plain-list model after every step.

The channel lives on one asyncio loop made for each run of the machine and closed in ``teardown``; every step
runs on that loop with ``run_until_complete``. Each run draws the channel's yield interval
(:data:`streamflow.fairness.YIELD_INTERVAL`, 1 to 4 operations), so the amortised checkpoints of ``publish`` and
``receive`` fall between the machine's steps and inside them.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from streamflow import fairness
from streamflow.channel import Channel, ChannelStatistics, Lagged, Subscription, SubscriptionStatistics
from streamflow.errors import ChannelClosedError, ReplayUnavailableError
from streamflow.events import Event, RunCancelled, RunFinished
from tests.strategies import NON_TERMINAL_KINDS, events, filter_specs, json_payloads, small_routing, spec_matches

T = TypeVar("T")

REPLAY_SIZE = 6


class SubModel:
    """What one subscription should hold, as plain lists and counters."""

    def __init__(self, sub: Subscription, spec: dict[str, Any], policy: str, capacity: int, published: int) -> None:
        self.sub = sub
        self.spec = spec
        self.policy = policy
        self.capacity = capacity
        self.buffer: deque[Event] = deque()
        self.missed: list[int] = []  # seqs dropped since the last Lagged signal
        self.attached = True
        self.closed = False
        self.matched = 0
        self.delivered = 0
        self.dropped = 0
        self.published_at_attach = published
        self.published_until: int | None = None
        self.congested = False  # a 'block' buffer that filled up counts as full until it drained to half

    def __repr__(self) -> str:
        return f"<SubModel {self.policy}/{self.capacity} {self.spec}>"

    @property
    def full(self) -> bool:
        return self.attached and self.congested

    def push(self, event: Event) -> None:
        self.matched += 1
        if self.policy == "drop_oldest" and len(self.buffer) >= self.capacity:
            self.missed.append(self.buffer.popleft().seq)
            self.dropped += 1
        self.buffer.append(event)
        if self.attached and self.policy == "block" and len(self.buffer) >= self.capacity:
            self.congested = True

    def take(self) -> Event:
        """Take the oldest buffered event; a congested 'block' buffer has room again once at half."""
        event = self.buffer.popleft()
        if self.congested and len(self.buffer) <= self.capacity >> 1:
            self.congested = False
        return event

    def offer(self, event: Event) -> None:
        if self.attached and spec_matches(self.spec, event):
            self.push(event)

    def detach(self, last_seq: int) -> None:
        if self.attached:
            self.attached = False
            self.published_until = last_seq


class ChannelMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.default_interval = fairness.YIELD_INTERVAL
        self.published: list[Event] = []
        self.models: list[SubModel] = []
        self.channel_closed = False

    @initialize(interval=st.integers(min_value=1, max_value=4))
    def make_channel(self, interval: int) -> None:
        fairness.YIELD_INTERVAL = interval
        self.channel = self.call(lambda: Channel("machine", replay_size=REPLAY_SIZE))

    def teardown(self) -> None:
        fairness.YIELD_INTERVAL = self.default_interval
        try:
            for model in self.models:
                model.sub.close()
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        finally:
            self.loop.close()

    # -- driving the loop ------------------------------------------------------------------------------

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn()`` inside the machine's loop (as a channel's caller would be)."""

        async def inside() -> T:
            return fn()

        return self.loop.run_until_complete(inside())

    def settle(self) -> None:
        """Let every task on the loop run until it blocks."""

        async def spin() -> None:
            for _ in range(3):
                await asyncio.sleep(0)

        self.loop.run_until_complete(spin())

    # -- model helpers ---------------------------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        return len(self.published)

    def channel_full(self) -> bool:
        return any(m.full for m in self.models)

    def expect_publish(self, event: Event, *, in_loop: bool = True) -> None:
        """Publish ``event`` with ``publish_nowait`` and update the model, whatever the outcome should be.
        With ``in_loop=False`` the loop does not run (no task runs between this and the caller's next step)."""
        event = attrs.evolve(event)  # a fresh object: hypothesis may hand the same drawn value out twice

        def publish() -> int:
            if in_loop:
                return self.call(lambda: self.channel.publish_nowait(event))
            return self.channel.publish_nowait(event)

        if self.channel_closed:
            try:
                publish()
            except ChannelClosedError:
                return
            raise AssertionError("publish on a closed channel did not raise ChannelClosedError")
        if self.channel_full():
            seq_before = event.seq
            try:
                publish()
            except anyio.WouldBlock:
                assert event.seq == seq_before  # not stamped: nothing was published
                return
            raise AssertionError("publish_nowait did not raise WouldBlock with a full 'block' subscriber")
        seq = publish()
        assert seq == event.seq == self.last_seq + 1
        self.published.append(event)
        for model in self.models:
            model.offer(event)

    def take_expected(self, model: SubModel, got: Event | Lagged) -> None:
        """Check that ``got`` is what the model says ``model``'s subscription hands out next, and take it."""
        if model.missed:
            assert got == Lagged(missed=len(model.missed), first_seq=model.missed[0], last_seq=model.missed[-1])
            model.missed = []
            return
        assert model.buffer, f"received {got!r} from an empty model buffer"
        assert got is model.take()
        model.delivered += 1

    def ready(self, model: SubModel) -> bool:
        """Whether a receive on ``model``'s subscription returns without waiting for a publish."""
        return bool(model.missed or model.buffer) or not model.attached or model.closed

    def expect_receive(self, model: SubModel) -> None:
        try:
            got: Event | Lagged = self.call(model.sub.receive_nowait)
        except anyio.WouldBlock:
            assert not model.missed and not model.buffer
            assert model.attached and not model.closed
            return
        except anyio.EndOfStream:
            assert not model.missed and not model.buffer
            assert not model.attached or model.closed
            return
        self.take_expected(model, got)

    # -- rules ------------------------------------------------------------------------------------------

    @rule(event=events(json_payloads, small_routing, NON_TERMINAL_KINDS))
    def publish(self, event: Event) -> None:
        self.expect_publish(event)

    @rule(
        spec=filter_specs(),
        policy=st.sampled_from(["block", "block_roomy", "drop_oldest"]),
        capacity=st.integers(min_value=1, max_value=3),
        replay=st.none() | st.integers(min_value=0, max_value=REPLAY_SIZE + 2),
    )
    def subscribe(self, spec: dict[str, Any], policy: str, capacity: int, replay: int | None) -> None:
        if policy == "block_roomy":
            policy, capacity = "block", 10_000
        # ``replay`` counts back from the next seq: 0 is the live tail only.
        after_seq = None if replay is None else max(0, self.last_seq - replay)
        kwargs = dict(spec, overflow=policy, buffer_size=capacity, after_seq=after_seq)
        first_available = max(1, self.last_seq + 1 - REPLAY_SIZE)
        if self.channel_closed and after_seq is None:
            try:
                self.call(lambda: self.channel.subscribe(**kwargs))
            except ChannelClosedError:
                return
            raise AssertionError("subscribe on a closed channel without after_seq did not raise")
        if after_seq is not None and after_seq + 1 < first_available:
            try:
                self.call(lambda: self.channel.subscribe(**kwargs))
            except ReplayUnavailableError as exc:
                assert exc.first_available == first_available
                return
            raise AssertionError("replay of evicted events did not raise ReplayUnavailableError")
        sub = self.call(lambda: self.channel.subscribe(**kwargs))
        model = SubModel(sub, spec, policy, capacity, self.last_seq)
        if after_seq is not None:
            for event in self.published[after_seq:]:
                model.offer(event)
        if self.channel_closed:
            model.detach(self.last_seq)
        self.models.append(model)

    @precondition(lambda self: self.models)
    @rule(data=st.data())
    def receive(self, data: st.DataObject) -> None:
        self.expect_receive(data.draw(st.sampled_from(self.models), label="subscription"))

    @precondition(lambda self: self.models)
    @rule(data=st.data(), count=st.integers(min_value=1, max_value=5))
    def receive_several(self, data: st.DataObject, count: int) -> None:
        model = data.draw(st.sampled_from(self.models), label="subscription")
        for _ in range(count):
            self.expect_receive(model)

    @precondition(lambda self: self.models)
    @rule(data=st.data())
    def unsubscribe(self, data: st.DataObject) -> None:
        model = data.draw(st.sampled_from(self.models), label="subscription")
        self.call(model.sub.close)
        if not model.closed:
            model.closed = True
            model.detach(self.last_seq)
            model.dropped += len(model.buffer)
            model.buffer.clear()

    @precondition(lambda self: any(m.attached and not m.closed and not m.buffer and not m.missed for m in self.models))
    @rule(data=st.data(), race=st.none() | events(json_payloads, small_routing, NON_TERMINAL_KINDS))
    def cancel_a_pending_receive(self, data: st.DataObject, race: Event | None) -> None:
        """Start a receive that has to wait, then cancel it; with ``race``, publish in the same tick first."""
        idle = [m for m in self.models if m.attached and not m.closed and not m.buffer and not m.missed]
        model = data.draw(st.sampled_from(idle), label="subscription")
        task = self.loop.create_task(model.sub.receive())
        self.settle()
        assert not task.done()
        if race is not None:
            self.expect_publish(race)  # no checkpoint between this publish and the cancel below
        task.cancel()
        try:
            got = self.loop.run_until_complete(task)
        except asyncio.CancelledError:
            return
        # The receive won the race: it must have taken exactly what the model says comes next.
        assert model.buffer
        assert got is model.take()
        model.delivered += 1

    @precondition(lambda self: any(m.attached and not m.closed and not m.buffer and not m.missed for m in self.models))
    @rule(
        data=st.data(),
        receivers=st.integers(min_value=2, max_value=4),
        batch=st.lists(events(json_payloads, small_routing, NON_TERMINAL_KINDS), max_size=4),
        cancel=st.sets(st.integers(min_value=0, max_value=3), max_size=2),
        cancel_first=st.booleans(),
    )
    def several_pending_receives(
        self, data: st.DataObject, receivers: int, batch: list[Event], cancel: set[int], cancel_first: bool
    ) -> None:
        """Several tasks wait on one subscription; events arrive (some receivers cancelled in the same tick):
        the receivers that were not cancelled take the next items in the order they started waiting, each a
        different item, and nothing is lost or taken twice."""
        idle = [m for m in self.models if m.attached and not m.closed and not m.buffer and not m.missed]
        model = data.draw(st.sampled_from(idle), label="subscription")
        tasks = []
        for _ in range(receivers):  # one at a time, so the waiting order is the order made
            tasks.append(self.loop.create_task(model.sub.receive()))
            self.settle()
        assert not any(task.done() for task in tasks)
        assert model.sub.statistics().waiting_receivers == receivers
        cancelled = [task for i, task in enumerate(tasks) if i in cancel]
        if cancel_first:
            for task in cancelled:
                task.cancel()
        for event in batch:
            self.expect_publish(event, in_loop=False)  # no task runs between these publishes and the cancels
        if not cancel_first:
            for task in cancelled:
                task.cancel()
        self.settle()
        finished = [task for task in tasks if task not in cancelled and task.done()]
        waiting = [task for task in tasks if task not in cancelled and not task.done()]
        assert tasks.index(finished[-1]) < tasks.index(waiting[0]) if finished and waiting else True
        for task in finished:
            self.take_expected(model, task.result())
        assert not waiting or not self.ready(model)  # a receiver waits only when nothing is left for it
        for task in waiting:
            task.cancel()
        self.settle()
        for task in tasks:
            assert task.done()
            if task in cancelled or task in waiting:
                assert task.cancelled()

    @rule(batch=st.lists(events(json_payloads, small_routing, NON_TERMINAL_KINDS), min_size=1, max_size=8))
    def publish_under_an_expired_deadline(self, batch: list[Event]) -> None:
        """``await publish()`` in a loop inside ``anyio.move_on_after(0)``: the loop is cancelled at the first
        publish that yields or waits (a full ``block`` subscriber), and that publish publishes nothing."""
        if self.channel_closed:
            return
        batch = [attrs.evolve(event) for event in batch]
        drawn_seqs = [event.seq for event in batch]
        published: list[int] = []

        async def publish_all() -> None:
            with anyio.move_on_after(0):
                for event in batch:
                    published.append(await self.channel.publish(event))

        self.loop.run_until_complete(publish_all())
        assert published == list(range(self.last_seq + 1, self.last_seq + 1 + len(published)))
        for event in batch[: len(published)]:
            self.published.append(event)
            for model in self.models:
                model.offer(event)
        assert [event.seq for event in batch[len(published) :]] == drawn_seqs[len(published) :]  # not stamped
        if len(published) < len(batch):
            interval = fairness.YIELD_INTERVAL
            assert len(published) < interval or self.channel_full()

    @precondition(lambda self: self.models)
    @rule(data=st.data())
    def drain_under_an_expired_deadline(self, data: st.DataObject) -> None:
        """``await receive()`` while items are ready, inside ``anyio.move_on_after(0)``: cancelled at the first
        receive that yields, which takes nothing; what was taken before is what the model says, in order."""
        model = data.draw(st.sampled_from(self.models), label="subscription")
        got: list[Event | Lagged] = []
        limit = len(model.buffer) + (1 if model.missed else 0)

        async def drain() -> None:
            with anyio.move_on_after(0):
                while len(got) < limit:
                    got.append(await model.sub.receive())

        self.loop.run_until_complete(drain())
        for item in got:
            self.take_expected(model, item)
        assert len(got) == limit or len(got) < fairness.YIELD_INTERVAL

    @rule(final=st.sampled_from([None, RunFinished, RunCancelled]))
    def close_channel(self, final: type[Event] | None) -> None:
        event = final() if final is not None else None
        self.call(lambda: self.channel.close(event))
        if self.channel_closed:
            if event is not None:
                assert event.seq == 0  # a second close publishes nothing
            return
        if event is not None:
            assert event.seq == self.last_seq + 1
            self.published.append(event)
            for model in self.models:
                model.offer(event)  # terminal: passes every filter, ignores backpressure
        self.channel_closed = True
        for model in self.models:
            model.detach(self.last_seq)

    # -- invariants -------------------------------------------------------------------------------------

    @invariant()
    def seq_is_gap_free(self) -> None:
        assert self.channel.last_seq == self.last_seq
        assert [e.seq for e in self.published] == list(range(1, self.last_seq + 1))

    @invariant()
    def channel_statistics_match_the_model(self) -> None:
        attached = [m for m in self.models if m.attached]
        assert self.channel.statistics() == ChannelStatistics(
            published=self.last_seq,
            last_seq=self.last_seq,
            delivered=sum(m.delivered for m in self.models),
            dropped=sum(m.dropped for m in self.models),
            buffered=sum(len(m.buffer) for m in self.models),  # detached ones still draining included
            subscribers=len(attached),
            replay_buffered=min(REPLAY_SIZE, self.last_seq),
            closed=self.channel_closed,
        )

    @invariant()
    def subscription_statistics_match_the_model(self) -> None:
        for model in self.models:
            until = model.published_until if model.published_until is not None else self.last_seq
            assert model.sub.statistics() == SubscriptionStatistics(
                published=until - model.published_at_attach,
                matched=model.matched,
                delivered=model.delivered,
                dropped=model.dropped,
                buffered=len(model.buffer),
                buffer_size=model.capacity,
                overflow=model.policy,
                waiting_receivers=0,
            ), model


ChannelMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestChannelMachine = ChannelMachine.TestCase
