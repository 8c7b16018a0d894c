"""Small helpers shared by the tests."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import anyio

from streamflow import workers
from streamflow.channel import Lagged, Subscription
from streamflow.events import Event
from streamflow.graph import get_stream_writer
from streamflow.portal import call_sync, shutdown_portal
from streamflow.tools import tool


def take_buffered(sub: Subscription) -> list[Event | Lagged]:
    """Take everything ``sub`` can hand over without waiting (stops at an empty buffer or the end)."""
    items: list[Event | Lagged] = []
    while True:
        try:
            items.append(sub.receive_nowait())
        except (anyio.WouldBlock, anyio.EndOfStream):
            return items


async def take_all(sub: Subscription) -> list[Event | Lagged]:
    """Iterate ``sub`` to its end (the channel or the subscription closed and the buffer drained)."""
    return [item async for item in sub]


def seqs(items: list[Event | Lagged]) -> list[int]:
    """The ``seq`` of each event in ``items`` (Lagged signals skipped)."""
    return [item.seq for item in items if isinstance(item, Event)]


async def _tasks_on_loop() -> int:
    return len(asyncio.all_tasks())


def portal_task_count() -> int:
    """How many tasks the portal thread's loop holds (starting the portal thread if none runs)."""
    return call_sync(_tasks_on_loop)


class NothingLeftBehind:
    """Checks that sync calls left no task on the portal's loop and, after the portal stops, no thread.

    Made with the portal and the idle worker threads stopped: ``tasks()`` compares the portal loop's task
    count with an idle portal's; ``threads()`` stops the portal and the idle worker threads, joins them,
    and compares the thread set with the one seen at the start, at once: a worker thread still running
    sync code (an abandoned call) is left behind, and fails the check. A test that leaves one on purpose
    checks its report, lets it return, and waits for that (:func:`streamflow.workers.wait_abandoned`)
    before it checks.
    """

    def __init__(self) -> None:
        shutdown_portal()
        self.before = set(threading.enumerate())
        self.idle_tasks = portal_task_count()

    def tasks(self) -> None:
        assert portal_task_count() == self.idle_tasks

    def threads(self) -> None:
        shutdown_portal()
        assert workers.statistics().busy == 0, f"sync code still runs in worker threads: {workers.statistics()}"
        assert set(threading.enumerate()) - self.before == set()

    def check(self) -> None:
        self.tasks()
        self.threads()


SIGNAL_TIMEOUT = 10.0
"""Seconds a :class:`Signal` wait gives up after: a fail-safe that turns a broken handshake into a failed test
instead of a hung suite, never a synchronisation (a passing test never waits this long)."""


class Signal:
    """A one-shot handshake between threads and event loops: ``set()`` from anywhere; ``wait()`` blocks a
    thread, ``await wait_async()`` waits in an event loop; both fail after :data:`SIGNAL_TIMEOUT`."""

    def __init__(self, name: str = "signal") -> None:
        self.name = name
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def set(self) -> None:
        with self._lock:
            self._event.set()
            waiters, self._waiters = self._waiters, []
        for loop, waiter in waiters:
            loop.call_soon_threadsafe(_resolve, waiter)

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self) -> None:
        """Block this thread until the signal is set.

        :raises AssertionError: after :data:`SIGNAL_TIMEOUT` seconds without it
        """
        assert self._event.wait(SIGNAL_TIMEOUT), f"{self.name} was never set"

    async def wait_async(self) -> None:
        """Wait in the running event loop until the signal is set.

        :raises TimeoutError: after :data:`SIGNAL_TIMEOUT` seconds without it
        """
        with self._lock:
            if self._event.is_set():
                return
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append((asyncio.get_running_loop(), waiter))
        with anyio.fail_after(SIGNAL_TIMEOUT):
            await waiter


def _resolve(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_result(None)


@tool
async def fetch(url: str) -> str:
    """Fetch a page, in three parts (each written to the stream writer: a tool's output deltas)."""
    writer = get_stream_writer()
    for part in ("<html>", "body", "</html>"):
        writer(part)
    return "<html>body</html>"
