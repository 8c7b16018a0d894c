"""Scenarios for the Redis bridge (needs the ``redis`` extra and a Redis at 127.0.0.1:6379).

``redis_bridge``
    events/s from a writer node, through a :class:`~streamflow.redis.RedisSink` with its default batching
    (pipelined ``XADD`` batches of up to 256 events), to a :class:`~streamflow.redis.RemoteRun` viewer
    reading ``stream_mode="custom"`` until the run's terminal event. The viewer runs in the same process
    (the same code path a viewer in another process takes; both share the CPU here).
``redis_bridge_per_event``
    the same with ``batch_size=1``: one ``XADD`` round trip per event. ``redis_bridge`` must be at least
    5 times as fast, measured in the same run.

The module is skipped (with a warning) when no Redis answers.
"""

from __future__ import annotations

import socket
import time
import uuid
from typing import Any, TypedDict

from .harness import Sample, scenario

URL = "redis://127.0.0.1:6379/0"


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


if not _redis_answers():
    raise ImportError("no Redis answers at 127.0.0.1:6379")

import redis.asyncio  # noqa: E402

from streamflow.graph import START, StateGraph, get_stream_writer  # noqa: E402
from streamflow.redis import RedisSink, RemoteRun  # noqa: E402


class _State(TypedDict):
    n: int


def _graph(n: int) -> Any:
    async def write(state: _State) -> dict[str, int]:
        writer = get_stream_writer()
        for i in range(n):
            writer(i)
        return {"n": n}

    return StateGraph(_State).add_node("write", write).add_edge(START, "write").compile(name="bench")


def _bridge(**sink_options: Any) -> Any:
    async def bench(n: int) -> Sample:
        graph = _graph(n)
        prefix = f"sfbench-{uuid.uuid4().hex[:8]}"
        client = redis.asyncio.Redis.from_url(URL)
        try:
            start = time.perf_counter()
            async with (
                graph.start({"n": 0}) as run,
                RedisSink(run, client, prefix=prefix, maxlen=max(n * 2, 1000), **sink_options),
                RemoteRun(client, run.run_id, prefix=prefix) as remote,
            ):
                count = 0
                async for _chunk in remote.stream("custom", overflow="block"):
                    count += 1
            seconds = time.perf_counter() - start
            assert count == n, f"the viewer got {count} of {n} events"
            return Sample(count, seconds)
        finally:
            keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()

    return bench


scenario("redis_bridge_per_event", unit="events/s", n=1_500, quick_n=500)(_bridge(batch_size=1, flush_interval=0))
scenario(
    "redis_bridge",
    unit="events/s",
    n=20_000,
    quick_n=5_000,
    baseline="redis_bridge_per_event",
    targets={"redis_bridge_per_event": 5.0},
)(_bridge())
