"""The consumer side of a channel: a :class:`Subscription`, its buffer, its receivers and its counters.

Layer 2, one half of the broadcast channel (:mod:`streamflow.channel` is the other, and re-exports every
name here). :meth:`Channel.subscribe <streamflow.channel.Channel.subscribe>` makes a subscription; the
channel pushes each matching event into its bounded buffer, applying its overflow policy (``block``,
``drop_oldest``, ``error``: see :mod:`streamflow.channel`), and its consumers take them out.

**Several receivers.** Any number of tasks may receive from one subscription at once, as from anyio's
memory object streams or trio's channels. Waiting receivers queue in the order they started waiting, and
the buffer is handed out in ``seq`` order, one item to one receiver: every event goes to exactly one of
them (they share the subscription's events, they do not each get a copy; subscribe twice for copies), and
each receiver gets its items in ``seq`` order. A receiver cancelled while it waits leaves the queue and takes
nothing; if it had just been woken for an item, the item stays buffered and the next receiver is woken
for it. A receiver woken for an item that another, running receiver took first keeps its place at the
head of the queue. When the subscription ends (the channel closed, the subscription closed or was
disconnected), every waiting receiver drains what is left and then sees the end.

**Fairness.** :meth:`Subscription.receive` and iteration yield to the event loop (and so raise a pending
cancellation) at least once every :data:`~streamflow.fairness.YIELD_INTERVAL` calls, even while items are
ready: draining a full buffer or a replay never starves other tasks (:class:`~streamflow.fairness.YieldBudget`).

**Left open.** A subscription neither closed (:meth:`~Subscription.close`, :meth:`~Subscription.aclose`,
leaving its ``async with`` block) nor read to its end (a receive raised ``EndOfStream`` or the
disconnection error, or iteration stopped) warns with :class:`ResourceWarning` when it is
garbage-collected, as anyio's streams do: it may have held up a ``block`` publisher, or lost events that
nobody read. The channel holds every attached subscription, so this happens once the channel has closed
(or is itself collected) and nothing else refers to the subscription.
"""

from __future__ import annotations

import asyncio
import warnings
from collections import deque
from typing import Literal, Protocol, Self

import anyio
import attrs

from .errors import SubscriberDisconnectedError, SubscriberOverflowError
from .events import Event
from .fairness import YieldBudget
from .filters import EventFilter, Predicate

__all__ = [
    "DEFAULT_BUFFER_SIZE",
    "OVERFLOW_POLICIES",
    "Lagged",
    "OverflowPolicy",
    "Subscription",
    "SubscriptionStatistics",
]

OverflowPolicy = Literal["block", "drop_oldest", "error"]
OVERFLOW_POLICIES: tuple[str, ...] = ("block", "drop_oldest", "error")
DEFAULT_BUFFER_SIZE = 1024
"""Events a subscription buffers by default."""


@attrs.frozen
class Lagged:
    """Signal to one subscriber: ``missed`` events matching its filter were dropped before the next one.

    Not an event of the run (it has no ``seq`` of its own); only the subscriber that lagged receives it.
    """

    missed: int
    """How many events this subscriber lost, all of them just before the next event it receives."""
    first_seq: int
    """``seq`` of the first lost event."""
    last_seq: int
    """``seq`` of the last lost event."""


@attrs.frozen
class SubscriptionStatistics:
    """A snapshot of one subscription's counters (counts are events)."""

    published: int
    """Events published on the channel while this subscription was attached (replayed ones excluded)."""
    matched: int
    """Events that passed its filter (replayed ones included)."""
    delivered: int
    """Events its consumers have taken."""
    dropped: int
    """Events it lost: ``drop_oldest`` drops, what it held when it was closed (or disconnected by the
    ``error`` policy, counting the event that overflowed)."""
    buffered: int
    """Events waiting in its buffer."""
    buffer_size: int
    """Its buffer's capacity (events)."""
    overflow: str
    """Its overflow policy."""
    waiting_receivers: int
    """Tasks waiting in :meth:`Subscription.receive` (or iteration) for its next item (tasks)."""


