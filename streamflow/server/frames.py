"""One append-only log of encoded SSE messages that many streams read, each at its own cursor.

The streams of a run that share an encoder (:class:`~streamflow.server.stream.SharedEncoder`) send the same
bytes for each event. A :class:`FrameLog` holds those bytes once, in ``seq`` order: a stream's turn is one
slice of the log joined into one write, so its cost is per write, not per event. Each reader keeps only its
cursor (the ``seq`` of the last event it took); the log drops what every reader has passed, and never holds
more than ``capacity`` events: a reader further behind than that finds its events gone (:meth:`FrameLog.read`
returns None) and catches up some other way.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_right
from collections.abc import Callable

from ..errors import InvalidArgumentError

__all__ = ["FrameCursor", "FrameLog"]


class FrameCursor:
    """Where one reader of a :class:`FrameLog` is: :attr:`after_seq`, the ``seq`` of the last event it took."""

    __slots__ = ("after_seq",)

    def __init__(self, after_seq: int) -> None:
        self.after_seq = after_seq


class FrameLog:
    """The messages of the events after ``start_seq`` of one stream filter, oldest first, for many readers.

    Every event the filter passes is appended (with ``b""`` when it yields no message), so a reader whose
    cursor is at or after :attr:`complete_after` finds every message it has not sent, in order. Use it from
    one event loop.

    :param start_seq: the ``seq`` the log starts after
    :param capacity: most events it holds (> 0); older ones are dropped even if a reader still needs them
    :raises InvalidArgumentError: for a ``capacity`` that is not a positive int
    """

    __slots__ = (
        "_changed",
        "_frames",
        "_readers",
        "_seqs",
        "capacity",
        "closed",
        "complete_after",
        "last_seq",
        "on_idle",
        "terminal",
    )

    def __init__(self, start_seq: int, capacity: int) -> None:
        if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity <= 0:
            raise InvalidArgumentError(f"capacity must be a positive number of events, got {capacity!r}")
        self.capacity = capacity
        self._seqs: list[int] = []
        self._frames: list[bytes] = []
        self._readers: list[FrameCursor] = []
        self._changed: asyncio.Event | None = None
        self.complete_after = start_seq
        """The log holds every event of its filter after this ``seq`` (up to :attr:`last_seq`)."""
        self.last_seq = start_seq
        """The ``seq`` of the last event appended (``start_seq`` before any)."""
        self.terminal = False
        """True once the run's terminal event was appended (it is the last one)."""
        self.closed = False
        """True once nothing more will be appended (after the terminal event, or when the log was cut)."""
        self.on_idle: Callable[[], None] | None = None
        """Called when the last reader detaches (the log is then cut: it closes)."""

    def __len__(self) -> int:
        return len(self._seqs)

    @property
    def readers(self) -> int:
        """How many readers are attached."""
        return len(self._readers)

    def attach(self, after_seq: int) -> FrameCursor:
        """A cursor of a new reader that has the events up to ``seq`` ``after_seq``. Pair with :meth:`detach`."""
        cursor = FrameCursor(after_seq)
        self._readers.append(cursor)
        return cursor

    def detach(self, cursor: FrameCursor) -> None:
        """Forget a reader (its place no longer keeps anything in the log); the last one out closes the log,
        drops what it holds and calls :attr:`on_idle`. Idempotent."""
        try:
            self._readers.remove(cursor)
        except ValueError:
            return
        if not self._readers:
            self.close()
            if self._seqs:
                self.complete_after = self.last_seq
                self._seqs.clear()
                self._frames.clear()
            if self.on_idle is not None:
                self.on_idle()

    def append(self, seq: int, frame: bytes, *, terminal: bool = False) -> None:
        """Add the messages of the event ``seq`` (after the last one); the run's terminal event closes the log.

        :raises InvalidArgumentError: when ``seq`` is not after :attr:`last_seq`, or the log is closed
        """
        if self.closed or seq <= self.last_seq:
            raise InvalidArgumentError(
                f"cannot append seq {seq} to a frame log "
                + ("that is closed" if self.closed else f"whose last seq is {self.last_seq}")
            )
        self._seqs.append(seq)
        self._frames.append(frame)
        self.last_seq = seq
        if terminal:
            self.terminal = True
            self.closed = True

    def trim(self) -> None:
        """Drop the events every reader has taken, and the oldest beyond :attr:`capacity`."""
        seqs = self._seqs
        if not seqs:
            return
        cut = bisect_right(seqs, min((c.after_seq for c in self._readers), default=seqs[-1]))
        cut = max(cut, len(seqs) - self.capacity)
        if cut > 0:
            self.complete_after = max(self.complete_after, seqs[cut - 1])
            del seqs[:cut]
            del self._frames[:cut]

    def read(self, cursor: FrameCursor, limit: int) -> tuple[bytes, int] | None:
        """The messages of the next events after ``cursor`` (at most ``limit`` events) joined, and how many
        events they are (0: none yet); the cursor moves past them. None when some of the events after the
        cursor were dropped: the reader fell further behind than the log holds."""
        after = cursor.after_seq
        if after < self.complete_after:
            return None
        seqs = self._seqs
        start = bisect_right(seqs, after)
        end = min(len(seqs), start + limit)
        if start == end:
            return b"", 0
        cursor.after_seq = seqs[end - 1]
        frames = self._frames
        return (frames[start] if end - start == 1 else b"".join(frames[start:end])), end - start

    def close(self) -> None:
        """Append nothing more (the readers take what is there, then go on some other way). Idempotent."""
        self.closed = True
        self.notify()

    def notify(self) -> None:
        """Wake the readers waiting in :meth:`wait` (after appending)."""
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def wait(self) -> None:
        """Wait until :meth:`notify` is called (at once if the log is closed)."""
        if self.closed:
            return
        if self._changed is None:
            self._changed = asyncio.Event()
        await self._changed.wait()
