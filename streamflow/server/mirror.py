"""One shared Redis reader per run in a web process: the mirrors its SSE streams of remote runs read.

Every SSE stream of a run executing in a worker attaches to the run's :class:`SharedRun`: one
:class:`~streamflow.redis.RemoteMirror` that reads the run's Redis stream once, decodes each event once and
publishes it on a local mirror channel with a replay buffer. The streams are subscribers of that channel
(see :class:`~streamflow.server.redis_source.RemoteRunStream`). A :class:`MirrorPool` keeps one shared run per
run id, counts the streams attached to it, and closes it when the last stream leaves and the run is over,
or ``idle_timeout`` seconds after the last stream left a run still going (a client that reconnects within
that time finds the mirror still warm).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable

import attrs

from ..errors import TransportUnavailableError
from ..redis.reader import RemoteMirror
from .sharing import SharedFrames
from .stream import SharedEncoder, StreamRequest

__all__ = ["MirrorPool", "MirrorStatistics", "SharedRun"]

MirrorOpener = Callable[[str], Awaitable[RemoteMirror]]
"""Waits until a run can be read and returns its (unstarted) mirror; raises why it cannot be read."""


@attrs.frozen
class MirrorStatistics:
    """Counters of a :class:`MirrorPool`.

    :param readers_started: shared readers started since the pool was made (one per run, plus one more
        each time a run's reader failed and a later stream needed it again)
    :param readers_open: shared readers open now
    :param streams_attached: streams attached to them now
    :param private_reads: times a stream read Redis on its own: its ``after_seq`` was older than its mirror
        retained, or the mirror's reader fell behind the Redis stream's retention
    """

    readers_started: int
    readers_open: int
    streams_attached: int
    private_reads: int


class SharedRun:
    """One run's shared reader, as the streams attached to it see it (made by :meth:`MirrorPool.attach`)."""

    def __init__(self, run_id: str, opener: MirrorOpener) -> None:
        self.run_id = run_id
        self.streams = 0
        self.mirror: RemoteMirror | None = None
        self.error: BaseException | None = None
        self._ready = asyncio.Event()
        self._idle: asyncio.TimerHandle | None = None
        self._closed = False
        self.frames = SharedFrames(keep_encoders=True)
        """The encoders and frame logs the run's streams share."""
        self._task = asyncio.get_running_loop().create_task(self._open(opener))

    async def _open(self, opener: MirrorOpener) -> None:
        try:
            mirror = await opener(self.run_id)
            if self._closed:
                return
            self.mirror = mirror
            mirror.start()
        except Exception as exc:
            self.error = exc
        finally:
            self._ready.set()

    async def ready(self) -> RemoteMirror:
        """Wait until the run can be read and return its started mirror.

        :raises NoTerminalEventError: when no worker started the run in time
        :raises UnknownRunError: when the run's records are gone
        :raises TransportUnavailableError: when Redis is unreachable, or the reader was closed first (or a
            ``redis`` connection error)
        """
        await self._ready.wait()
        if self.error is not None:
            raise self.error
        assert self.mirror is not None
        return self.mirror

    def encoder(self, request: StreamRequest, origin: int, keep: int) -> SharedEncoder:
        """The encoder the streams of this run with ``request``'s modes, filters, error policy and buffer
        share (made on first use, its state starting after ``seq`` ``origin``, keeping ``keep`` events'
        messages)."""
        return self.frames.encoder(request, origin, keep)

    @property
    def failed(self) -> bool:
        """True when the run could not be read or its reader stopped with an error."""
        return self.error is not None or (self.mirror is not None and self.mirror.error is not None)

    @property
    def ended(self) -> bool:
        """True when nothing more will be read: the run's terminal event was read, or reading failed."""
        return self.failed or (self.mirror is not None and self.mirror.done)

    def close_later(self, delay: float, expire: Callable[[], None]) -> None:
        """Call ``expire`` in ``delay`` seconds, unless :meth:`keep` or :meth:`close` is called first."""
        self.keep()
        self._idle = asyncio.get_running_loop().call_later(delay, self._expire, expire)

    def _expire(self, expire: Callable[[], None]) -> None:
        self._idle = None
        expire()

    def keep(self) -> None:
        """Cancel the pending :meth:`close_later` (a stream attached again)."""
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def close(self) -> None:
        """Stop reading; attached streams drain what the mirror published and end. Idempotent."""
        self._closed = True
        if self.mirror is None and self.error is None:  # streams still waiting for the run to start
            self.error = TransportUnavailableError(
                f"the reader of run {self.run_id!r} was closed before the run could be read (the server is stopping)"
            )
            self._ready.set()
        self.keep()
        if not self._task.done():
            self._task.cancel()
        self.frames.close()
        if self.mirror is not None:
            self.mirror.stop()


class MirrorPool:
    """The shared runs of one web process, one per run id, reference-counted by the streams attached.

    Use it from one event loop.

    :param opener: waits until a run can be read and returns its unstarted mirror
    :param idle_timeout: how long a run still going keeps its reader after the last stream left (seconds)
    """

    def __init__(self, opener: MirrorOpener, *, idle_timeout: float) -> None:
        self._opener = opener
        self.idle_timeout = idle_timeout
        self._runs: dict[str, SharedRun] = {}
        self._started = 0
        self._private = 0

    def attach(self, run_id: str) -> SharedRun:
        """Attach a stream to the run's shared reader, starting one when the run has none (or only a
        failed one). Pair with :meth:`release`."""
        shared = self._runs.get(run_id)
        if shared is None or shared.failed:
            shared = SharedRun(run_id, self._opener)
            self._runs[run_id] = shared
            self._started += 1
        shared.streams += 1
        shared.keep()
        return shared

    def release(self, shared: SharedRun) -> None:
        """Detach a stream; the last one out closes the reader now when the run is over, else after
        ``idle_timeout`` seconds unless another stream attaches first."""
        shared.streams -= 1
        if shared.streams > 0:
            return
        if shared.ended or self._runs.get(shared.run_id) is not shared:
            self._close(shared)
        else:
            shared.close_later(self.idle_timeout, functools.partial(self._expire, shared))

    def _expire(self, shared: SharedRun) -> None:
        if shared.streams == 0:
            self._close(shared)

    def _close(self, shared: SharedRun) -> None:
        shared.close()
        if self._runs.get(shared.run_id) is shared:
            del self._runs[shared.run_id]

    def get(self, run_id: str) -> SharedRun | None:
        """The run's shared reader, when one is open."""
        return self._runs.get(run_id)

    def count_private_read(self) -> None:
        """Count a stream that reads Redis on its own (see :class:`MirrorStatistics`)."""
        self._private += 1

    def statistics(self) -> MirrorStatistics:
        """A snapshot of the pool's counters."""
        return MirrorStatistics(
            readers_started=self._started,
            readers_open=len(self._runs),
            streams_attached=sum(s.streams for s in self._runs.values()),
            private_reads=self._private,
        )

    def close(self) -> None:
        """Close every shared reader (attached streams drain and end). Idempotent."""
        for shared in list(self._runs.values()):
            self._close(shared)
