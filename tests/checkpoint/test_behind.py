"""Saves written behind a run (``durability="async"``): in order, those that queue up in one call, a failed
write raised by the next save or by the wait at the end."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from streamflow.checkpoint._behind import WriteBehind
from streamflow.checkpoint.memory import InMemorySaver

pytestmark = pytest.mark.anyio


class _Recording(InMemorySaver):
    """Records the staged saves it is asked to write; each write waits until the test lets it finish."""

    stages_writes = True

    def __init__(self) -> None:
        super().__init__()
        self.written: list[list[Any]] = []
        self.go = asyncio.Event()
        self.started = asyncio.Event()
        self.fail_with: BaseException | None = None

    async def awrite_staged(self, staged: Sequence[Any]) -> None:
        self.started.set()
        await self.go.wait()
        if self.fail_with is not None:
            raise self.fail_with
        self.written.append(list(staged))


async def test_saves_are_written_in_order_those_queued_meanwhile_in_one_call() -> None:
    saver = _Recording()
    behind = WriteBehind(saver)
    behind.add("a")
    await saver.started.wait()  # the write of "a" is under way (and waits for go)
    behind.add("b")
    behind.add("c")
    saver.go.set()
    await behind.wait()
    assert saver.written == [["a"], ["b", "c"]]
    assert behind.writes == 2
    behind.add("d")
    await behind.wait()
    assert saver.written[-1] == ["d"]


async def test_a_failed_write_is_raised_by_the_next_save_and_once() -> None:
    saver = _Recording()
    saver.fail_with = OSError("disk full")
    saver.go.set()
    behind = WriteBehind(saver)
    behind.add("a")
    assert behind.task is not None
    await behind.task  # the write failed
    with pytest.raises(OSError, match="disk full"):
        behind.add("b")
    await behind.wait()  # raised once
    assert saver.written == []


async def test_a_failed_write_is_raised_by_wait() -> None:
    saver = _Recording()
    saver.fail_with = OSError("connection lost")
    saver.go.set()
    behind = WriteBehind(saver)
    behind.add("a")
    behind.add("b")
    with pytest.raises(OSError, match="connection lost"):
        await behind.wait()


async def test_the_writes_go_on_when_the_waiter_is_cancelled() -> None:
    saver = _Recording()
    behind = WriteBehind(saver)
    behind.add("a")
    waiter = asyncio.ensure_future(behind.wait())
    await saver.started.wait()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    saver.go.set()
    await behind.wait()
    assert saver.written == [["a"]]
