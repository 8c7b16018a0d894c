"""What each saver promises beyond the shared contract: files and servers keep checkpoints across
connections, several threads may use a saver at once, the sync methods of the async savers work from other
threads (and refuse, by name, on the saver's own loop), and a saver with only sync methods gets async twins."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest

from streamflow.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    RunnableConfig,
    copy_checkpoint,
    create_checkpoint,
    empty_checkpoint,
    get_serializable_checkpoint_metadata,
)
from streamflow.checkpoint.memory import InMemorySaver, MemorySaver
from streamflow.checkpoint.sqlite import SqliteSaver
from streamflow.errors import InvalidArgumentError, SyncInAsyncContextError
from tests.checkpoint.helpers import conf, filled
from tests.extras import require_extra


def test_memory_saver_is_the_old_name_of_in_memory_saver() -> None:
    assert MemorySaver is InMemorySaver


def test_a_sqlite_file_keeps_checkpoints_across_connections(tmp_path: Path) -> None:
    path = str(tmp_path / "kept.sqlite")
    with SqliteSaver.from_conn_string(path) as saver:
        stored = saver.put(conf("t"), filled([1, 2]), {"source": "input", "step": -1}, {"value": 1})
        saver.put_writes(stored, [("value", 3)], "task-1")
    with SqliteSaver.from_conn_string(path) as again:
        found = again.get_tuple(conf("t"))
    assert found is not None
    assert found.checkpoint["channel_values"] == {"value": [1, 2]}
    assert found.pending_writes == [("task-1", "value", 3)]


def _synchronous(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA synchronous").fetchone()[0])


def test_sqlite_setup_sets_synchronous_normal_by_default_or_the_one_given(tmp_path: Path) -> None:
    # SQLite's numbers: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA; a new connection starts at FULL
    with SqliteSaver.from_conn_string(str(tmp_path / "a.sqlite")) as saver:
        saver.setup()
        assert _synchronous(saver.conn) == 1
        assert saver.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with SqliteSaver.from_conn_string(str(tmp_path / "b.sqlite"), synchronous="extra") as saver:
        saver.setup()
        assert _synchronous(saver.conn) == 3
    conn = sqlite3.connect(str(tmp_path / "c.sqlite"), check_same_thread=False)
    try:
        saver = SqliteSaver(conn, synchronous=None)
        saver.put(conf("t"), filled(1), {"source": "input", "step": -1}, {})
        assert _synchronous(conn) == 2
        assert saver.get_tuple(conf("t")) is not None
    finally:
        conn.close()


def test_sqlite_refuses_an_unknown_synchronous_value(tmp_path: Path) -> None:
    conn = sqlite3.connect(":memory:")
    try:
        with pytest.raises(InvalidArgumentError, match=r"synchronous must be one of OFF, NORMAL, FULL, EXTRA.*'fast'"):
            SqliteSaver(conn, synchronous="fast")
    finally:
        conn.close()
    with (
        pytest.raises(InvalidArgumentError, match="synchronous"),
        SqliteSaver.from_conn_string(str(tmp_path / "x.sqlite"), synchronous="2"),
    ):
        pass


@pytest.mark.anyio
async def test_async_sqlite_setup_sets_synchronous_as_the_sync_saver(tmp_path: Path) -> None:
    require_extra("aiosqlite", "sqlite")
    from streamflow.checkpoint.sqlite.aio import AsyncSqliteSaver

    async with AsyncSqliteSaver.from_conn_string(str(tmp_path / "a.sqlite")) as saver:
        await saver.setup()
        async with saver.conn.execute("PRAGMA synchronous") as cursor:
            assert (await cursor.fetchone()) == (1,)
    async with AsyncSqliteSaver.from_conn_string(str(tmp_path / "b.sqlite"), synchronous="FULL") as saver:
        await saver.aput(conf("t"), filled(1), {"source": "input", "step": -1}, {})
        async with saver.conn.execute("PRAGMA synchronous") as cursor:
            assert (await cursor.fetchone()) == (2,)
    with pytest.raises(InvalidArgumentError, match="synchronous"):
        async with AsyncSqliteSaver.from_conn_string(str(tmp_path / "c.sqlite"), synchronous="sometimes"):
            pass


def test_from_conn_string_closes_its_connection(tmp_path: Path) -> None:
    with SqliteSaver.from_conn_string(str(tmp_path / "x.sqlite")) as saver:
        saver.setup()
    with pytest.raises(sqlite3.ProgrammingError):
        saver.conn.execute("SELECT 1")


def _put_from_threads(saver: BaseCheckpointSaver[Any], count: int) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            saver.put(conf(f"thread-{n}"), filled(n), {"source": "loop", "step": n}, {"value": 1})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    for n in range(count):
        found = saver.get_tuple(conf(f"thread-{n}"))
        assert found is not None
        assert found.checkpoint["channel_values"] == {"value": n}


def test_a_sqlite_saver_is_used_from_several_threads_at_once(tmp_path: Path) -> None:
    with SqliteSaver.from_conn_string(str(tmp_path / "threads.sqlite")) as saver:
        _put_from_threads(saver, 16)


def test_an_in_memory_saver_is_used_from_several_threads_at_once() -> None:
    _put_from_threads(InMemorySaver(), 16)


@pytest.fixture
def postgres_conninfo_for_test(postgres_conninfo: str) -> str:
    require_extra("psycopg_pool", "postgres")
    return postgres_conninfo


def test_a_postgres_pool_is_used_from_several_threads_at_once(postgres_conninfo_for_test: str) -> None:
    from psycopg_pool import ConnectionPool

    from streamflow.checkpoint.postgres import PostgresSaver

    with ConnectionPool(postgres_conninfo_for_test, min_size=1, max_size=4, open=False) as pool:
        saver = PostgresSaver(pool)
        saver.setup()
        _put_from_threads(saver, 12)


def test_postgres_on_a_connection_outside_autocommit_commits_each_call(postgres_conninfo_for_test: str) -> None:
    import psycopg

    from streamflow.checkpoint.postgres import PostgresSaver

    with psycopg.connect(postgres_conninfo_for_test) as conn:
        saver = PostgresSaver(conn)
        saver.put(conf("not-autocommit"), filled("kept"), {"source": "input", "step": -1}, {"value": 1})
    with PostgresSaver.from_conn_string(postgres_conninfo_for_test) as other:
        found = other.get_tuple(conf("not-autocommit"))
    assert found is not None
    assert found.checkpoint["channel_values"] == {"value": "kept"}


def test_postgres_sends_a_single_statement_without_a_transaction_block_only_when_that_is_safe(
    postgres_conninfo_for_test: str,
) -> None:
    import psycopg

    from streamflow.checkpoint.postgres import PostgresSaver, own_transaction

    thread = f"rolled-back-{uuid.uuid4()}"
    with psycopg.connect(postgres_conninfo_for_test, autocommit=True) as conn:
        assert not own_transaction(conn, alone=True)
        assert own_transaction(conn, alone=False)
        saver = PostgresSaver(conn)
        saver.setup()
        with conn.transaction():
            # a caller's open transaction: a put joins it inside a savepoint, and goes with its rollback
            assert own_transaction(conn, alone=True)
            stored = saver.put(conf(thread), filled("gone"), {"source": "input", "step": -1}, {"value": 1})
            if stored:
                raise psycopg.Rollback()
    with psycopg.connect(postgres_conninfo_for_test) as conn:
        assert own_transaction(conn, alone=True)  # not autocommit: the saver commits its own transaction
    with PostgresSaver.from_conn_string(postgres_conninfo_for_test) as other:
        assert other.get_tuple(conf(thread)) is None


@pytest.mark.anyio
async def test_the_sync_methods_of_async_sqlite_work_from_another_thread_and_refuse_on_the_loop(
    tmp_path: Path,
) -> None:
    require_extra("aiosqlite", "sqlite")
    from streamflow.checkpoint.sqlite.aio import AsyncSqliteSaver

    async with AsyncSqliteSaver.from_conn_string(str(tmp_path / "a.sqlite")) as saver:
        await _sync_twins_from_a_thread(saver)


@pytest.mark.anyio
async def test_the_sync_methods_of_async_postgres_work_from_another_thread_and_refuse_on_the_loop(
    postgres_conninfo_for_test: str,
) -> None:
    from streamflow.checkpoint.postgres.aio import AsyncPostgresSaver

    async with AsyncPostgresSaver.from_conn_string(postgres_conninfo_for_test) as saver:
        await _sync_twins_from_a_thread(saver, f"sync-twins-{uuid.uuid4()}")


async def _sync_twins_from_a_thread(saver: BaseCheckpointSaver[Any], thread: str = "t") -> None:
    def from_thread() -> list[Any]:
        stored = saver.put(conf(thread), filled("v"), {"source": "input", "step": -1}, {"value": 1})
        saver.put_writes(stored, [("value", "w")], "task-1")
        found = saver.get_tuple(conf(thread))
        listed = list(saver.list(conf(thread)))
        saver.delete_thread(thread)
        return [found, listed, saver.get_tuple(conf(thread))]

    found, listed, after = await anyio.to_thread.run_sync(from_thread)
    assert found.checkpoint["channel_values"] == {"value": "v"}
    assert found.pending_writes == [("task-1", "value", "w")]
    assert listed == [found]
    assert after is None
    with pytest.raises(SyncInAsyncContextError, match="aget_tuple"):
        saver.get_tuple(conf(thread))
    with pytest.raises(SyncInAsyncContextError, match="aput"):
        saver.put(conf(thread), filled("v"), {}, {})


class DictSaver(BaseCheckpointSaver[int]):
    """A saver with only the sync methods, keeping the newest checkpoint of each thread."""

    def __init__(self) -> None:
        super().__init__()
        self.kept: dict[str, CheckpointTuple] = {}

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self.kept.get(config["configurable"]["thread_id"])

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        yield from self.kept.values()

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        thread = config["configurable"]["thread_id"]
        stored = {"configurable": {"thread_id": thread, "checkpoint_ns": "", "checkpoint_id": checkpoint["id"]}}
        self.kept[thread] = CheckpointTuple(stored, checkpoint, metadata)
        return stored

    def put_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        return None

    def delete_thread(self, thread_id: str) -> None:
        self.kept.pop(thread_id, None)


@pytest.mark.anyio
async def test_a_saver_with_only_sync_methods_gets_async_twins() -> None:
    saver = DictSaver()
    made = filled(1)
    stored = await saver.aput(conf("t"), made, {"step": 0}, {})
    assert (await saver.aget(stored)) == made
    assert [t.checkpoint async for t in saver.alist(None)] == [made]
    await saver.aput_writes(stored, [("a", 1)], "task")
    await saver.adelete_thread("t")
    assert await saver.aget_tuple(conf("t")) is None
    assert saver.get_next_version(None, None) == 1
    assert saver.get_next_version(1, None) == 2


def test_the_base_saver_leaves_the_methods_to_subclasses() -> None:
    saver: BaseCheckpointSaver[int] = BaseCheckpointSaver()
    with pytest.raises(NotImplementedError):
        saver.get_tuple(conf("t"))
    with pytest.raises(NotImplementedError):
        saver.get_next_version("1", None)  # type: ignore[arg-type]


def test_checkpoint_helpers_as_langgraphs() -> None:
    first = empty_checkpoint()
    assert first["v"] == 2
    assert first["channel_values"] == {}
    assert first.get("pending_sends") == []
    copy = copy_checkpoint(first)
    copy["channel_versions"]["a"] = 1
    assert first["channel_versions"] == {}

    class Channel:
        def __init__(self, value: Any) -> None:
            self.value = value

        def checkpoint(self) -> Any:
            if self.value is None:
                raise LookupError("empty")
            return self.value

    base = {**first, "channel_versions": {"a": 1, "b": 1}}
    made = create_checkpoint(base, {"a": Channel(5), "b": Channel(None), "c": Channel(7)}, 3)  # type: ignore[arg-type]
    assert made["channel_values"] == {"a": 5}
    assert made["id"] > first["id"]
    assert create_checkpoint(first, None, 0, id="given")["id"] == "given"
    assert get_serializable_checkpoint_metadata(
        {"configurable": {"thread_id": "t", "who": "ann"}},
        {"step": 1, "writes": {"x": 1}},  # type: ignore[typeddict-unknown-key]
    ) == {"step": 1, "who": "ann"}


def test_put_writes_without_a_checkpoint_id_names_it(tmp_path: Path) -> None:
    with (
        SqliteSaver.from_conn_string(str(tmp_path / "w.sqlite")) as saver,
        pytest.raises(InvalidArgumentError, match=r"checkpoint_id.*the config put returned"),
    ):
        saver.put_writes(conf("t"), [("a", 1)], "task")


def test_postgres_writes_a_batch_of_inserts_as_one_statement_of_fixed_text() -> None:
    pytest.importorskip("psycopg")
    from streamflow.checkpoint.postgres import BATCH_INSERT, DIALECT, batched

    serde = InMemorySaver().serde
    config = {"configurable": {"thread_id": "t", "checkpoint_ns": "", "checkpoint_id": "c0"}}
    made = empty_checkpoint()
    made["id"] = "c1"
    put, _stored = DIALECT.put(serde, config, made, {})
    writes = DIALECT.put_writes(serde, config, [("a", 1), ("__error__", "x")], "task", "")
    again = DIALECT.put_writes(serde, config, [("a", 2), ("__error__", "y")], "task", "")
    ((sql, params),) = batched([*writes, put, *again])
    assert sql == BATCH_INSERT
    # one row per key: the checkpoint, the special write as last given, the ordinary one as first given
    checkpoints, replacing, keeping = params[:8], params[8:17], params[17:]
    assert checkpoints[2] == ["c1"]
    assert replacing[5] == ["__error__"] and replacing[7] == [serde.dumps_typed("y")[1]]
    assert keeping[5] == ["a"] and keeping[7] == [serde.dumps_typed(1)[1]]
    # with a statement of another kind, each is a data-modifying WITH query of the last
    ((fused, _params),) = batched([put, *DIALECT.delete("t")])
    assert fused.startswith("WITH w0 AS (INSERT INTO streamflow_checkpoints ")


def test_bump_versions_gives_each_key_the_version_after_its_own() -> None:
    versions: dict[str, Any] = {"a": "00000000000000000000000000000003.0.5", "b": None}
    InMemorySaver().bump_versions(versions, ["a", "b", "c"])
    assert [v.split(".")[0] for v in versions.values()] == [f"{n:032}" for n in (4, 1, 1)]
    assert versions["a"] > "00000000000000000000000000000003.0.5"

    class Counting(InMemorySaver):
        def get_next_version(self, current: str | None, channel: None = None) -> str:
            return f"{int(current or 0) + 1}"

    counted: dict[str, Any] = {"a": "1"}
    Counting().bump_versions(counted, ["a", "b"])  # an override of get_next_version is what is used
    assert counted == {"a": "2", "b": "1"}


def test_a_saver_that_cannot_write_at_once_says_so() -> None:
    assert InMemorySaver().write_staged_nowait([]) is False
