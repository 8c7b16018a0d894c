"""One reader of a v3 run stream: its own subscription to the run's channel, feeding its own pipeline.

Layer 2 (views). Every iteration of a run stream, of one of its projections or of ``interleave()`` is a
:class:`Consumer`: a subscription (with its own buffer and overflow policy) whose events are turned into
envelopes (:class:`~streamflow.stream.envelopes.EnvelopeBuilder`) and pushed through fresh transformers
(:class:`~streamflow.stream.pipeline.Pipeline`). What the consumer asked for lands in its ``out`` deque; the
rest is dropped as it is made, so what nobody reads is never held. A ``Lagged`` signal (``drop_oldest``
policy) is put in ``out`` as it is, where the consumer's reader sees it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import anyio
import attrs

from ..channel import Lagged, OverflowPolicy, Subscription
from ..errors import SubscriberDisconnectedError
from ..subscription import DEFAULT_BUFFER_SIZE
from .envelopes import EnvelopeBuilder
from .pipeline import Pipeline

__all__ = ["Consumer", "ConsumerPolicy", "Reader", "ReaderSource"]

_BATCH = 256
"""Events taken from the subscription per step at most."""


@attrs.frozen
class ConsumerPolicy:
    """The backpressure of one consumer's subscription (as ``Channel.subscribe`` takes it)."""

    buffer_size: int = DEFAULT_BUFFER_SIZE
    """Events the subscription buffers (> 0)."""
    overflow: OverflowPolicy = "block"
    """``"block"`` (the run waits for this consumer), ``"drop_oldest"`` (it lags, told by ``Lagged``) or
    ``"error"``."""
    timeout: float | None = None
    """For ``"block"``: seconds this consumer may hold the run up before it is disconnected."""


Subscribe = Callable[[frozenset[Any], ConsumerPolicy], Subscription | None]
"""``(event classes, policy) -> subscription``, or None when the run already ended."""
Failure = Callable[[], Awaitable[BaseException | None]]
"""Wait for the run to end; return what it failed with (None when it finished or was aborted)."""


