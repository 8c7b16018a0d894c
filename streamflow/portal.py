"""Iterate an async stream from plain sync code, and call async code from it.

This is the one way streamflow offers sync APIs: ``stream()`` is ``astream()`` run for a sync caller, never a
second implementation (anyio's ``from_thread`` does the same for single calls).

:func:`iterate_sync_running_calls` (a graph's or a Runnable's ``stream()``) lets the calling thread run the
producer's event loop itself: while the caller waits for items the loop runs, and once items (or the end) are
ready it stops and hands them over, so the producer and its caller take turns in one thread, with no thread
hop, as a LangGraph graph runs in the thread iterating its ``stream()``. The caller is also lent to the
producer as a :class:`CallerThread`: a sync function the producer hands to it runs right there, between two
turns of the loop, outside it (so it may itself make blocking calls, which run on the same loop). This is how
``stream()`` runs a graph's sync node when it is the only task of its run in flight, as LangGraph runs a task
inline in the thread iterating ``stream()`` when it is alone in its tick; other sync nodes run in worker threads
(:mod:`streamflow.workers`). Its loops come from a small pool, one per stream in progress.

Single calls (:func:`call_sync`, :class:`PortalLease`) and :func:`iterate_sync` share one **portal thread**
instead: an anyio blocking portal, an event loop in a thread of its own, started by the first such call and
reused by the next ones, so a call pays one thread hop to start instead of a new thread and a new event
loop. The thread exits once no call has used it for :data:`PORTAL_IDLE_TIMEOUT` seconds, and at interpreter
exit; :func:`shutdown_portal` stops it at once. Calls from several threads at the same time run
concurrently on its loop. :func:`iterate_sync` moves the async iterator's items to the calling thread in
batches: one thread hop per batch, not per item. The producer runs ahead of the caller by at most one batch,
so a slow caller slows the producer.

What leaving cancels, and what it cannot:

- Leaving the loop (exhaustion aside: a break, ``close()``, garbage collection, an exception in the loop
  body, ``KeyboardInterrupt``) cancels the producer and returns once its async code has stopped, which is
  prompt: async code is cancelled at its next ``await``.
- Sync code that the producer awaits in a worker thread is not waited for: Python cannot stop a thread.
  It is abandoned and runs on; a graph's sync node (or tool, or model call) learns of it at its next
  stream-writer call, model call, ``dispatch_custom_event()`` or ``check_cancelled()``, which raise
  :class:`~streamflow.errors.TaskCancelledError`, and the run reports it (a structlog warning naming the
  node, and ``Run.statistics()``). Worker threads are daemon threads: interpreter exit does not wait for
  them.
- A sync function running in the calling thread itself ends before the caller can leave (the caller is
  busy running it); a function handed to the calling thread but not started yet is dropped unstarted.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import contextvars
import importlib
import os
import signal
import threading
from collections.abc import AsyncIterable, Awaitable, Callable, Generator
from concurrent.futures import Future
from typing import Any, Generic, TypeVar, cast

import anyio
import structlog
from anyio.from_thread import BlockingPortal

from . import workers
from .errors import SyncInAsyncContextError

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "CallerThread",
    "PortalLease",
    "PORTAL_IDLE_TIMEOUT",
    "PORTAL_THREAD_NAME",
    "call_sync",
    "iterate_sync",
    "iterate_sync_running_calls",
    "portal_thread",
    "shutdown_portal",
]

T = TypeVar("T")

_log = structlog.get_logger("streamflow")

DEFAULT_BATCH_SIZE = 512
"""Items moved to the calling thread per hop at most."""

PORTAL_IDLE_TIMEOUT = 1.0
"""Seconds the portal thread waits, unused, before it exits (it lives at most twice this long unused)."""

PORTAL_THREAD_NAME = "streamflow-portal"
"""The name of the portal thread."""


class _PortalThread:
    """The shared portal: started on demand, counted in and out by each sync call, stopped when idle."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._portal: BlockingPortal | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._users = 0
        self._uses = 0  # bumped by every acquire: the reaper sees whether the portal was used meanwhile

    def acquire(self) -> tuple[BlockingPortal, asyncio.AbstractEventLoop]:
        with self._lock:
            if self._portal is None or self._pid != os.getpid():  # none yet, or inherited through fork()
                self._start()
            self._users += 1
            self._uses += 1
            assert self._portal is not None and self._loop is not None
            return self._portal, self._loop

    def release(self) -> None:
        with self._lock:
            self._users -= 1

    def thread(self) -> threading.Thread | None:
        with self._lock:
            return self._thread if self._pid == os.getpid() else None

    def shutdown(self) -> None:
        """Stop the portal's loop (cancelling what still runs there) and join its thread."""
        with self._lock:
            portal, thread = self._portal, self._thread
            self._portal = self._thread = self._loop = None
            inherited = self._pid != os.getpid()
        if portal is None or thread is None or inherited:
            return
        with contextlib.suppress(RuntimeError):  # it stopped on its own meanwhile
            portal.call(portal.stop, True)
        thread.join()

    def _start(self) -> None:
        ready: Future[tuple[BlockingPortal, asyncio.AbstractEventLoop]] = Future()

        async def main() -> None:
            async with BlockingPortal() as portal:
                ready.set_result((portal, asyncio.get_running_loop()))
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._reap, portal)
                    await portal.sleep_until_stopped()
                    tg.cancel_scope.cancel()

        def run() -> None:
            try:
                anyio.run(main)
            except BaseException as exc:  # pragma: no cover - the loop failed to start
                if not ready.done():
                    ready.set_exception(exc)

        thread = threading.Thread(target=run, name=PORTAL_THREAD_NAME, daemon=True)
        thread.start()
        (self._portal, self._loop), self._thread, self._pid = ready.result(), thread, os.getpid()

    async def _reap(self, portal: BlockingPortal) -> None:
        """Stop ``portal`` once a whole :data:`PORTAL_IDLE_TIMEOUT` went by with no user and no new use."""
        seen = -1
        while True:
            await anyio.sleep(PORTAL_IDLE_TIMEOUT)
            with self._lock:
                if self._portal is not portal:
                    return
                if self._users or self._uses != seen:
                    seen = self._uses
                    continue
                self._portal = self._thread = self._loop = None  # the next sync call starts a new portal thread
            await portal.stop(cancel_remaining=True)
            return


