"""SSE fan-out over loopback: one run's chat-model tokens streamed to many HTTP clients.

``sse_fanout``
    a server process (uvicorn, the ``streamflow.server`` app) runs one graph whose model streams ``n``
    tokens, yielding to the event loop after each as a model reading from a network would; 50 clients in
    this process hold ``GET /runs/{id}/stream?stream_mode=messages`` open from before the first token to the
    ``end`` message. Reported: token deliveries per second summed over the clients, from the first token
    to the last client's ``end``, and in the notes the p99 delay from a token's event being made (its
    ``ts``) to a client reading it, in ms. Clients speak plain HTTP/1.0 over asyncio streams and read only
    ``ts`` from each message, so the client side costs as little as it can.

``sse_replay``
    the same server process holds a finished run of ``n`` custom events; 20 clients replay it at once
    (``GET /runs/{id}/stream?stream_mode=custom`` from the start to the ``end`` message) while a probe sends
    ``GET /graphs`` one after the other. Reported: deliveries per second summed over the clients, and in
    the notes the slowest and the median ``GET /graphs`` answer during the replays, in ms: how long the
    server keeps its other requests waiting while streams replay (each stream writes a batch of ready
    events and then lets other tasks run).

``protocol_replay``
    ``sse_replay`` through LangChain's agent streaming protocol: the run of ``n`` custom events runs on a
    thread (``run.start`` on ``POST /threads/{id}/commands``) and the 20 clients replay the thread's events
    with ``POST /threads/{id}/stream/events`` ``{"channels": ["custom"], "since": 0}`` (a thread stream never
    ends by itself: each client leaves once it has the ``n`` events). Reported as ``sse_replay``, with its
    ratio to ``sse_replay`` measured in the same run.

Needs the ``server`` extra; the module is skipped without it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncGenerator, Awaitable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import uvicorn  # noqa: F401  (the server process needs it; skip this module early without it)

from .harness import Sample, scenario

CLIENTS = 50
ROOT = Path(__file__).resolve().parent.parent

SERVER = r"""
import asyncio, socket, sys
import anyio, structlog, logging, uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from streamflow.graph import START, StateGraph
from streamflow.messages import AIMessageChunk, MessagesState
from streamflow.models import BaseChatModel
from streamflow.server import RunRegistry, create_app

structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
n = int(sys.argv[1])
go = asyncio.Event()

class Tokens(BaseChatModel):
    async def _astream_chunks(self, messages):
        for i in range(n):
            yield AIMessageChunk(content="t")
            await asyncio.sleep(0)

async def speak(state):
    await go.wait()
    return {"messages": [await Tokens().ainvoke("go")]}

graph = StateGraph(MessagesState).add_node("speak", speak).add_edge(START, "speak").compile()
registry = RunRegistry({"tokens": graph}, replay_size=n + 100)

async def start(request):
    go.set()  # the clients all read their metadata message: each stream follows the run already
    return JSONResponse({"ok": True})

app = Starlette(routes=[Route("/go", start, methods=["POST"]), Mount("/api", app=create_app(registry, page=False))])
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen(512)
print(sock.getsockname()[1], flush=True)
uvicorn.Server(uvicorn.Config(app, log_config=None, log_level="warning", ws="none")).run([sock])
"""


REPLAY_SERVER = r"""
import asyncio, logging, socket, sys
import structlog, uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from typing import TypedDict
from streamflow.graph import START, StateGraph, get_stream_writer
from streamflow.server import RunRegistry, create_app

structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
n = int(sys.argv[1])

class State(TypedDict, total=False):
    n: int

async def write(state):
    writer = get_stream_writer()
    for i in range(n):
        writer({"i": i})
    return {"n": n}

graph = StateGraph(State).add_node("write", write).add_edge(START, "write").compile()
registry = RunRegistry({"writer": graph}, replay_size=n + 100)

async def finished(request):
    run = registry.start("writer", {"n": 0})
    await run.wait()
    return JSONResponse({"run_id": run.run_id})

