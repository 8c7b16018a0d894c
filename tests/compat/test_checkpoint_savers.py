"""The same sequence of saver calls on LangGraph's savers and on streamflow's returns equal tuples, backend by
backend (in memory, SQLite, PostgreSQL; sync and async): configs, checkpoints, metadata (with what the config
adds to it), parents, pending writes in LangGraph's order, special-channel writes replaced, and ``list``'s
order, filters, ``before`` and ``limit``.

The checkpoints carry fixed ids and timestamps, so the outputs compare as they are. The PostgreSQL savers run
against the test server (``bash .ci/postgres-up``), in a schema of this module's own."""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from .conftest import Lib, reference

POSTGRES = os.environ.get("STREAMFLOW_TEST_POSTGRES", "host=127.0.0.1 port=5432 dbname=test user=postgres")

T1, T2 = "thread-1", "thread-2"


def cid(n: int) -> str:
    """The n-th checkpoint id: version-6 shaped and sorting by n."""
    return f"1f000000-0000-6{n:03x}-8000-000000000000"


def checkpoint(n: int, values: dict[str, Any], versions: dict[str, Any], seen: dict[str, Any] | None = None) -> Any:
    return {
        "v": 2,
        "id": cid(n),
        "ts": f"2025-01-01T00:00:{n:02d}+00:00",
        "channel_values": values,
        "channel_versions": versions,
        "versions_seen": seen or {},
        "pending_sends": [],
        "updated_channels": None,
    }


def conf(thread: str, ns: str = "", checkpoint_id: str | None = None, **extra: Any) -> dict[str, Any]:
    configurable = {"thread_id": thread, "checkpoint_ns": ns, **extra}
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


def tup(found: Any) -> Any:
    if found is None:
        return None
    return (found.config, found.checkpoint, found.metadata, found.parent_config, found.pending_writes)


def history(saver: Any) -> list[Any]:
    """A thread of three checkpoints with writes, a subgraph namespace and a second thread; the outputs."""
    out: list[Any] = []
    first = saver.put(
        conf(T1, user_id="u1", __secret="s"),
        checkpoint(1, {"a": "x", "msgs": [1, 2]}, {"a": 1, "msgs": 1}),
        {"source": "input", "step": -1, "parents": {}},
        {"a": 1, "msgs": 1},
    )
    out.append(first)
    saver.put_writes(first, [("a", "w1"), ("msgs", [3])], "task-b", "~__pregel_pull, b")
    saver.put_writes(first, [("a", "w0")], "task-a", "~__pregel_pull, a")
    saver.put_writes(first, [("a", "again")], "task-a", "~__pregel_pull, a")
    saver.put_writes(first, [("__error__", "boom")], "task-c")
    saver.put_writes(first, [("__error__", "boom 2")], "task-c")
    saver.put_writes(first, [("__interrupt__", [{"value": "ask"}])], "task-d")
    second = saver.put(
        {**first, "metadata": {"tenant": "t", "nested": {"no": 1}}},
        checkpoint(2, {"a": "y", "msgs": [1, 2]}, {"a": 2, "msgs": 1}, {"node": {"a": 1}}),
        {"source": "loop", "step": 0, "parents": {}},
        {"a": 2},
    )
    out.append(second)
    loop_step_1 = {"source": "loop", "step": 1, "parents": {}}
    third = saver.put(second, checkpoint(3, {"a": "z"}, {"a": 3, "b": 1}), loop_step_1, {"a": 3, "b": 1})
    out.append(third)
    in_child = {"source": "loop", "step": 0, "parents": {"": cid(3)}}
    child = saver.put(conf(T1, "child:1"), checkpoint(4, {"c": 1}, {"c": 1}), in_child, {"c": 1})
    out.append(child)
    saver.put(conf(T2), checkpoint(5, {"a": 0}, {"a": 1}), {"source": "input", "step": -1, "parents": {}}, {"a": 1})
    for each in (first, second, third, child, conf(T1), conf(T1, "child:1"), conf(T1, "none:1"), conf("nobody")):
        out.append(tup(saver.get_tuple(each)))
    out.append([tup(t) for t in saver.list(conf(T1))])
    out.append([tup(t) for t in saver.list({"configurable": {"thread_id": T1}})])
    out.append([tup(t) for t in saver.list(None)])
    out.append([tup(t) for t in saver.list(conf(T1), filter={"source": "loop"})])
    out.append([tup(t) for t in saver.list(conf(T1), filter={"step": 0, "tenant": "t"})])
    out.append([tup(t) for t in saver.list(conf(T1), filter={"user_id": "u1"})])
    out.append([tup(t) for t in saver.list(conf(T1), before=third)])
    out.append([tup(t) for t in saver.list(conf(T1), limit=2)])
    out.append([tup(t) for t in saver.list(None, limit=3)])
    out.append([tup(t) for t in saver.list(conf(T1), before=third, limit=1)])
    out.append([tup(t) for t in saver.list(third)])
    saver.delete_thread(T1)
    out.append([tup(t) for t in saver.list(None)])
    out.append(tup(saver.get_tuple(conf(T1))))
    return out


