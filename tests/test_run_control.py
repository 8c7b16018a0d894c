"""Cooperative draining (``RunControl``): bad input, a drain asked from another thread while a node runs, and
a drained run resumed on its thread."""

from __future__ import annotations

import threading
from typing import Any, TypedDict

import pytest

from streamflow.checkpoint.memory import InMemorySaver
from streamflow.errors import GraphDrained, InvalidArgumentError
from streamflow.graph import START, StateGraph
from streamflow.runtime import RunControl


class S(TypedDict, total=False):
    steps: list[str]


def three_steps(entered: threading.Event | None = None, go_on: threading.Event | None = None) -> Any:
    def step(name: str) -> Any:
        def node(state: S) -> dict[str, Any]:
            if name == "a" and entered is not None and go_on is not None:
                entered.set()
                go_on.wait()
            return {"steps": [*state.get("steps", []), name]}

        return node

    builder = StateGraph(S)
    for name in "abc":
        builder.add_node(name, step(name))
    builder.add_edge(START, "a").add_edge("a", "b").add_edge("b", "c")
    return builder.compile(checkpointer=InMemorySaver())


def test_a_control_that_is_not_a_run_control_is_refused_at_once() -> None:
    with pytest.raises(InvalidArgumentError, match="control must be a RunControl"):
        three_steps().invoke({}, {"configurable": {"thread_id": "t"}}, control="stop")


def test_a_drain_asked_from_another_thread_stops_the_run_after_the_running_superstep() -> None:
    entered, go_on = threading.Event(), threading.Event()
    graph = three_steps(entered, go_on)
    control = RunControl()
    config = {"configurable": {"thread_id": "t"}}

    def ask() -> None:
        entered.wait()
        control.request_drain("deploy")
        go_on.set()

    asker = threading.Thread(target=ask)
    asker.start()
    seen: list[Any] = []
    with pytest.raises(GraphDrained) as drained:
        for chunk in graph.stream({"steps": []}, config, control=control, stream_mode="updates"):
            seen.append(chunk)
    asker.join()
    assert drained.value.reason == "deploy" and str(drained.value) == "Graph drained: deploy"
    assert seen == [{"a": {"steps": ["a"]}}]  # node a finished; b never started
    assert graph.get_state(config).next == ("b",)
    assert graph.invoke(None, config) == {"steps": ["a", "b", "c"]}  # resumed where it stopped
