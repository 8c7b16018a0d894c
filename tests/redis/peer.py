"""The other process of the Redis tests, run as ``python -m tests.redis.peer ROLE ...``.

``view URL PREFIX RUN_ID SPECS``
    attach every view described by ``SPECS`` (a JSON list of ``{"kind": "stream" | "subscribe", "args":
    {...}}``) to the remote run at once, read each to its end, and print one line: the base64 of a pickled
    list with, per view, ``{"items": [...], "outcome": <terminal event or None>, "error": (type, message) or
    None}``.
``work URL PREFIX RUN_ID COUNT HEARTBEAT``
    run a graph with a Redis sink whose node writes ``COUNT`` custom items and then waits forever (the test
    kills this process).
"""

from __future__ import annotations

import base64
import json
import pickle
import sys
from typing import Any

import anyio

from streamflow.graph import START, StateGraph, get_stream_writer
from streamflow.redis import RedisSink, RemoteRun

from .graphs import CountState


async def view(url: str, prefix: str, run_id: str, specs: list[dict[str, Any]]) -> None:
    results: list[dict[str, Any]] = [{} for _ in specs]

    async def read(index: int, remote: RemoteRun, spec: dict[str, Any]) -> None:
        target = remote.stream(**spec["args"]) if spec["kind"] == "stream" else remote.subscribe(**spec["args"])
        items: list[Any] = []
        error = None
        try:
            async with target:
                async for item in target:
                    items.append(item)
        except Exception as exc:
            error = (type(exc).__name__, str(exc))
        results[index] = {"items": items, "outcome": target.outcome, "error": error}

    async with (
        RemoteRun(url, run_id, prefix=prefix, start_timeout=20, stall_timeout=20) as remote,
        anyio.create_task_group() as tg,
    ):
        for index, spec in enumerate(specs):
            tg.start_soon(read, index, remote, spec)
    print(base64.b64encode(pickle.dumps(results)).decode())


async def work(url: str, prefix: str, run_id: str, count: int, heartbeat: float) -> None:
    async def write_then_hang(state: CountState) -> dict[str, int]:
        writer = get_stream_writer()
        for i in range(count):
            writer({"i": i})
        await anyio.Event().wait()
        return {"n": count}

    graph = StateGraph(CountState).add_node("write", write_then_hang).add_edge(START, "write").compile(name="hang")
    async with (
        graph.start({"n": 0}, config={"run_id": run_id}) as run,
        RedisSink(run, url, prefix=prefix, heartbeat_interval=heartbeat),
    ):
        await run.result()


def main(argv: list[str]) -> None:
    role, url, prefix, run_id, *rest = argv
    if role == "view":
        anyio.run(view, url, prefix, run_id, json.loads(rest[0]))
    elif role == "work":
        anyio.run(work, url, prefix, run_id, int(rest[0]), float(rest[1]))
    else:
        raise SystemExit(f"unknown role {role!r}; roles: view, work")


if __name__ == "__main__":
    main(sys.argv[1:])
