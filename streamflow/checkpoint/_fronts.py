"""The saver front-ends the bundled savers build on. :class:`StringVersionSaver` gives the string channel
versions of every bundled saver. :class:`SqlSaver` (sync) and :class:`AsyncSqlSaver` (async) implement the
whole saver protocol over the statements of :mod:`streamflow.checkpoint._sql`: a saver on one driver only
says how to read one checkpoint, read a ``list``, and write statements in one transaction (each in one hop
to its driver, one round trip where the driver allows). :class:`AsyncSqlSaver` also gives an async saver's
sync methods, run on its event loop. :func:`read_one` and :func:`read_many` are those reads on a sync DB-API
connection or cursor.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine, Iterable, Iterator, Sequence
from typing import Any, ClassVar, Protocol, TypeVar

from . import _sql
from ._loop import run_on
from .base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    RunnableConfig,
    SerializerProtocol,
    bump_string_versions,
    next_version,
)

__all__: list[str] = []

_T = TypeVar("_T")

Found = tuple[_sql.Row, list[_sql.Row]]
"""A checkpoint row and its write rows."""

Staged = list[_sql.Statement]
"""A save staged by the SQL savers: its statements."""


class _Fetches(Protocol):
    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Executes(Protocol):
    """A DB-API connection or cursor whose ``execute`` returns what the rows are fetched from
    (``sqlite3.Connection``, ``psycopg.Cursor``)."""

    def execute(self, sql: Any, params: Any, /) -> _Fetches: ...


def read_one(conn: Executes, dialect: _sql.Dialect, query: _sql.Statement) -> Found | None:
    """The checkpoint row ``query`` selects on ``conn`` and its write rows, or None."""
    row = conn.execute(*query).fetchone()
    if row is None:
        return None
    return row, conn.execute(*dialect.writes(row)).fetchall()


def read_many(
    conn: Executes,
    dialect: _sql.Dialect,
    query: _sql.Statement,
    serde: SerializerProtocol,
    filter: dict[str, Any] | None,
    limit: int | None,
) -> list[Found]:
    """The checkpoint rows ``query`` selects on ``conn`` that pass ``filter`` (at most ``limit``), with their
    write rows."""
    rows = _sql.limited(conn.execute(*query).fetchall(), serde, filter, limit)
    return [(row, conn.execute(*dialect.writes(row)).fetchall()) for row in rows]


def _step_statements(
    dialect: _sql.Dialect,
    serde: SerializerProtocol,
    config: RunnableConfig,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    writes: Sequence[tuple[str, Sequence[tuple[str, Any]]]],
) -> tuple[list[_sql.Statement], RunnableConfig]:
    """The statements of ``put_step`` (the writes against ``config``'s checkpoint, then the new one's row)
    and the config it returns."""
    statements: list[_sql.Statement] = []
    for task_id, pairs in writes:
        statements.extend(dialect.put_writes(serde, config, pairs, task_id, ""))
    statement, stored = dialect.put(serde, config, checkpoint, metadata)
    statements.append(statement)
    return statements, stored


class StringVersionSaver(BaseCheckpointSaver[str]):
    """A saver whose channel versions are the strings LangGraph's own savers make."""

    def get_next_version(self, current: str | None, channel: None = None) -> str:
        """The version after ``current``: a zero-padded counter and a random fraction (LangGraph's format)."""
        return next_version(current)

    def bump_versions(self, versions: dict[str, Any], keys: Iterable[str]) -> None:
        """Give each of ``keys`` in ``versions`` its next version, in place (see
        :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.bump_versions`): one random fraction for them
        all, unless a subclass makes its versions its own way (overrides :meth:`get_next_version`)."""
        if type(self).get_next_version is StringVersionSaver.get_next_version:
            bump_string_versions(versions, keys)
        else:
            super().bump_versions(versions, keys)


class SqlStatementSaver(StringVersionSaver):
    """A saver that writes by running its :attr:`dialect`'s statements: what a step's save would run can be
    made ahead (staged) and run later in one transaction, as saving behind a run does."""

    dialect: ClassVar[_sql.Dialect]
    stages_writes = True

    def stage_step(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
        writes: Sequence[tuple[str, Sequence[tuple[str, Any]]]],
    ) -> tuple[Staged, RunnableConfig]:
        """The statements that store a step's task writes and the next checkpoint, and the config the save
        returns (see :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.stage_step`)."""
        return _step_statements(self.dialect, self.serde, config, checkpoint, metadata, writes)

    def stage_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> Staged:
        """The statements that store a task's pending writes (see
        :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.stage_writes`)."""
        return self.dialect.put_writes(self.serde, config, writes, task_id, task_path)

    def _write_nowait(self, statements: Sequence[_sql.Statement]) -> bool:
        """Run ``statements`` in one transaction now if that needs no waiting; False (nothing written) when it
        would wait (always, by default)."""
        return False

    def write_staged_nowait(self, staged: Sequence[Staged]) -> bool:
        """Run the staged statements in one transaction now if that needs no waiting (see
        :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.write_staged_nowait`)."""
        statements = [statement for batch in staged for statement in batch]
        return not statements or self._write_nowait(statements)


