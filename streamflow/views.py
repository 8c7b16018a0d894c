"""A view: a subscription turned into the chunks of one or more stream modes (or ``astream_events`` dicts).

Layer 3. :class:`View` wraps a :class:`~streamflow.channel.Subscription` made with the kinds and namespace
filter of a :class:`~streamflow.modes.ViewSpec` (or an :class:`~streamflow.event_stream.EventStreamSpec`),
and projects each event it receives into output items of the spec's shape. A
:class:`~streamflow.channel.Lagged` signal (``drop_oldest`` views) is passed through as it is, so a lagging
view always knows how many events it missed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol, Self

import anyio

from .channel import Lagged, Subscription
from .errors import SubscriberDisconnectedError
from .events import Event
from .modes import SKIP, Chunks, Projection

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

    def shaper(self) -> Callable[[str, tuple[str, ...], Any], Any]:
        """``(mode, ns, chunk) -> output item``."""
        ...


class View:
    """An async iterator of stream-mode output items (see :mod:`streamflow.modes` for their shapes).

    Use it as an async context manager, or call :meth:`aclose`, to detach it early; it ends by itself when
    the run's channel closes and its buffer is drained.

    :raises SubscriberDisconnectedError: (while iterating) when the channel disconnected this view
    """

    __slots__ = ("_identity", "_pending", "_shape", "_sub", "_table", "spec")

    def __init__(self, subscription: Subscription, spec: ViewShape) -> None:
        self._sub = subscription
        self.spec = spec
        self._table = spec.table()
        self._shape = spec.shaper()
        self._identity = spec.identity
        self._pending: deque[Any] = deque()

    @property
    def subscription(self) -> Subscription:
        """The subscription underneath (for its :meth:`~Subscription.statistics`)."""
        return self._sub

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Any:
        pending = self._pending
        if pending:
            return pending.popleft()
        sub = self._sub
        table = self._table
        while True:
            try:
                event = sub.receive_nowait()
            except anyio.WouldBlock:
                try:
                    event = await sub.receive()
                except anyio.EndOfStream:
                    raise StopAsyncIteration from None
            except anyio.EndOfStream:
                raise StopAsyncIteration from None
            entries = table.get(event.__class__)  # type: ignore[arg-type]
            if entries is None:
                if event.__class__ is Lagged:
                    return event
                continue
            if len(entries) == 1:
                mode, project = entries[0]
                chunk = project(event)
                if chunk is SKIP:
                    continue
                if chunk.__class__ is not Chunks:
                    if self._identity:
                        return chunk
                    return self._shape(mode, event.ns, chunk)  # type: ignore[union-attr]
                ns = event.ns  # type: ignore[union-attr]
                pending.extend(self._shape(mode, ns, item) for item in chunk.items)
                return pending.popleft()
            for mode, project in entries:
                chunk = project(event)
                if chunk.__class__ is Chunks:
                    ns = event.ns  # type: ignore[union-attr]
                    pending.extend(self._shape(mode, ns, item) for item in chunk.items)
                elif chunk is not SKIP:
                    pending.append(self._shape(mode, event.ns, chunk))  # type: ignore[union-attr]
            if pending:
                return pending.popleft()

    async def next_batch(self, limit: int) -> list[Any]:
        """Wait for the next item, then take up to ``limit`` items in all that are ready without waiting.

        The same items, in the same order, as iterating the view; cheaper per item for a consumer that
        takes them in bulk (the sync bridge).

        :param limit: items to stop taking at (items, > 0); one event projecting to several items may go past it
        :returns: at least one item, or an empty list once the view has ended
        :raises SubscriberDisconnectedError: when the channel disconnected this view (after what it had
            buffered was taken)
        """
        try:
            out: list[Any] = [await self.__anext__()]
        except StopAsyncIteration:
            return []
        pending = self._pending
        while pending and len(out) < limit:
            out.append(pending.popleft())
        sub = self._sub
        table = self._table
        identity = self._identity
        shape = self._shape
        while len(out) < limit:
            try:
                event = sub.receive_nowait()
            except (anyio.WouldBlock, anyio.EndOfStream, SubscriberDisconnectedError):
                break  # the next call waits, ends or raises
            entries = table.get(event.__class__)  # type: ignore[arg-type]
            if entries is None:
                if event.__class__ is Lagged:
                    out.append(event)
                continue
            for mode, project in entries:
                chunk = project(event)
                if chunk.__class__ is Chunks:
                    ns = event.ns  # type: ignore[union-attr]
                    out.extend(shape(mode, ns, item) for item in chunk.items)
                elif chunk is not SKIP:
                    out.append(chunk if identity else shape(mode, event.ns, chunk))  # type: ignore[union-attr]
        return out

    def prime(self, events: Iterable[Event]) -> None:
        """Run ``events``, which came before this view's first item, through its projections and emit
        nothing: a mode with state (``messages`` remembers the messages it streamed) then continues where an
        earlier view of the same run stopped. Events outside the view's filter are skipped."""
        sub = self._sub
        table = self._table
        for event in events:
            if sub.accepts(event):
                for _mode, project in table.get(event.__class__, ()):
                    project(event)

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
