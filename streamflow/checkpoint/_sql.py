"""What the SQLite and PostgreSQL savers share: their tables, the statements per dialect, and the turning of
rows into checkpoint tuples (pure: the savers in :mod:`streamflow.checkpoint._fronts` run the statements on
their own drivers).

Two tables (streamflow's own format, not LangGraph's: the savers neither read nor write LangGraph's
tables). ``streamflow_checkpoints`` holds one row per checkpoint: the checkpoint with its channel values, and
its metadata, each as the serializer's ``(type, bytes)``. ``streamflow_checkpoint_writes`` holds one row per
pending write, keyed by checkpoint, task id and index. Metadata filters of ``list`` are applied to the
deserialized metadata, so they mean the same on every saver.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import attrs

from ..errors import CheckpointReadError
from ._tuples import ListScope, Put, decode_tuple, first_matching, get_target, write_slots, writes_target
from .base import (
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    RunnableConfig,
    SerializerProtocol,
    read_stored,
)

__all__: list[str] = []

CHECKPOINT_COLUMNS = (
    "thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata_type, metadata"
)
WRITE_COLUMNS = "task_id, channel, type, value"

Row = Sequence[Any]
Statement = tuple[str, tuple[Any, ...]]

_INSERT_CHECKPOINT = "INSERT INTO streamflow_checkpoints "
_INSERT_WRITE = "INSERT INTO streamflow_checkpoint_writes "
ALL_WRITE_COLUMNS = "thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, value, task_path"
CHECKPOINT_UPSERT = (
    "ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET "
    "parent_checkpoint_id = excluded.parent_checkpoint_id, type = excluded.type, "
    "checkpoint = excluded.checkpoint, metadata_type = excluded.metadata_type, metadata = excluded.metadata"
)
"""How storing a checkpoint already stored goes: it is replaced."""
WRITE_CONFLICT = "ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) "
WRITE_REPLACE = (
    "DO UPDATE SET channel = excluded.channel, type = excluded.type, value = excluded.value, "
    "task_path = excluded.task_path"
)
"""How a write to a special channel goes when one is stored under its task and index: it replaces it."""
WRITE_KEEP = "DO NOTHING"
"""How an ordinary write goes when one is stored under its task and index: the stored one is kept."""


class InsertRows(NamedTuple):
    """The rows of a run of ``INSERT`` statements of :class:`Dialect`, by what a stored row becomes, each key
    once, as running the statements in order would leave it: the checkpoints and the replacing writes as
    last given, the kept writes as first given."""

    checkpoints: list[tuple[Any, ...]]
    replacing: list[tuple[Any, ...]]
    keeping: list[tuple[Any, ...]]

    @classmethod
    def of(cls, statements: Sequence[Statement]) -> InsertRows | None:
        """The rows of ``statements``; None when one is not such an ``INSERT``."""
        checkpoints: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        replacing: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        keeping: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        for sql, params in statements:
            if sql.startswith(_INSERT_CHECKPOINT):
                checkpoints[params[:3]] = params
            elif not sql.startswith(_INSERT_WRITE):
                return None
            elif sql.endswith(WRITE_KEEP):
                keeping.setdefault(params[:5], params)
            else:
                replacing[params[:5]] = params
        return cls(list(checkpoints.values()), list(replacing.values()), list(keeping.values()))


def row_key(statement: Statement) -> tuple[Any, ...] | None:
    """The table and primary key of the row an ``INSERT`` of :class:`Dialect` writes; None for another
    statement."""
    sql, params = statement
    if sql.startswith(_INSERT_CHECKPOINT):
        return ("checkpoint", *params[:3])
    if sql.startswith(_INSERT_WRITE):
        return ("write", *params[:5])
    return None


@attrs.frozen
class Dialect:
    """How one database spells what the statements need."""

    param: str
    """The parameter placeholder (``?`` for sqlite3, ``%s`` for psycopg)."""
    blob: str
    """The binary column type."""
    collate: str
    """Appended to text ``ORDER BY`` terms so they sort by code point, as Python sorts strings."""

    def schema(self) -> list[str]:
        """The statements creating the tables and index (each does nothing when they exist)."""
        return [
            f"""CREATE TABLE IF NOT EXISTS streamflow_checkpoints (
                thread_id TEXT NOT NULL,
                checkpoint_ns TEXT NOT NULL DEFAULT '',
                checkpoint_id TEXT NOT NULL,
                parent_checkpoint_id TEXT,
                type TEXT NOT NULL,
                checkpoint {self.blob} NOT NULL,
                metadata_type TEXT NOT NULL,
                metadata {self.blob} NOT NULL,
                PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
            )""",
            f"""CREATE TABLE IF NOT EXISTS streamflow_checkpoint_writes (
                thread_id TEXT NOT NULL,
                checkpoint_ns TEXT NOT NULL DEFAULT '',
                checkpoint_id TEXT NOT NULL,
                task_id TEXT NOT NULL,
                idx INTEGER NOT NULL,
                channel TEXT NOT NULL,
                type TEXT NOT NULL,
                value {self.blob} NOT NULL,
                task_path TEXT NOT NULL DEFAULT '',
                PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
            )""",
        ]

    def _params(self, count: int) -> str:
        return ", ".join([self.param] * count)

    def put(
        self,
        serde: SerializerProtocol,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
    ) -> tuple[Statement, dict[str, Any]]:
        """The statement storing ``checkpoint``, and the config ``put`` returns."""
        put = Put.of(serde, config, checkpoint, metadata)
        sql = f"{_INSERT_CHECKPOINT}({CHECKPOINT_COLUMNS}) VALUES ({self._params(8)}) {CHECKPOINT_UPSERT}"
        row = (put.thread_id, put.checkpoint_ns, put.checkpoint_id, put.parent_id, *put.checkpoint, *put.metadata)
        return (sql, row), put.config

    def put_writes(
        self,
        serde: SerializerProtocol,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str,
    ) -> list[Statement]:
        """The statements storing a task's writes: a write to a special channel replaces a stored one, an
        ordinary write is ignored when one is stored under its task and index."""
        thread_id, checkpoint_ns, checkpoint_id = writes_target(config)
        insert = f"{_INSERT_WRITE}({ALL_WRITE_COLUMNS}) VALUES ({self._params(9)}) {WRITE_CONFLICT}"
        replace = insert + WRITE_REPLACE
        keep = insert + WRITE_KEEP
        statements = []
        for idx, replaces, channel, value in write_slots(writes):
            kind, data = serde.dumps_typed(value)
            row = (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, kind, data, task_path)
            statements.append((replace if replaces else keep, row))
        return statements

    def get(self, config: RunnableConfig) -> Statement:
        """The query for the checkpoint row ``config`` addresses (its thread's newest without an id)."""
        thread_id, checkpoint_ns, checkpoint_id = get_target(config)
        sql = (
            f"SELECT {CHECKPOINT_COLUMNS} FROM streamflow_checkpoints "
            f"WHERE thread_id = {self.param} AND checkpoint_ns = {self.param}"
        )
        params: tuple[Any, ...] = (thread_id, checkpoint_ns)
        if checkpoint_id:
            return f"{sql} AND checkpoint_id = {self.param}", (*params, checkpoint_id)
        return f"{sql} ORDER BY checkpoint_id{self.collate} DESC LIMIT 1", params

    def list_query(
        self, config: RunnableConfig | None, before: RunnableConfig | None, limit: int | None, filtered: bool
    ) -> Statement:
        """The query for ``list``'s checkpoint rows, newest first (the limit is left to the caller when a
        metadata filter applies)."""
        scope = ListScope.of(config, before)
        where: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("thread_id", scope.thread_id),
            ("checkpoint_ns", scope.checkpoint_ns),
            ("checkpoint_id", scope.checkpoint_id or None),
        ):
            if value is not None:
                where.append(f"{column} = {self.param}")
                params.append(value)
        if scope.before_id:
            where.append(f"checkpoint_id{self.collate} < {self.param}")
            params.append(scope.before_id)
        sql = f"SELECT {CHECKPOINT_COLUMNS} FROM streamflow_checkpoints"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY checkpoint_id{self.collate} DESC, thread_id{self.collate}, checkpoint_ns{self.collate}"
        if limit is not None and not filtered:
            sql += f" LIMIT {max(int(limit), 0)}"
        return sql, tuple(params)

    def writes(self, row: Row) -> Statement:
        """The query for the pending writes of a checkpoint row, in LangGraph's order."""
        return (
            f"SELECT {WRITE_COLUMNS} FROM streamflow_checkpoint_writes WHERE thread_id = {self.param} "
            f"AND checkpoint_ns = {self.param} AND checkpoint_id = {self.param} "
            f"ORDER BY task_path{self.collate}, task_id{self.collate}, idx",
            (row[0], row[1], row[2]),
        )

    def delete(self, thread_id: str) -> list[Statement]:
        """The statements deleting a thread."""
        return [
            (f"DELETE FROM streamflow_checkpoints WHERE thread_id = {self.param}", (str(thread_id),)),
            (f"DELETE FROM streamflow_checkpoint_writes WHERE thread_id = {self.param}", (str(thread_id),)),
        ]


