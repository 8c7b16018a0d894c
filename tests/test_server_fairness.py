"""Fairness over the wire: SSE replays let the server's other tasks run, and a client that went away stops
its stream at once, without a flood of writes to its dead connection.

The server is uvicorn on a loopback port in the test's event loop (``tests.server_support``); the run
source is wrapped so that the test sees, on the server side, when each stream wrote and when it ended.
"""

from __future__ import annotations

import logging
import math
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any, TypedDict

import anyio
import httpx
import pytest

from streamflow.graph import START, StateGraph, get_stream_writer
from streamflow.server import LocalRunSource, RunRegistry, create_app
from streamflow.server.stream import WRITE_BATCH, StreamRequest
from tests.server_support import Counter, ProbedStream, Ticker, read_raw, serve

pytestmark = pytest.mark.anyio

EVENTS = 10_000
CLIENTS = 20


class State(TypedDict, total=False):
    n: int


def writer_graph(events: int, size: int = 0) -> Any:
    """One node writing ``events`` custom items (``size`` bytes of padding each), then the run ends."""

    async def write(state: State) -> dict[str, int]:
        writer = get_stream_writer()
        pad = "x" * size
        for i in range(events):
            writer({"i": i, "pad": pad})
        return {"n": events}

    return StateGraph(State).add_node("write", write).add_edge(START, "write").compile()


class ProbedSource(LocalRunSource):
    """A local run source whose streams are probed (see :class:`ProbedStream`)."""

    def __init__(self, registry: RunRegistry, ticker: Ticker) -> None:
        super().__init__(registry)
        self.ticker = ticker
        self.ended = Counter()
        self.streams: list[ProbedStream] = []

    async def open_stream(self, run_id: str, request: StreamRequest) -> Any:
        probe = ProbedStream(await super().open_stream(run_id, request), self.ticker, self.ended)
        self.streams.append(probe)
        return probe


async def finished_run(registry: RunRegistry) -> str:
    run = registry.start("writer", {"n": 0})
    await run.wait()
    assert run.status == "finished"
    return run.run_id


async def test_twenty_replays_of_a_long_run_let_other_tasks_run() -> None:
    registry = RunRegistry({"writer": writer_graph(EVENTS)}, replay_size=EVENTS + 100)
    async with registry, Ticker() as ticker:
        source = ProbedSource(registry, ticker)
        async with serve(create_app(source)) as url, httpx.AsyncClient(base_url=url) as client:
            run_id = await finished_run(registry)
            path = f"/runs/{run_id}/stream?stream_mode=custom"
            bodies: list[bytes] = []

            async def replay() -> None:
                bodies.append(await read_raw(url, path))

            async with anyio.create_task_group() as tg:
                for _ in range(CLIENTS):
                    tg.start_soon(replay)
            assert (await client.get("/graphs")).json() == {"graphs": ["writer"]}
    assert len(bodies) == CLIENTS
    for body in bodies:
        assert body.count(b"\nevent: custom\n") == EVENTS
        assert body.rstrip().rsplit(b"\n\n", 1)[-1].startswith(b"id: ")
        assert b"\nevent: end\n" in body.rsplit(b"\n\n", 2)[-2]
    assert len(source.streams) == CLIENTS
    for stream in source.streams:
        # metadata, then one write per batch of ready events (the run's custom events and its end), and other
        # tasks ran between the first and the last write
        assert stream.writes == 1 + math.ceil((EVENTS + 1) / WRITE_BATCH)
        assert stream.span is not None and stream.span[1] > stream.span[0], stream.span


class AsyncioLog(logging.Handler):
    """Collects the records of the ``asyncio`` logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def asyncio_log() -> Iterator[AsyncioLog]:
    handler = AsyncioLog()
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def reset_after_metadata(port: int, path: str, ready: threading.Barrier) -> None:
    """A client in its own thread: request the stream, read until the ``metadata`` message, wait for the
    other clients, then reset the connection (RST, as a crashed client or a proxy would)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        seen = b""
        while b"event: metadata" not in seen:
            data = sock.recv(65536)
            assert data, "the stream ended before its metadata message"
            seen += data
        ready.wait()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


async def test_clients_resetting_at_once_stop_their_streams_without_a_flood_of_dead_writes(
    asyncio_log: AsyncioLog,
) -> None:
    # events of 1 KiB: a stream of the whole run is larger than the socket buffers, so it is still being
    # written when its client resets
    registry = RunRegistry({"writer": writer_graph(EVENTS, size=1024)}, replay_size=EVENTS + 100)
    async with registry, Ticker() as ticker:
        source = ProbedSource(registry, ticker)
        async with serve(create_app(source)) as url, httpx.AsyncClient(base_url=url) as client:
            run_id = await finished_run(registry)
            port = int(url.rsplit(":", 1)[1])
            path = f"/runs/{run_id}/stream?stream_mode=custom"
            ready = threading.Barrier(CLIENTS)
            clients = [
                threading.Thread(target=reset_after_metadata, args=(port, path, ready), daemon=True)
                for _ in range(CLIENTS)
            ]
            for thread in clients:
                thread.start()
            with anyio.fail_after(60):
                await source.ended.wait_for(CLIENTS)  # every stream ended (none is left writing)
            for thread in clients:
                thread.join(timeout=30)
                assert not thread.is_alive()
            assert registry.get(run_id).channel.statistics().subscribers == 0
            assert (await client.get("/graphs")).status_code == 200  # the server goes on
    assert all(stream.after_seq < registry.get(run_id).channel.last_seq for stream in source.streams)
    flood = [r for r in asyncio_log.records if "socket.send() raised exception" in r.getMessage()]
    assert flood == []
