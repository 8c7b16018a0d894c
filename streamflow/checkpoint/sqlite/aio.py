"""The async SQLite saver, LangGraph's ``langgraph.checkpoint.sqlite.aio`` (``AsyncSqliteSaver``), on
``aiosqlite`` (the ``sqlite`` extra)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from ...errors import MissingExtraError
from .. import _sql
from .._loop import run_on
from ..base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    RunnableConfig,
    next_version,
)
from ..serde.base import SerializerProtocol
from . import DIALECT

try:
    import aiosqlite
except ImportError as exc:  # pragma: no cover - the extra is installed in the test environment
    raise MissingExtraError("AsyncSqliteSaver", "sqlite", exc.name or "aiosqlite") from exc

__all__ = ["AsyncSqliteSaver"]


class AsyncSqliteSaver(BaseCheckpointSaver[str]):
    """Checkpoints in a SQLite database, for asyncio programs (LangGraph's ``AsyncSqliteSaver``).

    :param conn: an open ``aiosqlite.Connection``
    :param serde: the serializer (:class:`~streamflow.checkpoint.serde.jsonplus.JsonPlusSerializer` by
        default)

    Make it inside the event loop that will use it. The tables are created on first use (or by
    :meth:`setup`); each ``aput`` and ``aput_writes`` is committed before it returns. The sync methods
    (``get_tuple``, ``list``, ``put`` ...) work from other threads, by running the async ones on the saver's
    loop, and raise :class:`~streamflow.errors.SyncInAsyncContextError` on the loop's own thread, as in
    LangGraph.
    """

    def __init__(self, conn: aiosqlite.Connection, *, serde: SerializerProtocol | None = None) -> None:
        super().__init__(serde=serde)
        self.conn = conn
        self.lock = asyncio.Lock()
        self.loop = asyncio.get_running_loop()
        self.is_setup = False

    @classmethod
    @asynccontextmanager
    async def from_conn_string(
        cls, conn_string: str, *, serde: SerializerProtocol | None = None
    ) -> AsyncIterator[AsyncSqliteSaver]:
        """A saver on a new connection to ``conn_string`` (a file path or ``":memory:"``), closed when the
        ``async with`` block ends (LangGraph's constructor of the same name); ``serde`` as for the constructor."""
        async with aiosqlite.connect(conn_string) as conn:
            yield cls(conn, serde=serde)

    async def setup(self) -> None:
        """Create the tables if they do not exist (WAL journal for a file database); called on first use."""
        async with self.lock:
            await self._setup()

    async def _setup(self) -> None:
        if self.is_setup:
            return
        await self.conn.execute("PRAGMA journal_mode=WAL")
        for statement in DIALECT.schema():
            await self.conn.execute(statement)
        await self.conn.commit()
        self.is_setup = True

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint tuple ``config`` addresses, or None (see
        :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.get_tuple`).

        :raises CheckpointReadError: the stored checkpoint cannot be read back
        """
        sql, params = DIALECT.get(config)
        async with self.lock:
            await self._setup()
            async with self.conn.execute(sql, params) as cursor:
                row = await cursor.fetchone()
            if row is None:
                return None
            async with self.conn.execute(*DIALECT.writes(row)) as cursor:
                writes = await cursor.fetchall()
        return _sql.to_tuple(self.serde, row, writes)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """The matching checkpoints, newest first (see
        :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.list`)."""
        sql, params = DIALECT.list_query(config, before, limit, bool(filter))
        found = []
        async with self.lock:
            await self._setup()
            async with self.conn.execute(sql, params) as cursor:
                rows = _sql.limited(await cursor.fetchall(), self.serde, filter, limit)
            for row in rows:
                async with self.conn.execute(*DIALECT.writes(row)) as cursor:
                    found.append((row, await cursor.fetchall()))
        for row, writes in found:
            yield _sql.to_tuple(self.serde, row, writes)

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store ``checkpoint`` (see :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.put`)."""
        statement, stored = DIALECT.put(self.serde, config, checkpoint, metadata)
        await self._run([statement])
        return stored

    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        """Store a task's pending writes (see
        :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.put_writes`)."""
        await self._run(DIALECT.put_writes(self.serde, config, writes, task_id, task_path))

    async def adelete_thread(self, thread_id: str) -> None:
        """Delete ``thread_id``'s checkpoints and writes (nothing when it has none)."""
        await self._run(DIALECT.delete(thread_id))

    async def _run(self, statements: Sequence[_sql.Statement]) -> None:
        async with self.lock:
            await self._setup()
            try:
                for statement in statements:
                    await self.conn.execute(*statement)
                await self.conn.commit()
            except BaseException:
                await self.conn.rollback()
                raise

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Sync twin of :meth:`aget_tuple`, for other threads than the saver's loop."""
        return run_on(self.loop, self.aget_tuple(config), "get_tuple")

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Sync twin of :meth:`alist`, for other threads than the saver's loop."""

        async def collect() -> list[CheckpointTuple]:
            return [item async for item in self.alist(config, filter=filter, before=before, limit=limit)]

        yield from run_on(self.loop, collect(), "list")

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Sync twin of :meth:`aput`, for other threads than the saver's loop."""
        return run_on(self.loop, self.aput(config, checkpoint, metadata, new_versions), "put")

    def put_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        """Sync twin of :meth:`aput_writes`, for other threads than the saver's loop."""
        run_on(self.loop, self.aput_writes(config, writes, task_id, task_path), "put_writes")

    def delete_thread(self, thread_id: str) -> None:
        """Sync twin of :meth:`adelete_thread`, for other threads than the saver's loop."""
        run_on(self.loop, self.adelete_thread(thread_id), "delete_thread")

    def get_next_version(self, current: str | None, channel: None = None) -> str:
        """The version after ``current``: a zero-padded counter and a random fraction (LangGraph's format)."""
        return next_version(current)
