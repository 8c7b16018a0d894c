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


class SqliteSaver(BaseCheckpointSaver[str]):
    """Checkpoints in a SQLite database (LangGraph's ``SqliteSaver``).

    :param conn: an open ``sqlite3.Connection``; use it from several threads only if it was opened with
        ``check_same_thread=False`` (as :meth:`from_conn_string` does): the saver serializes its own use of it
        with a lock
    :param serde: the serializer (:class:`~streamflow.checkpoint.serde.jsonplus.JsonPlusSerializer` by
        default)

    The tables are created on first use (or by :meth:`setup`). Each ``put`` and ``put_writes`` is committed
    before it returns. The async methods run the sync ones in a worker thread; for an asyncio program
    :class:`~streamflow.checkpoint.sqlite.aio.AsyncSqliteSaver` is the better fit, as in LangGraph.
    """

    def __init__(self, conn: sqlite3.Connection, *, serde: SerializerProtocol | None = None) -> None:
        super().__init__(serde=serde)
        self.conn = conn
        self.lock = threading.RLock()
        self.is_setup = False

    @classmethod
    @contextmanager
    def from_conn_string(cls, conn_string: str, *, serde: SerializerProtocol | None = None) -> Iterator[SqliteSaver]:
        """A saver on a new connection to ``conn_string`` (a file path, or ``":memory:"``), closed when the
        ``with`` block ends (LangGraph's constructor of the same name); ``serde`` as for the constructor."""
        conn = sqlite3.connect(conn_string, check_same_thread=False)
        try:
            yield cls(conn, serde=serde)
        finally:
            conn.close()

    def setup(self) -> None:
        """Create the tables if they do not exist (WAL journal for a file database); called on first use."""
        with self.lock:
            if self.is_setup:
                return
            self.conn.execute("PRAGMA journal_mode=WAL")
            for statement in DIALECT.schema():
                self.conn.execute(statement)
            self.conn.commit()
            self.is_setup = True

    @contextmanager
    def _cursor(self, *, commit: bool) -> Iterator[sqlite3.Cursor]:
        self.setup()
        with self.lock:
            cursor = self.conn.cursor()
            try:
                yield cursor
                if commit:
                    self.conn.commit()
            except BaseException:
                if commit:
                    self.conn.rollback()
                raise
            finally:
                cursor.close()

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint tuple ``config`` addresses, or None (see
        :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.get_tuple`).

        :raises CheckpointReadError: the stored checkpoint cannot be read back
        """
        sql, params = DIALECT.get(config)
        with self._cursor(commit=False) as cursor:
            row = cursor.execute(sql, params).fetchone()
            if row is None:
                return None
            writes = cursor.execute(*DIALECT.writes(row)).fetchall()
        return _sql.to_tuple(self.serde, row, writes)

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
        sql, params = DIALECT.list_query(config, before, limit, bool(filter))
        with self._cursor(commit=False) as cursor:
            rows = _sql.limited(cursor.execute(sql, params).fetchall(), self.serde, filter, limit)
            found = [(row, cursor.execute(*DIALECT.writes(row)).fetchall()) for row in rows]
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
        with self._cursor(commit=True) as cursor:
            cursor.execute(*statement)
        return stored

    def put_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        """Store a task's pending writes (see
        :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.put_writes`)."""
        statements = DIALECT.put_writes(self.serde, config, writes, task_id, task_path)
        with self._cursor(commit=True) as cursor:
            for statement in statements:
                cursor.execute(*statement)

    def delete_thread(self, thread_id: str) -> None:
        """Delete ``thread_id``'s checkpoints and writes (nothing when it has none)."""
        with self._cursor(commit=True) as cursor:
            for statement in DIALECT.delete(thread_id):
                cursor.execute(*statement)

    def get_next_version(self, current: str | None, channel: None = None) -> str:
        """The version after ``current``: a zero-padded counter and a random fraction (LangGraph's format)."""
        return next_version(current)
