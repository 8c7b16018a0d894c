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

The channel runs on one asyncio event loop. :meth:`Channel.publish_threadsafe` is the way in from other
threads (sync nodes in worker threads); it keeps each thread's order.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import Any, Literal, Self

import anyio
import attrs

from .errors import (
    ChannelClosedError,
    InvalidArgumentError,
    ReplayUnavailableError,
    SubscriberDisconnectedError,
    SubscriberOverflowError,
    SubscriberTimeoutError,
)
from .events import Event
from .filters import EventFilter, Predicate

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

OverflowPolicy = Literal["block", "drop_oldest", "error"]
OVERFLOW_POLICIES: tuple[str, ...] = ("block", "drop_oldest", "error")
DEFAULT_BUFFER_SIZE = 1024
"""Events a subscription buffers by default."""
DEFAULT_REPLAY_SIZE = 10_000
"""Events a channel retains for replay by default (the most recent ones)."""
THREAD_INBOX_LIMIT = 4096
"""Events :meth:`Channel.publish_threadsafe` lets pile up before the calling thread waits."""


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
class ChannelStatistics:
    """A snapshot of a channel's counters (all counts are events)."""

    published: int
    """Events published so far (the last ``seq``)."""
    delivered: int
    """Events taken by subscribers' consumers, summed over every subscriber the channel has had."""
    dropped: int
    """Events subscribers lost (``drop_oldest``, disconnections), summed likewise."""
    buffered: int
    """Events waiting in the buffers of current subscribers."""
    subscribers: int
    """Subscriptions currently attached."""
    replay_buffered: int
    """Events retained for replay."""
    closed: bool
    """Whether the channel is closed."""


@attrs.frozen
class SubscriptionStatistics:
    """A snapshot of one subscription's counters (all counts are events)."""

    published: int
    """Events published on the channel while this subscription was attached."""
    matched: int
    """Events that passed its filter (replayed ones included)."""
    delivered: int
    """Events its consumer has received."""
    dropped: int
    """Events it lost (``drop_oldest`` drops, or what was buffered when it was disconnected)."""
    buffered: int
    """Events waiting in its buffer."""
    buffer_size: int
    """Its buffer's capacity."""
    overflow: str
    """Its overflow policy."""


