"""A saver on PostgreSQL, LangGraph's ``langgraph.checkpoint.postgres`` (``PostgresSaver``), on psycopg 3
(the ``postgres`` extra: ``psycopg`` and ``psycopg-pool``).

The async saver is :class:`streamflow.checkpoint.postgres.aio.AsyncPostgresSaver`. The tables are
streamflow's own (see :mod:`streamflow.checkpoint._sql`): LangGraph's tables are neither read nor written.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ...errors import MissingExtraError
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

try:
    import psycopg
    from psycopg.rows import tuple_row
    from psycopg_pool import ConnectionPool
except ImportError as exc:  # pragma: no cover - the extra is installed in the test environment
    raise MissingExtraError("PostgresSaver", "postgres", exc.name or "psycopg") from exc

__all__ = ["PostgresSaver"]

DIALECT = _sql.Dialect(param="%s", blob="BYTEA", collate=' COLLATE "C"')


def own_transaction(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any], alone: bool) -> bool:
    """Whether a call on ``conn`` needs a transaction block: not for a single statement (``alone``) on an
    autocommit connection outside any transaction, which is a transaction by itself."""
    idle = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    return not (alone and conn.autocommit and idle)


class PostgresSaver(BaseCheckpointSaver[str]):
    """Checkpoints in a PostgreSQL database (LangGraph's ``PostgresSaver``).

    :param conn: a ``psycopg.Connection``, or a ``psycopg_pool.ConnectionPool`` whose connections the saver
        borrows for each call (so several threads can use the saver at once); either may be in autocommit
        mode or not, since the saver runs each call in its own transaction
    :param serde: the serializer (:class:`~streamflow.checkpoint.serde.jsonplus.JsonPlusSerializer` by
        default)

    Call :meth:`setup` once to create the tables (it does nothing when they exist; the first call of the
    saver runs it too). The async methods run the sync ones in a worker thread; an asyncio program should use
    :class:`~streamflow.checkpoint.postgres.aio.AsyncPostgresSaver`.
    """

    def __init__(
        self, conn: psycopg.Connection[Any] | ConnectionPool[Any], *, serde: SerializerProtocol | None = None
    ) -> None:
        super().__init__(serde=serde)
        self.conn = conn
        self.lock = threading.Lock()
        self.is_setup = False

    @classmethod
    @contextmanager
    def from_conn_string(cls, conn_string: str, *, serde: SerializerProtocol | None = None) -> Iterator[PostgresSaver]:
        """A saver on a new connection to ``conn_string`` (a libpq connection string or URL), closed when the
        ``with`` block ends (LangGraph's constructor of the same name); ``serde`` as for the constructor."""
        with psycopg.connect(conn_string, autocommit=True) as conn:
            yield cls(conn, serde=serde)

    @contextmanager
    def _cursor(self, *, alone: bool = False) -> Iterator[psycopg.Cursor[Any]]:
        """A cursor inside a transaction of its own, on the connection or on one borrowed from the pool. With
        ``alone`` (a single statement) on an autocommit connection, no ``BEGIN``/``COMMIT`` is sent: the
        statement is its own transaction (one round trip instead of three)."""
        if isinstance(self.conn, ConnectionPool):
            with (
                self.conn.connection() as conn,
                conn.transaction() if own_transaction(conn, alone) else contextlib.nullcontext(),
                conn.cursor(row_factory=tuple_row) as cursor,
            ):
                yield cursor
        else:
            with (
                self.lock,
                self.conn.transaction() if own_transaction(self.conn, alone) else contextlib.nullcontext(),
                self.conn.cursor(row_factory=tuple_row) as cursor,
            ):
                yield cursor

    def setup(self) -> None:
        """Create the tables if they do not exist."""
        with self._cursor() as cursor:
            for statement in DIALECT.schema():
                cursor.execute(statement)
        self.is_setup = True

    def _ready(self) -> None:
        if not self.is_setup:
            self.setup()

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint tuple ``config`` addresses, or None (see
        :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.get_tuple`).

        :raises CheckpointReadError: the stored checkpoint cannot be read back
        """
        sql, params = DIALECT.get(config)
        self._ready()
        with self._cursor() as cursor:
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
        self._ready()
        with self._cursor() as cursor:
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
        self._run([statement])
        return stored

    def put_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        """Store a task's pending writes (see
        :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.put_writes`)."""
        self._run(DIALECT.put_writes(self.serde, config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        """Delete ``thread_id``'s checkpoints and writes (nothing when it has none)."""
        self._run(DIALECT.delete(thread_id))

    def _run(self, statements: Sequence[_sql.Statement]) -> None:
        self._ready()
        with self._cursor(alone=len(statements) == 1) as cursor:
            for statement in statements:
                cursor.execute(*statement)

    def get_next_version(self, current: str | None, channel: None = None) -> str:
        """The version after ``current``: a zero-padded counter and a random fraction (LangGraph's format)."""
        return next_version(current)
