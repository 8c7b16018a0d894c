"""The SSE response: keep-alive comments on an idle stream, ``HEAD``, a server shutdown ending open streams,
and a client's going away (a disconnect message, or a send that raises) ending the writes and closing the body.

The app-level tests serve real runs with uvicorn on loopback; the ASGI-level ones drive the response with a
``receive`` and ``send`` of the test's own, to make a send fail the way an ASGI 2.4 server's does.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any, TypedDict

import anyio
import httpx
import pytest
import uvicorn
from starlette.types import Message

from streamflow.errors import InvalidArgumentError
from streamflow.graph import START, StateGraph, get_stream_writer
from streamflow.server import RunRegistry, create_app
from streamflow.server.sse_response import PING, SSEResponse
from tests.server_support import Gate, serve

pytestmark = pytest.mark.anyio


class State(TypedDict, total=False):
    n: int


def held_graph(gate: Gate) -> Any:
    """Writes one custom item, waits on ``gate``, writes another."""

    async def hold(state: State) -> dict[str, int]:
        write = get_stream_writer()
        write({"i": 0})
        await gate.wait()
        write({"i": 1})
        return {"n": 2}

    return StateGraph(State).add_node("hold", hold).add_edge(START, "hold").compile()


async def read_until(raw: AsyncIterator[bytes], wanted: bytes, count: int = 1) -> bytes:
    """The bytes of ``raw`` (a response's body) read until ``wanted`` occurs ``count`` times in them."""
    body = b""
    async for data in raw:
        body += data
        if body.count(wanted) >= count:
            return body
    raise AssertionError(f"the response ended before {count} x {wanted!r}: {body!r}")


async def test_an_idle_stream_gets_keep_alive_comments_and_ends_with_its_run() -> None:
    gate = Gate()
    registry = RunRegistry({"held": held_graph(gate)})
    async with registry, serve(create_app(registry, ping=0.05)) as url, httpx.AsyncClient(base_url=url) as client:
        run = registry.start("held", {})
        await gate.reached.wait()
        async with client.stream("GET", f"/runs/{run.run_id}/stream", params={"stream_mode": "custom"}) as stream:
            assert stream.headers["content-type"] == "text/event-stream; charset=utf-8"
            assert stream.headers["cache-control"] == "no-store"
            raw = stream.aiter_raw()
            with anyio.fail_after(10):
                body = await read_until(raw, PING, 2)
            assert body.count(b"event: custom\n") == 1  # the idle stream got comments, no messages
            gate.open()
            with anyio.fail_after(10):
                body += b"".join([data async for data in raw])
        assert body.count(b"event: custom\n") == 2
        assert body.endswith(b"\n\n") and b"event: end\n" in body.rpartition(PING)[2]


async def test_head_answers_the_headers_with_an_empty_body_and_holds_no_subscription() -> None:
    gate = Gate()
    registry = RunRegistry({"held": held_graph(gate)})
    async with registry, serve(create_app(registry)) as url, httpx.AsyncClient(base_url=url) as client:
        run = registry.start("held", {})
        await gate.reached.wait()
        with anyio.fail_after(10):
            response = await client.head(f"/runs/{run.run_id}/stream")
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert response.content == b""
        assert run.channel.statistics().subscribers == 0
        gate.open()
        await run.wait()


async def test_a_server_shutdown_ends_open_streams_of_runs_still_going() -> None:
    gate = Gate()
    registry = RunRegistry({"held": held_graph(gate)})
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(registry), log_config=None, log_level="warning", ws="none")
    server = uvicorn.Server(config)  # no graceful-shutdown timeout: it waits for its responses to end
    async with registry:
        run = registry.start("held", {})
        await gate.reached.wait()
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                path = f"/runs/{run.run_id}/stream"
                async with client.stream("GET", path, params={"stream_mode": "custom"}) as stream:
                    raw = stream.aiter_raw()
                    with anyio.fail_after(10):
                        body = await read_until(raw, b"event: custom\n")
                    server.should_exit = True
                    with anyio.fail_after(10):
                        body += b"".join([data async for data in raw])
        sock.close()
        assert body.count(b"event: custom\n") == 1
        assert not run.done  # the stream ended, not the run
        assert run.channel.statistics().subscribers == 0
        gate.open()
        await run.wait()


