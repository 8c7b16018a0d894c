"""Scenarios for graphs with a checkpointer, with LangGraph's own savers measured side by side.

Every scenario runs the 10-node linear graph of ``graph.py`` (trivial nodes, ``stream_mode="updates"``)
compiled with a checkpointer, one run per fresh ``thread_id``, so each run saves a checkpoint for its input,
one after the input is applied and one after each of the 10 supersteps (12 checkpoints), and the writes of
each task: runs/s.

``ckpt_<backend>_astream``
    async nodes through ``astream`` with the async saver of the backend: ``InMemorySaver`` (``memory``),
    ``AsyncSqliteSaver`` on a file in a temporary directory (``sqlite``), ``AsyncPostgresSaver`` on one
    connection to the PostgreSQL server at ``STREAMFLOW_BENCH_POSTGRES`` (``postgres``; default
    ``host=127.0.0.1 port=5432 dbname=test user=postgres``). Durability is the default (``"async"``).
``ckpt_<backend>_stream``
    sync nodes through ``stream`` with the backend's sync saver (``SqliteSaver``, ``PostgresSaver``).
``ckpt_sqlite_full_astream``
    ``ckpt_sqlite_astream`` with ``synchronous="FULL"`` (each commit waits for the disk, LangGraph's saver's
    setting; streamflow's default is ``"NORMAL"``): diagnostic, no target.
``ckpt_sqlite_exit_astream``, ``ckpt_sqlite_exit_stream``
    ``ckpt_sqlite_astream`` / ``ckpt_sqlite_stream`` with ``durability="exit"`` (one checkpoint per run, saved
    when it ends), against ``graph_linear10_astream`` / ``graph_linear10_stream`` (no checkpointer).

The ``lg_ckpt_*`` twins run the same graphs on LangGraph with LangGraph's savers (``langgraph.checkpoint.memory``,
``langgraph-checkpoint-sqlite``, ``langgraph-checkpoint-postgres``); they are skipped when those are not installed.
The PostgreSQL scenarios are skipped when no server answers. Connecting, creating the tables and building the
graph are not timed; the threads a repeat wrote are deleted after it (not timed either).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypedDict

from .harness import Sample, scenario

POSTGRES = os.environ.get("STREAMFLOW_BENCH_POSTGRES", "host=127.0.0.1 port=5432 dbname=test user=postgres")


def _installed(*modules: str) -> bool:
    try:
        return all(importlib.util.find_spec(m) is not None for m in modules)
    except ModuleNotFoundError:
        return False


HAVE_LANGGRAPH = _installed("langgraph.checkpoint.memory")
HAVE_LG_SQLITE = HAVE_LANGGRAPH and _installed("langgraph.checkpoint.sqlite", "aiosqlite")
HAVE_LG_POSTGRES = HAVE_LANGGRAPH and _installed("langgraph.checkpoint.postgres", "psycopg")
HAVE_SQLITE = _installed("aiosqlite")


def _postgres_answers() -> bool:
    if not _installed("psycopg", "psycopg_pool"):
        return False
    import psycopg

    try:
        with psycopg.connect(POSTGRES, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


HAVE_POSTGRES = _postgres_answers()


class _State(TypedDict):
    x: int


def _linear(which: str, asynchronous: bool, checkpointer: Any) -> Any:
    if which == "lg":
        import langgraph.graph as mod
    else:
        import streamflow.graph as mod  # type: ignore[no-redef]
    builder = mod.StateGraph(_State)
    prev = mod.START
    for i in range(10):
        if asynchronous:

            async def node(state: _State) -> dict[str, int]:
                return {"x": state["x"] + 1}

        else:

            def node(state: _State) -> dict[str, int]:
                return {"x": state["x"] + 1}

        builder.add_node(f"n{i}", node)
        builder.add_edge(prev, f"n{i}")
        prev = f"n{i}"
    return builder.compile(checkpointer=checkpointer)


@contextlib.asynccontextmanager
async def _async_saver(which: str, backend: str) -> AsyncIterator[Any]:
    """A fresh async saver of ``backend``, its tables created (``sqlite-full``: streamflow's SQLite saver with
    ``synchronous="FULL"``, the setting LangGraph's saver keeps)."""
    if backend == "memory":
        if which == "lg":
            from langgraph.checkpoint.memory import InMemorySaver
        else:
            from streamflow.checkpoint.memory import InMemorySaver  # type: ignore[assignment]
        yield InMemorySaver()
    elif backend in ("sqlite", "sqlite-full"):
        if which == "lg":
            from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
        else:
            from streamflow.checkpoint.sqlite.aio import AsyncSqliteSaver  # type: ignore[assignment]
        options = {"synchronous": "FULL"} if backend == "sqlite-full" else {}
        with tempfile.TemporaryDirectory() as tmp:
            async with AsyncSqliteSaver.from_conn_string(os.path.join(tmp, "bench.db"), **options) as saver:
                await saver.setup()
                yield saver
    else:
        if which == "lg":
            from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        else:
            from streamflow.checkpoint.postgres.aio import AsyncPostgresSaver  # type: ignore[assignment]
        async with AsyncPostgresSaver.from_conn_string(POSTGRES) as saver:
            await saver.setup()
            yield saver


@contextlib.contextmanager
def _sync_saver(which: str, backend: str) -> Iterator[Any]:
    """A fresh sync saver of ``backend``, its tables created."""
    if backend == "sqlite":
        if which == "lg":
            from langgraph.checkpoint.sqlite import SqliteSaver
        else:
            from streamflow.checkpoint.sqlite import SqliteSaver  # type: ignore[assignment]
        with tempfile.TemporaryDirectory() as tmp, SqliteSaver.from_conn_string(os.path.join(tmp, "bench.db")) as saver:
            saver.setup()
            yield saver
    else:
        if which == "lg":
            from langgraph.checkpoint.postgres import PostgresSaver
        else:
            from streamflow.checkpoint.postgres import PostgresSaver  # type: ignore[assignment]
        with PostgresSaver.from_conn_string(POSTGRES) as saver:
            saver.setup()
            yield saver


def _threads(n: int) -> list[str]:
    prefix = uuid.uuid4().hex
    return [f"bench-{prefix}-{i}" for i in range(n)]


def _astream(which: str, backend: str, durability: str | None = None) -> Any:
    async def bench(n: int) -> Sample:
        async with _async_saver(which, backend) as saver:
            graph = _linear(which, True, saver)
            threads = _threads(n)
            extra = {} if durability is None else {"durability": durability}
            start = time.perf_counter()
            for thread_id in threads:
                config = {"configurable": {"thread_id": thread_id}}
                async for _chunk in graph.astream({"x": 0}, config, stream_mode="updates", **extra):
                    pass
            elapsed = time.perf_counter() - start
            last = await graph.aget_state({"configurable": {"thread_id": threads[-1]}})
            assert last.values == {"x": 10}, last.values
            if backend != "memory":
                for thread_id in threads:
                    await saver.adelete_thread(thread_id)
        return Sample(n, elapsed)

    return bench


def _stream(which: str, backend: str, durability: str | None = None) -> Any:
    def bench(n: int) -> Sample:
        with _sync_saver(which, backend) as saver:
            graph = _linear(which, False, saver)
            threads = _threads(n)
            extra = {} if durability is None else {"durability": durability}
            start = time.perf_counter()
            for thread_id in threads:
                config = {"configurable": {"thread_id": thread_id}}
                for _chunk in graph.stream({"x": 0}, config, stream_mode="updates", **extra):
                    pass
            elapsed = time.perf_counter() - start
            last = graph.get_state({"configurable": {"thread_id": threads[-1]}})
            assert last.values == {"x": 10}, last.values
            for thread_id in threads:
                saver.delete_thread(thread_id)
        return Sample(n, elapsed)

    return bench


# (name, backend, sync?, LangGraph's twin installed?, backend available?, sizes: streamflow n, LangGraph n)
_CASES = [
    ("ckpt_memory_astream", "memory", False, HAVE_LANGGRAPH, True, (600, 150)),
    ("ckpt_sqlite_astream", "sqlite", False, HAVE_LG_SQLITE, HAVE_SQLITE, (300, 80)),
    ("ckpt_sqlite_stream", "sqlite", True, HAVE_LG_SQLITE, True, (200, 80)),
    ("ckpt_postgres_astream", "postgres", False, HAVE_LG_POSTGRES, HAVE_POSTGRES, (100, 40)),
    ("ckpt_postgres_stream", "postgres", True, HAVE_LG_POSTGRES, HAVE_POSTGRES, (100, 40)),
]

TARGET = 3.0
"""Each ``ckpt_*`` scenario's goal: at least this many times its LangGraph twin's runs/s."""

for _name, _backend, _sync, _have_lg, _available, (_n, _lg_n) in _CASES:
    if not _available:
        continue
    _make = _stream if _sync else _astream
    _twin = f"lg_{_name}"
    if _have_lg:
        scenario(_twin, unit="runs/s", n=_lg_n, quick_n=max(5, _lg_n // 10))(_make("lg", _backend))
    scenario(
        _name,
        unit="runs/s",
        n=_n,
        quick_n=max(10, _n // 10),
        baseline=_twin if _have_lg else None,
        targets={_twin: TARGET} if _have_lg else None,
    )(_make("sf", _backend))

if HAVE_SQLITE:
    scenario(
        "ckpt_sqlite_full_astream",
        unit="runs/s",
        n=150,
        quick_n=15,
        baseline="lg_ckpt_sqlite_astream" if HAVE_LG_SQLITE else None,
        compare=("ckpt_sqlite_astream",),
    )(_astream("sf", "sqlite-full"))
    if HAVE_LG_SQLITE:
        scenario("lg_ckpt_sqlite_exit_astream", unit="runs/s", n=150, quick_n=15)(_astream("lg", "sqlite", "exit"))
    scenario(
        "ckpt_sqlite_exit_astream",
        unit="runs/s",
        n=600,
        quick_n=60,
        baseline="graph_linear10_astream",
        compare=("lg_ckpt_sqlite_exit_astream",) if HAVE_LG_SQLITE else (),
        targets={"graph_linear10_astream": 0.5},
    )(_astream("sf", "sqlite", "exit"))
    if HAVE_LG_SQLITE:
        scenario("lg_ckpt_sqlite_exit_stream", unit="runs/s", n=100, quick_n=10)(_stream("lg", "sqlite", "exit"))
    scenario(
        "ckpt_sqlite_exit_stream",
        unit="runs/s",
        n=200,
        quick_n=20,
        baseline="graph_linear10_stream",
        compare=("lg_ckpt_sqlite_exit_stream",) if HAVE_LG_SQLITE else (),
        targets={"graph_linear10_stream": 0.5},
    )(_stream("sf", "sqlite", "exit"))