_shared = _PortalThread()
atexit.register(_shared.shutdown)


def portal_thread() -> threading.Thread | None:
    """Return the portal thread if it is running in this process, else None."""
    return _shared.thread()


def shutdown_portal() -> None:
    """Stop the portal thread now and join it, close the idle event loops kept for
    :func:`iterate_sync_running_calls`, then stop and join the idle worker threads
    (:func:`streamflow.workers.stop_idle_workers`).

    Sync calls still running on it are cancelled: a generator from :func:`iterate_sync` raises
    ``RuntimeError`` at its next item. Worker threads still running sync code are not waited for (see
    :mod:`streamflow.workers`). The next sync call starts a new portal thread. Calling it when no portal
    thread runs does nothing to the portal.
    """
    _shared.shutdown()
    _loops.close()
    workers.stop_idle_workers()


class _Job:
    """A sync function handed to the calling thread, and its outcome."""

    __slots__ = ("_thread", "abandoned", "context", "done", "error", "fn", "result", "running")

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn
        self.context = contextvars.copy_context()
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()  # made on the loop
        self.result: Any = None
        self.error: Exception | None = None
        self.abandoned = False
        self.running = False
        self._thread: threading.Thread | None = None

    @property
    def thread(self) -> str | None:
        """The name of the thread that ran (or runs) the function, None before it started."""
        return None if self._thread is None else self._thread.name

    def run(self) -> None:
        """Run in the calling thread; an ``Exception`` is kept for the producer, anything else propagates. A job
        abandoned before it started is dropped."""
        if self.abandoned:
            return
        self._thread = threading.current_thread()
        self.running = True
        try:
            self.result = self.context.run(self.fn)
        except Exception as exc:
            self.error = exc
        finally:
            self.running = False


