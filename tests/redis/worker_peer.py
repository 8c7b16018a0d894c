"""A worker process for the serving tests: ``python -m tests.redis.worker_peer URL PREFIX [MAXLEN]``.

It serves the graphs of :data:`GRAPHS` with a :class:`~streamflow.redis.RedisWorker`, prints ``ready`` once
it listens, and stops (cancelling its runs) on SIGTERM or SIGINT. ``MAXLEN`` caps each run's Redis stream.

The ``gated`` graph crosses processes: its node writes two progress items, then waits on ``BLPOP
<PREFIX>:gate`` until the test pushes to that list, then writes the rest.
"""

from __future__ import annotations

import logging
import signal
import sys
from typing import Annotated, Any, TypedDict

import anyio
import redis.asyncio
import structlog

from streamflow.graph import END, START, StateGraph, get_stream_writer
from streamflow.messages import add_messages
from streamflow.models import FakeChatModel
from streamflow.redis import RedisWorker

from .graphs import demo_graph, writer_graph


class GatedState(TypedDict, total=False):
    messages: Annotated[list[Any], add_messages]
    n: int


def gated_graph(url: str, prefix: str) -> Any:
    """plan (model tokens, two progress items) -> wait for the gate -> write three more -> done."""

    async def plan(state: GatedState) -> dict[str, Any]:
        model = FakeChatModel(["a plan in words"], chunk_size=3, tags=["llm"])
        message = await model.ainvoke(state.get("messages", []))
        write = get_stream_writer()
        write({"progress": 1})
        write({"progress": 2})
        client = redis.asyncio.Redis.from_url(url)
        try:
            await client.blpop([f"{prefix}:gate"], timeout=0)  # blocks until the test opens the gate
        finally:
            await client.aclose()
        for i in range(3, 6):
            write({"progress": i})
        return {"messages": [message], "n": 5}

    def done(state: GatedState) -> dict[str, Any]:
        return {"n": state["n"] + 1}

    return (
        StateGraph(GatedState)
        .add_node("plan", plan)
        .add_node("done", done)
        .add_edge(START, "plan")
        .add_edge("plan", "done")
        .add_edge("done", END)
        .compile(name="gated")
    )


def graphs(url: str, prefix: str) -> dict[str, Any]:
    """The graphs the worker serves (the web side of the tests registers the same ones)."""
    return {
        "demo": demo_graph,
        "writer": lambda: writer_graph(300),
        "failing": lambda: writer_graph(3, fail=True),
        "gated": lambda: gated_graph(url, prefix),
    }


async def main(url: str, prefix: str, maxlen: int) -> None:
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    sink_options = {"maxlen": maxlen, "heartbeat_interval": 0.2}
    async with (
        RedisWorker(graphs(url, prefix), url, prefix=prefix, sink_options=sink_options) as worker,
        anyio.create_task_group() as tg,
    ):

        async def on_signal() -> None:
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for _ in signals:
                    tg.cancel_scope.cancel()
                    return

        async def announce() -> None:
            await worker.ready.wait()
            print("ready", flush=True)

        tg.start_soon(on_signal)
        tg.start_soon(announce)
        await worker.serve()


if __name__ == "__main__":
    url, prefix, *rest = sys.argv[1:]
    anyio.run(main, url, prefix, int(rest[0]) if rest else 10_000)
