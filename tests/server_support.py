"""Helpers for the HTTP tests: uvicorn on a loopback port in the test's own event loop, SSE reading, gates."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
import attrs
import httpx
import uvicorn
from httpx_sse import aconnect_sse
from starlette.types import ASGIApp

TERMINAL = ("end", "error", "cancelled")


@attrs.frozen
class Message:
    """One SSE message as a client saw it."""

    event: str
    id: str
    data: Any


@asynccontextmanager
async def serve(app: ASGIApp) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a free 127.0.0.1 port and yield its base URL.

    The socket is bound and listening before the URL is handed out, so the first request simply waits in
    the listen backlog until uvicorn accepts it: no polling for readiness.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, lifespan="on", log_config=None, log_level="warning", ws="none", timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve, [sock])
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
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
