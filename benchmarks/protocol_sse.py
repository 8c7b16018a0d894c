"""The agent streaming protocol (v3) over SSE: one run's tokens to 50 clients of a thread's event stream,
on streamflow's app and on LangGraph's Agent Server.

``protocol_fanout``
    a uvicorn server process serves streamflow's app (``create_app``) with one graph: a node calling a chat
    model that streams ``n`` tokens, each the time it was made (``time.time()`` as text), yielding to the
    event loop after each as a model reading from a network would. 50 clients in this process each hold
    ``POST /threads/{id}/stream/events`` (body ``{"channels": ["messages", "lifecycle"]}``) open on one new
    thread; once every one has its response headers, ``POST /threads/{id}/commands`` sends ``run.start``.
    Each client reads until the root's ``lifecycle`` ``completed`` event. Reported: ``content-block-delta``
    deliveries per second summed over the clients, timed from sending ``run.start`` to the last client's
    ``completed``; in the notes the p50/p99 delay from a token's making (its text) to a client reading it, in
    ms, how long after sending ``run.start`` the first token was made, the server process's CPU time over the
    run, and the event loop and HTTP parser it ran on.
``lg_protocol_fanout``
    the same clients, graph and run on LangGraph's Agent Server in-memory dev server (``langgraph dev``, the
    ``langgraph-cli[inmem]`` package) with ``agent_server/langgraph.json`` and ``agent_server/tokens_graph.py``
    (the same model and node on LangGraph and langchain-core). The Agent Server pins its own langgraph, so it
    runs from a virtual environment of its own: ``STREAMFLOW_BENCH_AGENT_SERVER_VENV`` (default
    ``~/.cache/streamflow/venv-agent-server``), created on demand with ``agent_server/requirements.txt``;
    the scenario is skipped, saying why, when that cannot be done or the server does not start.
``lg_protocol_fanout_asyncio``
    ``lg_protocol_fanout`` with ``uvloop`` and ``httptools`` hidden from the dev server: asyncio's loop and
    h11, as streamflow's server here.
``protocol_fanout_paced``, ``lg_protocol_fanout_paced``
    the same with one token every :data:`PACE` seconds (50 tokens/s, a fast model's pace): the delay a client
    of a real model sees, rather than the backlog of a burst.

The clients speak plain HTTP/1.0 over asyncio streams (no chunked framing) and parse only what they must: a
token's text from each delta message, JSON only for the few other messages. Both servers are started per
repeat and not timed; neither logs below warnings.

Needs the ``server`` extra; the module is skipped without it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn  # noqa: F401  (the server process needs it; skip this module early without it)

from .harness import Sample, ScenarioSkipped, scenario
from .sse import cpu_seconds

CLIENTS = 50
CHANNELS = ["messages", "lifecycle"]
ROOT = Path(__file__).resolve().parent.parent
AGENT_SERVER = Path(__file__).resolve().parent / "agent_server"
VENV_ENV = "STREAMFLOW_BENCH_AGENT_SERVER_VENV"
START_TIMEOUT = 90.0
"""Seconds a server process may take to answer its first request."""
PACE = 0.02
"""Seconds between two tokens in the ``_paced`` scenarios (50 tokens/s, a fast model's pace)."""
INSTALL_TIMEOUT = 600.0
"""Seconds creating the Agent Server's virtual environment may take."""

SERVER = r"""
import asyncio, logging, socket, time
import structlog, uvicorn
from streamflow.graph import START, StateGraph
from streamflow.messages import AIMessageChunk, MessagesState
from streamflow.models import BaseChatModel
from streamflow.server import create_app

structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

class TimestampTokens(BaseChatModel):
    async def _astream_chunks(self, messages):
        count, _, pause = messages[-1].content.partition(" ")
        for _ in range(int(count)):
            yield AIMessageChunk(content=f"{time.time():.6f}")
            await asyncio.sleep(float(pause or 0))

async def speak(state):
    return {"messages": [await TimestampTokens().ainvoke(state["messages"])]}

graph = StateGraph(MessagesState).add_node("speak", speak).add_edge(START, "speak").compile()
app = create_app({"tokens": graph}, page=False)
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen(512)
print(sock.getsockname()[1], flush=True)
uvicorn.Server(uvicorn.Config(app, log_config=None, log_level="warning", ws="none")).run([sock])
"""


def _delta_time(block: bytes) -> float:
    """The time a token was made: the text of a ``content-block-delta`` message (a float, in seconds)."""
    tail = block.rpartition(b'"text":')[2].lstrip()
    return float(tail[1 : tail.index(b'"', 1)])


def _data(block: bytes) -> dict[str, Any]:
    for line in block.split(b"\n"):
        if line.startswith(b"data:"):
            value = json.loads(line[5:])
            if isinstance(value, dict):
                return value
    raise RuntimeError(f"an SSE message without a JSON object: {block[:200]!r}")


async def _client(
    port: int, thread_id: str, delays: list[float], firsts: list[float], ready: asyncio.Queue[None]
) -> int:
    """Hold one thread event stream open until the run completes; return how many token deltas it read.
    Appends each token's delay (s) to ``delays`` and the making time of the first token it read to ``firsts``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = json.dumps({"channels": CHANNELS}).encode()
    writer.write(
        f"POST /threads/{thread_id}/stream/events HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")):
            raise RuntimeError(f"the event stream was refused: {head[:300]!r} {await reader.read(500)!r}")
        ready.put_nowait(None)
        buffer = b""
        received = 0
        now = time.time
        while True:
            data = await reader.read(65536)
            if not data:
                raise RuntimeError(f"the event stream ended before the run completed, after {received} tokens")
            buffer += data.replace(b"\r\n", b"\n") if b"\r" in data else data
            *blocks, buffer = buffer.split(b"\n\n")
            t = now()
            for block in blocks:
                if b'"content-block-delta"' in block:
                    made = _delta_time(block)
                    delays.append(t - made)
                    if not received:
                        firsts.append(made)
                    received += 1
                elif b"lifecycle" in block:
                    event = _data(block)
                    params = event.get("params", {})
                    phase = params.get("data", {}).get("event")
                    if params.get("namespace") == [] and phase in ("completed", "failed", "interrupted"):
                        if phase != "completed":
                            raise RuntimeError(f"the run ended {phase}: {event}")
                        return received
    finally:
        writer.close()


def server_stack(pid: int) -> str:
    """Which event loop and HTTP parser process ``pid`` has loaded, read from ``/proc/{pid}/maps``: uvicorn
    takes uvloop and httptools when they are installed, else asyncio's loop and h11."""
    try:
        with open(f"/proc/{pid}/maps") as maps:
            mapped = maps.read()
    except OSError:
        return "stack unknown"
    loop = "uvloop" if "/uvloop/" in mapped else "asyncio"
    http = "httptools" if "/httptools/" in mapped else "h11"
    return f"{loop}+{http}"


async def thread_fan_out(port: int, assistant_id: str, n: int, server_pid: int, pause: float = 0.0) -> Sample:
    """Create a thread, connect :data:`CLIENTS` clients to its event stream, start a run of ``n`` tokens
    (``pause`` seconds apart, or only a yield to the loop for 0) with ``run.start`` and wait until every
    client saw the run complete.

    :returns: token deliveries summed over the clients, timed from sending ``run.start``; in the notes the
        p50/p99 delay from each token's making to its reading, how long after ``run.start`` the first token was
        made, and the server's CPU time over the run and its loop and HTTP parser (:func:`server_stack`)
    :raises RuntimeError: when a client did not read exactly ``n`` tokens, or a command failed
    """
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:
        created = await http.post("/threads", json={})
        created.raise_for_status()
        thread_id = created.json()["thread_id"]
        delays: list[float] = []
        firsts: list[float] = []
        ready: asyncio.Queue[None] = asyncio.Queue()
        clients = [asyncio.create_task(_client(port, thread_id, delays, firsts, ready)) for _ in range(CLIENTS)]
        waiting = asyncio.ensure_future(asyncio.gather(*clients))
        for _ in range(CLIENTS):
            got = asyncio.ensure_future(ready.get())
            await asyncio.wait([got, waiting], return_when=asyncio.FIRST_COMPLETED)
            if not got.done():
                got.cancel()
                await waiting  # a client failed before its headers: raise its error
        cpu = cpu_seconds(server_pid)
        question = {"role": "user", "content": f"{n} {pause}"}
        command = {
            "id": 1,
            "method": "run.start",
            "params": {"assistant_id": assistant_id, "input": {"messages": [question]}},
        }
        start = time.perf_counter()
        sent = time.time()
        answer = await http.post(f"/threads/{thread_id}/commands", json=command)
        if answer.status_code != 200 or answer.json().get("type") != "success":
            waiting.cancel()
            raise RuntimeError(f"run.start was answered {answer.status_code}: {answer.text[:500]}")
        received = await waiting
        seconds = time.perf_counter() - start
        cpu = cpu_seconds(server_pid) - cpu
        stack = server_stack(server_pid)
    if received != [n] * CLIENTS:
        raise RuntimeError(f"clients read {sorted(set(received))} tokens, expected {n} each")
    delays.sort()
    p50 = delays[len(delays) // 2] * 1000
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))] * 1000
    first = (min(firsts) - sent) * 1000
    return Sample(
        sum(received),
        seconds,
        extra=f"p99 delay {p99:.1f} ms (p50 {p50:.1f} ms), first token made {first:.0f} ms after run.start, "
        f"{CLIENTS} clients, server CPU {cpu:.2f} s on {stack}",
    )


