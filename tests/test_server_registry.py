"""The run registry (no HTTP): start, look up, retention in seconds, caps, cancel, close."""

from __future__ import annotations

from typing import Any, TypedDict

import pytest

from streamflow.errors import (
    InvalidArgumentError,
    InvalidUpdateError,
    RegistryFullError,
    UnknownGraphError,
    UnknownRunError,
)
from streamflow.graph import END, START, StateGraph
from streamflow.server import RunRegistry
from tests.server_support import Gate

pytestmark = pytest.mark.anyio


class State(TypedDict, total=False):
    x: int


def quick() -> Any:
    return StateGraph(State).add_node("inc", lambda s: {"x": s["x"] + 1}).add_edge(START, "inc").compile()


def held(gate: Gate) -> Any:
    async def wait(state: State) -> dict[str, int]:
        await gate.wait()
        return {"x": 0}

    return StateGraph(State).add_node("wait", wait).add_edge(START, "wait").add_edge("wait", END).compile()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_start_get_list_and_result() -> None:
    async with RunRegistry({"quick": quick()}) as registry:
        run = registry.start("quick", {"x": 1}, {"run_id": "r-1", "tags": ["t"]})
        assert registry.get("r-1") is run
        assert await run.result() == {"x": 2}
        (info,) = registry.list()
        assert (info.run_id, info.graph, info.status) == ("r-1", "quick", "finished")
        assert info.last_seq == len(run.events()) and info.first_retained_seq == 1
        assert info.finished_at is not None and info.finished_at >= info.created_at
        assert registry.list(status="running") == []


async def test_finished_runs_are_dropped_after_retention_seconds() -> None:
    clock = Clock()
    async with RunRegistry({"quick": quick()}, retention=30, clock=clock) as registry:
        run = registry.start("quick", {"x": 1})
        await run.wait()
        assert registry.info(run.run_id).status == "finished"  # the end is recorded at 1000.0
        clock.now += 29.9
        assert registry.get(run.run_id) is run
        clock.now += 0.1
        with pytest.raises(UnknownRunError, match="dropped 30 s after it ended"):
            registry.get(run.run_id)
        assert len(registry) == 0


async def test_the_cap_drops_the_longest_finished_run_and_refuses_when_all_are_live() -> None:
    gate = Gate()
    clock = Clock()
    async with RunRegistry({"quick": quick(), "held": held(gate)}, max_runs=2, clock=clock) as registry:
        first = registry.start("quick", {"x": 1})
        await first.wait()
        live = registry.start("held", {"x": 1})
        third = registry.start("held", {"x": 1})  # drops `first`, the only finished run
        with pytest.raises(UnknownRunError):
            registry.get(first.run_id)
        with pytest.raises(RegistryFullError, match="maximum of 2 runs and all are still running"):
            registry.start("quick", {"x": 1})
        assert {i.run_id for i in registry.list(status="running")} == {live.run_id, third.run_id}
        gate.open()


async def test_cancel_waits_for_the_run_and_is_idempotent() -> None:
    gate = Gate()
    async with RunRegistry({"held": held(gate)}) as registry:
        run = registry.start("held", {"x": 1})
        await gate.reached.wait()
        assert (await registry.cancel(run.run_id)).status == "cancelled"
        assert (await registry.cancel(run.run_id)).status == "cancelled"
        assert run.events()[-1].kind == "run_cancelled"


async def test_close_cancels_live_runs_and_refuses_new_ones() -> None:
    gate = Gate()
    registry = RunRegistry({"held": held(gate)})
    run = registry.start("held", {"x": 1})
    await registry.aclose()
    assert run.status == "cancelled"
    with pytest.raises(RuntimeError, match="closed"):
        registry.start("held", {"x": 1})


async def test_factories_build_a_fresh_graph_per_run() -> None:
    built: list[Any] = []

    def factory() -> Any:
        built.append(quick())
        return built[-1]

    async with RunRegistry({"quick": factory}) as registry:
        a = registry.start("quick", {"x": 1})
        b = registry.start("quick", {"x": 1})
        assert len(built) == 2 and a.graph is built[0] and b.graph is built[1]
        await a.wait()
        await b.wait()


async def test_bad_input_is_refused_before_a_run_starts() -> None:
    async with RunRegistry({"quick": quick(), "broken": lambda: "not a graph"}) as registry:  # type: ignore[dict-item,return-value]
        with pytest.raises(UnknownGraphError, match="unknown graph 'nope'; registered graphs: 'broken', 'quick'"):
            registry.start("nope", {})
        with pytest.raises(InvalidUpdateError):
            registry.start("quick", {"y": 1})
        with pytest.raises(InvalidArgumentError, match="config\\['recursion_limit'\\]"):
            registry.start("quick", {"x": 1}, {"recursion_limit": 0})
        with pytest.raises(InvalidArgumentError, match="returned str, not a graph"):
            registry.start("broken", {})
        run = registry.start("quick", {"x": 1}, {"run_id": "same"})
        with pytest.raises(InvalidArgumentError, match="run_id 'same' is already taken"):
            registry.start("quick", {"x": 1}, {"run_id": "same"})
        with pytest.raises(InvalidArgumentError, match="unknown run status"):
            registry.list(status="sleeping")  # type: ignore[arg-type]
        assert len(registry) == 1
        await run.wait()


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"retention": -1}, "retention must be >= 0 seconds"),
        ({"max_runs": 0}, "max_runs must be a positive number of runs"),
        ({"replay_size": -1}, "replay_size must be >= 0 events"),
        ({"graphs": {"": quick()}}, "graph names must be non-empty strings"),
        ({"graphs": {"x": 3}}, "must be a compiled graph or a function returning one"),
    ],
)
def test_bad_registry_arguments(kwargs: dict[str, Any], says: str) -> None:
    graphs = kwargs.pop("graphs", {"quick": quick()})
    with pytest.raises(InvalidArgumentError, match=says):
        RunRegistry(graphs, **kwargs)