class Subscription:
    """One subscriber's view of a channel: an async iterator of events (and :class:`Lagged` signals).

    Made by :meth:`Channel.subscribe`. Use it as an async context manager, or call :meth:`close`, to
    detach it; iterating ends when the channel closes and the buffer is drained.
    """

    __slots__ = (
        "_accept",
        "_buffer",
        "_capacity",
        "_channel",
        "_closed",
        "_delivered",
        "_dropped",
        "_error",
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
        "_waiter",
    )

    def __init__(
        self,
        channel: Channel,
        event_filter: EventFilter,
        accept: Predicate | None,
        capacity: int,
        overflow: OverflowPolicy,
        timeout: float | None,
    ) -> None:
        self._channel: Channel | None = channel
        self._home = channel
        self._filter = event_filter
        self._routed = event_filter.routed_kinds()
        self._accept = accept
        self._buffer: deque[Event] = deque()
        self._capacity = capacity
        self._overflow = overflow
        self._timeout = timeout
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
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
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _disconnect(self, error: SubscriberDisconnectedError | None, *, discard: bool = False) -> None:
        """Detach from the channel; with ``error`` the consumer sees it (after draining unless ``discard``)."""
        channel = self._channel
        if channel is not None:
            self._channel = None
            self._published_until = channel._seq
            channel._detach(self)
        if error is not None and self._error is None:
            self._error = error
        if discard and self._buffer:
            self._dropped += len(self._buffer)
            self._home._retired_dropped += len(self._buffer)
            self._buffer.clear()
        self._wake()

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
                self._home._retired_delivered += 1
            elif channel._full and len(buf) <= self._capacity >> 1 and self in channel._full:
                channel._mark_room(self)
            return event
        if self._error is not None:
            raise self._error
        if self._channel is None or self._closed:
            raise anyio.EndOfStream
        raise anyio.WouldBlock

    async def receive(self) -> Event | Lagged:
        """Wait for the next item and take it.

        Cancel-safe: a receive cancelled while waiting takes nothing from the buffer.

        :returns: the next event, or a :class:`Lagged` signal when events were dropped just before it
        :raises anyio.EndOfStream: when the channel closed (or the subscription was closed) and the buffer
            is drained
        :raises SubscriberDisconnectedError: (a subclass of it) when the channel disconnected this
            subscriber and the buffer is drained
        """
        while True:
            try:
                return self.receive_nowait()
            except anyio.WouldBlock:
                pass
            waiter = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                self._waiter = None

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event | Lagged:
        # Fast path (the common case while a run streams): nothing missed, something buffered, still
        # attached, and no publisher waiting for room. It does what receive_nowait() does in that case,
        # without two more Python frames and a WouldBlock check per event. Everything else goes the long way.
        if not self._missed and self._buffer:
            channel = self._channel
            if channel is not None and not channel._full:
                self._delivered += 1
                return self._buffer.popleft()
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Detach from the channel and discard what is buffered; a waiting receive ends. Idempotent."""
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
        )


class Channel:
    """A run's broadcast channel on one asyncio event loop.

    :param run_id: stamped on every published event
    :param replay_size: how many of the most recent events are kept for :meth:`subscribe` with
        ``replay_from`` (events; 0 keeps none). Default :data:`DEFAULT_REPLAY_SIZE`.
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
        self._seq = first_seq - 1
        self._replay: deque[Event] = deque(maxlen=replay_size or None) if replay_size else deque(maxlen=0)
        self._routes: dict[type[Event], tuple[Subscription, ...]] = {}
        self._subscriptions: set[Subscription] = set()
        self._full: set[Subscription] = set()
        self._room_waiters: list[asyncio.Future[None]] = []
        self._closed = False
        self._retired_delivered = 0
        self._retired_dropped = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._inbox: deque[Event] = deque()
        self._inbox_kick_pending = False
        self._inbox_pump: asyncio.Task[None] | None = None
        self._inbox_room = threading.Condition()
        self._inbox_waiting_threads = 0
        self._bind_to_running_loop()

    def _bind_to_running_loop(self) -> None:
        """Bind to the event loop running in this thread, if there is one."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._bind(loop)

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._loop_thread = threading.get_ident()

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

    def publish_nowait(self, event: Event) -> int:
        """Publish ``event`` now: stamp ``run_id`` and the next ``seq``, and hand it to every matching
        subscriber.

        :returns: the event's ``seq``
        :raises anyio.WouldBlock: when a ``block`` subscriber's buffer is full (nothing was published)
        :raises ChannelClosedError: when the channel is closed
        """
        if self._closed:
            raise ChannelClosedError(f"cannot publish {type(event).__name__}: the channel is closed")
        if self._full or self._inbox:
            raise anyio.WouldBlock
        return self._deliver(event)

    async def publish(self, event: Event) -> int:
        """Publish ``event``, first waiting while a ``block`` subscriber's buffer is full.

        Atomic and cancel-safe: if cancelled while waiting, the event is not published at all.
        A ``block`` subscriber that keeps this call waiting longer than its own ``timeout`` is
        disconnected (only it), and the publish goes on.

        :returns: the event's ``seq``
        :raises ChannelClosedError: when the channel is (or gets) closed
        """
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
        if self._full or self._inbox:
            self._inbox.append(event)
            if self._inbox_pump is None:
                self._kick_inbox()
        else:
            self._deliver(event)

    def wants(self, kind: type[Event]) -> bool:
        """Whether an event of class ``kind`` published now would be kept: some subscriber routes that kind,
        or the replay buffer retains events. Producers use it to skip building events nobody takes."""
        return kind in self._routes or self._replay.maxlen != 0

    async def _wait_for_turn(self) -> None:
        """Wait until no ``block`` subscriber is full and everything queued before this call is published."""
        while (self._full or self._inbox) and not self._closed:
            if self._inbox:
                if self._inbox_pump is None:
                    self._kick_inbox()
                if await self._await_pump():
                    continue
            await self._wait_for_room()

    async def _await_pump(self) -> bool:
        """Wait for the inbox pump to finish; False when there is none. A pump cancelled by
        :meth:`close` does not cancel the caller."""
        pump = self._inbox_pump
        if pump is None:
            return False
        try:
            await asyncio.shield(pump)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not pump.cancelled() or (task is not None and task.cancelling()):
                raise
        return True

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

    def publish_threadsafe(self, event: Event) -> None:
        """Publish ``event`` from a thread other than the channel's loop thread (a worker thread).

        Events published by one thread reach the channel in that thread's order. The call returns once
        the event is queued; when more than :data:`THREAD_INBOX_LIMIT` events are queued, it waits for
        the loop to catch up (so ``block`` backpressure reaches worker threads too).

        :raises ChannelClosedError: when the channel is closed
        :raises RuntimeError: when called from the channel's own loop thread (use :meth:`publish`), or
            before the channel is bound to a loop
        """
        if self._closed:
            raise ChannelClosedError(f"cannot publish {type(event).__name__}: the channel is closed")
        loop = self._loop
        if loop is None:
            raise RuntimeError("the channel is not bound to an event loop yet; publish from the loop first")
        if threading.get_ident() == self._loop_thread:
            raise RuntimeError("publish_threadsafe() called on the channel's loop thread; use publish()")
        inbox = self._inbox
        inbox.append(event)
        if self.closed and any(e is event for e in inbox):
            # close() emptied the inbox between the check above and the append: report, never lose silently
            raise ChannelClosedError(f"cannot publish {type(event).__name__}: the channel is closed")
        if not self._inbox_kick_pending:
            self._inbox_kick_pending = True
            loop.call_soon_threadsafe(self._kick_inbox)
        if len(inbox) > THREAD_INBOX_LIMIT:
            with self._inbox_room:
                self._inbox_waiting_threads += 1
                try:
                    while len(self._inbox) > THREAD_INBOX_LIMIT // 2 and not self._closed:
                        self._inbox_room.wait(0.5)
                finally:
                    self._inbox_waiting_threads -= 1

    def _kick_inbox(self) -> None:
        self._inbox_kick_pending = False
        if self._inbox_pump is None and self._inbox and not self._closed:
            assert self._loop is not None
            self._inbox_pump = self._loop.create_task(self._pump_inbox())

    async def _pump_inbox(self) -> None:
        inbox = self._inbox
        try:
            while inbox and not self._closed:
                if self._full:
                    await self._wait_for_room()
                    continue
                self._deliver(inbox.popleft())
                if self._inbox_waiting_threads and len(inbox) <= THREAD_INBOX_LIMIT // 2:
                    self._notify_threads()
        finally:
            self._inbox_pump = None
            if self._inbox_waiting_threads:
                self._notify_threads()

    def _notify_threads(self) -> None:
        with self._inbox_room:
            self._inbox_room.notify_all()

    async def flush(self) -> None:
        """Wait until every event queued by :meth:`publish_soon` or :meth:`publish_threadsafe` so far is
        published (or the channel closed)."""
        while self._inbox and not self._closed:
            if self._inbox_pump is None:
                self._kick_inbox()
            await self._await_pump()

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
        replay_from: int | None = None,
    ) -> Subscription:
        """Attach a subscriber and return its :class:`Subscription`.

        The filter is either ``event_filter`` or built from ``kinds``, ``nodes``, ``tags``, ``ns_prefix``
        and ``subgraphs`` (see :class:`EventFilter`); ``predicate`` is ANDed with it. It is compiled here,
        once. Events that end the run pass every filter.

        :param buffer_size: how many events this subscriber buffers (events, > 0)
        :param overflow: ``"block"``, ``"drop_oldest"`` or ``"error"`` (see the module docstring)
        :param timeout: for ``"block"`` only: seconds this subscriber may keep a publisher waiting before
            it is disconnected; None waits forever
        :param replay_from: first ``seq`` to receive from the replay buffer before the live tail (1 is the
            first event of the run); None starts with the next event published. On a closed channel a
            replay subscription receives what is retained and then ends.
        :raises InvalidArgumentError: for an unknown ``overflow``, a ``buffer_size`` that is not a positive
            int, a negative ``timeout``, a ``timeout`` without the ``"block"`` policy, or a ``replay_from``
            beyond the next ``seq``
        :raises UnknownEventKindError: for an unknown kind in ``kinds``
        :raises ReplayUnavailableError: when ``replay_from`` is older than the replay buffer retains
        :raises ChannelClosedError: when the channel is closed and no ``replay_from`` was given
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
            event_filter = EventFilter(kinds=kinds, nodes=nodes, tags=tags, ns_prefix=ns_prefix, subgraphs=subgraphs)
        elif any(x is not None for x in (kinds, nodes, tags, ns_prefix)) or not subgraphs:
            raise InvalidArgumentError("give either event_filter or the keyword criteria, not both")
        if self._closed and replay_from is None:
            raise ChannelClosedError(
                "cannot subscribe to a closed channel; pass replay_from=<seq> to read what it retained"
            )
        if self._loop is None:
            self._bind_to_running_loop()
        replay: list[Event] = []
        if replay_from is not None:
            replay = self._replayed(replay_from)
        accept = event_filter.compile(predicate)
        sub = Subscription(self, event_filter, accept, buffer_size, overflow, timeout)
        sub._published_at_attach = self._seq
        for event in replay:
            if sub.accepts(event):
                sub._push(event)
                if sub._error is not None:  # the 'error' policy overflowed: disconnected, never attach
                    return sub
        if self._closed:
            sub._channel = None
            self._retired_dropped += sub._dropped  # 'drop_oldest' drops during replay: never attached
            return sub
        self._subscriptions.add(sub)
        for kind in sub._routed:
            self._routes[kind] = (*self._routes.get(kind, ()), sub)
        return sub

    def _replayed(self, replay_from: int) -> list[Event]:
        if not isinstance(replay_from, int) or replay_from < 1:
            raise InvalidArgumentError(f"replay_from must be a seq >= 1, got {replay_from!r}")
        if replay_from > self._seq + 1:
            raise InvalidArgumentError(
                f"cannot replay from seq {replay_from}: the channel has published up to seq {self._seq}"
            )
        first = self._replay[0].seq if self._replay else self._seq + 1
        if replay_from < first:
            raise ReplayUnavailableError(replay_from, first)
        return [e for e in self._replay if e.seq >= replay_from]

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
        while self._inbox:
            self._deliver(self._inbox.popleft())
        if final is not None:
            self._deliver(final)
        self._closed = True
        if self._inbox_pump is not None:
            self._inbox_pump.cancel()
            self._inbox_pump = None
        subscriptions = list(self._subscriptions)
        for sub in subscriptions:
            self._retired_delivered += sub._delivered
            self._retired_dropped += sub._dropped
            sub._channel = None
            sub._published_until = self._seq
            sub._wake()
        self._subscriptions.clear()
        self._routes = {}
        self._full.clear()
        self._release_publishers()
        if self._inbox_waiting_threads:
            self._notify_threads()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def retained(self) -> list[Event]:
        """The events the replay buffer holds now, oldest first."""
        return list(self._replay)

    @property
    def last_seq(self) -> int:
        """``seq`` of the last published event (0 before the first)."""
        return self._seq

    def statistics(self) -> ChannelStatistics:
        """Return a snapshot of the channel's counters."""
        subs = self._subscriptions
        return ChannelStatistics(
            published=self._seq,
            delivered=self._retired_delivered + sum(s._delivered for s in subs),
            dropped=self._retired_dropped + sum(s._dropped for s in subs),
            buffered=sum(len(s._buffer) for s in subs),
            subscribers=len(subs),
            replay_buffered=len(self._replay),
            closed=self._closed,
        )

    async def iterate(self, **subscribe_kwargs: Any) -> AsyncIterator[Event | Lagged]:
        """Subscribe with ``subscribe_kwargs`` and yield what arrives until the channel closes."""
        with_sub = self.subscribe(**subscribe_kwargs)
        async with with_sub:
            async for item in with_sub:
                yield item