routes = [Route("/finished", finished, methods=["POST"]), Mount("/api", app=create_app(registry, page=False))]
app = Starlette(routes=routes)
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen(512)
print(sock.getsockname()[1], flush=True)
uvicorn.Server(uvicorn.Config(app, log_config=None, log_level="warning", ws="none")).run([sock])
"""
REPLAYS = 20
PROTOCOL_SERVER = REPLAY_SERVER.replace(
    'registry = RunRegistry({"writer": graph}, replay_size=n + 100)',
    "from streamflow.checkpoint.memory import InMemorySaver\n"
    'registry = RunRegistry({"writer": graph}, replay_size=n + 100, checkpointer=InMemorySaver())',
).replace("create_app(registry, page=False)", "create_app(registry, page=False, protocol_events=n + 100)")
"""The replay server with a checkpointer (runs on threads) and a thread log that holds the whole run."""


async def _sse_blocks(port: int, request: bytes) -> AsyncGenerator[list[bytes], None]:
    """Send ``request`` (a whole HTTP/1.0 request) to the server on ``port`` and yield the SSE messages of its
    response as they arrive, a list per read (the bytes of each message, without the blank line)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")
        buffer = b""
        while data := await reader.read(65536):
            *blocks, buffer = (buffer + data).split(b"\n\n")
            yield blocks
    finally:
        writer.close()


async def _replay(port: int, path: str) -> int:
    """Read one SSE stream to its end over plain HTTP/1.0; return how many ``custom`` messages it carried."""
    received = 0
    request = f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode()
    async for blocks in _sse_blocks(port, request):
        for block in blocks:
            if b"\nevent: custom\n" in block:
                received += 1
            elif b"\nevent: end\n" in block:
                return received
    raise RuntimeError(f"the stream of {path} ended before its end message, after {received} events")


async def _server(script: str, n: int) -> tuple[subprocess.Popen[str], int]:
    """Start ``script`` (a benchmark server) for ``n`` events; return the process and the port it printed."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(n)], stdout=subprocess.PIPE, env=env, cwd=str(ROOT), text=True
    )
    assert proc.stdout is not None
    return proc, int(await asyncio.to_thread(proc.stdout.readline))


@scenario("sse_replay", unit="deliveries/s", n=10_000, quick_n=2_000, repeats=3)
async def sse_replay(n: int) -> Sample:
    """20 SSE clients replaying a finished run of n events at once: deliveries/s, and GET /graphs meanwhile."""
    proc, port = await _server(REPLAY_SERVER, n)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            run_id = (await http.post("/finished")).json()["run_id"]
            path = f"/api/runs/{run_id}/stream?stream_mode=custom"
            received, seconds, latencies = await _replays_timed(http, [_replay(port, path) for _ in range(REPLAYS)])
    finally:
        await _stop(proc)
    return _replay_sample(received, n, seconds, latencies)


async def _protocol_replay(port: int, path: str, n: int) -> int:
    """Read a thread's SSE stream of ``custom`` events from its start over plain HTTP/1.0 until it carried
    ``n`` of them; return how many it carried."""
    body = json.dumps({"channels": ["custom"], "since": 0}).encode()
    head = (
        f"POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    received = 0
    async for blocks in _sse_blocks(port, head.encode() + body):
        received += sum(1 for block in blocks if b'"method":"custom"' in block)
        if received >= n:
            return received
    raise RuntimeError(f"the stream of {path} ended after {received} events, before {n}")


@scenario("protocol_replay", unit="deliveries/s", n=10_000, quick_n=2_000, repeats=3, compare="sse_replay")
async def protocol_replay(n: int) -> Sample:
    """sse_replay through the agent protocol's thread stream: 20 clients replay a thread's n events at once."""
    proc, port = await _server(PROTOCOL_SERVER, n)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            thread = "bench"
            command = {"id": 1, "method": "run.start", "params": {"assistant_id": "writer", "input": {"n": 0}}}
            started = await http.post(f"/api/threads/{thread}/commands", json=command)
            assert started.status_code == 200, started.text
            async with http.stream(
                "POST", f"/api/threads/{thread}/stream/events", json={"channels": ["lifecycle"]}
            ) as lifecycle:
                async for line in lifecycle.aiter_lines():
                    if '"event":"completed"' in line:
                        break
            path = f"/api/threads/{thread}/stream/events"
            clients = [_protocol_replay(port, path, n) for _ in range(REPLAYS)]
            received, seconds, latencies = await _replays_timed(http, clients)
    finally:
        await _stop(proc)
    return _replay_sample(received, n, seconds, latencies)


async def _replays_timed(
    http: httpx.AsyncClient, clients: list[Coroutine[Any, Any, int]]
) -> tuple[list[int], float, list[float]]:
    """Run the replaying ``clients`` at once, asking ``GET /graphs`` meanwhile: what each received, the seconds
    they took together, and each GET's latency (seconds)."""
    latencies: list[float] = []
    start = time.perf_counter()
    done = asyncio.gather(*clients)
    while not done.done():
        asked = time.perf_counter()
        await http.get("/api/graphs")
        latencies.append(time.perf_counter() - asked)
    received = await done
    return received, time.perf_counter() - start, latencies