class Consumer:
    """A subscription feeding a pipeline; :meth:`pull` takes the next step.

    :param pipeline: the consumer's transformers (already attached to ``out`` where needed)
    :param out: where the consumer's items land
    :param subscribe: makes the subscription
    :param failure: the run's outcome, once its channel has closed
    :param policy: the subscription's backpressure
    :param begin: called at the first step (lets a run waiting for its readers go)
    """

    def __init__(
        self,
        pipeline: Pipeline,
        out: deque[Any],
        subscribe: Subscribe,
        failure: Failure,
        policy: ConsumerPolicy,
        *,
        begin: Callable[[], None] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.out = out
        self._builder = EnvelopeBuilder(pipeline.modes)
        self._failure = failure
        self._sub = subscribe(self._builder.kinds, policy)
        self._begin = begin
        self._lock = asyncio.Lock()
        self._pending: deque[Any] = deque()
        self._steps = 0
        self._left = False
        self.ended = False
        """Whether the run ended and the pipeline was closed (or failed)."""
        self.error: BaseException | None = None
        """What the consumer's reader gets once ``out`` is drained: the run's error, or a disconnection."""
        self._handed_over_last = False
        """Whether the last step stopped after an event that handed over a lazily fed object."""
        pipeline.bind_pump(self.pull, self.pull_ahead)

    async def pull(self) -> bool:
        """Take the next events of the run through the pipeline (waiting for them), or end the pipeline when
        the run has ended. Several readers may call it at once: one takes the step, the others wait for it.

        :returns: False once the consumer had already ended, else True
        """
        if self.ended:
            return False
        ticket = self._steps
        async with self._lock:
            if self._steps != ticket:
                return True
            if self._over():
                return False
            try:
                await self._step()
            finally:
                self._steps += 1
            if self._left:
                self.close()
            return True

    def _over(self) -> bool:
        return self.ended

    async def pull_ready(self) -> bool:
        """:meth:`pull` if it needs no waiting: events are already received or buffered, and no other reader
        is taking a step. Returns whether a step was taken."""
        if self.ended or self._lock.locked():
            return False
        if not self._pending:
            sub = self._sub
            if sub is None:
                return False
            try:
                self._pending.extend(sub.receive_many_nowait(_BATCH))
            except anyio.WouldBlock:
                return False
            except (anyio.EndOfStream, SubscriberDisconnectedError):
                pass  # the next step ends the consumer
        return await self.pull()

    async def pull_ahead(self) -> bool:
        """:meth:`pull_ready`, unless the last step stopped after an event that handed over a lazily fed object
        (a chat model stream, a subgraph handle), whose reader attaches before the next event: what a reader
        of such an object takes to get more than one step's items per call."""
        if self._handed_over_last:
            return False
        return await self.pull_ready()

    async def _step(self) -> None:
        """Take the events received through the pipeline, stopping after one that made a lazily fed object
        (a chat model stream, a subgraph handle: its reader attaches before the next event, as LangGraph's
        pump lets it) or once ``out`` holds a batch."""
        if self._begin is not None:
            self._begin()
            self._begin = None
        pending = self._pending
        if not pending:
            sub = self._sub
            if sub is None:
                await self._end(None)
                return
            try:
                try:
                    pending.extend(sub.receive_many_nowait(_BATCH))
                except anyio.WouldBlock:
                    pending.append(await sub.receive())
            except anyio.EndOfStream:
                await self._end(None)
                return
            except SubscriberDisconnectedError as exc:
                await self._end(exc)
                return
        build = self._builder.build
        pipeline = self.pipeline
        push_ready = pipeline.push_ready
        out = self.out
        handed_over = pipeline.handed_over
        mark = handed_over[0]
        self._handed_over_last = False
        while pending:
            item = pending.popleft()
            if isinstance(item, Lagged):
                out.append(item)
            else:
                for envelope in build(item):
                    if not push_ready(envelope):
                        await pipeline.push(envelope)
            if handed_over[0] != mark:
                self._handed_over_last = True
                return
            if len(out) >= _BATCH:
                return

    async def _end(self, disconnected: BaseException | None) -> None:
        self.ended = True
        error = disconnected if disconnected is not None else await self._failure()
        if error is not None:
            self.error = error
            await self.pipeline.fail(error)
            return
        try:
            await self.pipeline.close()
        except Exception as exc:
            self.error = exc

    @property
    def finished(self) -> bool:
        """Whether the consumer ended (nothing more will come into ``out``)."""
        return self.ended

    async def advance(self) -> bool:
        """:meth:`pull` (the :class:`ReaderSource` face)."""
        return await self.pull()

    async def advance_ready(self) -> bool:
        """:meth:`pull_ready` (the :class:`ReaderSource` face)."""
        return await self.pull_ready()

    def close(self) -> None:
        """The consumer's reader left: detach the subscription, once no subgraph handle it found is still
        fed (a handle's readers drive this consumer)."""
        self._left = True
        if self._sub is not None and not self.pipeline.has_open_handles():
            self._sub.close()


def _fed_lazily(item: Any) -> bool:
    """Whether ``item`` (or the item of an ``interleave()`` pair) is fed by later events."""
    if isinstance(item, tuple) and len(item) == 2:
        item = item[1]
    return bool(getattr(item, "fed_lazily", False))


class ReaderSource(Protocol):
    """What feeds a :class:`Reader`."""

    @property
    def finished(self) -> bool:
        """Whether nothing more will come."""
        ...

    @property
    def error(self) -> BaseException | None:
        """What the reader raises once its items are taken."""
        ...

    async def advance(self) -> bool:
        """Make progress; False once nothing more will come."""
        ...

    async def advance_ready(self) -> bool:
        """Make progress if that needs no waiting; whether it did."""
        ...

    def close(self) -> None:
        """The reader left."""
        ...


class Reader:
    """The async iterator over a reader's ``out`` deque, fed by its source; :meth:`next_batch` takes what is
    ready at once (the sync run stream moves a batch per thread hop).

    :raises Exception: (iterating, after the items) what the source ended with
    """

    def __init__(self, out: deque[Any], source: ReaderSource) -> None:
        self._out = out
        self._source = source
        self._closed = False

    def __aiter__(self) -> Reader:
        return self

    async def __anext__(self) -> Any:
        batch = await self._wait()
        if batch:
            return self._out.popleft()
        raise StopAsyncIteration

    async def _wait(self) -> bool:
        out = self._out
        source = self._source
        while not out and not source.finished:
            if not await source.advance():
                break
        if out:
            return True
        self.close()
        if source.error is not None:
            raise source.error
        return False

    async def next_batch(self, limit: int = _BATCH) -> list[Any]:
        """The items ready now, waiting for one if there is none, then taking more steps while they need no
        waiting (up to about ``limit`` items, and never past an item fed lazily, a chat model stream or a
        subgraph handle, whose own readers must attach before the next event); ``[]`` once the source ended.

        :raises Exception: what the source ended with, once its items are taken
        """
        if not await self._wait():
            return []
        out = self._out
        while len(out) < limit and not _fed_lazily(out[-1]) and await self._source.advance_ready():
            pass
        items = list(out)
        self._out.clear()
        return items

    def close(self) -> None:
        """Leave: the source is told (a consumer detaches its subscription). Idempotent."""
        if not self._closed:
            self._closed = True
            self._source.close()

    async def aclose(self) -> None:
        """:meth:`close`, awaitable (as an async generator's)."""
        self.close()
