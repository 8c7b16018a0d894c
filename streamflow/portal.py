"""Iterate an async stream from plain sync code, through an anyio blocking portal.

This is the one way streamflow offers sync APIs: ``stream()`` is ``astream()`` carried across a portal,
never a second implementation (anyio's ``from_thread`` does the same for single calls).

:func:`iterate_sync` starts an event loop in a new thread (``anyio.from_thread.start_blocking_portal``),
runs the async iterator there, and moves its items to the calling thread in batches: one thread hop per
batch, not per item. The producer runs ahead of the caller by at most one batch, so a slow caller slows
the producer (as LangGraph pauses a graph while its caller handles a chunk).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterable, Awaitable, Callable, Generator
from typing import Any, Generic, TypeVar

import anyio
from anyio.from_thread import start_blocking_portal

from .errors import SyncInAsyncContextError

__all__ = ["DEFAULT_BATCH_SIZE", "call_sync", "iterate_sync"]

T = TypeVar("T")

DEFAULT_BATCH_SIZE = 512
"""Items moved to the calling thread per hop at most."""


class _Pump(Generic[T]):
    """Runs in the portal's loop: pulls items from the async iterator and hands them over in batches."""

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self.items: list[T] = []
        self.done = False
        self.error: BaseException | None = None
        self.data_ready = anyio.Event()
        self.room = anyio.Event()

    async def run(self, factory: Callable[[], AsyncIterable[T]]) -> None:
        iterable: AsyncIterable[T] | None = None
        try:
            iterable = factory()
            async for item in iterable:
                self.items.append(item)
                self.data_ready.set()
                if len(self.items) >= self.batch_size:
                    self.room = anyio.Event()
                    await self.room.wait()
        except Exception as exc:
            self.error = exc
        finally:
            self.done = True
            self.data_ready.set()
            aclose = getattr(iterable, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    await aclose()

    async def next_batch(self) -> list[T]:
        while not self.items and not self.done:
            await self.data_ready.wait()
            self.data_ready = anyio.Event()
        batch, self.items = self.items, []
        self.room.set()
        if not batch and self.error is not None:
            error, self.error = self.error, None
            raise error
        return batch


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
        in the caller's loop body, and ``KeyboardInterrupt`` all cancel the producer and join the portal's
        thread before control returns.
    :raises SyncInAsyncContextError: at once, when called from a thread that is running an event loop
    :raises ValueError: when ``batch_size`` is not positive

    An exception raised by the producer reaches the caller with its original type, after the items
    produced before it.
    """
    _refuse_in_loop(async_alternative)
    if batch_size <= 0:
        raise ValueError(f"batch_size must be a positive number of items, got {batch_size!r}")
    return _iterate(factory, batch_size)


def _refuse_in_loop(async_alternative: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise SyncInAsyncContextError(
        f"this blocking call cannot run in a thread that runs an event loop; use {async_alternative} instead"
    )


def call_sync(fn: Callable[..., Awaitable[T]], *args: Any, async_alternative: str = "the async API") -> T:
    """Run ``await fn(*args)`` in a new event loop on a portal thread and return its result.

    :raises SyncInAsyncContextError: when called from a thread that is running an event loop
    :raises Exception: what ``fn`` raised, with its original type
    """
    _refuse_in_loop(async_alternative)
    before = set(threading.enumerate())
    try:
        with start_blocking_portal() as portal:
            return portal.call(fn, *args)
    finally:
        _join_workers(before)


WORKER_JOIN_TIMEOUT = 0.2
"""Seconds to wait, per thread, for the portal loop's worker threads to exit after the loop ended."""


def _join_workers(before: set[threading.Thread]) -> None:
    """Join the anyio worker threads the portal's loop started (told to stop when that loop ended).

    A worker still running an abandoned sync function (cancelled mid-call) is waited for at most
    :data:`WORKER_JOIN_TIMEOUT` seconds, then left to finish on its own.
    """
    for thread in threading.enumerate():
        if thread not in before and thread.name.startswith("AnyIO worker thread"):
            thread.join(WORKER_JOIN_TIMEOUT)


def _iterate(factory: Callable[[], AsyncIterable[T]], batch_size: int) -> Generator[T, None, None]:
    pump: _Pump[T] = _Pump(batch_size)
    before = set(threading.enumerate())
    try:
        yield from _pumped(pump, factory)
    finally:
        _join_workers(before)


def _pumped(pump: _Pump[T], factory: Callable[[], AsyncIterable[T]]) -> Generator[T, None, None]:
    with start_blocking_portal() as portal:
        task = portal.start_task_soon(pump.run, factory)
        try:
            while True:
                batch = portal.call(pump.next_batch)
                if not batch:
                    return
                yield from batch
        finally:
            if not task.done():
                task.cancel()