async def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            await asyncio.wait_for(asyncio.to_thread(proc.wait), 15)
        except TimeoutError:
            proc.kill()
            await asyncio.to_thread(proc.wait)


@scenario(
    "protocol_fanout",
    unit="deliveries/s",
    baseline="lg_protocol_fanout",
    compare="lg_protocol_fanout_asyncio",
    n=2_000,
    quick_n=1_000,
)
async def protocol_fanout(n: int) -> Sample:
    """streamflow's app: one run's n tokens to 50 v3 protocol SSE clients of its thread; p99 delay in notes."""
    return await app_fan_out(n)


@scenario(
    "protocol_fanout_paced",
    unit="deliveries/s",
    baseline="lg_protocol_fanout_paced",
    n=250,
    quick_n=100,
)
async def protocol_fanout_paced(n: int) -> Sample:
    """protocol_fanout with one token every 20 ms (50 tokens/s): the delay a client of a real model sees."""
    return await app_fan_out(n, pause=PACE)


async def app_fan_out(n: int, *, pause: float = 0.0) -> Sample:
    """Start streamflow's app under uvicorn on a free loopback port and run :func:`thread_fan_out` on it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, env=env, cwd=str(ROOT), text=True)
    try:
        assert proc.stdout is not None
        port = int(await asyncio.to_thread(proc.stdout.readline))
        return await thread_fan_out(port, "tokens", n, proc.pid, pause)
    finally:
        await _stop(proc)
        if proc.stdout is not None:
            proc.stdout.close()


def agent_server_venv() -> Path:
    """The virtual environment LangGraph's Agent Server runs from, created with ``requirements.txt`` when it
    is missing or lacks the dev server.

    :raises ScenarioSkipped: with pip's output, when it cannot be created
    """
    venv = Path(os.environ.get(VENV_ENV) or Path.home() / ".cache" / "streamflow" / "venv-agent-server")
    cli = venv / "bin" / "langgraph"
    check = [str(venv / "bin" / "python"), "-c", "import langgraph_api, langgraph_runtime_inmem"]
    if cli.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return venv
    print(f"creating {venv} for LangGraph's Agent Server (pip, once)", file=sys.stderr, flush=True)
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-r", str(AGENT_SERVER / "requirements.txt")],
    ]
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ScenarioSkipped(f"could not create {venv}: {exc}") from exc
        if done.returncode != 0:
            output = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise ScenarioSkipped(f"could not create {venv}: {' '.join(step[:4])} failed: {' | '.join(output)}")
    return venv


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _wait_until_up(proc: subprocess.Popen[Any], port: int, log: Path) -> None:
    """Poll ``GET /ok`` until the dev server answers (it prints no port of its own to wait for).

    :raises ScenarioSkipped: with the end of its log, when it exits or does not answer in time
    """
    deadline = time.monotonic() + START_TIMEOUT
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-8:])
                raise ScenarioSkipped(f"LangGraph's dev server exited with status {proc.returncode}: {tail}")
            try:
                if (await http.get("/ok")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-8:])
    raise ScenarioSkipped(f"LangGraph's dev server did not answer within {START_TIMEOUT:g} s: {tail}")


HIDDEN = ("uvloop", "httptools")
"""Modules the ``_asyncio`` variant hides from the dev server, so that uvicorn falls back to asyncio's loop and
h11, as streamflow's server here (``langgraph-api`` installs both; ``streamflow[server]`` neither)."""


