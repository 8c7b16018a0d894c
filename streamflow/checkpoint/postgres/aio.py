"""The async PostgreSQL saver, LangGraph's ``langgraph.checkpoint.postgres.aio`` (``AsyncPostgresSaver``),
on psycopg 3's async connections and pools (the ``postgres`` extra)."""

from __future__ import annotations

import asyncio
import contextlib
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
from . import DIALECT, own_transaction

try:
    import psycopg
    from psycopg.rows import tuple_row
    from psycopg_pool import AsyncConnectionPool
except ImportError as exc:  # pragma: no cover - the extra is installed in the test environment
    raise MissingExtraError("AsyncPostgresSaver", "postgres", exc.name or "psycopg") from exc

__all__ = ["AsyncPostgresSaver"]


class AsyncPostgresSaver(BaseCheckpointSaver[str]):
    """Checkpoints in a PostgreSQL database, for asyncio programs (LangGraph's ``AsyncPostgresSaver``).

    :param conn: a ``psycopg.AsyncConnection``, or a ``psycopg_pool.AsyncConnectionPool`` whose connections
        the saver borrows for each call; autocommit or not, each call runs in its own transaction
    :param serde: the serializer (:class:`~streamflow.checkpoint.serde.jsonplus.JsonPlusSerializer` by
        default)

    Make it inside the event loop that will use it. Call :meth:`setup` once to create the tables (the first
    call of the saver runs it too). The sync methods work from other threads, by running the async ones on
    the saver's loop, and raise :class:`~streamflow.errors.SyncInAsyncContextError` on the loop's own thread,
    as in LangGraph.
    """

    def __init__(
        self,
        conn: psycopg.AsyncConnection[Any] | AsyncConnectionPool[Any],
        *,
        serde: SerializerProtocol | None = None,
    ) -> None:
        super().__init__(serde=serde)
        self.conn = conn
        self.lock = asyncio.Lock()
        self.loop = asyncio.get_running_loop()
        self.is_setup = False

    @classmethod
    @asynccontextmanager
    async def from_conn_string(
        cls, conn_string: str, *, serde: SerializerProtocol | None = None
    ) -> AsyncIterator[AsyncPostgresSaver]:
        """A saver on a new connection to ``conn_string`` (a libpq connection string or URL), closed when the
        ``async with`` block ends (LangGraph's constructor of the same name); ``serde`` as for the constructor."""
        async with await psycopg.AsyncConnection.connect(conn_string, autocommit=True) as conn:
            yield cls(conn, serde=serde)

    @asynccontextmanager
    async def _cursor(self, *, alone: bool = False) -> AsyncIterator[psycopg.AsyncCursor[Any]]:
        """A cursor inside a transaction of its own, on the connection or on one borrowed from the pool. With
        ``alone`` (a single statement) on an autocommit connection, no ``BEGIN``/``COMMIT`` is sent: the
        statement is its own transaction (one round trip instead of three)."""
        if isinstance(self.conn, AsyncConnectionPool):
            async with (
                self.conn.connection() as conn,
                conn.transaction() if own_transaction(conn, alone) else contextlib.nullcontext(),
                conn.cursor(row_factory=tuple_row) as cursor,
            ):
                yield cursor
        else:
            async with (
                self.lock,
                self.conn.transaction() if own_transaction(self.conn, alone) else contextlib.nullcontext(),
                self.conn.cursor(row_factory=tuple_row) as cursor,
            ):
                yield cursor

    async def setup(self) -> None:
        """Create the tables if they do not exist."""
        async with self._cursor() as cursor:
            for statement in DIALECT.schema():
                await cursor.execute(statement)
        self.is_setup = True

    async def _ready(self) -> None:
        if not self.is_setup:
            await self.setup()

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint tuple ``config`` addresses, or None (see
        :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.get_tuple`).

        :raises CheckpointReadError: the stored checkpoint cannot be read back
        """
        sql, params = DIALECT.get(config)
        await self._ready()
        async with self._cursor() as cursor:
            await cursor.execute(sql, params)
            row = await cursor.fetchone()
            if row is None:
                return None
            await cursor.execute(*DIALECT.writes(row))
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
        await self._ready()
        found = []
        async with self._cursor() as cursor:
            await cursor.execute(sql, params)
            rows = _sql.limited(await cursor.fetchall(), self.serde, filter, limit)
            for row in rows:
                await cursor.execute(*DIALECT.writes(row))
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
        await self._ready()
        async with self._cursor(alone=len(statements) == 1) as cursor:
            for statement in statements:
                await cursor.execute(*statement)

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