class CallerThread:
    """Runs sync functions for a producer of :func:`iterate_sync_running_calls`, in the thread iterating it.

    One function at a time: while the calling thread is busy with one (or is handling items), another call
    waits for it if the calling thread is free of functions, and goes to a worker thread
    (:func:`streamflow.workers.run_sync`) if one is already handed over. Lend it only work that nothing
    else of the producer's must run beside: while the calling thread runs a function, the items produced
    meanwhile wait for it.
    """

    __slots__ = ("_pump",)

    def __init__(self, pump: _Pump[Any]) -> None:
        self._pump = pump

    def share(self, ready: Callable[[int], list[Any]]) -> None:
        """Let a function handed to the calling thread carry the producer's items that are ready at that
        moment: ``ready(limit)`` takes up to ``limit`` of them without waiting (on the loop, outside any
        task), and must return them in the order the producer would yield them, and the producer must not
        yield them again (e.g. :meth:`View.take_ready <streamflow.views.View.take_ready>` of the view the
        producer iterates). The producer's task then need not run before the hand-over."""
        self._pump.ready = ready

    async def run_sync(self, fn: Callable[[], T], on_abandon: Callable[[Any], None] | None = None) -> T:
        """Run ``fn()`` in the calling thread (or a worker thread, see the class) and return its result.

        Cancelling the awaiting task abandons ``fn``: it is not started if the calling thread has not taken it
        yet, else it runs to its end, its outcome is dropped, and ``on_abandon`` is called with an object
        whose ``thread`` is the running thread's name and whose ``running`` says whether it still runs.

        :raises Exception: what ``fn`` raised, with its original type
        """
        pump = self._pump
        if pump.job is not None or pump.done:
            label = "a sync call of iterate_sync_running_calls()"
            return await workers.run_sync(fn, label=label, on_abandon=on_abandon)
        job = pump.job = _Job(fn)
        if pump.reply is not None:
            pump.hand_over(pump.reply)  # the calling thread waits: it takes the job (and what is ready) now
        else:
            pump.answer_soon()
        try:
            await job.done
        except BaseException:
            job.abandoned = True
            if pump.job is job and pump.handed is not job:
                pump.job = None
            elif job.running and on_abandon is not None:
                on_abandon(job)
            raise
        if job.error is not None:
            raise job.error
        result: T = job.result
        return result


ANSWER_DEFERRALS = 4
"""Loop passes a batch of items (with no job and no end yet) waits for more before it is handed over."""

_Reply = tuple[list[T], "_Job | None", bool, BaseException | None]
"""A batch, a job for the calling thread (or None), whether the producer ended, and its exception."""


class _Mailbox(Generic[T]):
    """Where the loop leaves a reply for the calling thread, and how that thread waits for it.

    The waiting is a blocking read of an eventfd (a pipe where there is none), and the wake-up a write to it:
    both are system calls made with the GIL released, so the woken thread can take the GIL at once instead
    of waking and then waiting for the loop's thread to let it go, which a ``queue.SimpleQueue`` or a lock
    (released while holding the GIL) costs. That makes a round trip between the threads about 40% cheaper.
    One reply at a time: the calling thread asks for the next only after it took the last.

    With ``requests`` (a selector event loop and eventfd), the calling thread's requests travel the same way
    the other way round: it leaves them in :attr:`asked` and writes to a second eventfd that the loop watches
    (``add_reader``), which costs less than ``call_soon_threadsafe`` (no handle, a single read on waking).
    """

    __slots__ = ("_read", "_write", "asked", "requests", "value")

    def __init__(self, requests: bool = False) -> None:
        if _EVENTFD:
            self._read = self._write = os.eventfd(0, os.EFD_CLOEXEC)
        else:  # pragma: no cover - platforms without eventfd
            self._read, self._write = os.pipe()
        self.value: _Reply[T] | None = None
        self.requests: int | None = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK) if requests else None
        self.asked: tuple[_Job | None, _Mailbox[T]] | None = None

    def ask(self, finished: _Job | None) -> None:
        """Calling thread: ask the loop for the next reply (``requests`` only)."""
        assert self.requests is not None
        self.asked = (finished, self)
        os.write(self.requests, _ONE)

    def take_request(self) -> tuple[_Job | None, _Mailbox[T]] | None:
        """Loop side, when ``requests`` is readable: the request the calling thread left, if any."""
        assert self.requests is not None
        try:
            os.read(self.requests, 8)
        except BlockingIOError:  # pragma: no cover - woken with nothing written
            return None
        asked, self.asked = self.asked, None
        return asked

    def put(self, value: _Reply[T]) -> None:
        """Loop side: leave ``value`` and wake the calling thread."""
        self.value = value
        os.write(self._write, _ONE)

    def get(self) -> _Reply[T]:
        """Calling thread: wait for the reply and take it (interruptible, e.g. by KeyboardInterrupt)."""
        os.read(self._read, 8)
        value = self.value
        assert value is not None
        self.value = None
        return value

    def close(self) -> None:
        """Close its file descriptors. Only once nothing can :meth:`put` any more and the loop no longer watches
        ``requests``."""
        os.close(self._read)
        if self._write != self._read:  # pragma: no cover - platforms without eventfd
            os.close(self._write)
        if self.requests is not None:
            os.close(self.requests)
            self.requests = None


