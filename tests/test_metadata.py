"""Node metadata is built in one place: what a node receives as ``config["metadata"]`` is what the
``messages`` mode and ``astream_events`` show for it."""

from __future__ import annotations

from typing import Any, TypedDict

import anyio

from streamflow.events import TaskStarted
from streamflow.graph import START, StateGraph
from streamflow.graph.constants import Send
from streamflow.metadata import checkpoint_ns, node_metadata
from streamflow.models import FakeChatModel


def test_node_metadata_puts_the_langgraph_keys_after_the_run_metadata_and_over_it() -> None:
    got = node_metadata(
        {"user": "u1", "langgraph_step": "theirs"},
        step=2,
        node="agent",
        triggers=("tools",),
        path=("__pregel_pull", "agent"),
        ns=("outer:t0",),
        task_id="t1",
    )
    assert list(got.items()) == [
        ("user", "u1"),
        ("langgraph_step", 2),
        ("langgraph_node", "agent"),
        ("langgraph_triggers", ("tools",)),
        ("langgraph_path", ("__pregel_pull", "agent")),
        ("langgraph_checkpoint_ns", "outer:t0|agent:t1"),
    ]
    assert checkpoint_ns((), "agent", "t1") == "agent:t1"


def test_a_send_task_has_one_path_for_the_node_the_events_and_every_view() -> None:
    class State(TypedDict, total=False):
        done: list[str]

    paths: dict[str, Any] = {}
    model = FakeChatModel(["hi"])

    def fan(state: State) -> list[Send]:
        return [Send("write", {"topic": t}) for t in ("a", "b")]

    async def write(state: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
        paths[state["topic"]] = config["metadata"]["langgraph_path"]
        await model.ainvoke(state["topic"])
        return {}

    graph = StateGraph(State).add_node("write", write).add_conditional_edges(START, fan).compile()

    async def run() -> tuple[list[Any], list[Any], list[dict[str, Any]]]:
        async with graph.start({}) as r:
            await r.result()
            events = r.events()
        items = [x async for x in graph.astream({}, stream_mode="messages")]
        dicts = [e async for e in graph.astream_events({}, version="v2")]
        return events, items, dicts

    events, items, dicts = anyio.run(run)
    assert paths == {"a": ("__pregel_push", 0), "b": ("__pregel_push", 1)}
    started = {e.input["topic"]: e.path for e in events if isinstance(e, TaskStarted)}
    assert started == paths
    assert sorted(meta["langgraph_path"] for _, meta in items) == [("__pregel_push", 0), ("__pregel_push", 1)]
    chains = [e["metadata"]["langgraph_path"] for e in dicts if e["event"] == "on_chain_start" and e["name"] == "write"]
    assert sorted(chains) == [("__pregel_push", 0), ("__pregel_push", 1)]
