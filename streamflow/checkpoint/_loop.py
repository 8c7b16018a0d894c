"""Sync methods of the async savers: run the async twin on the saver's event loop from another thread."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from ..errors import SyncInAsyncContextError

__all__: list[str] = []

T = TypeVar("T")


def run_on(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, T], what: str) -> T:
    """Run ``coroutine`` on ``loop`` (the saver's) and wait for its result in this thread.

    :raises SyncInAsyncContextError: called from the thread running ``loop``, where waiting would deadlock
    """
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        coroutine.close()
        raise SyncInAsyncContextError(
            f"{what} is the sync method of an async saver, called on its own event loop, where it would "
            f"block the loop it waits for; await a{what}() instead, or call {what}() from another thread"
        )
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result()
