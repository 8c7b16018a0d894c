"""Attach a structlog view to a run: one log line per event, with run_id, seq, ns, node and step bound.

The library never configures structlog; this script does, as an application would.
"""

from __future__ import annotations

import asyncio
from typing import TypedDict

import anyio
import structlog

from streamflow.graph import START, StateGraph, get_stream_writer
from streamflow.log_view import LogView


class State(TypedDict):
    topic: str


def research(state: State) -> dict[str, str]:
    get_stream_writer()({"progress": "done"})
    return {"topic": state["topic"] + " and cats"}


graph = StateGraph(State).add_node("research", research).add_edge(START, "research").compile(name="research")


async def main() -> None:
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.KeyValueRenderer(key_order=["level", "event", "seq", "node", "step", "ns"]),
        ]
    )
    async with graph.start({"topic": "ice cream"}, {"run_id": "run-1"}) as run:
        view = LogView.attach(run, overflow="block", levels={"custom_data": "info"})
        async with anyio.create_task_group() as tg:
            tg.start_soon(view.run)
        print("result:", await run.result())


if __name__ == "__main__":
    asyncio.run(main())
