"""The per-run broadcast channel: one total order of events, many filtered subscribers.

Layer 2. A :class:`Channel` stamps each published event with the run's id and the next ``seq`` and hands
it, in the same call, to every subscriber whose filter takes it. Each :class:`Subscription` has its own
bounded buffer and overflow policy:

``block``
    the publisher waits (``await publish()``) while this subscriber's buffer is full; once it filled up, it
    counts as full until it has drained to half, so that publishers resume in bulk rather than one event
    per event taken (hysteresis, as in flow control). With a ``timeout``
    (seconds), a subscriber that keeps the publisher waiting longer is disconnected alone: it drains what
    it had, then its receive raises :class:`~streamflow.errors.SubscriberTimeoutError`.
``drop_oldest``
    the oldest buffered event makes room; the subscriber then receives a :class:`Lagged` signal saying
    exactly how many events it missed, before the next event it does get. Never stalls the publisher.
``error``
    the subscriber is disconnected at once; its next receive raises
    :class:`~streamflow.errors.SubscriberOverflowError`. Never stalls the publisher.

What this module promises (and ``tests/test_channel_*.py`` checks): one gap-free ``seq`` order; each
subscriber sees an order-preserving subsequence matching its filter, exactly once, unless told otherwise by
a :class:`Lagged` signal or a disconnection error; a cancelled receive consumes nothing and a publish is
atomic (every matching subscriber gets the event or none does); on close every subscriber drains its
buffer and then ends; replay from a ``seq`` plus the live tail has no gap and no duplicate.

Consumers, and several tasks receiving from one subscription: :mod:`streamflow.subscription`.

**Fairness.** Every async operation (:meth:`Channel.publish`, :meth:`Subscription.receive`, iterating a
subscription) lets other tasks run and raises a pending cancellation at least once every
:data:`~streamflow.fairness.YIELD_INTERVAL` operations, even when it never has to wait (a
:class:`~streamflow.fairness.YieldBudget`): a long publish loop or the drain of a full buffer (or of a
replay) never starves the loop. Operations between two yields do not look for a cancellation.

The channel runs on one asyncio event loop. :meth:`Channel.publish_threadsafe` is the way in from other
threads (sync nodes in worker threads); it keeps each thread's order (see :mod:`streamflow.thread_inbox`).
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Iterable
from typing import Any

import anyio
import attrs

from .errors import (
    ChannelClosedError,
    InvalidArgumentError,
    ReplayUnavailableError,
    SubscriberTimeoutError,
)
from .events import Event
from .fairness import YieldBudget
from .filters import EventFilter, Predicate
from .subscription import DEFAULT_BUFFER_SIZE as DEFAULT_BUFFER_SIZE
from .subscription import OVERFLOW_POLICIES as OVERFLOW_POLICIES
from .subscription import Lagged as Lagged
from .subscription import OverflowPolicy as OverflowPolicy
from .subscription import Subscription as Subscription
from .subscription import SubscriptionStatistics as SubscriptionStatistics
from .thread_inbox import ThreadInbox

__all__ = [
    "DEFAULT_BUFFER_SIZE",
    "DEFAULT_REPLAY_SIZE",
    "OVERFLOW_POLICIES",
    "Channel",
    "ChannelStatistics",
    "Lagged",
    "OverflowPolicy",
    "Subscription",
    "SubscriptionStatistics",
]

DEFAULT_REPLAY_SIZE = 10_000
"""Events a channel retains for replay by default (the most recent ones)."""


@attrs.frozen
class ChannelStatistics:
    """A snapshot of a channel's counters. Counts are events; ``delivered`` and ``dropped`` count one per
    subscriber an event reached (an event taken by three subscribers is three deliveries)."""

    published: int
    """Events published on this channel (0 before the first, whatever its ``first_seq``)."""
    last_seq: int
    """``seq`` of the last published event (``first_seq - 1`` before the first)."""
    delivered: int
    """Events taken by subscribers' consumers, summed over every subscription the channel has had."""
    dropped: int
    """Events subscribers lost, summed likewise: ``drop_oldest`` drops, what a subscription held when it
    was closed or disconnected with its buffer discarded, and the event that overflowed an ``error`` one."""
    buffered: int
    """Events waiting in subscribers' buffers: those of attached subscriptions, and those that subscriptions
    detached by :meth:`Channel.close` or by a ``block`` timeout still have to drain."""
    subscribers: int
    """Subscriptions currently attached."""
    replay_buffered: int
    """Events retained for replay."""
    closed: bool
    """Whether the channel is closed."""


