"""A run executing in another process, seen through its Redis stream with the same views as a local run.

Each view of a :class:`RemoteRun` has its own reader: ``XRANGE`` for the history from its start ``seq``,
then ``XREAD BLOCK`` from the last id read. The reader rebuilds the typed events and publishes them, in
order, on a private :class:`~streamflow.channel.Channel` that mirrors the run from that ``seq``; the view is
an ordinary subscription (or stream-mode :class:`~streamflow.views.View`) of that channel, so filters,
stream modes, ``subgraphs``, backpressure and ``Lagged`` signals behave as they do on a local run. Many
local readers of one run share a :class:`RemoteMirror` instead: one reader, one decode per event, and a
replay buffer on the mirror channel for subscribers that join late.

Delivery on the wire is at least once (a reconnection re-reads from the last id); the reader keeps the last
``seq`` it published and drops anything at or below it, and a ``seq`` beyond the next one means events were
trimmed (:class:`~streamflow.errors.StreamTrimmedError`), so each event reaches a view exactly once, in
order, or the view fails loudly. A view ends after the run's terminal event; :attr:`RemoteView.outcome`
then holds it.

Fairness: a view replaying a long history from Redis has its events ready without waiting, so the views and
history reads let other tasks run (and honour a cancellation) every :data:`CHECKPOINT_EVERY` events even when
they need not wait (a :class:`~streamflow.fairness.YieldBudget`; the reader's publishes onto the mirror
channel yield as every publish does).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Self

import anyio
import anyio.lowlevel
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..channel import (
    DEFAULT_BUFFER_SIZE,
    DEFAULT_REPLAY_SIZE,
    Channel,
    Lagged,
    OverflowPolicy,
    Subscription,
    SubscriptionStatistics,
)
from ..errors import (
    InvalidArgumentError,
    NoTerminalEventError,
    RunCancelledError,
    RunFailedError,
    StreamTrimmedError,
    TransportUnavailableError,
    UnknownRunError,
)
from ..events import Event, RunCancelled, RunFailed, RunFinished
from ..fairness import YieldBudget
from ..filters import EventFilter, Predicate
from ..modes import ViewSpec
from ..run_info import RunInfo
from ..views import View
from .checks import check_name, check_not_negative, check_positive
from .codec import decode_event
from .directory import DEFAULT_PREFIX, RedisClientUser, RedisKeys, RedisRunDirectory, seq_of

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["CHECKPOINT_EVERY", "RemoteMirror", "RemoteRun", "RemoteSubscription", "RemoteView"]

CHECKPOINT_EVERY = 64
"""Events a reader decodes and publishes, or a remote view or subscription hands out, between two points
where it lets other tasks run when it had no need to wait."""

_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)


class _Reader:
    """Reads one run's stream from a ``seq`` and publishes the events on a mirror channel."""

    def __init__(self, remote: RemoteRun, channel: Channel, start: int) -> None:
        self._remote = remote
        self.channel = channel
        self.start_seq = start
        self._next = start
        self._task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None
        self.outcome: Event | None = None

    @property
    def remote(self) -> RemoteRun:
        """The remote run this reader reads."""
        return self._remote

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._main())

    async def finished(self) -> None:
        if self._task is not None:
            await asyncio.wait([self._task])

    def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def _main(self) -> None:
        try:
            await self._read()
        except Exception as exc:
            self.error = exc
        finally:
            self.channel.close()

    async def _publish(self, entries: Any) -> bool:
        """Publish the entries not seen yet; True once the terminal event is published."""
        remote = self._remote
        for entry_id, fields in entries:
            seq = seq_of(entry_id)
            if seq < self._next:
                continue  # read again after a reconnection: already published
            if seq > self._next:
                raise StreamTrimmedError(self._next, seq, remote.stream_key)
            event = decode_event(fields[b"e"])
            self._next = seq + 1
            if event.terminal:
                self.outcome = event
                self.channel.close(event)
                return True
            await self.channel.publish(event)  # the channel's publish lets other tasks run every so often
        return False

    async def _read(self) -> None:
        remote = self._remote
        client = remote.client
        key = remote.stream_key
        await self._wait_for_run()
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        stall = remote.stall_timeout
        block_ms = max(1, int(min(1.0, stall / 4) * 1000))
        delay = 0.02
        history = True
        while True:
            try:
                entries: Any
                if history:
                    page: Any = await client.xrange(key, f"{self._next}-0", "+", count=remote.read_count)
                    if page and seq_of(page[0][0]) > self._next:
                        first: Any = await client.xrange(key, "-", "+", count=1)
                        raise StreamTrimmedError(self._next, seq_of(first[0][0]) if first else 0, key)
                    history = len(page) == remote.read_count
                    entries = page
                else:
                    reply: Any = await client.xread(
                        {key: f"{self._next - 1}-0"}, count=remote.read_count, block=block_ms
                    )
                    entries = reply[0][1] if reply else []
                delay = 0.02
            except _UNREACHABLE as exc:
                now = loop.time()
                if now - quiet_since >= stall:
                    raise TransportUnavailableError(
                        f"Redis was unreachable for {stall} s while reading run {remote.run_id!r} from {key!r} "
                        f"(last seq read {self._next - 1}): {exc}"
                    ) from exc
                await anyio.sleep(min(delay, stall - (now - quiet_since)))
                delay = min(delay * 2, 1.0)
                continue
            if entries:
                quiet_since = loop.time()
                if await self._publish(entries):
                    return
                continue
            if history:
                continue
            if await client.exists(remote.keys.alive(remote.run_id), remote.keys.lease(remote.run_id)):
                quiet_since = loop.time()
            elif loop.time() - quiet_since >= stall:
                raise NoTerminalEventError(
                    f"run {remote.run_id!r}: no event and no heartbeat from its worker for {stall} s, and no "
                    f"terminal event (finished, failed or cancelled) after seq {self._next - 1} in {key!r}; "
                    "its worker has most likely died",
                    self._next - 1,
                )

    async def _wait_for_run(self) -> None:
        remote = self._remote
        deadline = asyncio.get_running_loop().time() + remote.start_timeout
        while True:
            if await remote.client.exists(remote.stream_key, remote.keys.info(remote.run_id)):
                return
            if asyncio.get_running_loop().time() >= deadline:
                raise UnknownRunError(
                    f"no run {remote.run_id!r} under prefix {remote.keys.prefix!r}: Redis has neither its stream "
                    f"{remote.stream_key!r} nor its directory entry (it never started with a Redis sink there, or "
                    f"its records expired)"
                )
            await anyio.sleep(0.05)


