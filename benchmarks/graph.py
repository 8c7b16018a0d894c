"""Scenarios for the graph runtime, with LangGraph measured side by side when it is installed.

``graph_linear10_*``
    runs/s of a 10-node linear graph of trivial nodes streamed with ``stream_mode="updates"``: async nodes
    through ``astream``, sync nodes through ``stream`` (the run executes on an event loop the calling thread
    runs itself; each sync node runs in that thread between two turns of the loop, no thread hop).
``writer_custom_*``
    events/s of one node calling its stream writer 100,000 times, consumed with ``stream_mode="custom"``.

The ``lg_*`` twins run the same graphs on LangGraph (``pip install -e '.[compare]'``); they are skipped
when LangGraph is not installed.
"""

from __future__ import annotations

import importlib.util
import time
from typing import Any, TypedDict

from .harness import Sample, scenario

HAVE_LANGGRAPH = importlib.util.find_spec("langgraph") is not None


class _State(TypedDict):
    x: int


def _linear(mod: Any, asynchronous: bool) -> Any:
    builder = mod.StateGraph(_State)
    prev = mod.START
    for i in range(10):
        if asynchronous:

            async def node(state: _State) -> dict[str, int]:
                return {"x": state["x"] + 1}

        else:

            def node(state: _State) -> dict[str, int]:
                return {"x": state["x"] + 1}

        builder.add_node(f"n{i}", node)
        builder.add_edge(prev, f"n{i}")
        prev = f"n{i}"
    return builder.compile()


def _writer_graph(mod: Any, get_writer: Any, asynchronous: bool, n: int) -> Any:
    if asynchronous:

        async def node(state: _State) -> dict[str, int]:
            write = get_writer()
            for i in range(n):
                write(i)
            return {"x": 1}

    else:

        def node(state: _State) -> dict[str, int]:
            write = get_writer()
            for i in range(n):
                write(i)
            return {"x": 1}

    return mod.StateGraph(_State).add_node("w", node).add_edge(mod.START, "w").compile()


def _modules(which: str) -> tuple[Any, Any]:
    if which == "lg":
        import langgraph.config
        import langgraph.graph

        return langgraph.graph, langgraph.config.get_stream_writer
    import streamflow.graph

    return streamflow.graph, streamflow.graph.get_stream_writer


def _linear_async(which: str) -> Any:
    mod, _ = _modules(which)
    graph = _linear(mod, True)

    async def bench(n: int) -> Sample:
        start = time.perf_counter()
        for _ in range(n):
            async for _chunk in graph.astream({"x": 0}, stream_mode="updates"):
                pass
        return Sample(n, time.perf_counter() - start)

    return bench


def _linear_sync(which: str) -> Any:
    mod, _ = _modules(which)
    graph = _linear(mod, False)

    def bench(n: int) -> Sample:
        start = time.perf_counter()
        for _ in range(n):
            for _chunk in graph.stream({"x": 0}, stream_mode="updates"):
                pass
        return Sample(n, time.perf_counter() - start)

    return bench


def _writer_async(which: str) -> Any:
    async def bench(n: int) -> Sample:
        mod, get_writer = _modules(which)
        graph = _writer_graph(mod, get_writer, True, n)
        count = 0
        start = time.perf_counter()
        async for _chunk in graph.astream({"x": 0}, stream_mode="custom"):
            count += 1
        return Sample(count, time.perf_counter() - start)

    return bench


def _writer_sync(which: str) -> Any:
    def bench(n: int) -> Sample:
        mod, get_writer = _modules(which)
        graph = _writer_graph(mod, get_writer, False, n)
        start = time.perf_counter()
        count = sum(1 for _ in graph.stream({"x": 0}, stream_mode="custom"))
        return Sample(count, time.perf_counter() - start)

    return bench


_LG = ("lg",) if HAVE_LANGGRAPH else ()

for _which in _LG:
    scenario("lg_graph_linear10_astream", unit="runs/s", n=300, quick_n=60)(_linear_async(_which))
    scenario("lg_graph_linear10_stream", unit="runs/s", n=200, quick_n=40)(_linear_sync(_which))
    scenario("lg_writer_custom_astream", unit="events/s", n=100_000, quick_n=20_000)(_writer_async(_which))
    scenario("lg_writer_custom_stream", unit="events/s", n=100_000, quick_n=20_000)(_writer_sync(_which))

scenario(
    "graph_linear10_astream",
    unit="runs/s",
    n=1000,
    quick_n=200,
    baseline="lg_graph_linear10_astream" if HAVE_LANGGRAPH else None,
    targets={"lg_graph_linear10_astream": 10.0} if HAVE_LANGGRAPH else None,
)(_linear_async("sf"))
scenario(
    "graph_linear10_stream",
    unit="runs/s",
    n=200,
    quick_n=40,
    baseline="lg_graph_linear10_stream" if HAVE_LANGGRAPH else None,
    targets={"lg_graph_linear10_stream": 3.0} if HAVE_LANGGRAPH else None,
)(_linear_sync("sf"))
scenario(
    "writer_custom_astream",
    unit="events/s",
    n=100_000,
    quick_n=20_000,
    baseline="queue_1to1",
    compare=_LG and ("lg_writer_custom_astream",),
    targets={"queue_1to1": 0.4, **({"lg_writer_custom_astream": 3.0} if HAVE_LANGGRAPH else {})},
)(_writer_async("sf"))
scenario(
    "writer_custom_stream",
    unit="events/s",
    n=100_000,
    quick_n=20_000,
    baseline="lg_writer_custom_stream" if HAVE_LANGGRAPH else "queue_1to1",
    targets={"lg_writer_custom_stream": 1.0} if HAVE_LANGGRAPH else None,
)(_writer_sync("sf"))
