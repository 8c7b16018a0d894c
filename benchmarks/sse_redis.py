"""SSE fan-out of a run executing in a worker process, served by a web process from Redis.

``sse_from_worker``
    the ``sse_fanout`` scenario with the run in a :class:`~streamflow.redis.RedisWorker` process (its events
    go to Redis through the run's sink) and the HTTP app in another process, serving
    ``create_app(RedisRunSource(...))``: 50 clients in this process read
    ``GET /runs/{id}/stream?stream_mode=messages`` from before the first token to the ``end`` message, all
    through the web process's one shared reader of the run's Redis stream (its mirror channel). Reported as
    ``sse_fanout``: token deliveries per second summed over the clients, and the p99 delay from a token's
    event being made in the worker to a client reading it.

``sse_from_worker_paced``
    the same with the model streaming one token every :data:`PACE` seconds (500 tokens/s, faster than
    chat models stream), so the delay reported is the time one token takes from the worker to a client (the
    sink's batching, Redis, the shared reader, the stream's write, loopback) rather than the backlog of a
    burst that arrives faster than 50 clients in this process can read it.

Needs the ``server`` and ``redis`` extras and a Redis at 127.0.0.1:6379; the module is skipped otherwise.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from typing import Any

import httpx

from .harness import Sample, scenario
from .redis_bridge import URL
from .sse import ROOT, fan_out

COMMON = r"""
import asyncio, logging, socket, sys
import structlog
from streamflow.graph import START, StateGraph
from streamflow.messages import AIMessageChunk, MessagesState
from streamflow.models import BaseChatModel

structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
url, prefix, n, pace = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])

class Tokens(BaseChatModel):
    async def _astream_chunks(self, messages):
        for i in range(n):
            yield AIMessageChunk(content="t")
            await asyncio.sleep(pace)

def graph(gate):
    async def speak(state):
        await gate()
        return {"messages": [await Tokens().ainvoke("go")]}
    return StateGraph(MessagesState).add_node("speak", speak).add_edge(START, "speak").compile()
"""

WORKER = (
    COMMON
    + r"""
import redis.asyncio
from streamflow.redis import RedisWorker

async def gate():
    client = redis.asyncio.Redis.from_url(url)
    await client.blpop([f"{prefix}:go"], timeout=0)
    await client.aclose()

async def main():
    async with RedisWorker({"tokens": lambda: graph(gate)}, url, prefix=prefix) as worker:
        task = asyncio.create_task(worker.serve())
        await worker.ready.wait()
        print("ready", flush=True)
        await task

asyncio.run(main())
"""
)

WEB = (
    COMMON
    + r"""
import uvicorn
from streamflow.server import RedisRunSource, create_app

async def main():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    async with RedisRunSource(url, ["tokens"], prefix=prefix) as source:
        print(sock.getsockname()[1], flush=True)
        config = uvicorn.Config(create_app(source, page=False), log_config=None, log_level="warning", ws="none")
        await uvicorn.Server(config).serve([sock])

asyncio.run(main())
"""
)


PACE = 0.002
"""Seconds between two tokens of the model in ``sse_from_worker_paced``."""


@scenario("sse_from_worker", unit="deliveries/s", n=10_000, quick_n=2_000, repeats=3)
async def sse_from_worker(n: int) -> Sample:
    """n model tokens of a run in a worker process to 50 SSE clients of a web process reading Redis."""
    return await _from_worker(n, 0.0)


@scenario("sse_from_worker_paced", unit="deliveries/s", n=2_000, quick_n=500, repeats=3)
async def sse_from_worker_paced(n: int) -> Sample:
    """sse_from_worker with one token every 2 ms: the delay of one token from the worker to a client."""
    return await _from_worker(n, PACE)


async def _from_worker(n: int, pace: float) -> Sample:
    import redis.asyncio

    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, URL, prefix, str(n), str(pace)],
            stdout=subprocess.PIPE,
            env=env,
            cwd=ROOT,
            text=True,
        )
        for code in (WORKER, WEB)
    ]
    client = redis.asyncio.Redis.from_url(URL)
    try:
        outs = [p.stdout for p in procs]
        assert outs[0] is not None and outs[1] is not None
        assert (await asyncio.to_thread(outs[0].readline)).strip() == "ready"
        port = int(await asyncio.to_thread(outs[1].readline))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            body: dict[str, Any] = {"graph": "tokens", "input": {"messages": [{"role": "user", "content": "go"}]}}
            run_id = (await http.post("/runs", json=body)).json()["run_id"]
            path = f"/runs/{run_id}/stream?stream_mode=messages"
            sample = await fan_out(port, path, n, client.rpush(f"{prefix}:go", b"1"), procs[1].pid)
    finally:
        for proc in procs:
            proc.terminate()
            await asyncio.to_thread(proc.wait)
            if proc.stdout is not None:
                proc.stdout.close()
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()
    return sample


__all__ = ["PACE", "sse_from_worker", "sse_from_worker_paced"]
