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


class _Load:
    """``workers`` worker processes on a new prefix and PostgreSQL schema, stopped and cleaned up on exit."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.prefix = f"bench-{uuid.uuid4().hex[:8]}"
        self.schema = f"bench_{uuid.uuid4().hex[:8]}"
        self.procs: list[subprocess.Popen[str]] = []

    async def __aenter__(self) -> _Load:
        import psycopg
        import redis.asyncio

        from streamflow.checkpoint.postgres.aio import AsyncPostgresSaver
        from streamflow.redis import RedisKeys, RunQueue

        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f"CREATE SCHEMA {self.schema}")
        pg = f"{POSTGRES} options='-c search_path={self.schema}'"
        async with AsyncPostgresSaver.from_conn_string(pg) as saver:
            await saver.setup()  # once, before the workers: their own setup() then finds the tables
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        args = [URL, self.prefix, pg]
        self.procs = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, *args, f"w{i}", str(LEASE_TTL), str(CLAIM_INTERVAL)],
                stdout=subprocess.PIPE,
                env=env,
                cwd=ROOT,
                text=True,
            )
            for i in range(self.workers)
        ]
        self.client = redis.asyncio.Redis.from_url(URL)
        self.keys = RedisKeys(self.prefix)
        self.queue = RunQueue(self.client, prefix=self.prefix)
        for proc in self.procs:
            assert proc.stdout is not None
            assert (await asyncio.to_thread(proc.stdout.readline)).strip() == "ready"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        import psycopg

        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
            await asyncio.to_thread(proc.wait)
            if proc.stdout is not None:
                proc.stdout.close()
        stale = [key async for key in self.client.scan_iter(match=f"{self.prefix}:*", count=1000)]
        if stale:
            await self.client.delete(*stale)
        await self.client.aclose()
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {self.schema} CASCADE")

    async def submit(self, i: int) -> str:
        return await self.queue.submit("work", {"done": []}, {"configurable": {"thread_id": f"t{i}"}})

    async def wait_ended(self, run_ids: list[str], on_progress: Any = None) -> list[Any]:
        """Poll the directory until every run ended (another process's progress, not synchronisation)."""
        deadline = time.monotonic() + 600
        while True:
            pipe = self.client.pipeline(transaction=False)
            for run_id in run_ids:
                pipe.hget(self.keys.info(run_id), "status")
            statuses: list[Any] = await pipe.execute()
            ended = sum(1 for s in statuses if s in (b"finished", b"failed", b"cancelled"))
            if on_progress is not None:
                on_progress(ended)
            if ended == len(run_ids) or time.monotonic() > deadline:
                return statuses
            await asyncio.sleep(0.05)


@scenario("worker_takeover", unit="runs/s", n=1_000, quick_n=200, repeats=1)
async def worker_takeover(n: int) -> Sample:
    """n checkpointed runs over 4 worker processes, 2 of them killed with SIGKILL a third of the way through."""
    from streamflow.events import RunFinished, RunStarted, RunTakenOver
    from streamflow.redis import decode_event

    async with _Load(WORKERS) as load:
        started = time.perf_counter()
        run_ids = [await load.submit(i) for i in range(n)]
        killed_at = 0.0

        def kill_at_a_third(ended: int) -> None:
            nonlocal killed_at
            if not killed_at and ended >= n // 3:
                for proc in load.procs[:KILLED]:
                    os.kill(proc.pid, signal.SIGKILL)
                killed_at = time.time()

        statuses = await load.wait_ended(run_ids, kill_at_a_third)
        seconds = time.perf_counter() - started
        once = twice = unfinished = taken = 0
        delays: list[float] = []
        for run_id, status in zip(run_ids, statuses, strict=True):
            entries: Any = await load.client.xrange(load.keys.stream(run_id), "-", "+")
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
    extra = (
        f"{n} runs over {WORKERS} workers, {KILLED} killed (SIGKILL) after a third finished: {once} finished "
        f"exactly once, {twice} more than once, {unfinished} not finished; {taken} taken over mid-run, "
        f"take-over {statistics.median(delays) if delays else float('nan'):.2f} s p50 / "
        f"{_percentile(delays, 0.99):.2f} s p99 after the kill (lease {LEASE_TTL:g} s, claims every "
        f"{CLAIM_INTERVAL:g} s)"
    )
    return Sample(ops=n, seconds=seconds, extra=extra)


@scenario("worker_runs", unit="runs/s", n=1_000, quick_n=200, repeats=1)
async def worker_runs(n: int) -> Sample:
    """50 runs one after the other (submit to first event read), then n runs at once over 2 worker processes."""
    async with _Load(2) as load:
        latencies: list[float] = []
        for i in range(50):
            began = time.perf_counter()
            run_id = await load.submit(-1 - i)
            await load.client.xread({load.keys.stream(run_id): "0-0"}, count=1, block=60_000)
            latencies.append(time.perf_counter() - began)
            await load.wait_ended([run_id])
        started = time.perf_counter()
        run_ids = [await load.submit(i) for i in range(n)]
        statuses = await load.wait_ended(run_ids)
        seconds = time.perf_counter() - started
    finished = sum(1 for s in statuses if s == b"finished")
    extra = (
        f"submit to first event read, one run at a time: {statistics.median(latencies) * 1000:.1f} ms p50 / "
        f"{_percentile(latencies, 0.99) * 1000:.1f} ms p99; then {n} runs submitted at once, {finished} finished, "
        "over 2 workers (16 runs at once each) of a three-node graph checkpointed in PostgreSQL"
    )
    return Sample(ops=n, seconds=seconds, extra=extra)


__all__ = ["worker_runs", "worker_takeover"]
