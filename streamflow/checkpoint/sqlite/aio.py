"""The async SQLite saver, LangGraph's ``langgraph.checkpoint.sqlite.aio`` (``AsyncSqliteSaver``), on
``aiosqlite`` (the ``sqlite`` extra)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

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
from . import DIALECT, check_synchronous, read_many, read_one, setup_statements, write

try:
    import aiosqlite
except ImportError as exc:  # pragma: no cover - the extra is installed in the test environment
    raise MissingExtraError("AsyncSqliteSaver", "sqlite", exc.name or "aiosqlite") from exc

__all__ = ["AsyncSqliteSaver"]

_T = TypeVar("_T")


class AsyncSqliteSaver(BaseCheckpointSaver[str]):
    """Checkpoints in a SQLite database, for asyncio programs (LangGraph's ``AsyncSqliteSaver``).

    :param conn: an open ``aiosqlite.Connection``
    :param serde: the serializer (:class:`~streamflow.checkpoint.serde.jsonplus.JsonPlusSerializer` by
        default)
    :param synchronous: SQLite's ``synchronous`` setting, set by :meth:`setup`; ``"NORMAL"`` by default, None
        leaves the connection's own (see :class:`~streamflow.checkpoint.sqlite.SqliteSaver`)

    Make it inside the event loop that will use it. The tables are created on first use (or by
    :meth:`setup`); each ``aput`` and ``aput_writes`` is committed before it returns (one transaction each,
    run in one go on the connection's thread). The sync methods
    (``get_tuple``, ``list``, ``put`` ...) work from other threads, by running the async ones on the saver's
    loop, and raise :class:`~streamflow.errors.SyncInAsyncContextError` on the loop's own thread, as in
    LangGraph.
    """

    def __init__(
        self, conn: aiosqlite.Connection, *, serde: SerializerProtocol | None = None, synchronous: str | None = "NORMAL"
    ) -> None:
        super().__init__(serde=serde)
        self.conn = conn
        self.synchronous = check_synchronous(synchronous)
        self.lock = asyncio.Lock()
        self.loop = asyncio.get_running_loop()
        self.is_setup = False

    @classmethod
    @asynccontextmanager
    async def from_conn_string(
        cls, conn_string: str, *, serde: SerializerProtocol | None = None, synchronous: str | None = "NORMAL"
    ) -> AsyncIterator[AsyncSqliteSaver]:
        """A saver on a new connection to ``conn_string`` (a file path or ``":memory:"``), closed when the
        ``async with`` block ends (LangGraph's constructor of the same name); ``serde`` and ``synchronous`` as
        for the constructor."""
        saver_synchronous = check_synchronous(synchronous)
        async with aiosqlite.connect(conn_string) as conn:
            yield cls(conn, serde=serde, synchronous=saver_synchronous)

    async def setup(self) -> None:
        """Create the tables if they do not exist (WAL journal for a file database); called on first use."""
        async with self.lock:
            await self._setup()

    async def _setup(self) -> None:
        if self.is_setup:
            return
        for statement in setup_statements(self.synchronous):
            await self.conn.execute(statement)
        await self.conn.commit()
        self.is_setup = True

    async def _in_thread(self, fn: Callable[..., _T], *args: Any) -> _T:
        """``fn(sqlite3 connection, *args)`` on the connection's own thread: a whole call in one hop."""
        return await self.conn._execute(fn, self.conn._conn, *args)  # type: ignore[no-untyped-call,no-any-return]

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint tuple ``config`` addresses, or None (see
        :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.get_tuple`).

        :raises CheckpointReadError: the stored checkpoint cannot be read back
        """
        query = DIALECT.get(config)
        async with self.lock:
            await self._setup()
            found = await self._in_thread(read_one, query)
        return None if found is None else _sql.to_tuple(self.serde, *found)

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
        query = DIALECT.list_query(config, before, limit, bool(filter))
        async with self.lock:
            await self._setup()
            found = await self._in_thread(read_many, query, self.serde, filter, limit)
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
            await self._in_thread(write, statements)

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