_FILTERS: dict[tuple[Any, ...], EventFilter] = {}
"""Filters made from keyword criteria, by those criteria (a filter is immutable): a view of the same shape
attached to many runs builds its filter once."""
_FILTERS_KEPT = 256
"""Filters :data:`_FILTERS` keeps at most (it is emptied when full)."""
_KEPT_SHAPES = (frozenset, tuple)
"""The classes of criteria a filter is kept for (immutable)."""


def _filter_of(
    kinds: Iterable[str | type[Event]] | None,
    nodes: Iterable[str] | None,
    tags: Iterable[str] | None,
    ns_prefix: Iterable[str] | None,
    subgraphs: bool,
) -> EventFilter:
    """``EventFilter(kinds=kinds, ...)``: the one made before for the same criteria when each is None, a
    frozenset or a tuple (of hashable items); made anew for any other."""
    key = (kinds, nodes, tags, ns_prefix, subgraphs)
    if not all(part is None or part.__class__ in _KEPT_SHAPES for part in key[:4]):
        return EventFilter(kinds=kinds, nodes=nodes, tags=tags, ns_prefix=ns_prefix, subgraphs=subgraphs)
    try:
        found = _FILTERS.get(key)
    except TypeError:  # a tuple holding an unhashable item
        return EventFilter(kinds=kinds, nodes=nodes, tags=tags, ns_prefix=ns_prefix, subgraphs=subgraphs)
    if found is None:
        found = EventFilter(kinds=kinds, nodes=nodes, tags=tags, ns_prefix=ns_prefix, subgraphs=subgraphs)
        if len(_FILTERS) >= _FILTERS_KEPT:
            _FILTERS.clear()
        _FILTERS[key] = found
    return found


