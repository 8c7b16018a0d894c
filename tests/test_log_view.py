"""The structlog view: one log call per event with the routing fields bound, levels by kind."""

from __future__ import annotations

from typing import Any, TypedDict

import anyio
import pytest
import structlog
from structlog.testing import capture_logs

from streamflow.channel import Channel
from streamflow.errors import InvalidArgumentError, UnknownEventKindError
from streamflow.events import CustomData
from streamflow.graph import END, START, StateGraph, get_stream_writer
from streamflow.log_view import LogView

pytestmark = pytest.mark.anyio


class State(TypedDict, total=False):
    x: int


def graph(fail: bool = False) -> Any:
    inner = StateGraph(State).add_node("inner_step", lambda s: {"x": s["x"] + 10})
    inner.add_edge(START, "inner_step").add_edge("inner_step", END)

    def write(state: State) -> dict[str, int]:
        get_stream_writer()({"note": "hello"})
        if fail:
            raise RuntimeError("boom")
        return {"x": state["x"] + 1}

    return (
        StateGraph(State)
        .add_node("write", write)
        .add_node("sub", inner.compile(name="sub"))
        .add_edge(START, "write")
        .add_edge("write", "sub")
        .add_edge("sub", END)
        .compile(name="logged")
    )


async def test_every_event_is_logged_with_its_routing_fields_bound() -> None:
    with capture_logs() as logs:
        async with graph().start({"x": 1}) as run:
            view = LogView.attach(run, overflow="block")
            async with anyio.create_task_group() as tg:
                tg.start_soon(view.run)
            await run.result()
    events = run.events()
    assert [entry["event"] for entry in logs] == [e.kind for e in events]
    for entry, event in zip(logs, events, strict=True):
        assert entry["run_id"] == run.run_id
        assert entry["seq"] == event.seq
        assert entry["ns"] == event.ns
        assert entry["node"] == event.node
        assert entry["step"] == event.step
        assert entry.get("task_id") == event.task_id
    by_kind = {entry["event"]: entry for entry in logs}
    assert by_kind["custom_data"]["log_level"] == "debug"
    assert by_kind["task_started"]["log_level"] == "info"
    assert by_kind["run_finished"]["log_level"] == "info"
    assert "data" not in by_kind["custom_data"] and "values" not in by_kind["state_values"]
    nested = [entry for entry in logs if entry["ns"]]
    assert nested and all(entry["ns"][0].startswith("sub:") for entry in nested)
    assert view.logged == len(events)


async def test_failures_are_errors_and_levels_are_configurable() -> None:
    with capture_logs() as logs:
        run = graph(fail=True).start({"x": 1})
        view = LogView.attach(run, levels={"custom_data": "warning"}, kinds=["custom_data", "task_failed"])
        await view.run()
        await run.wait()
    assert [(e["event"], e["log_level"]) for e in logs] == [
        ("custom_data", "warning"),
        ("task_failed", "error"),
        ("run_failed", "error"),
    ]
    assert logs[1]["error_type"] == "builtins.RuntimeError" and logs[1]["error_message"] == "boom"


async def test_a_lagging_view_logs_how_many_events_it_missed() -> None:
    channel = Channel("r1")
    logger = structlog.get_logger("test")
    with capture_logs() as logs:
        view = LogView.attach(channel, logger=logger, buffer_size=2)
        for i in range(5):
            await channel.publish(CustomData(data=i))
        channel.close()
        await view.run()
    assert logs[0] == {"event": "events_lagged", "log_level": "warning", "missed": 3, "first_seq": 1, "last_seq": 3}
    assert [e["seq"] for e in logs[1:]] == [4, 5]


def test_bad_levels_are_refused_at_the_boundary() -> None:
    channel = Channel("r1")
    with pytest.raises(InvalidArgumentError, match=r"unknown log level 'loud'.*allowed: debug, info"):
        LogView.attach(channel, levels={"custom_data": "loud"})
    with pytest.raises(UnknownEventKindError, match="unknown event kind 'nope'"):
        LogView.attach(channel, levels={"nope": "info"})
    assert channel.statistics().subscribers == 0
