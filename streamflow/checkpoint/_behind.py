"""Saves written behind a graph run: :class:`WriteBehind` takes a saver's staged saves (serialized already,
see :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.stage_step`) and writes them in the order it was
given them, from one background task, while the run goes on. What is added while a write is under way goes
in the next one, all in one :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.awrite_staged` call (one
transaction for the SQL savers): the savers' own group commit. This is ``durability="async"``: LangGraph's
run saves a checkpoint while its next step runs, too.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .base import BaseCheckpointSaver

__all__: list[str] = []


class WriteBehind:
    """Staged saves of one saver, written in order in the background (see the module).

    :param saver: a saver whose :attr:`~streamflow.checkpoint.base.BaseCheckpointSaver.stages_writes` is true
    """

    __slots__ = ("failed", "queue", "saver", "task", "writes")

    def __init__(self, saver: BaseCheckpointSaver[Any]) -> None:
        self.saver = saver
        self.queue: list[Any] = []
        self.task: asyncio.Task[None] | None = None
        self.failed: BaseException | None = None
        """The exception a write failed with, raised by the next :meth:`add` or :meth:`wait`."""
        self.writes = 0
        """How many :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.awrite_staged` calls were made."""

    def add(self, staged: Any) -> None:
        """Queue ``staged`` to be written after everything queued before it (a write starts at once when none
        is under way). Call it on the event loop.

        :raises Exception: what an earlier write failed with (the saves queued after it are dropped)
        """
        self._raise_failed()
        self.queue.append(staged)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._drain())

    async def wait(self) -> None:
        """Return once everything queued is written; the writes go on when the caller is cancelled.

        :raises Exception: what a write failed with (the saves queued after it are dropped)
        """
        task = self.task
        if task is not None:
            await asyncio.shield(task)
        self._raise_failed()

    def done_nowait(self) -> bool:
        """Whether everything queued is written (no write under way): :meth:`wait` would not wait.

        :raises Exception: what a write failed with, when nothing is under way any more
        """
        if self.task is not None:
            return False
        self._raise_failed()
        return True

    def _raise_failed(self) -> None:
        failed, self.failed = self.failed, None
        if failed is not None:
            raise failed

    async def _drain(self) -> None:
        try:
            while self.queue:
                batch, self.queue = self.queue, []
                self.writes += 1
                if not self.saver.write_staged_nowait(batch):
                    await self.saver.awrite_staged(batch)
        except BaseException as exc:  # kept for the run to raise: nothing is lost silently
            self.failed = exc
            self.queue = []
        finally:
            self.task = None