class _RemoteIterator:
    """What remote subscriptions and views share: start the reader on first use, let other tasks run every
    :data:`CHECKPOINT_EVERY` items, raise the reader's error at the end."""

    __slots__ = ("_budget", "_raised", "_reader")

    def __init__(self, reader: _Reader) -> None:
        self._reader = reader
        self._raised = False
        self._budget = YieldBudget(CHECKPOINT_EVERY)

    @property
    def outcome(self) -> Event | None:
        """The run's terminal event (``RunFinished``, ``RunFailed`` or ``RunCancelled``) once read, else None."""
        return self._reader.outcome

    async def _next(self, items: AsyncIterator[Any]) -> Any:
        """The next item of ``items`` (the subscription or view of the mirror channel), after a checkpoint
        every :data:`CHECKPOINT_EVERY` items; at the end, the reader's error, once."""
        await self._budget.checkpoint()
        self._reader.start()
        try:
            return await items.__anext__()
        except StopAsyncIteration:
            await self._reader.finished()
            error = self._reader.error
            if error is not None and not self._raised:
                self._raised = True
                raise error from None
            raise

    def __aiter__(self) -> Self:
        return self

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop reading and detach. Idempotent."""
        self._reader.stop()

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        self.close()


class RemoteSubscription(_RemoteIterator):
    """Raw typed events of a remote run (and :class:`~streamflow.channel.Lagged` signals for a
    ``drop_oldest`` subscription), rebuilt from the wire; made by :meth:`RemoteRun.subscribe`.

    Iterate it, or take items with :meth:`receive` and :meth:`receive_nowait` (as from a
    :class:`~streamflow.channel.Subscription`). Iterating raises the reader's error once, then ends; the
    receive methods raise it on every call once the buffer is drained.

    :raises UnknownRunError: (while iterating) when Redis has no trace of the run
    :raises StreamTrimmedError: when events it must read were already trimmed
    :raises NoTerminalEventError: when the run went silent without ending (its worker died)
    :raises TransportUnavailableError: when Redis stayed unreachable for ``stall_timeout`` seconds
    """

    __slots__ = ("_sub",)

    def __init__(self, reader: _Reader, subscription: Subscription) -> None:
        super().__init__(reader)
        self._sub = subscription

    async def __anext__(self) -> Event | Lagged:
        item: Event | Lagged = await self._next(self._sub)
        return item

    def receive_nowait(self) -> Event | Lagged:
        """Take the next item read without waiting (starting the reader on first use).

        :raises anyio.WouldBlock: when none is buffered and the reader goes on
        :raises anyio.EndOfStream: when the reader stopped (after the terminal event) and the buffer is drained
        :raises StreamTrimmedError: (or another of the class's errors) when the reader failed and the buffer
            is drained
        """
        self._reader.start()
        try:
            return self._sub.receive_nowait()
        except anyio.EndOfStream:
            if self._reader.error is not None:  # set before the mirror channel closes
                raise self._reader.error from None
            raise

    async def receive(self) -> Event | Lagged:
        """Wait for the next item read and take it (see :meth:`receive_nowait` for what it raises)."""
        self._reader.start()
        try:
            return await self._sub.receive()
        except anyio.EndOfStream:
            await self._reader.finished()
            if self._reader.error is not None:
                raise self._reader.error from None
            raise

    def close(self) -> None:
        """Stop reading and detach. Idempotent."""
        super().close()
        self._sub.close()

    def statistics(self) -> SubscriptionStatistics:
        """The counters of the subscription underneath."""
        return self._sub.statistics()


class RemoteView(_RemoteIterator):
    """Stream-mode output items of a remote run (shapes in :mod:`streamflow.modes`), equal to those of the
    same view on the local run; made by :meth:`RemoteRun.stream`. Raises as :class:`RemoteSubscription`."""

    __slots__ = ("_primed", "_view")

    def __init__(self, reader: _Reader, view: View) -> None:
        super().__init__(reader)
        self._view = view
        self._primed = False

    @property
    def spec(self) -> ViewSpec:
        """The parsed ``(stream_mode, subgraphs, version)``."""
        spec = self._view.spec
        assert isinstance(spec, ViewSpec)
        return spec

    async def __anext__(self) -> Any:
        if not self._primed:
            self._primed = True
            await self._prime()
        return await self._next(self._view)

    async def _prime(self) -> None:
        """A view resumed from a ``seq`` first runs the run's retained earlier events through its modes'
        state (see :meth:`View.prime`), so it emits what a view from the start would have from there on."""
        start = self._reader.start_seq
        if start > 1:
            async with contextlib.aclosing(self._reader.remote.history(1, start - 1)) as pages:
                async for page in pages:
                    self._view.prime(page)

    def close(self) -> None:
        """Stop reading and detach. Idempotent."""
        super().close()
        self._view.close()

    def statistics(self) -> SubscriptionStatistics:
        """The counters of the subscription underneath."""
        return self._view.subscription.statistics()


class RemoteMirror:
    """A shared local mirror of a remote run: one reader of the run's Redis stream that decodes each event
    once and publishes it on :attr:`channel`, a channel with a replay buffer of the last ``replay_size``
    events that any number of subscribers share (made by :meth:`RemoteRun.mirror`).

    Subscribe with the ``drop_oldest`` (or ``error``) policy: a ``block`` subscriber would make the reader,
    and so every other subscriber, wait for it. The channel closes after the run's terminal event, or when
    the reader fails (:attr:`error`) or is stopped.
    """

    __slots__ = ("_reader", "replay_size", "start_seq")

    def __init__(self, reader: _Reader, start_seq: int, replay_size: int) -> None:
        self._reader = reader
        self.start_seq = start_seq
        self.replay_size = replay_size

    @property
    def channel(self) -> Channel:
        """The mirror channel: the run's events from :attr:`start_seq` on, with their ``seq``."""
        return self._reader.channel

    @property
    def first_retained_seq(self) -> int:
        """The oldest ``seq`` the replay buffer holds (the next ``seq`` to be read when it holds none)."""
        last = self._reader.channel.last_seq
        return max(self.start_seq, last - self.replay_size + 1)

    @property
    def outcome(self) -> Event | None:
        """The run's terminal event once read, else None."""
        return self._reader.outcome

    @property
    def error(self) -> BaseException | None:
        """Why the reader stopped before the terminal event (the exceptions of :class:`RemoteSubscription`),
        else None."""
        return self._reader.error

    @property
    def done(self) -> bool:
        """True once the reader stopped (the run ended, it failed, or it was stopped)."""
        return self._reader.channel.closed

    def start(self) -> None:
        """Start reading (in a task of the running loop). Idempotent."""
        self._reader.start()

    async def finished(self) -> None:
        """Wait until the reader stopped (returns at once when it never started)."""
        await self._reader.finished()

    def stop(self) -> None:
        """Stop reading and close the channel (its subscribers drain and end). Idempotent."""
        self._reader.stop()
        self._reader.channel.close()


class RemoteRun(RedisClientUser):
    """A run executing in another process, read from its Redis stream (written by a
    :class:`~streamflow.redis.RedisSink`). Offers the views of a local :class:`~streamflow.graph.Run`.

    Making one does no I/O: an unknown run id is reported by the first read (or by :meth:`info`).

    :param redis: a ``redis.asyncio.Redis`` client (bytes responses, the default), or a URL to make one
        (closed by :meth:`aclose`)
    :param run_id: the run's id
    :param prefix: the key prefix the sink writes under
    :param stall_timeout: how long a reader waits with no new event, no heartbeat from the run's worker, no
        worker's lease on the run and no terminal event, or with Redis unreachable, before it raises
        (seconds); keep it above the workers' takeover time (``claim_interval``) so that a viewer follows a
        run another worker takes over (:class:`~streamflow.redis.RedisWorker`)
    :param start_timeout: how long a reader waits for an unknown run to appear before it raises
        :class:`~streamflow.errors.UnknownRunError` (seconds; 0 checks once)
    :param read_count: most entries per ``XRANGE``/``XREAD`` call (events)
    :raises InvalidArgumentError: for a bad ``redis``, ``run_id``, ``prefix`` or number
    """

    def __init__(
        self,
        redis: Redis | str,
        run_id: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        stall_timeout: float = 30.0,
        start_timeout: float = 0.0,
        read_count: int = 1024,
    ) -> None:
        self.run_id = check_name("run_id", run_id)
        self.keys = RedisKeys(prefix)
        self.stream_key = self.keys.stream(run_id)
        check_positive("stall_timeout", stall_timeout, "seconds")
        check_not_negative("start_timeout", start_timeout, "seconds")
        check_positive("read_count", read_count, "events", integer=True)
        self.stall_timeout = float(stall_timeout)
        self.start_timeout = float(start_timeout)
        self.read_count = read_count
        self._connect(redis)

    def _reader(self, after_seq: int, replay_size: int = 0) -> _Reader:
        if not isinstance(after_seq, int) or isinstance(after_seq, bool) or after_seq < 0:
            raise InvalidArgumentError(
                f"after_seq must be a seq >= 0 (0 reads from the run's first event), got {after_seq!r}"
            )
        start = after_seq + 1
        return _Reader(self, Channel(self.run_id, replay_size=replay_size, first_seq=start), start)

    def mirror(self, *, after_seq: int = 0, replay_size: int = DEFAULT_REPLAY_SIZE) -> RemoteMirror:
        """A mirror of the run's events after ``after_seq``, for many local subscribers that share one
        reader (nothing is read before :meth:`RemoteMirror.start`).

        :param after_seq: resume after this ``seq`` (0, the default, reads from the run's first event)
        :param replay_size: how many of the latest events the mirror keeps for late subscribers (events, > 0)
        :raises InvalidArgumentError: for a negative ``after_seq`` or a ``replay_size`` below 1
        """
        check_positive("replay_size", replay_size, "events", integer=True)
        return RemoteMirror(self._reader(after_seq, replay_size), after_seq + 1, replay_size)

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
        after_seq: int = 0,
    ) -> RemoteSubscription:
        """Attach a raw subscriber: typed events rebuilt from the wire, those after ``after_seq``, with any
        filter and policy (as ``Channel.subscribe``). The run's terminal event passes every filter and ends it.

        :param after_seq: resume after this ``seq`` (0, the default, reads from the run's first event)
        :raises InvalidArgumentError: for a negative ``after_seq``, bad backpressure arguments or both
            ``event_filter`` and keyword criteria
        :raises UnknownEventKindError: for an unknown kind in ``kinds``
        """
        reader = self._reader(after_seq)
        sub = reader.channel.subscribe(
            event_filter,
            kinds=kinds,
            nodes=nodes,
            tags=tags,
            ns_prefix=ns_prefix,
            subgraphs=subgraphs,
            predicate=predicate,
            buffer_size=buffer_size,
            overflow=overflow,
            timeout=timeout,
        )
        return RemoteSubscription(reader, sub)

    def stream(
        self,
        stream_mode: str | Sequence[str] = "values",
        *,
        subgraphs: bool = False,
        version: str = "v1",
        nodes: Iterable[str] | None = None,
        tags: Iterable[str] | None = None,
        predicate: Predicate | None = None,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        overflow: OverflowPolicy = "block",
        timeout: float | None = None,
        after_seq: int = 0,
    ) -> RemoteView:
        """Attach a view yielding stream-mode chunks, as ``Run.stream`` does on a local run, reading the
        events after ``after_seq`` (0, the default, reads from the run's first event).

        :raises UnknownStreamModeError: for an unknown mode or version
        :raises InvalidArgumentError: for a negative ``after_seq`` or bad backpressure arguments
        """
        spec = ViewSpec.parse(stream_mode, subgraphs, version)
        reader = self._reader(after_seq)
        sub = reader.channel.subscribe(
            kinds=spec.kinds,
            nodes=nodes,
            tags=tags,
            subgraphs=spec.subgraphs,
            predicate=predicate,
            buffer_size=buffer_size,
            overflow=overflow,
            timeout=timeout,
        )
        return RemoteView(reader, View(sub, spec))

    async def history(self, first: int, last: int) -> AsyncGenerator[list[Event], None]:
        """The run's events ``first``..``last`` (``seq``, both included) that its Redis stream holds, oldest
        first, in pages of at most ``read_count`` events (one ``XRANGE`` each). Events trimmed before they
        were read are missing, without an error: this reads history, it does not follow the run. Use it in
        ``contextlib.aclosing`` when you may stop early.
        """
        key = self.stream_key
        start = f"{first}-0"
        budget = YieldBudget(CHECKPOINT_EVERY)
        while True:
            entries: Any = await self._client.xrange(key, start, f"{last}-0", count=self.read_count)
            page: list[Event] = []
            for _entry_id, fields in entries:
                page.append(decode_event(fields[b"e"]))
                await budget.checkpoint()
            if page:
                yield page
            if len(entries) < self.read_count:
                return
            start = f"{page[-1].seq + 1}-0"

    async def info(self) -> RunInfo:
        """The run's info from its directory entry and its stream (status, times, ``seq`` bounds).

        :raises UnknownRunError: when the directory has no entry for the run
        """
        return await RedisRunDirectory(self._client, prefix=self.keys.prefix).require(self.run_id)

    async def result(self) -> Any:
        """Wait for the run to end and return its final state (``RunFinished.output``), rebuilt from the wire.

        :raises RunFailedError: when the run failed; it carries the original exception's class name and message
        :raises RunCancelledError: when the run was cancelled
        :raises UnknownRunError: when Redis has no trace of the run
        :raises NoTerminalEventError: when the run went silent without ending (its worker died)
        :raises StreamTrimmedError: when the stream trims events while this waits (retention)
        """
        after_seq = 0
        if await self._client.exists(self.stream_key):
            top: Any = await self._client.xrevrange(self.stream_key, "+", "-", count=1)
            if top:
                after_seq = seq_of(top[0][0]) - 1  # from the newest event on
        outcome: Event | None = None
        last_seq = after_seq
        async with self.subscribe(kinds=(), overflow="block", after_seq=after_seq) as sub:
            async for event in sub:
                if isinstance(event, Event):
                    outcome, last_seq = event, event.seq
        if isinstance(outcome, RunFinished):
            return outcome.output
        if isinstance(outcome, RunFailed):
            raise RunFailedError(self.run_id, outcome.error_type, outcome.error_message)
        if isinstance(outcome, RunCancelled):
            raise RunCancelledError(f"run {self.run_id!r} was cancelled: {outcome.reason}")
        raise NoTerminalEventError(f"run {self.run_id!r}: its stream ended without a terminal event", last_seq)
