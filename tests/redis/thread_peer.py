"""A worker process for the thread tests: ``python -m tests.redis.thread_peer URL PREFIX PG``.

It serves the ``approval`` graph of :func:`approval_graph` with a :class:`~streamflow.redis.RedisWorker`, its
threads checkpointed in PostgreSQL (``PG``, a libpq connection string), prints ``ready`` once it listens, and
hands its runs over and exits on SIGTERM.
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
from streamflow.graph import START, StateGraph
from streamflow.redis import RedisWorker
from streamflow.types import interrupt


class Approval(TypedDict, total=False):
    request: str
    answer: str
    log: Annotated[list[str], operator.add]


def approval_graph(url: str, prefix: str) -> Any:
    """``draft`` (waits on ``BLPOP <PREFIX>:gate`` when the request is ``"wait"``) -> ``ask`` (``interrupt()``,
    then answers); not compiled."""

    async def draft(state: Approval) -> dict[str, Any]:
        if state["request"] == "wait":
            client = redis.asyncio.Redis.from_url(url)
            try:
                await client.blpop([f"{prefix}:gate"], timeout=0)  # until the test opens the gate
            finally:
                await client.aclose()
        return {"log": [f"drafted {state['request']}"]}

    def ask(state: Approval) -> dict[str, Any]:
        decision = interrupt({"question": f"run {state['request']}?"})
        return {"answer": f"{state['request']}: {decision}", "log": ["asked"]}

    return StateGraph(Approval).add_sequence([("draft", draft), ("ask", ask)]).add_edge(START, "draft")


async def main(url: str, prefix: str, pg: str) -> None:
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    async with AsyncPostgresSaver.from_conn_string(pg) as saver:
        await saver.setup()
        graph = approval_graph(url, prefix).compile(name="approval", checkpointer=saver)
        async with RedisWorker({"approval": graph}, url, prefix=prefix, claim_interval=0.2) as worker:

            async def announce() -> None:
                await worker.ready.wait()
                print("ready", flush=True)

            async with anyio.create_task_group() as tg:
                tg.start_soon(announce)
                await worker.serve(hand_over_on=(signal.SIGTERM,))


if __name__ == "__main__":
    url, prefix, pg = sys.argv[1:4]
    anyio.run(main, url, prefix, pg)