class Body:
    """A body of ``chunks`` that then waits forever, recording whether it was closed."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = chunks
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            for chunk in self.chunks:
                yield chunk
            await anyio.sleep_forever()
        finally:
            self.closed = True


class Client:
    """The ``receive`` and ``send`` of one request: it disconnects (``http.disconnect``) when told to, and its
    send raises :class:`OSError` from the ``fail_at``-th body message on."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.sent: list[Message] = []
        self.gone = anyio.Event()
        self.first_body = anyio.Event()
        self.fail_at = fail_at

    async def receive(self) -> Message:
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.body":
            bodies = sum(m["type"] == "http.response.body" for m in self.sent) + 1
            if self.fail_at is not None and bodies >= self.fail_at:
                raise OSError("the client went away")
            self.first_body.set()
        self.sent.append(message)


async def run_response(body: Body, client: Client, disconnects: list[int], ping: float = 0) -> None:
    async def on_disconnect() -> None:
        disconnects.append(1)

    response = SSEResponse(body.__aiter__(), ping=ping, on_disconnect=on_disconnect)
    await response({"type": "http", "method": "GET"}, client.receive, client.send)


async def test_a_disconnect_stops_the_writes_closes_the_body_and_calls_the_hook_once() -> None:
    body, client = Body(b"data: 1\n\n"), Client()
    disconnects: list[int] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(run_response, body, client, disconnects)
        await client.first_body.wait()
        client.gone.set()
    assert body.closed and disconnects == [1]
    assert [m.get("body") for m in client.sent] == [None, b"data: 1\n\n"]  # no end of body to a gone client


async def test_a_send_raising_oserror_counts_as_a_disconnect() -> None:
    body, client = Body(b"data: 1\n\n", b"data: 2\n\n"), Client(fail_at=2)
    disconnects: list[int] = []
    with anyio.fail_after(10):
        await run_response(body, client, disconnects)
    assert body.closed and disconnects == [1]
    assert [m.get("body") for m in client.sent] == [None, b"data: 1\n\n"]


async def test_a_keep_alive_send_raising_oserror_counts_as_a_disconnect() -> None:
    body, client = Body(b"data: 1\n\n"), Client(fail_at=2)  # the body then idles: the next send is a ping
    disconnects: list[int] = []
    with anyio.fail_after(10):
        await run_response(body, client, disconnects, ping=0.01)
    assert body.closed and disconnects == [1]
    assert [m.get("body") for m in client.sent] == [None, b"data: 1\n\n"]


async def test_a_body_that_ends_ends_the_response() -> None:
    async def two() -> AsyncIterator[bytes]:
        yield b"data: 1\n\n"
        yield b"data: 2\n\n"

    client = Client()
    before = asyncio.all_tasks()
    await SSEResponse(two(), ping=1)({"type": "http", "method": "GET"}, client.receive, client.send)
    assert [(m.get("body"), m.get("more_body")) for m in client.sent[1:]] == [
        (b"data: 1\n\n", True),
        (b"data: 2\n\n", True),
        (b"", False),
    ]
    left = asyncio.all_tasks() - before
    assert all(task.done() or task.cancelling() for task in left)  # no keep-alive or shutdown watch goes on


def test_a_negative_ping_is_refused() -> None:
    async def nothing() -> AsyncIterator[bytes]:
        yield b""

    with pytest.raises(InvalidArgumentError, match=r"ping must be a number of seconds >= 0, got -1"):
        SSEResponse(nothing(), ping=-1)
