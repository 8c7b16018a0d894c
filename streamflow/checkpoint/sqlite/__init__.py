"""A saver on SQLite, the embedded default that needs no server: LangGraph's
``langgraph.checkpoint.sqlite`` (``SqliteSaver``), on the standard library's ``sqlite3``.

The async saver is :class:`streamflow.checkpoint.sqlite.aio.AsyncSqliteSaver` (the ``sqlite`` extra). The
tables are streamflow's own (see :mod:`streamflow.checkpoint._sql`): a database written by LangGraph's
saver is not read.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ...errors import InvalidArgumentError
from .. import _sql
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

__all__ = ["SqliteSaver"]

DIALECT = _sql.Dialect(param="?", blob="BLOB", collate="")

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


def setup_statements(synchronous: str | None) -> list[str]:
    """What ``setup`` runs: the WAL journal, the ``synchronous`` setting (unless None), the tables."""
    pragmas = ["PRAGMA journal_mode=WAL"]
    if synchronous is not None:
        pragmas.append(f"PRAGMA synchronous={synchronous}")
    return pragmas + DIALECT.schema()


def write(conn: sqlite3.Connection, statements: Sequence[_sql.Statement]) -> None:
    """Run ``statements`` on ``conn`` in one transaction, committed (rolled back when one fails)."""
    try:
        for sql, params in statements:
            conn.execute(sql, params)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


def read_one(conn: sqlite3.Connection, query: _sql.Statement) -> tuple[_sql.Row, list[_sql.Row]] | None:
    """The checkpoint row ``query`` selects and its write rows, or None."""
    row = conn.execute(*query).fetchone()
    if row is None:
        return None
    return row, conn.execute(*DIALECT.writes(row)).fetchall()


def read_many(
    conn: sqlite3.Connection,
    query: _sql.Statement,
    serde: SerializerProtocol,
    filter: dict[str, Any] | None,
    limit: int | None,
) -> list[tuple[_sql.Row, list[_sql.Row]]]:
    """The checkpoint rows ``query`` selects that pass ``filter`` (at most ``limit``), with their write rows."""
    rows = _sql.limited(conn.execute(*query).fetchall(), serde, filter, limit)
    return [(row, conn.execute(*DIALECT.writes(row)).fetchall()) for row in rows]


class SqliteSaver(BaseCheckpointSaver[str]):
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
    before it returns (one transaction each). The async methods run the sync ones in a worker thread; for an
    asyncio program :class:`~streamflow.checkpoint.sqlite.aio.AsyncSqliteSaver` is the better fit, as in
    LangGraph.

    :raises InvalidArgumentError: for another ``synchronous`` value
    """

    def __init__(
        self, conn: sqlite3.Connection, *, serde: SerializerProtocol | None = None, synchronous: str | None = "NORMAL"
    ) -> None:
        super().__init__(serde=serde)
        self.conn = conn
        self.synchronous = check_synchronous(synchronous)
        self.lock = threading.RLock()
        self.is_setup = False

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
        try:
            yield cls(conn, serde=serde, synchronous=saver_synchronous)
        finally:
            conn.close()

    def setup(self) -> None:
        """Create the tables if they do not exist (WAL journal for a file database, and the saver's
        ``synchronous`` setting); called on first use."""
        with self.lock:
            if self.is_setup:
                return
            for statement in setup_statements(self.synchronous):
                self.conn.execute(statement)
            self.conn.commit()
            self.is_setup = True

    def _write(self, statements: Sequence[_sql.Statement]) -> None:
        self.setup()
        with self.lock:
            write(self.conn, statements)

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint tuple ``config`` addresses, or None (see
        :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.get_tuple`).

        :raises CheckpointReadError: the stored checkpoint cannot be read back
        """
        query = DIALECT.get(config)
        self.setup()
        with self.lock:
            found = read_one(self.conn, query)
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
        query = DIALECT.list_query(config, before, limit, bool(filter))
        self.setup()
        with self.lock:
            found = read_many(self.conn, query, self.serde, filter, limit)
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
        statement, stored = DIALECT.put(self.serde, config, checkpoint, metadata)
        self._write([statement])
        return stored

    def put_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        """Store a task's pending writes (see
        :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.put_writes`)."""
        self._write(DIALECT.put_writes(self.serde, config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        """Delete ``thread_id``'s checkpoints and writes (nothing when it has none)."""
        self._write(DIALECT.delete(thread_id))

    def get_next_version(self, current: str | None, channel: None = None) -> str:
        """The version after ``current``: a zero-padded counter and a random fraction (LangGraph's format)."""
        return next_version(current)
