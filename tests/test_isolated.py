"""A node's coroutine awaited in a context of its own (``streamflow.graph.isolated``): what it sets stays in
its context across its own suspensions, the awaiting task's context is untouched, and cancellation reaches it."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from typing import Any

import pytest

from streamflow.graph.isolated import RestInContext

marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="outer")


async def isolated(coro: Coroutine[Any, Any, Any]) -> Any:
    own = contextvars.copy_context()
    try:
        suspended = own.run(coro.send, None)
    except StopIteration as stop:
        return stop.value
    return await RestInContext(coro, own, suspended)


@pytest.mark.anyio
async def test_what_a_coroutine_sets_stays_in_its_own_context_across_suspensions() -> None:
    seen = []

    async def node() -> str:
        seen.append(marker.get())
        marker.set("inner")
        await asyncio.sleep(0)
        seen.append(marker.get())
        await asyncio.sleep(0)
        return marker.get()

    assert await isolated(node()) == "inner"
    assert seen == ["outer", "inner"]
    assert marker.get() == "outer"


@pytest.mark.anyio
async def test_a_coroutine_that_never_suspends_returns_its_value_and_raises_its_error() -> None:
    async def value() -> int:
        marker.set("inner")
        return 7

    async def fail() -> None:
        raise KeyError("boom")

    assert await isolated(value()) == 7
    assert marker.get() == "outer"
    with pytest.raises(KeyError):
        await isolated(fail())


@pytest.mark.anyio
async def test_cancelling_the_awaiting_task_cancels_the_coroutine() -> None:
    started = asyncio.Event()
    finished: list[str] = []

    async def node() -> None:
        marker.set("inner")
        try:
            started.set()
            await asyncio.Event().wait()
        finally:
            finished.append(marker.get())

    task = asyncio.ensure_future(isolated(node()))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert finished == ["inner"]
