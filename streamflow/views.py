"""A view: a subscription turned into the chunks of one or more stream modes (or ``astream_events`` dicts).

Layer 3. :class:`View` wraps a :class:`~streamflow.channel.Subscription` made with the kinds and namespace
filter of a :class:`~streamflow.modes.ViewSpec` (or an :class:`~streamflow.event_stream.EventStreamSpec`),
and projects each event it receives into output items of the spec's shape. A
:class:`~streamflow.channel.Lagged` signal (``drop_oldest`` views) is passed through as it is, so a lagging
view always knows how many events it missed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any, Protocol, Self, cast

import anyio

from .channel import Lagged, Subscription
from .errors import SubscriberDisconnectedError
from .events import Event
from .fairness import YieldBudget
from .modes import Projection, Projector, Shaper

__all__ = ["View", "ViewShape"]


class ViewShape(Protocol):
    """What a view needs of its spec (:class:`~streamflow.modes.ViewSpec` for stream modes,
    :class:`~streamflow.event_stream.EventStreamSpec` for ``astream_events``)."""

    @property
    def identity(self) -> bool:
        """Whether output items are the projected chunks themselves."""
        ...

    def table(self) -> dict[type[Event], tuple[tuple[str, Projection], ...]]:
        """Event class -> ``(mode, projection)`` pairs, bound to fresh per-view state."""
        ...

    def shaper(self) -> Shaper:
        """``(mode, ns, chunk) -> output item``."""
        ...


class View:
    """An async iterator of stream-mode output items (see :mod:`streamflow.modes` for their shapes).

    Use it as an async context manager, or call :meth:`aclose`, to detach it early; it ends by itself when
    the run's channel closes and its buffer is drained. Taking items yields to the event loop at least every
    :data:`~streamflow.fairness.YIELD_INTERVAL` events, even while items are ready.

    :raises SubscriberDisconnectedError: (while iterating) when the channel disconnected this view
    """

    __slots__ = ("_fair", "_pending", "_project", "_projector", "_sub", "spec")

    def __init__(self, subscription: Subscription, spec: ViewShape) -> None:
        self._sub = subscription
        self.spec = spec
        self._projector = Projector(spec.table(), spec.shaper(), spec.identity)
        self._project = self._projector.project
        self._pending: deque[Any] = deque()
        self._fair = YieldBudget()

    @property
    def subscription(self) -> Subscription:
        """The subscription underneath (for its :meth:`~Subscription.statistics`)."""
        return self._sub

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Any:
        fair = self._fair
        pending = self._pending
        sub = self._sub
        while True:
            fair.left -= 1
            if fair.left <= 0:
                await fair.yield_now()
            if pending:
                return pending.popleft()
            try:
                event = sub.receive_nowait()
            except anyio.WouldBlock:
                try:
                    event = await sub.receive()
                except anyio.EndOfStream:
                    raise StopAsyncIteration from None
            except anyio.EndOfStream:
                raise StopAsyncIteration from None
            if isinstance(event, Lagged):
                return event
            self._project(event, pending)
            if pending:
                return pending.popleft()

    async def next_batch(self, limit: int) -> list[Any]:
        """Wait for the next item, then take up to ``limit`` items in all that are ready without waiting.

        The same items, in the same order, as iterating the view; cheaper per item for a consumer that
        takes them in bulk (the sync bridge, ``astream()``). Cancel-safe: cancelled, it takes nothing.

        :param limit: items to take at most (items, > 0); the items of an event past it stay with the view
            and come first next time
        :returns: between 1 and ``limit`` items, or an empty list once the view has ended
        :raises SubscriberDisconnectedError: when the channel disconnected this view (after what it had
            buffered was taken)
        """
        fair = self._fair
        out: list[Any] = []
        pending = self._pending
        sub = self._sub
        while pending and len(out) < limit:
            out.append(pending.popleft())
        while len(out) < limit:
            if fair.left <= 1:
                if out:
                    break  # the next call yields first
                await fair.yield_now()
            try:
                # fewer than the budget: a drain yields before it has taken YIELD_INTERVAL events
                events = sub.receive_many_nowait(min(limit - len(out), fair.left - 1) or 1)
            except anyio.WouldBlock:
                if out:
                    break
                try:
                    events = [await sub.receive()]
                except anyio.EndOfStream:
                    break
            except anyio.EndOfStream:
                break
            except SubscriberDisconnectedError:
                if out:
                    break  # the next call raises it
                raise
            fair.left -= len(events)
            if events[0].__class__ is Lagged:
                out.append(events[0])
                del events[0]
            self._projector.project_many(cast("list[Event]", events), out)  # a Lagged comes first only
        if len(out) > limit:
            pending.extend(out[limit:])
            del out[limit:]
        return out

    def take_ready(self, limit: int) -> list[Any]:
        """Take up to ``limit`` items that are ready now, without waiting: the items :meth:`next_batch` would
        return next (in the same order), or fewer, or none. It never ends the view nor raises: the end, or
        the channel disconnecting this view, is left for the next :meth:`next_batch` to report.

        Synchronous, for code on the run's loop that hands items on outside any task (the sync bridge hands
        the ready chunks over together with a sync node it lends to the calling thread).

        :param limit: items to take at most (items, > 0); the items of an event past it stay with the view
        :returns: between 0 and ``limit`` items
        """
        out: list[Any] = []
        pending = self._pending
        sub = self._sub
        while pending and len(out) < limit:
            out.append(pending.popleft())
        while len(out) < limit:
            try:
                events = sub.receive_many_nowait(limit - len(out))
            except (anyio.WouldBlock, anyio.EndOfStream, SubscriberDisconnectedError):
                break
            if events[0].__class__ is Lagged:
                out.append(events[0])
                del events[0]
            self._projector.project_many(cast("list[Event]", events), out)  # a Lagged comes first only
        if len(out) > limit:
            pending.extend(out[limit:])
            del out[limit:]
        return out

    def prime(self, events: Iterable[Event]) -> None:
        """Run ``events``, which came before this view's first item, through its projections and emit
        nothing: a mode with state (``messages`` remembers the messages it streamed) then continues where an
        earlier view of the same run stopped. Events outside the view's filter are skipped."""
        sub = self._sub
        prime = self._projector.prime
        for event in events:
            if sub.accepts(event):
                prime(event)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Detach from the run. Idempotent."""
        self._pending.clear()
        self._sub.close()

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        self.close()
