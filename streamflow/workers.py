"""Worker threads for sync user code: one small process-wide pool of daemon threads.

streamflow runs a sync node's or a sync tool's function in one of these threads (``stream()`` may lend its
own calling thread to a sync node instead, see :mod:`streamflow.portal`). Python cannot stop a thread, so
this is what the pool promises:

- **Cancelling abandons; it does not stop.** Cancelling the task that awaits :func:`run_sync` gives it
  control back at once. A call that has not started yet never starts. A call already running is
  *abandoned*: it runs on to its end in its thread, its result or exception is dropped, and
  ``on_abandon`` is called with its :class:`WorkerCall` (the graph runtime sets the task's cancellation
  flag there, so the code raises at its next stream-writer call or ``check_cancelled()``, and reports
  the call in the run's statistics and a structlog warning).
- **Daemon threads.** Interpreter exit never waits for them: code still running when the interpreter
  exits stops where it is. :func:`wait_abandoned` gives abandoned code time to finish before that.
- **Bounds.** Calls awaited at the same time from one event loop are bounded by that loop's anyio default
  thread limiter (``anyio.to_thread.current_default_thread_limiter()``, 40 tokens unless changed), as
  with ``anyio.to_thread.run_sync``. An abandoned call gives its token back and counts instead against
  :data:`MAX_ABANDONED`, for the whole process: while that many abandoned calls still run, a new call
  waits (cancellably) for one of them to return before it takes a thread. A structlog warning
  (``worker_call_waits_for_abandoned``: the waiting call, how many abandoned calls run, the oldest three)
  says so when the first call starts waiting; :func:`statistics` lists them all. Code that never returns
  thus holds at most :data:`MAX_ABANDONED` threads, however often its runs are cancelled.
- **Reuse.** A thread that finished a call waits :data:`WORKER_IDLE_TIMEOUT` seconds for the next one,
  then exits; :func:`stop_idle_workers` stops the idle ones at once.

The state of the pool is one call away: :func:`statistics`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
import attrs
import structlog

__all__ = [
    "MAX_ABANDONED",
    "WORKER_IDLE_TIMEOUT",
    "WORKER_THREAD_NAME",
    "WorkerCall",
    "WorkerStatistics",
    "run_sync",
    "statistics",
    "stop_idle_workers",
    "wait_abandoned",
]

T = TypeVar("T")

MAX_ABANDONED = 32
"""Abandoned calls (calls, process-wide) that may still run before a new call waits for one to return."""

WORKER_IDLE_TIMEOUT = 10.0
"""Seconds an idle worker thread waits for its next call before it exits."""

WORKER_THREAD_NAME = "streamflow-worker"
"""Prefix of the worker threads' names (``streamflow-worker-<n>``)."""

_log = structlog.get_logger("streamflow")
_NAMED = 3  # abandoned calls a warning names, oldest first

_PENDING, _RUNNING, _ABANDONED, _WITHDRAWN, _DONE = range(5)


