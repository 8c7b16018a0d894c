"""The cross-thread inbox of a channel: events queued by other threads, or by loop-thread callers that cannot
wait, published in order by one pump task on the channel's loop.

Layer 2, a part of :class:`~streamflow.channel.Channel` kept in its own module. The channel routes three
kinds of callers through it:

- :meth:`~streamflow.channel.Channel.publish_threadsafe` (a sync node in a worker thread): the event is
  appended here from that thread, and the loop is woken to pump it; each thread's order is kept. When more
  than :data:`THREAD_INBOX_LIMIT` events are queued, the calling thread waits (without holding the loop) until
  the pump has taken the inbox down to half, so ``block`` backpressure reaches worker threads too.
- :meth:`~streamflow.channel.Channel.publish_soon` (a stream writer inside an async node) while the channel
  cannot take an event now (a ``block`` subscriber is full, or earlier events are still queued).
- :meth:`~streamflow.channel.Channel.publish` waits here for what was queued before it, so queued events
  keep their place in the order.

The pump publishes queued events one by one, waits for room whenever a ``block`` subscriber is full, and
yields to the loop at least every :data:`~streamflow.fairness.YIELD_INTERVAL` events (a
:class:`~streamflow.fairness.YieldBudget`), so a long queue never starves other tasks.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Awaitable, Callable

from .errors import ChannelClosedError
from .events import Event
from .fairness import YieldBudget

__all__ = ["THREAD_INBOX_LIMIT", "ThreadInbox"]

THREAD_INBOX_LIMIT = 4096
"""Events :meth:`ThreadInbox.put_threadsafe` lets pile up before the calling thread waits (events)."""


class ThreadInbox:
    """Events waiting to be published on one channel, oldest first, and the task that publishes them.

    Made by the channel, which hands it what it needs of the channel:

    :param deliver: publishes one event now, ignoring backpressure (the channel's own delivery)
    :param deliver_many: publishes a list of events now, in order, ignoring backpressure
    :param room: how many events can be published now without overfilling a ``block`` subscriber
    :param congested: tells whether a ``block`` subscriber is full (the pump must wait for room)
    :param wait_for_room: waits until no ``block`` subscriber is full (or the channel closed)
    """

    __slots__ = (
        "_closed",
        "_congested",
        "_deliver",
        "_deliver_many",
        "_fair",
        "_kick_pending",
        "_loop",
        "_loop_thread",
        "_pump",
        "_room",
        "_room_left",
        "_wait_for_room",
        "_waiting_threads",
        "events",
    )

    def __init__(
        self,
        deliver: Callable[[Event], object],
        deliver_many: Callable[[list[Event]], object],
        room: Callable[[], int],
        congested: Callable[[], bool],
        wait_for_room: Callable[[], Awaitable[None]],
    ) -> None:
        self.events: deque[Event] = deque()
        """The queued events, oldest first (the channel checks it on every publish; only the inbox and
        :meth:`~streamflow.channel.Channel.close` take from it)."""
        self._deliver = deliver
        self._deliver_many = deliver_many
        self._room_left = room
        self._congested = congested
        self._wait_for_room = wait_for_room
        self._fair = YieldBudget()
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._kick_pending = False
        self._pump: asyncio.Task[None] | None = None
        self._room = threading.Condition()
        self._waiting_threads = 0

    def bind(self, loop: asyncio.AbstractEventLoop, thread_id: int) -> None:
        """Attach to the channel's loop, which runs in thread ``thread_id``."""
        self._loop = loop
        self._loop_thread = thread_id

    # -- the loop thread -----------------------------------------------------------------------------

    def put(self, event: Event) -> None:
        """Queue ``event`` from the loop thread behind what is queued, and make sure the pump runs."""
        self.events.append(event)
        if self._pump is None:
            self.kick()

    def kick(self) -> None:
        """Start the pump unless it runs, nothing is queued or the channel closed (on the loop thread)."""
        self._kick_pending = False
        if self._pump is None and self.events and not self._closed:
            assert self._loop is not None
            self._pump = self._loop.create_task(self._run_pump())

    async def _run_pump(self) -> None:
        events = self.events
        fair = self._fair
        congested = self._congested
        deliver = self._deliver
        deliver_many = self._deliver_many
        room_left = self._room_left
        try:
            while events and not self._closed:
                if congested():
                    await self._wait_for_room()
                    fair.refill()
                    continue
                if fair.left <= 0:
                    await fair.yield_now()
                    continue  # the channel may have closed, or filled up, meanwhile
                # As many as fit in every 'block' buffer, in one go; one at a time when few do.
                count = min(len(events), fair.left, room_left())
                if count > 1:
                    pop = events.popleft
                    deliver_many([pop() for _ in range(count)])
                    fair.left -= count
                else:
                    deliver(events.popleft())
                    fair.left -= 1
                if self._waiting_threads and len(events) <= THREAD_INBOX_LIMIT // 2:
                    self._notify_threads()
        finally:
            self._pump = None
            if self._waiting_threads:
                self._notify_threads()

    async def wait_pumped(self) -> bool:
        """Start the pump if needed and wait until it has stopped (the inbox is empty, or the channel
        closed); False when nothing was queued. A pump cancelled by :meth:`close` does not cancel the caller.

        :raises asyncio.CancelledError: when the calling task is cancelled while it waits
        """
        if self._pump is None:
            self.kick()
        pump = self._pump
        if pump is None:
            return False
        try:
            await asyncio.shield(pump)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not pump.cancelled() or (task is not None and task.cancelling()):
                raise
        return True

    async def flush(self) -> None:
        """Wait until every event queued so far is published (or the channel closed)."""
        while self.events and not self._closed:
            await self.wait_pumped()

    def close(self) -> list[Event]:
        """Stop for good: refuse further :meth:`put_threadsafe` calls, cancel the pump, release the waiting
        threads (which then see the channel closed), and hand back what is still queued, oldest first, for
        the channel to publish before it closes."""
        with self._room:
            self._closed = True
            left = list(self.events)
            self.events.clear()
        if self._pump is not None:
            self._pump.cancel()
            self._pump = None
        if self._waiting_threads:
            self._notify_threads()
        return left

    # -- other threads -------------------------------------------------------------------------------

    def put_threadsafe(self, event: Event) -> None:
        """Queue ``event`` from a thread other than the loop's, waking the loop to publish it; wait while
        more than :data:`THREAD_INBOX_LIMIT` events are queued.

        :raises ChannelClosedError: when the channel is closed (an event queued before the channel closed is
            published by :meth:`close`'s caller: never lost)
        :raises RuntimeError: before the channel is bound to a loop, or when called on the loop's thread
        """
        loop = self._loop
        if loop is None:
            raise RuntimeError("the channel is not bound to an event loop yet; publish from the loop first")
        if threading.get_ident() == self._loop_thread:
            raise RuntimeError("publish_threadsafe() called on the channel's loop thread; use publish()")
        events = self.events
        with self._room:  # against close(): an event is either queued before it, or refused
            if self._closed:
                raise ChannelClosedError(f"cannot publish {type(event).__name__}: the channel is closed")
            events.append(event)
        if not self._kick_pending:
            self._kick_pending = True
            loop.call_soon_threadsafe(self.kick)
        if len(events) > THREAD_INBOX_LIMIT:
            with self._room:
                self._waiting_threads += 1
                try:
                    while len(self.events) > THREAD_INBOX_LIMIT // 2 and not self._closed:
                        self._room.wait(0.5)
                finally:
                    self._waiting_threads -= 1

    def _notify_threads(self) -> None:
        with self._room:
            self._room.notify_all()