_EVENTFD = hasattr(os, "eventfd")
_ONE = (1).to_bytes(8, "little") if _EVENTFD else b"x"  # eventfd takes an 8-byte counter increment


class _LoopMailbox(Generic[T]):
    """A :class:`_Mailbox` for a calling thread that runs the producer's loop itself
    (:func:`iterate_sync_running_calls`): waiting for a reply runs the loop, and leaving one stops it. No thread
    hop: the loop and the caller take turns in one thread."""

    __slots__ = ("loop", "requests", "value")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.value: _Reply[T] | None = None
        self.requests: int | None = None  # requests are loop callbacks, scheduled by the calling thread

    def put(self, value: _Reply[T]) -> None:
        """Loop side: leave ``value`` and stop the loop once this pass of it is over."""
        self.value = value
        self.loop.stop()

    def get(self) -> _Reply[T]:
        """Calling thread: run the loop until a reply is left, and take it.

        :raises KeyboardInterrupt: when an interrupt arrived meanwhile (see :func:`_run_loop`)
        """
        while self.value is None:
            _run_loop(self.loop)
        value, self.value = self.value, None
        return value

    def close(self) -> None:
        """Nothing to close."""


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Run ``loop`` in this thread until it is stopped.

    In the main thread, under Python's default SIGINT handler, an interrupt arriving meanwhile stops the loop
    (instead of raising inside whatever code the loop runs at that moment, which could leave the loop's own
    state half changed) and is raised here once the loop has stopped, as ``asyncio.Runner`` does.

    :raises KeyboardInterrupt: when an interrupt arrived while the loop ran
    """
    if threading.current_thread() is not threading.main_thread() or (_getsignal(_SIGINT) is not _default_int_handler):
        loop.run_forever()
        return
    interrupted = False

    def on_interrupt(signum: int, frame: Any) -> None:
        nonlocal interrupted
        interrupted = True
        loop.call_soon_threadsafe(loop.stop)  # also wakes the loop from its wait for I/O

    _setsignal(_SIGINT, on_interrupt)
    try:
        loop.run_forever()
    finally:
        _setsignal(_SIGINT, _default_int_handler)
    if interrupted:
        raise KeyboardInterrupt


# The signal module's C functions: its Python wrappers turn numbers and handlers into enums, which costs
# about ten times as much, on every turn of a sync stream.
_signal: Any = importlib.import_module("_signal")
_getsignal, _setsignal = _signal.getsignal, _signal.signal
_SIGINT, _default_int_handler = int(signal.SIGINT), signal.default_int_handler


class _LoopPool:
    """Event loops for :func:`iterate_sync_running_calls`, each run by one call at a time in its calling
    thread; a call takes one (or makes one) and gives it back when it ends. At most :data:`IDLE_LOOPS` idle
    ones are kept; the others are closed. The pool holds the loops in use too, so that a call collected as
    garbage (a reference cycle) does not take its loop, and the loop's sockets, with it before it could stop
    its producer there. After ``fork()`` the inherited ones are dropped unused."""

    def __init__(self) -> None:
        self._idle: list[asyncio.AbstractEventLoop] = []
        self._busy: set[asyncio.AbstractEventLoop] = set()
        self._pid = os.getpid()

    def take(self) -> asyncio.AbstractEventLoop:
        if self._pid != os.getpid():  # inherited through fork(): their selectors are shared with the parent
            self._idle, self._busy, self._pid = [], set(), os.getpid()
        try:
            loop = self._idle.pop()
        except IndexError:
            loop = asyncio.new_event_loop()
        self._busy.add(loop)
        return loop

    def give_back(self, loop: asyncio.AbstractEventLoop) -> None:
        self._busy.discard(loop)
        if len(self._idle) < IDLE_LOOPS and self._pid == os.getpid():
            self._idle.append(loop)
        else:
            loop.close()

    def close(self) -> None:
        """Close the idle loops (those in use are closed when given back, if the pool is full)."""
        idle, self._idle = self._idle, []
        if self._pid == os.getpid():
            for loop in idle:
                loop.close()


IDLE_LOOPS = 4
"""Idle event loops kept for the next sync streams (see :func:`iterate_sync_running_calls`)."""

_loops = _LoopPool()
atexit.register(_loops.close)


class _Pump(Generic[T]):
    """Runs in the portal's loop: pulls items from the async iterator and hands them over in batches.

    The calling thread asks for a batch with :meth:`request` (a plain callback on the loop, run when the loop
    sees the request in the thread's :class:`_Mailbox`, or through ``call_soon_threadsafe``) and waits on that
    mailbox; the loop answers as soon as it has items or the end, one pass of the loop later so that what is
    ready at the same time travels together. A job handed over while the calling thread waits leaves at once,
    with the items the producer has ready (:meth:`CallerThread.share`), so the producer's task need not run
    first. No task is made per batch: a hop is one callback each way.
    """

    def __init__(self, batch_size: int, *, lists: bool = False) -> None:
        self.batch_size = batch_size
        self.lists = lists  # the producer yields lists of items
        self.items: list[T] = []
        self.done = False
        self.error: BaseException | None = None
        self.room: anyio.Event | None = None  # made (on the loop) when the producer waits for room
        self.stopped: anyio.Event | None = None  # made by start(), on the loop
        self.scope: anyio.CancelScope | None = None
        self.cancelled = False
        self.job: _Job | None = None  # a sync function waiting for, or running in, the calling thread
        self.handed: _Job | None = None  # the job the calling thread took
        self.reply: _Mailbox[T] | _LoopMailbox[T] | None = None  # the calling thread, waiting for a batch
        self.answer_due = False
        self.deferred = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[None] | None = None
        self.watched: _Mailbox[T] | None = None  # the mailbox whose requests the loop watches
        self.ready: Callable[[int], list[T]] | None = None  # the producer's items ready now (CallerThread.share)

    def start(self, factory: Callable[[], AsyncIterable[T]], mailbox: _Mailbox[T] | _LoopMailbox[T]) -> None:
        """Loop callback: start the producer's task (cancelled with the loop if the portal stops first), take
        the calling thread's first request (a reply on ``mailbox``), and watch ``mailbox`` for the next ones
        if it sends them by eventfd."""
        self.loop = asyncio.get_running_loop()
        self.stopped = anyio.Event()
        if isinstance(mailbox, _Mailbox) and mailbox.requests is not None:
            self.watched = mailbox
            self.loop.add_reader(mailbox.requests, self.woken, mailbox)
        self.task = self.loop.create_task(self.run(factory), name="streamflow.portal.iterate_sync")
        self.request(None, mailbox)

    def woken(self, mailbox: _Mailbox[T]) -> None:
        """Loop reader callback: the calling thread left a request in ``mailbox``."""
        asked = mailbox.take_request()
        if asked is not None:
            self.request(*asked)

    def unwatch(self) -> None:
        """Stop watching the calling thread's requests (on the loop)."""
        mailbox, self.watched = self.watched, None
        if mailbox is not None and mailbox.requests is not None:
            assert self.loop is not None
            self.loop.remove_reader(mailbox.requests)

    async def run(self, factory: Callable[[], AsyncIterable[T]]) -> None:
        iterable: AsyncIterable[T] | None = None
        try:
            with anyio.CancelScope() as self.scope:
                if self.cancelled:
                    self.scope.cancel()
                    await anyio.lowlevel.checkpoint()
                try:
                    iterable = factory()
                    async for item in iterable:
                        if self.lists:
                            self.items.extend(cast("list[T]", item))
                        else:
                            self.items.append(item)
                        self.answer_soon()
                        # While the calling thread runs a job it cannot take items: waiting for room then
                        # could wait for that very job, so items pile up until it returns.
                        if len(self.items) >= self.batch_size and self.handed is None:
                            self.room = anyio.Event()
                            await self.room.wait()
                except Exception as exc:
                    self.error = exc
                finally:
                    aclose = getattr(iterable, "aclose", None)
                    if aclose is not None:
                        with anyio.CancelScope(shield=True):
                            await aclose()
        finally:
            self.done = True
            assert self.stopped is not None
            self.stopped.set()
            self.answer_soon()

    def request(self, finished: _Job | None, reply: _Mailbox[T] | _LoopMailbox[T]) -> None:
        """Loop callback: the calling thread wants a batch on ``reply``; ``finished`` is the job it just ran."""
        if finished is not None:
            self.handed = None
            if self.job is finished:
                self.job = None
            if not finished.done.done():  # its waiter may have been cancelled (the job abandoned)
                finished.done.set_result(None)
        self.reply = reply
        self.answer_soon()

    def job_ready(self) -> bool:
        return self.job is not None and not self.job.abandoned and not self.done

    def answer_soon(self) -> None:
        if self.reply is not None and not self.answer_due and (self.items or self.done or self.job_ready()):
            self.answer_due = True
            assert self.loop is not None
            self.loop.call_soon(self.answer)

    def answer(self) -> None:
        reply = self.reply
        if reply is None or not (self.items or self.done or self.job_ready()):
            self.answer_due = False
            return
        if not self.done and not self.job_ready() and self.deferred < ANSWER_DEFERRALS:
            # Only items so far: let the loop run a few more passes, in which the producer often ends or
            # hands over a job, so that these travel in this hop too.
            self.deferred += 1
            assert self.loop is not None
            self.loop.call_soon(self.answer)
            return
        self.answer_due = False
        self.hand_over(reply)

    def hand_over(self, reply: _Mailbox[T] | _LoopMailbox[T]) -> None:
        """Send the calling thread, waiting on ``reply``, the items so far, the job if one is ready (with the
        producer's items ready now, see :meth:`CallerThread.share`), and the end if it came."""
        self.deferred = 0
        self.reply = None
        job = self.job if self.job_ready() else None
        self.handed = job
        if job is not None and self.ready is not None:
            self.items.extend(self.ready(self.batch_size))
        batch, self.items = self.items, []
        if self.room is not None:
            self.room.set()
        end = self.done and job is None
        error, self.error = (self.error, None) if end else (None, self.error)
        if end:
            self.unwatch()  # the calling thread asks no more
        reply.put((batch, job, end, error))

    def drop(self, reply: _Mailbox[T]) -> None:
        """Loop callback: the calling thread left before the end; close ``reply``, answer no more."""
        if self.reply is reply:
            self.reply = None
        self.unwatch()
        reply.close()

    async def stop(self) -> None:
        """Cancel the producer (if it still runs) and wait until it has stopped. Asking again does no harm.

        Called through the portal after :meth:`start` was scheduled, so :meth:`start` ran first; if it has not
        run, it was never scheduled (the calling thread was interrupted before), and there is nothing to stop.
        """
        self.cancelled = True
        if self.scope is not None:
            self.scope.cancel()
        if self.stopped is not None:
            await self.stopped.wait()


def iterate_sync(
    factory: Callable[[], AsyncIterable[T]],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    async_alternative: str = "the async API",
) -> Generator[T, None, None]:
    """Iterate ``factory()`` (an async iterable, built inside the portal's loop) from sync code.

    :param factory: called once, in the portal's event loop, to make the async iterable
    :param batch_size: most items moved per thread hop (items, > 0)
    :param async_alternative: named in the error raised from inside an event loop, e.g. ``"astream()"``
    :returns: a generator of the items. Breaking out of it, ``close()``, garbage collection, an exception
        in the caller's loop body, and ``KeyboardInterrupt`` all cancel the producer and wait until it has
        stopped before control returns (another ``KeyboardInterrupt`` arriving during that wait is raised
        once the producer has stopped).
    :raises SyncInAsyncContextError: at once, when called from a thread that is running an event loop
    :raises ValueError: when ``batch_size`` is not positive

    An exception raised by the producer reaches the caller with its original type, after the items
    produced before it.
    """
    _refuse_in_loop(async_alternative)
    _check_batch_size(batch_size)
    return _iterate(factory, batch_size)


def _check_batch_size(batch_size: int) -> None:
    if batch_size <= 0:
        raise ValueError(f"batch_size must be a positive number of items, got {batch_size!r}")


def _refuse_in_loop(async_alternative: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise SyncInAsyncContextError(
        f"this blocking call cannot run in a thread that runs an event loop; use {async_alternative} instead"
    )


def call_sync(fn: Callable[..., Awaitable[T]], *args: Any, async_alternative: str = "the async API") -> T:
    """Run ``await fn(*args)`` on the portal thread's event loop and return its result.

    :raises SyncInAsyncContextError: when called from a thread that is running an event loop
    :raises Exception: what ``fn`` raised, with its original type
    """
    _refuse_in_loop(async_alternative)
    portal, _ = _shared.acquire()
    try:
        return portal.call(fn, *args)
    finally:
        _shared.release()


class PortalLease:
    """Keeps the shared portal thread, and the event loop objects made on it live in, running until
    :meth:`release`: for a sync object whose async twin lives on the portal's loop across several calls.

    :raises SyncInAsyncContextError: (when made) in a thread that runs an event loop
    """

    def __init__(self, async_alternative: str = "the async API") -> None:
        _refuse_in_loop(async_alternative)
        self._async_alternative = async_alternative
        self._portal, self.loop = _shared.acquire()
        self._released = False

    def call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run ``await fn(*args)`` on the portal's loop and return its result (once released, as
        :func:`call_sync` does, on whichever portal runs then).

        :raises SyncInAsyncContextError: in a thread that runs an event loop
        :raises Exception: what ``fn`` raised, with its original type
        """
        if self._released:
            return call_sync(fn, *args, async_alternative=self._async_alternative)
        _refuse_in_loop(self._async_alternative)
        return self._portal.call(fn, *args)

    def release(self) -> None:
        """Let the portal thread exit when idle again. Idempotent."""
        if not self._released:
            self._released = True
            _shared.release()


def iterate_sync_running_calls(
    factory: Callable[[CallerThread, int], AsyncIterable[list[T]]],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    async_alternative: str = "the async API",
) -> Generator[T, None, None]:
    """:func:`iterate_sync`, with the producer's event loop run by the calling thread itself, and that thread
    lent to the producer as a :class:`CallerThread`.

    ``factory(caller, batch_size)`` makes the async iterable on that loop; unlike :func:`iterate_sync`'s, it
    yields *lists* of items (at most ``batch_size`` each: whatever it has ready, which saves a step of the
    async iterator per item). The calling thread runs the loop while it waits for items and stops it when a
    batch (or the end) is ready, so a run and its caller take turns in one thread, with no thread hop: the
    producer makes progress only while the caller asks for items, as a LangGraph graph does under
    ``stream()``. ``await caller.run_sync(fn)`` there runs ``fn`` in the calling thread between two batches,
    outside the loop (so ``fn`` may itself make blocking calls of streamflow's sync APIs). Items produced
    while that thread runs a function are held (without limit) until it returns: lend it a function only when
    nothing else produces items meanwhile. Sync code that the producer runs in worker threads goes on while
    the caller handles items; what it publishes meanwhile waits for the caller's next request.

    The loops come from a small pool (:data:`IDLE_LOOPS`), one per call in progress, so calls from several
    threads, and a call made by a lent function, run side by side. Leaving the generator in any way cancels
    the producer and runs the loop until its async code has stopped; a task still pending after that is
    cancelled too before the loop is reused.

    :raises SyncInAsyncContextError: at once, when called from a thread that is running an event loop
    :raises ValueError: when ``batch_size`` is not positive
    """
    _refuse_in_loop(async_alternative)
    _check_batch_size(batch_size)
    return _iterate_here(factory, batch_size)


def _iterate_here(
    factory: Callable[[CallerThread, int], AsyncIterable[list[T]]], batch_size: int
) -> Generator[T, None, None]:
    loop = _loops.take()
    pump: _Pump[T] = _Pump(batch_size, lists=True)
    caller = CallerThread(pump)
    reply: _LoopMailbox[T] = _LoopMailbox(loop)
    make: Callable[[], AsyncIterable[Any]] = lambda: factory(caller, batch_size)  # noqa: E731
    try:
        loop.call_soon(pump.start, make, reply)  # with the first request
        while True:
            batch, job, end, error = reply.get()
            yield from batch
            if end:
                if error is not None:
                    raise error
                return
            finished: _Job | None = None
            if job is not None:
                job.run()
                finished = job
            loop.call_soon(pump.request, finished, reply)
    finally:
        if asyncio._get_running_loop() is None:
            _finish_here(loop, pump)
        else:  # closed inside another loop this thread runs (collected as garbage there): finish it aside
            aside = threading.Thread(target=_finish_here, args=(loop, pump), name="streamflow-sync-stream-close")
            aside.start()
            aside.join()


def _finish_here(loop: asyncio.AbstractEventLoop, pump: _Pump[Any]) -> None:
    """Stop ``pump``'s producer if it still runs, settle ``loop`` and give it back to the pool."""
    try:
        if not pump.done:
            _stop_here(loop, pump)
    finally:
        _settle(loop)
        _loops.give_back(loop)


def _stop_here(loop: asyncio.AbstractEventLoop, pump: _Pump[Any]) -> None:
    """Stop ``pump``'s producer, running ``loop`` in this thread until it has stopped, even when a
    ``KeyboardInterrupt`` arrives meanwhile: the loop is then run again until the stop is over, and the
    interrupt raised after it.

    :raises KeyboardInterrupt: one that arrived while waiting, once the producer has stopped
    """
    interrupted: KeyboardInterrupt | None = None
    stopping = loop.create_task(pump.stop())
    stopping.add_done_callback(lambda _: loop.stop())
    while not stopping.done():
        try:
            _run_loop(loop)
        except KeyboardInterrupt as exc:
            if interrupted is None:
                interrupted = exc
    if interrupted is not None:
        raise interrupted


def _settle(loop: asyncio.AbstractEventLoop) -> None:
    """Before ``loop`` is reused: run the callbacks it still holds, then cancel every task still pending on it
    (a leak of the producer's: reported as a structlog warning, ``sync_stream_left_tasks``, naming them) and
    run it until they are over, so nothing of this call runs during the next one."""
    loop.call_soon(loop.stop)
    loop.run_forever()
    pending = asyncio.all_tasks(loop)
    if not pending:
        return
    _log.warning("sync_stream_left_tasks", tasks=sorted(task.get_name() for task in pending))
    for task in pending:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


def _iterate(factory: Callable[[], AsyncIterable[T]], batch_size: int) -> Generator[T, None, None]:
    portal, loop = _shared.acquire()
    try:
        pump: _Pump[T] = _Pump(batch_size)
        make = factory
        reply: _Mailbox[T] = _Mailbox(requests=_EVENTFD and isinstance(loop, asyncio.SelectorEventLoop))
        ended = False  # the loop sent the end: it writes to ``reply`` no more, nor watches it
        try:
            # Inside the ``try``: an interrupt may arrive once the start is scheduled but before this returns,
            # and the producer it starts must be stopped too.
            loop.call_soon_threadsafe(pump.start, make, reply)  # with the first request
            while True:
                batch, _, end, error = reply.get()  # no job: nothing lends the calling thread here
                yield from batch
                if end:
                    ended = True
                    if error is not None:
                        raise error
                    return
                if reply.requests is None:
                    loop.call_soon_threadsafe(pump.request, None, reply)
                elif loop.is_closed():
                    raise RuntimeError("Event loop is closed")  # as call_soon_threadsafe raises
                else:
                    reply.ask(None)
        finally:
            try:
                if not pump.done:
                    _stop(portal, pump)
            finally:
                if ended:
                    reply.close()
                else:  # a reply may be on its way, and the loop may watch ``reply``
                    _close_on_loop(loop, pump, reply)
    finally:
        _shared.release()


def _stop(portal: BlockingPortal, pump: _Pump[Any]) -> None:
    """Stop ``pump``'s producer and return once it has stopped, even when a ``KeyboardInterrupt`` arrives
    meanwhile: the stop is then asked for again and waited for, and the interrupt raised after it.

    :raises KeyboardInterrupt: one that arrived while waiting, once the producer has stopped
    :raises RuntimeError: when the portal is not running (it was shut down)
    """
    interrupted: KeyboardInterrupt | None = None
    while True:
        try:
            portal.call(pump.stop)
            break
        except KeyboardInterrupt as exc:  # it may have come before or after the stop was scheduled
            if interrupted is None:
                interrupted = exc
    if interrupted is not None:
        raise interrupted


def _close_on_loop(loop: asyncio.AbstractEventLoop, pump: _Pump[Any], reply: _Mailbox[Any]) -> None:
    """Close ``reply`` on the loop, where a reply to it may still be on its way, so nothing writes to it after."""
    try:
        loop.call_soon_threadsafe(pump.drop, reply)
    except RuntimeError:  # the loop is closed: nothing runs there any more
        reply.close()