class WorkerCall:
    """One function handed to the pool, as its caller sees it (after abandoning it, say).

    :ivar label: what the caller named the call (``"node 'slow' (task ...) of run ..."``)
    :ivar thread: the name of the worker thread running or that ran it, None before it started
    """

    __slots__ = ("_context", "_finished", "_fn", "_future", "_loop", "_state", "label", "thread")

    def __init__(self, fn: Callable[[], Any], label: str, loop: asyncio.AbstractEventLoop) -> None:
        self.label = label
        self.thread: str | None = None
        self._fn = fn
        self._context = contextvars.copy_context()
        self._loop = loop
        self._future: asyncio.Future[Any] = loop.create_future()
        self._state = _PENDING
        self._finished = threading.Event()

    @property
    def running(self) -> bool:
        """Whether the function is running now (abandoned or not)."""
        return self._state in (_RUNNING, _ABANDONED)

    @property
    def abandoned(self) -> bool:
        """Whether it was abandoned while running and has not returned yet."""
        return self._state == _ABANDONED

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the function has returned (or was withdrawn unstarted), at most ``timeout`` seconds
        (None: without limit); return whether it has. Not for the event loop thread."""
        return self._finished.wait(timeout)

    def _report(self, result: Any, error: BaseException | None) -> None:
        """Loop callback: hand the outcome to the awaiting task, unless it stopped waiting."""
        future = self._future
        if future.done():
            return
        if error is None:
            future.set_result(result)
        elif isinstance(error, StopIteration):  # a Future refuses it
            wrapped = RuntimeError("the sync function raised StopIteration")
            wrapped.__cause__ = error
            future.set_exception(wrapped)
        else:
            future.set_exception(error)


@attrs.frozen
class WorkerStatistics:
    """A snapshot of the worker pool (:func:`statistics`)."""

    threads: int
    """Worker threads alive (threads)."""
    busy: int
    """Of them, those running a call now, abandoned or not (threads)."""
    abandoned: tuple[str, ...]
    """Labels of the abandoned calls still running, oldest first."""
    waiting: int
    """Calls waiting for an abandoned call to return before they start (calls)."""


class _Worker(threading.Thread):
    def __init__(self, pool: _Pool, number: int) -> None:
        super().__init__(name=f"{WORKER_THREAD_NAME}-{number}", daemon=True)
        self.pool = pool
        self.inbox: queue.SimpleQueue[WorkerCall | None] = queue.SimpleQueue()

    def run(self) -> None:
        pool, inbox = self.pool, self.inbox
        while True:
            try:
                call = inbox.get(timeout=WORKER_IDLE_TIMEOUT)
            except queue.Empty:
                if pool.retire(self):
                    return
                continue  # a call was handed to this thread just now: take it
            if call is None:
                return
            pool.execute(self, call)


class _Pool:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start from nothing (also in a forked child, where the parent's threads do not exist)."""
        self.lock = threading.Lock()
        self.threads: set[_Worker] = set()
        self.idle: list[_Worker] = []  # most recently idle last: reused first, the others time out
        self.busy = 0
        self.abandoned: list[WorkerCall] = []
        self.waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self.numbers = itertools.count(1)

    # -- the loop side --------------------------------------------------------------------------------

    async def run(self, fn: Callable[[], T], label: str, on_abandon: Callable[[WorkerCall], None] | None) -> T:
        await self.room_for_new_calls(label)
        async with anyio.to_thread.current_default_thread_limiter():
            call = WorkerCall(fn, label, asyncio.get_running_loop())
            self.submit(call)
            try:
                result: T = await call._future
            except BaseException:
                if self.abandon(call) and on_abandon is not None:
                    on_abandon(call)
                raise
            return result

    async def room_for_new_calls(self, label: str) -> None:
        """Wait while :data:`MAX_ABANDONED` abandoned calls still run; warn when the first call starts to."""
        while True:
            with self.lock:
                if len(self.abandoned) < MAX_ABANDONED:
                    return
                first = not self.waiters
                loop = asyncio.get_running_loop()
                waiter: asyncio.Future[None] = loop.create_future()
                self.waiters.append((loop, waiter))
                stuck = [c.label for c in self.abandoned]
            if first:
                _log.warning(
                    "worker_call_waits_for_abandoned",
                    call=label,
                    max_abandoned=MAX_ABANDONED,
                    abandoned=len(stuck),
                    oldest=stuck[:_NAMED],
                )
            try:
                await waiter
            finally:
                with self.lock:
                    if (loop, waiter) in self.waiters:
                        self.waiters.remove((loop, waiter))

    def submit(self, call: WorkerCall) -> None:
        with self.lock:
            if self.idle:
                worker = self.idle.pop()
            else:
                worker = _Worker(self, next(self.numbers))
                self.threads.add(worker)
                worker.start()
            worker.inbox.put(call)

    def abandon(self, call: WorkerCall) -> bool:
        """The awaiting task stopped waiting: withdraw ``call`` if it has not started, else mark it
        abandoned. Return whether it was abandoned while running."""
        with self.lock:
            if call._state == _PENDING:
                call._state = _WITHDRAWN
                return False
            if call._state == _RUNNING:
                call._state = _ABANDONED
                self.abandoned.append(call)
                return True
            return False  # it returned meanwhile; its outcome is dropped

    # -- the worker side ------------------------------------------------------------------------------

    def execute(self, worker: _Worker, call: WorkerCall) -> None:
        with self.lock:
            started = call._state == _PENDING
            if started:
                call._state = _RUNNING
                call.thread = worker.name
                self.busy += 1
        result: Any = None
        error: BaseException | None = None
        if started:
            try:
                result = call._context.run(call._fn)
            except BaseException as exc:
                error = exc
        wake: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        with self.lock:
            abandoned = call._state == _ABANDONED
            if started:
                call._state = _DONE
                self.busy -= 1
            if abandoned:
                self.abandoned.remove(call)
                wake, self.waiters = self.waiters, []
            self.idle.append(worker)  # idle before the outcome is reported: statistics() agree with it
        call._finished.set()
        for loop, waiter in wake:
            _call_soon(loop, _wake, waiter)
        if started and not abandoned:
            _call_soon(call._loop, call._report, result, error)
        del result, error, call

    def retire(self, worker: _Worker) -> bool:
        with self.lock:
            if worker not in self.idle:
                return False
            self.idle.remove(worker)
            self.threads.discard(worker)
            return True

    # -- for everyone ---------------------------------------------------------------------------------

    def stop_idle(self) -> None:
        with self.lock:
            idle, self.idle = self.idle, []
            self.threads.difference_update(idle)
        for worker in idle:
            worker.inbox.put(None)
        for worker in idle:
            worker.join()

    def statistics(self) -> WorkerStatistics:
        with self.lock:
            return WorkerStatistics(
                threads=len(self.threads),
                busy=self.busy,
                abandoned=tuple(c.label for c in self.abandoned),
                waiting=len(self.waiters),
            )

    def wait_abandoned(self, timeout: float | None) -> int:
        with self.lock:
            calls = list(self.abandoned)
        deadline = None if timeout is None else time.monotonic() + timeout
        for call in calls:
            call.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        with self.lock:
            return len(self.abandoned)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[..., None], *args: Any) -> None:
    with contextlib.suppress(RuntimeError):  # its loop is closed: nobody is waiting any more
        loop.call_soon_threadsafe(fn, *args)


