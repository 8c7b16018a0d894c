"""Small helpers shared by the tests."""

from __future__ import annotations

import asyncio
import threading

import anyio

from streamflow.channel import Lagged, Subscription
from streamflow.events import Event
from streamflow.portal import call_sync, shutdown_portal


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

    Made with the portal stopped: ``tasks()`` compares the portal loop's task count with an idle portal's,
    ``threads()`` stops the portal, joins the worker threads its loop started, and compares the thread set
    with the one seen at the start.
    """

    def __init__(self) -> None:
        shutdown_portal()
        self.before = set(threading.enumerate())
        self.idle_tasks = portal_task_count()

    def tasks(self) -> None:
        assert portal_task_count() == self.idle_tasks

    def threads(self) -> None:
        shutdown_portal()
        for thread in set(threading.enumerate()) - self.before:
            if type(thread).__name__ == "WorkerThread":
                thread.join(timeout=5)
        assert set(threading.enumerate()) - self.before == set()

    def check(self) -> None:
        self.tasks()
        self.threads()