class SqlSaver(SqlStatementSaver):
    """The sync methods of a saver on a SQL database; its async methods run its statements in a worker
    thread (:meth:`_aread_one`, :meth:`_awrite`), or, where a sync method is overridden by a subclass, that
    method in a worker thread, so an override of ``put`` (say) is what a graph run calls, ``ainvoke`` or
    ``invoke``.

    :param conn: the driver's connection (or pool), used under :attr:`lock`
    :param serde: the serializer
    """

    _OWN: ClassVar[tuple[str, ...]] = ("get_tuple", "put", "put_writes", "put_step", "delete_thread")
    overridden: ClassVar[frozenset[str]] = frozenset()
    """Which of the sync methods whose async twins this class defines a subclass overrides."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.overridden = frozenset(name for name in cls._OWN if getattr(cls, name) is not SqlSaver.__dict__[name])

    def __init__(self, conn: Any, *, serde: SerializerProtocol | None = None) -> None:
        super().__init__(serde=serde)
        self.conn = conn
        self.lock = threading.RLock()
        self.is_setup = False

    def _read_one(self, query: _sql.Statement) -> Found | None:
        """The checkpoint row ``query`` selects and its write rows (see :func:`read_one`)."""
        raise NotImplementedError

    def _read_many(self, query: _sql.Statement, filter: dict[str, Any] | None, limit: int | None) -> list[Found]:
        """The checkpoint rows ``query`` selects that pass ``filter``, with their writes (see :func:`read_many`)."""
        raise NotImplementedError

    def _write(self, statements: Sequence[_sql.Statement]) -> None:
        """Run ``statements`` in one transaction, committed before this returns."""
        raise NotImplementedError

    async def _aread_one(self, query: _sql.Statement) -> Found | None:
        """:meth:`_read_one` for the async methods: in a worker thread (a saver that can sometimes read
        without waiting overrides this)."""
        return await self._blocking(self._read_one, query)

    async def _awrite(self, statements: Sequence[_sql.Statement]) -> None:
        """:meth:`_write` for the async methods: in a worker thread (a saver that can sometimes write without
        waiting overrides this)."""
        await self._blocking(self._write, statements)

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint tuple ``config`` addresses, or None (see
        :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.get_tuple`).

        :raises CheckpointReadError: the stored checkpoint cannot be read back
        """
        found = self._read_one(self.dialect.get(config))
        return None if found is None else _sql.to_tuple(self.serde, *found)

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """The matching checkpoints, newest first (see
        :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.list`)."""
        found = self._read_many(self.dialect.list_query(config, before, limit, bool(filter)), filter, limit)
        for row, writes in found:
            yield _sql.to_tuple(self.serde, row, writes)

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store ``checkpoint`` (see :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.put`)."""
        statement, stored = self.dialect.put(self.serde, config, checkpoint, metadata)
        self._write([statement])
        return stored

    def put_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        """Store a task's pending writes (see
        :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.put_writes`)."""
        self._write(self.dialect.put_writes(self.serde, config, writes, task_id, task_path))

    def put_step(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
        writes: Sequence[tuple[str, Sequence[tuple[str, Any]]]],
    ) -> RunnableConfig:
        """Store a step's task writes and the next checkpoint in one transaction (see
        :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.put_step`)."""
        statements, stored = _step_statements(self.dialect, self.serde, config, checkpoint, metadata, writes)
        self._write(statements)
        return stored

    def delete_thread(self, thread_id: str) -> None:
        """Delete ``thread_id``'s checkpoints and writes (nothing when it has none)."""
        self._write(self.dialect.delete(thread_id))

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Async twin of :meth:`get_tuple` (the read in one hop to a worker thread, or none: see
        :meth:`_aread_one`).

        :raises CheckpointReadError: the stored checkpoint cannot be read back
        """
        if "get_tuple" in self.overridden:
            return await self._blocking(self.get_tuple, config)
        found = await self._aread_one(self.dialect.get(config))
        return None if found is None else _sql.to_tuple(self.serde, *found)

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Async twin of :meth:`put` (the write in one hop to a worker thread, or none: see :meth:`_awrite`)."""
        if "put" in self.overridden:
            return await self._blocking(self.put, config, checkpoint, metadata, new_versions)
        statement, stored = self.dialect.put(self.serde, config, checkpoint, metadata)
        await self._awrite([statement])
        return stored

    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        """Async twin of :meth:`put_writes` (one hop to a worker thread, or none)."""
        if "put_writes" in self.overridden:
            return await self._blocking(self.put_writes, config, writes, task_id, task_path)
        await self._awrite(self.dialect.put_writes(self.serde, config, writes, task_id, task_path))

    async def aput_step(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
        writes: Sequence[tuple[str, Sequence[tuple[str, Any]]]],
    ) -> RunnableConfig:
        """Async twin of :meth:`put_step` (one transaction, in one hop to a worker thread, or none)."""
        if "put_step" in self.overridden:
            return await self._blocking(self.put_step, config, checkpoint, metadata, new_versions, writes)
        statements, stored = _step_statements(self.dialect, self.serde, config, checkpoint, metadata, writes)
        await self._awrite(statements)
        return stored

    async def awrite_staged(self, staged: Sequence[Staged]) -> None:
        """Run the staged statements in one transaction, in one hop to a worker thread, or none."""
        statements = [statement for batch in staged for statement in batch]
        if statements:
            await self._awrite(statements)

    async def adelete_thread(self, thread_id: str) -> None:
        """Async twin of :meth:`delete_thread`."""
        if "delete_thread" in self.overridden:
            return await self._blocking(self.delete_thread, thread_id)
        await self._awrite(self.dialect.delete(thread_id))


class AsyncSqlSaver(SqlStatementSaver):
    """The async methods of a saver on a SQL database, and their sync twins, which run them on the saver's
    event loop from another thread and raise :class:`~streamflow.errors.SyncInAsyncContextError` on the
    loop's own thread (as in LangGraph)."""

    def __init__(self, conn: Any, *, serde: SerializerProtocol | None = None) -> None:
        """Made inside the event loop that will use it (:attr:`loop`, where the sync twins run)."""
        super().__init__(serde=serde)
        self.conn = conn
        self.lock = asyncio.Lock()
        self.loop = asyncio.get_running_loop()
        self.is_setup = False

    async def _aread_one(self, query: _sql.Statement) -> Found | None:
        """The checkpoint row ``query`` selects and its write rows."""
        raise NotImplementedError

    async def _aread_many(self, query: _sql.Statement, filter: dict[str, Any] | None, limit: int | None) -> list[Found]:
        """The checkpoint rows ``query`` selects that pass ``filter`` (at most ``limit``), with their writes."""
        raise NotImplementedError

    async def _awrite(self, statements: Sequence[_sql.Statement]) -> None:
        """Run ``statements`` in one transaction, committed before this returns."""
        raise NotImplementedError

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint tuple ``config`` addresses, or None (see
        :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.get_tuple`).

        :raises CheckpointReadError: the stored checkpoint cannot be read back
        """
        found = await self._aread_one(self.dialect.get(config))
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
        found = await self._aread_many(self.dialect.list_query(config, before, limit, bool(filter)), filter, limit)
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
        statement, stored = self.dialect.put(self.serde, config, checkpoint, metadata)
        await self._awrite([statement])
        return stored

    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        """Store a task's pending writes (see
        :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.put_writes`)."""
        await self._awrite(self.dialect.put_writes(self.serde, config, writes, task_id, task_path))

    async def aput_step(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
        writes: Sequence[tuple[str, Sequence[tuple[str, Any]]]],
    ) -> RunnableConfig:
        """Store a step's task writes and the next checkpoint in one transaction (see
        :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.put_step`)."""
        statements, stored = _step_statements(self.dialect, self.serde, config, checkpoint, metadata, writes)
        await self._awrite(statements)
        return stored

    async def adelete_thread(self, thread_id: str) -> None:
        """Delete ``thread_id``'s checkpoints and writes (nothing when it has none)."""
        await self._awrite(self.dialect.delete(thread_id))

    async def awrite_staged(self, staged: Sequence[Staged]) -> None:
        """Run the staged statements in one transaction."""
        statements = [statement for batch in staged for statement in batch]
        if statements:
            await self._awrite(statements)

    def _on_loop(self, coroutine: Coroutine[Any, Any, _T], what: str) -> _T:
        return run_on(self.loop, coroutine, what)

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
