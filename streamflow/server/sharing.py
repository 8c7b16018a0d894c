"""What the SSE streams of one run share: an encoder and a frame log per stream request.

The streams of a run that asked for the same modes, filters, error policy and buffer send the same bytes for
each event. :class:`SharedFrames` keeps, per such request, one :class:`~streamflow.server.stream.SharedEncoder`
(each event projected and framed once) and one :class:`~streamflow.server.frames.FrameLog` fed by one
subscription of its own to the run's channel: the streams then read the log at their own cursors, and a
stream's turn costs one slice join and one write, whatever the number of events in it.
"""

from __future__ import annotations

import asyncio
import functools

import anyio

from ..channel import Channel, Lagged, Subscription
from ..errors import ReplayUnavailableError
from .frames import FrameLog
from .stream import SharedEncoder, StreamRequest, terminal_message

__all__ = ["FEED_ROOM", "SharedFrames"]

FEED_ROOM = 4096
"""Events a frame log's own subscription buffers, on top of the log's capacity and backlog, before it drops
events (and the log is cut): what a run may publish between two turns of the task feeding the log."""


def _key(request: StreamRequest) -> tuple[object, ...]:
    return (request.spec, request.nodes, request.tags, request.errors, request.buffer_size)


class SharedFrames:
    """The shared encoders and frame logs of one run's streams, by request. Use it from one event loop, and
    :meth:`close` it when the run's streams are done with it (its feeding tasks stop).

    :param keep_encoders: keep an encoder when the last reader of its log leaves (for a holder that drops
        the whole of this soon after its last stream left); else it is dropped with the log, so a run
        nobody watches holds no messages
    """

    def __init__(self, *, keep_encoders: bool = False) -> None:
        self._keep_encoders = keep_encoders
        self._encoders: dict[tuple[object, ...], SharedEncoder] = {}
        self._logs: dict[tuple[object, ...], FrameLog] = {}
        self._feeders: set[asyncio.Task[None]] = set()
        self._closed = False

    def encoder(self, request: StreamRequest, origin: int, keep: int) -> SharedEncoder:
        """The encoder the streams with ``request``'s modes, filters, error policy and buffer share (made on
        first use, its state starting after ``seq`` ``origin``, keeping ``keep`` events' messages)."""
        key = _key(request)
        encoder = self._encoders.get(key)
        if encoder is None:
            encoder = self._encoders[key] = SharedEncoder(request, origin, keep)
        return encoder

    def frame_log(
        self, request: StreamRequest, encoder: SharedEncoder, channel: Channel, after_seq: int, capacity: int
    ) -> FrameLog | None:
        """The log of ``encoder``'s messages (:meth:`encoder` for ``request``) for ``request``'s streams, fed
        from ``channel`` by one subscription of its own. Made when there is none or the last one was cut,
        starting after ``after_seq`` and holding at most ``capacity`` events. None when ``encoder`` is not
        the one this holds for ``request`` (it was dropped when its last log went idle), or has not encoded
        up to ``after_seq``, when ``channel`` no longer retains the event after ``after_seq``, or when this
        was closed. A stream reads it only from a ``seq`` at or after its
        :attr:`~streamflow.server.frames.FrameLog.complete_after`."""
        key = _key(request)
        if self._closed or self._encoders.get(key) is not encoder:
            return None
        log = self._logs.get(key)
        if log is not None and (log.terminal or not log.closed):
            return log
        if encoder.front < after_seq:
            return None
        try:
            sub = channel.subscribe(
                request.event_filter(),
                buffer_size=capacity + max(0, channel.last_seq - after_seq) + FEED_ROOM,
                overflow="drop_oldest",
                after_seq=after_seq,
            )
        except ReplayUnavailableError:
            return None
        log = self._logs[key] = FrameLog(after_seq, capacity)
        log.on_idle = functools.partial(self._forget, key, log, sub)
        task = asyncio.get_running_loop().create_task(_feed(log, encoder, sub, request))
        self._feeders.add(task)
        task.add_done_callback(self._feeders.discard)
        return log

    def _forget(self, key: tuple[object, ...], log: FrameLog, sub: Subscription) -> None:
        """The last reader left ``log``: stop feeding it, and drop it and (unless ``keep_encoders``) its
        encoder (streams still using that encoder keep it; the next stream starts afresh)."""
        sub.close()
        if self._logs.get(key) is log:
            del self._logs[key]
            if not self._keep_encoders:
                self._encoders.pop(key, None)

    def streams(self, subscribers: int) -> int:
        """How many streams follow the run, given its channel's ``subscribers``: the logs' readers count one
        each, and the subscriptions feeding the logs none."""
        logs = self._logs.values()
        return subscribers - sum(not log.closed for log in logs) + sum(log.readers for log in logs)

    def close(self) -> None:
        """Stop feeding the logs (their readers take what is there, then go on without them). Idempotent."""
        self._closed = True
        for task in list(self._feeders):
            task.cancel()
        for log in self._logs.values():
            log.close()


async def _feed(log: FrameLog, encoder: SharedEncoder, sub: Subscription, request: StreamRequest) -> None:
    """Append the messages of the events of ``sub`` to ``log`` (each encoded once by ``encoder``), waking its
    readers after each batch of events ready at once, up to the terminal event; the log is cut (closed) when
    ``sub`` ends, fails or drops events, or when ``encoder`` no longer keeps an event's messages (its last
    reader leaving closes ``sub``)."""
    append = log.append
    encode = encoder.encode
    receive_nowait = sub.receive_nowait
    try:
        while not log.closed:
            try:
                item = await sub.receive()
            except (anyio.EndOfStream, Exception):  # the channel ended or failed: the readers see it themselves
                return
            while True:
                if isinstance(item, Lagged):
                    return
                if item.terminal:
                    append(item.seq, terminal_message(item, request.errors), terminal=True)
                    break
                found, message = encode(item)
                if not found:
                    return
                append(item.seq, b"" if message is None else message)
                try:
                    item = receive_nowait()
                except Exception:  # WouldBlock, EndOfStream, or the subscription's error: the next receive sees it
                    break
            log.trim()
            log.notify()
    finally:
        sub.close()
        log.close()