class Channel:
    """A run's broadcast channel on one asyncio event loop.

    :param run_id: stamped on every published event
    :param replay_size: how many of the most recent events are kept for :meth:`subscribe` with
        ``after_seq`` (events; 0 keeps none). Default :data:`DEFAULT_REPLAY_SIZE`.
    :param first_seq: ``seq`` of the first event published here: 1 for a run's own channel, more for a
        channel that mirrors a run from the middle (a remote reader resuming from a ``seq``)
    :raises InvalidArgumentError: when ``replay_size`` is negative or ``first_seq`` is not an int >= 1
    """

    def __init__(self, run_id: str = "", *, replay_size: int = DEFAULT_REPLAY_SIZE, first_seq: int = 1) -> None:
        if replay_size < 0:
            raise InvalidArgumentError(f"replay_size must be >= 0 events, got {replay_size!r}")
        if not isinstance(first_seq, int) or isinstance(first_seq, bool) or first_seq < 1:
            raise InvalidArgumentError(f"first_seq must be an int >= 1, got {first_seq!r}")
        self.run_id = run_id
        self._first_seq = first_seq
        self._seq = first_seq - 1
        self._replay: deque[Event] = deque(maxlen=replay_size or None) if replay_size else deque(maxlen=0)
        self._routes: dict[type[Event], tuple[Subscription, ...]] = {}
        self._subscriptions: set[Subscription] = set()
        self._full: set[Subscription] = set()
        self._room_waiters: list[asyncio.Future[None]] = []
        self._closed = False
        self._retired_delivered = 0  # counters of subscriptions no longer attached
        self._retired_dropped = 0
        self._retired_buffered = 0  # what detached subscriptions still have to drain
        self._fair = YieldBudget()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._threads = ThreadInbox(self._deliver, self._deliver_many, self._room, self._congested, self._wait_for_room)
        self._inbox = self._threads.events  # read on every publish: what is queued must go first
        self._bind_to_running_loop()

    def _bind_to_running_loop(self) -> None:
        """Bind to the event loop running in this thread, if there is one."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._loop = loop
        self._threads.bind(loop, threading.get_ident())

    # -- publishing ----------------------------------------------------------------------------------

    def _deliver(self, event: Event) -> int:
        seq = self._seq + 1
        self._seq = seq
        event.seq = seq
        event.run_id = self.run_id
        self._replay.append(event)
        subscribers = self._routes.get(event.__class__)
        if subscribers:
            for sub in subscribers:
                accept = sub._accept
                if accept is None or accept(event):
                    sub._push(event)
        return seq

    def _deliver_many(self, events: list[Event]) -> None:
        """Publish ``events`` now, in order, ignoring backpressure: what :meth:`_deliver` does for each, with
        one filtering pass and one buffer extension per subscriber for the lot."""
        subscriptions = self._subscriptions
        if any(sub._overflow != "block" for sub in subscriptions):
            for event in events:  # a lossy policy acts at the very event that overflows: one at a time
                self._deliver(event)
            return
        seq = self._seq
        run_id = self.run_id
        for event in events:
            seq += 1
            event.seq = seq
            event.run_id = run_id
        self._seq = seq
        self._replay.extend(events)
        if not subscriptions:
            return
        kinds = set(map(type, events))
        for sub in subscriptions:
            routed = sub._routed
            accept = sub._accept
            if accept is None:
                taken = events if kinds <= routed else [e for e in events if e.__class__ in routed]
            else:
                taken = [e for e in events if e.__class__ in routed and accept(e)]
            if taken:
                sub._push_many(taken)

    def _room(self) -> int:
        """How many events can be published now without overfilling any ``block`` subscriber (events)."""
        room = 1 << 30
        for sub in self._subscriptions:
            if sub._overflow == "block":
                room = min(room, sub._capacity - len(sub._buffer))
        return room

    def _congested(self) -> bool:
        return bool(self._full)

    def publish_nowait(self, event: Event) -> int:
        """Publish ``event`` now: stamp ``run_id`` and the next ``seq``, and hand it to every matching
        subscriber.

        :returns: the event's ``seq``
        :raises anyio.WouldBlock: when a ``block`` subscriber's buffer is full, or events queued by
            :meth:`publish_soon` / :meth:`publish_threadsafe` are not published yet (nothing was published)
        :raises ChannelClosedError: when the channel is closed
        """
        if self._closed:
            raise ChannelClosedError(f"cannot publish {type(event).__name__}: the channel is closed")
        if self._full or self._inbox:
            raise anyio.WouldBlock
        return self._deliver(event)

    async def publish(self, event: Event) -> int:
        """Publish ``event``, first waiting while a ``block`` subscriber's buffer is full (and for what was
        queued before it). Yields to the event loop at least every
        :data:`~streamflow.fairness.YIELD_INTERVAL` calls even when it need not wait.

        Atomic and cancel-safe: if cancelled while waiting or yielding, the event is not published at all.
        A ``block`` subscriber that keeps this call waiting longer than its own ``timeout`` is
        disconnected (only it), and the publish goes on.

        :returns: the event's ``seq``
        :raises ChannelClosedError: when the channel is (or gets) closed
        :raises asyncio.CancelledError: when the calling task is cancelled while it waits or yields
        """
        fair = self._fair
        fair.left -= 1
        if fair.left <= 0:
            await fair.yield_now()
        if self._closed:
            raise ChannelClosedError(f"cannot publish {type(event).__name__}: the channel is closed")
        if self._full or self._inbox:
            await self._wait_for_turn()
            if self._closed:
                raise ChannelClosedError(f"cannot publish {type(event).__name__}: the channel is closed")
        return self._deliver(event)

    def publish_soon(self, event: Event) -> None:
        """Publish ``event`` from the loop thread without waiting.

        When no ``block`` subscriber is full and nothing is queued, the event is published now; otherwise
        it is queued behind what is already queued and published, in order, as room appears. This is how
        sync callers on the loop thread (a stream writer inside an async node) publish: they cannot wait,
        and nothing may be lost. Events queued here are published before any later :meth:`publish`.

        :raises ChannelClosedError: when the channel is closed
        """
        if self._closed:
            raise ChannelClosedError(f"cannot publish {type(event).__name__}: the channel is closed")
        if self._inbox or self._full:
            self._threads.put(event)
        else:
            self._deliver(event)

    def publish_threadsafe(self, event: Event) -> None:
        """Publish ``event`` from a thread other than the channel's loop thread (a worker thread).

        Events published by one thread reach the channel in that thread's order. The call returns once
        the event is queued; when more than :data:`~streamflow.thread_inbox.THREAD_INBOX_LIMIT` events are
        queued, it waits for the loop to catch up (so ``block`` backpressure reaches worker threads too).

        :raises ChannelClosedError: when the channel is closed
        :raises RuntimeError: when called from the channel's own loop thread (use :meth:`publish`), or
            before the channel is bound to a loop
        """
        if self._closed:
            raise ChannelClosedError(f"cannot publish {type(event).__name__}: the channel is closed")
        self._threads.put_threadsafe(event)

    async def flush(self) -> None:
        """Wait until every event queued by :meth:`publish_soon` or :meth:`publish_threadsafe` so far is
        published (or the channel closed)."""
        await self._threads.flush()

    def wants(self, kind: type[Event]) -> bool:
        """Whether an event of class ``kind`` published now would be kept: some subscriber routes that kind,
        or the replay buffer retains events. Producers use it to skip building events nobody takes."""
        return kind in self._routes or self._replay.maxlen != 0

    async def _wait_for_turn(self) -> None:
        """Wait until no ``block`` subscriber is full and everything queued before this call is published."""
        while (self._full or self._inbox) and not self._closed:
            if self._inbox and await self._threads.wait_pumped():
                continue
            await self._wait_for_room()
        self._fair.refill()

    def _mark_full(self, sub: Subscription) -> None:
        if sub not in self._full:
            self._full.add(sub)
            loop = self._loop
            sub._full_since = loop.time() if loop is not None else 0.0

    def _mark_room(self, sub: Subscription) -> None:
        self._full.discard(sub)
        if not self._full:
            self._release_publishers()

    def _release_publishers(self) -> None:
        waiters, self._room_waiters = self._room_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _wait_for_room(self) -> None:
        loop = asyncio.get_running_loop()
        while self._full and not self._closed:
            deadlines = [s._full_since + s._timeout for s in self._full if s._timeout is not None]
            waiter = loop.create_future()
            self._room_waiters.append(waiter)
            try:
                if deadlines:
                    async with asyncio.timeout_at(min(deadlines)):
                        await waiter
                else:
                    await waiter
            except TimeoutError:
                pass
            finally:
                if waiter in self._room_waiters:
                    self._room_waiters.remove(waiter)
            now = loop.time()
            for sub in [s for s in self._full if s._timeout is not None and s._full_since + s._timeout <= now]:
                sub._disconnect(
                    SubscriberTimeoutError(
                        f"subscriber kept the publisher waiting longer than its timeout of {sub._timeout} s "
                        f"under the 'block' policy; it was disconnected after seq {self._seq}"
                    )
                )

    # -- subscribing ---------------------------------------------------------------------------------

    def subscribe(
        self,
        event_filter: EventFilter | None = None,
        *,
        kinds: Iterable[str | type[Event]] | None = None,
        nodes: Iterable[str] | None = None,
        tags: Iterable[str] | None = None,
        ns_prefix: Iterable[str] | None = None,
        subgraphs: bool = True,
        predicate: Predicate | None = None,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        overflow: OverflowPolicy = "block",
        timeout: float | None = None,
        after_seq: int | None = None,
    ) -> Subscription:
        """Attach a subscriber and return its :class:`Subscription`.

        The filter is either ``event_filter`` or built from ``kinds``, ``nodes``, ``tags``, ``ns_prefix``
        and ``subgraphs`` (see :class:`EventFilter`); ``predicate`` is ANDed with it. It is compiled here,
        once. Events that end the run pass every filter.

        :param buffer_size: how many events this subscriber buffers (events, > 0)
        :param overflow: ``"block"``, ``"drop_oldest"`` or ``"error"`` (see the module docstring)
        :param timeout: for ``"block"`` only: seconds this subscriber may keep a publisher waiting before
            it is disconnected; None waits forever
        :param after_seq: resume after this ``seq``: first the retained events with a greater ``seq``, then the
            live tail (0 is before the run's first event, so 0 replays the whole run; the ``seq`` of the last
            event a subscriber has, as SSE's ``Last-Event-ID``, continues right after it); None starts with
            the next event published. On a closed channel such a subscription receives what is retained and
            then ends. The replayed events are buffered here, on top of ``buffer_size`` under ``"block"``
            (bounded by the replay buffer).
        :raises InvalidArgumentError: for an unknown ``overflow``, a ``buffer_size`` that is not a positive
            int, a negative ``timeout``, a ``timeout`` without the ``"block"`` policy, or an ``after_seq``
            that is negative or beyond the last published ``seq``
        :raises UnknownEventKindError: for an unknown kind in ``kinds``
        :raises ReplayUnavailableError: when events right after ``after_seq`` were evicted from the replay
            buffer
        :raises ChannelClosedError: when the channel is closed and no ``after_seq`` was given
        """
        if overflow not in OVERFLOW_POLICIES:
            raise InvalidArgumentError(
                f"unknown overflow policy {overflow!r}; allowed: {', '.join(map(repr, OVERFLOW_POLICIES))}"
            )
        if not isinstance(buffer_size, int) or isinstance(buffer_size, bool) or buffer_size <= 0:
            raise InvalidArgumentError(f"buffer_size must be a positive number of events, got {buffer_size!r}")
        if timeout is not None:
            if overflow != "block":
                raise InvalidArgumentError(f"timeout applies to the 'block' policy only, not {overflow!r}")
            if timeout < 0:
                raise InvalidArgumentError(f"timeout must be >= 0 seconds, got {timeout!r}")
        if event_filter is None:
            event_filter = _filter_of(kinds, nodes, tags, ns_prefix, subgraphs)
        elif any(x is not None for x in (kinds, nodes, tags, ns_prefix)) or not subgraphs:
            raise InvalidArgumentError("give either event_filter or the keyword criteria, not both")
        if self._closed and after_seq is None:
            raise ChannelClosedError(
                "cannot subscribe to a closed channel; pass after_seq=<seq> (0 for all) to read what it retained"
            )
        if self._loop is None:
            self._bind_to_running_loop()
        replay: list[Event] = []
        if after_seq is not None:
            replay = self._replayed(after_seq)
        accept = event_filter.compile(predicate)
        sub = Subscription(self, event_filter, accept, buffer_size, overflow, timeout)
        for event in replay:
            if sub.accepts(event):
                sub._push(event)
                if sub._error is not None:  # the 'error' policy overflowed: disconnected, never attach
                    return sub
        if self._closed:  # a replay of a closed channel: never attached, drains what it was given
            sub._detached(self._seq)
            self._retired_dropped += sub._dropped  # 'drop_oldest' drops during replay
            return sub
        self._subscriptions.add(sub)
        for kind in sub._routed:
            self._routes[kind] = (*self._routes.get(kind, ()), sub)
        return sub

    def _replayed(self, after_seq: int) -> list[Event]:
        if not isinstance(after_seq, int) or isinstance(after_seq, bool) or after_seq < 0:
            raise InvalidArgumentError(f"after_seq must be a seq >= 0 (0: from the start), got {after_seq!r}")
        if after_seq > self._seq:
            raise InvalidArgumentError(
                f"cannot resume after seq {after_seq}: the channel has published up to seq {self._seq}"
            )
        first = self._replay[0].seq if self._replay else self._seq + 1
        if after_seq + 1 < first:
            raise ReplayUnavailableError(after_seq + 1, first)
        return [e for e in self._replay if e.seq > after_seq]

    def _detach(self, sub: Subscription) -> None:
        """Remove ``sub`` from the routes; its counters move to the channel's retired totals."""
        if sub in self._subscriptions:
            self._subscriptions.discard(sub)
            self._retired_delivered += sub._delivered
            self._retired_dropped += sub._dropped
            for kind in list(self._routes):
                remaining = tuple(s for s in self._routes[kind] if s is not sub)
                if remaining:
                    self._routes[kind] = remaining
                else:
                    del self._routes[kind]
        sub._detached(self._seq)
        if sub in self._full:
            self._mark_room(sub)

    # -- closing and state ---------------------------------------------------------------------------

    def close(self, final: Event | None = None) -> None:
        """Close the channel: publish what is queued, then ``final`` (if given), then end every subscriber
        once it has drained its buffer. Both ignore backpressure (a ``block`` buffer may overfill by what
        was queued). Publishers waiting for room get :class:`ChannelClosedError`. Idempotent: a second call
        does nothing, and its ``final`` is not published.

        :param final: the event that ends the run (``RunFinished``, ``RunFailed``, ``RunCancelled``)

        Must be called on the channel's loop thread (or before it is bound to one).
        """
        if self._closed:
            return
        queued = self._threads.close()
        if queued:
            self._deliver_many(queued)
        if final is not None:
            self._deliver(final)
        self._closed = True
        subscriptions = list(self._subscriptions)
        self._subscriptions.clear()
        self._routes = {}
        self._full.clear()
        for sub in subscriptions:
            self._retired_delivered += sub._delivered
            self._retired_dropped += sub._dropped
            sub._detached(self._seq)
            sub._wake_all()
        self._release_publishers()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def retained(self) -> list[Event]:
        """The events the replay buffer holds now, oldest first."""
        return list(self._replay)

    @property
    def first_seq(self) -> int:
        """``seq`` of the first event published here (1 for a run's own channel, more for a run that goes on
        after events written elsewhere)."""
        return self._first_seq

    @property
    def last_seq(self) -> int:
        """``seq`` of the last published event (``first_seq - 1`` before the first)."""
        return self._seq

    def statistics(self) -> ChannelStatistics:
        """Return a snapshot of the channel's counters."""
        subs = self._subscriptions
        return ChannelStatistics(
            published=self._seq - self._first_seq + 1,
            last_seq=self._seq,
            delivered=self._retired_delivered + sum(s._delivered for s in subs),
            dropped=self._retired_dropped + sum(s._dropped for s in subs),
            buffered=self._retired_buffered + sum(len(s._buffer) for s in subs),
            subscribers=len(subs),
            replay_buffered=len(self._replay),
            closed=self._closed,
        )