async def agent_server_fan_out(n: int, *, hide: tuple[str, ...] = (), pause: float = 0.0) -> Sample:
    """Start ``langgraph dev`` on a free loopback port in a temporary copy of ``agent_server/`` and run
    :func:`thread_fan_out` against it; ``hide`` names modules made unimportable in the server process (a
    module of that name raising ImportError, first on its ``PYTHONPATH``).

    :raises ScenarioSkipped: when the virtual environment cannot be made or the server does not start
    """
    venv = await asyncio.to_thread(agent_server_venv)
    with tempfile.TemporaryDirectory(prefix="streamflow-agent-server-") as tmp:
        work = Path(tmp)
        for name in ("langgraph.json", "tokens_graph.py"):
            shutil.copy(AGENT_SERVER / name, work / name)
        env = {
            **os.environ,
            "LANGSMITH_TRACING": "false",
            "LANGGRAPH_CLI_NO_ANALYTICS": "1",
            "LANGGRAPH_NO_VERSION_CHECK": "true",
            "LOG_LEVEL": "WARNING",
        }
        env.pop("PYTHONPATH", None)
        if hide:
            shadow = work / "hidden"
            shadow.mkdir()
            for module in hide:
                (shadow / f"{module}.py").write_text(f"raise ImportError('{module} is hidden from this server')\n")
            env["PYTHONPATH"] = str(shadow)
        port = _free_port()
        log = work / "server.log"
        command = [
            str(venv / "bin" / "langgraph"),
            "dev",
            "--no-browser",
            "--no-reload",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--server-log-level",
            "warning",
            "--config",
            str(work / "langgraph.json"),
        ]
        with open(log, "wb") as out:
            proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=str(work))
        try:
            await _wait_until_up(proc, port, log)
            return await thread_fan_out(port, "tokens", n, proc.pid, pause)
        finally:
            await _stop(proc)


