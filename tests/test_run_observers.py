"""Views attached to a live run beside its primary consumer: they can never stall the run by accident
(``drop_oldest`` by default, with an exact ``Lagged`` count); ``block`` only when asked for."""

from __future__ import annotations

import inspect
from typing import Any, TypedDict

import anyio
import pytest

from streamflow.channel import Channel, Lagged
from streamflow.events import CustomData, Event, RunFinished
from streamflow.graph import START, StateGraph, StreamWriter
from streamflow.graph.run import Run
from streamflow.modes import ViewSpec
from tests.helpers import seqs

pytestmark = pytest.mark.anyio

WRITES = 5_000
"""Custom events the node writes: several times an observer's default buffer."""


class State(TypedDict):
    n: int


async def write_many(state: State, writer: StreamWriter) -> dict[str, Any]:
    for i in range(WRITES):
        writer(i)
    return {"n": WRITES}


graph = StateGraph(State).add_node("write", write_many).add_edge(START, "write").compile()


def expected_lag(events: list[Event], kinds: tuple[type[Event], ...], buffer_size: int) -> Lagged:
    """The Lagged signal of a subscriber taking ``kinds`` (and the terminal event) that read nothing until the
    run ended: every matching event but the last ``buffer_size`` was dropped."""
    matching = [e.seq for e in events if isinstance(e, kinds) or e.terminal]
    lost = matching[:-buffer_size]
    return Lagged(missed=len(lost), first_seq=lost[0], last_seq=lost[-1])


async def test_unread_observers_do_not_stall_the_run_and_learn_exactly_what_they_missed() -> None:
    async with graph.start({"n": 0}) as run:
        raw = run.subscribe(kinds=["custom_data"])  # nobody reads these until the run is over
        chunks = run.stream("custom")
        dicts = run.stream_events()
        with anyio.fail_after(30):  # a stalled run would wait forever: fail instead
            assert await run.result() == {"n": WRITES}
    events = run.events()
    assert sum(isinstance(e, CustomData) for e in events) == WRITES

    lag = expected_lag(events, (CustomData,), 1024)
    async with raw:
        items = [item async for item in raw]
    assert items[0] == lag
    assert seqs(items) == [e.seq for e in events if isinstance(e, CustomData) or e.terminal][-1024:]
    assert isinstance(items[-1], RunFinished)
    stats = raw.statistics()
    assert (stats.overflow, stats.dropped, stats.delivered) == ("drop_oldest", lag.missed, 1024)

    async with chunks:
        got = [item async for item in chunks]
    assert got[0] == lag  # the view passes the signal on, then the chunks it still has
    assert got[1:] == list(range(WRITES - 1023, WRITES))  # RunFinished yields no custom chunk
    assert chunks.subscription.statistics().dropped == lag.missed

    async with dicts:  # the writer's data is no astream_events event: this one had room for everything
        kinds = [item["event"] async for item in dicts]
    assert kinds[0] == "on_chain_start" and kinds[-1] == "on_chain_end"
    assert dicts.subscription.statistics().dropped == 0


async def test_a_blocking_observer_pauses_the_run_only_when_asked_for() -> None:
    async with graph.start({"n": 0}) as run:
        held = run.subscribe(kinds=["custom_data"], overflow="block", buffer_size=10)
        await anyio.wait_all_tasks_blocked()
        assert not run.done
        assert held.statistics().buffered == 10  # the run waits for this subscriber
        async with held:
            count = sum([1 async for item in held if isinstance(item, CustomData)])
        assert count == WRITES
        assert await run.result() == {"n": WRITES}


async def test_run_subscribe_has_channel_subscribes_signature_with_a_safe_default() -> None:
    run_params = inspect.signature(Run.subscribe).parameters
    channel_params = inspect.signature(Channel.subscribe).parameters
    assert list(run_params) == list(channel_params)
    for name, param in channel_params.items():
        mine = run_params[name]
        assert (mine.kind, mine.annotation) == (param.kind, param.annotation), name
        if name != "overflow":
            assert mine.default == param.default, name
    assert channel_params["overflow"].default == "block"
    for method in (Run.subscribe, Run.stream, Run.stream_events):
        assert inspect.signature(method).parameters["overflow"].default == "drop_oldest", method


async def test_the_primary_consumer_of_astream_blocks_the_run() -> None:
    """``astream()`` keeps LangGraph's trade: the run waits while its caller handles a chunk."""
    seen = 0
    async for _chunk in graph.astream({"n": 0}, stream_mode="custom", buffer_size=4):
        seen += 1
    assert seen == WRITES  # nothing dropped, no Lagged signal


async def test_an_explicit_policy_still_reaches_the_channel() -> None:
    async with graph.start({"n": 0}) as run:
        strict = run.subscribe(kinds=["custom_data"], overflow="error", buffer_size=8)
        await run.result()
    assert strict.statistics().overflow == "error"
    with pytest.raises(Exception, match="'error' policy"):
        strict.receive_nowait()


async def test_a_spec_parsed_once_attaches_the_same_view_to_many_runs() -> None:
    spec = ViewSpec.parse(["custom", "values"], subgraphs=True, version="v2")
    for _ in range(2):
        async with graph.start({"n": 0}) as run:
            view = run.view(spec, buffer_size=WRITES * 2, overflow="block")
            await run.result()
            items = [item async for item in view]
        assert items == list(spec.items(run.events()))
        assert len(items) == WRITES + 2  # every custom item, the input's values and the final values