def metadata_of(serde: SerializerProtocol, row: Row) -> Any:
    """The deserialized metadata of a checkpoint row."""
    return read_stored(serde, (row[6], bytes(row[7])), (row[0], row[1], row[2]))


def to_tuple(serde: SerializerProtocol, row: Row, writes: Iterable[Row]) -> CheckpointTuple:
    """A checkpoint row and its write rows as a :class:`CheckpointTuple`.

    :raises CheckpointReadError: a stored value cannot be read back
    """
    where = (row[0], row[1], row[2])
    checkpoint = read_stored(serde, (row[4], bytes(row[5])), where)
    if not isinstance(checkpoint, dict) or "channel_values" not in checkpoint:
        raise CheckpointReadError(*where, f"the stored value is a {type(checkpoint).__name__}, not a checkpoint")
    stored_writes = ((w[0], w[1], (w[2], bytes(w[3]))) for w in writes)
    return decode_tuple(serde, where, checkpoint, (row[6], bytes(row[7])), row[3], stored_writes)


def limited(
    rows: Iterable[Row], serde: SerializerProtocol, filter: Mapping[str, Any] | None, limit: int | None
) -> list[Row]:
    """The rows that pass ``filter``, at most ``limit`` of them."""
    return first_matching(rows, lambda row: metadata_of(serde, row), filter, limit)
