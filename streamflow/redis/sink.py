"""The sink: a view on a live run that forwards every event to the run's Redis stream.

The sink subscribes to the run with the ``block`` policy and a bounded buffer, so a slow Redis slows the
run instead of losing events. It writes batches: it takes what its buffer holds, waits up to
``flush_interval`` seconds for more until it has ``batch_size`` events, and sends the batch as pipelined
``XADD`` commands with explicit ids ``<seq>-0`` and ``MAXLEN ~ maxlen``. Explicit ids make a retried batch
harmless: Redis refuses an id it already has, and the sink counts that as written. The last ``XADD`` of a
batch carries the ``MAXLEN ~`` trim, so the stream holds at most about ``maxlen + batch_size`` entries.

When Redis cannot be reached the sink retries with exponential backoff for up to ``retry_for`` seconds.
After a reconnection it compares the stream's last id with what it wrote; a Redis that lost the stream
(restarted without persistence, or failed over) gets back what the sink still retains (its last ``maxlen``
events), so remote readers resume with no gap. Past ``retry_for`` the sink gives up: with
``on_unreachable="fail"`` (the default) it fails the run with
:class:`~streamflow.errors.TransportUnavailableError`; with ``"detach"`` the run goes on without it, and the
loss is reported (a structlog warning and :meth:`RedisSink.statistics`).

A worker handing its run to another (:meth:`RedisSink.cut`) has the sink stop after the events published
so far: what the run publishes while it is stopped, its terminal event included, never reaches Redis, and
the worker that takes the run over goes on after the last one written.

While the run is alive the sink refreshes a heartbeat key, so remote readers tell a quiet run from a dead
worker. The run's terminal event (finished, failed or cancelled) is always the last entry it writes; with
it, the directory entry gets its final status and the stream and entry their ``ttl``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Literal, Self

import anyio
import attrs
import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..channel import Lagged, Subscription
from ..errors import InvalidArgumentError, TransportUnavailableError
from ..events import Event
from .checks import check_not_negative, check_positive
from .codec import check_payload, encode_event
from .directory import DEFAULT_PREFIX, RedisKeys, connect, record_ended, record_started

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ..graph.run import Run
    from .lease import RunLease

__all__ = ["ON_UNREACHABLE", "RedisSink", "SinkStatistics"]

ON_UNREACHABLE: tuple[str, ...] = ("fail", "detach")
"""What a sink does once Redis stayed unreachable for ``retry_for`` seconds."""

_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
_log = structlog.get_logger("streamflow.redis")


@attrs.frozen
class SinkStatistics:
    """A snapshot of a sink's counters (counts are events unless named otherwise)."""

    written: int
    """Events Redis has acknowledged."""
    last_seq: int
    """``seq`` of the last event Redis acknowledged (0 before the first)."""
    batches: int
    """Pipelines sent successfully (each is one round trip)."""
    retries: int
    """Attempts that failed because Redis was unreachable and were tried again."""
    restored: int
    """Events written again after Redis had lost them."""
    lost: int
    """Events of the run that never reached Redis because the sink gave up (0 unless it did)."""
    buffered: int
    """Events waiting in the sink's buffer."""
    state: str
    """``"forwarding"``, ``"done"`` (terminal event written), ``"cut"`` (stopped before the run's end, see
    :meth:`RedisSink.cut`), ``"failed"`` or ``"detached"``."""


