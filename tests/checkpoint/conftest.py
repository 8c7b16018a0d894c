"""The savers the conformance suite runs against, behind one async driver.

Each kind is a saver as a program would make it: ``InMemorySaver`` and ``SqliteSaver`` on a file (each
driven through its sync and its async methods), ``AsyncSqliteSaver``, and the PostgreSQL savers against the
machine's real server at 127.0.0.1:5432 (database ``test``), on a connection and on a pool, sync and async.
The PostgreSQL savers work in a schema of this test session's own (dropped at its end), and every test uses
threads of its own (random ids), so tests are independent and test sessions may run at the same time.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest

from streamflow.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    RunnableConfig,
)
from streamflow.checkpoint.memory import InMemorySaver
from streamflow.checkpoint.sqlite import SqliteSaver
from tests.extras import require_extra

POSTGRES = os.environ.get("STREAMFLOW_TEST_POSTGRES", "host=127.0.0.1 port=5432 dbname=test user=postgres")
"""The libpq connection string of the test server (``.ci/postgres-up`` makes sure it answers)."""

KINDS = [
    "memory",
    "memory-async",
    "sqlite",
    "sqlite-sync-async",
    "sqlite-async",
    "postgres",
    "postgres-pool",
    "postgres-async",
    "postgres-async-pool",
]

Damage = Callable[[str, str], Awaitable[None]]


@attrs.define
class Driver:
    """One saver, driven through its sync methods (called directly) or its async ones."""

    kind: str
    saver: BaseCheckpointSaver[Any]
    use_async: bool
    damage: Damage
    """Overwrite the stored checkpoint (thread id, checkpoint id) of the root namespace with bytes that are not
    a checkpoint, behind the saver's back."""

    async def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        if self.use_async:
            return await self.saver.aput(config, checkpoint, metadata, new_versions)
        return self.saver.put(config, checkpoint, metadata, new_versions)

    async def put_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        if self.use_async:
            await self.saver.aput_writes(config, writes, task_id, task_path)
        else:
            self.saver.put_writes(config, writes, task_id, task_path)

    async def put_step(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
        writes: Sequence[tuple[str, Sequence[tuple[str, Any]]]],
    ) -> RunnableConfig:
        if self.use_async:
            return await self.saver.aput_step(config, checkpoint, metadata, new_versions, writes)
        return self.saver.put_step(config, checkpoint, metadata, new_versions, writes)

    async def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        if self.use_async:
            return await self.saver.aget_tuple(config)
        return self.saver.get_tuple(config)

    async def get(self, config: RunnableConfig) -> Checkpoint | None:
        if self.use_async:
            return await self.saver.aget(config)
        return self.saver.get(config)

    async def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> list[CheckpointTuple]:
        if self.use_async:
            return [item async for item in self.saver.alist(config, filter=filter, before=before, limit=limit)]
        return list(self.saver.list(config, filter=filter, before=before, limit=limit))

    async def delete_thread(self, thread_id: str) -> None:
        if self.use_async:
            await self.saver.adelete_thread(thread_id)
        else:
            self.saver.delete_thread(thread_id)


NOT_A_CHECKPOINT = b"\xc1 not msgpack"
"""Bytes no MessagePack reader accepts (0xc1 is never used)."""


def _postgres_or_skip() -> None:
    import psycopg

    try:
        psycopg.connect(POSTGRES, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        reason = f"no PostgreSQL answers at {POSTGRES!r} (bash .ci/postgres-up starts it): {exc}"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_conninfo() -> Iterator[str]:
    """The connection string of a new schema (dropped after the session) on the test server."""
    import psycopg

    _postgres_or_skip()
    schema = f"sf_test_{uuid.uuid4().hex}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{POSTGRES} options='-c search_path={schema}'"
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=KINDS)
async def driver(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Driver]:
    kind: str = request.param
    if kind.startswith("memory"):
        memory = InMemorySaver()

        async def damage_memory(thread_id: str, checkpoint_id: str) -> None:
            _, metadata, parent = memory.storage[thread_id][""][checkpoint_id]
            memory.storage[thread_id][""][checkpoint_id] = (("msgpack", NOT_A_CHECKPOINT), metadata, parent)

        yield Driver(kind, memory, kind.endswith("async"), damage_memory)
    elif kind.startswith("sqlite"):
        path = str(tmp_path / "checkpoints.sqlite")

        async def damage_sqlite(thread_id: str, checkpoint_id: str) -> None:
            with sqlite3.connect(path) as conn:
                conn.execute(
                    "UPDATE streamflow_checkpoints SET checkpoint = ? WHERE thread_id = ? AND checkpoint_id = ?",
                    (NOT_A_CHECKPOINT, thread_id, checkpoint_id),
                )

        if kind in ("sqlite", "sqlite-sync-async"):
            with SqliteSaver.from_conn_string(path) as sqlite_saver:
                yield Driver(kind, sqlite_saver, kind.endswith("async"), damage_sqlite)
        else:
            require_extra("aiosqlite", "sqlite")
            from streamflow.checkpoint.sqlite.aio import AsyncSqliteSaver

            async with AsyncSqliteSaver.from_conn_string(path) as async_sqlite:
                yield Driver(kind, async_sqlite, True, damage_sqlite)
    else:
        require_extra("psycopg_pool", "postgres")
        conninfo: str = request.getfixturevalue("postgres_conninfo")
        async for found in _postgres_driver(kind, conninfo):
            yield found


async def _postgres_driver(kind: str, conninfo: str) -> AsyncIterator[Driver]:
    import psycopg
    from psycopg_pool import AsyncConnectionPool, ConnectionPool

    from streamflow.checkpoint.postgres import PostgresSaver
    from streamflow.checkpoint.postgres.aio import AsyncPostgresSaver

    async def damage_postgres(thread_id: str, checkpoint_id: str) -> None:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(
                "UPDATE streamflow_checkpoints SET checkpoint = %s WHERE thread_id = %s AND checkpoint_id = %s",
                (NOT_A_CHECKPOINT, thread_id, checkpoint_id),
            )

    if kind == "postgres":
        with PostgresSaver.from_conn_string(conninfo) as saver:
            saver.setup()
            yield Driver(kind, saver, False, damage_postgres)
    elif kind == "postgres-pool":
        with ConnectionPool(conninfo, min_size=1, max_size=2, open=False) as pool:
            pooled = PostgresSaver(pool)
            pooled.setup()
            yield Driver(kind, pooled, False, damage_postgres)
    elif kind == "postgres-async":
        async with AsyncPostgresSaver.from_conn_string(conninfo) as async_saver:
            await async_saver.setup()
            yield Driver(kind, async_saver, True, damage_postgres)
    else:
        async with AsyncConnectionPool(conninfo, min_size=1, max_size=2, open=False) as async_pool:
            async_pooled = AsyncPostgresSaver(async_pool)
            await async_pooled.setup()
            yield Driver(kind, async_pooled, True, damage_postgres)
