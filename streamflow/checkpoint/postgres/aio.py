"""The async PostgreSQL saver, LangGraph's ``langgraph.checkpoint.postgres.aio`` (``AsyncPostgresSaver``),
on psycopg 3's async connections and pools (the ``postgres`` extra)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from ...errors import MissingExtraError
from .. import _sql
from .._fronts import AsyncSqlSaver, Found
from ..serde.base import SerializerProtocol
from . import DIALECT, batched, transaction

try:
    import psycopg
    from psycopg.rows import tuple_row
    from psycopg_pool import AsyncConnectionPool
except ImportError as exc:  # pragma: no cover - the extra is installed in the test environment
    raise MissingExtraError("AsyncPostgresSaver", "postgres", exc.name or "psycopg") from exc

__all__ = ["AsyncPostgresSaver"]

_T = TypeVar("_T")


async def read_one(cursor: psycopg.AsyncCursor[Any], query: _sql.Statement) -> Found | None:
    """The checkpoint row ``query`` selects and its write rows, or None (the async twin of
    :func:`streamflow.checkpoint._fronts.read_one`)."""
    await cursor.execute(*query)
    row = await cursor.fetchone()
    if row is None:
        return None
    await cursor.execute(*DIALECT.writes(row))
    return row, await cursor.fetchall()


async def execute_all(cursor: psycopg.AsyncCursor[Any], statements: Sequence[_sql.Statement]) -> None:
    """Run ``statements`` on ``cursor``, in order."""
    for statement in statements:
        await cursor.execute(*statement)


async def read_many(
    cursor: psycopg.AsyncCursor[Any],
    query: _sql.Statement,
    serde: SerializerProtocol,
    filter: dict[str, Any] | None,
    limit: int | None,
) -> list[Found]:
    """The checkpoint rows ``query`` selects that pass ``filter`` (at most ``limit``), with their write rows
    (the async twin of :func:`streamflow.checkpoint._fronts.read_many`)."""
    await cursor.execute(*query)
    found = []
    for row in _sql.limited(await cursor.fetchall(), serde, filter, limit):
        await cursor.execute(*DIALECT.writes(row))
        found.append((row, await cursor.fetchall()))
    return found


class AsyncPostgresSaver(AsyncSqlSaver):
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

    dialect = DIALECT

    def __init__(
        self,
        conn: psycopg.AsyncConnection[Any] | AsyncConnectionPool[Any],
        *,
        serde: SerializerProtocol | None = None,
    ) -> None:
        super().__init__(conn, serde=serde)
        self.conn: psycopg.AsyncConnection[Any] | AsyncConnectionPool[Any] = conn

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
        """A cursor inside a transaction of its own (see :func:`~streamflow.checkpoint.postgres.transaction`),
        on the connection or on one borrowed from the pool; ``alone`` as for
        :func:`~streamflow.checkpoint.postgres.own_transaction`."""
        if isinstance(self.conn, AsyncConnectionPool):
            async with (
                self.conn.connection() as conn,
                transaction(conn, alone),
                conn.cursor(row_factory=tuple_row) as cursor,
            ):
                yield cursor
        else:
            async with self.lock, transaction(self.conn, alone), self.conn.cursor(row_factory=tuple_row) as cursor:
                yield cursor

    async def setup(self) -> None:
        """Create the tables if they do not exist."""
        async with self._cursor() as cursor:
            for statement in DIALECT.schema():
                await cursor.execute(statement)
        self.is_setup = True

    async def _call(self, fn: Callable[..., Awaitable[_T]], *args: Any, alone: bool = False) -> _T:
        """``await fn(cursor, *args)`` on a cursor of :meth:`_cursor`, the tables set up first."""
        if not self.is_setup:
            await self.setup()
        async with self._cursor(alone=alone) as cursor:
            return await fn(cursor, *args)

    async def _aread_one(self, query: _sql.Statement) -> Found | None:
        # no transaction block: a checkpoint's writes read a moment after it are the same or more (one round
        # trip instead of three when the thread has no checkpoint)
        return await self._call(read_one, query, alone=True)

    async def _aread_many(self, query: _sql.Statement, filter: dict[str, Any] | None, limit: int | None) -> list[Found]:
        return await self._call(read_many, query, self.serde, filter, limit)

    async def _awrite(self, statements: Sequence[_sql.Statement]) -> None:
        statements = batched(statements)
        await self._call(execute_all, statements, alone=len(statements) == 1)