_pool = _Pool()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_pool.reset)


async def run_sync(
    fn: Callable[[], T], *, label: str = "", on_abandon: Callable[[WorkerCall], None] | None = None
) -> T:
    """Run ``fn()`` in a worker thread of the pool, in a copy of the caller's context, and return its result.

    :param label: names the call in :func:`statistics` and in warnings while it is abandoned
    :param on_abandon: called (on the event loop thread) with the call when the awaiting task is
        cancelled while ``fn`` runs; not called when ``fn`` had not started (it never will) or had
        already returned
    :raises BaseException: what ``fn`` raised, with its original type (``StopIteration`` becomes
        ``RuntimeError``)
    """
    return await _pool.run(fn, label, on_abandon)


def statistics() -> WorkerStatistics:
    """Return a snapshot of the worker pool: its threads, the busy ones, the abandoned calls, the waiting."""
    return _pool.statistics()


def stop_idle_workers() -> None:
    """Stop the idle worker threads now and join them. Threads running a call (abandoned or not) are left
    to finish it and then wait for the next call as usual; the next call starts a new thread if none is
    idle."""
    _pool.stop_idle()


def wait_abandoned(timeout: float | None = None) -> int:
    """Block until every abandoned call running now has returned, at most ``timeout`` seconds (None: without
    limit), e.g. before interpreter exit, which does not wait for the pool's daemon threads.

    :returns: how many abandoned calls still run (0 when all returned)
    """
    return _pool.wait_abandoned(timeout)
