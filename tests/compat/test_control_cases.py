"""Differential cases for cooperative draining (LangGraph 1.2's ``RunControl``, after its
``test_stream_events_v3.py::test_stream_events_v3_accepts_control_for_drain`` and ``test_pregel.py``'s drain
tests): a run asked to drain stops at the next superstep boundary with ``GraphDrained``, what it streamed up to
there, its checkpoint saved and resumable, the runtime's ``drain_requested``/``drain_reason``, and a run with
nothing left when asked finishes normally."""

from __future__ import annotations

import importlib
from typing import Any, TypedDict

import pytest

from .conftest import Lib, chunks_then_error, load, normalise, reference


class S(TypedDict, total=False):
    value: str
    skipped: str


def names(lib: Lib) -> tuple[Any, Any]:
    """The library's ``RunControl`` and ``GraphDrained``."""
    return (
        importlib.import_module(f"{lib.name}.runtime").RunControl,
        importlib.import_module(f"{lib.name}.errors").GraphDrained,
    )


def draining(lib: Lib, control: Any, last: bool = False) -> Any:
    """START -> first (asks ``control`` to drain; reports what its runtime says) -> second -> END; with
    ``last``, ``first`` is the only node (nothing is left when it asks)."""

    def first(state: S, runtime: Any) -> dict[str, Any]:
        control.request_drain("sigterm")
        return {"value": f"done:{runtime.drain_requested}:{runtime.drain_reason}"}

    def second(state: S) -> dict[str, Any]:
        return {"skipped": "nope"}

    builder = lib.StateGraph(S)
    builder.add_node("first", first)
    builder.add_edge(lib.START, "first")
    if not last:
        builder.add_node("second", second)
        builder.add_edge("first", "second")
    return builder.compile(checkpointer=lib.InMemorySaver())


def nested(lib: Lib, control: Any) -> Any:
    """A parent whose node ``sub`` is a subgraph that asks to drain in its first node."""
    sub = draining(lib, control)
    builder = lib.StateGraph(S)
    builder.add_node("sub", sub)
    builder.add_node("after", lambda state: {"skipped": "parent went on"})
    builder.add_edge(lib.START, "sub")
    builder.add_edge("sub", "after")
    return builder.compile(checkpointer=lib.InMemorySaver())


def stream_and_resume(lib: Lib, build: Any, **kwargs: Any) -> Any:
    control_class, _ = names(lib)
    control = control_class()
    graph = build(lib, control)
    config = {"configurable": {"thread_id": "t-drain"}}
    streamed = chunks_then_error(graph.stream({}, config, control=control, stream_mode=["values", "updates"], **kwargs))
    snapshot = graph.get_state(config)
    resumed = chunks_then_error(graph.stream(None, config, stream_mode="values"))
    return streamed, normalise((snapshot.values, snapshot.next)), resumed, control.drain_requested


def invoke_drained(lib: Lib) -> Any:
    control_class, drained = names(lib)
    control = control_class()
    try:
        return ("returned", draining(lib, control).invoke({}, {"configurable": {"thread_id": "t"}}, control=control))
    except drained as exc:
        return ("raised", type(exc).__name__, exc.reason)


def nothing_left(lib: Lib) -> Any:
    control_class, _ = names(lib)
    control = control_class()
    graph = draining(lib, control, last=True)
    return graph.invoke({}, {"configurable": {"thread_id": "t"}}, control=control), control.drain_reason


def v3_drained(lib: Lib) -> Any:
    control_class, _ = names(lib)
    control = control_class()
    run = draining(lib, control).stream_events({}, {"configurable": {"thread_id": "t"}}, control=control, version="v3")
    return chunks_then_error(run.values), chunks_then_error(run.lifecycle)


def v3_subgraph_drained(lib: Lib) -> Any:
    control_class, _ = names(lib)
    control = control_class()
    run = nested(lib, control).stream_events({}, {"configurable": {"thread_id": "t"}}, control=control, version="v3")
    return chunks_then_error(run)


CASES = [
    pytest.param(lambda lib: stream_and_resume(lib, draining), id="stream-then-resume"),
    pytest.param(lambda lib: stream_and_resume(lib, nested, subgraphs=True), id="subgraph-stream-then-resume"),
    pytest.param(invoke_drained, id="invoke"),
    pytest.param(nothing_left, id="nothing-left-finishes"),
    pytest.param(v3_drained, id="v3-values-and-lifecycle"),
    pytest.param(v3_subgraph_drained, id="v3-subgraph-main-log"),
]


@pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning")
@pytest.mark.parametrize("case", CASES)
def test_drain(case: Any) -> None:
    assert case(load("streamflow")) == case(reference())
