"""A saver on SQLite, the embedded default that needs no server: LangGraph's
``langgraph.checkpoint.sqlite`` (``SqliteSaver``), on the standard library's ``sqlite3``.

The async saver is :class:`streamflow.checkpoint.sqlite.aio.AsyncSqliteSaver` (the ``sqlite`` extra). The
tables are streamflow's own (see :mod:`streamflow.checkpoint._sql`): a database written by LangGraph's
saver is not read.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from ...errors import InvalidArgumentError
from .. import _sql
from .._fronts import Found, SqlSaver, read_many, read_one
from ..serde.base import SerializerProtocol
from ._nowait import NowaitConnection, _WouldBlock

__all__ = ["SqliteSaver"]

DIALECT = _sql.Dialect(param="?", blob="BLOB", collate="")

_T = TypeVar("_T")

SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
"""The values of SQLite's ``synchronous`` setting a saver accepts."""


def check_synchronous(value: str | None) -> str | None:
    """``value`` upper-cased, when it is one of :data:`SYNCHRONOUS` or None.

    :raises InvalidArgumentError: for anything else
    """
    if value is None:
        return None
    if not isinstance(value, str) or value.upper() not in SYNCHRONOUS:
        raise InvalidArgumentError(f"synchronous must be one of {', '.join(SYNCHRONOUS)} or None; got {value!r}")
    return value.upper()


def create(conn: sqlite3.Connection, synchronous: str | None) -> None:
    """What ``setup`` runs on ``conn``: the WAL journal, the ``synchronous`` setting (unless None), the
    tables, committed."""
    pragmas = ["PRAGMA journal_mode=WAL"]
    if synchronous is not None:
        pragmas.append(f"PRAGMA synchronous={synchronous}")
    for statement in pragmas + DIALECT.schema():
        conn.execute(statement)
    conn.commit()


def create_nowait(conn: sqlite3.Connection, synchronous: str | None) -> NowaitConnection | None:
    """:func:`create`, then the saver's :class:`~streamflow.checkpoint.sqlite._nowait.NowaitConnection` on
    ``conn``'s database (None where there can be none)."""
    create(conn, synchronous)
    return NowaitConnection.open(conn)


def write(conn: sqlite3.Connection, statements: Sequence[_sql.Statement]) -> None:
    """Run ``statements`` on ``conn`` in one transaction, committed (rolled back when one fails)."""
    try:
        for sql, params in statements:
            conn.execute(sql, params)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


class SqliteSaver(SqlSaver):
    """Checkpoints in a SQLite database (LangGraph's ``SqliteSaver``).

    :param conn: an open ``sqlite3.Connection``; use it from several threads only if it was opened with
        ``check_same_thread=False`` (as :meth:`from_conn_string` does): the saver serializes its own use of it
        with a lock
    :param serde: the serializer (:class:`~streamflow.checkpoint.serde.jsonplus.JsonPlusSerializer` by
        default)
    :param synchronous: SQLite's ``synchronous`` setting, set on the connection by :meth:`setup` (``"OFF"``,
        ``"NORMAL"``, ``"FULL"``, ``"EXTRA"``; None leaves the connection's own). The default ``"NORMAL"``
        with the WAL journal makes a commit durable when the process dies (even by SIGKILL), not when the
        machine loses power, and costs about a tenth of ``"FULL"``, which waits for the disk at every commit
        (streamflow's choice; LangGraph's saver keeps SQLite's default, ``"FULL"``)

    The tables are created on first use (or by :meth:`setup`). Each ``put`` and ``put_writes`` is committed
    before it returns (one transaction each). The async methods (which a graph run calls, ``stream()``
    included) run the sync ones in a worker thread, except that on a file database in WAL mode with
    ``synchronous`` ``OFF`` or ``NORMAL``, reading one checkpoint and writing are first tried on the calling
    event loop's thread, on a second connection to the file that gives up at once when the database is
    locked (then the worker thread does it, waiting as ``conn`` is set to): a thread wake-up costs more
    than such a read or commit (see :mod:`streamflow.checkpoint.sqlite._nowait`). That connection is
    closed with the saver made by :meth:`from_conn_string`, or when the saver is garbage-collected.

    :raises InvalidArgumentError: for another ``synchronous`` value
    """

    dialect = DIALECT

    def __init__(
        self, conn: sqlite3.Connection, *, serde: SerializerProtocol | None = None, synchronous: str | None = "NORMAL"
    ) -> None:
        super().__init__(conn, serde=serde)
        self.conn: sqlite3.Connection = conn
        self.synchronous = check_synchronous(synchronous)
        self.nowait: NowaitConnection | None = None
        """The connection the async methods first try on (None before :meth:`setup`, and where there is
        none)."""

    @classmethod
    @contextmanager
    def from_conn_string(
        cls, conn_string: str, *, serde: SerializerProtocol | None = None, synchronous: str | None = "NORMAL"
    ) -> Iterator[SqliteSaver]:
        """A saver on a new connection to ``conn_string`` (a file path, or ``":memory:"``), closed when the
        ``with`` block ends (LangGraph's constructor of the same name); ``serde`` and ``synchronous`` as for
        the constructor."""
        saver_synchronous = check_synchronous(synchronous)
        conn = sqlite3.connect(conn_string, check_same_thread=False)
        saver = None
        try:
            saver = cls(conn, serde=serde, synchronous=saver_synchronous)
            yield saver
        finally:
            if saver is not None and saver.nowait is not None:
                saver.nowait.close()
            conn.close()

    def setup(self) -> None:
        """Create the tables if they do not exist (WAL journal for a file database, and the saver's
        ``synchronous`` setting); called on first use."""
        with self.lock:
            if not self.is_setup:
                nowait = create_nowait(self.conn, self.synchronous)
                self.nowait = None if nowait is None else nowait.closed_with(self)
                self.is_setup = True

    def _call(self, fn: Callable[..., _T], *args: Any) -> _T:
        """``fn(connection, *args)`` under the saver's lock, the tables set up first."""
        with self.lock:
            if not self.is_setup:
                self.setup()
            return fn(self.conn, *args)

    def _read_one(self, query: _sql.Statement) -> Found | None:
        return self._call(read_one, DIALECT, query)

    def _read_many(self, query: _sql.Statement, filter: dict[str, Any] | None, limit: int | None) -> list[Found]:
        return self._call(read_many, DIALECT, query, self.serde, filter, limit)

    def _write(self, statements: Sequence[_sql.Statement]) -> None:
        self._call(write, statements)

    async def _aread_one(self, query: _sql.Statement) -> Found | None:
        """On the :attr:`nowait` connection when the saver is idle and the database is not locked, else in a
        worker thread."""
        nowait = self.nowait
        if nowait is not None and self.lock.acquire(blocking=False):
            try:
                found = nowait.read(read_one, DIALECT, query)
            finally:
                self.lock.release()
            if not isinstance(found, _WouldBlock):
                return found
        return await self._blocking(self._read_one, query)

    def _write_nowait(self, statements: Sequence[_sql.Statement]) -> bool:
        """On the :attr:`nowait` connection, when the saver is idle and the database is not locked."""
        nowait = self.nowait
        if nowait is None or not self.lock.acquire(blocking=False):
            return False
        try:
            return nowait.write(statements)
        finally:
            self.lock.release()

    async def _awrite(self, statements: Sequence[_sql.Statement]) -> None:
        """On the :attr:`nowait` connection when the saver is idle and the database is not locked, else in a
        worker thread."""
        if not self._write_nowait(statements):
            await self._blocking(self._write, statements)
