"""The async SQLite saver, LangGraph's ``langgraph.checkpoint.sqlite.aio`` (``AsyncSqliteSaver``), on
``aiosqlite`` (the ``sqlite`` extra)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from ...errors import MissingExtraError
from .. import _sql
from .._fronts import AsyncSqlSaver, Found, read_many, read_one
from ..serde.base import SerializerProtocol
from . import DIALECT, check_synchronous, create_nowait, write
from ._nowait import NowaitConnection, _WouldBlock

try:
    import aiosqlite
except ImportError as exc:  # pragma: no cover - the extra is installed in the test environment
    raise MissingExtraError("AsyncSqliteSaver", "sqlite", exc.name or "aiosqlite") from exc

__all__ = ["AsyncSqliteSaver"]

_T = TypeVar("_T")


class AsyncSqliteSaver(AsyncSqlSaver):
    """Checkpoints in a SQLite database, for asyncio programs (LangGraph's ``AsyncSqliteSaver``).

    :param conn: an open ``aiosqlite.Connection``
    :param serde: the serializer (:class:`~streamflow.checkpoint.serde.jsonplus.JsonPlusSerializer` by
        default)
    :param synchronous: SQLite's ``synchronous`` setting, set by :meth:`setup`; ``"NORMAL"`` by default, None
        leaves the connection's own (see :class:`~streamflow.checkpoint.sqlite.SqliteSaver`)

    Make it inside the event loop that will use it. The tables are created on first use (or by
    :meth:`setup`); each ``aput`` and ``aput_writes`` is committed before it returns (one transaction each,
    run in one go on the connection's thread). On a file database in WAL mode with ``synchronous``
    ``OFF`` or ``NORMAL``, reading one checkpoint and writing are first tried on the event loop's thread, on
    a second connection to the file that gives up at once when the database is locked (then the
    connection's thread does it, as before): a thread wake-up costs more than such a read or commit (see
    :mod:`streamflow.checkpoint.sqlite._nowait`). That connection is closed with the saver made by
    :meth:`from_conn_string`, or when the saver is garbage-collected. The sync methods
    (``get_tuple``, ``list``, ``put`` ...) work from other threads, by running the async ones on the saver's
    loop, and raise :class:`~streamflow.errors.SyncInAsyncContextError` on the loop's own thread, as in
    LangGraph.
    """

    dialect = DIALECT

    def __init__(
        self, conn: aiosqlite.Connection, *, serde: SerializerProtocol | None = None, synchronous: str | None = "NORMAL"
    ) -> None:
        super().__init__(conn, serde=serde)
        self.conn: aiosqlite.Connection = conn
        self.synchronous = check_synchronous(synchronous)
        self.nowait: NowaitConnection | None = None
        """The connection reads of one checkpoint and writes first try (None before :meth:`setup`, and where
        there is none)."""

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
            saver = cls(conn, serde=serde, synchronous=saver_synchronous)
            try:
                yield saver
            finally:
                if saver.nowait is not None:
                    saver.nowait.close()

    async def setup(self) -> None:
        """Create the tables if they do not exist (WAL journal for a file database); called on first use."""
        async with self.lock:
            await self._setup()

    async def _setup(self) -> None:
        if not self.is_setup:
            nowait = await self._in_thread(create_nowait, self.synchronous)
            self.nowait = None if nowait is None else nowait.closed_with(self)
            self.is_setup = True

    async def _in_thread(self, fn: Callable[..., _T], *args: Any) -> _T:
        """``fn(sqlite3 connection, *args)`` on the connection's own thread: a whole call in one hop."""
        return await self.conn._execute(fn, self.conn._conn, *args)  # type: ignore[no-untyped-call,no-any-return]

    async def _call(self, fn: Callable[..., _T], *args: Any) -> _T:
        """``fn(sqlite3 connection, *args)`` on the connection's thread under the saver's lock, the tables set
        up first."""
        async with self.lock:
            await self._setup()
            return await self._in_thread(fn, *args)

    async def _aread_one(self, query: _sql.Statement) -> Found | None:
        """On the :attr:`nowait` connection when no call is under way on the connection's thread and the
        database is not locked, else there."""
        nowait = self.nowait
        if nowait is not None and not self.lock.locked():
            found = nowait.read(read_one, DIALECT, query)
            if not isinstance(found, _WouldBlock):
                return found
        return await self._call(read_one, DIALECT, query)

    async def _aread_many(self, query: _sql.Statement, filter: dict[str, Any] | None, limit: int | None) -> list[Found]:
        return await self._call(read_many, DIALECT, query, self.serde, filter, limit)

    def _write_nowait(self, statements: Sequence[_sql.Statement]) -> bool:
        """On the :attr:`nowait` connection, when no call is under way on the connection's thread and the
        database is not locked."""
        nowait = self.nowait
        return nowait is not None and not self.lock.locked() and nowait.write(statements)

    async def _awrite(self, statements: Sequence[_sql.Statement]) -> None:
        """On the :attr:`nowait` connection when no call is under way on the connection's thread and the
        database is not locked, else there."""
        if not self._write_nowait(statements):
            await self._call(write, statements)
