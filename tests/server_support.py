"""Helpers for the HTTP tests: uvicorn on a loopback port in the test's own event loop, SSE reading, gates,
a ticker that shows the event loop's fairness, a probe on the streams a run source opens, and the examples
imported as modules."""

from __future__ import annotations

import asyncio
import importlib
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, Literal
from urllib.parse import urlsplit

import anyio
import anyio.lowlevel
import attrs
import httpx
import uvicorn
from httpx_sse import aconnect_sse
from starlette.types import ASGIApp

from streamflow.server.source import SSEStream

TERMINAL = ("end", "error", "cancelled")


@attrs.frozen
class Message:
    """One SSE message as a client saw it."""

    event: str
    id: str
    data: Any


@asynccontextmanager
async def serve(app: ASGIApp, *, ws: Literal["none", "websockets-sansio"] = "none") -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a free 127.0.0.1 port and yield its base URL (``ws``: uvicorn's WebSocket
    implementation, ``"websockets-sansio"`` to serve WebSockets, none by default).

    The socket is bound and listening before the URL is handed out, so the first request simply waits in
    the listen backlog until uvicorn accepts it: no polling for readiness.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, lifespan="on", log_config=None, log_level="warning", ws=ws, timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            try:
                yield f"http://127.0.0.1:{port}"
            finally:
                server.should_exit = True
    finally:
        sock.close()


async def read_stream(
    client: httpx.AsyncClient,
    url: str,
    *,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    limit: int | None = None,
) -> list[Message]:
    """Read the SSE messages of ``url`` until the response ends (or ``limit`` messages, then disconnect).

    Keep-alive comments are not messages and do not appear.
    """
    out: list[Message] = []
    async with aconnect_sse(client, "GET", url, params=params, headers=dict(headers or {})) as source:
        source.response.raise_for_status()
        async for sse in source.aiter_sse():
            out.append(Message(sse.event, sse.id, sse.json()))
            if limit is not None and len(out) >= limit:
                break
    return out


def chunks(messages: list[Message]) -> list[Message]:
    """The messages that carry a run's events: everything but ``metadata``."""
    return [m for m in messages if m.event != "metadata"]


def seqs(messages: list[Message]) -> list[int]:
    """The ``id`` of each message that has one, as ints."""
    return [int(m.id) for m in messages if m.id]


class Proxy:
    """A TCP proxy on 127.0.0.1 in front of ``url``'s host and port, whose live connections a test can cut
    (as a network drop would: both sides see the connection reset). Use it as an async context manager."""

    def __init__(self, url: str) -> None:
        where = urlsplit(url)
        assert where.hostname is not None and where.port is not None
        self._target = (where.hostname, where.port)
        self._live: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._server: asyncio.Server | None = None
        self.accepted = 0
        """Connections accepted so far."""
        self.url = ""
        """The proxy's base URL (set on entering)."""

    async def __aenter__(self) -> Proxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.cut()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        pair = (writer, up_writer)
        self._live.add(pair)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.close()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            self._live.discard(pair)

    def cut(self) -> int:
        """Reset every live connection; return how many there were."""
        pairs = list(self._live)
        for client_side, server_side in pairs:
            client_side.transport.abort()
            server_side.transport.abort()
        self._live.clear()
        return len(pairs)


class Gate:
    """An event a graph node waits on and a test opens, counting how many are waiting (same event loop)."""

    def __init__(self) -> None:
        self._open = anyio.Event()
        self.reached = anyio.Event()

    async def wait(self) -> None:
        self.reached.set()
        await self._open.wait()

    def open(self) -> None:
        self._open.set()


async def read_raw(url: str, path: str) -> bytes:
    """The whole body of ``GET path`` on ``url``, over plain HTTP/1.0 (no parsing: cheap for long streams)."""
    where = urlsplit(url)
    assert where.hostname is not None and where.port is not None
    reader, writer = await asyncio.open_connection(where.hostname, where.port)
    try:
        writer.write(f"GET {path} HTTP/1.0\r\nHost: {where.hostname}\r\nAccept: text/event-stream\r\n\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        return await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()


class Ticker:
    """A task that counts the turns the event loop gives it: ``count`` grows only while other tasks yield.

    Use it as an async context manager; it ticks from entering to leaving.
    """

    def __init__(self) -> None:
        self.count = 0
        self._scope = anyio.CancelScope()

    async def _tick(self) -> None:
        with self._scope:
            while True:
                self.count += 1
                await anyio.lowlevel.checkpoint()

    async def __aenter__(self) -> Ticker:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._scope.cancel()
        await self._task


class ProbedStream:
    """An SSE stream wrapped to record, on the server side, the ticker's count at its first and last
    write after ``metadata`` (``span``) and when it ended (``ended``), however it ended."""

    def __init__(self, stream: SSEStream, ticker: Ticker, ended: Counter) -> None:
        self._stream = stream
        self._ticker = ticker
        self._ended = ended
        self.span: tuple[int, int] | None = None
        self.writes = 0

    @property
    def over(self) -> bool:
        return self._stream.over

    @property
    def after_seq(self) -> int:
        return self._stream.after_seq

    def close(self) -> None:
        self._stream.close()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = self._stream.__aiter__()
        first: int | None = None
        try:
            async for chunk in chunks:
                if self.writes:
                    first = self._ticker.count if first is None else first
                    self.span = (first, self._ticker.count)
                self.writes += 1
                yield chunk
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
            self._ended.add()


class Counter:
    """A count a test can wait on (same event loop)."""

    def __init__(self) -> None:
        self.value = 0
        self._changed = anyio.Event()

    def add(self) -> None:
        self.value += 1
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_for(self, value: int) -> None:
        while self.value < value:
            await self._changed.wait()


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` as a module, with its folder on ``sys.path`` (appended) as when it runs as
    a script, so the examples' imports of one another work."""
    folder = str(EXAMPLES)
    if folder not in sys.path:
        sys.path.append(folder)
    return importlib.import_module(name)
