"""Runs that survive their worker, under load: worker processes killed while they execute runs.

``worker_takeover``
    ``n`` runs (1,000; 200 under ``--quick``) of a three-node graph checkpointed in PostgreSQL, queued on Redis
    and executed by 4 :class:`~streamflow.redis.RedisWorker` processes (16 runs at once each, lease of 2 s,
    claims every 0.5 s); once a third of the runs finished, 2 of the workers are killed with SIGKILL. Reported:
    runs/s over the whole load and, in the notes, what the directory and the streams say: how many runs finished
    exactly once (one ``RunStarted``, one terminal event, ``seq`` gap-free), how many were taken over, and the
    time from the kill to each ``RunTakenOver`` event, p50/p99 (the lease's expiry is most of it).

Needs the ``redis`` and ``postgres`` extras, a Redis at 127.0.0.1:6379 and a PostgreSQL at 127.0.0.1:5432
(database ``test``, or ``STREAMFLOW_TEST_POSTGRES``); the scenario fails when one is missing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

from .harness import Sample, scenario
from .redis_bridge import URL
from .sse import ROOT

POSTGRES = os.environ.get("STREAMFLOW_TEST_POSTGRES", "host=127.0.0.1 port=5432 dbname=test user=postgres")
WORKERS = 4
KILLED = 2
LEASE_TTL = 2.0
CLAIM_INTERVAL = 0.5

WORKER = r"""
import asyncio, logging, operator, sys
from typing import Annotated, TypedDict
import structlog
from streamflow.checkpoint.postgres.aio import AsyncPostgresSaver
from streamflow.graph import START, StateGraph, get_stream_writer
from streamflow.redis import RedisWorker

structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
url, prefix, pg, name, lease_ttl, claim_interval = sys.argv[1:7]


class Work(TypedDict):
    done: Annotated[list[str], operator.add]


def step(node):
    async def run(state):
        get_stream_writer()({"node": node})
        await asyncio.sleep(0.02)  # the node's own work (a model or tool call)
        return {"done": [node]}
    return (node, run)


async def main():
    async with AsyncPostgresSaver.from_conn_string(pg) as saver:
        await saver.setup()
        graph = (
            StateGraph(Work).add_sequence([step(n) for n in ("a", "b", "c")]).add_edge(START, "a")
            .compile(name="work", checkpointer=saver)
        )
        worker = RedisWorker(
            {"work": graph}, url, prefix=prefix, consumer=name, max_runs=16, lease_ttl=float(lease_ttl),
            claim_interval=float(claim_interval), sink_options={"heartbeat_interval": 0.5},
        )
        async with worker:
            task = asyncio.create_task(worker.serve())
            await worker.ready.wait()
            print("ready", flush=True)
            await task

asyncio.run(main())
"""


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


@scenario("worker_takeover", unit="runs/s", n=1_000, quick_n=200, repeats=1)
async def worker_takeover(n: int) -> Sample:
    """n checkpointed runs over 4 worker processes, 2 of them killed with SIGKILL a third of the way through."""
    import psycopg
    import redis.asyncio

    from streamflow.checkpoint.postgres.aio import AsyncPostgresSaver
    from streamflow.events import RunFinished, RunStarted, RunTakenOver
    from streamflow.redis import RedisKeys, RunQueue, decode_event

    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    pg = f"{POSTGRES} options='-c search_path={schema}'"
    async with AsyncPostgresSaver.from_conn_string(pg) as saver:
        await saver.setup()  # once, before the workers: their own setup() then finds the tables
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, URL, prefix, pg, f"w{i}", str(LEASE_TTL), str(CLAIM_INTERVAL)],
            stdout=subprocess.PIPE,
            env=env,
            cwd=ROOT,
            text=True,
        )
        for i in range(WORKERS)
    ]
    client = redis.asyncio.Redis.from_url(URL)
    keys = RedisKeys(prefix)
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert (await asyncio.to_thread(proc.stdout.readline)).strip() == "ready"
        queue = RunQueue(client, prefix=prefix)
        started = time.perf_counter()
        run_ids = [await queue.submit("work", {"done": []}, {"configurable": {"thread_id": f"t{i}"}}) for i in range(n)]
        killed_at = 0.0
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            pipe = client.pipeline(transaction=False)
            for run_id in run_ids:
                pipe.hget(keys.info(run_id), "status")
            statuses = await pipe.execute()
            ended = sum(1 for s in statuses if s in (b"finished", b"failed", b"cancelled"))
            if not killed_at and ended >= n // 3:
                for proc in procs[:KILLED]:
                    os.kill(proc.pid, signal.SIGKILL)
                killed_at = time.time()
            if ended == n:
                break
            await asyncio.sleep(0.05)  # polling other processes' progress, not synchronisation
        seconds = time.perf_counter() - started
        once = twice = unfinished = taken = 0
        delays: list[float] = []
        for run_id, status in zip(run_ids, statuses, strict=True):
            entries: Any = await client.xrange(keys.stream(run_id), "-", "+")
            events = [decode_event(fields[b"e"]) for _, fields in entries]
            terminal = [e for e in events if e.terminal]
            starts = sum(isinstance(e, RunStarted) for e in events)
            gap_free = [e.seq for e in events] == list(range(1, len(events) + 1))
            if status != b"finished" or not terminal or not isinstance(terminal[-1], RunFinished):
                unfinished += 1
            elif len(terminal) == 1 and starts == 1 and gap_free:
                once += 1
            else:
                twice += 1
            for event in events:
                if isinstance(event, RunTakenOver):
                    taken += 1
                    delays.append(event.ts - killed_at)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
            await asyncio.to_thread(proc.wait)
            if proc.stdout is not None:
                proc.stdout.close()
        stale = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if stale:
            await client.delete(*stale)
        await client.aclose()
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
    extra = (
        f"{n} runs over {WORKERS} workers, {KILLED} killed (SIGKILL) after a third finished: {once} finished "
        f"exactly once, {twice} more than once, {unfinished} not finished; {taken} taken over mid-run, "
        f"take-over {statistics.median(delays) if delays else float('nan'):.2f} s p50 / "
        f"{_percentile(delays, 0.99):.2f} s p99 after the kill (lease {LEASE_TTL:g} s, claims every "
        f"{CLAIM_INTERVAL:g} s)"
    )
    return Sample(ops=n, seconds=seconds, extra=extra)


__all__ = ["worker_takeover"]