class RedisSink:
    """Forward a run's events to the Redis stream ``<prefix>:run:<run_id>`` (layout in
    :mod:`streamflow.redis.directory`).

    Attach it right after ``graph.start()``, before the run's first task starts::

        async with graph.start(inputs) as run, RedisSink(run, "redis://127.0.0.1:6379/0") as sink:
            result = await run.result()

    Entering subscribes, adds a payload check to the run (so a stream-writer call with data the wire cannot
    carry raises :class:`~streamflow.errors.NotSerializableError` at the call) and waits until the run is in
    the directory. Leaving cancels the run if it has not ended (as leaving the run's own block does), then
    waits until the terminal event is written or the sink gave up. A failure ends the run
    (``on_unreachable="fail"``; raised from the block instead when the run had already ended) or is reported
    (``"detach"``); see :attr:`error` and :meth:`statistics`.

    :param run: the run to forward (a :class:`streamflow.graph.Run`)
    :param redis: a ``redis.asyncio.Redis`` client (bytes responses, the default), or a URL to make one
    :param prefix: key prefix shared with the readers
    :param batch_size: most events per pipelined batch (events)
    :param flush_interval: longest wait for a batch to fill once it has an event (seconds)
    :param buffer_size: the sink's own buffer under the ``block`` policy (events); when full, the run waits
    :param maxlen: events the stream keeps (``XADD MAXLEN ~``, so a little more), and the sink retains to
        rewrite after Redis lost them (events)
    :param ttl: how long the stream and the directory entry live after the run ends (seconds)
    :param retry_for: how long Redis may stay unreachable before the sink gives up (seconds)
    :param on_unreachable: ``"fail"`` (fail the run) or ``"detach"`` (let it go on, report the loss)
    :param heartbeat_interval: how often the heartbeat key is refreshed (seconds); it expires after three
    :param fence: the worker's lease on the run (:class:`~streamflow.redis.lease.RunLease`): every write
        then goes through it and is refused once the lease is lost (the sink gives up with
        :class:`~streamflow.errors.LeaseLostError`). A run taken over from another worker (its channel
        starts after seq 1) continues the stream that worker wrote instead of refusing an existing one.
    :raises InvalidArgumentError: for any argument out of its range, or a run whose replay buffer no longer
        holds its first events (attach the sink right after ``start()``)
    """

    def __init__(
        self,
        run: Run,
        redis: Redis | str,
        *,
        prefix: str = DEFAULT_PREFIX,
        batch_size: int = 256,
        flush_interval: float = 0.005,
        buffer_size: int = 1024,
        maxlen: int = 10_000,
        ttl: float = 3600.0,
        retry_for: float = 10.0,
        on_unreachable: Literal["fail", "detach"] = "fail",
        heartbeat_interval: float = 1.0,
        fence: RunLease | None = None,
    ) -> None:
        check_positive("batch_size", batch_size, "events", integer=True)
        check_positive("buffer_size", buffer_size, "events", integer=True)
        check_positive("maxlen", maxlen, "events", integer=True)
        check_positive("ttl", ttl, "seconds")
        check_positive("retry_for", retry_for, "seconds")
        check_positive("heartbeat_interval", heartbeat_interval, "seconds")
        check_not_negative("flush_interval", flush_interval, "seconds")
        if on_unreachable not in ON_UNREACHABLE:
            raise InvalidArgumentError(
                f"unknown on_unreachable {on_unreachable!r}; allowed: {', '.join(map(repr, ON_UNREACHABLE))}"
            )
        self.keys = RedisKeys(prefix)
        self.run = run
        self.stream_key = self.keys.stream(run.run_id)
        self._batch_size = batch_size
        self._flush_interval = float(flush_interval)
        self._buffer_size = buffer_size
        self._maxlen = maxlen
        self._ttl = float(ttl)
        self._retry_for = float(retry_for)
        self._on_unreachable = on_unreachable
        self._heartbeat_interval = float(heartbeat_interval)
        self._fence = fence
        self._client, self._owned = connect(redis)
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._retained: deque[tuple[int, bytes]] = deque(maxlen=maxlen)
        self._started_at = time.time()
        self._last_beat = 0.0
        self._suspect = False  # a failure happened: check what Redis still has before the next write
        self._written = 0
        self._last_seq = 0
        self._batches = 0
        self._retries = 0
        self._restored = 0
        self._state = "forwarding"
        self._error: BaseException | None = None
        self._raise_on_close = False
        self._cut: int | None = None

    # -- lifecycle -----------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self.start()
        await self._ready.wait()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def start(self) -> None:
        """Subscribe, add the payload check and start forwarding, without waiting (``async with`` also
        waits until the run is in the directory). Call it in the run's event loop.

        :raises InvalidArgumentError: when called twice
        :raises ReplayUnavailableError: when the run already published events its replay buffer dropped
        """
        if self._sub is not None:
            raise InvalidArgumentError("this sink was already started; make one sink per run")
        channel = self.run.channel
        after_seq = channel.first_seq - 1 if channel.first_seq > 1 or channel.last_seq else None
        self._sub = self.run.subscribe(buffer_size=self._buffer_size, overflow="block", after_seq=after_seq)
        self.run.add_payload_check(check_payload)
        self._task = asyncio.get_running_loop().create_task(self._forward())

    async def registered(self) -> bool:
        """Wait until the run is in the directory as ``running`` (the sink's first write), or the sink gave
        up; return whether it is."""
        await self._ready.wait()
        return self._batches > 0

    async def wait(self) -> None:
        """Wait until the terminal event is written, or the sink gave up."""
        if self._task is not None:
            await asyncio.wait([self._task])

    async def aclose(self) -> None:
        """Cancel the run if it has not ended, wait for the sink to finish (see :meth:`wait`), and close the
        client if the sink made it. Idempotent.

        :raises TransportUnavailableError: (or what else made the sink give up) with ``on_unreachable="fail"``
            when the sink gave up after the run had already ended, so the run could not carry the failure
        """
        try:
            if self._task is not None and not self._task.done():
                if not self.run.done:
                    self.run.cancel()
                await self.wait()
        finally:
            if self._task is not None and not self._task.done():
                self._task.cancel()
            if self._owned:
                self._owned = False
                await self._client.aclose()
        if self._raise_on_close and self._error is not None:
            self._raise_on_close = False
            raise self._error

    def cut(self) -> int:
        """Write no event published from now on, not even the terminal one: the events published so far are
        still written, then the sink stops (state ``"cut"``) once the run ends or publishes past them. For a
        run handed to another worker, which goes on after them. Return the ``seq`` of the last event the sink
        writes (0 before the first)."""
        if self._cut is None:
            self._cut = self.run.channel.last_seq
        return self._cut

    @property
    def error(self) -> BaseException | None:
        """Why the sink gave up (:class:`~streamflow.errors.TransportUnavailableError`,
        :class:`~streamflow.errors.NotSerializableError` ...), or None."""
        return self._error

    def statistics(self) -> SinkStatistics:
        """Return a snapshot of the sink's counters."""
        sub = self._sub
        lost = self.run.channel.last_seq - self._last_seq if self._error is not None else 0
        return SinkStatistics(
            written=self._written,
            last_seq=self._last_seq,
            batches=self._batches,
            retries=self._retries,
            restored=self._restored,
            lost=lost,
            buffered=sub.statistics().buffered if sub is not None else 0,
            state=self._state,
        )

    # -- forwarding ----------------------------------------------------------------------------------

    async def _forward(self) -> None:
        sub = self._sub
        assert sub is not None
        try:
            await self._send([], register=True)
            self._ready.set()
            while True:
                batch = await self._collect(sub)
                if not batch:
                    break  # the run's channel closed without a terminal event reaching this sink
                cut = self._cut
                if cut is not None and batch[-1].seq > cut:
                    kept = [event for event in batch if event.seq <= cut]
                    if kept:
                        await self._send(kept)
                    self._state = "cut"
                    break
                await self._send(batch)
                if batch[-1].terminal:
                    self._state = "done"
                    break
        except Exception as exc:  # Redis unreachable, a payload it cannot carry, a refused command ...
            self._give_up(exc)
        finally:
            sub.close()
            self._ready.set()

    async def _collect(self, sub: Subscription) -> list[Event]:
        """Wait for the next event (heartbeating while idle), then take more for up to ``flush_interval``."""
        batch: list[Event] = []
        while not batch:
            with anyio.move_on_after(self._heartbeat_interval):
                try:
                    item = await sub.receive()
                except anyio.EndOfStream:
                    return batch
                assert isinstance(item, Event)  # the block policy never lags
                batch.append(item)
            if not batch:
                await self._send([], beat=True)
        if batch[0].terminal:
            return batch
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._flush_interval
        size = self._batch_size
        while len(batch) < size:
            try:
                item = sub.receive_nowait()
            except anyio.WouldBlock:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                late: Event | Lagged | None = None
                with anyio.move_on_after(remaining), contextlib.suppress(anyio.EndOfStream):
                    late = await sub.receive()
                if late is None:
                    break
                item = late
            except anyio.EndOfStream:
                break
            assert isinstance(item, Event)
            batch.append(item)
            if item.terminal:
                break
        return batch

    async def _send(self, batch: list[Event], *, register: bool = False, beat: bool = False) -> None:
        """Write ``batch`` (and the directory and heartbeat commands due) in one pipeline, retrying while
        Redis is unreachable, for up to ``retry_for`` seconds."""
        entries = [(event.seq, encode_event(event)) for event in batch]
        terminal = batch[-1] if batch and batch[-1].terminal else None
        loop = asyncio.get_running_loop()
        give_up_at: float | None = None
        delay = 0.02
        while True:
            try:
                if register and self.run.channel.first_seq == 1:
                    await self._check_fresh()
                if self._suspect:
                    await self._restore()
                await self._write(entries, terminal, beat=beat or register)
                break
            except _UNREACHABLE as exc:
                now = loop.time()
                if give_up_at is None:
                    give_up_at = now + self._retry_for
                if now >= give_up_at:
                    raise TransportUnavailableError(
                        f"Redis was unreachable for {self._retry_for} s while writing run {self.run.run_id!r} "
                        f"to {self.stream_key!r} (last written seq {self._last_seq}): {exc}"
                    ) from exc
                self._suspect = True
                self._retries += 1
                await anyio.sleep(min(delay, give_up_at - now))
                delay = min(delay * 2, 1.0)
        if entries:
            self._retained.extend(entries)
            self._written += len(entries)
            self._last_seq = entries[-1][0]

    async def _write(self, entries: list[tuple[int, bytes]], terminal: Event | None, *, beat: bool) -> None:
        pipe = self._client.pipeline(transaction=False)
        key = self.stream_key
        run_id = self.run.run_id
        if not self._batches:
            record_started(pipe, self.keys, run_id, self.run.graph.name, self._started_at)
        last = len(entries) - 1
        for i, (seq, data) in enumerate(entries):  # trimming once per batch keeps each XADD small
            pipe.xadd(key, {"e": data}, id=f"{seq}-0", maxlen=self._maxlen if i == last else None, approximate=True)
        now = time.time()
        if terminal is not None:
            record_ended(pipe, self.keys, terminal, now, self._ttl)
        elif beat or now - self._last_beat >= self._heartbeat_interval:
            pipe.set(self.keys.alive(run_id), b"1", px=max(1, int(self._heartbeat_interval * 3000)))
            self._last_beat = now
        if self._fence is not None:
            refused = await self._fence.execute(pipe)
            if refused:
                raise ResponseError(refused[0])
            self._batches += 1
            return
        results = await pipe.execute(raise_on_error=False)
        for result in results:
            if isinstance(result, ResponseError) and "equal or smaller" not in str(result):
                raise result  # e.g. WRONGTYPE: the key is not a stream; a retry would not help
            if isinstance(result, (RedisConnectionError, RedisTimeoutError)):
                raise result
        self._batches += 1

    async def _check_fresh(self) -> None:
        """Refuse to write a run whose stream already exists (a reused run id would mix two runs)."""
        if await self._client.exists(self.stream_key):
            raise InvalidArgumentError(
                f"the Redis stream {self.stream_key!r} already exists: run ids must be unique per prefix "
                f"(pass config={{'run_id': ...}} with a new id, or let the run make one)"
            )

    async def _restore(self) -> None:
        """After a failure: if Redis lost entries the sink wrote (a restart without persistence), write back
        what the sink retains, and the directory entry."""
        top: Any = await self._client.xrevrange(self.stream_key, "+", "-", count=1)
        top_seq = int(top[0][0].split(b"-")[0]) if top else 0
        if top_seq < self._last_seq:
            missing = [entry for entry in self._retained if entry[0] > top_seq]
            if missing and missing[0][0] > top_seq + 1:
                _log.warning(
                    "redis_sink_gap",
                    run_id=self.run.run_id,
                    stream=self.stream_key,
                    lost_first_seq=top_seq + 1,
                    lost_last_seq=missing[0][0] - 1,
                    reason="Redis lost events older than the sink retains (maxlen)",
                )
            pipe = self._client.pipeline(transaction=False)
            record_started(pipe, self.keys, self.run.run_id, self.run.graph.name, self._started_at)
            for seq, data in missing:
                pipe.xadd(self.stream_key, {"e": data}, id=f"{seq}-0", maxlen=self._maxlen, approximate=True)
            if self._fence is not None:
                await self._fence.execute(pipe)
            else:
                await pipe.execute()
            self._restored += len(missing)
        self._suspect = False

    def _give_up(self, exc: BaseException) -> None:
        """Stop forwarding because of ``exc``: detach (the run goes on) when asked to and Redis is what
        failed, else fail the run (or, when it has already ended, raise from :meth:`aclose`)."""
        self._error = exc
        detach = self._on_unreachable == "detach" and isinstance(exc, TransportUnavailableError)
        self._state = "detached" if detach else "failed"
        if detach:
            note = "the run goes on; its later events never reach Redis"
        else:
            note = "the run had ended: closing the sink raises" if self.run.done else "the run fails"
        _log.warning(
            "redis_sink_detached" if detach else "redis_sink_failed",
            run_id=self.run.run_id,
            stream=self.stream_key,
            last_written_seq=self._last_seq,
            error=str(exc),
            note=note,
        )
        if not detach:
            self._raise_on_close = self.run.done  # too late to fail the run: closing the sink raises instead
            self.run.fail(exc)
