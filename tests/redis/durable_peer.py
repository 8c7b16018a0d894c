"""A worker process for the takeover tests: ``python -m tests.redis.durable_peer URL PREFIX PG NAME MODE``.

It serves two graphs with a :class:`~streamflow.redis.RedisWorker` (lease of 1 s, claims every 0.2 s), prints
``ready`` once it listens, hands its runs over to other workers and exits on SIGTERM, and cancels them and
exits on SIGINT:

- ``steps``: four nodes in sequence, checkpointed in PostgreSQL (``PG``, a libpq connection string);
- ``plain``: the same nodes without a checkpointer.

Every node appends ``<NAME>:<node>`` to the Redis list ``<PREFIX>:executed`` when it runs, and writes a
progress item. ``MODE`` says how this worker misbehaves: ``stuck`` blocks forever in node ``s3`` (the
test kills it there), ``take`` prints ``took <run_id>`` and blocks once it has taken a job and its lease,
before it starts the run; ``ok`` behaves; ``one-slot`` behaves with a single run at a time (``max_runs=1``).
"""

from __future__ import annotations

import logging
import operator
import signal
import sys
from typing import Annotated, Any, TypedDict

import anyio
import redis.asyncio
import structlog

from streamflow.checkpoint.postgres.aio import AsyncPostgresSaver
from streamflow.graph import START, StateGraph, get_stream_writer
from streamflow.redis import RedisWorker
from streamflow.redis.jobs import Job
from streamflow.redis.lease import RunLease

NODES = ("s1", "s2", "s3", "s4")


class Steps(TypedDict):
    done: Annotated[list[str], operator.add]


def builder(url: str, prefix: str, name: str, mode: str) -> Any:
    def step(node: str) -> Any:
        async def run(state: Steps) -> dict[str, Any]:
            client = redis.asyncio.Redis.from_url(url)
            try:
                await client.rpush(f"{prefix}:executed", f"{name}:{node}")
                get_stream_writer()({"node": node})
                if node == "s3" and mode == "stuck":
                    print("stuck", flush=True)
                    await client.blpop([f"{prefix}:never"], timeout=0)  # the test kills this process here
            finally:
                await client.aclose()
            return {"done": [node]}

        return (node, run)

    return StateGraph(Steps).add_sequence([step(n) for n in NODES]).add_edge(START, "s1")


class TakingWorker(RedisWorker):
    """Takes a job and its lease, then blocks before starting the run."""

    async def _leased(self, job: Job, lease: RunLease, attempt: int) -> None:
        print(f"took {job.run_id}", flush=True)
        await anyio.sleep_forever()


async def main(url: str, prefix: str, pg: str, name: str, mode: str) -> None:
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    async with AsyncPostgresSaver.from_conn_string(pg) as saver:
        await saver.setup()
        graphs = {
            "steps": builder(url, prefix, name, mode).compile(name="steps", checkpointer=saver),
            "plain": builder(url, prefix, name, mode).compile(name="plain"),
        }
        cls = TakingWorker if mode == "take" else RedisWorker
        async with (
            cls(
                graphs,
                url,
                prefix=prefix,
                consumer=name,
                sink_options={"heartbeat_interval": 0.2},
                max_runs=1 if mode == "one-slot" else 8,
                lease_ttl=1.0,
                claim_interval=0.2,
            ) as worker,
            anyio.create_task_group() as tg,
        ):

            async def on_signal() -> None:
                with anyio.open_signal_receiver(signal.SIGINT) as signals:
                    async for _ in signals:
                        tg.cancel_scope.cancel()
                        return

            async def announce() -> None:
                await worker.ready.wait()
                print("ready", flush=True)

            tg.start_soon(on_signal)
            tg.start_soon(announce)
            await worker.serve(hand_over_on=(signal.SIGTERM,))
            print(f"stopped handed_over={worker.statistics().handed_over}", flush=True)
            tg.cancel_scope.cancel()


if __name__ == "__main__":
    url, prefix, pg, name, mode = sys.argv[1:6]
    anyio.run(main, url, prefix, pg, name, mode)