class _Host(Protocol):
    """What a subscription uses of its channel (:class:`~streamflow.channel.Channel`), the other half of
    one mechanism: its last ``seq``, its set of full ``block`` subscribers and the totals it keeps for
    subscriptions no longer attached."""

    run_id: str
    _seq: int
    _full: set[Subscription]
    _retired_delivered: int
    _retired_dropped: int
    _retired_buffered: int

    def _mark_full(self, sub: Subscription) -> None: ...

    def _mark_room(self, sub: Subscription) -> None: ...

    def _detach(self, sub: Subscription) -> None: ...


class Subscription:
    """One subscriber's view of a channel: an async iterator of events (and :class:`Lagged` signals).

    Made by :meth:`Channel.subscribe <streamflow.channel.Channel.subscribe>`. Iterating ends when the
    channel closes and the buffer is drained; use it as an async context manager, or call :meth:`close`, to
    detach it earlier. Several tasks may receive from it at once: they share its events, each event going
    to one of them, in the order they started waiting. Left open (neither closed nor read to its end), it
    warns with :class:`ResourceWarning` when garbage-collected. Both are described in the module docstring.
    """

    __slots__ = (
        "_accept",
        "_buffer",
        "_capacity",
        "_channel",
        "_closed",
        "_delivered",
        "_dropped",
        "_ended",
        "_error",
        "_fair",
        "_filter",
        "_full_since",
        "_home",
        "_matched",
        "_missed",
        "_missed_first",
        "_missed_last",
        "_overflow",
        "_published_at_attach",
        "_published_until",
        "_routed",
        "_timeout",
        "_waiters",
    )

    def __init__(
        self,
        channel: _Host,
        event_filter: EventFilter,
        accept: Predicate | None,
        capacity: int,
        overflow: OverflowPolicy,
        timeout: float | None,
    ) -> None:
        self._closed = False
        self._ended = False  # the consumer was told the end (EndOfStream or the disconnection error)
        self._channel: _Host | None = channel
        self._home = channel
        self._filter = event_filter
        self._routed = event_filter.routed_kinds()
        self._accept = accept
        self._buffer: deque[Event] = deque()
        self._capacity = capacity
        self._overflow = overflow
        self._timeout = timeout
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._fair = YieldBudget()
        self._error: BaseException | None = None
        self._matched = 0
        self._delivered = 0
        self._dropped = 0
        self._missed = 0
        self._missed_first = 0
        self._missed_last = 0
        self._full_since = 0.0
        self._published_at_attach = channel._seq
        self._published_until: int | None = None  # the channel's last seq when this was detached

    def __del__(self) -> None:
        if not self._closed and not self._ended:
            warnings.warn(
                f"{self!r} was garbage-collected while left open (neither closed nor read to its end, "
                f"{len(self._buffer)} events unread): close it, or use it as an async context manager",
                ResourceWarning,
                source=self,
                stacklevel=1,
            )

    def __repr__(self) -> str:
        return f"<Subscription of channel {self._home.run_id!r} {self._overflow}/{self._capacity} at {id(self):#x}>"

    # -- publisher side (called by the channel, on the loop thread) ---------------------------------

    def _push(self, event: Event) -> None:
        """Put one matching event in the buffer, applying the overflow policy."""
        buf = self._buffer
        self._matched += 1
        if len(buf) >= self._capacity:
            policy = self._overflow
            if policy == "drop_oldest":
                lost = buf.popleft()
                if not self._missed:
                    self._missed_first = lost.seq
                self._missed += 1
                self._missed_last = lost.seq
                self._dropped += 1
            elif policy == "error":
                self._disconnect(
                    SubscriberOverflowError(
                        f"subscriber buffer overflowed ({self._capacity} events) under the 'error' policy "
                        f"at seq {event.seq}; {len(buf) + 1} buffered events were dropped",
                        dropped=len(buf) + 1,
                    ),
                    discard=True,
                )
                self._dropped += 1
                self._home._retired_dropped += 1
                return
            # "block": the publisher already waited for room; replay may overfill the buffer.
        buf.append(event)
        if len(buf) >= self._capacity and self._overflow == "block" and self._channel is not None:
            self._channel._mark_full(self)
        if self._waiters:
            self._wake_one()

    def _push_many(self, events: list[Event]) -> None:
        """Put matching events in a ``block`` buffer at once, in order: what :meth:`_push` does for each
        (the publisher left room for them, or ignores backpressure)."""
        buf = self._buffer
        self._matched += len(events)
        buf.extend(events)
        if len(buf) >= self._capacity and self._channel is not None:
            self._channel._mark_full(self)
        waiters = self._waiters
        if waiters:
            for _ in range(min(len(events), len(waiters))):
                self._wake_one()

    def _wake_one(self) -> None:
        """Wake the receiver that has waited longest (it takes the next item when it runs)."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _wake_all(self) -> None:
        """Wake every waiting receiver: the subscription ended (they drain what is left, then see the end)."""
        waiters, self._waiters = self._waiters, deque()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _detached(self, last_seq: int) -> None:
        """The channel let go of this subscription (closed, or detached it): its buffer now drains alone."""
        self._channel = None
        self._published_until = last_seq
        self._home._retired_buffered += len(self._buffer)

    def _disconnect(self, error: SubscriberDisconnectedError | None, *, discard: bool = False) -> None:
        """Detach from the channel; with ``error`` the consumer sees it (after draining unless ``discard``)."""
        channel = self._channel
        if channel is not None:
            channel._detach(self)
        if error is not None and self._error is None:
            self._error = error
        if discard and self._buffer:
            lost = len(self._buffer)
            self._dropped += lost
            home = self._home
            home._retired_dropped += lost
            home._retired_buffered -= lost
            self._buffer.clear()
        self._wake_all()

    # -- consumer side -------------------------------------------------------------------------------

    def receive_nowait(self) -> Event | Lagged:
        """Take the next buffered item without waiting.

        :returns: the next event, or a :class:`Lagged` signal when events were dropped just before it
        :raises anyio.WouldBlock: when nothing is buffered and the subscription is still attached
        :raises anyio.EndOfStream: when the channel closed (or the subscription was closed) and the buffer
            is drained
        :raises SubscriberDisconnectedError: (a subclass of it) when the channel disconnected this
            subscriber and the buffer is drained
        """
        if self._missed:
            signal = Lagged(self._missed, self._missed_first, self._missed_last)
            self._missed = 0
            return signal
        buf = self._buffer
        if buf:
            event = buf.popleft()
            self._delivered += 1
            channel = self._channel
            if channel is None:
                home = self._home
                home._retired_delivered += 1
                home._retired_buffered -= 1
            elif channel._full and len(buf) <= self._capacity >> 1 and self in channel._full:
                channel._mark_room(self)
            return event
        if self._error is not None:
            self._ended = True
            raise self._error
        if self._channel is None or self._closed:
            self._ended = True
            raise anyio.EndOfStream
        raise anyio.WouldBlock

    def receive_many_nowait(self, limit: int) -> list[Event | Lagged]:
        """Take up to ``limit`` buffered items without waiting: the same items, in the same order, as that
        many :meth:`receive_nowait` calls up to the first that would raise, for the cost of about one.

        :param limit: items to take at most (items, >= 1)
        :returns: between 1 and ``limit`` items (a :class:`Lagged` signal before the event it precedes)
        :raises anyio.WouldBlock: when nothing is buffered and the subscription is still attached
        :raises anyio.EndOfStream: when the channel closed (or the subscription was closed) and the buffer
            is drained
        :raises SubscriberDisconnectedError: (a subclass of it) when the channel disconnected this
            subscriber and the buffer is drained
        """
        buf = self._buffer
        if self._missed or not buf:
            first = self.receive_nowait()
            if limit <= 1 or not buf:
                return [first]
            return [first, *self.receive_many_nowait(limit - 1)]
        if limit >= len(buf):
            taken: list[Event | Lagged] = [*buf]
            buf.clear()
        else:
            pop = buf.popleft
            taken = [pop() for _ in range(limit)]
        count = len(taken)
        self._delivered += count
        channel = self._channel
        if channel is None:
            home = self._home
            home._retired_delivered += count
            home._retired_buffered -= count
        elif channel._full and len(buf) <= self._capacity >> 1 and self in channel._full:
            channel._mark_room(self)
        return taken

    async def receive(self) -> Event | Lagged:
        """Wait for the next item and take it.

        Cancel-safe: a receive cancelled while waiting takes nothing from the buffer. Yields to the event
        loop at least every :data:`~streamflow.fairness.YIELD_INTERVAL` calls even when an item is ready.

        :returns: the next event, or a :class:`Lagged` signal when events were dropped just before it
        :raises anyio.EndOfStream: when the channel closed (or the subscription was closed) and the buffer
            is drained
        :raises SubscriberDisconnectedError: (a subclass of it) when the channel disconnected this
            subscriber and the buffer is drained
        :raises asyncio.CancelledError: when the calling task is cancelled while it waits or yields
        """
        fair = self._fair
        fair.left -= 1
        if fair.left <= 0:
            await fair.yield_now()
        return await self._receive()

    async def _receive(self) -> Event | Lagged:
        """:meth:`receive` without the checkpoint: take an item, or queue up as a waiting receiver."""
        woken_before = False
        while True:
            try:
                return self.receive_nowait()
            except anyio.WouldBlock:
                pass
            waiter = asyncio.get_running_loop().create_future()
            if woken_before:  # woken, but another receiver took the item first: keep our place in line
                self._waiters.appendleft(waiter)
            else:
                self._waiters.append(waiter)
            self._fair.refill()
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    # woken for an item, then cancelled before taking it: the next receiver takes it
                    if self._buffer or self._missed:
                        self._wake_one()
                elif waiter in self._waiters:
                    self._waiters.remove(waiter)
                raise
            woken_before = True

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event | Lagged:
        fair = self._fair
        fair.left -= 1
        if fair.left <= 0:
            await fair.yield_now()
        elif not self._missed and self._buffer:
            # Fast path (the common case while a run streams): nothing missed, something buffered, still
            # attached, and no publisher waiting for room. It does what receive_nowait() does in that case,
            # without two more Python frames per event. Everything else goes the long way.
            channel = self._channel
            if channel is not None and not channel._full:
                self._delivered += 1
                return self._buffer.popleft()
        try:
            return await self._receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Detach from the channel and discard what is buffered (counted as dropped); every waiting receive
        ends. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._disconnect(None, discard=True)

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        self.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def filter(self) -> EventFilter:
        """The declared filter this subscription was made with."""
        return self._filter

    def accepts(self, event: Event) -> bool:
        """Whether ``event`` passes this subscription's filter and predicate (what the channel checks)."""
        return event.__class__ in self._routed and (self._accept is None or self._accept(event))

    def statistics(self) -> SubscriptionStatistics:
        """Return a snapshot of this subscription's counters."""
        until = self._published_until
        published_now = self._home._seq if until is None else until
        return SubscriptionStatistics(
            published=published_now - self._published_at_attach,
            matched=self._matched,
            delivered=self._delivered,
            dropped=self._dropped,
            buffered=len(self._buffer),
            buffer_size=self._capacity,
            overflow=self._overflow,
            waiting_receivers=sum(1 for waiter in self._waiters if not waiter.done()),
        )