async def ahistory(saver: Any) -> list[Any]:
    """The async twins on one thread."""
    first = await saver.aput(conf(T1), checkpoint(1, {"a": 1}, {"a": 1}), {"source": "input", "step": -1}, {"a": 1})
    await saver.aput_writes(first, [("a", 2)], "task-a", "p")
    second = await saver.aput(first, checkpoint(2, {"a": 2}, {"a": 2}), {"source": "loop", "step": 0}, {"a": 2})
    out: list[Any] = [first, second, tup(await saver.aget_tuple(first)), tup(await saver.aget_tuple(conf(T1)))]
    out.append([tup(t) async for t in saver.alist(conf(T1))])
    out.append(await saver.aget(second))
    await saver.adelete_thread(T1)
    out.append(await saver.aget_tuple(conf(T1)))
    return out


@pytest.fixture(scope="module")
def postgres() -> Iterator[Callable[[], str]]:
    """Makes schemas on the test server, each saver its own (all dropped afterwards): the connection string of
    a new one at each call."""
    psycopg = pytest.importorskip("psycopg")
    try:
        psycopg.connect(POSTGRES, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but no PostgreSQL answers at {POSTGRES!r}: {exc}", pytrace=False)
        pytest.skip(f"no PostgreSQL answers at {POSTGRES!r} (bash .ci/postgres-up starts it)")
    made: list[str] = []

    def new_schema() -> str:
        schema = f"sf_compat_{uuid.uuid4().hex}"
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f"CREATE SCHEMA {schema}")
        made.append(schema)
        return f"{POSTGRES} options='-c search_path={schema}'"

    try:
        yield new_schema
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            for schema in made:
                admin.execute(f"DROP SCHEMA {schema} CASCADE")


BACKENDS = ["memory", "sqlite", "postgres"]


@contextlib.contextmanager
def sync_saver(lib: Lib, backend: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh sync saver of ``lib`` on ``backend`` (LangGraph's PostgreSQL saver wants dict rows)."""
    if backend == "memory":
        yield lib.InMemorySaver()
    elif backend == "sqlite":
        with contextlib.closing(sqlite3.connect(":memory:", check_same_thread=False)) as conn:
            yield lib.SqliteSaver(conn)
    else:
        import psycopg
        from psycopg.rows import dict_row

        conninfo = request.getfixturevalue("postgres")()
        with psycopg.connect(conninfo, autocommit=True, prepare_threshold=0, row_factory=dict_row) as conn:
            saver = lib.PostgresSaver(conn)
            saver.setup()
            yield saver


@contextlib.asynccontextmanager
async def async_saver(lib: Lib, backend: str, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """A fresh async saver of ``lib`` on ``backend``."""
    if backend == "memory":
        yield lib.InMemorySaver()
    elif backend == "sqlite":
        import aiosqlite

        async with aiosqlite.connect(":memory:") as conn:
            yield lib.AsyncSqliteSaver(conn)
    else:
        import psycopg
        from psycopg.rows import dict_row

        conninfo = request.getfixturevalue("postgres")()
        async with await psycopg.AsyncConnection.connect(
            conninfo, autocommit=True, prepare_threshold=0, row_factory=dict_row
        ) as conn:
            saver = lib.AsyncPostgresSaver(conn)
            await saver.setup()
            yield saver


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_same_calls_give_the_same_tuples(lib: Lib, backend: str, request: pytest.FixtureRequest) -> None:
    with sync_saver(reference(), backend, request) as theirs:
        expected = history(theirs)
    with sync_saver(lib, backend, request) as ours:
        assert history(ours) == expected


@pytest.mark.anyio
@pytest.mark.parametrize("backend", BACKENDS)
async def test_the_async_twins_give_the_same_tuples(lib: Lib, backend: str, request: pytest.FixtureRequest) -> None:
    async with async_saver(reference(), backend, request) as theirs:
        expected = await ahistory(theirs)
    async with async_saver(lib, backend, request) as ours:
        assert await ahistory(ours) == expected


def test_next_versions_have_langgraphs_format(lib: Lib) -> None:
    saver = lib.InMemorySaver()
    versions = [saver.get_next_version(None, None)]
    for _ in range(3):
        versions.append(saver.get_next_version(versions[-1], None))
    versions.append(saver.get_next_version(7, None))
    shape = re.compile(r"^(\d{32})\.(.{16,})$")
    matches = [shape.match(version) for version in versions]
    assert all(matches), versions
    assert [int(m.group(1)) for m in matches if m] == [1, 2, 3, 4, 8]
    assert all(0 <= float(m.group(2)) < 1 for m in matches if m)
