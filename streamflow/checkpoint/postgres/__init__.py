"""A saver on PostgreSQL, LangGraph's ``langgraph.checkpoint.postgres`` (``PostgresSaver``), on psycopg 3
(the ``postgres`` extra: ``psycopg`` and ``psycopg-pool``).

The async saver is :class:`streamflow.checkpoint.postgres.aio.AsyncPostgresSaver`. The tables are
streamflow's own (see :mod:`streamflow.checkpoint._sql`): LangGraph's tables are neither read nor written.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from ...errors import MissingExtraError
from .. import _sql
from .._fronts import Found, SqlSaver, read_many, read_one
from ..serde.base import SerializerProtocol

try:
    import psycopg
    from psycopg.rows import tuple_row
    from psycopg_pool import ConnectionPool
except ImportError as exc:  # pragma: no cover - the extra is installed in the test environment
    raise MissingExtraError("PostgresSaver", "postgres", exc.name or "psycopg") from exc

__all__ = ["PostgresSaver"]

DIALECT = _sql.Dialect(param="%s", blob="BYTEA", collate=' COLLATE "C"')

_T = TypeVar("_T")


def own_transaction(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any], alone: bool) -> bool:
    """Whether a call on ``conn`` needs a transaction block: not for a single statement, or statements that
    need not see one snapshot (``alone``), on an autocommit connection outside any transaction, where each
    statement is a transaction by itself."""
    idle = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    return not (alone and conn.autocommit and idle)


def transaction(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any], alone: bool) -> Any:
    """The (sync or async) context a call on ``conn`` runs in: a transaction block when
    :func:`own_transaction` says so, else nothing (the statement is its own transaction: one round trip
    instead of three)."""
    return conn.transaction() if own_transaction(conn, alone) else contextlib.nullcontext()


def _unnest(types: str) -> str:
    return "SELECT * FROM unnest(" + ", ".join(f"%s::{t}[]" for t in types.split()) + ")"


BATCH_INSERT = (
    f"WITH c AS (INSERT INTO streamflow_checkpoints ({_sql.CHECKPOINT_COLUMNS}) "
    f"{_unnest('text text text text text bytea text bytea')} {_sql.CHECKPOINT_UPSERT}), "
    f"r AS (INSERT INTO streamflow_checkpoint_writes ({_sql.ALL_WRITE_COLUMNS}) "
    f"{_unnest('text text text text integer text text bytea text')} {_sql.WRITE_CONFLICT}{_sql.WRITE_REPLACE}) "
    f"INSERT INTO streamflow_checkpoint_writes ({_sql.ALL_WRITE_COLUMNS}) "
    f"{_unnest('text text text text integer text text bytea text')} {_sql.WRITE_CONFLICT}{_sql.WRITE_KEEP}"
)
"""Checkpoints, replacing writes and kept writes, each column as an array: one statement whose text is the
same whatever the number of rows, so psycopg parses it once and the server prepares it."""


def batched(statements: Sequence[_sql.Statement]) -> list[_sql.Statement]:
    """``statements`` as few statements as one transaction runs them: the ``INSERT``s of checkpoints and
    writes as one :data:`BATCH_INSERT` (when there are several), others as :func:`fused` makes them."""
    if len(statements) < 2:
        return list(statements)
    rows = _sql.InsertRows.of(statements)
    if rows is None:
        return fused(statements)
    params: list[list[Any]] = []
    for kind, width in ((rows.checkpoints, 8), (rows.replacing, 9), (rows.keeping, 9)):
        params.extend([row[i] for row in kind] for i in range(width))
    return [(BATCH_INSERT, tuple(params))]


MAX_PARAMS = 32_000
"""The most parameters :func:`fused` puts in one statement (PostgreSQL's protocol allows 65,535)."""


def fused(statements: Sequence[_sql.Statement]) -> list[_sql.Statement]:
    """``statements`` (``INSERT``s and ``DELETE``s) as few statements: all but the last of a run as
    data-modifying ``WITH`` queries of its last, so an autocommit connection runs a single one as one
    transaction in one round trip. A new statement starts where one would touch a row an earlier ``INSERT``
    of it touches (the queries of one statement see the same snapshot, not each other's rows), or go beyond
    :data:`MAX_PARAMS` parameters."""
    if len(statements) < 2:
        return list(statements)
    out: list[_sql.Statement] = []
    run: list[_sql.Statement] = []
    rows: set[tuple[Any, ...]] = set()
    params = 0
    for statement in statements:
        row = _sql.row_key(statement)
        if run and (row in rows or params + len(statement[1]) > MAX_PARAMS):
            out.append(_one(run))
            run, rows, params = [], set(), 0
        run.append(statement)
        params += len(statement[1])
        if row is not None:
            rows.add(row)
    out.append(_one(run))
    return out


def _one(statements: Sequence[_sql.Statement]) -> _sql.Statement:
    if len(statements) == 1:
        return statements[0]
    parts = [f"w{i} AS ({sql})" for i, (sql, _params) in enumerate(statements[:-1])]
    sql = "WITH " + ", ".join(parts) + " " + statements[-1][0]
    return sql, tuple(p for _sql_text, params in statements for p in params)


def execute_all(cursor: psycopg.Cursor[Any], statements: Sequence[_sql.Statement]) -> None:
    """Run ``statements`` on ``cursor``, in order."""
    for statement in statements:
        cursor.execute(*statement)


class PostgresSaver(SqlSaver):
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

    dialect = DIALECT

    def __init__(
        self, conn: psycopg.Connection[Any] | ConnectionPool[Any], *, serde: SerializerProtocol | None = None
    ) -> None:
        super().__init__(conn, serde=serde)
        self.conn: psycopg.Connection[Any] | ConnectionPool[Any] = conn

    @classmethod
    @contextmanager
    def from_conn_string(cls, conn_string: str, *, serde: SerializerProtocol | None = None) -> Iterator[PostgresSaver]:
        """A saver on a new connection to ``conn_string`` (a libpq connection string or URL), closed when the
        ``with`` block ends (LangGraph's constructor of the same name); ``serde`` as for the constructor."""
        with psycopg.connect(conn_string, autocommit=True) as conn:
            yield cls(conn, serde=serde)

    @contextmanager
    def _cursor(self, *, alone: bool = False) -> Iterator[psycopg.Cursor[Any]]:
        """A cursor inside a transaction of its own (see :func:`transaction`), on the connection or on one
        borrowed from the pool; ``alone`` as for :func:`own_transaction`."""
        if isinstance(self.conn, ConnectionPool):
            with (
                self.conn.connection() as conn,
                transaction(conn, alone),
                conn.cursor(row_factory=tuple_row) as cursor,
            ):
                yield cursor
        else:
            with self.lock, transaction(self.conn, alone), self.conn.cursor(row_factory=tuple_row) as cursor:
                yield cursor

    def setup(self) -> None:
        """Create the tables if they do not exist."""
        with self._cursor() as cursor:
            for statement in DIALECT.schema():
                cursor.execute(statement)
        self.is_setup = True

    def _call(self, fn: Callable[..., _T], *args: Any, alone: bool = False) -> _T:
        """``fn(cursor, *args)`` on a cursor of :meth:`_cursor`, the tables set up first."""
        if not self.is_setup:
            self.setup()
        with self._cursor(alone=alone) as cursor:
            return fn(cursor, *args)

    def _read_one(self, query: _sql.Statement) -> Found | None:
        # no transaction block: a checkpoint's writes read a moment after it are the same or more (one round
        # trip instead of three when the thread has no checkpoint)
        return self._call(read_one, DIALECT, query, alone=True)

    def _read_many(self, query: _sql.Statement, filter: dict[str, Any] | None, limit: int | None) -> list[Found]:
        return self._call(read_many, DIALECT, query, self.serde, filter, limit)

    def _write(self, statements: Sequence[_sql.Statement]) -> None:
        statements = batched(statements)
        self._call(execute_all, statements, alone=len(statements) == 1)
