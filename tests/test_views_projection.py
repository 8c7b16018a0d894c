"""One projection step (``streamflow.modes.Projector``) for every consumer: a live view (iterated or taken in
batches), ``ViewSpec.items`` over a finished list of events, and the SSE encoder yield the same chunks."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamflow.channel import Channel
from streamflow.events import Event, StateUpdate, TaskFinished, TaskStarted
from streamflow.modes import ViewSpec
from streamflow.views import View
from tests.strategies import run_events

pytestmark = pytest.mark.anyio

STATELESS_MODES = ["values", "updates", "custom", "tasks", "tools", "debug"]
"""Modes whose chunks any event of the right kind makes (``messages`` needs a coherent model stream)."""

specs = st.builds(
    lambda modes, single, subgraphs, version: ViewSpec.parse(modes[0] if single else modes, subgraphs, version),
    st.lists(st.sampled_from(STATELESS_MODES), min_size=1, max_size=3, unique=True),
    st.booleans(),
    st.booleans(),
    st.sampled_from(["v1", "v2"]),
)


def fresh(events: list[Event]) -> list[Event]:
    """Copies never published (hypothesis may hand out one drawn event twice; publishing stamps it)."""
    return [attrs.evolve(event) for event in events]


async def view_items(spec: ViewSpec, events: list[Event], batch: int | None) -> list[Any]:
    channel = Channel()
    view = View(channel.subscribe(kinds=spec.kinds, subgraphs=spec.subgraphs, buffer_size=10_000), spec)
    for event in events:
        channel.publish_nowait(event)
    channel.close()
    async with view:
        if batch is None:
            return [item async for item in view]
        out: list[Any] = []
        while got := await view.next_batch(batch):
            out.extend(got)
        return out


@settings(max_examples=60, deadline=None)
@given(spec=specs, events=run_events(40), batch=st.none() | st.integers(min_value=1, max_value=5))
async def test_a_view_yields_what_viewspec_items_does(spec: ViewSpec, events: list[Event], batch: int | None) -> None:
    expected = list(spec.items(fresh(events)))
    assert await view_items(spec, fresh(events), batch) == expected


@settings(max_examples=60, deadline=None)
@given(
    modes=st.lists(st.sampled_from(STATELESS_MODES), min_size=1, max_size=3, unique=True),
    subgraphs=st.booleans(),
    events=run_events(40),
)
async def test_the_sse_encoder_yields_the_v2_stream_parts(
    modes: list[str], subgraphs: bool, events: list[Event]
) -> None:
    pytest.importorskip("starlette")
    from streamflow.server.encoding import to_jsonable
    from streamflow.server.stream import ChunkEncoder

    spec = ViewSpec.parse(modes, subgraphs, "v2")
    # The SSE frames carry the parts' type, ns and data (not the empty ``interrupts`` of values parts).
    expected = [
        {key: value for key, value in to_jsonable(part).items() if key != "interrupts"}
        for part in spec.items(fresh(events))
    ]
    encoder = ChunkEncoder(spec)
    sent: list[Any] = []
    for event in fresh(events):
        if not subgraphs and event.ns:
            continue  # what the stream's subscription filters out
        message = encoder.encode(event)
        for frame in (message or b"").decode().split("\n\n"):
            data = [line.removeprefix("data: ") for line in frame.split("\n") if line.startswith("data: ")]
            if data:
                part = json.loads(data[0])
                sent.append({"type": part["type"], "ns": part["ns"], "data": part["data"]})
    assert sent == expected


def test_a_task_result_shows_after_its_update_whatever_the_modes_order() -> None:
    routing: dict[str, Any] = {"node": "n", "step": 1, "task_id": "t1"}
    events = [
        TaskStarted(input={}, triggers=("branch:to:n",), **routing),
        TaskFinished(result={"shown": 1, "hidden": 2}, **routing),
        StateUpdate(update={"shown": 1}, **routing),
    ]
    for modes in (["tasks", "updates"], ["updates", "tasks"]):
        items = list(ViewSpec.parse(modes).items(fresh(events)))
        assert [mode for mode, _ in items] == ["tasks", "updates", "tasks"]
        assert items[1] == ("updates", {"n": {"shown": 1}})
        assert items[2][1]["result"] == {"shown": 1, "hidden": 2}  # the task's whole result, not the shown update


def test_a_cached_update_shows_no_task_result_and_a_late_view_shows_the_update() -> None:
    routing: dict[str, Any] = {"node": "n", "step": 1, "task_id": "t1"}
    cached: list[Event] = [StateUpdate(update={"k": 1}, cached=True, **routing)]
    assert list(ViewSpec.parse("tasks").items(fresh(cached))) == []
    # a view that attached after the task's TaskFinished: the update it shows stands for the result
    late: list[Event] = [StateUpdate(update={"k": 1}, **routing)]
    assert list(ViewSpec.parse("tasks").items(fresh(late))) == [
        {"id": "t1", "name": "n", "error": None, "result": {"k": 1}, "interrupts": []}
    ]