@scenario("lg_protocol_fanout", unit="deliveries/s", n=2_000, quick_n=1_000)
async def lg_protocol_fanout(n: int) -> Sample:
    """LangGraph's Agent Server dev server (langgraph dev): the same run and 50 v3 protocol SSE clients."""
    return await agent_server_fan_out(n)


@scenario("lg_protocol_fanout_paced", unit="deliveries/s", n=250, quick_n=100)
async def lg_protocol_fanout_paced(n: int) -> Sample:
    """lg_protocol_fanout with one token every 20 ms (50 tokens/s): the delay a client of a real model sees."""
    return await agent_server_fan_out(n, pause=PACE)


@scenario("lg_protocol_fanout_asyncio", unit="deliveries/s", n=2_000, quick_n=1_000)
async def lg_protocol_fanout_asyncio(n: int) -> Sample:
    """lg_protocol_fanout with uvloop and httptools hidden: asyncio's loop and h11, as streamflow's server."""
    return await agent_server_fan_out(n, hide=HIDDEN)


__all__ = [
    "agent_server_fan_out",
    "agent_server_venv",
    "lg_protocol_fanout",
    "lg_protocol_fanout_asyncio",
    "lg_protocol_fanout_paced",
    "protocol_fanout",
    "protocol_fanout_paced",
    "thread_fan_out",
]