async def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    await asyncio.to_thread(proc.wait)
    if proc.stdout is not None:
        proc.stdout.close()


def _replay_sample(received: list[int], n: int, seconds: float, latencies: list[float]) -> Sample:
    """The sample of a replay scenario, checking every client received all ``n`` events.

    :raises RuntimeError: when a client received another number
    """
    if received != [n] * REPLAYS:
        raise RuntimeError(f"replays received {sorted(set(received))} events, expected {n} each")
    latencies.sort()
    worst = latencies[-1] * 1000
    median = latencies[len(latencies) // 2] * 1000
    extra = f"GET /graphs during the replays: max {worst:.0f} ms, median {median:.0f} ms ({len(latencies)} asked)"
    return Sample(sum(received), seconds, extra=extra)


async def _client(port: int, path: str, delays: list[float], connected: asyncio.Event, counter: list[int]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    await reader.readuntil(b"\r\n\r\n")
    buffer = b""
    received = 0
    now = time.time
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                raise RuntimeError(f"the stream of {path} ended before its end message, after {received} chunks")
            buffer += data
            *blocks, buffer = buffer.split(b"\n\n")
            t = now()
            for block in blocks:
                if block.startswith(b"id: ") and b"\nevent: messages\n" in block:
                    ts = float(block.rpartition(b'"ts":')[2].rstrip(b"}"))
                    delays.append(t - ts)
                    received += 1
                elif b"event: metadata" in block:
                    counter[0] += 1
                    if counter[0] == CLIENTS:
                        connected.set()
                elif b"\nevent: end\n" in block:
                    return received
                elif b"\nevent: lag\n" in block or b"\nevent: error\n" in block:
                    raise RuntimeError(f"unexpected message: {block[:200]!r}")
    finally:
        writer.close()


@scenario("sse_fanout", unit="deliveries/s", n=10_000, quick_n=2_000, repeats=3)
async def sse_fanout(n: int) -> Sample:
    """One run's n model tokens to 50 SSE clients on loopback: deliveries/s and p99 publish-to-receipt delay."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(n)], stdout=subprocess.PIPE, env=env, cwd=str(ROOT), text=True
    )
    try:
        assert proc.stdout is not None
        port = int(await asyncio.to_thread(proc.stdout.readline))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            body: dict[str, Any] = {"graph": "tokens", "input": {"messages": [{"role": "user", "content": "go"}]}}
            run_id = (await http.post("/api/runs", json=body)).json()["run_id"]
            path = f"/api/runs/{run_id}/stream?stream_mode=messages"
            release = http.post("/go")
            sample = await fan_out(port, path, n, release, proc.pid)
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait)
    return sample


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) process ``pid`` has used, in seconds (from ``/proc``; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def fan_out(port: int, path: str, n: int, release: Awaitable[Any], server_pid: int | None = None) -> Sample:
    """Connect :data:`CLIENTS` SSE clients to ``path``, await ``release`` (which lets the run stream its
    ``n`` tokens), and wait until every client has them all: deliveries summed over clients, timed from the
    release, with the p50/p99 delay from each event's ``ts`` to its receipt in the notes.

    :raises RuntimeError: when a client did not receive exactly ``n`` tokens and the stream's last chunk
        (the empty ``chunk_position="last"`` chunk that ends a model's stream, as in langchain-core)
    """
    delays: list[float] = []
    connected = asyncio.Event()
    counter = [0]
    clients = [asyncio.create_task(_client(port, path, delays, connected, counter)) for _ in range(CLIENTS)]
    await connected.wait()
    cpu = cpu_seconds(server_pid) if server_pid is not None else 0.0
    start = time.perf_counter()
    await release
    received = await asyncio.gather(*clients)
    seconds = time.perf_counter() - start
    cpu_note = "" if server_pid is None else f", server CPU {cpu_seconds(server_pid) - cpu:.2f} s"
    if received != [n + 1] * CLIENTS:  # the n tokens, then the empty chunk marked last
        raise RuntimeError(f"clients received {sorted(set(received))} chunks, expected {n + 1} each")
    delays.sort()
    p50 = delays[len(delays) // 2] * 1000
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))] * 1000
    return Sample(
        sum(received), seconds, extra=f"p99 delay {p99:.1f} ms (p50 {p50:.1f} ms), {CLIENTS} clients{cpu_note}"
    )


__all__ = ["protocol_replay", "sse_fanout", "sse_replay"]
