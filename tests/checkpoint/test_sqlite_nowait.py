"""The SQLite savers' async methods read and write on the event loop's thread when that needs no waiting (a
second connection to the file, busy timeout 0), and in the worker thread otherwise: a locked database, a
call already under way, a database in memory or one whose commits wait for the disk."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from streamflow.checkpoint.sqlite import DIALECT, SqliteSaver, _nowait
from tests.checkpoint.helpers import conf, filled
from tests.extras import require_extra

pytestmark = pytest.mark.anyio


class Hops:
    """Counts a saver's calls made in its worker thread (the sync saver's ``_blocking``, the async saver's
    ``_in_thread``)."""

    def __init__(self, saver: Any) -> None:
        self.count = 0
        name = "_in_thread" if hasattr(saver, "_in_thread") else "_blocking"
        original: Callable[..., Any] = getattr(saver, name)

        async def counted(*args: Any) -> Any:
            self.count += 1
            return await original(*args)

        setattr(saver, name, counted)


@pytest.fixture(params=["sync", "async"])
async def saver(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    """A saver of each kind on a file, set up."""
    path = str(tmp_path / "nowait.sqlite")
    if request.param == "sync":
        with SqliteSaver.from_conn_string(path) as sync_saver:
            sync_saver.setup()
            yield sync_saver
    else:
        require_extra("aiosqlite", "sqlite")
        from streamflow.checkpoint.sqlite.aio import AsyncSqliteSaver

        async with AsyncSqliteSaver.from_conn_string(path) as async_saver:
            await async_saver.setup()
            yield async_saver


def _locker(saver: Any) -> sqlite3.Connection:
    """Another connection to the saver's file, holding its write lock."""
    assert saver.nowait is not None
    ((_seq, _name, path),) = saver.nowait.conn.execute("PRAGMA database_list").fetchall()
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    return locker


async def test_reads_and_writes_of_a_free_database_take_no_thread_hop(saver: Any) -> None:
    hops = Hops(saver)
    stored = await saver.aput(conf("t"), filled(1), {"source": "input", "step": -1}, {"value": 1})
    await saver.aput_writes(stored, [("value", 2)], "task-1")
    found = await saver.aget_tuple(conf("t"))
    assert hops.count == 0
    assert found is not None
    assert found.checkpoint["channel_values"] == {"value": 1}
    assert found.pending_writes == [("task-1", "value", 2)]
    await saver.adelete_thread("t")
    assert await saver.aget_tuple(conf("t")) is None
    assert hops.count == 0


async def test_a_write_to_a_locked_database_waits_in_the_worker_thread_not_on_the_loop(saver: Any) -> None:
    hops = Hops(saver)
    locker = _locker(saver)
    try:
        put = asyncio.create_task(saver.aput(conf("t"), filled(1), {"source": "input", "step": -1}, {}))
        await asyncio.sleep(0)
        assert not put.done()  # the loop runs on while the write waits for the lock
        assert hops.count == 1
    finally:
        locker.execute("COMMIT")
        locker.close()
    stored = await put
    assert stored["configurable"]["thread_id"] == "t"
    found = await saver.aget_tuple(conf("t"))
    assert found is not None and found.checkpoint["channel_values"] == {"value": 1}


async def test_a_read_of_a_database_being_written_needs_no_wait(saver: Any) -> None:
    await saver.aput(conf("t"), filled(1), {"source": "input", "step": -1}, {})
    hops = Hops(saver)
    locker = _locker(saver)
    try:
        found = await saver.aget_tuple(conf("t"))
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert found is not None and found.checkpoint["channel_values"] == {"value": 1}
    assert hops.count == 0


async def test_a_call_under_way_on_the_saver_goes_first(saver: Any) -> None:
    """While the saver's lock is held (a call in its worker thread), a write waits its turn instead of
    passing on the loop."""
    hops = Hops(saver)
    if isinstance(saver, SqliteSaver):
        held, done = threading.Event(), threading.Event()

        def hold() -> None:
            with saver.lock:
                held.set()
                done.wait()

        holder = threading.Thread(target=hold)
        holder.start()
        held.wait()
        release = done.set
    else:
        await saver.lock.acquire()
        release = saver.lock.release
    try:
        put = asyncio.create_task(saver.aput(conf("t"), filled(1), {"source": "input", "step": -1}, {}))
        await asyncio.sleep(0)
        assert not put.done()
    finally:
        release()
    await put
    assert hops.count == 1
    assert (await saver.aget_tuple(conf("t"))) is not None
    if isinstance(saver, SqliteSaver):
        holder.join()


async def test_the_saver_s_own_connection_writes_after_a_bounded_number_of_commits(
    saver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """So that it checkpoints the WAL, which the loop's connection never does."""
    monkeypatch.setattr(_nowait, "COMMITS_BEFORE_HANDOFF", 3)
    hops = Hops(saver)
    for i in range(8):
        await saver.aput(conf(f"t{i}"), filled(i), {"source": "input", "step": -1}, {})
    assert hops.count == 2  # the 4th and the 8th
    assert [(await saver.aget_tuple(conf(f"t{i}"))) is not None for i in range(8)] == [True] * 8


async def test_from_conn_string_closes_the_loop_s_connection(saver: Any) -> None:
    assert saver.nowait is not None and not saver.nowait.closed


def test_the_loop_s_connection_is_closed_with_the_saver(tmp_path: Path) -> None:
    path = str(tmp_path / "closed.sqlite")
    with SqliteSaver.from_conn_string(path) as saver:
        saver.setup()
        nowait = saver.nowait
    assert nowait is not None and nowait.closed
    assert nowait.write([]) is False
    conn = sqlite3.connect(path, check_same_thread=False)
    try:
        mine = SqliteSaver(conn)
        mine.setup()
        nowait = mine.nowait
        assert nowait is not None and not nowait.closed
        del mine
        gc.collect()
        assert nowait.closed
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("where", "synchronous"), [(":memory:", "NORMAL"), ("file", "FULL"), ("file", "EXTRA"), ("file", "OFF")]
)
def test_no_loop_connection_where_it_would_wait_for_the_disk_or_see_another_database(
    tmp_path: Path, where: str, synchronous: str
) -> None:
    path = ":memory:" if where == ":memory:" else str(tmp_path / "db.sqlite")
    with SqliteSaver.from_conn_string(path, synchronous=synchronous) as saver:
        saver.setup()
        assert (saver.nowait is not None) == (where == "file" and synchronous in ("OFF", "NORMAL"))


def test_no_loop_connection_without_the_wal_journal(tmp_path: Path) -> None:
    conn = sqlite3.connect(str(tmp_path / "db.sqlite"), check_same_thread=False)
    try:
        for statement in DIALECT.schema():
            conn.execute(statement)
        conn.commit()
        assert _nowait.NowaitConnection.open(conn) is None
    finally:
        conn.close()


async def test_staged_saves_are_written_at_once_unless_the_database_is_locked(saver: Any) -> None:
    staged, config = saver.stage_step(conf("t"), filled(1), {"source": "input", "step": -1}, {}, ())
    locker = _locker(saver)
    try:
        assert saver.write_staged_nowait([staged]) is False
    finally:
        locker.execute("COMMIT")
        locker.close()
    assert await saver.aget_tuple(conf("t")) is None  # nothing was written
    assert saver.write_staged_nowait([staged]) is True
    found = await saver.aget_tuple(config)
    assert found is not None and found.checkpoint["channel_values"] == {"value": 1}
    assert saver.write_staged_nowait([]) is True
