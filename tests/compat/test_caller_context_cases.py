"""Differential cases for what a run's nodes see of their caller: a context variable the caller set before
``stream()``/``invoke()`` (a request id, a tracing context) is visible in sync and async nodes, and what a
node sets stays in the run; each graph runs on LangGraph and on streamflow and must give the same chunks."""

from __future__ import annotations

import contextvars
import operator
from collections.abc import Callable
from typing import Annotated, Any, TypedDict

import pytest

from .conftest import Lib, reference

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")


class State(TypedDict, total=False):
    seen: Annotated[list[str], operator.add]


def sync_node(name: str) -> Callable[[State], State]:
    def node(state: State) -> State:
        seen = request_id.get()
        request_id.set(f"set by {name}")  # stays in the node's own context
        return {"seen": [f"{name}:{seen}"]}

    return node


def async_node(name: str) -> Callable[[State], Any]:
    async def node(state: State) -> State:
        seen = request_id.get()
        request_id.set(f"set by {name}")
        return {"seen": [f"{name}:{seen}"]}

    return node


def graph(lib: Lib, make: Callable[[str], Any]) -> Any:
    builder = lib.StateGraph(State)
    builder.add_node("a", make("a"))
    builder.add_node("b", make("b"))
    builder.add_edge(lib.START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", lib.END)
    return builder.compile()


NODES = {"sync": sync_node, "async": async_node}


def in_request(call: Callable[[], Any]) -> tuple[Any, str]:
    """``call()`` with ``request_id`` set for it, and what ``request_id`` is after it."""

    def run() -> tuple[Any, str]:
        request_id.set("req-1")
        return call(), request_id.get()

    return contextvars.copy_context().run(run)


def test_stream_nodes_see_the_callers_context(lib: Lib) -> None:
    def run(which: Lib) -> tuple[Any, str]:
        compiled = graph(which, sync_node)
        return in_request(lambda: list(compiled.stream({"seen": []})))

    assert run(lib) == run(reference())


def test_invoke_nodes_see_the_callers_context(lib: Lib) -> None:
    def run(which: Lib) -> tuple[Any, str]:
        compiled = graph(which, sync_node)
        return in_request(lambda: compiled.invoke({"seen": []}))

    assert run(lib) == run(reference())


@pytest.mark.anyio
@pytest.mark.parametrize("nodes", list(NODES))
async def test_astream_nodes_see_the_callers_context(lib: Lib, nodes: str) -> None:
    async def run(which: Lib) -> tuple[Any, str]:
        compiled = graph(which, NODES[nodes])
        token = request_id.set("req-1")
        try:
            chunks = [chunk async for chunk in compiled.astream({"seen": []})]
            return chunks, request_id.get()
        finally:
            request_id.reset(token)

    assert await run(lib) == await run(reference())
